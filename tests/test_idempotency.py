"""Safe retries (compliance/api/idempotency.py): a POST with an Idempotency-Key takes effect once per user and key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from agreements.api.views import PlaceViewSet
from agreements.models import Actor, Place, Violation
from compliance.models import IdempotencyRecord
from reports.models import Assessment, Report
from tests.agreements.test_api import RESOURCES, place_payload
from tests.api_helpers import assert_error
from tests.factories import ActorFactory, AgreementFactory, ClauseFactory, SourceFactory, UserFactory, make_violation

ROOT = Path(__file__).resolve().parent.parent
KEY = "9b0f5d8e-2c1a-4f7e-8a57-1f0c2b3d4e5f"
PLACES = "/api/v1/places/"


def post(client, url: str, body, key: str | None = KEY, **headers):
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(url, body, format="json", **headers)


def assert_replay_of(again, first):
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]
    for header in ("Location", "ETag"):
        assert again.get(header) == first.get(header)
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")


# --- replay ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_a_retried_create_is_replayed_and_writes_nothing(api, resource):
    client = api.client(resource.writer)
    body = resource.payload()
    rows = resource.model.objects.count()

    first = post(client, resource.list_url(), body)
    assert first.status_code == 201, first.content[:500]
    history = resource.model.history.count()
    again = post(client, resource.list_url(), body)

    assert_replay_of(again, first)
    assert resource.model.objects.count() == rows + 1
    assert resource.model.history.count() == history
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_a_retried_report_is_replayed_with_its_201_and_location(api):
    # Without a key the second POST of identical content answers 200 (the report already issued); with one it is the
    # first answer again, byte for byte.
    AgreementFactory(slug="memo")
    client = api.client("analyst")
    body = {"agreement": "memo", "from": "2019-05-01", "to": "2019-05-31"}

    first = post(client, "/api/v1/reports/", body)
    again = post(client, "/api/v1/reports/", body)

    assert first.status_code == 201, first.content[:500]
    assert first["Location"] == f"/api/v1/reports/{Report.objects.get().pk}/"
    assert_replay_of(again, first)
    assert Report.objects.count() == 1


@pytest.mark.django_db
def test_a_retried_assessment_is_replayed_instead_of_updating_it(api):
    clause = ClauseFactory(number="1")
    client = api.client("analyst")
    body = {
        "clause": clause.pk,
        "period_start": "2019-05-01",
        "period_end": "2019-05-31",
        "status": "partially_compliant",
        "score": 2,
        "rationale": "A single verified incident.",
    }

    first = post(client, "/api/v1/assessments/", body)
    again = post(client, "/api/v1/assessments/", body)

    assert first.status_code == 201, first.content[:500]
    assert_replay_of(again, first)  # not the 200 "updated" a second POST without the key gets
    assert Assessment.objects.count() == 1
    assert Assessment.history.count() == 1


@pytest.mark.django_db
def test_a_retried_review_step_is_replayed_not_refused(api):
    violation = make_violation(
        user=api.user("monitor"), perpetrators=[ActorFactory()], sources=[SourceFactory()], description="Shelling."
    )
    client = api.client("reviewer")
    url = f"/api/v1/violations/{violation.uuid}/verify/"

    first = post(client, url, {"note": "Two sources agree."})
    history = Violation.history.filter(uuid=violation.uuid).count()
    again = post(client, url, {"note": "Two sources agree."})

    assert first.status_code == 200, first.content[:500]
    assert first.json()["status"] == "verified"
    assert_replay_of(again, first)
    assert Violation.history.filter(uuid=violation.uuid).count() == history
    # The same step without a key is refused: the violation is already verified.
    assert post(client, url, {"note": "Two sources agree."}, key=None).status_code >= 400


@pytest.mark.django_db
def test_the_body_is_compared_as_json_not_as_bytes(api):
    client = api.client("admin")
    body = place_payload()
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)

    first = post(client, PLACES, body)
    again = client.post(PLACES, reordered, content_type="application/json", HTTP_IDEMPOTENCY_KEY=KEY)

    assert_replay_of(again, first)
    assert Place.objects.count() == 1


@pytest.mark.django_db
def test_the_same_user_with_another_token_gets_the_replay(api):
    first = post(api.client("admin"), PLACES, place_payload())
    again = post(api.client("admin"), PLACES, place_payload())  # a fresh token of the same user

    assert_replay_of(again, first)
    assert Place.objects.count() == 1


@pytest.mark.django_db
def test_an_answered_validation_error_is_replayed_too(api):
    client = api.client("admin")
    bad = {**place_payload(), "latitude": 123}

    first = post(client, PLACES, bad)
    again = post(client, PLACES, bad)

    assert_error(first, 400, fields={"latitude"})
    assert_replay_of(again, first)
    # The corrected request is another request: it needs its own key.
    assert_error(post(client, PLACES, place_payload()), 422, code="idempotency_key_reused")
    assert post(client, PLACES, place_payload(), key="another-key").status_code == 201


# --- reuse, other users, refusals -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422_and_writes_nothing(api):
    client = api.client("admin")
    post(client, PLACES, place_payload())

    response = post(client, PLACES, {**place_payload(), "name": "Another place"})

    error = assert_error(response, 422, code="idempotency_key_reused")
    assert "another body" in error["message"]
    assert list(Place.objects.values_list("name", flat=True)) == ["New place"]


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_422(api):
    client = api.client("admin")
    post(client, PLACES, place_payload())

    response = post(client, "/api/v1/actors/", {"slug": "new-actor", "name": "New Actor", "kind": "state_force"})

    error = assert_error(response, 422, code="idempotency_key_reused")
    assert f"POST {PLACES}" in error["message"]
    assert not Actor.objects.filter(slug="new-actor").exists()


@pytest.mark.django_db
def test_the_same_key_of_another_user_is_independent(api):
    # Place names are unique per region, so the other user's place has its own name: under one key, two requests.
    theirs_body = {**place_payload(), "name": "Their place"}
    mine = post(api.client("admin"), PLACES, place_payload())
    theirs = post(api.client("admin", name="admin2"), PLACES, theirs_body)

    assert mine.status_code == theirs.status_code == 201
    assert not theirs.has_header("Idempotent-Replayed")
    assert mine.json()["id"] != theirs.json()["id"]
    assert Place.objects.count() == 2
    # Each user's retry replays their own answer.
    assert post(api.client("admin", name="admin2"), PLACES, theirs_body).content == theirs.content
    assert post(api.client("admin"), PLACES, place_payload()).content == mine.content


@pytest.mark.django_db
def test_a_refusal_before_the_view_runs_keeps_nothing(api):
    body = {"name": "New place", "admin1": "Hama", "latitude": 35.1, "longitude": 36.9}

    assert_error(post(api.client("analyst"), PLACES, body), 403)
    assert_error(post(api.anonymous, PLACES, body), 401)

    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key", ["", "x" * 256, "clé-accentuée", "tab\there", "line\nbreak"], ids=["empty", "256", "non-ascii", "tab", "lf"]
)
def test_a_malformed_key_is_400_and_writes_nothing(api, key):
    response = post(api.client("admin"), PLACES, place_payload(), key=key)

    assert_error(response, 400, code="invalid", fields={"Idempotency-Key"})
    assert not Place.objects.exists()
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["k", "x" * 255, "order 42 / retry ~ #1"], ids=["one", "255", "spaces-and-symbols"])
def test_keys_of_1_to_255_printable_characters_are_accepted(api, key):
    client = api.client("admin")
    first = post(client, PLACES, place_payload(), key=key)
    assert first.status_code == 201
    assert_replay_of(post(client, PLACES, place_payload(), key=key), first)


# --- failures -------------------------------------------------------------------------------------------------------


def fail_after_writing(exc):
    original = PlaceViewSet.perform_create

    def perform_create(self, serializer):
        original(self, serializer)
        assert Place.objects.exists()  # the write happened, in the request's transaction
        raise exc

    return mock.patch.object(PlaceViewSet, "perform_create", perform_create)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("exc", "status"),
    [(RuntimeError("bug"), 500), (OperationalError("server closed the connection unexpectedly"), 503)],
    ids=["500", "503"],
)
def test_a_server_error_is_not_kept_and_its_writes_are_rolled_back(api, exc, status):
    client = api.client("admin")
    with fail_after_writing(exc):
        failed = post(client, PLACES, place_payload())

    assert_error(failed, status)
    assert not Place.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    retried = post(client, PLACES, place_payload())
    assert retried.status_code == 201
    assert not retried.has_header("Idempotent-Replayed")
    assert Place.objects.count() == 1


@pytest.mark.django_db
def test_a_key_answered_meanwhile_elsewhere_rolls_this_request_back(api):
    # What the unique (user, key) constraint does when two processes race past the lock (SQLite has no advisory lock
    # across processes): the later commit fails, and its writes go with it.
    client = api.client("admin")
    user = api.user("admin")
    original = PlaceViewSet.perform_create

    def perform_create(self, serializer):
        IdempotencyRecord.objects.create(
            user=user, key=KEY, request=f"POST {PLACES}", request_sha256="0" * 64, status=201, response_body=b"{}"
        )
        original(self, serializer)

    with mock.patch.object(PlaceViewSet, "perform_create", perform_create):
        response = post(client, PLACES, place_payload())

    assert_error(response, 409, code="idempotency_in_progress")
    assert response["Retry-After"] == "1"
    assert not Place.objects.exists()


@pytest.mark.django_db(transaction=True)  # two connections, so real commits
def test_a_concurrent_request_with_the_same_key_is_409_never_a_second_write(api):
    client = api.client("admin")
    assert client.get(PLACES).status_code == 200  # the token's first use is written now, outside the race
    entered, release = threading.Event(), threading.Event()
    original = PlaceViewSet.perform_create
    answers = {}

    def slow_perform_create(self, serializer):
        entered.set()
        assert release.wait(10)
        original(self, serializer)

    def first_request():
        try:
            answers["first"] = post(client, PLACES, place_payload())
        finally:
            connection.close()

    with mock.patch.object(PlaceViewSet, "perform_create", slow_perform_create):
        thread = threading.Thread(target=first_request)
        thread.start()
        try:
            assert entered.wait(10)
            concurrent = post(client, PLACES, place_payload())
        finally:
            release.set()
            thread.join(10)

    assert_error(concurrent, 409, code="idempotency_in_progress")
    assert concurrent["Retry-After"] == "1"
    assert answers["first"].status_code == 201, answers["first"].content[:500]
    assert_replay_of(post(client, PLACES, place_payload()), answers["first"])
    assert Place.objects.count() == 1


# --- retention ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_key_past_its_retention_names_a_new_request(api, settings):
    settings.IDEMPOTENCY_TTL_HOURS = 48
    client = api.client("admin")
    post(client, PLACES, place_payload())
    old = IdempotencyRecord.objects.get()
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=49))

    again = post(client, PLACES, {**place_payload(), "name": "Another place"})

    assert again.status_code == 201
    assert not again.has_header("Idempotent-Replayed")
    assert Place.objects.count() == 2
    new = IdempotencyRecord.objects.get()  # the old record made way for the new one
    assert new.pk != old.pk and new.request_sha256 != old.request_sha256


@pytest.mark.django_db
def test_the_purge_command_deletes_records_past_their_retention_only(settings):
    settings.IDEMPOTENCY_TTL_HOURS = 24
    user = UserFactory()
    now = timezone.now()
    for key, age in [("old", timedelta(hours=25)), ("fresh", timedelta(hours=23))]:
        IdempotencyRecord.objects.create(
            user=user, key=key, request="POST /x/", request_sha256="0" * 64, status=201, response_body=b"{}"
        )
        IdempotencyRecord.objects.filter(key=key).update(created_at=now - age)

    call_command("purge_idempotency_records", stdout=open(os.devnull, "w"))  # noqa: SIM115

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


def test_a_retention_under_24_hours_is_refused_at_startup():
    env = {**os.environ, "IDEMPOTENCY_TTL_HOURS": "12", "DJANGO_SETTINGS_MODULE": "compliance.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "IDEMPOTENCY_TTL_HOURS must be at least 24" in result.stderr


@pytest.mark.django_db
def test_the_database_refuses_to_store_a_5xx():
    with pytest.raises(IntegrityError), transaction.atomic():
        IdempotencyRecord.objects.create(
            user=UserFactory(), key="k", request="POST /x/", request_sha256="0" * 64, status=503, response_body=b"{}"
        )


# --- schema ---------------------------------------------------------------------------------------------------------


def test_every_post_of_the_api_documents_the_key_and_the_422():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    posts = {path: item["post"] for path, item in schema["paths"].items() if "post" in item}

    assert posts and all(path.startswith("/api/v1/") for path in posts)
    assert "/api/v1/violations/{uuid}/verify/" in posts
    for path, operation in posts.items():
        [parameter] = [p for p in operation.get("parameters", []) if p["name"] == "Idempotency-Key"]
        assert parameter["in"] == "header" and not parameter["required"], path
        assert parameter["schema"]["maxLength"] == 255
        assert operation["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
        successes = [response for code, response in operation["responses"].items() if code.startswith("2")]
        assert successes and all("Idempotent-Replayed" in response.get("headers", {}) for response in successes), path
    gets = [item["get"] for item in schema["paths"].values() if "get" in item]
    assert not any(p["name"] == "Idempotency-Key" for op in gets for p in op.get("parameters", []))
