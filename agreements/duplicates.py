"""Likely duplicate violations, and merging one into another.

Two records are *likely duplicates* when they belong to the same agreement, have the same category, started on the
same calendar day (UTC), are not retracted, and are at the same place or within `km` (5 by default) of each other,
measured by the haversine formula between their points (a violation's own coordinates, else its place's).

`likely_duplicates(violation)` works on a saved or an unsaved violation (a form's instance before saving), so the
violation form can show the hints before or after a save:

    hints = likely_duplicates(form.instance)          # [DuplicateHint(violation, distance_km, same_place), …]

`duplicate_pairs()` lists every such pair for the To-do page; `services.violation_merge()` folds a duplicate into the
record kept, through `agreements.services`, with history on both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from itertools import combinations

from django.db.models import Count, F, Window
from django.db.models.functions import TruncDate

from agreements.models import Violation

DEFAULT_KM = 5
EARTH_RADIUS_KM = 6371.0088


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two (lon, lat) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


@dataclass(frozen=True)
class DuplicateHint:
    """Another record that may describe the same incident, and how close it is."""

    violation: Violation
    distance_km: float | None  # None when a point is missing (cannot happen for stored rows: a place or coordinates)
    same_place: bool


def _utc_day(moment: datetime) -> tuple[datetime, datetime]:
    day = moment.astimezone(UTC).date()
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _compare(a: Violation, b: Violation, km: float) -> DuplicateHint | None:
    same_place = a.place_id is not None and a.place_id == b.place_id
    point_a, point_b = a.point(), b.point()
    distance = haversine_km(point_a, point_b) if point_a and point_b else None
    if same_place or (distance is not None and distance <= km):
        return DuplicateHint(violation=b, distance_km=distance, same_place=same_place)
    return None


def likely_duplicates(violation: Violation, *, km: float = DEFAULT_KM) -> list[DuplicateHint]:
    """Other records that may be the same incident as `violation`, nearest first.

    The database narrows the candidates (agreement, category, UTC day, not retracted); the distance is computed here.
    """
    if violation.started_at is None or not violation.agreement_id or not violation.category:
        return []
    start, end = _utc_day(violation.started_at)
    candidates = (
        Violation.objects.standing()
        .filter(
            agreement_id=violation.agreement_id,
            category=violation.category,
            started_at__gte=start,
            started_at__lt=end,
        )
        .select_related("place")  # the candidate's point when it has no coordinates of its own
        .order_by("started_at", "id")
    )
    if violation.pk is not None:
        candidates = candidates.exclude(pk=violation.pk)
    hints = [hint for candidate in candidates if (hint := _compare(violation, candidate, km)) is not None]
    return sorted(hints, key=lambda hint: (not hint.same_place, hint.distance_km or 0.0))


@dataclass(frozen=True)
class DuplicatePair:
    first: Violation  # the older record (reported first): the natural one to keep
    second: Violation
    distance_km: float | None
    same_place: bool


def duplicate_pairs(*, agreement=None, km: float = DEFAULT_KM, limit: int = 200) -> list[DuplicatePair]:
    """Every pair of likely duplicates among records not retracted, newest incidents first.

    One query: a window counts the records sharing (agreement, category, UTC day), and only groups of two or more
    are fetched; the pairs within a group are compared here.
    """
    day = TruncDate("started_at", tzinfo=UTC)
    rows = (
        Violation.objects.standing()
        .annotate(group_size=Window(Count("id"), partition_by=[F("agreement_id"), F("category"), day]))
        .filter(group_size__gt=1)
        .select_related("place", "agreement")  # points, and the agreement shown beside each pair
        .order_by("-started_at", "id")
    )
    if agreement is not None:
        rows = rows.filter(agreement=agreement)
    groups: dict[tuple, list[Violation]] = {}
    for violation in rows:
        key = (violation.agreement_id, violation.category, violation.started_at.astimezone(UTC).date())
        groups.setdefault(key, []).append(violation)
    pairs = []
    for members in groups.values():
        members.sort(key=lambda v: (v.created_at, v.pk))
        for first, second in combinations(members, 2):
            hint = _compare(first, second, km)
            if hint is not None:
                pairs.append(DuplicatePair(first, second, hint.distance_km, hint.same_place))
            if len(pairs) >= limit:
                return pairs
    return pairs
