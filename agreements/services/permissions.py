"""Who may do what to the record: the names of the permissions, and one function per rule that says why not.

Every rule is asked here by the services that write (which raise PermissionDenied with the reason) and by the faces
that offer the write (the admin greys out a page or an action, the API answers 403): one answer in every face.
Each `*_refusal` returns the reason a user may not act, or None when they may.

Roles are groups holding these permissions (agreements/migrations/0002_roles.py):
- monitor: records violations and edits their own while they are unreviewed; cites sources; adds places.
- reviewer: a monitor who also verifies, disputes, rejects, reopens, retracts and merges — never their own entry
  nor one they last edited — and edits any violation.
- analyst: reads and exports.
- admin: keeps the reference data (agreements, clauses, zones, actors) and can do what the others do.
Nobody deletes evidence: it is retracted or retired with a reason.
"""

from __future__ import annotations

from agreements.models import Violation

VIEW_VIOLATION = "agreements.view_violation"
VIEW_SOURCE = "agreements.view_source"
VIEW_CLAUSE = "agreements.view_clause"
ADD_VIOLATION = "agreements.add_violation"
CHANGE_VIOLATION = "agreements.change_violation"
REVIEW_VIOLATION = "agreements.review_violation"
RETRACT_VIOLATION = "agreements.retract_violation"
ADD_CITATION = "agreements.add_violationsource"
CHANGE_CITATION = "agreements.change_violationsource"
CHANGE_PLACE = "agreements.change_place"
CHANGE_ZONE = "agreements.change_zone"
CHANGE_CLAUSE = "agreements.change_clause"
CHANGE_AGREEMENT = "agreements.change_agreement"

Status = Violation.Status

NOT_A_REVIEWER = "Only reviewers merge duplicates."
RETRACTED = "This violation is retracted; a retracted record is kept as it was."


def violation_create_refusal(*, user) -> str | None:
    if not user.has_perm(ADD_VIOLATION):
        return "Your role does not record violations."
    return None


def violation_edit_refusal(*, violation: Violation, user) -> str | None:
    """Why `user` may not edit `violation` (its facts, links or sources), or None when they may.

    Monitors edit what they reported while it is unverified; reviewers and admins edit any; a retracted record
    is kept as it was.
    """
    if violation.is_retracted:
        return RETRACTED
    if not user.has_perm(CHANGE_VIOLATION):
        return "Your role does not edit violations."
    if user.has_perm(REVIEW_VIOLATION):
        return None
    if violation.reported_by_id != user.pk:
        return "Monitors edit only the violations they reported."
    if violation.status != Status.REPORTED:
        return "Only unverified violations can be edited by a monitor; ask a reviewer."
    return None


def violation_cite_refusal(*, violation: Violation, user) -> str | None:
    """Citing or un-citing a source is an edit of the violation: the same rule, plus the citation permission."""
    if not user.has_perm(ADD_CITATION):
        return "Your role does not cite sources."
    return violation_edit_refusal(violation=violation, user=user)


def violation_review_refusal(*, violation: Violation, user) -> str | None:
    """Why `user` may not verify, dispute, reject or reopen `violation`, or None when they may."""
    if not user.has_perm(REVIEW_VIOLATION):
        return "Only reviewers verify, dispute, reject or reopen violations."
    if violation.reported_by_id == user.pk:
        return "You reported this violation; another reviewer must review it."
    if violation.updated_by_id == user.pk:
        return "You made the last edit to this violation; another reviewer must review it."
    return None


def violation_retract_refusal(*, violation: Violation, user) -> str | None:
    """Why `user` may not retract `violation`, or None when they may."""
    if user.has_perm(RETRACT_VIOLATION):
        return None
    if violation.reported_by_id == user.pk and violation.status == Status.REPORTED and user.has_perm(CHANGE_VIOLATION):
        return None
    if violation.reported_by_id == user.pk:
        return "A monitor can retract their own violation only while it is unreviewed; ask a reviewer."
    return "Only reviewers retract violations (or a monitor their own unreviewed one)."


def violation_merge_refusal(*, user) -> str | None:
    if not user.has_perm(REVIEW_VIOLATION):
        return NOT_A_REVIEWER
    return None


def reflag_refusal(*, user, verified: int) -> str | None:
    """Moving a place or redrawing a zone that changes the in-zone answer of reviewed evidence is a reviewer's act."""
    if verified and not user.has_perm(REVIEW_VIOLATION):
        return (
            f"This change would re-flag {verified} verified or disputed violation(s) in or out of a zone; "
            "ask a reviewer or an admin to make it."
        )
    return None


def model_refusal(*, user, model, action: str) -> str | None:
    """The role's model permission for `action` (add, change) on `model`."""
    opts = model._meta
    if not user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
        return f"Your role cannot {action} {opts.verbose_name_plural}."
    return None
