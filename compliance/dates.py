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
