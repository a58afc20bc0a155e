"""The To-do page and its selectors: violations waiting for review (oldest first), clauses past their deadline without
evidence of fulfilment, likely duplicates with a merge form for reviewers."""

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agreements.models import Agreement, Clause, RouteStatus, Violation
from agreements.selectors import NEEDS_ASSESSMENT, OVERDUE, overdue_clauses, violations_awaiting_review
from tests.factories import AgreementFactory, ClauseFactory, PlaceFactory, UserFactory, make_violation

TODO = "admin:agreements_todo"
MERGE = "admin:agreements_todo_merge"
AFTER_THE_DEMO = date(2019, 6, 1)


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


# --- clauses past their deadline -------------------------------------------------------------------------------------


def test_the_demo_route_clause_is_overdue_its_routes_were_seen_closed(demo):
    items = {item.clause.number: item for item in overdue_clauses(today=AFTER_THE_DEMO)}

    route = items["8"]
    assert route.state == OVERDUE
    assert route.reason == "No 'open' status for M4, M5 (whole route) on or before 2019-06-01."
    assert route.evidence == ["M4 closed on 2018-12-31", "M5 closed on 2018-12-31"]
    assert route.days_overdue == (AFTER_THE_DEMO - date(2018, 12, 31)).days


def test_the_demo_withdrawal_clauses(demo):
    found = states(today=AFTER_THE_DEMO)
    # Clause 5 (groups out by 15 Oct 2018): the HTS expansion of January 2019 is reported, not verified.
    assert found["5"] == NEEDS_ASSESSMENT
    # Clause 6 (heavy weapons out by 10 Oct 2018): no report of heavy weapons in the zone at all.
    assert "6" not in found
    # Clauses without a deadline are never overdue.
    assert set(found) == {"5", "8"}


def test_a_verified_violation_after_the_deadline_makes_a_withdrawal_clause_overdue(demo, reviewer):
    hts = Violation.objects.get(agreement=demo, category="armed_group_in_zone")
    verify(hts, reviewer)
    assert states(today=AFTER_THE_DEMO)["5"] == OVERDUE


def test_a_violation_before_the_deadline_is_no_evidence_against_it(demo):
    Violation.objects.filter(agreement=demo, category="armed_group_in_zone").update(
        started_at=datetime(2018, 10, 15, 12, tzinfo=UTC)
    )
    assert "5" not in states(today=AFTER_THE_DEMO)


def test_a_route_clause_is_fulfilled_once_every_route_was_seen_open(demo):
    RouteStatus.objects.create(agreement=demo, route="M4", observed_on=date(2019, 3, 1), status="open")
    item = {i.clause.number: i for i in overdue_clauses(today=AFTER_THE_DEMO)}["8"]
    assert item.reason.startswith("No 'open' status for M5 ")

    RouteStatus.objects.create(agreement=demo, route="M5", observed_on=date(2019, 3, 2), status="open")
    assert "8" not in states(today=AFTER_THE_DEMO)
    assert "8" in states(today=date(2019, 3, 1)), "an opening observed after 'today' is no evidence yet"


def test_a_partly_open_route_or_an_open_segment_is_not_enough(demo):
    RouteStatus.objects.create(agreement=demo, route="M4", observed_on=date(2019, 3, 1), status="partly_open")
    RouteStatus.objects.create(
        agreement=demo, route="M5", segment="Saraqib–Hama", observed_on=date(2019, 3, 1), status="open"
    )
    assert states(today=AFTER_THE_DEMO)["8"] == OVERDUE


def test_other_clauses_past_their_deadline_need_assessment(db):
    agreement = AgreementFactory()
    ClauseFactory(agreement=agreement, number="1", deadline=date(2019, 1, 1))
    ClauseFactory(agreement=agreement, number="2", deadline=date(2030, 1, 1))
    ClauseFactory(agreement=agreement, number="3", deadline=None)
    draft = AgreementFactory(status=Agreement.Status.DRAFT)
    ClauseFactory(agreement=draft, number="1", deadline=date(2019, 1, 1))

    assert states(agreement=agreement, today=AFTER_THE_DEMO) == {"1": NEEDS_ASSESSMENT}
    assert states(agreement=draft, today=AFTER_THE_DEMO) == {}, "a draft binds nobody yet"
    assert states(agreement=agreement, today=date(2019, 1, 1)) == {}, "the deadline day itself is not late"


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
    assert "No &#x27;open&#x27; status for M4, M5" in overdue_html
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
