"""The report's annex: every violation the report counts, one row each, frozen with the report.

The report itself summarises (its size does not grow with the number of violations); the annex is where each one
is listed. It is written once, when the report is built, as CSV (UTF-8 with a BOM, cells formula-escaped), read in
chunks of ANNEX_CHUNK rows with a fixed number of queries per chunk, so memory does not grow with the period. Its
SHA-256 and row count go into the report's data, so the report's own hash covers the annex too; the file is stored
beside the issued report (`Report.annex`) and its XLSX form is made from that frozen CSV.

Casualty totals in the annex follow the casualty rule (`casualty_total`): a total not reported reads its civilian
figure, and the `*_from_civilians` column says when that happened.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from agreements.exports import UTF8_BOM, escape_cell
from agreements.models import Violation, ViolationSource
from agreements.models.violations import casualty_total, casualty_total_is_civilian_bound
from reports.engine.evidence import STATUS_WORDS

ANNEX_CHUNK = 2000

# (header, type): the type tells the XLSX which cell to write (the CSV is text whatever the type).
ANNEX_COLUMNS = (
    ("uuid", "text"),
    ("started_at", "datetime"),
    ("ended_at", "datetime"),
    ("time_precision", "text"),
    ("category", "text"),
    ("status", "text"),
    ("place", "text"),
    ("admin1", "text"),
    ("latitude", "number"),
    ("longitude", "number"),
    ("location_precision", "text"),
    ("in_zone", "boolean"),
    ("perpetrators", "text"),
    ("clauses", "text"),
    ("killed_low", "number"),
    ("killed_best", "number"),
    ("killed_high", "number"),
    ("killed_from_civilians", "boolean"),
    ("civilians_killed_best", "number"),
    ("injured_low", "number"),
    ("injured_best", "number"),
    ("injured_high", "number"),
    ("injured_from_civilians", "boolean"),
    ("civilians_injured_best", "number"),
    ("displaced", "number"),
    ("description", "text"),
    ("sources", "text"),
)
ANNEX_TYPES = dict(ANNEX_COLUMNS)
_IS_TEXT = tuple(kind == "text" for _, kind in ANNEX_COLUMNS)

_FIELDS = (
    "pk",
    "uuid",
    "started_at",
    "ended_at",
    "time_precision",
    "category",
    "status",
    "place__name",
    "place__admin1",
    "latitude",
    "longitude",
    "place__latitude",
    "place__longitude",
    "location_precision",
    "in_zone",
    "displaced",
    "description",
    *(f"{kind}_{estimate}" for kind in ("killed", "injured") for estimate in ("low", "best", "high")),
    *(f"civilians_{kind}_{estimate}" for kind in ("killed", "injured") for estimate in ("low", "best", "high")),
)


@dataclass
class Annex:
    file: tempfile.SpooledTemporaryFile  # the CSV's bytes, read from the start
    sha256: str
    rows: int

    def summary(self) -> dict:
        return {"format": "csv", "rows": self.rows, "sha256": self.sha256, "columns": [c for c, _ in ANNEX_COLUMNS]}


class _Row(dict):
    """A violation's values() row, read by the casualty rule as if it were the model."""

    __getattr__ = dict.get


def _natural(number: str) -> tuple:
    match = re.match(r"(\d+)(.*)", number)
    return (0, int(match[1]), match[2]) if match else (1, 0, number)


def _related(ids: list[int]) -> tuple[dict, dict, dict]:
    """Perpetrators, clauses and sources of a chunk of violations: three queries whatever the chunk's size."""
    perpetrators, clauses, sources = defaultdict(list), defaultdict(list), defaultdict(list)
    through = Violation.perpetrators.through.objects.filter(violation_id__in=ids)
    for violation_id, name in through.values_list("violation_id", "actor__name"):
        perpetrators[violation_id].append(name)
    linked = Violation.clauses.through.objects.filter(violation_id__in=ids)
    for violation_id, position, number in linked.values_list("violation_id", "clause__position", "clause__number"):
        clauses[violation_id].append((position, *_natural(number), number))
    citations = (
        ViolationSource.objects.filter(violation_id__in=ids)
        .order_by("id")
        .values_list(
            "violation_id", "source__publisher", "source__title", "source__reliability", "source__credibility",
            "source__url",
        )
    )  # fmt: skip
    for violation_id, publisher, title, reliability, credibility, url in citations:
        # As `Source.grade` writes it ("B2"), read as values: no model instance per citation.
        sources[violation_id].append(f"{publisher}: {title} [{reliability}{credibility}] {url or ''}".rstrip())
    return perpetrators, clauses, sources


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _line(row: _Row, perpetrators, clauses, sources) -> list[str]:
    own = row["latitude"] is not None and row["longitude"] is not None
    lat = row["latitude"] if own else row["place__latitude"]
    lon = row["longitude"] if own else row["place__longitude"]
    values = [
        str(row["uuid"]),
        _iso(row["started_at"]),
        _iso(row["ended_at"]),
        row["time_precision"],
        row["category"],
        STATUS_WORDS[row["status"]],
        row["place__name"],
        row["place__admin1"],
        None if lat is None else f"{float(lat):.6f}".rstrip("0").rstrip("."),
        None if lon is None else f"{float(lon):.6f}".rstrip("0").rstrip("."),
        row["location_precision"],
        row["in_zone"],
        "; ".join(sorted(perpetrators, key=lambda name: (name.casefold(), name))),
        "; ".join(entry[-1] for entry in sorted(clauses)),
    ]
    for kind in ("killed", "injured"):
        values += [casualty_total(row, kind, estimate) for estimate in ("low", "best", "high")]
        values.append(any(casualty_total_is_civilian_bound(row, kind, e) for e in ("low", "best", "high")))
        values.append(row[f"civilians_{kind}_best"])
    values += [row["displaced"], row["description"], " | ".join(sources)]
    # Only text is formula-escaped: a number or a date is never a formula, and a negative coordinate stays a number.
    return [escape_cell(v or "") if text else _text(v) for v, text in zip(values, _IS_TEXT, strict=True)]


def annex_write(violations) -> Annex:
    """Write every violation of `violations` (oldest first) to a CSV annex; its SHA-256 and row count."""
    out = tempfile.SpooledTemporaryFile(max_size=8 * 2**20)  # noqa: SIM115  (handed to the caller, who stores it)
    digest = hashlib.sha256()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> None:
        data = buffer.getvalue().encode("utf-8")
        digest.update(data)
        out.write(data)
        buffer.seek(0)
        buffer.truncate()

    buffer.write(UTF8_BOM)
    writer.writerow([header for header, _ in ANNEX_COLUMNS])
    rows, chunk = 0, []
    ordered = violations.order_by("started_at", "uuid").values(*_FIELDS)
    for row in ordered.iterator(chunk_size=ANNEX_CHUNK):
        chunk.append(_Row(row))
        if len(chunk) == ANNEX_CHUNK:
            rows += _write_chunk(writer, chunk)
            flush()
            chunk = []
    rows += _write_chunk(writer, chunk)
    flush()
    out.seek(0)
    return Annex(file=out, sha256=digest.hexdigest(), rows=rows)


def _write_chunk(writer, chunk: list[_Row]) -> int:
    if not chunk:
        return 0
    perpetrators, clauses, sources = _related([row["pk"] for row in chunk])
    for row in chunk:
        pk = row["pk"]
        writer.writerow(_line(row, perpetrators[pk], clauses[pk], sources[pk]))
    return len(chunk)


def annex_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
