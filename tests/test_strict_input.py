"""Strict input, never a 5xx: every bad request is refused with a 4xx in the one error shape, carries X-Request-ID,
and writes nothing (row and history counts unchanged); unknown and read-only fields are refused rather than
dropped; an update that changes nothing writes nothing; agreement parties are writable; and the schema declares
what the API really sends (nulls, error answers)."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from agreements.api.views import ActorViewSet
from agreements.models import (
    Actor,
    Agreement,
    AgreementParty,
    Clause,
    Source,
    Violation,
    ViolationSource,
)
from compliance.api.parsers import MAX_DEPTH
from compliance.request_id import RequestIDFilter
from reports.api.reports import ReportViewSet
from reports.engine.periods import check_period
from reports.models import Assessment, Report
from tests.agreements.test_api import RESOURCES
from tests.api_helpers import assert_error
from tests.factories import ActorFactory, AgreementFactory, ClauseFactory, PlaceFactory, SourceFactory, make_violation

pytestmark = pytest.mark.django_db

VIOLATIONS = "/api/v1/violations/"
REQUEST_ID = re.compile(r"[0-9a-f]{32}")


# --- helpers ----------------------------------------------------------------------------------------------------


def counts() -> dict[str, int]:
    """Rows and history rows of everything a bad request could have written."""
    tally = {}
    for model in (Violation, Source, ViolationSource, Agreement, AgreementParty, Actor, Clause, Assessment, Report):
        tally[model.__name__] = model._base_manager.count()
        if hasattr(model, "history"):
            tally[f"{model.__name__} history"] = model.history.count()
    return tally


def refused(response, status: int, *, code: str | None = None, fields: set[str] | None = None) -> dict:
    """The one error shape, as JSON, with a generated request id."""
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = assert_error(response, status, code=code, fields=fields)
    assert REQUEST_ID.fullmatch(response["X-Request-ID"]), response["X-Request-ID"]
    return error


def with_nested(body: dict, field: str, levels: int) -> str:
    """`body` as JSON text, with `levels` lists one inside the other as the value of `field` (written out by hand:
    json.dumps itself overflows the stack on deep documents)."""
    return json.dumps({**body, field: "@nested@"}).replace('"@nested@"', "[" * levels + "]" * levels)


def cursor(**tokens) -> str:
    return base64.b64encode(urlencode(tokens).encode()).decode()


@pytest.fixture
def record(api):
    """A violation reported by the monitor (with a source and a perpetrator, so it can be verified)."""
    agreement = AgreementFactory(slug="accord")
    clause = ClauseFactory(agreement=agreement, number="1")
    violation = make_violation(
        user=api.user("monitor"),
        agreement=agreement,
        clauses=[clause],
        perpetrators=[ActorFactory(slug="army")],
        sources=[SourceFactory()],
    )
    return {"agreement": agreement, "clause": clause, "violation": violation}


def violation_body(record, **overrides) -> dict:
    body = {
        "agreement": record["agreement"].slug,
        "category": Violation.Category.SHELLING,
        "description": "Shelling of the town.",
        "started_at": "2019-05-06T04:00:00Z",
        "place": PlaceFactory().pk,
    }
    return {**body, **overrides}


def detail(violation) -> str:
    return f"{VIOLATIONS}{violation.uuid}/"


def etag(client, violation) -> str:
    return client.get(detail(violation))["ETag"]


# --- bodies: depth, size, NUL, numbers, encoding, content type -------------------------------------------------------


@pytest.mark.parametrize("levels", [10_000, MAX_DEPTH + 1])
def test_json_nested_past_the_cap_is_400_and_writes_nothing(api, record, levels):
    before = counts()
    body = with_nested(violation_body(record), "description", levels - 1)

    response = api.client("monitor").generic("POST", VIOLATIONS, body, content_type="application/json")

    error = refused(response, 400, code="parse_error")
    assert str(MAX_DEPTH) in error["message"]
    assert counts() == before


def test_a_whole_body_nested_10000_deep_is_400_on_every_kind_of_write(api, record):
    deep = "[" * 10_000 + "]" * 10_000
    before = counts()
    client = api.client("admin")
    writes = [
        ("POST", "/api/v1/actors/"),
        ("PATCH", f"/api/v1/agreements/{record['agreement'].slug}/"),
        ("POST", "/api/v1/reports/"),
        ("POST", f"{detail(record['violation'])}retract/"),
    ]
    for method, url in writes:
        refused(client.generic(method, url, deep, content_type="application/json"), 400, code="parse_error")
    assert counts() == before


def test_json_at_the_cap_is_parsed(api, record):
    # MAX_DEPTH containers in all (the body is one): parsed, then refused by the field, not by the parser.
    body = with_nested(violation_body(record), "description", MAX_DEPTH - 1)

    response = api.client("monitor").generic("POST", VIOLATIONS, body, content_type="application/json")

    refused(response, 400, code="invalid", fields={"description"})


def test_a_body_over_the_upload_cap_is_413_and_writes_nothing(api, record):
    before = counts()
    body = json.dumps(violation_body(record, description="x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE))

    response = api.client("monitor").generic("POST", VIOLATIONS, body, content_type="application/json")

    error = refused(response, 413, code="too_large")
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in error["message"]
    assert counts() == before


def test_a_form_over_the_upload_cap_is_413_in_the_admin_too(db):
    # Django reads the admin's forms itself; its RequestDataTooBig (a "400") is answered 413, as an HTML page.
    response = Client().post("/admin/login/", {"username": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "password": "x"})

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert REQUEST_ID.fullmatch(response["X-Request-ID"])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"description": "Shelling\x00of the town."}, "description"),
        ({"new_sources": [{"publisher": "P", "title": "T", "kind": "news_report", "note": "a\x00b"}]}, "new_sources"),
        ({"perpetrators": ["army\x00"]}, "perpetrators"),
    ],
)
def test_a_nul_character_in_a_body_string_is_400_naming_the_field(api, record, overrides, field):
    before = counts()

    response = api.client("monitor").post(VIOLATIONS, violation_body(record, **overrides), format="json")

    refused(response, 400, code="invalid", fields={field})
    assert counts() == before


def test_a_nul_character_in_a_key_is_400(api, record):
    before = counts()

    response = api.client("monitor").post(VIOLATIONS, {**violation_body(record), "desc\x00": "x"}, format="json")

    refused(response, 400, code="invalid")
    assert counts() == before


@pytest.mark.parametrize("body", ['{"latitude": NaN}', '{"latitude": Infinity}', '{"latitude": 1e999}'])
def test_numbers_json_cannot_hold_or_we_cannot_store_are_400(api, record, body):
    before = counts()

    response = api.client("monitor").generic("POST", VIOLATIONS, body, content_type="application/json")

    refused(response, 400, code="parse_error")
    assert counts() == before


def test_an_integer_past_20_digits_is_400_naming_its_field(api, record):
    before = counts()
    body = json.dumps(violation_body(record)).replace("{", '{"killed_best": 1' + "0" * 30 + ", ", 1)

    response = api.client("monitor").generic("POST", VIOLATIONS, body, content_type="application/json")

    error = refused(response, 400, code="invalid", fields={"killed_best"})
    assert "out of range" in error["message"]
    assert counts() == before


def test_a_body_that_is_not_utf8_is_400(api, record):
    response = api.client("monitor").generic(
        "POST", VIOLATIONS, b'{"description": "\xff\xfe"}', content_type="application/json"
    )

    refused(response, 400, code="parse_error")


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_a_body_that_is_not_json_is_415(api, record, content_type):
    before = counts()

    response = api.client("monitor").generic("POST", VIOLATIONS, "description=x", content_type=content_type)

    refused(response, 415, code="unsupported_media_type")
    assert counts() == before


# --- URLs: NUL, ids, unmatched paths, trailing slashes -----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/violations/?search=a%00b",
        "/api/v1/violations/?actor=army%00",
        "/api/v1/actors/?part_of=%00",
        "/api/v1/agreements/acc%00ord/",
        "/api/v1/agreements/acc%00ord/compliance?from=2019-05-01&to=2019-05-31",
    ],
)
def test_a_nul_character_in_an_api_url_is_400(api, record, url):
    refused(api.client("analyst").get(url), 400, code="bad_request")


def test_a_nul_character_in_an_admin_url_is_400_as_a_page(admin_client):
    response = admin_client.get("/admin/agreements/actor/?q=%00")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


DETAIL_PREFIXES = [
    "actors",
    "clauses",
    "zones",
    "places",
    "patrols",
    "route-statuses",
    "control-changes",
    "assessments",
    "reports",
]


@pytest.mark.parametrize("prefix", DETAIL_PREFIXES)
@pytest.mark.parametrize("key", ["abc", "1.5", "-1", "²", "9" * 25, "1e3"])
def test_a_non_integer_id_on_a_detail_route_is_a_json_404(api, prefix, key):
    refused(api.client("admin").get(f"/api/v1/{prefix}/{quote(key)}/"), 404, code="not_found")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/violations/not-a-uuid/",
        "/api/v1/violations/------------------------------------/",
        "/api/v1/violations/ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ/verify/",
        "/api/v1/agreements/no%20spaces/",
        "/api/v1/reports/1/download/extra/",
    ],
)
def test_a_malformed_key_is_a_json_404(api, url):
    refused(api.client("admin").get(url), 404, code="not_found")


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize("url", ["/api/", "/api/v2/actors/", "/api/v1/nothing/", "/api/v1/nothing", "/api/x"])
def test_an_unmatched_api_url_is_a_json_404(api, method, url):
    response = getattr(api.client("admin"), method)(url)

    refused(response, 404, code="not_found")


def test_an_unmatched_url_outside_the_api_stays_an_html_page(db):
    response = Client().get("/nothing/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert REQUEST_ID.fullmatch(response["X-Request-ID"])


def test_a_get_without_the_trailing_slash_is_redirected_with_its_query(api):
    response = api.client("analyst").get("/api/v1/actors?search=army")

    assert response.status_code == 301
    assert response["Location"] == "/api/v1/actors/?search=army"


def test_another_method_without_the_trailing_slash_is_redirected_keeping_it(api):
    # 308 keeps the method and the body (a 301 turns a POST into a GET); nothing is written by the redirect itself.
    before = counts()

    response = api.client("admin").post("/api/v1/actors", {"slug": "a", "name": "A", "kind": "state_force"})

    assert response.status_code == 308
    assert response["Location"] == "/api/v1/actors/"
    assert counts() == before


@pytest.mark.parametrize("slash", ["", "/"])
def test_review_steps_answer_with_or_without_the_trailing_slash(api, record, slash):
    violation = record["violation"]
    reviewer = api.client("reviewer")

    verified = reviewer.post(f"{detail(violation)}verify{slash}", {"note": "Two sources."})
    assert verified.status_code == 200, verified.content
    assert verified.json()["status"] == "verified"
    for step, body, status in [
        ("dispute", {}, "disputed"),
        ("reopen", {}, "reported"),
        ("reject", {}, "rejected"),
    ]:
        response = reviewer.post(f"{detail(violation)}{step}{slash}", body)
        assert response.status_code == 200, (step, response.content)
        assert response.json()["status"] == status
    retracted = reviewer.post(f"{detail(violation)}retract{slash}", {"reason": "Duplicate."})
    assert retracted.status_code == 200, retracted.content
    assert retracted.json()["retracted"] is True

    history = reviewer.get(f"{detail(violation)}history{slash}")
    assert history.status_code == 200
    assert len(history.json()) == 6  # created, five steps


def test_a_review_step_without_the_slash_keeps_its_rules(api, record):
    # Same view: the reporter may not verify their own entry, with or without the slash.
    before = counts()

    response = api.client("monitor").post(f"{detail(record['violation'])}verify", {})

    refused(response, 403)
    assert counts() == before


# --- the one error shape, request ids and log lines --------------------------------------------------------------


@pytest.mark.parametrize("incoming", ["3f2c1a9e-0d4b-4c1e-9a7e-1b2c3d4e5f60", "req.42:edge-7", "A" * 128])
def test_a_sane_incoming_request_id_is_sent_back(api, incoming):
    response = api.client("analyst").get("/api/v1/actors/", HTTP_X_REQUEST_ID=incoming)

    assert response.status_code == 200
    assert response["X-Request-ID"] == incoming


@pytest.mark.parametrize("incoming", ["", "two words", "A" * 129, "-leading-dash", "a\tb", "id;drop", "é"])
def test_an_unusable_incoming_request_id_is_replaced(api, incoming):
    response = api.client("analyst").get("/api/v1/nothing/", HTTP_X_REQUEST_ID=incoming)

    refused(response, 404)
    assert response["X-Request-ID"] != incoming


def test_each_request_gets_its_own_id(api):
    client = api.client("analyst")

    ids = {client.get("/api/v1/actors/")["X-Request-ID"] for _ in range(3)}

    assert len(ids) == 3


def test_a_method_not_allowed_is_405_in_the_error_shape(api, record):
    before = counts()

    refused(api.client("admin").delete(detail(record["violation"])), 405, code="method_not_allowed")
    assert counts() == before


@pytest.fixture
def console():
    """The configured console handler (settings.LOGGING), writing into a buffer for the test."""
    [handler] = [h for h in logging.getLogger().handlers if any(isinstance(f, RequestIDFilter) for f in h.filters)]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_a_500_in_a_view_is_json_and_its_log_line_names_the_request(api, console, monkeypatch):
    def broken(self, request, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(ActorViewSet, "list", broken)

    response = api.client("analyst").get("/api/v1/actors/", HTTP_X_REQUEST_ID="trace-500")

    error = refused_with_id(response, 500, "trace-500")
    assert error["code"] == "server_error"
    assert "boom" not in error["message"]
    logged = console.getvalue()
    assert "[trace-500]" in logged and "RuntimeError: boom" in logged


def test_a_500_outside_a_drf_view_is_json_under_the_api(api, console, monkeypatch):
    def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr("compliance.views._slashed_route_exists", broken)
    client = APIClient(raise_request_exception=False)

    response = client.get("/api/v1/nothing", HTTP_X_REQUEST_ID="trace-handler500")

    error = refused_with_id(response, 500, "trace-handler500")
    assert error["code"] == "server_error"
    assert "[trace-handler500]" in console.getvalue()


def test_django_logs_a_4xx_after_the_middleware_with_the_request_id(api, console):
    api.client("analyst").get("/api/v1/nothing/", HTTP_X_REQUEST_ID="trace-404")

    [line] = [line for line in console.getvalue().splitlines() if "Not Found: /api/v1/nothing/" in line]
    assert "[trace-404]" in line


def refused_with_id(response, status: int, request_id: str) -> dict:
    assert response["X-Request-ID"] == request_id
    return assert_error(response, status)


def test_too_many_query_parameters_is_400_not_500(api):
    query = "&".join(f"p{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    refused(api.client("analyst").get(f"/api/v1/actors/?{query}"), 400)


# --- unknown and read-only fields -------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_an_unknown_field_is_refused_on_create_naming_it(api, resource):
    payload = resource.payload()
    before = counts()

    response = api.client(resource.writer).post(resource.list_url(), {**payload, "colour": "red"})

    error = refused(response, 400, code="invalid", fields={"colour"})
    assert set(error["fields"]) == {"colour"}
    assert counts() == before


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_an_unknown_or_read_only_field_is_refused_on_update_naming_it(api, resource):
    instance = resource.build(api)
    client = api.client(resource.writer)
    headers = {"HTTP_IF_MATCH": client.get(resource.detail_url(instance))["ETag"]}
    before = counts()

    response = client.patch(
        resource.detail_url(instance), {**resource.change, "colour": "red", "created_at": 1}, **headers
    )

    refused(response, 400, code="invalid", fields={"colour", "created_at"})
    assert counts() == before


@pytest.mark.parametrize(
    ("extra", "fields"),
    [
        ({"status": "verified"}, {"status"}),
        ({"id": "00000000-0000-0000-0000-000000000000", "version": 7}, {"id", "version"}),
        ({"sources": [{"id": 1}]}, {"sources"}),
        ({"perpetrator": ["army"]}, {"perpetrator"}),  # a typo of `perpetrators`
        ({"new_sources": [{"publisher": "P", "title": "T", "kind": "news_report", "page": 3}]}, {"new_sources"}),
    ],
)
def test_a_violation_body_with_fields_it_cannot_take_writes_nothing(api, record, extra, fields):
    before = counts()

    response = api.client("monitor").post(VIOLATIONS, violation_body(record, **extra))

    refused(response, 400, code="invalid", fields=fields)
    assert counts() == before


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("verify/", {"note": "ok", "notes": "typo"}, "notes"),
        ("retract/", {"reason": "Duplicate.", "why": "x"}, "why"),
    ],
)
def test_a_review_step_refuses_unknown_fields(api, record, url, body, field):
    before = counts()

    response = api.client("reviewer").post(f"{detail(record['violation'])}{url}", body)

    refused(response, 400, code="invalid", fields={field})
    assert counts() == before


def test_an_agreement_refuses_its_read_only_clauses(api):
    before = counts()

    response = api.client("admin").post(
        "/api/v1/agreements/", {"slug": "new", "title": "New", "clauses": [{"number": "1"}]}
    )

    refused(response, 400, code="invalid", fields={"clauses"})
    assert counts() == before


def test_reports_and_assessments_refuse_unknown_fields(api, record):
    before = counts()
    client = api.client("analyst")

    report = client.post("/api/v1/reports/", {"agreement": "accord", "from": "2019-05-01", "to": "2019-05-31", "x": 1})
    assessment = client.post(
        "/api/v1/assessments/",
        {
            "clause": record["clause"].pk,
            "period_start": "2019-05-01",
            "period_end": "2019-05-31",
            "status": "not_assessed",
            "rationale": "Not looked at.",
            "computed_status": "compliant",
        },
    )

    refused(report, 400, code="invalid", fields={"x"})
    refused(assessment, 400, code="invalid", fields={"computed_status"})
    assert counts() == before


# --- agreement parties ------------------------------------------------------------------------------------------


def parties_of(agreement) -> set[tuple[str, str]]:
    return set(AgreementParty.objects.filter(agreement=agreement).values_list("actor__slug", "role"))


def test_an_agreement_is_created_with_its_parties_by_id_or_slug(api):
    russia, turkey = ActorFactory(slug="russia"), ActorFactory(slug="turkey")

    response = api.client("admin").post(
        "/api/v1/agreements/",
        {
            "slug": "memo",
            "title": "Memorandum",
            "parties": [
                {"actor": "russia", "role": "signatory"},
                {"actor": turkey.pk, "role": "signatory"},
                {"actor": "russia", "role": "guarantor"},
            ],
        },
    )

    assert response.status_code == 201, response.content
    assert {(p["actor"]["slug"], p["role"]) for p in response.json()["parties"]} == {
        ("russia", "signatory"),
        ("turkey", "signatory"),
        ("russia", "guarantor"),
    }
    assert parties_of(Agreement.objects.get(slug="memo")) == {
        ("russia", "signatory"),
        ("turkey", "signatory"),
        (russia.slug, "guarantor"),
    }


def test_a_patch_replaces_the_parties_and_records_who_changed_them(api):
    agreement = AgreementFactory(slug="memo")
    AgreementParty.objects.create(agreement=agreement, actor=ActorFactory(slug="russia"), role="signatory")
    ActorFactory(slug="turkey")
    client = api.client("admin")
    history = agreement.history.count()
    listed = client.get("/api/v1/agreements/")["ETag"]

    response = client.patch("/api/v1/agreements/memo/", {"parties": [{"actor": "turkey", "role": "guarantor"}]})

    assert response.status_code == 200, response.content
    assert [(p["actor"]["slug"], p["role"]) for p in response.json()["parties"]] == [("turkey", "guarantor")]
    assert parties_of(agreement) == {("turkey", "guarantor")}
    latest = agreement.history.latest("history_date")
    assert agreement.history.count() == history + 1
    assert latest.history_user == api.user("admin")
    assert latest.history_change_reason == "parties: +turkey (guarantor), -russia (signatory)"
    # The list's ETag follows the agreement's updated_at: a client holding the old list must not get a 304.
    assert client.get("/api/v1/agreements/", HTTP_IF_NONE_MATCH=listed).status_code == 200


def test_an_update_without_parties_keeps_them(api):
    agreement = AgreementFactory(slug="memo")
    AgreementParty.objects.create(agreement=agreement, actor=ActorFactory(slug="russia"), role="signatory")

    response = api.client("admin").patch("/api/v1/agreements/memo/", {"title": "Renamed"})

    assert response.status_code == 200, response.content
    assert parties_of(agreement) == {("russia", "signatory")}


@pytest.mark.parametrize(
    "parties",
    [
        [{"actor": "nobody", "role": "signatory"}],
        [{"actor": "russia", "role": "emperor"}],
        [{"actor": "russia"}],
        [{"actor": "russia", "role": "signatory", "since": "2018"}],
        [{"actor": "russia", "role": "signatory"}, {"actor": "russia", "role": "signatory"}],
        {"actor": "russia", "role": "signatory"},
    ],
)
def test_bad_parties_are_400_and_change_nothing(api, parties):
    agreement = AgreementFactory(slug="memo")
    AgreementParty.objects.create(agreement=agreement, actor=ActorFactory(slug="russia"), role="guarantor")
    before = counts()

    response = api.client("admin").patch("/api/v1/agreements/memo/", {"title": "Renamed", "parties": parties})

    refused(response, 400, code="invalid", fields={"parties"})
    assert counts() == before
    assert parties_of(agreement) == {("russia", "guarantor")}
    assert Agreement.objects.get(pk=agreement.pk).title == agreement.title


def test_only_admins_write_parties(api):
    AgreementFactory(slug="memo")
    ActorFactory(slug="russia")
    before = counts()

    response = api.client("analyst").patch(
        "/api/v1/agreements/memo/", {"parties": [{"actor": "russia", "role": "signatory"}]}
    )

    refused(response, 403)
    assert counts() == before


# --- updates that change nothing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("same", [False, True], ids=["empty", "same values"])
def test_a_violation_patch_that_changes_nothing_writes_nothing(api, record, same):
    violation = record["violation"]
    client = api.client("monitor")
    stored = Violation.objects.get(pk=violation.pk)
    body = {}
    if same:
        body = {
            "description": stored.description,
            "started_at": stored.started_at.isoformat(),
            "perpetrators": ["army"],
            "clauses": [record["clause"].pk],
            "place": stored.place_id,
        }
    tag = etag(client, violation)
    before = counts()

    response = client.patch(detail(violation), body, HTTP_IF_MATCH=tag)

    assert response.status_code == 200, response.content
    assert response["ETag"] == tag
    assert response.json()["version"] == 1
    assert counts() == before
    after = Violation.objects.get(pk=violation.pk)
    assert (after.version, after.updated_at, after.updated_by_id) == (1, stored.updated_at, None)


def test_a_violation_patch_that_changes_nothing_still_refuses_a_stale_if_match(api, record):
    violation = record["violation"]
    client = api.client("monitor")
    stale = etag(client, violation)
    client.patch(detail(violation), {"description": "Edited."}, HTTP_IF_MATCH=stale)
    before = counts()

    response = client.patch(detail(violation), {}, HTTP_IF_MATCH=stale)

    refused(response, 412)
    assert counts() == before


def test_a_violation_patch_changing_one_value_still_writes(api, record):
    violation = record["violation"]
    client = api.client("monitor")
    history = Violation.history.count()

    response = client.patch(detail(violation), {"description": "Edited."}, HTTP_IF_MATCH=etag(client, violation))

    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    assert Violation.history.count() == history + 1


@pytest.mark.parametrize("resource", [r for r in RESOURCES if r.path != "violations"], ids=str)
def test_a_record_patch_that_changes_nothing_writes_nothing(api, resource):
    instance = resource.build(api)
    client = api.client(resource.writer)
    detail = client.get(resource.detail_url(instance))
    shown = detail.json()
    # Versioned records (places, zones, clauses) are edited with the ETag read.
    headers = {"HTTP_IF_MATCH": detail["ETag"]} if "version" in shown else {}
    # The change body's fields, sent with the values the record already has.
    same = {name: shown[name] for name in resource.change}
    updated_at = type(instance)._base_manager.get(pk=instance.pk).updated_at
    before = counts()
    history = type(instance).history.count()

    empty = client.patch(resource.detail_url(instance), {}, **headers)
    unchanged = client.patch(resource.detail_url(instance), same, **headers)

    assert (empty.status_code, unchanged.status_code) == (200, 200), (empty.content, unchanged.content)
    assert empty.json() == unchanged.json() == shown
    assert counts() == before
    assert type(instance).history.count() == history
    assert type(instance)._base_manager.get(pk=instance.pk).updated_at == updated_at


def test_an_agreement_patch_with_the_same_parties_writes_nothing(api):
    agreement = AgreementFactory(slug="memo")
    AgreementParty.objects.create(agreement=agreement, actor=ActorFactory(slug="russia"), role="signatory")
    before = counts()

    response = api.client("admin").patch(
        "/api/v1/agreements/memo/", {"title": agreement.title, "parties": [{"actor": "russia", "role": "signatory"}]}
    )

    assert response.status_code == 200, response.content
    assert counts() == before


def test_an_assessment_patch_that_changes_nothing_writes_nothing(api, record):
    client = api.client("analyst")
    created = client.post(
        "/api/v1/assessments/",
        {
            "clause": record["clause"].pk,
            "period_start": "2019-05-01",
            "period_end": "2019-05-31",
            "status": "not_assessed",
            "rationale": "Not looked at.",
        },
    )
    assert created.status_code == 201, created.content
    url = f"/api/v1/assessments/{created.json()['id']}/"
    before = counts()

    response = api.client("admin").patch(url, {"status": "not_assessed", "rationale": "Not looked at. "})

    assert response.status_code == 200, response.content
    assert response.json()["assessed_by"] == "analyst"
    assert counts() == before


# --- cursors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "%%%",
        base64.b64encode(b"\xff\xfe").decode(),
        cursor(o="x"),
        cursor(r="maybe"),
        cursor(p="yesterday"),  # not a time (violations order by -started_at)
        cursor(p="2019-05-06 04:00:00"),  # no time zone
        cursor(p="2019-05-06 04:00:00+16:56"),  # an offset PostgreSQL refuses
        cursor(p="0001-01-01 00:00:00+00:00\x00"),
    ],
)
def test_a_crafted_cursor_is_400_naming_it(api, record, value):
    refused(api.client("analyst").get(VIOLATIONS, {"cursor": value}), 400, code="invalid", fields={"cursor"})


@pytest.mark.parametrize("position", ["abc", "1.5", "9" * 5000])
def test_a_crafted_cursor_position_for_an_id_ordering_is_400(api, record, position):
    response = api.client("analyst").get(VIOLATIONS, {"ordering": "id", "cursor": cursor(p=position)})

    refused(response, 400, code="invalid", fields={"cursor"})


def test_a_cursor_past_a_null_position_says_why_it_cannot_page(api, record):
    # DRF's own `next` link after rows ordered by a nullable field carries the position "None"; it cannot filter
    # past it. Known limitation: a 400 that says so, not a 500 from comparing a number with "None".
    response = api.client("analyst").get(VIOLATIONS, {"ordering": "killed_best", "cursor": cursor(p="None")})

    error = refused(response, 400, code="invalid", fields={"cursor"})
    assert "killed_best" in error["message"]


def test_the_cursors_the_api_gives_still_work(api, record):
    for day in (7, 8):
        make_violation(
            user=api.user("monitor"), agreement=record["agreement"], started_at=datetime(2019, 5, day, tzinfo=UTC)
        )
    client = api.client("analyst")

    first = client.get(VIOLATIONS, {"page_size": 2})
    second = client.get(first.json()["next"])
    back = client.get(second.json()["previous"])

    assert second.status_code == back.status_code == 200
    assert len(second.json()["results"]) == 1
    assert back.json()["results"] == first.json()["results"]


# --- times and periods --------------------------------------------------------------------------------------------


def test_updated_since_takes_any_offset_python_reads_as_utc(api, record):
    changed = Violation.objects.get(pk=record["violation"].pk).updated_at
    client = api.client("analyst")
    # The same instant as `changed` minus a second, written with +16:56 (PostgreSQL refuses such an offset itself).
    since = (changed - timedelta(seconds=1)).astimezone(timezone.get_fixed_timezone(16 * 60 + 56))
    later = (changed + timedelta(seconds=1)).astimezone(timezone.get_fixed_timezone(-(11 * 60 + 30)))

    included = client.get(VIOLATIONS, {"updated_since": since.isoformat()})
    excluded = client.get(VIOLATIONS, {"updated_since": later.isoformat()})

    assert included.status_code == excluded.status_code == 200, included.content
    assert [row["id"] for row in included.json()["results"]] == [str(record["violation"].uuid)]
    assert excluded.json()["results"] == []


@pytest.mark.parametrize(
    ("url", "value"),
    [
        (VIOLATIONS, "0001-01-01T00:00:00+01:00"),  # before year 1 in UTC
        (VIOLATIONS, "9999-12-31T23:59:59-05:00"),  # after year 9999 in UTC
        (VIOLATIONS, "1850-01-01T00:00:00Z"),
        (VIOLATIONS, "2019-13-01T00:00:00Z"),
        (VIOLATIONS, "2019-05-01T00:00:00+25:00"),
        ("/api/v1/actors/", "yesterday"),
        ("/api/v1/assessments/", "0001-01-01T00:00:00+16:56"),
        ("/api/v1/stats/violations", "9999-12-31T23:59:59-05:00"),
    ],
)
def test_a_bad_or_out_of_range_updated_since_is_400(api, record, url, value):
    refused(api.client("analyst").get(url, {"updated_since": value}), 400, code="invalid", fields={"updated_since"})


EDGE_PERIODS = [("0001-01-01", "9999-12-31"), ("9999-12-31", "9999-12-31"), ("1899-12-31", "2019-01-01")]


@pytest.mark.parametrize(("start", "end"), EDGE_PERIODS)
@pytest.mark.parametrize("path", ["compliance", "compliance/timeline"])
def test_a_compliance_period_outside_the_accepted_dates_is_400(api, record, path, start, end):
    response = api.client("analyst").get(f"/api/v1/agreements/accord/{path}", {"from": start, "to": end})

    refused(response, 400, code="invalid")
    assert set(refused(response, 400)["fields"]) <= {"from", "to"}


@pytest.mark.parametrize(("start", "end"), EDGE_PERIODS)
def test_stats_and_lists_refuse_dates_outside_the_accepted_ones(api, record, start, end):
    client = api.client("analyst")
    params = {"occurred_after": start, "occurred_before": end, "group_by": "week"}

    refused(client.get("/api/v1/stats/violations", params), 400, code="invalid")
    refused(client.get(VIOLATIONS, {"occurred_after": start, "occurred_before": end}), 400, code="invalid")
    refused(client.get("/api/v1/clauses/", {"deadline_after": start}), 400, code="invalid")


@pytest.mark.parametrize(("start", "end"), EDGE_PERIODS)
def test_a_report_or_assessment_period_outside_the_accepted_dates_is_400_and_writes_nothing(api, record, start, end):
    client = api.client("analyst")
    before = counts()

    report = client.post("/api/v1/reports/", {"agreement": "accord", "from": start, "to": end})
    assessment = client.post(
        "/api/v1/assessments/",
        {
            "clause": record["clause"].pk,
            "period_start": start,
            "period_end": end,
            "status": "not_assessed",
            "rationale": "x",
        },
    )

    assert set(refused(report, 400, code="invalid")["fields"]) <= {"from", "to"}
    assert set(refused(assessment, 400, code="invalid")["fields"]) <= {"period_start", "period_end"}
    assert counts() == before


def test_the_edges_of_the_accepted_dates_are_accepted(api, record):
    response = api.client("analyst").get(
        "/api/v1/agreements/accord/compliance", {"from": "1900-01-01", "to": "2100-12-31"}
    )

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(("start", "end"), [(d, d) for d in (datetime(1, 1, 1).date(), datetime(9999, 12, 31).date())])
def test_the_engine_refuses_a_period_outside_the_accepted_dates(start, end):
    with pytest.raises(ValueError, match="outside the dates"):
        check_period(start, end)


# --- the schema tells the truth -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def resolve(openapi, node: dict) -> dict:
    while "$ref" in node:
        node = openapi["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def admits_null(openapi, node: dict) -> bool:
    if node.get("nullable"):
        return True
    node = resolve(openapi, node)
    if node.get("nullable") or None in node.get("enum", []):
        return True
    return any(admits_null(openapi, option) for key in ("allOf", "oneOf", "anyOf") for option in node.get(key, []))


def undeclared_nulls(openapi, node: dict, value, where: str) -> list[str]:
    """Paths in `value` holding null where the schema `node` does not admit null."""
    if value is None:
        return [] if admits_null(openapi, node) else [where]
    node = resolve(openapi, node)
    for combined in ("allOf", "oneOf", "anyOf"):
        if combined in node:
            return min((undeclared_nulls(openapi, option, value, where) for option in node[combined]), key=len)
    if isinstance(value, dict):
        problems = []
        for key, item in value.items():
            child = node.get("properties", {}).get(key) or node.get("additionalProperties")
            if isinstance(child, dict):
                problems += undeclared_nulls(openapi, child, item, f"{where}.{key}")
        return problems
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [
            p for i, item in enumerate(value) for p in undeclared_nulls(openapi, node["items"], item, f"{where}[{i}]")
        ]
    return []


def response_schema(openapi, path: str, status: str = "200") -> dict:
    return openapi["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"]


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_every_null_a_detail_sends_is_declared_nullable(api, openapi, resource):
    instance = resource.build(api)
    body = api.client("admin").get(resource.detail_url(instance)).json()
    key = {"slug": "{slug}", "uuid": "{uuid}"}.get(resource.lookup, "{id}")

    schema = response_schema(openapi, f"/api/v1/{resource.path}/{key}/")

    assert undeclared_nulls(openapi, schema, body, resource.path) == []


def test_an_unreviewed_violation_outside_any_zone_has_nulls_the_schema_declares(api, openapi, record):
    body = api.client("analyst").get(detail(record["violation"])).json()
    assert body["zone"] is None and body["verified_by"] is None

    schema = response_schema(openapi, "/api/v1/violations/{uuid}/")

    assert undeclared_nulls(openapi, schema, body, "violation") == []
    violation = resolve(openapi, schema)["properties"]
    assert violation["zone"]["nullable"] is True
    assert violation["verified_by"]["nullable"] is True


def test_reports_and_assessments_send_only_declared_nulls(api, openapi, record):
    client = api.client("analyst")
    report = client.post("/api/v1/reports/", {"agreement": "accord", "from": "2019-05-01", "to": "2019-05-31"})
    assessment = client.post(
        "/api/v1/assessments/",
        {
            "clause": record["clause"].pk,
            "period_start": "2019-05-01",
            "period_end": "2019-05-31",
            "status": "not_assessed",
            "rationale": "x",
        },
    )
    assert (report.status_code, assessment.status_code) == (201, 201)

    for path, body in [
        ("/api/v1/reports/{id}/", client.get(f"/api/v1/reports/{report.json()['id']}/").json()),
        ("/api/v1/assessments/{id}/", client.get(f"/api/v1/assessments/{assessment.json()['id']}/").json()),
    ]:
        assert undeclared_nulls(openapi, response_schema(openapi, path), body, path) == []


def error_codes(openapi, path: str, method: str) -> dict[str, dict]:
    return {
        code: response
        for code, response in openapi["paths"][path][method]["responses"].items()
        if code.isdigit() and int(code) >= 400
    }


def test_every_error_answer_documented_has_the_error_shape_as_json(openapi):
    checked = 0
    for path, item in openapi["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method in item:
            for code, response in error_codes(openapi, path, method).items():
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, (
                    path,
                    method,
                    code,
                )
                checked += 1
    assert checked > 300


@pytest.mark.parametrize(
    ("path", "method", "codes", "absent"),
    [
        ("/api/v1/violations/", "post", {"400", "401", "403", "409", "413", "415"}, {"404", "412", "428"}),
        ("/api/v1/violations/{uuid}/", "patch", {"404", "412", "413", "415", "428"}, set()),
        ("/api/v1/violations/{uuid}/verify/", "post", {"404", "412", "413", "415"}, {"428"}),
        ("/api/v1/assessments/{id}/", "put", {"404", "412", "413", "415"}, {"428"}),
        ("/api/v1/actors/", "get", {"400", "401", "403"}, {"404", "412", "413", "415", "428"}),
        ("/api/v1/actors/{id}/", "get", {"404"}, {"413", "415"}),
        ("/api/v1/reports/", "post", {"400", "413", "415"}, {"404"}),
    ],
)
def test_the_schema_documents_the_errors_each_operation_can_answer(openapi, path, method, codes, absent):
    documented = set(error_codes(openapi, path, method))

    assert codes <= documented
    assert not absent & documented


@pytest.mark.parametrize(
    ("path", "method", "view"),
    [("/api/v1/actors/", "get", ActorViewSet), ("/api/v1/reports/", "post", ReportViewSet)],
)
def test_429_is_documented_exactly_where_a_throttle_applies(openapi, path, method, view):
    assert ("429" in error_codes(openapi, path, method)) == bool(view().get_throttles())


def test_agreement_parties_are_writable_in_the_schema(openapi):
    request = openapi["components"]["schemas"]["AgreementRequest"]["properties"]["parties"]
    party = resolve(openapi, request["items"])

    assert set(party["required"]) == {"actor", "role"}
    assert {option["type"] for option in party["properties"]["actor"]["oneOf"]} == {"integer", "string"}
