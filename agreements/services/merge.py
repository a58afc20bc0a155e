"""Folding a duplicate into the record it repeats (reviewers only; see permissions.violation_merge_refusal)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from agreements.models import Patrol, Violation
from agreements.services import permissions
from agreements.services.base import atomic, model_save, refuse
from agreements.services.violations import violation_save


def merge_refusal(*, keep: Violation, duplicate: Violation, user) -> str | None:
    """Why `user` may not merge `duplicate` into `keep`, or None when they may."""
    refusal = permissions.violation_merge_refusal(user=user)
    if refusal:
        return refusal
    if keep.pk == duplicate.pk:
        return "A violation cannot be merged into itself."
    if keep.agreement_id != duplicate.agreement_id:
        return "These violations belong to different agreements; only records of one agreement can be merged."
    if keep.is_retracted:
        return "The record to keep is retracted; merge into a record that stands."
    if duplicate.is_retracted:
        return "The duplicate is already retracted" + (" (merged before)." if duplicate.merged_into_id else ".")
    return None


@atomic()
def violation_merge(*, keep: Violation, duplicate: Violation, user, note: str = "") -> Violation:
    """Fold `duplicate` into `keep`: its sources move to `keep` (those `keep` already cites stay where they are),
    its clauses and actors are added to `keep`'s, patrols and control changes that name it name `keep` instead, and
    it is retracted with `merged_into` set. Both records get a new version and a history entry by `user`.

    Raises PermissionDenied for a user who is not a reviewer, ValidationError for a merge that makes no sense
    (into itself, across agreements, into or of a retracted record).
    """
    refuse(permissions.violation_merge_refusal(user=user))
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
        model_save(instance=citation, user=user)

    violation_save(
        violation=keep,
        user=user,
        clauses=_union(keep.clauses.all(), duplicate.clauses.all()),
        perpetrators=_union(keep.perpetrators.all(), duplicate.perpetrators.all()),
        affected_actors=_union(keep.affected_actors.all(), duplicate.affected_actors.all()),
    )

    for change in duplicate.control_changes.all():
        change.violation = keep
        model_save(instance=change, user=user)
    for patrol in Patrol.objects.filter(incidents=duplicate).prefetch_related("incidents"):
        incidents = [keep if incident.pk == duplicate.pk else incident for incident in patrol.incidents.all()]
        model_save(instance=patrol, user=user, m2m={"incidents": list(dict.fromkeys(incidents))})

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
