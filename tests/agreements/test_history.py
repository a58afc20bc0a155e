"""The history of the record (django-simple-history): every write path leaves a history row with the right user —
through the services, the admin and the API (token auth) — and GET /api/v1/violations/{id}/history tells who changed
what and when. simple-history writes on model signals, so a QuerySet.update()/bulk_* would write nothing: a test
guards the code against them."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agreements import evidence, services
from agreements.models import Agreement, Clause, Source, Violation, ViolationSource, Zone
from tests.agreements.test_workflow import api_url, member, reviewable, stored, token_client
from tests.factories import (
    SQUARE,
    ActorFactory,
    AgreementFactory,
    ClauseFactory,
    PlaceFactory,
    SourceFactory,
    UserFactory,
    make_violation,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def latest(instance):
    return type(instance).history.filter(id=instance.pk).order_by("-history_date", "-history_id").first()


def assert_written_by(instance, user, history_type: str | None = None):
    row = latest(instance)
    assert row is not None, f"no history for {instance!r}"
    assert row.history_user == user, (row.history_user, user)
    if history_type:
        assert row.history_type == history_type


# --- the services -------------------------------------------------------------------------------------------------


@pytest.fixture
def people(db):
    return {"monitor": member("monitor"), "editor": member("reviewer"), "reviewer": member("reviewer")}


def test_service_create_writes_history_by_the_reporter(people):
    violation = reviewable(people["monitor"])
    assert_written_by(violation, people["monitor"])
    rows = list(violation.history.all())
    assert {row.history_user for row in rows} == {people["monitor"]}
    assert any(row.history_type == "+" for row in rows)


def test_service_edit_writes_history_by_the_editor(people):
    violation = reviewable(people["monitor"])
    services.violation_update(violation=violation, user=people["editor"], description="Corrected.")
    assert_written_by(violation, people["editor"], "~")
    assert latest(violation).description == "Corrected."


def test_service_verify_writes_history_by_the_reviewer(people):
    violation = reviewable(people["monitor"])
    services.violation_verify(violation=violation, user=people["reviewer"])
    assert_written_by(violation, people["reviewer"])
    assert latest(violation).status == Violation.Status.VERIFIED


def test_service_retract_writes_history_by_the_retractor(people):
    violation = reviewable(people["monitor"])
    services.violation_retract(violation=violation, user=people["reviewer"], reason="Duplicate.")
    assert_written_by(violation, people["reviewer"])
    assert latest(violation).retraction_reason == "Duplicate."


def test_service_facts_changing_under_a_review_write_history_by_the_editor(people):
    violation = reviewable(people["monitor"])
    services.violation_verify(violation=violation, user=people["reviewer"])
    services.violation_update(violation=stored(violation), user=people["editor"], description="New facts.")
    assert_written_by(violation, people["editor"])
    assert latest(violation).status == Violation.Status.REPORTED


def test_service_citing_and_unciting_a_source_write_history(people):
    violation = make_violation(user=people["monitor"])
    citation = services.violation_cite(violation=violation, user=people["editor"], source=SourceFactory())
    assert_written_by(citation, people["editor"], "+")
    pk = citation.pk
    services.citation_remove(citation=citation, user=people["reviewer"], reason="Wrong article.")
    # Un-citing retires the link (a change, never a deletion), and the violation's own history says so.
    row = ViolationSource.history.filter(id=pk).order_by("-history_id").first()
    assert (row.history_type, row.history_user, row.retirement_reason) == ("~", people["reviewer"], "Wrong article.")
    entry = services.violation_history(violation=violation)[0]
    assert (entry["user"], entry["reason"]) == (people["reviewer"].username, f"source removed: {citation.source}")


def test_service_a_source_typed_in_writes_history(people):
    new = services.NewSource(publisher="SOHR", title="Shelling", kind=Source.Kind.NGO_REPORT)
    source = services.source_get_or_create(new=new, user=people["monitor"])
    assert_written_by(source, people["monitor"], "+")


def test_service_source_save_writes_history(people):
    source = SourceFactory.build()
    evidence.source_save(source=source, user=people["editor"])
    assert_written_by(source, people["editor"], "+")
    source.reliability = Source.Reliability.B
    evidence.source_save(source=source, user=people["reviewer"])
    assert_written_by(source, people["reviewer"], "~")
    assert latest(source).reliability == "B"


def test_service_agreement_and_clause_saves_write_history(people):
    agreement = services.model_save(
        instance=Agreement(slug="astana", title="Astana memorandum", signed_on=date(2017, 5, 4)), user=people["editor"]
    )
    assert_written_by(agreement, people["editor"], "+")
    clause = services.clause_save(
        clause=Clause(agreement=agreement, number="1", title="Ceasefire", kind=Clause.Kind.OTHER, terms={}),
        user=people["reviewer"],
        obligated_actors=[ActorFactory()],
    )
    assert_written_by(clause, people["reviewer"])
    clause.title = "Ceasefire in the zones"
    services.clause_save(clause=clause, user=people["editor"])
    assert_written_by(clause, people["editor"], "~")


def test_service_zone_and_place_saves_write_history_for_the_violations_they_move(people):
    agreement = AgreementFactory()
    place = PlaceFactory(latitude=35.5, longitude=38.5)  # outside the square
    violation = make_violation(user=people["monitor"], agreement=agreement, place=place)
    assert stored(violation).in_zone is False

    zone = services.zone_save(
        zone=Zone(agreement=agreement, name="DMZ", slug="dmz", kind=Zone.Kind.DEMILITARISED_ZONE, geometry=SQUARE),
        user=people["editor"],
    )
    assert_written_by(zone, people["editor"], "+")

    place.longitude = 36.5  # moves into the square, and the violation with it
    services.place_save(place=place, user=people["reviewer"])
    assert_written_by(place, people["reviewer"], "~")
    assert_written_by(violation, people["reviewer"])
    assert latest(violation).in_zone is True


# --- the admin ----------------------------------------------------------------------------------------------------


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def violation_form(violation: Violation, **overrides) -> dict:
    data = {
        "agreement": violation.agreement_id,
        "clauses": [c.pk for c in violation.clauses.all()],
        "category": violation.category,
        "description": violation.description,
        "perpetrators": [a.pk for a in violation.perpetrators.all()],
        "started_at_0": violation.started_at.strftime("%Y-%m-%d"),
        "started_at_1": violation.started_at.strftime("%H:%M:%S"),
        "time_precision": violation.time_precision,
        "place": violation.place_id,
        "location_precision": violation.location_precision,
        "loaded_version": violation.version,
        "citations-TOTAL_FORMS": "0",
        "citations-INITIAL_FORMS": "0",
        "citations-MIN_NUM_FORMS": "0",
        "citations-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_admin_create_and_edit_write_history_by_the_logged_in_user(client, people):
    staff_monitor = member("monitor", is_staff=True)
    template = make_violation(user=UserFactory(role="monitor"), perpetrators=[ActorFactory()])
    client.force_login(staff_monitor)
    response = client.post(admin_url(Violation, "add"), violation_form(template, loaded_version=""))
    assert response.status_code == 302, response.context and response.context["errors"]
    created = Violation.objects.exclude(pk=template.pk).get()
    assert_written_by(created, staff_monitor)
    assert created.history.filter(history_type="+").get().history_user == staff_monitor

    editor = member("reviewer", is_staff=True)
    client.force_login(editor)
    response = client.post(admin_url(Violation, "change", created.pk), violation_form(created, description="Edited."))
    assert response.status_code == 302, response.context and response.context["errors"]
    assert stored(created).description == "Edited."
    assert_written_by(created, editor, "~")


def test_admin_actions_write_history_by_the_reviewer(client, people):
    violation = reviewable(people["monitor"])
    reviewer = member("reviewer", is_staff=True)
    client.force_login(reviewer)
    changelist = admin_url(Violation, "changelist")
    selected = {"_selected_action": [violation.pk], "apply": "1"}

    assert client.post(changelist, {"action": "verify_selected", "note": "", **selected}).status_code == 302
    assert_written_by(violation, reviewer)
    assert latest(violation).status == Violation.Status.VERIFIED

    assert (
        client.post(changelist, {"action": "retract_selected", "reason": "Duplicate.", **selected}).status_code == 302
    )
    assert_written_by(violation, reviewer)
    assert latest(violation).retracted_by_id == reviewer.pk


def test_admin_clause_edit_writes_history(client, superuser):
    clause = ClauseFactory()
    client.force_login(superuser)
    data = {
        "agreement": clause.agreement_id,
        "number": clause.number,
        "position": clause.position,
        "title": "Renamed",
        "kind": clause.kind,
        "terms": "{}",
    }
    response = client.post(admin_url(Clause, "change", clause.pk), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert_written_by(clause, superuser, "~")


def test_admin_history_page_lists_the_violations_changes(client, superuser, people):
    violation = reviewable(people["monitor"])
    services.violation_verify(violation=violation, user=people["reviewer"], note="Seen on video.")
    client.force_login(superuser)
    page = client.get(admin_url(Violation, "history", violation.pk))
    assert page.status_code == 200
    assert people["reviewer"].username in page.content.decode()


# --- the API (token auth) -----------------------------------------------------------------------------------------


def test_api_create_edit_verify_retract_write_history_by_the_token_user(people):
    place, actor, source = PlaceFactory(), ActorFactory(), SourceFactory()
    agreement = AgreementFactory()
    monitor = token_client(people["monitor"])
    body = {
        "agreement": agreement.slug,
        "category": "shelling",
        "description": "Shelling of the market.",
        "started_at": "2019-05-07T06:00:00Z",
        "place": place.pk,
        "perpetrators": [actor.pk],
        "new_sources": [{"source": source.pk}],
    }
    created = monitor.post("/api/v1/violations/", body, format="json")
    assert created.status_code == 201, created.content
    violation = Violation.objects.get(uuid=created.json()["id"])
    assert_written_by(violation, people["monitor"])
    assert_written_by(violation.citations.get(), people["monitor"], "+")

    editor = token_client(people["editor"])
    etag = editor.get(api_url(violation))["ETag"]
    edited = editor.patch(api_url(violation), {"description": "Edited."}, format="json", HTTP_IF_MATCH=etag)
    assert edited.status_code == 200, edited.content
    assert_written_by(violation, people["editor"], "~")

    reviewer = token_client(people["reviewer"])
    assert reviewer.post(api_url(violation, "verify"), {}, format="json").status_code == 200
    assert_written_by(violation, people["reviewer"])
    assert reviewer.post(api_url(violation, "retract"), {"reason": "Dup."}, format="json").status_code == 200
    assert_written_by(violation, people["reviewer"])
    assert latest(violation).retraction_reason == "Dup."


def test_api_agreement_create_writes_history_by_the_token_user(db):
    admin_role = member("admin")
    response = token_client(admin_role).post(
        "/api/v1/agreements/", {"slug": "astana", "title": "Astana memorandum"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert_written_by(Agreement.objects.get(slug="astana"), admin_role, "+")


# --- GET /api/v1/violations/{id}/history --------------------------------------------------------------------------


def test_history_endpoint_tells_who_changed_what_newest_first(people):
    first, second = ActorFactory(), ActorFactory()
    violation = reviewable(people["monitor"], perpetrators=[first], description="Shelling.")
    services.violation_update(
        violation=violation, user=people["editor"], description="Heavy shelling.", perpetrators=[second]
    )
    services.violation_verify(violation=stored(violation), user=people["reviewer"], note="Two sources agree.")
    services.violation_retract(violation=violation, user=people["reviewer"], reason="Duplicate of #12.")

    response = token_client(member("analyst")).get(api_url(violation, "history"))

    assert response.status_code == 200, response.content
    entries = response.json()
    assert [(e["type"], e["user"], e["version"]) for e in entries] == [
        ("changed", people["reviewer"].username, 4),
        ("changed", people["reviewer"].username, 3),
        ("changed", people["editor"].username, 2),
        ("created", people["monitor"].username, 1),
    ]
    changes = [{c["field"]: (c["old"], c["new"]) for c in e["changes"]} for e in entries]
    retracted, verified, edited, created = changes
    assert set(retracted) == {"retracted_at", "retracted_by", "retraction_reason"}
    assert retracted["retraction_reason"] == ("", "Duplicate of #12.")
    assert entries[0]["reason"] == "retracted: Duplicate of #12."
    assert set(verified) == {"status", "verified_by", "verified_at"}
    assert verified["status"] == ("reported", "verified")
    assert verified["verified_by"] == (None, people["reviewer"].pk)
    assert entries[1]["reason"] == "verified: Two sources agree."
    assert edited["description"] == ("Shelling.", "Heavy shelling.")
    assert edited["perpetrators"] == ([first.pk], [second.pk])
    assert edited["updated_by"] == (None, people["editor"].pk)
    assert "status" not in edited and "version" not in edited and "updated_at" not in edited
    assert created["description"] == (None, "Shelling.")
    assert created["perpetrators"] == (None, [first.pk])
    assert created["status"] == (None, "reported")
    assert all(old is None for old, _ in created.values())


def test_history_endpoint_needs_the_view_permission(people):
    violation = reviewable(people["monitor"])
    outsider = token_client(UserFactory(username="nobody"))
    assert outsider.get(api_url(violation, "history")).status_code == 403


def test_history_endpoint_costs_the_same_queries_however_long_the_history(people):
    violation = reviewable(people["monitor"])
    client = token_client(member("analyst"))
    url = api_url(violation, "history")

    def queries() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return [query["sql"] for query in captured.captured_queries]

    queries()  # the token's first use is recorded once; not part of the comparison
    few = queries()
    for n in range(6):
        services.violation_update(
            violation=stored(violation), user=people["editor"], description=f"Edit {n}.", perpetrators=[ActorFactory()]
        )
    many = queries()
    assert len(many) == len(few), "\n".join(many)


# --- no write path bypasses the history ---------------------------------------------------------------------------

BYPASSES = {"update", "bulk_create", "bulk_update"}


def _root_and_attrs(node: ast.AST) -> tuple[str | None, list[str]]:
    """`Violation.objects.filter(...).update` → ("Violation", ["objects", "filter"])."""
    attrs = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id, list(reversed(attrs))
        else:
            return None, list(reversed(attrs))


def test_no_code_updates_history_tracked_models_in_bulk():
    """QuerySet.update()/bulk_create()/bulk_update() send no signals, so simple-history would record nothing; the
    code must save instances or use simple_history.utils.bulk_*_with_history."""
    tracked = {
        model.__name__
        for model in apps.get_models()
        if getattr(model._meta, "simple_history_manager_attribute", None) and not model.__name__.startswith("Hist")
    }
    assert {"Violation", "Source", "Clause", "Agreement", "ViolationSource"} <= tracked
    offences = []
    for app in ("agreements", "reports", "compliance"):
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in BYPASSES:
                    root, attrs = _root_and_attrs(node.func.value)
                    if root in tracked and attrs[:1] == ["objects"]:
                        offences.append(f"{path.relative_to(ROOT)}:{node.lineno} {root}.….{node.func.attr}()")
    assert not offences, "history would not be written: " + "; ".join(offences)
