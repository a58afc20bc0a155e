"""The assessment engine (reports/engine/): one test per rule and clause kind, on hand-built records, with the edges
— the deadline day itself, both days of the period in UTC, retracted, rejected and disputed violations, a period
with no data — plus the roll-up, per-actor scorecards, the timeline and a query count that does not grow with the
number of violations."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agreements.models import Clause, RouteStatus, Violation
from reports.engine import assess_agreement, assess_clause, compliance_timeline
from reports.models import Assessment
from tests.factories import SQUARE
from tests.reports.compliance_helpers import INSIDE, MAY_1, MAY_31, World

pytestmark = pytest.mark.django_db

Kind = Clause.Kind
OPEN, PARTLY, CLOSED = RouteStatus.Status.OPEN, RouteStatus.Status.PARTLY_OPEN, RouteStatus.Status.CLOSED
BREACH_KINDS = [
    Kind.STATUS_QUO,
    Kind.CEASEFIRE,
    Kind.DEMILITARISED_ZONE,
    Kind.WEAPONS_WITHDRAWAL,
    Kind.GROUP_WITHDRAWAL,
    Kind.COORDINATION_CENTRE,
    Kind.OTHER,
]


@pytest.fixture
def world(db):
    return World()


def judged(clause, start=MAY_1, end=MAY_31, **kwargs):
    return assess_clause(clause, start=start, end=end, **kwargs)


def summary(clause, start=MAY_1, end=MAY_31, **kwargs) -> tuple:
    result = judged(clause, start, end, **kwargs)
    return result.computed_status, result.computed_score, result.deadline_state


def counts(result) -> tuple[int, int, int]:
    violations = result.evidence_dict()["violations"]
    return violations["verified"], violations["unverified"], violations["disputed"]


# --- obligations judged on breaches: every kind that is not patrols or route opening ----------------------------


@pytest.mark.parametrize("kind", BREACH_KINDS)
def test_a_period_with_no_data_is_not_assessed_and_unscored(world, kind):
    clause = world.clause(kind)
    world.violation(clause, on=date(2019, 4, 30), status="verified")  # the day before the period
    result = judged(clause)
    assert (result.computed_status, result.computed_score, result.deadline_state) == (
        "not_assessed",
        None,
        "no_deadline",
    )
    assert "Peace Accords Matrix" in result.rule and "left out of the implementation percentage" in result.rule


@pytest.mark.parametrize("kind", BREACH_KINDS)
def test_a_verified_breach_makes_the_clause_non_compliant_with_minimal_score(world, kind):
    clause = world.clause(kind)
    world.violation(clause, on=date(2019, 5, 10), status="verified")
    world.violation(clause, on=date(2019, 5, 11))  # an unverified one beside it does not soften it
    result = judged(clause)
    assert (result.computed_status, result.computed_score) == ("non_compliant", 1)
    assert counts(result) == (1, 1, 0)
    assert "Verified breaches" in result.rule


@pytest.mark.parametrize("kind", BREACH_KINDS)
def test_a_single_unverified_breach_is_partially_compliant_with_intermediate_score(world, kind):
    clause = world.clause(kind)
    world.violation(clause, on=date(2019, 5, 10))
    result = judged(clause)
    assert (result.computed_status, result.computed_score) == ("partially_compliant", 2)
    assert "single alleged breach" in result.rule


@pytest.mark.parametrize("kind", BREACH_KINDS)
def test_repeated_unverified_breaches_are_partially_compliant_with_minimal_score(world, kind):
    clause = world.clause(kind)
    world.violation(clause, on=date(2019, 5, 10))
    world.violation(clause, on=date(2019, 5, 20))
    assert summary(clause) == ("partially_compliant", 1, "no_deadline")


def test_retracted_and_rejected_violations_never_count(world):
    clause = world.clause(Kind.CEASEFIRE)
    world.violation(clause, on=date(2019, 5, 10), status="retracted")
    world.violation(clause, on=date(2019, 5, 11), status="rejected")
    verified_then_retracted = world.violation(clause, on=date(2019, 5, 12), status="verified")
    world.set_status(verified_then_retracted, "retracted")
    result = judged(clause)
    assert counts(result) == (0, 0, 0)
    assert result.computed_status == "not_assessed"


def test_disputed_violations_are_shown_apart_and_decide_nothing(world):
    clause = world.clause(Kind.CEASEFIRE)
    world.violation(clause, on=date(2019, 5, 10), status="disputed", perpetrators=[world.rebels])
    only_disputed = judged(clause)
    assert counts(only_disputed) == (0, 0, 1)
    assert only_disputed.computed_status == "not_assessed"
    assert "1 disputed incident shown apart, not counted" in only_disputed.rule
    assert only_disputed.evidence_dict()["violations"]["by_actor"] == [
        {"actor": "rebels", "name": "Rebels", "verified": 0, "unverified": 0, "disputed": 1}
    ]
    world.violation(clause, on=date(2019, 5, 11))
    # One unverified and one disputed: judged on the unverified one alone.
    assert summary(clause) == ("partially_compliant", 2, "no_deadline")


def test_the_period_includes_both_days_by_the_utc_start_of_the_incident(world):
    clause = world.clause(Kind.CEASEFIRE)
    for moment in (
        datetime(2019, 4, 30, 23, 59, 59, tzinfo=UTC),  # out: the day before
        datetime(2019, 5, 1, 0, 0, tzinfo=UTC),  # in: the first instant of the first day
        datetime(2019, 5, 31, 23, 59, 59, tzinfo=UTC),  # in: the last second of the last day
        datetime(2019, 6, 1, 0, 0, tzinfo=UTC),  # out: the day after
    ):
        world.violation(clause, on=moment)
    assert counts(judged(clause)) == (0, 2, 0)
    assert counts(judged(clause, start=date(2019, 5, 31), end=date(2019, 5, 31))) == (0, 1, 0)


# --- zones --------------------------------------------------------------------------------------------------------


def test_a_zone_clause_counts_verified_incidents_inside_its_zone_even_unlinked(world):
    clause = world.clause(Kind.DEMILITARISED_ZONE)
    world.zone(clause=clause, geometry=SQUARE)
    world.violation(on=date(2019, 5, 10), status="verified", where=INSIDE)  # linked to no clause
    world.violation(on=date(2019, 5, 11), status="verified")  # outside the zone, unlinked: not the zone's
    result = judged(clause)
    assert (result.computed_status, result.computed_score) == ("non_compliant", 1)
    assert counts(result) == (1, 0, 0)


def test_a_zone_clause_with_only_unverified_incidents_inside_is_partially_compliant(world):
    clause = world.clause(Kind.DEMILITARISED_ZONE)
    world.zone(clause=clause, geometry=SQUARE)
    world.violation(clause, on=date(2019, 5, 10), where=INSIDE)  # linked and inside: counted once
    result = judged(clause)
    assert (result.computed_status, result.computed_score) == ("partially_compliant", 2)
    assert counts(result) == (0, 1, 0)


def test_a_zone_clause_ignores_incidents_in_a_zone_another_clause_sets_up(world):
    clause, other = world.clause(Kind.DEMILITARISED_ZONE), world.clause(Kind.DEMILITARISED_ZONE)
    world.zone(clause=other, geometry=SQUARE)
    world.violation(on=date(2019, 5, 10), status="verified", where=INSIDE)
    assert summary(clause)[0] == "not_assessed"
    assert summary(other)[0] == "non_compliant"


# --- withdrawals: presence after the deadline --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "category"),
    [
        (Kind.WEAPONS_WITHDRAWAL, Violation.Category.HEAVY_WEAPONS_IN_ZONE),
        (Kind.GROUP_WITHDRAWAL, Violation.Category.ARMED_GROUP_IN_ZONE),
    ],
)
def test_a_withdrawal_past_its_deadline_with_verified_presence_in_its_zone_is_non_compliant_and_overdue(
    world, kind, category
):
    clause = world.clause(kind, deadline=date(2019, 5, 10), terms=None)
    world.zone(clause=clause, geometry=SQUARE)
    world.violation(on=date(2019, 5, 20), status="verified", where=INSIDE, category=category)
    result = judged(clause)
    assert (result.computed_status, result.computed_score, result.deadline_state) == ("non_compliant", 1, "overdue")
    assert "counted from 2019-05-11, the day after the deadline" in result.rule


@pytest.mark.parametrize("kind", [Kind.WEAPONS_WITHDRAWAL, Kind.GROUP_WITHDRAWAL])
def test_a_withdrawal_counts_in_zone_incidents_of_its_own_category_only(world, kind):
    clause = world.clause(kind, deadline=date(2019, 4, 1))
    world.zone(clause=clause, geometry=SQUARE)
    world.violation(on=date(2019, 5, 20), status="verified", where=INSIDE, category=Violation.Category.AIRSTRIKE)
    assert summary(clause) == ("not_assessed", None, "met")


def test_a_withdrawal_finds_its_zone_by_the_slug_in_its_terms(world):
    zone = world.zone(geometry=SQUARE, slug="dmz")
    clause = world.clause(Kind.WEAPONS_WITHDRAWAL, terms={"weapon_categories": ["tanks"], "zone": zone.slug})
    world.violation(on=date(2019, 5, 20), where=INSIDE, category=Violation.Category.HEAVY_WEAPONS_IN_ZONE)
    assert summary(clause) == ("partially_compliant", 2, "no_deadline")


def test_presence_on_the_deadline_day_itself_is_in_time(world):
    clause = world.clause(Kind.WEAPONS_WITHDRAWAL, deadline=date(2019, 5, 10))
    world.violation(clause, on=datetime(2019, 5, 10, 23, 59, tzinfo=UTC), status="verified")
    result = judged(clause)
    assert (result.computed_status, result.computed_score, result.deadline_state) == ("not_assessed", None, "met")
    assert counts(result) == (0, 0, 0)


def test_a_period_ending_on_the_deadline_day_is_not_yet_due(world):
    clause = world.clause(Kind.GROUP_WITHDRAWAL, deadline=MAY_31)
    world.violation(clause, on=date(2019, 5, 20), status="verified")  # still allowed
    result = judged(clause)
    assert (result.computed_status, result.computed_score, result.deadline_state) == ("not_yet_due", None, "not_due")
    assert "Not yet due" in result.rule


def test_presence_after_the_deadline_but_before_the_period_makes_the_deadline_overdue(world):
    clause = world.clause(Kind.GROUP_WITHDRAWAL, deadline=date(2019, 3, 1))
    world.violation(clause, on=date(2019, 4, 10))  # after the deadline, before May
    # May itself has no data (not assessed), but the record shows the deadline was not kept.
    assert summary(clause) == ("not_assessed", None, "overdue")


def test_an_unverified_presence_after_the_deadline_is_partially_compliant(world):
    clause = world.clause(Kind.GROUP_WITHDRAWAL, deadline=date(2019, 3, 1))
    world.violation(clause, on=date(2019, 5, 4), perpetrators=[world.rebels])
    assert summary(clause) == ("partially_compliant", 2, "overdue")


# --- status quo: control changes and offensives ------------------------------------------------------------------


def test_a_control_change_with_no_incident_breaks_the_status_quo(world):
    clause = world.clause(Kind.STATUS_QUO)
    world.control_change(on=date(2019, 5, 6), locations=21)
    result = judged(clause)
    assert (result.computed_status, result.computed_score) == ("non_compliant", 1)
    assert result.evidence_dict()["control_changes"] == 1
    assert result.evidence_dict()["locations_changed"] == 21


def test_control_changes_tied_to_unverified_incidents_make_the_status_quo_partially_compliant(world):
    clause = world.clause(Kind.STATUS_QUO)
    offensive = world.violation(on=date(2019, 5, 6), category=Violation.Category.TERRITORIAL_CAPTURE)
    world.control_change(on=date(2019, 5, 6), locations=2, violation=offensive)
    world.control_change(on=date(2019, 5, 7), locations=3, violation=offensive)
    result = judged(clause)
    assert (result.computed_status, result.computed_score) == ("partially_compliant", 1)
    assert (result.evidence_dict()["control_changes"], result.evidence_dict()["locations_changed"]) == (2, 5)


def test_control_changes_tied_to_retracted_rejected_or_disputed_incidents_do_not_count(world):
    clause = world.clause(Kind.STATUS_QUO)
    for status in ("retracted", "rejected", "disputed"):
        incident = world.violation(on=date(2019, 5, 6), status=status)
        world.control_change(on=date(2019, 5, 6), violation=incident)
    world.control_change(on=date(2019, 6, 1))  # after the period
    result = judged(clause)
    assert result.evidence_dict()["control_changes"] == 0
    assert result.computed_status == "not_assessed"


def test_a_verified_offensive_linked_to_the_status_quo_clause_breaks_it(world):
    clause = world.clause(Kind.STATUS_QUO)
    world.violation(clause, on=date(2019, 5, 6), status="verified", category=Violation.Category.GROUND_ASSAULT)
    assert summary(clause) == ("non_compliant", 1, "no_deadline")


# --- patrols --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["completed", "completed"], ("compliant", 3)),
        (["completed", "completed", "cut_short"], ("partially_compliant", 2)),
        (["completed", "cancelled", "attacked"], ("partially_compliant", 1)),
        (["cut_short", "attacked"], ("non_compliant", 1)),
        (["cancelled", "cancelled"], ("non_compliant", 0)),
    ],
    ids=["all-completed", "most-completed", "few-completed", "none-completed-some-set-out", "all-cancelled"],
)
def test_a_patrols_clause_is_judged_on_patrol_outcomes(world, outcomes, expected):
    clause = world.clause(Kind.PATROLS)
    for day, outcome in enumerate(outcomes, start=2):
        world.patrol(clause, on=date(2019, 5, day), outcome=outcome)
    world.patrol(clause, on=date(2019, 6, 1), outcome="cancelled")  # after the period
    result = judged(clause)
    assert (result.computed_status, result.computed_score) == expected
    assert sum(result.evidence_dict()["patrols"].values()) == len(outcomes)


def test_patrols_tied_to_no_clause_count_for_the_patrols_clause(world):
    clause = world.clause(Kind.PATROLS)
    world.patrol(None, on=date(2019, 5, 2))
    assert judged(clause).evidence_dict()["patrols"] == {"completed": 1, "cut_short": 0, "cancelled": 0, "attacked": 0}


def test_completed_patrols_with_a_verified_incident_against_them_are_partially_compliant(world):
    clause = world.clause(Kind.PATROLS)
    world.patrol(clause, on=date(2019, 5, 2))
    world.violation(clause, on=date(2019, 5, 2), status="verified", category=Violation.Category.PATROL_ATTACK)
    assert summary(clause) == ("partially_compliant", 2, "no_deadline")


def test_a_patrols_clause_with_no_patrol_in_the_period_is_not_assessed(world):
    clause = world.clause(Kind.PATROLS)
    world.patrol(clause, on=date(2019, 4, 2))
    assert summary(clause) == ("not_assessed", None, "no_deadline")


@pytest.mark.parametrize(
    ("status", "expected"), [("verified", ("non_compliant", 1)), ("reported", ("partially_compliant", 1))]
)
def test_without_patrols_in_the_period_incidents_against_the_clause_decide(world, status, expected):
    clause = world.clause(Kind.PATROLS)
    world.violation(clause, on=date(2019, 5, 2), status=status, category=Violation.Category.PATROL_ATTACK)
    assert summary(clause) == (*expected, "no_deadline")


def test_a_first_patrol_completed_on_the_deadline_day_meets_the_deadline(world):
    clause = world.clause(Kind.PATROLS, deadline=date(2019, 5, 10))
    world.patrol(clause, on=date(2019, 5, 10))
    assert summary(clause) == ("compliant", 3, "met")


def test_no_patrol_completed_by_a_passed_deadline_is_non_compliant_not_begun(world):
    clause = world.clause(Kind.PATROLS, deadline=date(2019, 5, 10))
    world.patrol(clause, on=date(2019, 4, 20), outcome="cancelled")
    assert summary(clause) == ("non_compliant", 0, "overdue")


def test_a_patrols_clause_before_its_deadline_without_patrols_is_not_yet_due(world):
    clause = world.clause(Kind.PATROLS, deadline=date(2019, 6, 15))
    assert summary(clause) == ("not_yet_due", None, "not_due")


# --- route opening --------------------------------------------------------------------------------------------


def test_a_route_clause_past_its_deadline_with_no_open_status_is_overdue_and_non_compliant(world):
    clause = world.clause(Kind.ROUTE_OPENING, deadline=date(2018, 12, 31))
    result = judged(clause)
    assert (result.computed_status, result.computed_score, result.deadline_state) == ("non_compliant", 0, "overdue")
    world.route("M4", on=date(2018, 12, 31), status=CLOSED)
    world.route("M5", on=date(2019, 5, 3), status=CLOSED)
    result = judged(clause)
    assert (result.computed_status, result.computed_score, result.deadline_state) == ("non_compliant", 0, "overdue")
    # The evidence: the status the period started in (M4, from before it) and those observed in it (M5).
    assert result.evidence_dict()["route_statuses"] == [
        {"route": "M4", "segment": "", "status": "closed", "observed_on": "2018-12-31"},
        {"route": "M5", "segment": "", "status": "closed", "observed_on": "2019-05-03"},
    ]


def test_routes_open_on_the_deadline_day_meet_it_and_are_compliant(world):
    clause = world.clause(Kind.ROUTE_OPENING, deadline=date(2019, 5, 10))
    world.route("M4", on=date(2019, 5, 1), status=OPEN)
    world.route("M5", on=date(2019, 5, 10), status=OPEN)
    assert summary(clause) == ("compliant", 3, "met")


def test_routes_opened_after_the_deadline_are_compliant_but_the_deadline_was_overdue(world):
    clause = world.clause(Kind.ROUTE_OPENING, deadline=date(2019, 5, 10))
    world.route("M4", on=date(2019, 5, 1), status=OPEN)
    world.route("M5", on=date(2019, 5, 11), status=OPEN)
    result = judged(clause)
    assert (result.computed_status, result.computed_score, result.deadline_state) == ("compliant", 3, "overdue")
    assert "all open only from 2019-05-11" in result.rule


@pytest.mark.parametrize(
    ("observations", "expected"),
    [
        ([("M4", OPEN), ("M5", CLOSED)], ("partially_compliant", 2)),
        ([("M4", PARTLY), ("M5", CLOSED)], ("partially_compliant", 1)),
        ([("M4", OPEN), ("M4", CLOSED), ("M5", CLOSED)], ("partially_compliant", 1)),  # open during May, not at its end
    ],
    ids=["one-open", "partly-open", "open-then-closed-within-period"],
)
def test_some_routes_open_is_partially_compliant(world, observations, expected):
    clause = world.clause(Kind.ROUTE_OPENING, deadline=date(2018, 12, 31))
    for day, (route, status) in enumerate(observations, start=2):
        world.route(route, on=date(2019, 5, day), status=status)
    assert summary(clause) == (*expected, "overdue")


def test_a_route_open_once_and_closed_again_before_the_period_is_non_compliant_minimal(world):
    clause = world.clause(Kind.ROUTE_OPENING, deadline=date(2018, 12, 31))
    world.route("M4", on=date(2019, 1, 5), status=OPEN)
    world.route("M4", on=date(2019, 3, 5), status=CLOSED)
    world.route("M5", on=date(2019, 3, 5), status=CLOSED)
    assert summary(clause) == ("non_compliant", 1, "overdue")


def test_a_segment_opened_after_the_whole_route_closed_makes_it_partly_open(world):
    clause = world.clause(Kind.ROUTE_OPENING, terms={"routes": ["M4"]})
    world.route("M4", on=date(2019, 4, 1), status=CLOSED)
    world.route("M4", on=date(2019, 5, 3), status=OPEN, segment="Saraqib–Ariha")
    result = judged(clause)
    assert (result.computed_status, result.computed_score) == ("partially_compliant", 1)
    assert "M4 partly open" in result.rule


def test_a_route_clause_not_yet_due_and_not_open_is_not_yet_due(world):
    clause = world.clause(Kind.ROUTE_OPENING, deadline=MAY_31)  # the period ends on the deadline day
    world.route("M4", on=date(2019, 5, 3), status=CLOSED)
    assert summary(clause) == ("not_yet_due", None, "not_due")


def test_a_route_clause_without_deadline_or_observations_is_not_assessed(world):
    clause = world.clause(Kind.ROUTE_OPENING)
    assert summary(clause) == ("not_assessed", None, "no_deadline")


# --- deadlines of breach kinds -----------------------------------------------------------------------------------


def test_a_ceasefire_that_binds_from_a_later_deadline_is_not_yet_due(world):
    clause = world.clause(Kind.CEASEFIRE, deadline=date(2019, 6, 30))
    world.violation(clause, on=date(2019, 5, 10), status="verified")
    assert summary(clause) == ("not_yet_due", None, "not_due")


def test_incidents_before_the_deadline_within_the_period_do_not_count(world):
    clause = world.clause(Kind.CEASEFIRE, deadline=date(2019, 5, 15))
    world.violation(clause, on=date(2019, 5, 14), status="verified")
    world.violation(clause, on=date(2019, 5, 16))
    result = judged(clause)
    assert counts(result) == (0, 1, 0)
    assert (result.computed_status, result.deadline_state) == ("partially_compliant", "overdue")


# --- the agreement: order, roll-up, overrides, shape -----------------------------------------------------------


def test_the_implementation_percentage_is_the_pam_roll_up_of_scored_clauses(world):
    compliant = world.clause(Kind.PATROLS)
    world.patrol(compliant, on=date(2019, 5, 2))  # 3
    broken = world.clause(Kind.CEASEFIRE)
    world.violation(broken, on=date(2019, 5, 2), status="verified")  # 1
    world.clause(Kind.OTHER)  # not assessed: left out
    result = assess_agreement(world.agreement, start=MAY_1, end=MAY_31)
    assert (result.implementation_percent, len(result.scored), len(result.clauses)) == (66.7, 2, 3)
    body = result.as_dict()
    assert (body["implementation_percent"], body["scored_clauses"], body["clause_count"]) == (66.7, 2, 3)


def test_with_no_scored_clause_the_implementation_percentage_is_none(world):
    world.clause(Kind.CEASEFIRE)
    assert assess_agreement(world.agreement, start=MAY_1, end=MAY_31).as_dict()["implementation_percent"] is None


def test_a_persons_assessment_for_the_period_is_shown_with_the_computed_one_beside_it(world):
    clause = world.clause(Kind.CEASEFIRE)
    world.violation(clause, on=date(2019, 5, 2), status="verified")
    analyst = world.reviewer
    Assessment.objects.create(
        clause=clause,
        period_start=MAY_1,
        period_end=MAY_31,
        status="partially_compliant",
        score=2,
        rationale="The breach was a single stray shell.",
        assessed_by=analyst,
    )
    entry = assess_agreement(world.agreement, start=MAY_1, end=MAY_31).as_dict()["clauses"][0]
    assert (entry["status"], entry["score"], entry["computed_status"], entry["computed_score"]) == (
        "partially_compliant",
        2,
        "non_compliant",
        1,
    )
    assert entry["override"]["by"] == "verifier"
    assert entry["override"]["rationale"] == "The breach was a single stray shell."
    # The roll-up uses the score shown; without overrides the computed one.
    assert assess_agreement(world.agreement, start=MAY_1, end=MAY_31).implementation_percent == 66.7
    plain = assess_agreement(world.agreement, start=MAY_1, end=MAY_31, include_overrides=False)
    assert (plain.clauses[0].status, plain.clauses[0].override, plain.implementation_percent) == (
        "non_compliant",
        None,
        33.3,
    )
    # An assessment of another period does not apply.
    other = assess_agreement(world.agreement, start=MAY_1, end=date(2019, 5, 30))
    assert other.clauses[0].override is None


def test_the_answer_has_the_contract_shape_in_clause_order(world):
    second = world.clause(Kind.ROUTE_OPENING, deadline=date(2018, 12, 31), number="2")
    first = world.clause(Kind.CEASEFIRE, number="1")
    Clause.objects.filter(pk=first.pk).update(position=0)
    world.violation(first, on=date(2019, 5, 2), perpetrators=[world.army, world.rebels], status="verified")
    body = assess_agreement(world.agreement, start=MAY_1, end=MAY_31, actor=None).as_dict()
    assert set(body) == {
        "agreement",
        "period",
        "actor",
        "implementation_percent",
        "scored_clauses",
        "clause_count",
        "clauses",
    }
    assert body["agreement"] == {"slug": "accord", "title": world.agreement.title}
    assert body["period"] == {"from": "2019-05-01", "to": "2019-05-31"}
    assert body["actor"] is None
    assert [c["number"] for c in body["clauses"]] == ["1", "2"]
    ceasefire, route = body["clauses"]
    assert set(ceasefire) == {
        "id",
        "number",
        "title",
        "kind",
        "deadline",
        "deadline_state",
        "status",
        "score",
        "computed_status",
        "computed_score",
        "rule",
        "override",
        "evidence",
    }
    assert ceasefire["evidence"] == {
        "violations": {
            "verified": 1,
            "unverified": 0,
            "disputed": 0,
            "by_actor": [
                {"actor": "army", "name": "Army", "verified": 1, "unverified": 0, "disputed": 0},
                {"actor": "rebels", "name": "Rebels", "verified": 1, "unverified": 0, "disputed": 0},
            ],
        },
        "patrols": {"completed": 0, "cut_short": 0, "cancelled": 0, "attacked": 0},
        "route_statuses": [],
        "control_changes": 0,
        "locations_changed": 0,
    }
    assert (route["id"], route["kind"], route["deadline"], route["deadline_state"]) == (
        second.pk,
        "route_opening",
        "2018-12-31",
        "overdue",
    )


# --- per actor ------------------------------------------------------------------------------------------------


def test_an_actors_scorecard_has_only_its_clauses_and_what_it_or_its_parts_did(world):
    both = world.clause(Kind.CEASEFIRE)  # government and rebels
    rebels_only = world.clause(Kind.GROUP_WITHDRAWAL, obligated=[world.rebels])
    world.violation(both, on=date(2019, 5, 2), perpetrators=[world.army], status="verified")  # a part of government
    world.violation(both, on=date(2019, 5, 3), perpetrators=[world.rebels])
    world.violation(rebels_only, on=date(2019, 5, 3), perpetrators=[world.rebels])
    card = assess_agreement(world.agreement, start=MAY_1, end=MAY_31, actor=world.government)
    assert [c.clause for c in card.clauses] == [both]
    assert card.as_dict()["actor"] == {"slug": "government", "name": "Government"}
    assert counts(card.clauses[0]) == (1, 0, 0)
    assert card.clauses[0].evidence_dict()["violations"]["by_actor"] == [
        {"actor": "army", "name": "Army", "verified": 1, "unverified": 0, "disputed": 0}
    ]
    assert card.clauses[0].computed_status == "non_compliant"
    rebels = assess_agreement(world.agreement, start=MAY_1, end=MAY_31, actor=world.rebels)
    assert [(c.clause, c.computed_status) for c in rebels.clauses] == [
        (both, "partially_compliant"),
        (rebels_only, "partially_compliant"),
    ]


def test_an_actors_scorecard_counts_its_control_changes_and_patrols(world):
    status_quo = world.clause(Kind.STATUS_QUO)
    patrols = world.clause(Kind.PATROLS, obligated=[world.guarantor, world.government])
    world.control_change(on=date(2019, 5, 6), to_actor=world.rebels)
    world.patrol(patrols, on=date(2019, 5, 2), participants=[world.guarantor])
    world.patrol(patrols, on=date(2019, 5, 3), participants=[world.army], outcome="cancelled")
    government = assess_agreement(world.agreement, start=MAY_1, end=MAY_31, actor=world.government)
    by_clause = {c.clause: c for c in government.clauses}
    assert by_clause[status_quo].computed_status == "not_assessed"  # the rebels gained ground, not the government
    assert by_clause[patrols].evidence_dict()["patrols"]["cancelled"] == 1
    assert by_clause[patrols].computed_status == "non_compliant"
    guarantor = assess_agreement(world.agreement, start=MAY_1, end=MAY_31, actor=world.guarantor)
    assert [(c.clause, c.computed_status) for c in guarantor.clauses] == [(patrols, "compliant")]


# --- cost ------------------------------------------------------------------------------------------------------


def _queries(world) -> int:
    with CaptureQueriesContext(connection) as captured:
        assess_agreement(world.agreement, start=MAY_1, end=MAY_31, actor=world.government).as_dict()
    return len(captured.captured_queries)


def test_the_query_count_does_not_grow_with_the_number_of_violations(world):
    clauses = [world.clause(kind) for kind in Kind.values]
    world.zone(clause=clauses[2], geometry=SQUARE)
    Assessment.objects.create(
        clause=clauses[0],
        actor=world.government,
        period_start=MAY_1,
        period_end=MAY_31,
        status="compliant",
        score=3,
        rationale="Checked.",
        assessed_by=world.reviewer,
    )

    def add(n):
        for i in range(n):
            clause = clauses[i % len(clauses)]
            status = ("reported", "verified", "disputed")[i % 3]
            world.violation(clause, on=date(2019, 5, 1 + i % 28), status=status, perpetrators=[world.army])
            world.patrol(clauses[5], on=date(2019, 5, 1 + i % 28))
            world.control_change(on=date(2019, 5, 1 + i % 28))

    add(5)
    few = _queries(world)
    add(45)
    assert _queries(world) == few
    assert few <= 12


# --- timeline and periods -------------------------------------------------------------------------------------


def test_the_timeline_gives_status_and_score_per_clause_per_month(world):
    clause = world.clause(Kind.CEASEFIRE)
    world.violation(clause, on=date(2019, 4, 20), status="verified")
    world.violation(clause, on=date(2019, 6, 3))
    Assessment.objects.create(
        clause=clause,
        period_start=date(2019, 6, 1),
        period_end=date(2019, 6, 30),
        status="compliant",
        score=3,
        rationale="The report was a false alarm.",
        assessed_by=world.reviewer,
    )
    timeline = compliance_timeline(world.agreement, start=date(2019, 4, 15), end=date(2019, 6, 30), step="month")
    assert [(s["from"], s["to"]) for s in timeline] == [
        ("2019-04-15", "2019-04-30"),
        ("2019-05-01", "2019-05-31"),
        ("2019-06-01", "2019-06-30"),
    ]
    assert [
        (s["clauses"][0]["status"], s["clauses"][0]["score"], s["clauses"][0]["computed_status"]) for s in timeline
    ] == [
        ("non_compliant", 1, "non_compliant"),
        ("not_assessed", None, "not_assessed"),
        ("compliant", 3, "partially_compliant"),
    ]
    assert [s["implementation_percent"] for s in timeline] == [33.3, None, 100.0]


def test_the_timeline_refuses_an_unknown_step_and_too_many_steps(world):
    with pytest.raises(ValueError, match="step"):
        compliance_timeline(world.agreement, start=MAY_1, end=MAY_31, step="fortnight")
    with pytest.raises(ValueError, match="more than"):
        compliance_timeline(world.agreement, start=date(2000, 1, 1), end=date(2019, 1, 1), step="week")


def test_a_reversed_period_or_a_datetime_is_refused(world):
    with pytest.raises(ValueError, match="before it starts"):
        assess_agreement(world.agreement, start=MAY_31, end=MAY_1)
    with pytest.raises(ValueError, match="must be a date"):
        assess_agreement(world.agreement, start=datetime(2019, 5, 1, tzinfo=UTC), end=MAY_31)


def test_many_clauses_are_counted_in_chunks_with_the_same_result(world, monkeypatch):
    clauses = [world.clause(Kind.CEASEFIRE) for _ in range(5)]
    for i, clause in enumerate(clauses):
        world.violation(clause, on=date(2019, 5, 2 + i), status=("reported", "verified")[i % 2])
    whole = assess_agreement(world.agreement, start=MAY_1, end=MAY_31).as_dict()
    monkeypatch.setattr("reports.engine.evidence.UNION_CHUNK", 2)
    assert assess_agreement(world.agreement, start=MAY_1, end=MAY_31).as_dict() == whole
    assert [c["computed_status"] for c in whole["clauses"]] == [
        "partially_compliant",
        "non_compliant",
        "partially_compliant",
        "non_compliant",
        "partially_compliant",
    ]
