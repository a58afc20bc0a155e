"""The days the service accepts in filters, periods and reports.

Python's dates end at year 9999 and the engine steps one day past a period's end, so edge dates overflow; and no
record here predates 1900 or is about a time after 2100. One range, refused with a 400 everywhere, keeps both
problems out of the engine and the database.
"""

from datetime import date

EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2100, 12, 31)


def day_out_of_range(day: date) -> str | None:
    """Why `day` is refused, or None when it is within the accepted range."""
    if EARLIEST_DAY <= day <= LATEST_DAY:
        return None
    return f"{day.isoformat()} is outside the dates this service accepts ({EARLIEST_DAY} to {LATEST_DAY})."


# The same range for the API schema, so that clients (and the fuzzer) know a day outside it is refused. JSON Schema
# has no minimum for dates; the year alternatives spell EARLIEST_DAY.year to LATEST_DAY.year (tests check they agree).
_YEAR = "(19[0-9]{2}|20[0-9]{2}|2100)"
_DAY = f"{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?"
DAY_SCHEMA = {"type": "string", "format": "date", "pattern": f"^{_DAY}$"}
# The range applies to the date as written; the offset (±HH:MM, at most a day) is then applied to compare in UTC.
INSTANT_SCHEMA = {
    "type": "string",
    "format": "date-time",
    "pattern": f"^{_DAY}T{_TIME}(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
}
