"""The one write path for the record. The admin, the API and the management commands call these functions;
none of them saves a model of this app by itself.

Every function here is keyword-only, runs in a transaction, validates with `full_clean()` (so a bad value is a
ValidationError with field messages, never a half-written row or a database error) and attributes the change
to `user` in the history.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import models, transaction

from agreements.geometry import area_covers, area_size
from agreements.models import (
    Actor,
    Clause,
    Place,
    Source,
    Violation,
    ViolationSource,
    Zone,
)


class StaleEdit(ValidationError):
    """Someone saved the violation after the editor loaded it; saving now would overwrite their change."""

    def __init__(self, *, current: Violation, expected_version: int, changed: dict[str, tuple]):
        self.current = current
        self.expected_version = expected_version
        self.changed = changed  # field -> (value when loaded, value now)
        who = current.updated_by or current.reported_by
        fields = ", ".join(changed) or "its sources or links"
        super().__init__(
            f"This violation was changed by {who} (now version {current.version}, you loaded version "
            f"{expected_version}). Changed meanwhile: {fields}. Reload it and apply your edit again.",
            code="stale",
        )


# --- generic ---------------------------------------------------------------------------------------------------


def _attribute(instance: models.Model, user) -> None:
    # simple-history reads this when the change does not come through a request (commands, tests, the API's
    # token users are on the request too, but being explicit costs nothing).
    if user is not None:
        instance._history_user = user


def _set_m2m(instance: models.Model, m2m: dict[str, Iterable] | None) -> None:
    for name, values in (m2m or {}).items():
        if values is not None:
            getattr(instance, name).set(list(values))


def _condition_fields(condition) -> Iterable[str]:
    for child in condition.children:
        if isinstance(child, models.Q):
            yield from _condition_fields(child)
        else:
            yield child[0].split("__")[0]


@functools.cache
def _constraint_field(model: type[models.Model]) -> dict[str, str]:
    """A check constraint's message → the first field its condition names."""
    return {
        str(constraint.violation_error_message): next(iter(_condition_fields(constraint.condition)))
        for constraint in model._meta.constraints
        if isinstance(constraint, models.CheckConstraint)
    }


def validate(instance: models.Model) -> None:
    """`full_clean`, with each check-constraint error moved onto the field it is about.

    Django reports a failed check constraint against the whole record; an API client or form needs to know which
    input to fix (`killed_low`, not "the record").
    """
    try:
        instance.full_clean()
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        owners = _constraint_field(type(instance))
        errors: dict[str, list] = {}
        for field, field_errors in exc.error_dict.items():
            for error in field_errors:
                message = " ".join(error.messages)
                target = owners.get(message, field) if field == NON_FIELD_ERRORS else field
                errors.setdefault(target, []).append(error)
        raise ValidationError(errors) from None


@transaction.atomic
def record_save(*, instance: models.Model, user, m2m: dict[str, Iterable] | None = None) -> models.Model:
    """Validate and save a record that has no rule beyond its constraints (actors, agreements, patrols …)."""
    validate(instance)
    _attribute(instance, user)
    instance.save()
    _set_m2m(instance, m2m)
    return instance


# --- zones and the in-zone flag ------------------------------------------------------------------------------


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


def _relocate_violations(violations: Iterable[Violation], *, user) -> int:
    """Recompute in-zone for existing violations, saving (with history) only those whose answer changed."""
    changed = 0
    zones_by_agreement: dict[int, list[Zone]] = {}
    for violation in violations:
        zones = zones_by_agreement.setdefault(
            violation.agreement_id,
            list(Zone.objects.filter(agreement_id=violation.agreement_id, kind__in=Zone.RESTRICTING_KINDS)),
        )
        before = (violation.in_zone, violation.zone_id)
        violation_locate(violation, zones=zones)
        if (violation.in_zone, violation.zone_id) != before:
            _attribute(violation, user)
            violation.save(update_fields=["in_zone", "zone", "updated_at"])
            changed += 1
    return changed


@transaction.atomic
def zone_save(*, zone: Zone, user) -> Zone:
    """Save a zone and recompute the in-zone flag of its agreement's violations."""
    record_save(instance=zone, user=user)
    _relocate_violations(Violation.objects.filter(agreement_id=zone.agreement_id).select_related("place"), user=user)
    return zone


@transaction.atomic
def place_save(*, place: Place, user) -> Place:
    """Save a place; violations located by its coordinates follow it in and out of zones."""
    record_save(instance=place, user=user)
    if place.pk:
        _relocate_violations(
            Violation.objects.filter(place=place, latitude__isnull=True).select_related("place"), user=user
        )
    return place


@transaction.atomic
def clause_save(*, clause: Clause, user, obligated_actors: Iterable[Actor] | None = None) -> Clause:
    """Save a clause; `full_clean` checks its terms against its kind (see agreements/terms.py)."""
    return record_save(instance=clause, user=user, m2m={"obligated_actors": obligated_actors})


# --- violations ---------------------------------------------------------------------------------------------------

# Facts a stale-edit message compares; bookkeeping fields (version, updated_*) are not facts.
FACT_FIELDS = [
    f.attname
    for f in Violation._meta.concrete_fields
    if f.editable and f.name not in {"id", "uuid", "created_at", "updated_at"}
]


def violation_check_clauses(*, violation: Violation, clauses: Iterable[Clause] | None) -> None:
    """Refuse clauses of another agreement than the violation's (a many-to-many the database cannot check).

    With `clauses` None the stored links stay, so they are the ones checked (the agreement may be changing).
    """
    if clauses is None:
        if violation.pk is None:
            return
        clauses = violation.clauses.all()
    foreign = [str(c) for c in clauses if c.agreement_id != violation.agreement_id]
    if foreign:
        raise ValidationError({"clauses": f"Not clauses of this violation's agreement: {', '.join(foreign)}."})


def violation_check_version(*, violation: Violation, expected_version: int | None, lock: bool = False) -> Violation:
    """Return the stored row; raise StaleEdit if it is no longer at `expected_version` (None: don't check)."""
    rows = Violation.objects.select_for_update(of=("self",)) if lock else Violation.objects
    current = rows.select_related("updated_by", "reported_by").get(pk=violation.pk)
    if expected_version is not None and current.version != expected_version:
        # Compare with the version the editor loaded (kept in the history), so the message lists what others
        # changed meanwhile, not what this editor is changing.
        loaded = current.history.filter(version=expected_version).order_by("-history_date").first()
        changed = {
            name: (getattr(loaded, name), getattr(current, name))
            for name in FACT_FIELDS
            if loaded is not None and getattr(loaded, name) != getattr(current, name)
        }
        raise StaleEdit(current=current, expected_version=expected_version, changed=changed)
    return current


@transaction.atomic
def violation_save(
    *,
    violation: Violation,
    user,
    clauses: Iterable[Clause] | None = None,
    perpetrators: Iterable[Actor] | None = None,
    affected_actors: Iterable[Actor] | None = None,
    expected_version: int | None = None,
) -> Violation:
    """Record a new violation or save edits to one. M2M arguments left as None are not touched.

    With `expected_version`, refuses (StaleEdit) when the row was saved by someone else since that version.
    """
    from agreements import workflow  # the review workflow builds on this module

    given = {"clauses": clauses, "perpetrators": perpetrators, "affected_actors": affected_actors}
    m2m = {name: list(values) if values is not None else None for name, values in given.items()}
    violation_check_clauses(violation=violation, clauses=m2m["clauses"])
    reopened_from = None
    if violation.pk is None:
        violation.reported_by = user
        violation.version = 1
    else:
        current = violation_check_version(violation=violation, expected_version=expected_version, lock=True)
        if current.is_retracted:
            raise ValidationError("This violation is retracted; a retracted record is kept as it was.")
        violation.version = current.version + 1
        violation.updated_by = user
    violation_locate(violation)
    validate(violation)
    if violation.pk is not None:
        # Status is the workflow's: taken from the stored row, and back to "reported" if reviewed facts change.
        reopened_from = workflow.violation_keep_review_state(
            violation=violation, current=current, fact_fields=FACT_FIELDS, m2m=m2m
        )
    _attribute(violation, user)
    violation.save()
    _set_m2m(violation, m2m)
    if reopened_from:
        workflow.violation_log_reopened(violation=violation, user=user, from_status=reopened_from)
    return violation


def violation_record(
    *,
    user,
    clauses: Iterable[Clause] = (),
    perpetrators: Iterable[Actor] = (),
    affected_actors: Iterable[Actor] = (),
    sources: Iterable[Source] = (),
    **fields,
) -> Violation:
    """Create a violation from field values, with its links and sources, in one transaction."""
    with transaction.atomic():
        violation = violation_save(
            violation=Violation(**fields),
            user=user,
            clauses=clauses,
            perpetrators=perpetrators,
            affected_actors=affected_actors,
        )
        for source in sources:
            violation_cite(violation=violation, source=source, user=user)
    return violation


def violation_update(
    *,
    violation: Violation,
    user,
    expected_version: int | None = None,
    clauses: Iterable[Clause] | None = None,
    perpetrators: Iterable[Actor] | None = None,
    affected_actors: Iterable[Actor] | None = None,
    **fields,
) -> Violation:
    for name, value in fields.items():
        if name not in FACT_FIELDS and name not in {"place", "agreement"}:
            raise ValidationError({name: "This field cannot be edited."})
        setattr(violation, name, value)
    return violation_save(
        violation=violation,
        user=user,
        clauses=clauses,
        perpetrators=perpetrators,
        affected_actors=affected_actors,
        expected_version=expected_version,
    )


def violation_edit_refusal(*, violation: Violation, user) -> str | None:
    """Why `user` may not edit `violation`, or None when they may.

    Monitors edit what they reported while it is unverified; reviewers and admins edit any; a retracted record
    is kept as it was.
    """
    if violation.is_retracted:
        return "This violation is retracted; a retracted record is kept as it was."
    if user.is_superuser or user.has_perm("agreements.review_violation"):
        return None
    if violation.reported_by_id != user.pk:
        return "Monitors edit only the violations they reported."
    if violation.status != Violation.Status.REPORTED:
        return "Only unverified violations can be edited by a monitor; ask a reviewer."
    return None


def violation_check_editable(*, violation: Violation, user) -> None:
    refusal = violation_edit_refusal(violation=violation, user=user)
    if refusal:
        raise PermissionDenied(refusal)


# --- sources ------------------------------------------------------------------------------------------------------


@dataclass
class NewSource:
    """The fields of a source typed in while recording a violation (reused if its URL is already known)."""

    publisher: str
    title: str
    kind: str
    url: str = ""
    published_on: object = None
    reliability: str = Source.Reliability.F
    credibility: int = Source.Credibility.CANNOT_JUDGE
    extra: dict = field(default_factory=dict)


@transaction.atomic
def source_get_or_create(*, new: NewSource, user) -> Source:
    """A source by its URL if we have it (so one article is one row however many incidents cite it), else a new one."""
    if new.url:
        existing = Source.objects.filter(url=new.url).first()
        if existing is not None:
            return existing
    source = Source(
        publisher=new.publisher,
        title=new.title,
        kind=new.kind,
        url=new.url,
        published_on=new.published_on,
        reliability=new.reliability,
        credibility=new.credibility,
        **new.extra,
    )
    return record_save(instance=source, user=user)


@transaction.atomic
def violation_cite(
    *, violation: Violation, user, source: Source | None = None, new_source: NewSource | None = None, note: str = ""
) -> ViolationSource:
    """Attach a source (an existing one, or one typed in) to a violation."""
    if (source is None) == (new_source is None):
        raise ValidationError("Choose an existing source or describe a new one, not both.")
    if source is None:
        source = source_get_or_create(new=new_source, user=user)
    citation = ViolationSource(violation=violation, source=source, note=note)
    return record_save(instance=citation, user=user)


@transaction.atomic
def citation_remove(*, citation: ViolationSource, user) -> None:
    """Unlink a source from a violation (the source itself stays, other incidents may cite it)."""
    _attribute(citation, user)
    citation.delete()
