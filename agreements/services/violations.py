"""Recording and editing violations: the facts, their links, and who may change them (services/permissions.py)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils import timezone

from agreements.models import Actor, Clause, Source, Violation
from agreements.services import permissions, review
from agreements.services.base import atomic, attribute, refuse, set_m2m, validate
from agreements.services.geography import violation_locate
from agreements.services.sources import violation_cite
from agreements.services.versions import FACT_FIELDS, violation_check_version


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


@atomic()
def save_with_links(violation: Violation, m2m: dict) -> None:
    """Save the row and its links, then write ONE history entry holding both (simple-history alone writes one
    for the row and one more per kind of link: three entries and a dozen statements for a single save)."""
    history_type = "+" if violation.pk is None else "~"
    violation.skip_history_when_saving = True
    try:
        violation.save()
        set_m2m(violation, m2m)
    finally:
        del violation.skip_history_when_saving
    Violation.history_records.create_historical_record(violation, history_type)


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
    given = {"clauses": clauses, "perpetrators": perpetrators, "affected_actors": affected_actors}
    m2m = {name: list(values) if values is not None else None for name, values in given.items()}
    violation_check_clauses(violation=violation, clauses=m2m["clauses"])
    reopened_from = None
    if violation.pk is None:
        refuse(permissions.violation_create_refusal(user=user))
        violation.reported_by = user
        violation.version = 1
    else:
        current = violation_check_version(violation=violation, expected_version=expected_version, lock=True)
        if current.is_retracted:
            raise ValidationError(permissions.RETRACTED)
        # Asked of the stored row: an editor's copy could claim another reporter or status.
        refuse(permissions.violation_edit_refusal(violation=current, user=user))
        violation_locate(violation)
        if not review.violation_facts_changed(violation=violation, current=current, fact_fields=FACT_FIELDS, m2m=m2m):
            # Nothing to record: no version, no history entry, no "facts changed" reopening.
            review.sync(violation, current, ["version", "updated_by", "updated_at", "status", "in_zone", "zone"])
            return violation
        violation.version = current.version + 1
        violation.updated_by = user
    violation_locate(violation)
    violation_check_dates(violation)
    validate(violation)
    if violation.pk is not None:
        # Status is the workflow's: taken from the stored row, and back to "reported" if reviewed facts change.
        reopened_from = review.violation_keep_review_state(
            violation=violation, current=current, fact_fields=FACT_FIELDS, m2m=m2m
        )
    attribute(violation, user)
    save_with_links(violation, m2m)
    if reopened_from:
        review.violation_log_reopened(violation=violation, user=user, from_status=reopened_from)
    return violation


def violation_create(
    *,
    user,
    clauses: Iterable[Clause] = (),
    perpetrators: Iterable[Actor] = (),
    affected_actors: Iterable[Actor] = (),
    sources: Iterable[Source] = (),
    **fields,
) -> Violation:
    """Create a violation from field values, with its links and sources, in one transaction."""
    with atomic():
        violation = violation_save(
            violation=Violation(**fields),
            user=user,
            clauses=clauses,
            perpetrators=perpetrators,
            affected_actors=affected_actors,
        )
        for source in sources:
            violation_cite(violation=violation, source=source, user=user, new_record=True)
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


def violation_check_editable(*, violation: Violation, user) -> None:
    """For faces that want to refuse before reading a body (the API's 403 comes before its 400s)."""
    refuse(permissions.violation_edit_refusal(violation=violation, user=user))


def violation_check_dates(violation: Violation) -> None:
    """An incident happens within its agreement's life and not in the future (a typo such as 2999 or 2091)."""
    errors = {}
    agreement = violation.agreement if violation.agreement_id else None
    now = timezone.now()
    if violation.started_at and violation.started_at > now:
        errors["started_at"] = "An incident cannot start in the future."
    if violation.ended_at and violation.ended_at > now:
        errors["ended_at"] = "An incident cannot end in the future."
    if agreement is not None and violation.started_at:
        begins = agreement.in_force_from or agreement.signed_on
        if begins and violation.started_at.date() < begins:
            errors["started_at"] = f"The agreement ({agreement}) was not yet in force: it begins on {begins}."
        if agreement.in_force_until and violation.started_at.date() > agreement.in_force_until:
            errors["started_at"] = f"The agreement ({agreement}) ended on {agreement.in_force_until}."
    if errors:
        raise ValidationError(errors)
