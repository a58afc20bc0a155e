"""What a report says about the violations of its period, each piece one grouped query: the size of every piece is
bounded by the number of actors, clauses, weeks, places or map cells, never by the number of violations.

The violations summarised are `report_violations` (reports.document): counted ones (`Violation.objects.counted()`:
neither retracted nor rejected) of the agreement that started in the period, with an actor those it or one of its
parts is alleged to have done. Casualty totals follow the casualty rule (`casualty_total_expression`): a total not
reported reads its civilian figure, which is its lower bound; the report counts how often that happened and says so.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, Round, TruncWeek

from agreements.models import Violation
from agreements.models.violations import casualty_total_expression
from reports.engine.evidence import STATUS_WORDS

MAP_POINTS = 300  # up to this many located incidents the map draws each; past it, counts per grid cell
MAP_CELL_DEGREES = 1  # digits the cell's centre is rounded to: 0.1° (about 11 km at Idlib's latitude)
TOP_PLACES = 10
SERIOUS = 25  # the most serious incidents the report shows in full; every one is in the annex

HUMANITARIAN_TOTALS = ("killed", "injured")  # read through the casualty rule
HUMANITARIAN_CIVILIANS = ("civilians_killed", "civilians_injured")
HUMANITARIAN_COUNTS = ("displaced", "health_facilities_hit", "education_facilities_hit", "idp_sites_hit", "camps_hit")
ESTIMATES = ("low", "best", "high")

_LINKED = Violation.clauses.through
_PERPETRATED = Violation.perpetrators.through


def _counts() -> dict:
    return dict.fromkeys(STATUS_WORDS.values(), 0)


def summary(violations) -> dict:
    """How many violations the report counts, by status; how many name no perpetrator and how many cite no clause."""
    cited = Exists(_LINKED.objects.filter(violation_id=OuterRef("pk")))
    attributed = Exists(_PERPETRATED.objects.filter(violation_id=OuterRef("pk")))
    block = {"violations": 0, **_counts(), "unattributed": 0, "no_clause_cited": 0}
    rows = (
        violations.values("status")
        .annotate(n=Count("pk"), unattributed=Count("pk", filter=~attributed), uncited=Count("pk", filter=~cited))
        .order_by()
    )
    for row in rows:
        block[STATUS_WORDS[row["status"]]] += row["n"]
        block["violations"] += row["n"]
        block["unattributed"] += row["unattributed"]
        block["no_clause_cited"] += row["uncited"]
    return block


def _by_actor(rows, family: set[int] | None) -> dict[int, dict]:
    lines: dict[int, dict] = {}
    for row in rows:
        actor_id = row["perpetrators__id"]
        if actor_id is None or (family is not None and actor_id not in family):
            continue
        line = lines.setdefault(
            actor_id, {"actor": row["perpetrators__slug"], "name": row["perpetrators__name"], **_counts()}
        )
        line[STATUS_WORDS[row["status"]]] += row["n"]
    for line in lines.values():
        line["total"] = sum(line[word] for word in STATUS_WORDS.values())
    return lines


def _actor_rows(violations):
    return (
        violations.values("status", "perpetrators__id", "perpetrators__slug", "perpetrators__name")
        .annotate(n=Count("pk", distinct=True))
        .order_by()
    )


def _by_name(lines) -> list[dict]:
    return sorted(lines, key=lambda line: (line["name"].casefold(), line["name"], line["actor"]))


def actor_totals(violations, family: set[int] | None) -> list[dict]:
    """Per alleged perpetrator: DISTINCT violations by status, however many clauses each cites or is counted
    against (a violation by two actors counts once for each of them)."""
    return _by_name(_by_actor(_actor_rows(violations), family).values())


def no_clause_cited(violations, family: set[int] | None) -> list[dict]:
    """Per alleged perpetrator: violations linked to no clause (the matrix's "no clause cited" column)."""
    uncited = violations.filter(~Exists(_LINKED.objects.filter(violation_id=OuterRef("pk"))))
    return _by_name(_by_actor(_actor_rows(uncited), family).values())


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_by_actor(violations) -> list[dict]:
    """Violations per week (Monday to Sunday, UTC) they started in and alleged perpetrator; a violation with two
    perpetrators counts once for each, one with none under "Unattributed"."""
    rows = (
        violations.annotate(week=TruncWeek("started_at", tzinfo=UTC))
        .values("week", "perpetrators__slug", "perpetrators__name")
        .annotate(count=Count("pk", distinct=True))
        .order_by()
    )
    lines = [
        {
            "week": _monday(
                row["week"].astimezone(UTC).date() if hasattr(row["week"], "astimezone") else row["week"]
            ).isoformat(),
            "actor": row["perpetrators__slug"],
            "name": row["perpetrators__name"] or "Unattributed",
            "count": row["count"],
        }
        for row in rows
    ]
    return sorted(lines, key=lambda r: (r["week"], r["actor"] is None, r["name"].casefold(), r["actor"] or ""))


def top_places(violations, limit: int = TOP_PLACES) -> list[dict]:
    """The places with the most violations (those placed by a named place), most first."""
    rows = (
        violations.filter(place__isnull=False)
        .values("place__name", "place__admin1")
        .annotate(count=Count("pk"), verified=Count("pk", filter=Q(status=Violation.Status.VERIFIED)))
        .order_by("-count", "place__name", "place__admin1")[:limit]
    )
    return [
        {"place": r["place__name"], "admin1": r["place__admin1"], "count": r["count"], "verified": r["verified"]}
        for r in rows
    ]


def _located(violations):
    return violations.annotate(
        lon=Coalesce("longitude", "place__longitude"), lat=Coalesce("latitude", "place__latitude")
    ).filter(lon__isnull=False, lat__isnull=False)


def _float(value) -> float | None:
    return None if value is None else round(float(value), 6)


def map_incidents(violations) -> dict:
    """Each located incident when there are at most MAP_POINTS; else the count per grid cell (0.1°) by status."""
    located = _located(violations)
    total = located.count()
    if total <= MAP_POINTS:
        rows = located.order_by("started_at", "uuid").values(
            "uuid", "lon", "lat", "status", "category", "in_zone", "location_precision", "place__name"
        )
        points = [
            {
                "uuid": str(r["uuid"]),
                "lon": _float(r["lon"]),
                "lat": _float(r["lat"]),
                "status": STATUS_WORDS[r["status"]],
                "category": r["category"],
                "in_zone": r["in_zone"],
                "precision": r["location_precision"],
                "place": r["place__name"],
            }
            for r in rows
        ]
        return {"located": total, "incidents": points, "cells": [], "cell_degrees": None}
    cells: dict[tuple, dict] = {}
    rows = (
        located.annotate(cell_lon=Round("lon", MAP_CELL_DEGREES), cell_lat=Round("lat", MAP_CELL_DEGREES))
        .values("cell_lon", "cell_lat", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for r in rows:
        key = (_float(r["cell_lon"]), _float(r["cell_lat"]))
        cell = cells.setdefault(key, {"lon": key[0], "lat": key[1], "count": 0, **_counts()})
        cell[STATUS_WORDS[r["status"]]] += r["n"]
        cell["count"] += r["n"]
    ordered = sorted(cells.values(), key=lambda c: (-c["lat"], c["lon"]))
    return {"located": total, "incidents": [], "cells": ordered, "cell_degrees": 10**-MAP_CELL_DEGREES}


def humanitarian(violations) -> dict:
    """Sums over the violations (None where none reports a figure: not the same as zero); totals by the casualty
    rule, with `from_civilians` the number of violations whose total was read from its civilian figure."""
    sums = {}
    for kind in HUMANITARIAN_TOTALS:
        for estimate in ESTIMATES:
            sums[f"sum_{kind}_{estimate}"] = Sum(casualty_total_expression(kind, estimate))
        civilian_only = Q()
        for estimate in ESTIMATES:
            civilian_only |= Q(**{f"{kind}_{estimate}__isnull": True, f"civilians_{kind}_{estimate}__isnull": False})
        sums[f"sum_{kind}_from_civilians"] = Count("pk", filter=civilian_only)
    for kind in HUMANITARIAN_CIVILIANS:
        for estimate in ESTIMATES:
            sums[f"sum_{kind}_{estimate}"] = Sum(F(f"{kind}_{estimate}"))
    for name in HUMANITARIAN_COUNTS:
        sums[f"sum_{name}"] = Sum(name)
    sums["sum_violations"] = Count("pk")
    row = violations.aggregate(**sums)
    block = {
        kind: {estimate: row[f"sum_{kind}_{estimate}"] for estimate in ESTIMATES}
        for kind in (*HUMANITARIAN_TOTALS, *HUMANITARIAN_CIVILIANS)
    }
    block.update({name: row[f"sum_{name}"] for name in HUMANITARIAN_COUNTS})
    block["violations"] = row["sum_violations"]
    block["from_civilians"] = {kind: row[f"sum_{kind}_from_civilians"] for kind in HUMANITARIAN_TOTALS}
    return block


def most_serious(violations, limit: int = SERIOUS):
    """The `limit` violations with the most killed (best estimate, by the casualty rule), then injured, then the
    earliest; the rest are in the annex."""
    return violations.annotate(
        killed_rank=casualty_total_expression("killed", "best"),
        injured_rank=casualty_total_expression("injured", "best"),
    ).order_by(F("killed_rank").desc(nulls_last=True), F("injured_rank").desc(nulls_last=True), "started_at", "uuid")[
        :limit
    ]
