"""Aggregates of violations for dashboards, computed in the database in one query."""

from datetime import datetime

from django.db.models import Count, DateField, Sum
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek

from agreements.models.violations import casualty_total_expression

# Each dimension: the result columns it adds, each read from a field path or computed by an expression. Paths are
# selected as they are and renamed afterwards, since annotating a name like "category" clashes with the field.
DIMENSIONS = {
    "actor": {"actor_id": "perpetrators__id", "actor": "perpetrators__name"},
    "clause": {"clause_id": "clauses__id", "clause": "clauses__number"},
    "category": {"category": "category"},
    "place": {"place_id": "place_id", "place": "place__name"},
    "admin1": {"admin1": "place__admin1"},
    "status": {"status": "status"},
    "day": {"day": TruncDate("started_at")},
    # Dates, not instants: the database casts them, so no row needs a time-zone conversion in Python.
    "week": {"week": TruncWeek("started_at", output_field=DateField())},
    "month": {"month": TruncMonth("started_at", output_field=DateField())},
}

# Totals by the casualty rule: a total not reported counts its civilian figure (its lower bound).
MEASURES = {
    "violations": Count("id", distinct=True),
    "killed": Sum(casualty_total_expression("killed", "best")),
    "civilians_killed": Sum("civilians_killed_best"),
    "injured": Sum(casualty_total_expression("injured", "best")),
    "civilians_injured": Sum("civilians_injured_best"),
    "displaced": Sum("displaced"),
}


# What parse_group_by takes, for the API schema: comma-separated dimensions, spaces around them and empty items
# ignored. Only the space itself: a tab or another blank is not "nothing" here, and the schema must say exactly what
# is refused.
_DIMENSION = f"({'|'.join(DIMENSIONS)})"
GROUP_BY_PATTERN = f"^ *({_DIMENSION} *)?(, *({_DIMENSION} *)?)*$"


def parse_group_by(value: str) -> list[str]:
    """'actor, week' → ['actor', 'week']; raises ValueError naming an unknown dimension."""
    names = [part.strip(" ") for part in (value or "").split(",") if part.strip(" ")]
    unknown = [name for name in names if name not in DIMENSIONS]
    if unknown:
        raise ValueError(f"Unknown group_by {', '.join(unknown)}; choose from {', '.join(DIMENSIONS)}.")
    return list(dict.fromkeys(names))


def _columns(group_by: list[str]) -> tuple[dict, dict, dict]:
    columns = {name: source for dimension in group_by for name, source in DIMENSIONS[dimension].items()}
    paths = {name: source for name, source in columns.items() if isinstance(source, str)}
    expressions = {name: source for name, source in columns.items() if not isinstance(source, str)}
    return columns, paths, expressions


def stats_queryset(queryset, group_by: list[str]):
    """The one grouped query (a values() queryset) behind `violation_stats` for a non-empty `group_by`."""
    _, paths, expressions = _columns(group_by)
    return (
        queryset.order_by()
        .values(*paths.values(), **expressions)
        .annotate(**MEASURES)
        .order_by(*paths.values(), *expressions)
    )


def violation_stats(queryset, group_by: list[str]) -> list[dict]:
    """Counts and best-estimate casualty sums per group, in one query; with no dimension, one total row.

    Grouping by actor or clause joins only that link table, so a violation with two perpetrators counts once for
    each of them. Sums are exact per group: a group meets each of its violations once, since only the link tables
    of the requested dimensions are joined (and filters use subqueries, which add no rows).
    """
    if not group_by:
        return [queryset.aggregate(**MEASURES)]
    columns, paths, expressions = _columns(group_by)
    rows = stats_queryset(queryset, group_by)
    result = []
    for row in rows:
        out = {name: row[path] for name, path in paths.items()}
        for name in expressions:
            value = row[name]
            out[name] = (value.date() if isinstance(value, datetime) else value).isoformat() if value else None
        out.update({measure: row[measure] for measure in MEASURES})
        result.append({name: out[name] for name in [*columns, *MEASURES]})
    return result
