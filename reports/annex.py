"""The report's annex: every violation the report counts, one row each, frozen with the report.

The report itself summarises (its size does not grow with the number of violations); the annex is where each one
is listed. It is written once, when the report is built, as CSV (UTF-8 with a BOM, cells formula-escaped) by the
export's CSV path (`COPY … TO STDOUT` on PostgreSQL), in chunks, so memory does not grow with the period. Its
SHA-256 and row count go into the report's data, so the report's own hash covers the annex too; the file is stored
beside the issued report (`Report.annex`) and its XLSX form is made from that frozen CSV.

Casualty totals in the annex follow the casualty rule (`casualty_total`): a total not reported reads its civilian
figure, and the `*_from_civilians` column says when that happened.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass

from agreements.exports.columns import VIOLATION_COLUMNS, Column
from agreements.exports.copy_cells import civilian_bound_cell, mapped_cell
from agreements.exports.csv_files import csv_stream
from agreements.models.casualties import ESTIMATES
from agreements.models.violations import casualty_total_is_civilian_bound
from reports.engine.evidence import STATUS_WORDS

_EXPORTED = {column.name: column for column in VIOLATION_COLUMNS}


def _civilian_bound(kind: str) -> Column:
    return Column(
        f"{kind}_from_civilians",
        f"{kind}_from_civilians",
        lambda v: any(casualty_total_is_civilian_bound(v, kind, estimate) for estimate in ESTIMATES),
        f"Whether a {kind} total is its civilian figure, the total itself not being reported.",
        sql=civilian_bound_cell(kind),
    )


_STATUS = Column(
    "status",
    "status",
    lambda v: STATUS_WORDS.get(v.status),
    "verified, unverified or disputed, as the report counts it.",
    sql=mapped_cell("status", STATUS_WORDS),
)

# (column, type): the export's own columns where the annex says the same, so that the annex is written by the
# export's CSV path (COPY on PostgreSQL); the type tells the XLSX which cell to write.
_ANNEX = (
    (_EXPORTED["uuid"], "text"),
    (_EXPORTED["started_at"], "datetime"),
    (_EXPORTED["ended_at"], "datetime"),
    (_EXPORTED["time_precision"], "text"),
    (_EXPORTED["category"], "text"),
    (_STATUS, "text"),
    (_EXPORTED["place"], "text"),
    (_EXPORTED["admin1"], "text"),
    (_EXPORTED["latitude"], "number"),
    (_EXPORTED["longitude"], "number"),
    (_EXPORTED["location_precision"], "text"),
    (_EXPORTED["in_zone"], "boolean"),
    (_EXPORTED["perpetrators"], "text"),
    (_EXPORTED["clauses"], "text"),
    (_EXPORTED["killed_low"], "number"),
    (_EXPORTED["killed_best"], "number"),
    (_EXPORTED["killed_high"], "number"),
    (_civilian_bound("killed"), "boolean"),
    (_EXPORTED["civilians_killed_best"], "number"),
    (_EXPORTED["injured_low"], "number"),
    (_EXPORTED["injured_best"], "number"),
    (_EXPORTED["injured_high"], "number"),
    (_civilian_bound("injured"), "boolean"),
    (_EXPORTED["civilians_injured_best"], "number"),
    (_EXPORTED["displaced"], "number"),
    (_EXPORTED["description"], "text"),
    (_EXPORTED["sources"], "text"),
)
ANNEX_FIELDS = tuple(column for column, _ in _ANNEX)
ANNEX_COLUMNS = tuple((column.header, kind) for column, kind in _ANNEX)
ANNEX_TYPES = dict(ANNEX_COLUMNS)


@dataclass
class Annex:
    file: tempfile.SpooledTemporaryFile  # the CSV's bytes, read from the start
    sha256: str
    rows: int

    def summary(self) -> dict:
        return {"format": "csv", "rows": self.rows, "sha256": self.sha256, "columns": [c for c, _ in ANNEX_COLUMNS]}


def annex_write(violations) -> Annex:
    """Write every violation of `violations` (oldest first) to a CSV annex; its SHA-256 and row count.

    The rows come as the CSV export writes them (`csv_stream`: COPY on PostgreSQL, the same bytes from Python
    elsewhere), so a year of a mission is written at the database's speed and memory stays one chunk.
    """
    out = tempfile.SpooledTemporaryFile(max_size=8 * 2**20)  # noqa: SIM115  (handed to the caller, who stores it)
    digest = hashlib.sha256()
    # Counted by the database, not by lines: a description may hold line breaks. The caller's snapshot
    # (report_build's) makes the count and the rows agree.
    rows = violations.count()
    for chunk in csv_stream(violations.order_by("started_at", "uuid"), ANNEX_FIELDS):
        digest.update(chunk)
        out.write(chunk)
    out.seek(0)
    return Annex(file=out, sha256=digest.hexdigest(), rows=rows)


def annex_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
