"""The review workflow (agreements/services/review.py) and its two faces: the API's POST …/verify|dispute|reject|reopen|
retract and the admin's actions. Who may review (reviewers, never the reporter or last editor), which steps exist,
what verification needs, retraction with a reason, facts changing under a review, and retracted rows leaving counts.
"""

from __future__ import annotations

import itertools

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from agreements import services
from agreements.models import Actor, Violation, ViolationReview
from agreements.services import review
from compliance.tokens import token_issue
from tests.factories import ActorFactory, AgreementFactory, ClauseFactory, SourceFactory, UserFactory, make_violation

pytestmark = pytest.mark.django_db

Status = Violation.Status
NAMES = itertools.count(1)


# --- helpers (also used by test_history.py) ---------------------------------------------------------------------


def member(role: str, username: str | None = None, **fields):
    """A user in one of the role groups of agreements/migrations/0002_roles.py."""
    user = UserFactory(username=username or f"{role}{next(NAMES)}", **fields)
    user.groups.add(Group.objects.get(name=role))
    return user


def token_client(user, *, read_only: bool = False) -> APIClient:
    client = APIClient()
    _, key = token_issue(user=user, name="tests", read_only=read_only)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def reviewable(reporter, **fields) -> Violation:
    """A violation that may be verified: one source, one perpetrator, reported by `reporter`."""
    fields.setdefault("perpetrators", [ActorFactory()])
    fields.setdefault("sources", [SourceFactory()])
    return make_violation(user=reporter, **fields)


def stored(violation: Violation) -> Violation:
    return Violation.objects.get(pk=violation.pk)


def api_url(violation: Violation, step: str = "") -> str:
    return f"/api/v1/violations/{violation.uuid}/{step + '/' if step else ''}"


def admin_changelist() -> str:
    return reverse("admin:agreements_violation_changelist")


@pytest.fixture
def monitor(db):
    return member("monitor", "monitor")


@pytest.fixture
def reviewer(db):
    return member("reviewer", "reviewer")


@pytest.fixture
def second_reviewer(db):
    return member("reviewer", "reviewer2")


@pytest.fixture
def analyst(db):
    return member("analyst", "analyst")


@pytest.fixture
def violation(monitor):
    return reviewable(monitor)


# --- verifying ----------------------------------------------------------------------------------------------------


def test_a_reviewer_verifies_and_the_step_is_logged(violation, reviewer):
    services.violation_verify(violation=violation, user=reviewer, note="Matches the UN report.")

    row = stored(violation)
    assert (row.status, row.verified_by, row.version) == (Status.VERIFIED, reviewer, 2)
    assert row.verified_at is not None
    step = ViolationReview.objects.get(violation=violation)
    assert (step.from_status, step.to_status, step.user, step.note) == (
        Status.REPORTED,
        Status.VERIFIED,
        reviewer,
        "Matches the UN report.",
    )
    latest = row.history.first()
    assert (latest.history_user, latest.status, latest.version) == (reviewer, Status.VERIFIED, 2)
    assert latest.history_change_reason == "verified: Matches the UN report."
    assert violation.status == Status.VERIFIED  # the caller's instance shows what was saved


def test_verify_refuses_the_reporter(reviewer):
    own = reviewable(reviewer)
    with pytest.raises(PermissionDenied, match="You reported this violation"):
        services.violation_verify(violation=own, user=reviewer)
    assert stored(own).status == Status.REPORTED
    assert not ViolationReview.objects.exists()


def test_verify_refuses_the_last_editor(violation, reviewer):
    services.violation_update(violation=violation, user=reviewer, description="Corrected the time of day.")
    with pytest.raises(PermissionDenied, match="last edit"):
        services.violation_verify(violation=stored(violation), user=reviewer)
    assert stored(violation).status == Status.REPORTED


def test_the_two_person_rule_binds_superusers_too(superuser):
    own = reviewable(superuser)
    with pytest.raises(PermissionDenied):
        services.violation_verify(violation=own, user=superuser)
    services.violation_verify(violation=own, user=UserFactory(username="root2", is_superuser=True))
    assert stored(own).status == Status.VERIFIED


@pytest.mark.parametrize("role", ["analyst", "monitor"])
def test_only_reviewers_verify(violation, role):
    with pytest.raises(PermissionDenied, match="Only reviewers"):
        services.violation_verify(violation=violation, user=member(role))
    assert stored(violation).status == Status.REPORTED


def test_verify_refuses_a_violation_without_a_source(monitor, reviewer):
    violation = make_violation(user=monitor, perpetrators=[ActorFactory()])
    with pytest.raises(ValidationError) as refused:
        services.violation_verify(violation=violation, user=reviewer)
    assert set(refused.value.message_dict) == {"sources"}
    assert stored(violation).status == Status.REPORTED


def test_verify_refuses_a_violation_without_a_perpetrator(monitor, reviewer):
    violation = make_violation(user=monitor, sources=[SourceFactory()])
    with pytest.raises(ValidationError) as refused:
        services.violation_verify(violation=violation, user=reviewer)
    assert set(refused.value.message_dict) == {"perpetrators"}
    assert "Unknown" in refused.value.message_dict["perpetrators"][0]


def test_the_unknown_actor_is_an_explicit_perpetrator(monitor, reviewer):
    unknown = ActorFactory(name="Unknown", slug="unknown", kind=Actor.Kind.UNKNOWN)
    violation = reviewable(monitor, perpetrators=[unknown])
    services.violation_verify(violation=violation, user=reviewer)
    assert stored(violation).status == Status.VERIFIED


# --- the transitions ----------------------------------------------------------------------------------------------

STEPS = {
    Status.VERIFIED: services.violation_verify,
    Status.DISPUTED: services.violation_dispute,
    Status.REJECTED: services.violation_reject,
    Status.REPORTED: services.violation_reopen,
}


@pytest.mark.parametrize("start", list(STEPS))
@pytest.mark.parametrize("target", list(STEPS))
def test_only_the_allowed_transitions_happen(violation, reviewer, second_reviewer, start, target):
    if start != Status.REPORTED:
        STEPS[start](violation=violation, user=second_reviewer)
    allowed = {
        (Status.REPORTED, Status.VERIFIED),
        (Status.REPORTED, Status.DISPUTED),
        (Status.REPORTED, Status.REJECTED),
        (Status.DISPUTED, Status.VERIFIED),
        (Status.DISPUTED, Status.REJECTED),
        (Status.DISPUTED, Status.REPORTED),
        (Status.VERIFIED, Status.DISPUTED),
        (Status.VERIFIED, Status.REPORTED),
        (Status.REJECTED, Status.REPORTED),
    }
    steps_before = ViolationReview.objects.count()
    if (start, target) in allowed:
        STEPS[target](violation=violation, user=reviewer)
        row = stored(violation)
        assert row.status == target
        assert (row.verified_by is not None) == (target == Status.VERIFIED)  # the verifier is kept only while verified
        assert ViolationReview.objects.count() == steps_before + 1
    else:
        with pytest.raises(ValidationError, match=f"A {start} violation cannot become {target}"):
            STEPS[target](violation=violation, user=reviewer)
        assert stored(violation).status == start
        assert ViolationReview.objects.count() == steps_before


def test_a_review_step_bumps_the_version_so_a_stale_edit_is_refused(violation, reviewer, second_reviewer):
    loaded_version = violation.version
    services.violation_verify(violation=stored(violation), user=reviewer)
    with pytest.raises(services.StaleEdit):
        services.violation_update(
            violation=stored(violation), user=second_reviewer, description="Edit.", expected_version=loaded_version
        )


def test_a_step_on_a_version_the_reviewer_did_not_see_is_refused(violation, reviewer, second_reviewer):
    services.violation_update(violation=violation, user=second_reviewer, description="Changed meanwhile.")
    with pytest.raises(services.StaleEdit):
        services.violation_verify(violation=stored(violation), user=reviewer, expected_version=1)
    assert stored(violation).status == Status.REPORTED


def test_an_editor_holding_an_old_copy_does_not_undo_a_review(violation, reviewer, second_reviewer):
    old_copy = stored(violation)
    services.violation_verify(violation=stored(violation), user=reviewer)
    services.violation_save(violation=old_copy, user=second_reviewer)  # no fact changed, no version check
    row = stored(violation)
    assert (row.status, row.verified_by) == (Status.VERIFIED, reviewer)


# --- facts changing under a review --------------------------------------------------------------------------------


@pytest.mark.parametrize("reviewed", [Status.VERIFIED, Status.DISPUTED])
def test_changed_facts_send_a_reviewed_violation_back_to_reported(violation, reviewer, second_reviewer, reviewed):
    STEPS[reviewed](violation=violation, user=reviewer)
    services.violation_update(violation=stored(violation), user=second_reviewer, killed_best=4, killed_high=4)

    row = stored(violation)
    assert (row.status, row.verified_by, row.verified_at) == (Status.REPORTED, None, None)
    step = ViolationReview.objects.filter(violation=violation).last()
    assert (step.from_status, step.to_status, step.user, step.note) == (
        reviewed,
        Status.REPORTED,
        second_reviewer,
        review.FACTS_CHANGED_NOTE,
    )


def test_changed_perpetrators_send_a_verified_violation_back_to_reported(violation, reviewer, second_reviewer):
    services.violation_verify(violation=violation, user=reviewer)
    services.violation_update(violation=stored(violation), user=second_reviewer, perpetrators=[ActorFactory()])
    assert stored(violation).status == Status.REPORTED


def test_a_save_that_changes_no_fact_keeps_the_verification(monitor, reviewer, second_reviewer):
    clause = ClauseFactory(agreement=AgreementFactory())
    actor = ActorFactory()
    violation = reviewable(monitor, agreement=clause.agreement, clauses=[clause], perpetrators=[actor])
    services.violation_verify(violation=violation, user=reviewer)
    row = stored(violation)
    services.violation_update(
        violation=row, user=second_reviewer, description=row.description, clauses=[clause], perpetrators=[actor]
    )
    assert stored(violation).status == Status.VERIFIED
    assert ViolationReview.objects.filter(violation=violation).count() == 1


def test_changed_facts_leave_a_rejected_violation_rejected(violation, reviewer, second_reviewer):
    services.violation_reject(violation=violation, user=reviewer)
    services.violation_update(violation=stored(violation), user=second_reviewer, description="More detail.")
    assert stored(violation).status == Status.REJECTED


# --- retraction ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_retraction_needs_a_reason(violation, reviewer, reason):
    with pytest.raises(ValidationError) as refused:
        services.violation_retract(violation=violation, user=reviewer, reason=reason)
    assert set(refused.value.message_dict) == {"reason"}
    assert not stored(violation).is_retracted


def test_a_reviewer_retracts_a_violation_in_any_status(violation, reviewer, second_reviewer):
    services.violation_verify(violation=violation, user=second_reviewer)
    services.violation_retract(violation=violation, user=reviewer, reason="Duplicate of an earlier record.")
    row = stored(violation)
    assert row.is_retracted
    assert (row.retracted_by, row.retraction_reason, row.status, row.version) == (
        reviewer,
        "Duplicate of an earlier record.",
        Status.VERIFIED,  # the review status is kept as it was
        3,
    )
    assert row.history.first().history_user == reviewer


def test_a_monitor_retracts_their_own_unreviewed_violation(violation, monitor):
    services.violation_retract(violation=violation, user=monitor, reason="Entered twice.")
    assert stored(violation).retracted_by == monitor


def test_a_monitor_cannot_retract_their_own_reviewed_violation(violation, monitor, reviewer):
    services.violation_dispute(violation=violation, user=reviewer)
    with pytest.raises(PermissionDenied, match="unreviewed"):
        services.violation_retract(violation=violation, user=monitor, reason="Entered twice.")


@pytest.mark.parametrize("role", ["monitor", "analyst"])
def test_others_cannot_retract_what_they_did_not_report(violation, role):
    with pytest.raises(PermissionDenied):
        services.violation_retract(violation=violation, user=member(role), reason="Looks wrong.")
    assert not stored(violation).is_retracted


def test_a_retracted_violation_has_no_further_steps(violation, reviewer, second_reviewer):
    services.violation_retract(violation=violation, user=reviewer, reason="Entered in error.")
    with pytest.raises(ValidationError, match="retracted"):
        services.violation_verify(violation=violation, user=second_reviewer)
    with pytest.raises(ValidationError, match="already retracted"):
        services.violation_retract(violation=violation, user=second_reviewer, reason="Again.")
    with pytest.raises(ValidationError, match="retracted"):
        services.violation_update(violation=stored(violation), user=second_reviewer, description="Edit.")


# --- the API ------------------------------------------------------------------------------------------------------


def error_of(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:400])
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


def test_api_verify_answers_the_violation_and_its_new_etag(violation, reviewer):
    response = token_client(reviewer).post(api_url(violation, "verify"), {"note": "Checked."}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["verified_by"], body["version"]) == (
        str(violation.uuid),
        "verified",
        "reviewer",
        2,
    )
    assert response["ETag"].startswith(f'"{violation.uuid}.v2.c')
    assert ViolationReview.objects.get(violation=violation).note == "Checked."


@pytest.mark.parametrize(("step", "status"), [("dispute", "disputed"), ("reject", "rejected")])
def test_api_dispute_and_reject(violation, reviewer, step, status):
    response = token_client(reviewer).post(api_url(violation, step), {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == status


def test_api_reopen_sends_a_verified_violation_back(violation, reviewer, second_reviewer):
    services.violation_verify(violation=violation, user=second_reviewer)
    response = token_client(reviewer).post(api_url(violation, "reopen"), {"note": "New footage."}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "reported"


@pytest.mark.parametrize("step", ["verify", "dispute", "reject", "retract"])
def test_api_an_analyst_gets_403(violation, analyst, step):
    error = error_of(token_client(analyst).post(api_url(violation, step), {"reason": "x"}, format="json"), 403)
    assert error["code"] == "permission_denied"
    assert stored(violation).status == Status.REPORTED and not stored(violation).is_retracted


@pytest.mark.parametrize("step", ["verify", "retract"])
def test_api_a_read_only_token_gets_403(violation, reviewer, step):
    client = token_client(reviewer, read_only=True)
    error_of(client.post(api_url(violation, step), {"reason": "x"}, format="json"), 403)
    assert stored(violation).version == 1


def test_api_anonymous_gets_401(violation):
    error_of(APIClient().post(api_url(violation, "verify"), {}, format="json"), 401)


def test_api_the_reporter_gets_403_saying_why(reviewer):
    own = reviewable(reviewer)
    error = error_of(token_client(reviewer).post(api_url(own, "verify"), {}, format="json"), 403)
    assert "You reported this violation" in error["message"]
    assert stored(own).status == Status.REPORTED


def test_api_verify_without_a_source_is_400_naming_it(monitor, reviewer):
    violation = make_violation(user=monitor, perpetrators=[ActorFactory()])
    error = error_of(token_client(reviewer).post(api_url(violation, "verify"), {}, format="json"), 400)
    assert set(error["fields"]) == {"sources"}


def test_api_an_invalid_transition_is_400(violation, reviewer):
    error = error_of(token_client(reviewer).post(api_url(violation, "reopen"), {}, format="json"), 400)
    assert "cannot become reported" in error["message"]


def test_api_a_stale_if_match_is_412(violation, reviewer, second_reviewer):
    etag = f'"{violation.uuid}.v1"'
    services.violation_update(violation=violation, user=second_reviewer, description="Changed meanwhile.")
    response = token_client(reviewer).post(api_url(violation, "verify"), {}, format="json", HTTP_IF_MATCH=etag)
    error_of(response, 412)
    assert stored(violation).status == Status.REPORTED


def test_api_retract_needs_a_reason(violation, reviewer):
    error = error_of(token_client(reviewer).post(api_url(violation, "retract"), {}, format="json"), 400)
    assert set(error["fields"]) == {"reason"}
    error = error_of(token_client(reviewer).post(api_url(violation, "retract"), {"reason": " "}, format="json"), 400)
    assert set(error["fields"]) == {"reason"}
    assert not stored(violation).is_retracted


def test_api_retracted_rows_leave_lists_and_counts_but_stay_readable(monitor, reviewer, analyst):
    kept = reviewable(monitor)
    gone = reviewable(monitor)
    reader = token_client(analyst)

    def counted(group_by: str) -> int:
        response = reader.get("/api/v1/stats/violations", {"group_by": group_by})
        assert response.status_code == 200, response.content[:300]
        return sum(row["violations"] for row in response.json()["results"])

    assert (counted("week"), counted("actor")) == (2, 2)

    response = token_client(reviewer).post(api_url(gone, "retract"), {"reason": "Duplicate."}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["retracted"], response.json()["retraction_reason"]) == (True, "Duplicate.")

    listed = reader.get("/api/v1/violations/").json()["results"]
    assert [row["id"] for row in listed] == [str(kept.uuid)]
    assert (counted("week"), counted("actor")) == (1, 1)
    detail = reader.get(api_url(gone))
    assert detail.status_code == 200 and detail.json()["retracted"] is True


def test_api_a_monitor_retracts_their_own_unreviewed_violation(violation, monitor):
    response = token_client(monitor).post(api_url(violation, "retract"), {"reason": "Entered twice."}, format="json")
    assert response.status_code == 200, response.content
    assert stored(violation).retracted_by == monitor


def test_api_a_monitor_cannot_retract_another_monitors_violation(violation):
    other = member("monitor")
    error = error_of(token_client(other).post(api_url(violation, "retract"), {"reason": "No."}, format="json"), 403)
    assert "Only reviewers retract" in error["message"]


# --- the admin ----------------------------------------------------------------------------------------------------


STEP_ACTIONS = ["verify_selected", "dispute_selected", "reject_selected", "reopen_selected", "retract_selected"]


def staff(role: str, username: str | None = None):
    return member(role, username, is_staff=True)


def run_action(client, action: str, violations, **form):
    """The admin action as a browser runs it: choose it on the list, then submit the intermediate page."""
    selected = [str(v.pk) for v in violations]
    first = client.post(admin_changelist(), {"action": action, "_selected_action": selected, "index": 0})
    assert first.status_code == 200, first.status_code
    assert first.templates[0].name == "admin/agreements/row_action.html"
    return first, client.post(
        admin_changelist(), {"action": action, "_selected_action": selected, "apply": "1", **form}
    )


def test_admin_verify_action_with_a_note(client, violation):
    reviewer = staff("reviewer")
    client.force_login(reviewer)

    page, done = run_action(client, "verify_selected", [violation], note="Two independent sources.")

    assert 'name="note"' in page.content.decode()
    assert str(violation) in page.content.decode()
    assert done.status_code == 302
    row = stored(violation)
    assert (row.status, row.verified_by) == (Status.VERIFIED, reviewer)
    assert ViolationReview.objects.get(violation=violation).note == "Two independent sources."
    assert row.history.first().history_user == reviewer


def test_admin_action_refuses_the_reporter_and_says_why(client):
    reviewer = staff("reviewer")
    own = reviewable(reviewer)
    other = reviewable(member("monitor"))
    client.force_login(reviewer)

    _, done = run_action(client, "dispute_selected", [own, other], note="")
    page = client.get(done["Location"]).content.decode()

    assert "Dispute: 1 violation(s) done." in page
    assert "You reported this violation" in page
    assert stored(own).status == Status.REPORTED
    assert stored(other).status == Status.DISPUTED


def test_admin_retract_action_needs_a_reason(client, violation):
    client.force_login(staff("reviewer"))

    _, refused = run_action(client, "retract_selected", [violation], reason="  ")
    assert refused.status_code == 200  # the intermediate page again, with the error
    assert "Say why" in refused.content.decode()
    assert not stored(violation).is_retracted

    _, done = run_action(client, "retract_selected", [violation], reason="Duplicate of another record.")
    assert done.status_code == 302
    assert stored(violation).retraction_reason == "Duplicate of another record."


def test_admin_hides_retracted_rows_from_the_list_unless_asked(client, violation, reviewer):
    kept = reviewable(member("monitor"))
    services.violation_retract(violation=violation, user=reviewer, reason="Duplicate.")
    client.force_login(staff("analyst"))

    assert client.get(admin_changelist()).context["cl"].result_count == 1
    assert client.get(admin_changelist(), {"retracted": "yes"}).context["cl"].result_count == 1
    assert client.get(admin_changelist(), {"retracted": "all"}).context["cl"].result_count == 2
    assert list(client.get(admin_changelist()).context["cl"].result_list) == [kept]


def test_admin_review_actions_are_for_reviewers_only(client, violation):
    for role, expected in [("analyst", set()), ("monitor", {"retract_selected"}), ("reviewer", set(STEP_ACTIONS))]:
        client.force_login(staff(role))
        request = client.get(admin_changelist()).wsgi_request
        offered = set(admin.site._registry[Violation].get_actions(request))
        assert offered == expected, role


def test_admin_cannot_delete_a_violation(client, superuser, violation):
    client.force_login(superuser)
    model_admin = admin.site._registry[Violation]
    request = client.get(admin_changelist()).wsgi_request
    assert "delete_selected" not in model_admin.get_actions(request)
    assert model_admin.has_delete_permission(request, violation) is False
    delete = reverse("admin:agreements_violation_delete", args=[violation.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Violation.objects.filter(pk=violation.pk).exists()


def test_admin_change_page_shows_the_review_log_and_a_retracted_one_is_read_only(client, violation, reviewer):
    services.violation_dispute(violation=violation, user=reviewer, note="The date is doubtful.")
    client.force_login(staff("reviewer"))
    change = reverse("admin:agreements_violation_change", args=[violation.pk])

    page = client.get(change).content.decode()
    assert "The date is doubtful." in page and "Disputed" in page

    services.violation_retract(violation=violation, user=reviewer, reason="Duplicate.")
    response = client.get(change)
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False


def test_every_role_reads_the_review_log_and_none_writes_it(db):
    for role in ["monitor", "reviewer", "analyst", "admin"]:
        codenames = set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))
        assert "view_violationreview" in codenames, role
        assert not {"add_violationreview", "change_violationreview", "delete_violationreview"} & codenames, role
