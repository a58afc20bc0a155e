"""Nothing evidence-bearing is hard-deleted, and reference edits are versioned and visible (issue: "a record nobody can
bend"). Through the API (tokens per role) and the admin (the real pages), on whichever engine runs the suite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from agreements import services
from agreements.models import (
    Clause,
    ControlChange,
    Patrol,
    Place,
    RouteStatus,
    Source,
    Violation,
    ViolationSource,
    Zone,
)
from reports.assessments import assessment_record
from reports.models import Assessment
from tests.agreements.test_api import (
    build_clause,
    build_control_change,
    build_patrol,
    build_route_status,
    build_zone,
)
from tests.api_helpers import assert_error
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

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[36.0, 35.0], [37.0, 35.0], [37.0, 36.0], [36.0, 36.0], [36.0, 35.0]]],
}

RETIRABLE = {
    "zones": (build_zone, Zone),
    "clauses": (build_clause, Clause),
    "patrols": (build_patrol, Patrol),
    "route-statuses": (build_route_status, RouteStatus),
    "control-changes": (build_control_change, ControlChange),
}


# --- no DELETE, a retirement instead -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(RETIRABLE))
def test_delete_is_405_for_everyone_and_nothing_goes(api, path):
    build, model = RETIRABLE[path]
    row = build(api)
    response = api.client("admin").delete(f"/api/v1/{path}/{row.pk}/")
    assert_error(response, 405)
    assert model.all_objects.filter(pk=row.pk, retired_at__isnull=True).exists()


@pytest.mark.parametrize("path", sorted(RETIRABLE))
def test_retire_needs_a_reason_then_keeps_the_row_readable_and_out_of_lists(api, path):
    build, model = RETIRABLE[path]
    row = build(api)
    admin = api.client("admin")
    assert_error(admin.post(f"/api/v1/{path}/{row.pk}/retire/", {"reason": ""}, format="json"), 400, fields={"reason"})
    assert_error(api.client("analyst").post(f"/api/v1/{path}/{row.pk}/retire/", {"reason": "x"}, format="json"), 403)

    response = admin.post(f"/api/v1/{path}/{row.pk}/retire/", {"reason": "Entered twice."}, format="json")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["retirement_reason"] == "Entered twice."
    kept = model.all_objects.get(pk=row.pk)
    assert (kept.retired_by, kept.retirement_reason) == (api.user("admin"), "Entered twice.")
    assert not model.objects.filter(pk=row.pk).exists()  # out of what the engine and reports read

    ids = lambda params: [item["id"] for item in admin.get(f"/api/v1/{path}/", params).json()["results"]]  # noqa: E731
    assert row.pk not in ids({})
    assert row.pk in ids({"retired": "true"}) and row.pk in ids({"retired": "all"})
    assert admin.get(f"/api/v1/{path}/{row.pk}/").status_code == 200  # readable by its id
    assert_error(admin.post(f"/api/v1/{path}/{row.pk}/retire/", {"reason": "Again."}, format="json"), 400)
    assert_error(admin.get(f"/api/v1/{path}/", {"retired": "maybe"}), 400, fields={"retired"})


def test_assessments_are_withdrawn_not_deleted(api):
    clause = ClauseFactory(kind="ceasefire", terms={})
    assessment = assessment_record(
        clause=clause,
        period_start=datetime(2019, 5, 1).date(),
        period_end=datetime(2019, 5, 31).date(),
        status="not_assessed",
        score=None,
        rationale="Too little reporting to judge.",
        user=api.user("analyst"),
    )
    analyst = api.client("analyst")
    assert_error(api.client("admin").delete(f"/api/v1/assessments/{assessment.pk}/"), 405)
    response = analyst.post(f"/api/v1/assessments/{assessment.pk}/retire/", {"reason": "Partial data."}, format="json")
    assert response.status_code == 200, response.content[:300]
    assert not Assessment.objects.exists() and Assessment.all_objects.get().retirement_reason == "Partial data."


@pytest.mark.parametrize("model", [Source, Patrol, RouteStatus, ControlChange, Zone, Clause, Assessment])
def test_the_admin_offers_no_delete_of_evidence(client, superuser, model):
    client.force_login(superuser)
    opts = model._meta
    changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    actions = [name for name, _ in changelist.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions
    assert "retire_selected" in actions


def test_the_admin_retires_with_a_reason_and_the_page_turns_read_only(client, superuser):
    source = SourceFactory()
    client.force_login(superuser)
    url = reverse("admin:agreements_source_changelist")
    first = client.post(url, {"action": "retire_selected", "_selected_action": [source.pk], "index": 0})
    assert first.templates[0].name == "admin/agreements/row_action.html"
    client.post(url, {"action": "retire_selected", "_selected_action": [source.pk], "apply": "1", "reason": "Spam."})
    kept = Source.all_objects.get(pk=source.pk)
    assert (kept.retired_by, kept.retirement_reason) == (superuser, "Spam.")
    assert client.get(url).context["cl"].result_count == 0
    assert client.get(url, {"retired": "yes"}).context["cl"].result_count == 1
    page = client.get(reverse("admin:agreements_source_change", args=[source.pk]))
    assert page.status_code == 200 and not page.context["has_change_permission"]


# --- sources of a violation ---------------------------------------------------------------------------------------


def verified(reporter, reviewer, sources):
    violation = make_violation(user=reporter, sources=sources, perpetrators=[ActorFactory()])
    return services.violation_verify(violation=violation, user=reviewer)


def test_the_last_source_of_a_verified_violation_cannot_be_removed(db):
    reporter, reviewer = UserFactory(role="monitor"), UserFactory(role="reviewer")
    second_reviewer = UserFactory(role="reviewer")
    violation = verified(reporter, reviewer, [SourceFactory(), SourceFactory()])
    first, last = list(violation.citations.all())
    services.citation_remove(citation=first, user=second_reviewer, reason="Wrong article.")
    with pytest.raises(ValidationError, match="reopen it first"):
        services.citation_remove(citation=last, user=second_reviewer, reason="Wrong too.")
    assert Violation.objects.get(pk=violation.pk).citations.count() == 1
    assert Violation.objects.get(pk=violation.pk).status == Violation.Status.VERIFIED


def test_a_monitor_cannot_cite_or_uncite_on_another_monitors_violation(db):
    owner, other = UserFactory(role="monitor"), UserFactory(role="monitor")
    violation = make_violation(user=owner, sources=[SourceFactory()])
    with pytest.raises(PermissionDenied):
        services.violation_cite(violation=violation, user=other, source=SourceFactory())
    with pytest.raises(PermissionDenied):
        services.citation_remove(citation=violation.citations.get(), user=other)
    assert ViolationSource.all_objects.filter(violation=violation).count() == 1


def test_citing_a_removed_source_again_restores_the_link(db):
    owner = UserFactory(role="monitor")
    source = SourceFactory()
    violation = make_violation(user=owner, sources=[source, SourceFactory()])
    citation = violation.citations.get(source=source)
    services.citation_remove(citation=citation, user=owner, reason="Misread it.")
    services.violation_cite(violation=violation, user=owner, source=source, note="Read again: it does say so.")
    assert ViolationSource.all_objects.filter(violation=violation, source=source).count() == 1
    assert violation.citations.get(source=source).note == "Read again: it does say so."
    assert Violation.objects.get(pk=violation.pk).version == 3  # one for each change of its sources


# --- clause links stay inside one agreement ------------------------------------------------------------------------


def test_a_clause_never_changes_agreement(api):
    clause = ClauseFactory()
    other = AgreementFactory()
    admin = api.client("admin")
    etag = admin.get(f"/api/v1/clauses/{clause.pk}/")["ETag"]
    response = admin.patch(
        f"/api/v1/clauses/{clause.pk}/", {"agreement": other.slug}, format="json", HTTP_IF_MATCH=etag
    )
    assert_error(response, 400, fields={"agreement"})
    assert Clause.objects.get(pk=clause.pk).agreement == clause.agreement


@pytest.mark.parametrize("path", ["patrols", "route-statuses", "zones"])
def test_clause_links_must_belong_to_the_same_agreement(api, path):
    build, model = RETIRABLE[path]
    row = build(api)
    foreign = ClauseFactory()  # of another agreement
    admin = api.client("admin")
    headers = {"HTTP_IF_MATCH": admin.get(f"/api/v1/{path}/{row.pk}/")["ETag"]} if path == "zones" else {}
    response = admin.patch(f"/api/v1/{path}/{row.pk}/", {"clause": foreign.pk}, format="json", **headers)
    assert_error(response, 400, fields={"clause"})
    assert model.all_objects.get(pk=row.pk).clause_id != foreign.pk


# --- versions of reference records, and what a move does to evidence -------------------------------------------------


@pytest.fixture
def square_world(db):
    agreement = AgreementFactory()
    zone = ZoneFactory(agreement=agreement, geometry=SQUARE, kind=Zone.Kind.DEMILITARISED_ZONE)
    place = PlaceFactory(latitude=35.5, longitude=38.5)  # outside the square
    return agreement, zone, place


def test_moving_a_place_needs_if_match_and_bumps_the_violations_it_re_flags(api, square_world):
    agreement, zone, place = square_world
    violation = make_violation(user=api.user("monitor"), agreement=agreement, place=place)
    assert (violation.in_zone, violation.version) == (False, 1)
    client = api.client("reviewer")
    detail = client.get(f"/api/v1/violations/{violation.uuid}/")
    old_violation_etag = detail["ETag"]

    assert_error(client.patch(f"/api/v1/places/{place.pk}/", {"longitude": 36.5}, format="json"), 428)
    stale = f'"place-{place.pk}.v0"'
    assert_error(
        client.patch(f"/api/v1/places/{place.pk}/", {"longitude": 36.5}, format="json", HTTP_IF_MATCH=stale), 412
    )
    etag = client.get(f"/api/v1/places/{place.pk}/")["ETag"]
    response = client.patch(f"/api/v1/places/{place.pk}/", {"longitude": 36.5}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["version"] == 2 and response["ETag"] != etag

    moved = Violation.objects.get(pk=violation.pk)
    assert (moved.in_zone, moved.zone, moved.version) == (True, zone, 2)
    entry = services.violation_history(violation=moved)[0]
    assert entry["reason"] == f"in-zone re-flagged: place '{place.name}' moved"
    assert entry["user"] == api.user("reviewer").username
    again = client.get(f"/api/v1/violations/{violation.uuid}/", HTTP_IF_NONE_MATCH=old_violation_etag)
    assert again.status_code == 200 and again["ETag"] != old_violation_etag  # dashboards see the change


def test_a_monitor_may_not_re_flag_verified_evidence(api, square_world):
    agreement, _, place = square_world
    violation = make_violation(
        user=api.user("monitor"),
        agreement=agreement,
        place=place,
        perpetrators=[ActorFactory()],
        sources=[SourceFactory()],
    )
    services.violation_verify(violation=Violation.objects.get(pk=violation.pk), user=api.user("reviewer"))
    place.longitude = 36.5
    with pytest.raises(PermissionDenied, match="verified"):
        services.place_save(place=place, user=api.user("monitor"), expected_version=1)
    assert Place.objects.get(pk=place.pk).longitude != 36.5
    assert Violation.objects.get(pk=violation.pk).in_zone is False
    services.place_save(place=place, user=api.user("admin"), expected_version=1)
    assert Violation.objects.get(pk=violation.pk).in_zone is True


def test_the_admin_refuses_a_stale_place_edit(client, superuser, square_world):
    _, _, place = square_world
    client.force_login(superuser)
    url = reverse("admin:agreements_place_change", args=[place.pk])
    form = {
        "name": place.name,
        "kind": place.kind,
        "country": place.country,
        "latitude": "35.5",
        "longitude": "38.4",
        "loaded_version": "1",
        "aliases-TOTAL_FORMS": "0",
        "aliases-INITIAL_FORMS": "0",
        "aliases-MIN_NUM_FORMS": "0",
        "aliases-MAX_NUM_FORMS": "1000",
    }
    services.place_save(place=Place.objects.get(pk=place.pk), user=superuser, expected_version=1)  # someone else saves
    response = client.post(url, form)
    assert response.status_code == 200 and "changed by someone else" in response.content.decode()
    assert Place.objects.get(pk=place.pk).version == 2


# --- incident dates ---------------------------------------------------------------------------------------------------


def test_incidents_in_the_future_or_before_the_agreement_are_refused(db):
    agreement = AgreementFactory(signed_on=datetime(2018, 9, 17).date(), in_force_from=None)
    monitor = UserFactory(role="monitor")
    with pytest.raises(ValidationError) as future:
        make_violation(user=monitor, agreement=agreement, started_at=datetime.now(UTC) + timedelta(days=2))
    assert "started_at" in future.value.message_dict
    with pytest.raises(ValidationError, match="not yet in force"):
        make_violation(user=monitor, agreement=agreement, started_at=datetime(2015, 1, 1, tzinfo=UTC))
    assert not Violation.objects.exists()
