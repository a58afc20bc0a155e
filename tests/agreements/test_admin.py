"""The monitors' workspace: every admin page answers, lists cost a fixed number of queries, saves go through the
service (one violation, its sources), violations cannot be deleted, stale saves are refused."""

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agreements import services
from agreements.models import (
    Actor,
    Clause,
    ControlChange,
    Patrol,
    Place,
    RouteStatus,
    Source,
    Violation,
    ViolationSource,
)
from tests.factories import (
    ActorFactory,
    AgreementFactory,
    ClauseFactory,
    PlaceFactory,
    SourceFactory,
    UserFactory,
    ZoneFactory,
    make_violation,
)

ROW_NUMBERS = itertools.count(1)

REGISTERED = sorted(
    (model for model in admin.site._registry if model._meta.app_label == "agreements"),
    key=lambda model: model._meta.model_name,
)


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def demo(db):
    call_command("load_sochi", stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.fixture
def admin_client_(client, superuser):
    client.force_login(superuser)
    return client


def test_every_model_of_the_record_has_an_admin():
    expected = {
        "agreement",
        "actor",
        "clause",
        "zone",
        "place",
        "violation",
        "source",
        "patrol",
        "routestatus",
        "controlchange",
    }
    assert expected <= {model._meta.model_name for model in REGISTERED}


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.model_name)
def test_changelist_add_and_change_pages_answer_for_a_superuser(demo, admin_client_, model):
    assert admin_client_.get(url(model, "changelist")).status_code == 200
    assert admin_client_.get(url(model, "add")).status_code == 200
    obj = model.objects.order_by("pk").first()
    assert obj is not None, f"the demo has no {model._meta.verbose_name}"
    assert admin_client_.get(url(model, "change", obj.pk)).status_code == 200
    assert admin_client_.get(url(model, "history", obj.pk)).status_code == 200


def _more_rows(model, n, agreement):
    """Add n rows of `model` with their relations filled in, as the list would show them."""
    user = UserFactory(role="monitor")
    for _ in range(n):
        i = next(ROW_NUMBERS)
        actor = ActorFactory(part_of=Actor.objects.first())
        place = PlaceFactory()
        if model is Violation:
            make_violation(
                agreement=agreement,
                user=user,
                clauses=[ClauseFactory(agreement=agreement, number=f"T{i}")],
                perpetrators=[actor, ActorFactory()],
                sources=[SourceFactory()],
            )
        elif model is Actor:
            pass  # made above
        elif model is Clause:
            ClauseFactory(agreement=agreement, number=f"T{i}")
        elif model is Place:
            pass  # made above
        elif model is Source:
            SourceFactory()
        elif model is ControlChange:
            services.model_save(
                instance=ControlChange(
                    agreement=agreement,
                    place=place,
                    occurred_on=date(2020, 1, 1) + timedelta(days=i),
                    from_actor=actor,
                    to_actor=ActorFactory(),
                ),
                user=user,
            )
        elif model is Patrol:
            services.model_save(
                instance=Patrol(
                    agreement=agreement,
                    patrolled_on=date(2020, 1, 1) + timedelta(days=i),
                    kind="joint",
                    outcome="completed",
                ),
                user=user,
                m2m={"participants": [actor]},
            )
        elif model is RouteStatus:
            services.model_save(
                instance=RouteStatus(agreement=agreement, route=f"R{i}", observed_on="2019-06-01", status="open"),
                user=user,
            )
        else:
            model_name = model._meta.model_name
            if model_name == "agreement":
                AgreementFactory()
            elif model_name == "zone":
                ZoneFactory(agreement=agreement)
            else:
                raise AssertionError(f"no row maker for {model_name}")


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.model_name)
def test_changelist_query_count_does_not_grow_with_rows(demo, admin_client_, model):
    from agreements.models import Agreement

    agreement = Agreement.objects.get(slug="sochi-2018")
    changelist = url(model, "changelist")
    _more_rows(model, 2, agreement)
    with CaptureQueriesContext(connection) as few:
        assert admin_client_.get(changelist).status_code == 200
    _more_rows(model, 12, agreement)
    with CaptureQueriesContext(connection) as many:
        response = admin_client_.get(changelist)
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 14
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def _violation_post(agreement, clause, place, perpetrator, **overrides):
    data = {
        "agreement": agreement.pk,
        "clauses": [clause.pk],
        "category": Violation.Category.SHELLING,
        "description": "Artillery hit the market in the morning.",
        "perpetrators": [perpetrator.pk],
        "started_at_0": "2019-05-07",
        "started_at_1": "06:30:00",
        "time_precision": "exact",
        "place": place.pk,
        "location_precision": "town",
        "killed_low": "2",
        "killed_best": "3",
        "killed_high": "5",
        "loaded_version": "",
        "citations-TOTAL_FORMS": "2",
        "citations-INITIAL_FORMS": "0",
        "citations-MIN_NUM_FORMS": "0",
        "citations-MAX_NUM_FORMS": "1000",
        "citations-0-new_publisher": "Syrian Observatory",
        "citations-0-new_title": "Shelling on the market",
        "citations-0-new_url": "https://example.org/sohr/1",
        "citations-0-new_kind": "ngo_report",
        "citations-0-new_reliability": "C",
        "citations-0-new_credibility": "3",
        "citations-1-new_publisher": "Local council",
        "citations-1-new_title": "Statement on the shelling",
        "citations-1-new_kind": "official_statement",
        "citations-1-new_reliability": "D",
        "citations-1-new_credibility": "2",
        "citations-1-note": "Names three dead.",
    }
    data.update(overrides)
    return data


def test_adding_a_violation_with_two_sources_creates_one_violation_and_two_sources(db, admin_client_, superuser):
    zone = ZoneFactory()
    clause = ClauseFactory(agreement=zone.agreement)
    place, actor = PlaceFactory(), ActorFactory()

    response = admin_client_.post(url(Violation, "add"), _violation_post(zone.agreement, clause, place, actor))

    assert response.status_code == 302, response.context and response.context["errors"]
    violation = Violation.objects.get()
    assert Source.objects.count() == 2
    assert ViolationSource.objects.filter(violation=violation).count() == 2
    assert {s.grade for s in violation.sources.all()} == {"C3", "D2"}
    assert violation.reported_by == superuser
    assert violation.in_zone is True  # computed by the service, not typed
    assert list(violation.clauses.all()) == [clause]
    assert violation.history.first().history_user == superuser


def test_a_violation_form_with_a_bad_estimate_writes_nothing_and_says_why(db, admin_client_):
    zone = ZoneFactory()
    data = _violation_post(
        zone.agreement, ClauseFactory(agreement=zone.agreement), PlaceFactory(), ActorFactory(), killed_low="9"
    )
    response = admin_client_.post(url(Violation, "add"), data)
    assert response.status_code == 200
    assert "low estimate cannot exceed" in response.content.decode()
    assert Violation.objects.count() == 0 and Source.objects.count() == 0


def test_a_clause_of_another_agreement_is_refused_on_the_form(db, admin_client_):
    zone = ZoneFactory()
    other_clause = ClauseFactory()  # of another agreement
    data = _violation_post(zone.agreement, other_clause, PlaceFactory(), ActorFactory())
    response = admin_client_.post(url(Violation, "add"), data)
    assert response.status_code == 200
    assert "Not clauses of this violation" in response.content.decode()
    assert Violation.objects.count() == 0


def test_an_existing_source_can_be_reused_from_the_inline(db, admin_client_):
    zone = ZoneFactory()
    source = SourceFactory()
    data = _violation_post(zone.agreement, ClauseFactory(agreement=zone.agreement), PlaceFactory(), ActorFactory())
    data.update({"citations-TOTAL_FORMS": "1", "citations-0-source": source.pk})
    for key in [k for k in data if k.startswith("citations-0-new_") and k[-4:] not in ("kind", "lity")]:
        del data[key]
    response = admin_client_.post(url(Violation, "add"), data)
    assert response.status_code == 302
    assert list(Violation.objects.get().sources.all()) == [source]
    assert Source.objects.count() == 1


def test_the_change_page_shows_the_violations_sources(db, admin_client_):
    source = SourceFactory(title="Rockets on the southern villages")
    violation = make_violation(sources=[source])
    page = admin_client_.get(url(Violation, "change", violation.pk)).content.decode()
    assert "Rockets on the southern villages" in page
    assert "C3" in page


def test_violations_cannot_be_deleted_from_the_admin(db, admin_client_):
    violation = make_violation()
    assert admin_client_.get(url(Violation, "delete", violation.pk)).status_code == 403
    assert admin_client_.post(url(Violation, "delete", violation.pk), {"post": "yes"}).status_code == 403
    changelist = admin_client_.get(url(Violation, "changelist"))
    assert "delete_selected" not in admin.site._registry[Violation].get_actions(changelist.wsgi_request)
    assert Violation.objects.filter(pk=violation.pk).exists()


def test_a_stale_admin_save_is_refused_with_what_changed(db, admin_client_):
    zone = ZoneFactory()
    clause = ClauseFactory(agreement=zone.agreement)
    place, actor = PlaceFactory(), ActorFactory()
    violation = make_violation(agreement=zone.agreement, clauses=[clause], perpetrators=[actor], place=place)
    # A reviewer saves while this user has the form open at version 1.
    services.violation_update(
        violation=Violation.objects.get(pk=violation.pk),
        user=UserFactory(username="other", role="reviewer"),
        description="Corrected by a colleague.",
        expected_version=1,
    )
    data = _violation_post(zone.agreement, clause, place, actor, loaded_version="1", description="My edit.")
    data.update({"citations-TOTAL_FORMS": "0"})
    response = admin_client_.post(url(Violation, "change", violation.pk), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "other" in page and "description" in page and "version 2" in page
    violation.refresh_from_db()
    assert violation.description == "Corrected by a colleague." and violation.version == 2


def test_a_clause_with_bad_terms_is_refused_with_the_key_named(db, admin_client_):
    agreement = AgreementFactory()
    response = admin_client_.post(
        url(Clause, "add"),
        {
            "agreement": agreement.pk,
            "number": "3",
            "position": "3",
            "title": "Zone",
            "kind": "demilitarised_zone",
            "terms": '{"depth_km": 15}',
        },
    )
    assert response.status_code == 200
    assert "terms.depth_km" in response.content.decode()
    assert not Clause.objects.exists()


@pytest.mark.parametrize(
    ("group", "can_add"), [("monitor", True), ("reviewer", True), ("analyst", False), ("admin", True)]
)
def test_roles_decide_who_may_record_a_violation(db, client, group, can_add):
    user = UserFactory(username=f"staff-{group}", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    assert client.get(url(Violation, "changelist")).status_code == 200
    assert client.get(url(Violation, "add")).status_code == (200 if can_add else 403)


def test_list_shows_who_where_and_which_clause(db, admin_client_):
    agreement = AgreementFactory()
    clause = ClauseFactory(agreement=agreement, number="6")
    actor = ActorFactory(name="Syrian Arab Army", short_name="SAA")
    make_violation(
        agreement=agreement,
        clauses=[clause],
        perpetrators=[actor],
        place=PlaceFactory(name="Kafr Nabudah"),
        started_at=datetime(2019, 5, 26, tzinfo=UTC),
    )
    page = admin_client_.get(url(Violation, "changelist")).content.decode()
    for text in ("SAA", "Kafr Nabudah", ">6<", "Reported"):
        assert text in page


@pytest.mark.parametrize(("model_name", "field_name"), [("violation", "agreement"), ("patrol", "source")])
def test_autocomplete_answers_for_a_monitor(db, client, model_name, field_name):
    AgreementFactory(title="Sochi memorandum")
    SourceFactory(title="Sochi report")
    monitor = UserFactory(username="monitor-ac", is_staff=True)
    monitor.groups.add(Group.objects.get(name="monitor"))
    client.force_login(monitor)
    response = client.get(
        "/admin/autocomplete/",
        {"term": "Sochi", "app_label": "agreements", "model_name": model_name, "field_name": field_name},
    )
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_saving_a_violation_points_to_a_likely_duplicate(db, admin_client_):
    zone = ZoneFactory()
    clause = ClauseFactory(agreement=zone.agreement)
    place, actor = PlaceFactory(), ActorFactory()
    earlier = make_violation(
        agreement=zone.agreement,
        place=place,
        started_at=datetime(2019, 5, 7, 1, 0, tzinfo=UTC),
        category=Violation.Category.SHELLING,
    )
    response = admin_client_.post(
        url(Violation, "add"), _violation_post(zone.agreement, clause, place, actor), follow=True
    )
    page = response.content.decode()
    assert "Possible duplicate" in page
    assert url(Violation, "change", earlier.pk) in page
