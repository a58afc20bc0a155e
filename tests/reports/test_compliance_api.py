"""The compliance endpoints and the assessments resource (reports/api/compliance.py): answers equal to the engine's,
the one error shape for bad input, who may read and write, conditional GETs that notice every change of the
record, and query counts that do not grow with the rows."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.cache import cache

from agreements import services
from agreements.models import Clause
from reports.engine import assess_agreement, compliance_timeline
from reports.models import Assessment
from tests.api_helpers import assert_error, count_queries, results
from tests.factories import UserFactory
from tests.reports.compliance_helpers import MAY_1, MAY_31, World

pytestmark = pytest.mark.django_db

URL = "/api/v1/agreements/accord/compliance"
TIMELINE = "/api/v1/agreements/accord/compliance/timeline"
ASSESSMENTS = "/api/v1/assessments/"
MAY = {"from": "2019-05-01", "to": "2019-05-31"}


@pytest.fixture
def world(db):
    world = World()
    world.ceasefire = world.clause(Clause.Kind.CEASEFIRE)
    world.routes = world.clause(Clause.Kind.ROUTE_OPENING, deadline=date(2018, 12, 31), obligated=[world.government])
    world.violation(world.ceasefire, on=date(2019, 5, 2), status="verified", perpetrators=[world.army])
    world.violation(world.ceasefire, on=date(2019, 5, 3), perpetrators=[world.rebels])
    return world


# --- GET …/compliance ------------------------------------------------------------------------------------------------


def test_the_answer_is_the_engines(api, world):
    response = api.client("analyst").get(URL, MAY)
    assert response.status_code == 200, response.content[:500]
    assert response.json() == assess_agreement(world.agreement, start=MAY_1, end=MAY_31).as_dict()
    body = response.json()
    assert [(c["number"], c["status"], c["score"]) for c in body["clauses"]] == [
        ("1", "non_compliant", 1),
        ("2", "non_compliant", 0),
    ]
    assert body["implementation_percent"] == 16.7


@pytest.mark.parametrize("key", ["government", "id"])
def test_an_actor_by_slug_or_id_gives_its_scorecard(api, world, key):
    value = world.government.slug if key == "government" else str(world.government.pk)
    response = api.client("monitor").get(URL, {**MAY, "actor": value})
    assert response.status_code == 200
    body = response.json()
    assert body == assess_agreement(world.agreement, start=MAY_1, end=MAY_31, actor=world.government).as_dict()
    assert body["actor"] == {"slug": "government", "name": "Government"}
    assert [c["number"] for c in body["clauses"]] == ["1", "2"]
    assert body["clauses"][0]["evidence"]["violations"]["verified"] == 1  # the army's (a part of the government)
    assert body["clauses"][0]["evidence"]["violations"]["unverified"] == 0  # the rebels' is not counted


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({}, {"from", "to"}),
        ({"from": "2019-05-01"}, {"to"}),
        ({"from": "May 1", "to": "2019-05-31"}, {"from"}),
        ({"from": "2019-05-01", "to": "2019-02-30"}, {"to"}),
        ({"from": "2019-05-31", "to": "2019-05-01"}, {"to"}),
        ({**MAY, "actor": "nobody"}, {"actor"}),
    ],
    ids=["nothing", "no-to", "bad-from", "impossible-day", "reversed", "unknown-actor"],
)
def test_bad_periods_and_actors_are_400_with_the_error_shape(api, world, params, fields):
    assert_error(api.client("analyst").get(URL, params), 400, code="invalid", fields=fields)


def test_an_unknown_agreement_is_404(api, world):
    assert_error(api.client("analyst").get("/api/v1/agreements/nope/compliance", MAY), 404)


def test_reading_compliance_needs_credentials_and_a_role(api, world):
    assert_error(api.anonymous.get(URL, MAY), 401)
    nobody = api.client()
    assert_error(nobody.get(URL, MAY), 401)
    roleless = api.client()
    roleless.force_authenticate(UserFactory(username="roleless"))
    assert_error(roleless.get(URL, MAY), 403)
    for role in ("monitor", "reviewer", "analyst", "admin"):
        assert api.client(role, name=f"{role}-reader").get(URL, MAY).status_code == 200
    assert api.client("analyst", read_only=True).get(URL, MAY).status_code == 200


def test_a_conditional_get_answers_304_until_the_record_changes(api, world):
    client = api.client("analyst")
    first = client.get(URL, MAY)
    etag = first["ETag"]
    assert first["Last-Modified"]
    assert client.get(URL, MAY, HTTP_IF_NONE_MATCH=etag).status_code == 304
    # Another period is another answer.
    assert client.get(URL, {"from": "2019-05-01", "to": "2019-05-30"})["ETag"] != etag

    def changes(make_change) -> str:
        nonlocal etag
        make_change()
        response = client.get(URL, MAY, HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 200, make_change
        etag = response["ETag"]
        return etag

    changes(lambda: world.violation(world.ceasefire, on=date(2019, 5, 4)))
    changes(lambda: world.route("M4", on=date(2019, 5, 4), status="open"))
    changes(lambda: world.patrol(None, on=date(2019, 5, 4)))
    changes(lambda: world.control_change(on=date(2019, 5, 4)))
    assessment = Assessment.objects.create(
        clause=world.ceasefire,
        period_start=MAY_1,
        period_end=MAY_31,
        status="compliant",
        score=3,
        rationale="Checked.",
        assessed_by=world.reviewer,
    )
    response = client.get(URL, MAY, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response.json()["clauses"][0]["status"] == "compliant"
    etag = response["ETag"]
    changes(assessment.delete)  # a deletion changes the row count

    def move_deadline():
        world.routes.deadline = date(2019, 6, 30)
        services.clause_save(clause=world.routes, user=world.reporter)

    changes(move_deadline)


def test_the_compliance_query_count_does_not_grow_with_violations(api, world):
    client = api.client("analyst")
    client.get(URL, MAY)  # the token's first use writes its last-used time

    def measured():
        cache.clear()  # the answer built, not the cached one
        response, queries = count_queries(lambda: client.get(URL, MAY))
        assert response.status_code == 200
        return len(queries)

    few = measured()
    for day in range(1, 29):
        world.violation(world.ceasefire, on=date(2019, 5, day), perpetrators=[world.army, world.rebels])
    assert measured() == few


# --- GET …/compliance/timeline --------------------------------------------------------------------------------------


def test_the_timeline_is_the_engines_per_step(api, world):
    response = api.client("analyst").get(TIMELINE, {"from": "2019-04-01", "to": "2019-06-30", "step": "month"})
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert body["steps"] == compliance_timeline(world.agreement, start=date(2019, 4, 1), end=date(2019, 6, 30))
    assert (body["step"], body["period"], body["actor"]) == ("month", {"from": "2019-04-01", "to": "2019-06-30"}, None)
    assert [(s["from"], s["clauses"][0]["status"]) for s in body["steps"]] == [
        ("2019-04-01", "not_assessed"),
        ("2019-05-01", "non_compliant"),
        ("2019-06-01", "not_assessed"),
    ]
    assert api.client("analyst").get(TIMELINE, {**MAY, "step": "week"}).json()["steps"][0]["to"] == "2019-05-05"
    quarter = api.client("analyst").get(TIMELINE, {"from": "2019-01-01", "to": "2019-12-31", "step": "quarter"})
    assert len(quarter.json()["steps"]) == 4


def test_the_timeline_defaults_to_months_and_conditional_gets(api, world):
    client = api.client("analyst")
    response = client.get(TIMELINE, MAY)
    assert response.json()["step"] == "month"
    assert client.get(TIMELINE, MAY, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({**MAY, "step": "fortnight"}, {"step"}),
        ({"from": "1990-01-01", "to": "2019-05-31", "step": "week"}, {"step"}),
        ({"to": "2019-05-31"}, {"from"}),
    ],
    ids=["unknown-step", "too-many-steps", "no-from"],
)
def test_a_bad_timeline_request_is_400(api, world, params, fields):
    assert_error(api.client("analyst").get(TIMELINE, params), 400, code="invalid", fields=fields)


# --- /assessments/ -------------------------------------------------------------------------------------------------


def new_assessment(world, **overrides):
    return {
        "clause": world.ceasefire.pk,
        "period_start": "2019-05-01",
        "period_end": "2019-05-31",
        "status": "partially_compliant",
        "score": 2,
        "rationale": "The verified shelling was a single incident.",
        **overrides,
    }


def test_an_analyst_records_an_assessment_with_the_computed_one_beside_it(api, world):
    response = api.client("analyst").post(ASSESSMENTS, new_assessment(world), format="json")
    assert response.status_code == 201, response.content[:500]
    body = response.json()
    assert body["agreement"] == "accord"
    assert body["clause"] == {"id": world.ceasefire.pk, "number": "1", "title": "ceasefire clause"}
    assert (body["status"], body["score"], body["computed_status"], body["computed_score"]) == (
        "partially_compliant",
        2,
        "non_compliant",
        1,
    )
    assert body["assessed_by"] == "analyst"
    assert body["evidence"]["violations"]["verified"] == 1
    assert body["computed_rule"].startswith("Ceasefire clause")
    # The compliance answer now shows it.
    clause = api.client("analyst").get(URL, MAY).json()["clauses"][0]
    assert (clause["status"], clause["override"]["by"]) == ("partially_compliant", "analyst")


def test_posting_again_for_the_same_clause_and_period_updates_it(api, world):
    client = api.client("analyst")
    first = client.post(ASSESSMENTS, new_assessment(world), format="json")
    again = client.post(ASSESSMENTS, new_assessment(world, status="non_compliant", score=1), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Assessment.objects.get().status == "non_compliant"


def test_an_actors_assessment_takes_the_actor_by_slug(api, world):
    response = api.client("analyst").post(
        ASSESSMENTS, new_assessment(world, actor="rebels", status="not_assessed", score=None), format="json"
    )
    assert response.status_code == 201, response.content[:500]
    assert response.json()["actor"] == {"id": world.rebels.pk, "slug": "rebels", "name": "Rebels"}


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"status": "not_assessed", "score": 2}, {"score"}),
        ({"score": 5}, {"score"}),
        ({"status": "great"}, {"status"}),
        ({"rationale": ""}, {"rationale"}),
        ({"period_end": "2019-04-01"}, {"period_end"}),
        ({"clause": 999999}, {"clause"}),
        ({"actor": "guarantor"}, {"actor"}),  # not obligated by the clause
    ],
    ids=["score-when-not-assessed", "score-5", "bad-status", "no-rationale", "reversed", "no-clause", "not-obligated"],
)
def test_bad_assessments_are_400_by_field(api, world, overrides, fields):
    response = api.client("analyst").post(ASSESSMENTS, new_assessment(world, **overrides), format="json")
    assert_error(response, 400, code="invalid", fields=fields)
    assert not Assessment.objects.exists()


@pytest.mark.parametrize("role", ["monitor", "reviewer"])
def test_monitors_and_reviewers_may_read_but_not_record_assessments(api, world, role):
    client = api.client(role, name=f"{role}-1")
    assert_error(client.post(ASSESSMENTS, new_assessment(world), format="json"), 403)
    assert client.get(ASSESSMENTS).status_code == 200


def test_a_read_only_token_cannot_record(api, world):
    response = api.client("analyst", read_only=True).post(ASSESSMENTS, new_assessment(world), format="json")
    assert_error(response, 403)


def test_updating_goes_through_the_service_and_honours_if_match(api, world):
    client = api.client("analyst")
    created = client.post(ASSESSMENTS, new_assessment(world), format="json").json()
    detail = f"{ASSESSMENTS}{created['id']}/"
    etag = client.get(detail)["ETag"]
    assert client.get(detail, HTTP_IF_NONE_MATCH=etag).status_code == 304
    changed = client.patch(detail, {"status": "compliant", "score": 3}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200, changed.content[:500]
    assert (changed.json()["status"], changed.json()["computed_status"]) == ("compliant", "non_compliant")
    # The tag read before that change is stale now.
    stale = client.patch(detail, {"rationale": "Again."}, format="json", HTTP_IF_MATCH=etag)
    assert_error(stale, 412)
    # Without If-Match the update is applied; what is assessed cannot change.
    assert client.patch(detail, {"rationale": "Again."}, format="json").status_code == 200
    moved = client.patch(detail, {"clause": world.routes.pk}, format="json")
    assert_error(moved, 400, fields={"clause"})
    history = Assessment.objects.get().history.order_by("history_date")
    assert [h.status for h in history] == ["partially_compliant", "compliant", "compliant"]


def test_assessments_are_withdrawn_with_a_reason_never_deleted(api, world):
    created = api.client("analyst").post(ASSESSMENTS, new_assessment(world), format="json").json()
    detail = f"{ASSESSMENTS}{created['id']}/"
    assert_error(api.client("admin").delete(detail), 405)
    assert_error(api.client("monitor").post(f"{detail}retire/", {"reason": "No."}, format="json"), 403)
    withdrawn = api.client("analyst").post(f"{detail}retire/", {"reason": "Superseded."}, format="json")
    assert withdrawn.status_code == 200, withdrawn.content[:300]
    assert withdrawn.json()["id"] == created["id"]
    assert not Assessment.objects.exists()
    assert Assessment.all_objects.get().retirement_reason == "Superseded."
    assert api.client("analyst").get(detail).status_code == 200  # readable by its id
    assert created["id"] not in [a["id"] for a in api.client("analyst").get(ASSESSMENTS).json()["results"]]


def test_assessments_filter_by_agreement_clause_actor_and_period(api, world):
    client = api.client("analyst")
    for overrides in (
        {},
        {"actor": "rebels", "status": "not_assessed", "score": None},
        {"period_start": "2019-06-01", "period_end": "2019-06-30", "status": "not_assessed", "score": None},
        {"clause": world.routes.pk, "status": "non_compliant", "score": 0},
    ):
        assert client.post(ASSESSMENTS, new_assessment(world, **overrides), format="json").status_code == 201

    def found(**params):
        return sorted(
            (row["clause"]["number"], row["actor"]["slug"] if row["actor"] else "", row["period_start"])
            for row in results(client.get(ASSESSMENTS, params))
        )

    assert len(found(agreement="accord")) == 4
    assert found(agreement="other") == []
    assert found(clause=world.routes.pk) == [("2", "", "2019-05-01")]
    assert found(actor="rebels") == [("1", "rebels", "2019-05-01")]
    assert found(actor=str(world.rebels.pk)) == [("1", "rebels", "2019-05-01")]
    assert len(found(actor="none")) == 3
    assert found(period_start="2019-06-01") == [("1", "", "2019-06-01")]
    assert len(found(period_before="2019-05-31")) == 3
    assert found(period_after="2019-06-15") == [("1", "", "2019-06-01")]
    assert len(found(status="not_assessed")) == 2
    assert_error(client.get(ASSESSMENTS, {"period_start": "soon"}), 400)


def test_the_assessment_list_query_count_does_not_grow_with_rows(api, world):
    client = api.client("analyst")
    client.get(ASSESSMENTS)

    def measured():
        response, queries = count_queries(lambda: client.get(ASSESSMENTS))
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    client.post(ASSESSMENTS, new_assessment(world), format="json")
    few, rows = measured()
    for month in range(6, 12):
        period = {"period_start": f"2019-{month:02d}-01", "period_end": f"2019-{month:02d}-28"}
        client.post(ASSESSMENTS, new_assessment(world, actor="rebels", **period), format="json")
    many, more_rows = measured()
    assert (many, more_rows) == (few, rows + 6)
