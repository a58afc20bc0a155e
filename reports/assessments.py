"""Assessments as data: a person's judgement of a clause over a period, kept beside the engine's.

`assessment_record` is the one write path (the admin and the API call it). It stores the person's status, score and
rationale together with what the engine computes for the same clause, actor and period at that moment (status,
score, rule and evidence), so both can be shown and compared later even after the record changes. There is one
assessment per clause, actor (or none: the clause as a whole) and period; recording again updates it. Every change
is in the history (simple-history), attributed to the person.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from agreements.models import Actor, Clause
from agreements.services import model_retire
from reports.engine import assess_clause
from reports.models import Assessment, ComplianceStatus

# Statuses that carry no score (they are left out of the implementation percentage), and those that need one.
UNSCORED_STATUSES = frozenset({ComplianceStatus.NOT_YET_DUE, ComplianceStatus.NOT_ASSESSED})


def assessment_refusal(*, user, creating: bool) -> str | None:
    """Why `user` may not record (creating) or change an assessment, or None when they may (analysts, admins)."""
    needed = "reports.add_assessment" if creating else "reports.change_assessment"
    if user is None or not user.is_authenticated or not user.has_perm(needed):
        return "Only analysts and admins record assessments." if creating else "Only analysts and admins change them."
    return None


def assessment_check(*, clause: Clause, actor: Actor | None, period_start, period_end, status: str, score) -> None:
    """Raise ValidationError (per field) unless the values make a consistent assessment. Forms call it to show the
    same messages before saving."""
    errors = {}
    for name, value in (("period_start", period_start), ("period_end", period_end)):
        if not isinstance(value, date):
            errors[name] = "Give a date (YYYY-MM-DD)."
    if not errors and period_end < period_start:
        errors["period_end"] = "The period ends before it starts."
    if status in UNSCORED_STATUSES and score is not None:
        errors["score"] = f"A clause that is {status.replace('_', ' ')} has no score; leave it empty."
    elif status in ComplianceStatus.values and status not in UNSCORED_STATUSES and score is None:
        errors["score"] = "Give a score from 0 to 3 (Peace Accords Matrix scale) with this status."
    if actor is not None and clause.pk and not clause.obligated_actors.filter(pk=actor.pk).exists():
        errors["actor"] = f"{actor} is not obligated by clause {clause.number}; assess the clause as a whole instead."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def assessment_record(
    *, clause: Clause, actor: Actor | None = None, period_start, period_end, status: str, score, rationale: str, user
) -> Assessment:
    """Record a person's assessment of a clause (for one obligated actor, or as a whole) over a period.

    Updates the assessment of the same clause, actor and period when there is one, else creates it. Stores the
    engine's computed status, score, rule and evidence beside the person's. Raises PermissionDenied unless the
    user may add (new) or change (existing) assessments, ValidationError with field messages on bad input.
    """
    assessment_check(
        clause=clause, actor=actor, period_start=period_start, period_end=period_end, status=status, score=score
    )
    existing = (
        Assessment.all_objects.select_for_update()
        .filter(clause=clause, period_start=period_start, period_end=period_end)
        .filter(**({"actor": actor} if actor is not None else {"actor__isnull": True}))
        .first()
    )
    refusal = assessment_refusal(user=user, creating=existing is None)
    if refusal:
        raise PermissionDenied(refusal)
    assessment = existing or Assessment(clause=clause, actor=actor, period_start=period_start, period_end=period_end)
    # Assessing again after a withdrawal brings the row back (its history shows both), as the key is one per period.
    assessment.retired_at, assessment.retired_by, assessment.retirement_reason = None, None, ""
    computed = assess_clause(clause, start=period_start, end=period_end, actor=actor, include_overrides=False)
    assessment.status = status
    assessment.score = score
    assessment.rationale = (rationale or "").strip()
    assessment.computed_status = computed.computed_status
    assessment.computed_score = computed.computed_score
    assessment.computed_rule = computed.rule
    assessment.evidence = computed.evidence_dict()
    assessment.assessed_by = user
    assessment.full_clean()
    assessment._history_user = user
    try:
        with transaction.atomic():  # a savepoint: a concurrent first recording of the same key loses cleanly
            assessment.save()
    except IntegrityError:
        raise ValidationError(
            "Someone recorded an assessment of this clause for this period meanwhile: reload and edit it."
        ) from None
    return assessment


def assessment_withdraw(*, assessment: Assessment, user, reason: str) -> Assessment:
    """Withdraw a person's assessment (the computed one shows again): retired with who, when and why, never deleted.
    Those who may change assessments may withdraw them."""
    return model_retire(instance=assessment, user=user, reason=reason)
