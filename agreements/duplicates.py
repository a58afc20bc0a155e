"""Likely duplicate violations, and merging one into another.

Two records are *likely duplicates* when they belong to the same agreement, have the same category, started on the
same calendar day (UTC), are not retracted, and are at the same place or within `km` (5 by default) of each other,
measured by the haversine formula between their points (a violation's own coordinates, else its place's).

`likely_duplicates(violation)` works on a saved or an unsaved violation (a form's instance before saving), so the
violation form can show the hints before or after a save:

    hints = likely_duplicates(form.instance)          # [DuplicateHint(violation, distance_km, same_place), …]

`duplicate_pairs()` lists every such pair for the To-do page; `violation_merge()` folds a duplicate into the
record kept, through `agreements.services`, with history on both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from itertools import combinations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Window
from django.db.models.functions import TruncDate
from django.utils import timezone

from agreements import services
from agreements.models import Patrol, Violation

DEFAULT_KM = 5
NOT_A_REVIEWER = "Only reviewers merge duplicates."
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
        Violation.objects.filter(
            agreement_id=violation.agreement_id,
            category=violation.category,
            started_at__gte=start,
            started_at__lt=end,
            retracted_at__isnull=True,
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
        Violation.objects.filter(retracted_at__isnull=True)
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


# --- merging --------------------------------------------------------------------------------------------------------


def merge_refusal(*, keep: Violation, duplicate: Violation, user) -> str | None:
    """Why `user` may not merge `duplicate` into `keep`, or None when they may."""
    if not user.has_perm("agreements.review_violation"):
        return NOT_A_REVIEWER
    if keep.pk == duplicate.pk:
        return "A violation cannot be merged into itself."
    if keep.agreement_id != duplicate.agreement_id:
        return "These violations belong to different agreements; only records of one agreement can be merged."
    if keep.is_retracted:
        return "The record to keep is retracted; merge into a record that stands."
    if duplicate.is_retracted:
        return "The duplicate is already retracted" + (" (merged before)." if duplicate.merged_into_id else ".")
    return None


@transaction.atomic
def violation_merge(*, keep: Violation, duplicate: Violation, user, note: str = "") -> Violation:
    """Fold `duplicate` into `keep`: its sources move to `keep` (those `keep` already cites stay where they are),
    its clauses and actors are added to `keep`'s, patrols and control changes that name it name `keep` instead, and
    it is retracted with `merged_into` set. Both records get a new version and a history entry by `user`.

    Raises PermissionDenied for a user who is not a reviewer, ValidationError for a merge that makes no sense
    (into itself, across agreements, into or of a retracted record).
    """
    if not user.has_perm("agreements.review_violation"):
        raise PermissionDenied(NOT_A_REVIEWER)
    # Lock both rows, in a fixed order so two merges of the same pair cannot deadlock, then read them as stored
    # (the caller's instances are refreshed too, so they show the merge afterwards).
    list(Violation.objects.select_for_update().filter(pk__in=[keep.pk, duplicate.pk]).order_by("pk"))
    keep.refresh_from_db()
    duplicate.refresh_from_db()
    refusal = merge_refusal(keep=keep, duplicate=duplicate, user=user)
    if refusal:
        raise ValidationError(refusal)

    cited = set(keep.citations.values_list("source_id", flat=True))
    for citation in duplicate.citations.select_related("source"):
        if citation.source_id in cited:
            continue
        citation.violation = keep
        services.record_save(instance=citation, user=user)

    services.violation_save(
        violation=keep,
        user=user,
        clauses=_union(keep.clauses.all(), duplicate.clauses.all()),
        perpetrators=_union(keep.perpetrators.all(), duplicate.perpetrators.all()),
        affected_actors=_union(keep.affected_actors.all(), duplicate.affected_actors.all()),
    )

    for change in duplicate.control_changes.all():
        change.violation = keep
        services.record_save(instance=change, user=user)
    for patrol in Patrol.objects.filter(incidents=duplicate).prefetch_related("incidents"):
        incidents = [keep if incident.pk == duplicate.pk else incident for incident in patrol.incidents.all()]
        services.record_save(instance=patrol, user=user, m2m={"incidents": list(dict.fromkeys(incidents))})

    reason = f"Merged into {keep.uuid}" + (f": {note.strip()}" if note.strip() else ".")
    duplicate.merged_into = keep
    duplicate.retracted_at = timezone.now()
    duplicate.retracted_by = user
    duplicate.retraction_reason = reason
    duplicate.version += 1
    duplicate.updated_by = user
    duplicate.full_clean()
    duplicate._history_user = user
    duplicate.save()
    return keep


def _union(*querysets) -> list:
    return list(dict.fromkeys(item for queryset in querysets for item in queryset))
