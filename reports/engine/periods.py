"""Periods: both days included, dates (never datetimes), and the steps of a timeline."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from compliance.dates import day_out_of_range

STEPS = ("week", "month", "quarter")

# A timeline is one assessment per step; past this many steps the caller should choose a coarser step.
MAX_STEPS = 200


def check_period(start, end) -> None:
    """Raise ValueError unless `start` and `end` are dates within the accepted range with start <= end."""
    for name, value in (("start", start), ("end", end)):
        # A datetime is a date too; refuse it, or a period could silently end at midnight of its last day.
        if not isinstance(value, date) or isinstance(value, datetime):
            raise ValueError(f"{name} must be a date, got {value!r}.")
        # The engine steps past the last day (day_bounds) and by weeks, months and quarters: year 9999 overflows.
        problem = day_out_of_range(value)
        if problem:
            raise ValueError(problem)
    if start > end:
        raise ValueError(f"The period ends ({end}) before it starts ({start}).")


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[first instant, instant after the last day) in UTC: both days included, times compared in UTC."""
    after = end + timedelta(days=1)
    return datetime.combine(start, time.min, tzinfo=UTC), datetime.combine(after, time.min, tzinfo=UTC)


def _next_step_start(day: date, step: str) -> date:
    if step == "week":  # ISO weeks, Monday to Sunday
        return day + timedelta(days=7 - day.weekday())
    if step == "month":
        return date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    if step == "quarter":
        first_month_next = (day.month - 1) // 3 * 3 + 4
        return date(day.year + (first_month_next > 12), (first_month_next - 1) % 12 + 1, 1)
    raise ValueError(f"Unknown step {step!r}; choose one of: {', '.join(STEPS)}.")


def split_period(start: date, end: date, step: str) -> list[tuple[date, date]]:
    """The calendar weeks (Monday–Sunday), months or quarters the period touches, cut to the period.

    2019-05-15 … 2019-07-10 by month → (05-15, 05-31), (06-01, 06-30), (07-01, 07-10).
    """
    check_period(start, end)
    if step not in STEPS:
        raise ValueError(f"Unknown step {step!r}; choose one of: {', '.join(STEPS)}.")
    steps = []
    day = start
    while day <= end:
        following = _next_step_start(day, step)
        steps.append((day, min(following - timedelta(days=1), end)))
        if len(steps) > MAX_STEPS:
            raise ValueError(f"The period has more than {MAX_STEPS} {step}s; choose a longer step or a shorter period.")
        day = following
    return steps
