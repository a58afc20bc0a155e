"""The report's tables for spreadsheets: CSV carries the clauses table; XLSX carries every table, one sheet each.

Each table is declared once, as `Column`s read off the rows of the frozen data, and rendered to both formats.
Strings are formula-escaped as in the violation exports (`agreements.exports.escape_cell`): a cell starting with
= + - @ gets a leading apostrophe. CSV is UTF-8 with a BOM, for Excel. The XLSX's "About" sheet names the report,
who issued it and when, and its SHA-256; its document properties are set to the issue time, so the same report
gives the same workbook contents whenever it is downloaded.

Sheets: "Clauses" (one row per clause), "Violations by actor x clause", "Weekly", "Humanitarian", "Violations",
"Patrols", "Route status", "Control changes", "About".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from agreements.exports import UTF8_BOM, XLSX_MAX_CELL_CHARS, escape_cell
from reports.rendering.html import ReportMeta

Value = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    value: Callable[[dict], Value]


@dataclass(frozen=True, slots=True)
class Table:
    sheet: str
    columns: tuple[Column, ...]
    rows: Callable[[dict], Iterable[dict]]


def _get(*path: str) -> Callable[[dict], Value]:
    def read(row: dict) -> Value:
        value = row
        for key in path:
            value = (value or {}).get(key)
        return value

    return read


def _label(group: str, *path: str) -> Callable[[dict], Value]:
    # Rows carry the labels they need (see _with_labels), so a column can read them off the row alone.
    def read(row: dict) -> Value:
        value = _get(*path)(row)
        return row["_labels"].get(group, {}).get(str(value), value) if value is not None else None

    return read


def _joined(*path: str) -> Callable[[dict], Value]:
    return lambda row: "; ".join(_get(*path)(row) or [])


def _with_labels(rows: Iterable[dict], data: dict) -> list[dict]:
    return [{**row, "_labels": data["labels"]} for row in rows]


CLAUSE_COLUMNS = (
    Column("clause", _get("number")),
    Column("title", _get("title")),
    Column("kind", _label("clause_kind", "kind")),
    Column("deadline", _get("deadline")),
    Column("deadline_state", _get("deadline_state")),
    Column("status", _get("status")),
    Column("status_label", _label("compliance_status", "status")),
    Column("score", _get("score")),
    Column("computed_status", _get("computed_status")),
    Column("computed_score", _get("computed_score")),
    Column("overridden_by", _get("override", "by")),
    Column("override_rationale", _get("override", "rationale")),
    Column("violations_verified", _get("evidence", "violations", "verified")),
    Column("violations_unverified", _get("evidence", "violations", "unverified")),
    Column("violations_disputed", _get("evidence", "violations", "disputed")),
    Column("patrols_completed", _get("evidence", "patrols", "completed")),
    Column("patrols_cut_short", _get("evidence", "patrols", "cut_short")),
    Column("patrols_cancelled", _get("evidence", "patrols", "cancelled")),
    Column("patrols_attacked", _get("evidence", "patrols", "attacked")),
    Column("control_changes", _get("evidence", "control_changes")),
    Column("locations_changed", _get("evidence", "locations_changed")),
    Column("rule", _get("rule")),
)

ACTOR_CLAUSE_COLUMNS = (
    Column("actor", _get("name")),
    Column("actor_slug", _get("actor")),
    Column("clause", _get("clause")),
    Column("clause_title", _get("clause_title")),
    Column("verified", _get("verified")),
    Column("unverified", _get("unverified")),
    Column("disputed", _get("disputed")),
    Column("total", _get("total")),
)

WEEKLY_COLUMNS = (
    Column("week_beginning", _get("week")),
    Column("actor", _get("name")),
    Column("actor_slug", _get("actor")),
    Column("violations", _get("count")),
)

HUMANITARIAN_COLUMNS = (
    Column("measure", _get("measure")),
    Column("low", _get("low")),
    Column("best", _get("best")),
    Column("high", _get("high")),
)

VIOLATION_COLUMNS = (
    Column("uuid", _get("uuid")),
    Column("started_at", _get("started_at")),
    Column("ended_at", _get("ended_at")),
    Column("time_precision", _get("time_precision")),
    Column("category", _label("category", "category")),
    Column("place", _get("place")),
    Column("admin1", _get("admin1")),
    Column("latitude", _get("lat")),
    Column("longitude", _get("lon")),
    Column("location_precision", _get("location_precision")),
    Column("in_zone", _get("in_zone")),
    Column("perpetrators", _joined("perpetrators")),
    Column("clauses", _joined("clauses")),
    Column("status", _get("status")),
    Column("killed_best", _get("killed_best")),
    Column("description", _get("description")),
    Column(
        "sources",
        lambda row: " | ".join(
            f"{s['publisher']}: {s['title']} [{s['grade']}] {s.get('url') or ''}".rstrip() for s in row["sources"]
        ),
    ),
)

PATROL_COLUMNS = (
    Column("date", _get("date")),
    Column("date_precision", _get("date_precision")),
    Column("kind", _label("patrol_kind", "kind")),
    Column("participants", _joined("participants")),
    Column("route", _get("route")),
    Column("outcome", _label("patrol_outcome", "outcome")),
    Column("clause", _get("clause")),
    Column("incidents", _get("incidents")),
)

ROUTE_COLUMNS = (
    Column("route", _get("route")),
    Column("segment", _get("segment")),
    Column("status", _label("route_status", "status")),
    Column("observed_on", _get("observed_on")),
    Column("before_period", _get("before_period")),
    Column("clause", _get("clause")),
    Column("notes", _get("notes")),
)

CONTROL_COLUMNS = (
    Column("occurred_on", _get("occurred_on")),
    Column("date_precision", _get("date_precision")),
    Column("place", _get("place")),
    Column("area_description", _get("area_description")),
    Column("locations", _get("locations")),
    Column("from_actor", _get("from_actor")),
    Column("to_actor", _get("to_actor")),
    Column("violation", _get("violation")),
)


def _humanitarian_rows(data: dict) -> list[dict]:
    block = data["humanitarian"]
    rows = [{"measure": kind, **block[kind]} for kind in ("killed", "civilians_killed", "injured", "civilians_injured")]
    rows += [
        {"measure": name, "low": None, "best": block[name], "high": None}
        for name in ("displaced", "health_facilities_hit", "education_facilities_hit", "idp_sites_hit", "camps_hit")
    ]
    return rows


CLAUSES = Table("Clauses", CLAUSE_COLUMNS, lambda data: _with_labels(data["assessment"]["clauses"], data))

TABLES: tuple[Table, ...] = (
    CLAUSES,
    Table("Violations by actor x clause", ACTOR_CLAUSE_COLUMNS, lambda data: data["violations_by_actor_clause"]),
    Table("Weekly", WEEKLY_COLUMNS, lambda data: data["weekly_by_actor"]),
    Table("Humanitarian", HUMANITARIAN_COLUMNS, _humanitarian_rows),
    Table("Violations", VIOLATION_COLUMNS, lambda data: _with_labels(data["violations"], data)),
    Table("Patrols", PATROL_COLUMNS, lambda data: _with_labels(data["patrols"], data)),
    Table("Route status", ROUTE_COLUMNS, lambda data: _with_labels(data["route_statuses"], data)),
    Table("Control changes", CONTROL_COLUMNS, lambda data: data["control_changes"]),
)


def _rows(table: Table, data: dict) -> list[list[Value]]:
    return [[column.value(row) for column in table.columns] for row in table.rows(data)]


# --- CSV ----------------------------------------------------------------------------------------------------------


def clauses_csv(data: dict, meta: ReportMeta) -> bytes:
    """The clauses table as CSV (header + one row per clause), UTF-8 with a BOM, cells formula-escaped."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([escape_cell(column.header) for column in CLAUSES.columns])
    for row in _rows(CLAUSES, data):
        writer.writerow([escape_cell(value) for value in row])
    return (UTF8_BOM + buffer.getvalue()).encode("utf-8")


# --- XLSX ---------------------------------------------------------------------------------------------------------


def _cell(value: Value):
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", escape_cell(value))[:XLSX_MAX_CELL_CHARS]
    return value


def _about_rows(data: dict, meta: ReportMeta) -> list[list[Value]]:
    assessment = data["assessment"]
    return [
        ["Report", data["title"]],
        ["Agreement", f"{data['agreement']['title']} ({data['agreement']['slug']})"],
        ["Period", f"{data['period']['from']} to {data['period']['to']} (UTC, both days included)"],
        ["Actor", data["actor"]["name"] if data.get("actor") else "All actors"],
        ["Overall implementation (%)", assessment.get("implementation_percent")],
        ["Clauses scored", f"{assessment.get('scored_clauses')} of {assessment.get('clause_count')}"],
        ["Report id", meta.id],
        ["Issued by", meta.issued_by],
        ["Issued at (UTC)", meta.issued_at],
        ["SHA-256", meta.sha256],
        [
            "Hash of",
            "The JSON download's 'data': serialised with sorted keys, no spaces (separators ',' and ':'), "
            "non-ASCII characters as they are, UTF-8.",
        ],
        ["Statuses", "verified, unverified (reported, not yet checked), disputed; retracted and rejected left out."],
    ]


def report_xlsx(data: dict, meta: ReportMeta) -> bytes:
    """Every table of the report, one sheet each, and an "About" sheet with the hash and who issued it."""
    workbook = Workbook(write_only=True)
    for table in TABLES:
        sheet = workbook.create_sheet(table.sheet)
        sheet.append([_cell(column.header) for column in table.columns])
        for row in _rows(table, data):
            sheet.append([_cell(value) for value in row])
    about = workbook.create_sheet("About")
    for key, value in _about_rows(data, meta):
        about.append([_cell(key), _cell(value)])
    issued = datetime.fromisoformat(meta.issued_at.replace("Z", "+00:00")).replace(tzinfo=None)
    workbook.properties.creator = meta.issued_by
    workbook.properties.title = data["title"]
    workbook.properties.created = issued
    workbook.properties.modified = issued
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def sheet_names() -> Sequence[str]:
    return [table.sheet for table in TABLES] + ["About"]
