"""The To-do page: violations waiting for review (oldest first), clauses past their deadline without evidence of
fulfilment (the engine's rule: the To-do list and the compliance endpoint agree on every clause), likely duplicates
with a merge form for reviewers."""

import io
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agreements.models import Agreement, Clause, RouteStatus, Violation
from agreements.selectors import violations_awaiting_review
from reports.deadlines import OVERDUE, overdue_clauses
from tests.factories import AgreementFactory, PlaceFactory, UserFactory, make_violation
from tests.reports.compliance_helpers import INSIDE, OUTSIDE, World

TODO = "admin:agreements_todo"
MERGE = "admin:agreements_todo_merge"
AFTER_THE_DEMO = date(2019, 6, 1)
SQUARE = {"type": "Polygon", "coordinates": [[[36, 35], [37, 35], [37, 36], [36, 36], [36, 35]]]}


@pytest.fixture(scope="module")
def sochi_loaded(django_db_setup, django_db_blocker):
    """The Sochi demo, loaded once for the module inside a transaction rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_sochi", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def demo(sochi_loaded, db):
    return Agreement.objects.get(slug="sochi-2018")


def in_role(username: str, role: str):
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def reviewer(db):
    return in_role("todo-reviewer", "reviewer")


@pytest.fixture
def monitor(db):
    return in_role("todo-monitor", "monitor")


def clause(number: str) -> Clause:
    return Clause.objects.get(agreement__slug="sochi-2018", number=number)


def states(**kwargs) -> dict[str, str]:
    return {item.clause.number: item.state for item in overdue_clauses(**kwargs)}


def verify(violation: Violation, user) -> None:
    # Test setup: the review workflow is another module's; only the stored state matters here.
    Violation.objects.filter(pk=violation.pk).update(status="verified", verified_by=user, verified_at=timezone.now())


# --- clauses past their deadline: the engine's rule, the endpoint's answer ------------------------------------------


def endpoint_states(client, slug: str, today: date) -> dict[str, str]:
    body = client.get(f"/api/v1/agreements/{slug}/compliance", {"from": today.isoformat(), "to": today.isoformat()})
    assert body.status_code == 200, body.content
    return {c["number"]: c["deadline_state"] for c in body.json()["clauses"]}


def assert_todo_agrees(api, agreement, today: date) -> dict[str, str]:
    """The To-do list holds exactly the clauses the compliance endpoint calls overdue on `today`; returns the
    endpoint's deadline state per clause."""
    answer = endpoint_states(api.client("analyst"), agreement.slug, today)
    listed = states(agreement=agreement, today=today)
    assert listed == {number: OVERDUE for number, state in answer.items() if state == OVERDUE}
    return answer


@pytest.mark.parametrize("today", [date(2018, 10, 1), date(2018, 12, 1), AFTER_THE_DEMO, date(2020, 1, 1)])
def test_the_todo_list_and_the_compliance_endpoint_agree_on_every_demo_clause(demo, api, today):
    answer = assert_todo_agrees(api, demo, today)
    assert set(answer) == set(Clause.objects.filter(agreement=demo).values_list("number", flat=True))


def test_the_demo_route_clause_is_overdue_its_routes_were_seen_closed(demo):
    items = {item.clause.number: item for item in overdue_clauses(today=AFTER_THE_DEMO)}

    route = items["8"]
    assert route.state == OVERDUE and route.state_label == "Overdue"
    assert route.reason == "Deadline 2018-12-31 overdue: not all open on or before it."
    assert route.evidence == ["M4 closed on 2018-12-31", "M5 closed on 2018-12-31"]
    assert route.days_overdue == (AFTER_THE_DEMO - date(2018, 12, 31)).days


def test_a_route_clause_is_fulfilled_once_every_route_was_seen_open(demo, api):
    RouteStatus.objects.create(agreement=demo, route="M4", observed_on=date(2019, 3, 1), status="open")
    assert "8" in states(today=AFTER_THE_DEMO), "M5 is still closed"
    RouteStatus.objects.create(agreement=demo, route="M5", observed_on=date(2019, 3, 2), status="open")
    assert "8" in states(today=AFTER_THE_DEMO), "open late: the deadline was still missed"
    assert_todo_agrees(api, demo, AFTER_THE_DEMO)


# Constructed cases: a weapons-withdrawal clause due 10 October 2018 with its zone; what each incident does to it.
DEADLINE = date(2018, 10, 10)


@pytest.fixture
def withdrawal(db):
    world = World()
    world.clause_under_test = world.clause(Clause.Kind.WEAPONS_WITHDRAWAL, deadline=DEADLINE)
    world.zone(clause=world.clause_under_test, geometry=SQUARE)
    return world


HEAVY = Violation.Category.HEAVY_WEAPONS_IN_ZONE
CASES = [
    # (where, day, status, overdue on AFTER_THE_DEMO)
    pytest.param(INSIDE, date(2019, 1, 5), "verified", True, id="in-zone-after-deadline-verified"),
    pytest.param(INSIDE, date(2019, 1, 5), "reported", True, id="in-zone-after-deadline-unverified"),
    pytest.param(INSIDE, date(2019, 1, 5), "disputed", False, id="in-zone-after-deadline-disputed"),
    pytest.param(INSIDE, date(2019, 1, 5), "rejected", False, id="in-zone-after-deadline-rejected"),
    pytest.param(INSIDE, DEADLINE, "verified", False, id="in-zone-on-the-deadline-day"),
    pytest.param(OUTSIDE, date(2019, 1, 5), "verified", False, id="out-of-zone-after-deadline-verified"),
]


@pytest.mark.parametrize(("where", "day", "status", "overdue"), CASES)
def test_the_todo_list_and_the_endpoint_agree_on_constructed_cases(withdrawal, api, where, day, status, overdue):
    withdrawal.violation(on=day, status=status, where=where, category=HEAVY)
    answer = assert_todo_agrees(api, withdrawal.agreement, AFTER_THE_DEMO)
    number = withdrawal.clause_under_test.number
    assert (answer[number] == OVERDUE) is overdue
    assert (number in states(agreement=withdrawal.agreement, today=AFTER_THE_DEMO)) is overdue


def test_the_deadline_day_itself_is_not_late_and_drafts_bind_nobody(withdrawal, api):
    withdrawal.violation(on=date(2019, 1, 5), status="verified", where=INSIDE, category=HEAVY)
    assert states(agreement=withdrawal.agreement, today=DEADLINE) == {}
    assert_todo_agrees(api, withdrawal.agreement, DEADLINE)
    Agreement.objects.filter(pk=withdrawal.agreement.pk).update(status=Agreement.Status.DRAFT)
    assert states(agreement=withdrawal.agreement, today=AFTER_THE_DEMO) == {}, "a draft binds nobody yet"


# --- waiting for review -----------------------------------------------------------------------------------------------


@pytest.fixture
def queue(db):
    """Three reported violations, reported on different days (set directly: auto_now_add is not settable)."""
    reporter = UserFactory(username="queue-reporter", role="monitor")
    agreement, place = AgreementFactory(), PlaceFactory()
    reported = {}
    for name, days_ago in (("middle", 5), ("newest", 1), ("oldest", 9)):
        violation = make_violation(user=reporter, agreement=agreement, place=place, description=f"The {name} one.")
        Violation.objects.filter(pk=violation.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
        reported[name] = violation
    return reported


def test_violations_awaiting_review_are_the_reported_ones_oldest_first(queue, reviewer):
    agreement = queue["oldest"].agreement
    verified = make_violation(agreement=agreement, description="Already verified.")
    verify(verified, reviewer)
    retracted = make_violation(agreement=agreement, description="Retracted.")
    Violation.objects.filter(pk=retracted.pk).update(
        retracted_at=timezone.now(), retracted_by=reviewer, retraction_reason="Wrong."
    )

    waiting = list(violations_awaiting_review(agreement=agreement))

    assert [v.description for v in waiting] == ["The oldest one.", "The middle one.", "The newest one."]


# --- the page ------------------------------------------------------------------------------------------------------


def test_the_todo_page_lists_the_queue_oldest_first_and_the_overdue_demo_clauses(demo, queue, reviewer, client):
    client.force_login(reviewer)

    response = client.get(reverse(TODO))

    assert response.status_code == 200
    html = response.content.decode()
    queue_html = html[html.index('id="awaiting-table"') : html.index('id="overdue-clauses"')]
    positions = [queue_html.index(str(queue[name])) for name in ("oldest", "middle", "newest")]
    assert positions == sorted(positions)
    for violation in queue.values():
        assert reverse("admin:agreements_violation_change", args=[violation.pk]) in queue_html
    overdue_html = html[html.index('id="overdue-table"') : html.index('id="possible-duplicates"')]
    assert "8. M4 and M5 transit restored by the end of 2018" in overdue_html
    assert "Deadline 2018-12-31 overdue: not all open on or before it." in overdue_html
    assert "M4 closed on 2018-12-31" in overdue_html


def test_the_todo_page_needs_a_login_and_the_view_permission(demo, client):
    anonymous = client.get(reverse(TODO))
    assert anonymous.status_code == 302 and reverse("admin:login") in anonymous["Location"]

    client.force_login(UserFactory(username="staff-without-perms", is_staff=True))
    assert client.get(reverse(TODO)).status_code == 403


def test_the_todo_page_is_linked_from_the_admin_index(demo, monitor, client):
    client.force_login(monitor)
    assert reverse(TODO) in client.get(reverse("admin:index")).content.decode()
    assert client.get(reverse(TODO)).status_code == 200


def test_a_reviewer_merges_a_pair_from_the_todo_page(db, reviewer, client):
    agreement, place = AgreementFactory(), PlaceFactory()
    first = make_violation(agreement=agreement, place=place, description="First report.")
    second = make_violation(agreement=agreement, place=place, description="Second report.")
    client.force_login(reviewer)

    page = client.get(reverse(TODO)).content.decode()
    assert f'value="{first.uuid}:{second.uuid}"' in page, "a merge form for the pair"

    response = client.post(reverse(MERGE), {"merge": f"{first.uuid}:{second.uuid}", "note": "Same incident."})

    assert response.status_code == 302
    second.refresh_from_db()
    assert second.merged_into == first and second.retracted_by == reviewer
    assert second.retraction_reason == f"Merged into {first.uuid}: Same incident."
    assert "No likely duplicates." in client.get(reverse(TODO)).content.decode()


def test_a_monitor_sees_the_pairs_but_cannot_merge(db, monitor, client):
    agreement, place = AgreementFactory(), PlaceFactory()
    first = make_violation(agreement=agreement, place=place)
    second = make_violation(agreement=agreement, place=place)
    client.force_login(monitor)

    page = client.get(reverse(TODO)).content.decode()
    assert str(second.uuid) in page and 'name="merge"' not in page

    assert client.post(reverse(MERGE), {"merge": f"{first.uuid}:{second.uuid}"}).status_code == 403
    second.refresh_from_db()
    assert not second.is_retracted


def test_a_refused_merge_says_why(db, reviewer, client):
    place = PlaceFactory()
    first = make_violation(agreement=AgreementFactory(), place=place)
    second = make_violation(agreement=AgreementFactory(), place=place)
    client.force_login(reviewer)

    response = client.post(reverse(MERGE), {"merge": f"{first.uuid}:{second.uuid}"}, follow=True)

    assert "Not merged: These violations belong to different agreements" in response.content.decode()
    second.refresh_from_db()
    assert not second.is_retracted
