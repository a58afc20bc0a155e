"""XLSX: a "Violations" sheet and an "About" sheet. Cells hold native values — numbers, booleans, dates and
datetimes (naive, in UTC; Excel has no time zones, the About sheet says so) — and strings formula-escaped. The header
row is frozen and filtered, and columns are sized for what they hold. Refused above a row limit (`ExportTooLarge`),
since a workbook is built whole before it is sent."""

from __future__ import annotations

import io
from collections.abc import Sequence

from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from agreements.exports.columns import Column
from agreements.exports.csv_files import ExportTooLarge, count_up_to
from agreements.exports.rows import violation_rows
from agreements.exports.values import xlsx_value
from agreements.models import Violation

# Widths in characters: a datetime shows as "2019-05-06 04:00:00"; prose columns get room, capped.
WIDTH_FOR_DATETIME = 20
MIN_WIDTH, MAX_WIDTH = 8, 60
WIDE_COLUMNS = {"description": 60, "notes": 60, "sources": 60, "uuid": 38, "event_id_cnty": 38}


def _width(column: Column) -> int:
    if column.name in WIDE_COLUMNS:
        return WIDE_COLUMNS[column.name]
    if column.name.endswith("_at") or column.name == "event_date":
        return max(WIDTH_FOR_DATETIME, len(column.header) + 2)
    return min(MAX_WIDTH, max(MIN_WIDTH, len(column.header) + 2))


def _violations_sheet(workbook: Workbook, queryset: QuerySet[Violation], columns: Sequence[Column], count: int):
    sheet = workbook.create_sheet("Violations")
    # Write-only sheets take their layout before the first row.
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = _width(column)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    sheet.append([xlsx_value(column.header) for column in columns])
    for violation in violation_rows(queryset):
        sheet.append([xlsx_value(column.value(violation)) for column in columns])


def xlsx_bytes(queryset: QuerySet[Violation], columns: Sequence[Column], *, max_rows: int) -> bytes:
    """An XLSX workbook: a "Violations" sheet (header + one row per violation) and an "About" sheet.

    Raises ExportTooLarge, before building anything, when more than `max_rows` violations match.
    """
    count = count_up_to(queryset, max_rows + 1)  # exact up to the limit, which is all the About sheet needs
    if count > max_rows:
        raise ExportTooLarge(count, max_rows, "XLSX")
    exported_at = timezone.now()

    # Write-only mode streams rows to a temporary file instead of holding a cell object per value.
    workbook = Workbook(write_only=True)
    _violations_sheet(workbook, queryset, columns, count)

    about = workbook.create_sheet("About")
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 90
    about.append(["Exported at (UTC)", xlsx_value(exported_at)])
    about.append(["Rows", count])
    about.append(["Times", "All dates and times are in UTC (Excel cells have no time zone)."])
    about.append([])
    about.append(["Column", "Description"])
    for column in columns:
        about.append([xlsx_value(column.header), xlsx_value(column.description)])

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
