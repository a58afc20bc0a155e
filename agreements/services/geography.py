"""Zones, places and clauses — the reference the evidence is judged against — and the in-zone flag they decide.

Places, zones and clauses carry a version: a save based on an older one is refused, as for violations. When a
place moves or a zone is redrawn, every violation whose in-zone answer changes gets a new version and a history
entry naming the cause, so dashboards holding its old ETag see the change; changing the answer of reviewed
(verified or disputed) evidence is a reviewer's act.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils import timezone

from agreements.geometry import area_covers, area_size
from agreements.models import Actor, Clause, Place, Violation, Zone
from agreements.services import permissions
from agreements.services.base import atomic, attribute, check_version, model_save, refuse

REVIEWED = (Violation.Status.VERIFIED, Violation.Status.DISPUTED)
_CHANGE_REASON_LENGTH = 100  # simple-history's CharField


def zone_containing(*, agreement_id: int, lon: float, lat: float, zones: list[Zone] | None = None) -> Zone | None:
    """The smallest restricting zone of the agreement that covers the point (its edge counts as inside)."""
    if zones is None:
        zones = list(Zone.objects.filter(agreement_id=agreement_id, kind__in=Zone.RESTRICTING_KINDS))
    covering = [zone for zone in zones if area_covers(zone.geometry, lon, lat)]
    return min(covering, key=lambda zone: area_size(zone.geometry), default=None)


def violation_locate(violation: Violation, *, zones: list[Zone] | None = None) -> None:
    """Set `in_zone` and `zone` from the violation's point; None when its location is too coarse to tell."""
    point = violation.point()
    if point is None or violation.location_precision not in Violation.ZONE_DECIDABLE_PRECISIONS:
        violation.in_zone, violation.zone = None, None
        return
    zone = zone_containing(agreement_id=violation.agreement_id, lon=point[0], lat=point[1], zones=zones)
    violation.in_zone, violation.zone = zone is not None, zone


def _reflagged(violations: Iterable[Violation]) -> list[Violation]:
    """The violations whose in-zone answer changes, with the new answer set on them (nothing saved)."""
    changed = []
    zones_by_agreement: dict[int, list[Zone]] = {}
    for violation in violations:
        zones = zones_by_agreement.setdefault(
            violation.agreement_id,
            list(Zone.objects.filter(agreement_id=violation.agreement_id, kind__in=Zone.RESTRICTING_KINDS)),
        )
        before = (violation.in_zone, violation.zone_id)
        violation_locate(violation, zones=zones)
        if (violation.in_zone, violation.zone_id) != before:
            changed.append(violation)
    return changed


def _relocate_violations(violations, *, user, cause: str) -> int:
    """Recompute in-zone for stored violations; each whose answer changes gets a new version and a history entry.

    Refused as a whole (PermissionDenied) when it would re-flag reviewed evidence and `user` is not a reviewer.
    """
    # Locked, so a concurrent edit of one of them waits and then sees the new version (and gets a stale refusal).
    rows = violations.standing().select_related("place").select_for_update(of=("self",))
    changed = _reflagged(rows)
    refuse(permissions.reflag_refusal(user=user, verified=sum(v.status in REVIEWED for v in changed)))
    reason = f"in-zone re-flagged: {cause}"[:_CHANGE_REASON_LENGTH]
    now = timezone.now()
    for violation in changed:
        violation.version += 1
        violation.updated_at = now
        attribute(violation, user)
        violation._change_reason = reason
        violation.save(update_fields=["in_zone", "zone", "version", "updated_at"])
    return len(changed)


def _save_versioned(*, instance, user, expected_version: int | None, m2m=None):
    if instance.pk is not None:
        current = check_version(instance=instance, expected_version=expected_version)
        instance.version = current.version + 1
    else:
        instance.version = 1
    return model_save(instance=instance, user=user, m2m=m2m)


@atomic()
def zone_save(*, zone: Zone, user, expected_version: int | None = None) -> Zone:
    """Save a zone and recompute the in-zone flag of its agreement's violations."""
    _save_versioned(instance=zone, user=user, expected_version=expected_version)
    _relocate_violations(
        Violation.objects.filter(agreement_id=zone.agreement_id), user=user, cause=f"zone '{zone.name}' redrawn"
    )
    return zone


@atomic()
def place_save(*, place: Place, user, expected_version: int | None = None) -> Place:
    """Save a place; violations located by its coordinates follow it in and out of zones."""
    existed = place.pk is not None
    _save_versioned(instance=place, user=user, expected_version=expected_version)
    if existed:
        _relocate_violations(
            Violation.objects.filter(place=place, latitude__isnull=True), user=user, cause=f"place '{place.name}' moved"
        )
    return place


@atomic()
def clause_save(
    *, clause: Clause, user, obligated_actors: Iterable[Actor] | None = None, expected_version: int | None = None
) -> Clause:
    """Save a clause; `full_clean` checks its terms against its kind (see agreements/terms.py). A clause never
    changes agreement: the evidence and assessments filed under it belong to that agreement."""
    if clause.pk is not None:
        stored = Clause._base_manager.filter(pk=clause.pk).values_list("agreement_id", flat=True).first()
        if stored is not None and stored != clause.agreement_id:
            raise ValidationError({"agreement": "A clause never changes agreement; add a clause to the other one."})
    return _save_versioned(
        instance=clause, user=user, expected_version=expected_version, m2m={"obligated_actors": obligated_actors}
    )
