"""How a value is written in each format: CSV text (formula-escaped), JSON, an XLSX cell."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from django.utils import timezone
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from agreements.exports.columns import FORMULA_PREFIXES, XLSX_MAX_CELL_CHARS, Value


def iso_utc(moment: datetime) -> str:
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _float_text(number: float) -> str:
    text = repr(number)
    # 1e-06 is a valid float literal but not what a spreadsheet or an analyst expects in a coordinate column.
    return format(Decimal(text), "f") if "e" in text or "E" in text else text


def _plain_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return _float_text(value)
    return str(value)


def escape_cell(value: Value) -> str:
    """The text of a cell, with spreadsheet-formula injection defused.

    A string starting with = + - @ (or tab, carriage return) gets a leading apostrophe, which spreadsheets read as
    "this is text". Only strings are escaped: a number, even a negative one, stays a number; None is empty,
    booleans are true/false, datetimes ISO 8601 in UTC.
    """
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    return _plain_text(value)


def json_value(value: Value) -> str | int | float | bool | None:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def xlsx_value(value: Value):
    if isinstance(value, str):
        text = ILLEGAL_CHARACTERS_RE.sub("", escape_cell(value))  # control characters openpyxl would refuse
        return text[:XLSX_MAX_CELL_CHARS]
    if isinstance(value, datetime):
        # Excel has no time zones: the value is written as naive UTC, and the About sheet says so.
        return value.astimezone(UTC).replace(tzinfo=None) if timezone.is_aware(value) else value
    return value
