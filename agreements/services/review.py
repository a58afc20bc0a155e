"""The review workflow of a violation: verify, dispute, reject, reopen, retract — and the way back to "reported"
when the facts of a reviewed violation change. The admin's actions and the API's POST …/verify|dispute|reject|
reopen|retract call these functions; nothing else changes a violation's status.

    reported ──► verified | disputed | rejected
    disputed ──► verified | rejected | reported
    verified ──► disputed | reported
    rejected ──► reported

Rules, in the order they are checked (who may not → PermissionDenied; what is not allowed → ValidationError):
- Only reviewers move a violation: users with `agreements.review_violation` (superusers have every permission).
- Two people: never the one who reported the violation nor the one who last edited its facts — superusers
  included. (`updated_by` is the last editor of the facts; a review step does not make the reviewer its editor.)
- A retracted violation is kept as it was: it has no further steps.
- Only the transitions above; verification needs at least one source and at least one alleged perpetrator, where
  the "Unknown" actor (kind unknown) is the explicit way to say the perpetrator is not known.

Every step writes a ViolationReview (who, from, to, when, note), bumps the version (so an editor holding the old
version gets a stale-edit refusal) and is in the history with the reviewer as its user.

Retraction is not a status: any violation can be retracted, with a reason, by a holder of
`agreements.retract_violation` (reviewers, admins) — or by its reporter while it is still "reported" and theirs to
edit (a monitor withdrawing their own entry before anyone relied on it). The row stays; it drops out of lists,
counts and reports, and stays readable by its id.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from agreements.models import Violation, ViolationReview
from agreements.services import permissions
from agreements.services.base import atomic, refuse
from agreements.services.versions import violation_check_version

Status = Violation.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.REPORTED: frozenset({Status.VERIFIED, Status.DISPUTED, Status.REJECTED}),
    Status.DISPUTED: frozenset({Status.VERIFIED, Status.REJECTED, Status.REPORTED}),
    Status.VERIFIED: frozenset({Status.DISPUTED, Status.REPORTED}),
    Status.REJECTED: frozenset({Status.REPORTED}),
}

# Reviewed statuses that a change of facts undoes: what was verified or disputed is no longer what is recorded.
REVIEWED_STATUSES = frozenset({Status.VERIFIED, Status.DISPUTED})

FACTS_CHANGED_NOTE = "facts changed"

# The fields a review step writes (besides `updated_at`).
_REVIEW_FIELDS = ["status", "verified_by", "verified_at", "version", "updated_at"]
_RETRACTION_FIELDS = ["retracted_at", "retracted_by", "retraction_reason", "version", "updated_at"]

# simple-history keeps the change reason in a CharField(max_length=100).
_CHANGE_REASON_LENGTH = 100


# --- the steps ----------------------------------------------------------------------------------------------------


def _locked(violation: Violation) -> Violation:
    # `of=("self",)`: lock the violation row only (PostgreSQL refuses FOR UPDATE on the nullable side of a join).
    return Violation.objects.select_for_update(of=("self",)).get(pk=violation.pk)


def _check_version(current: Violation, expected_version: int | None) -> None:
    if expected_version is not None and current.version != expected_version:
        # The reviewer judged a version that is no longer the record: refuse rather than review unseen facts.
        violation_check_version(violation=current, expected_version=expected_version)


def _change_reason(text: str) -> str:
    return text if len(text) <= _CHANGE_REASON_LENGTH else text[: _CHANGE_REASON_LENGTH - 1] + "…"


def _verification_problems(violation: Violation) -> dict[str, str]:
    problems = {}
    if not violation.citations.exists():
        problems["sources"] = "A verified violation needs at least one source."
    if not violation.perpetrators.exists():
        problems["perpetrators"] = (
            "A verified violation needs an alleged perpetrator; choose the 'Unknown' actor when it is not known."
        )
    return problems


def sync(violation: Violation, current: Violation, fields: Iterable[str]) -> None:
    """Show the caller's instance what was saved."""
    if violation is not current:
        for name in fields:
            field = Violation._meta.get_field(name)
            setattr(violation, field.attname, getattr(current, field.attname))


@atomic()
def _move(*, violation: Violation, user, to_status: str, note: str = "", expected_version: int | None = None):
    current = _locked(violation)
    refuse(permissions.violation_review_refusal(violation=current, user=user))
    if current.is_retracted:
        raise ValidationError("This violation is retracted; a retracted record is kept as it was.", code="retracted")
    _check_version(current, expected_version)
    from_status = current.status
    if to_status not in TRANSITIONS[from_status]:
        allowed = ", ".join(sorted(TRANSITIONS[from_status]))
        raise ValidationError(
            f"A {from_status} violation cannot become {to_status}; from {from_status} it can become: {allowed}.",
            code="transition",
        )
    if to_status == Status.VERIFIED:
        problems = _verification_problems(current)
        if problems:
            raise ValidationError(problems, code="not_verifiable")
        current.verified_by, current.verified_at = user, timezone.now()
    else:
        current.verified_by, current.verified_at = None, None  # set only while verified
    current.status = to_status
    current.version += 1
    note = (note or "").strip()
    current._history_user = user
    current._change_reason = _change_reason(f"{to_status}: {note}" if note else to_status)
    current.save(update_fields=_REVIEW_FIELDS)
    ViolationReview.objects.create(
        violation=current, from_status=from_status, to_status=to_status, user=user, note=note
    )
    sync(violation, current, _REVIEW_FIELDS)
    return current


def violation_verify(*, violation: Violation, user, note: str = "", expected_version: int | None = None) -> Violation:
    """A reviewer confirms the violation: it has a source and a (possibly 'Unknown') perpetrator."""
    return _move(
        violation=violation, user=user, to_status=Status.VERIFIED, note=note, expected_version=expected_version
    )


def violation_dispute(*, violation: Violation, user, note: str = "", expected_version: int | None = None) -> Violation:
    """A reviewer doubts the violation as recorded (say why in the note)."""
    return _move(
        violation=violation, user=user, to_status=Status.DISPUTED, note=note, expected_version=expected_version
    )


def violation_reject(*, violation: Violation, user, note: str = "", expected_version: int | None = None) -> Violation:
    """A reviewer finds the violation did not happen as reported (it stays in the record, marked rejected)."""
    return _move(
        violation=violation, user=user, to_status=Status.REJECTED, note=note, expected_version=expected_version
    )


def violation_reopen(*, violation: Violation, user, note: str = "", expected_version: int | None = None) -> Violation:
    """A reviewer sends a reviewed violation back to "reported", to be reviewed again."""
    return _move(
        violation=violation, user=user, to_status=Status.REPORTED, note=note, expected_version=expected_version
    )


@atomic()
def violation_retract(*, violation: Violation, user, reason: str, expected_version: int | None = None) -> Violation:
    """Withdraw a violation from the record with a reason: the row stays, readable by its id, out of counts."""
    current = _locked(violation)
    refuse(permissions.violation_retract_refusal(violation=current, user=user))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the violation is retracted."}, code="required")
    if current.is_retracted:
        raise ValidationError("This violation is already retracted.", code="retracted")
    _check_version(current, expected_version)
    current.retracted_at, current.retracted_by, current.retraction_reason = timezone.now(), user, reason
    current.version += 1
    current._history_user = user
    current._change_reason = _change_reason(f"retracted: {reason}")
    current.save(update_fields=_RETRACTION_FIELDS)
    sync(violation, current, _RETRACTION_FIELDS)
    return current


# --- facts changing under a review --------------------------------------------------------------------------------


def _ids(values: Iterable) -> set:
    return {value.pk if isinstance(value, models.Model) else value for value in values}


def violation_facts_changed(
    *,
    violation: Violation,
    current: Violation,
    fact_fields: Iterable[str],
    m2m: dict[str, Iterable | None],
) -> list[str]:
    """The facts (`fact_fields` attnames, and many-to-many links given in `m2m`) that differ from the stored row."""
    changed = [name for name in fact_fields if getattr(violation, name) != getattr(current, name)]
    for name, values in m2m.items():
        if values is not None and _ids(values) != set(getattr(current, name).values_list("pk", flat=True)):
            changed.append(name)
    return changed


def violation_keep_review_state(
    *,
    violation: Violation,
    current: Violation,
    fact_fields: Iterable[str],
    m2m: dict[str, Iterable | None],
) -> str | None:
    """Called by `services.violation_save` before it saves an edit of a stored violation.

    The review state belongs to this module, so it is taken from the stored (locked) row, never from an editor's
    possibly older copy. When facts of a verified or disputed violation change, it goes back to "reported" (what
    was reviewed is no longer what is recorded); the status it had is returned, for `violation_log_reopened`.
    """
    for name in ("status", "verified_by_id", "verified_at"):
        setattr(violation, name, getattr(current, name))
    if current.status not in REVIEWED_STATUSES:
        return None
    if not violation_facts_changed(violation=violation, current=current, fact_fields=fact_fields, m2m=m2m):
        return None
    violation.status = Status.REPORTED
    violation.verified_by, violation.verified_at = None, None
    return current.status


def violation_log_reopened(*, violation: Violation, user, from_status: str) -> ViolationReview:
    """The review step of a violation sent back to "reported" because its facts changed."""
    return ViolationReview.objects.create(
        violation=violation, from_status=from_status, to_status=Status.REPORTED, user=user, note=FACTS_CHANGED_NOTE
    )
