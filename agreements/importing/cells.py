"""Reading one cell: dates, counts, coordinates, choices, grades, each with an error that names its column."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from agreements.importing.names import fold

COORDINATE_STEP = Decimal("0.000001")
SEPARATOR = ";"
SOURCE_SEPARATOR = " | "
ACLED_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%d-%b-%Y", "%d-%B-%Y")


class CellError(Exception):
    """A cell's value cannot be read; the message names the column."""


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    # Undo exports.escape_cell: a leading apostrophe before a formula character is ours, not the author's.
    if text.startswith("'") and text[1:2] and text[1] in "=+-@\t\r":
        text = text[1:]
    return text


def split(text: str, separator: str = SEPARATOR) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in text.split(separator) if part.strip()))


def parse_moment(value, column: str) -> tuple[datetime | None, bool]:
    """(aware UTC datetime, whether a time of day was given) from a cell; (None, False) when empty."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC), value.time() != time(0)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC), False
    text = cell_text(value)
    if not text:
        return None, False
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC), False
        moment = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        for pattern in ACLED_DATE_FORMATS:
            try:
                return datetime.strptime(text, pattern).replace(tzinfo=UTC), False
            except ValueError:
                continue
        raise CellError(f"{column}: {text!r} is not a date (use YYYY-MM-DD or e.g. 06 May 2019).") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC), True


def parse_count(value, column: str) -> int | None:
    text = cell_text(value)
    if not text:
        return None
    try:
        number = Decimal(text.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        raise CellError(f"{column}: {text!r} is not a whole number.") from None
    if number != number.to_integral_value():
        raise CellError(f"{column}: {text!r} is not a whole number.")
    if number < 0:
        raise CellError(f"{column}: {text} cannot be negative.")
    return int(number)


def parse_coordinate(value, column: str, limit: int) -> Decimal | None:
    text = cell_text(value)
    if not text:
        return None
    try:
        number = Decimal(text.replace(",", ".") if text.count(",") == 1 and "." not in text else text)
    except InvalidOperation:
        raise CellError(f"{column}: {text!r} is not a number.") from None
    if not number.is_finite() or abs(number) > limit:
        raise CellError(f"{column}: {text} is outside ±{limit}.")
    return number.quantize(COORDINATE_STEP)


def parse_bool(value, column: str) -> bool | None:
    if isinstance(value, bool):
        return value
    text = fold(cell_text(value))
    if not text:
        return None
    if text in {"true", "yes", "1"}:
        return True
    if text in {"false", "no", "0"}:
        return False
    raise CellError(f"{column}: {cell_text(value)!r} is not true or false.")


def parse_choice(value, column: str, choices) -> str | None:
    """A choice by its value or its label, case-insensitively."""
    text = cell_text(value)
    if not text:
        return None
    for choice_value, label in choices:
        if fold(text) in {fold(choice_value), fold(label)}:
            return str(choice_value)
    allowed = ", ".join(str(choice_value) for choice_value, _ in choices)
    raise CellError(f"{column}: {text!r} is not one of {allowed}.")


def parse_grade(text: str, column: str) -> tuple[str, int]:
    match = re.fullmatch(r"\s*([A-Fa-f])\s*([1-6])\s*", text)
    if not match:
        raise CellError(f"{column}: {text!r} is not an Admiralty grade (A1 … F6).")
    return match.group(1).upper(), int(match.group(2))


OUR_SOURCE_RE = re.compile(r"^(?P<publisher>.+?): (?P<title>.+) \[(?P<grade>[A-Fa-f][1-6])\](?: (?P<url>\S+))?$")
