"""People's assessments (reports/assessments.py and the admin): the computed values stored beside the person's,
one per clause, actor and period (recording again updates it), who may record them, what is refused, history."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from agreements.models import Clause
from reports.assessments import assessment_record, assessment_withdraw
from reports.engine import assess_agreement
from reports.models import Assessment
from tests.factories import UserFactory
from tests.reports.compliance_helpers import MAY_1, MAY_31, World

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return World()


def person(role: str, name: str | None = None):
    user = UserFactory(username=name or role)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def analyst(db):
    return person("analyst")


@pytest.fixture
def ceasefire(world):
    clause = world.clause(Clause.Kind.CEASEFIRE)
    world.violation(clause, on=date(2019, 5, 2), status="verified")
    return clause


def record(clause, user, **overrides):
    values = {
        "clause": clause,
        "actor": None,
        "period_start": MAY_1,
        "period_end": MAY_31,
        "status": "partially_compliant",
        "score": 2,
        "rationale": "One stray shell; the parties restored calm the same day.",
        "user": user,
    }
    return assessment_record(**{**values, **overrides})


def test_recording_stores_the_computed_values_beside_the_persons(ceasefire, analyst):
    assessment = record(ceasefire, analyst)
    stored = Assessment.objects.get(pk=assessment.pk)
    assert (stored.status, stored.score, stored.assessed_by) == ("partially_compliant", 2, analyst)
    assert (stored.computed_status, stored.computed_score) == ("non_compliant", 1)
    assert "Verified breaches" in stored.computed_rule
    assert stored.evidence["violations"]["verified"] == 1


def test_recording_again_for_the_same_clause_and_period_updates_it_with_history(ceasefire, world, analyst):
    first = record(ceasefire, analyst)
    world.violation(ceasefire, on=date(2019, 5, 3), status="verified")
    other = person("admin", "admin1")
    second = record(ceasefire, other, status="non_compliant", score=1, rationale="A second shelling: confirmed.")
    assert second.pk == first.pk
    assert Assessment.objects.count() == 1
    stored = Assessment.objects.get()
    assert (stored.status, stored.assessed_by, stored.evidence["violations"]["verified"]) == ("non_compliant", other, 2)
    history = list(stored.history.order_by("history_date"))
    assert [(h.history_type, h.history_user, h.status) for h in history] == [
        ("+", analyst, "partially_compliant"),
        ("~", other, "non_compliant"),
    ]


def test_an_actors_assessment_is_kept_apart_from_the_clause_as_a_whole(ceasefire, world, analyst):
    whole = record(ceasefire, analyst)
    rebels = record(ceasefire, analyst, actor=world.rebels, status="not_assessed", score=None, rationale="Quiet.")
    assert whole.pk != rebels.pk
    # The rebels did nothing in May: their computed status is not assessed.
    assert (rebels.computed_status, rebels.computed_score) == ("not_assessed", None)
    assert Assessment.objects.count() == 2


@pytest.mark.parametrize("role", ["monitor", "reviewer"])
def test_only_analysts_and_admins_record_assessments(ceasefire, role):
    with pytest.raises(PermissionDenied):
        record(ceasefire, person(role, f"a-{role}"))
    assert not Assessment.objects.exists()


def test_changing_an_assessment_needs_the_change_permission(ceasefire, analyst):
    record(ceasefire, analyst)
    adder = UserFactory(username="adder")
    adder.user_permissions.add(*analyst.groups.get().permissions.filter(codename="add_assessment"))
    with pytest.raises(PermissionDenied):
        record(ceasefire, adder, status="compliant", score=3)
    assert Assessment.objects.get().status == "partially_compliant"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"status": "not_assessed", "score": 1}, "score"),
        ({"status": "not_yet_due", "score": 0}, "score"),
        ({"status": "compliant", "score": None}, "score"),
        ({"score": 4}, "score"),
        ({"status": "excellent"}, "status"),
        ({"rationale": "   "}, "rationale"),
        ({"period_start": MAY_31, "period_end": MAY_1}, "period_end"),
    ],
    ids=["score-when-not-assessed", "score-when-not-due", "no-score-when-compliant", "score-4", "bad-status",
         "blank-rationale", "reversed-period"],
)  # fmt: skip
def test_inconsistent_assessments_are_refused_by_field(ceasefire, analyst, overrides, field):
    with pytest.raises(ValidationError) as raised:
        record(ceasefire, analyst, **overrides)
    assert field in raised.value.message_dict
    assert not Assessment.objects.exists()


def test_an_actor_not_obligated_by_the_clause_cannot_be_assessed_on_it(world, analyst):
    clause = world.clause(Clause.Kind.CEASEFIRE, obligated=[world.government])
    with pytest.raises(ValidationError) as raised:
        record(clause, analyst, actor=world.rebels)
    assert "actor" in raised.value.message_dict


def test_the_engine_shows_the_persons_assessment_and_keeps_the_computed_one(ceasefire, analyst):
    record(ceasefire, analyst)
    entry = assess_agreement(ceasefire.agreement, start=MAY_1, end=MAY_31).as_dict()["clauses"][0]
    assert (entry["status"], entry["score"], entry["computed_status"], entry["computed_score"]) == (
        "partially_compliant",
        2,
        "non_compliant",
        1,
    )
    stored = Assessment.objects.get()
    assert entry["override"] == {
        "status": "partially_compliant",
        "score": 2,
        "rationale": "One stray shell; the parties restored calm the same day.",
        "by": "analyst",
        "at": stored.updated_at.isoformat(),
    }


def test_a_withdrawn_assessment_is_retired_with_a_reason_never_deleted(ceasefire, analyst):
    assessment = record(ceasefire, analyst)
    monitor = person("monitor", "monitor9")
    with pytest.raises(PermissionDenied):
        assessment_withdraw(assessment=assessment, user=monitor, reason="Not mine to judge.")
    with pytest.raises(ValidationError):
        assessment_withdraw(assessment=assessment, user=analyst, reason="  ")
    assessment_withdraw(assessment=assessment, user=analyst, reason="Assessed on a partial record.")
    assert not Assessment.objects.exists()  # out of what stands: the computed assessment shows again
    kept = Assessment.all_objects.get()
    assert (kept.retired_by, kept.retirement_reason) == (analyst, "Assessed on a partial record.")
    assert Assessment.history.filter(history_type="-").count() == 0
    assert Assessment.history.first().history_user == analyst


# --- admin ------------------------------------------------------------------------------------------------------


def admin_url(view, *args):
    return reverse(f"admin:reports_assessment_{view}", args=args)


@pytest.fixture
def admin_client_(client, superuser):
    client.force_login(superuser)
    return client


def test_the_admin_lists_assessments_with_person_and_computed_values(admin_client_, ceasefire, analyst):
    record(ceasefire, analyst)
    response = admin_client_.get(admin_url("changelist"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Partially compliant" in text and "Non-compliant" in text
    assert admin_client_.get(admin_url("changelist"), {"status__exact": "compliant"}).status_code == 200


def test_adding_in_the_admin_goes_through_the_service(admin_client_, superuser, ceasefire):
    response = admin_client_.post(
        admin_url("add"),
        {
            "clause": ceasefire.pk,
            "actor": "",
            "period_start": "2019-05-01",
            "period_end": "2019-05-31",
            "status": "non_compliant",
            "score": "1",
            "rationale": "Confirmed by our own monitors.",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    stored = Assessment.objects.get()
    assert (stored.assessed_by, stored.computed_status, stored.computed_score) == (superuser, "non_compliant", 1)
    assert stored.history.get().history_user == superuser


def test_the_admin_form_shows_the_services_refusals_as_field_errors(admin_client_, ceasefire):
    response = admin_client_.post(
        admin_url("add"),
        {
            "clause": ceasefire.pk,
            "period_start": "2019-05-01",
            "period_end": "2019-05-31",
            "status": "not_assessed",
            "score": "2",
            "rationale": "No idea.",
        },
    )
    assert response.status_code == 200
    assert "has no score" in response.content.decode()
    assert not Assessment.objects.exists()


def test_in_the_admin_what_is_assessed_is_fixed_once_recorded(admin_client_, superuser, ceasefire, analyst):
    assessment = record(ceasefire, analyst)
    page = admin_client_.get(admin_url("change", assessment.pk))
    assert page.status_code == 200
    assert 'name="clause"' not in page.content.decode() and 'name="status"' in page.content.decode()
    response = admin_client_.post(
        admin_url("change", assessment.pk),
        {"status": "compliant", "score": "3", "rationale": "Reviewed again: a misattributed shell."},
    )
    assert response.status_code == 302
    stored = Assessment.objects.get()
    assert (stored.status, stored.score, stored.assessed_by, stored.clause) == ("compliant", 3, superuser, ceasefire)
    assert admin_client_.get(admin_url("history", assessment.pk)).status_code == 200
