"""Aggregates of violations for dashboards, computed in the database in one query."""

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek

# Each dimension: the columns it groups on (named as they appear in the result rows).
DIMENSIONS = {
    "actor": {"actor_id": F("perpetrators__id"), "actor": F("perpetrators__name")},
    "clause": {"clause_id": F("clauses__id"), "clause": F("clauses__number")},
    "category": {"category": F("category")},
    "place": {"place_id": F("place__id"), "place": F("place__name")},
    "admin1": {"admin1": F("place__admin1")},
    "status": {"status": F("status")},
    "day": {"day": TruncDate("started_at")},
    "week": {"week": TruncWeek("started_at")},
    "month": {"month": TruncMonth("started_at")},
}

MEASURES = {
    "violations": Count("id", distinct=True),
    "killed": Sum("killed_best"),
    "civilians_killed": Sum("civilians_killed_best"),
    "injured": Sum("injured_best"),
    "civilians_injured": Sum("civilians_injured_best"),
    "displaced": Sum("displaced"),
}


def parse_group_by(value: str) -> list[str]:
    """'actor,week' → ['actor', 'week']; raises ValueError naming an unknown dimension."""
    names = [part.strip() for part in (value or "").split(",") if part.strip()]
    unknown = [name for name in names if name not in DIMENSIONS]
    if unknown:
        raise ValueError(f"Unknown group_by {', '.join(unknown)}; choose from {', '.join(DIMENSIONS)}.")
    return list(dict.fromkeys(names))


def violation_stats(queryset, group_by: list[str]) -> list[dict]:
    """Counts and best-estimate casualty sums per group.

    Grouping by actor or clause joins only that link table, so a violation with two perpetrators counts once for
    each of them (and once per group). Sums of casualties are over the distinct violations of a group: with one
    many-to-many dimension a violation appears once per group, so plain sums are exact; grouping by actor AND
    clause keeps that, since each (actor, clause) pair meets a violation once.
    """
    columns = {name: expression for dimension in group_by for name, expression in DIMENSIONS[dimension].items()}
    rows = queryset.order_by().annotate(**columns).values(*columns).annotate(**MEASURES)
    ordering = list(columns) or ["violations"]
    rows = rows.order_by(*ordering)
    result = []
    for row in rows:
        for key in ("day", "week", "month"):
            if row.get(key) is not None:
                value = row[key]
                row[key] = (value.date() if hasattr(value, "date") and callable(value.date) else value).isoformat()
        result.append(row)
    return result
