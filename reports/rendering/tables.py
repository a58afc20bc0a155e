"""The report's tables for spreadsheets: CSV carries the clauses table; XLSX carries every table, one sheet each;
the annex (every violation) as it was frozen (CSV) or typed in a workbook (XLSX).

Each table is declared once, as `Column`s read off the rows of the frozen data, and rendered to both formats.
Strings are formula-escaped as in the violation exports (`agreements.exports.escape_cell`): a cell starting with
= + - @ gets a leading apostrophe. CSV is UTF-8 with a BOM, for Excel. The XLSX's "About" sheet names the report,
who issued it and when, and its SHA-256; its document properties are set to the issue time, so the same report
gives the same workbook contents whenever it is downloaded.

Workbooks hold real values: dates and instants as dates (UTC, Excel has no time zones), numbers as numbers,
yes/no as booleans; each sheet has its header frozen, an autofilter over its rows and column widths set.

Sheets: "Clauses" (one row per clause), "Actor totals", "Violations by actor x clause", "Weekly", "Humanitarian",
"Top places", "Most serious", "Patrols", "Route status", "Control changes", "About".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from agreements.exports import UTF8_BOM, XLSX_MAX_CELL_CHARS, escape_cell
from reports.rendering.html import ReportMeta

Value = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    value: Callable[[dict], Value]
    kind: str = "text"  # text, number, boolean, date, datetime: what the XLSX cell holds

    @property
    def width(self) -> float:
        return max(len(self.header) + 2, WIDTHS[self.kind])


WIDTHS = {"text": 16, "number": 9, "boolean": 8, "date": 11, "datetime": 19}


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
    Column("deadline", _get("deadline"), "date"),
    Column("deadline_state", _get("deadline_state")),
    Column("status", _get("status")),
    Column("status_label", _label("compliance_status", "status")),
    Column("score", _get("score"), "number"),
    Column("computed_status", _get("computed_status")),
    Column("computed_score", _get("computed_score"), "number"),
    Column("overridden_by", _get("override", "by")),
    Column("override_rationale", _get("override", "rationale")),
    Column("violations_verified", _get("evidence", "violations", "verified"), "number"),
    Column("violations_unverified", _get("evidence", "violations", "unverified"), "number"),
    Column("violations_disputed", _get("evidence", "violations", "disputed"), "number"),
    Column("patrols_completed", _get("evidence", "patrols", "completed"), "number"),
    Column("patrols_cut_short", _get("evidence", "patrols", "cut_short"), "number"),
    Column("patrols_cancelled", _get("evidence", "patrols", "cancelled"), "number"),
    Column("patrols_attacked", _get("evidence", "patrols", "attacked"), "number"),
    Column("control_changes", _get("evidence", "control_changes"), "number"),
    Column("locations_changed", _get("evidence", "locations_changed"), "number"),
    Column("rule", _get("rule")),
)

ACTOR_CLAUSE_COLUMNS = (
    Column("actor", _get("name")),
    Column("actor_slug", _get("actor")),
    Column("clause", lambda row: row["clause"] or "(none)"),
    Column("clause_title", _get("clause_title")),
    Column("verified", _get("verified"), "number"),
    Column("unverified", _get("unverified"), "number"),
    Column("disputed", _get("disputed"), "number"),
    Column("total", _get("total"), "number"),
)

ACTOR_TOTAL_COLUMNS = (
    Column("actor", _get("name")),
    Column("actor_slug", _get("actor")),
    Column("verified", _get("verified"), "number"),
    Column("unverified", _get("unverified"), "number"),
    Column("disputed", _get("disputed"), "number"),
    Column("distinct_violations", _get("total"), "number"),
)

PLACE_COLUMNS = (
    Column("place", _get("place")),
    Column("admin1", _get("admin1")),
    Column("violations", _get("count"), "number"),
    Column("verified", _get("verified"), "number"),
)

WEEKLY_COLUMNS = (
    Column("week_beginning", _get("week"), "date"),
    Column("actor", _get("name")),
    Column("actor_slug", _get("actor")),
    Column("violations", _get("count"), "number"),
)

HUMANITARIAN_COLUMNS = (
    Column("measure", _get("measure")),
    Column("low", _get("low"), "number"),
    Column("best", _get("best"), "number"),
    Column("high", _get("high"), "number"),
)

VIOLATION_COLUMNS = (
    Column("uuid", _get("uuid")),
    Column("started_at", _get("started_at"), "datetime"),
    Column("ended_at", _get("ended_at"), "datetime"),
    Column("time_precision", _get("time_precision")),
    Column("category", _label("category", "category")),
    Column("place", _get("place")),
    Column("admin1", _get("admin1")),
    Column("latitude", _get("lat"), "number"),
    Column("longitude", _get("lon"), "number"),
    Column("location_precision", _get("location_precision")),
    Column("in_zone", _get("in_zone"), "boolean"),
    Column("perpetrators", _joined("perpetrators")),
    Column("clauses", _joined("clauses")),
    Column("status", _get("status")),
    Column("killed_best", _get("killed_best"), "number"),
    Column("killed_from_civilians", _get("killed_from_civilians"), "boolean"),
    Column("civilians_killed_best", _get("civilians_killed_best"), "number"),
    Column("injured_best", _get("injured_best"), "number"),
    Column("injured_from_civilians", _get("injured_from_civilians"), "boolean"),
    Column("description", _get("description")),
    Column(
        "sources",
        lambda row: " | ".join(
            f"{s['publisher']}: {s['title']} [{s['grade']}] {s.get('url') or ''}".rstrip() for s in row["sources"]
        ),
    ),
)

PATROL_COLUMNS = (
    Column("date", _get("date"), "date"),
    Column("date_precision", _get("date_precision")),
    Column("kind", _label("patrol_kind", "kind")),
    Column("participants", _joined("participants")),
    Column("route", _get("route")),
    Column("outcome", _label("patrol_outcome", "outcome")),
    Column("clause", _get("clause")),
    Column("incidents", _get("incidents"), "number"),
)

ROUTE_COLUMNS = (
    Column("route", _get("route")),
    Column("segment", _get("segment")),
    Column("status", _label("route_status", "status")),
    Column("observed_on", _get("observed_on"), "date"),
    Column("before_period", _get("before_period"), "boolean"),
    Column("clause", _get("clause")),
    Column("notes", _get("notes")),
)

CONTROL_COLUMNS = (
    Column("occurred_on", _get("occurred_on"), "date"),
    Column("date_precision", _get("date_precision")),
    Column("place", _get("place")),
    Column("area_description", _get("area_description")),
    Column("locations", _get("locations"), "number"),
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
    rows += [
        {"measure": f"violations whose {kind} total is their civilian figure", "low": None, "best": n, "high": None}
        for kind, n in (block.get("from_civilians") or {}).items()
    ]
    return rows


CLAUSES = Table("Clauses", CLAUSE_COLUMNS, lambda data: _with_labels(data["assessment"]["clauses"], data))

TABLES: tuple[Table, ...] = (
    CLAUSES,
    Table("Actor totals", ACTOR_TOTAL_COLUMNS, lambda data: data["actor_totals"]),
    Table("Violations by actor x clause", ACTOR_CLAUSE_COLUMNS, lambda data: data["violations_by_actor_clause"]),
    Table("Weekly", WEEKLY_COLUMNS, lambda data: data["weekly_by_actor"]),
    Table("Humanitarian", HUMANITARIAN_COLUMNS, _humanitarian_rows),
    Table("Top places", PLACE_COLUMNS, lambda data: data["top_places"]),
    Table("Most serious", VIOLATION_COLUMNS, lambda data: _with_labels(data["serious"], data)),
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


def _cell(value: Value, kind: str = "text"):
    """The value as the XLSX cell holds it: an ISO date or instant becomes a date (instants in UTC, naive: Excel
    has no time zones), text is formula-escaped and cut to what a cell can hold."""
    if isinstance(value, str) and value and kind in ("date", "datetime"):
        if kind == "date" or len(value) == 10:
            return date.fromisoformat(value[:10])
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", escape_cell(value))[:XLSX_MAX_CELL_CHARS]
    return value


def new_sheet(workbook, title: str, columns: Sequence[Column], rows: int):
    """A write-only sheet with its layout set before its rows: widths, the header frozen, an autofilter."""
    sheet = workbook.create_sheet(title)
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{rows + 1}"
    sheet.append([_cell(column.header) for column in columns])
    return sheet


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
        ["Annex rows", (data.get("annex") or {}).get("rows")],
        ["Annex SHA-256", (data.get("annex") or {}).get("sha256")],
    ]


def report_xlsx(data: dict, meta: ReportMeta) -> bytes:
    """Every table of the report, one sheet each, and an "About" sheet with the hash and who issued it."""
    workbook = Workbook(write_only=True)
    for table in TABLES:
        rows = _rows(table, data)
        sheet = new_sheet(workbook, table.sheet, table.columns, len(rows))
        for row in rows:
            sheet.append([_cell(value, column.kind) for value, column in zip(row, table.columns, strict=True)])
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
