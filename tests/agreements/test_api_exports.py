"""The violations endpoint's exports through the whole request stack: CSV from COPY on PostgreSQL (the Python
path's bytes, filters and ordering included), GeoJSON streamed, and row limits answered with a 400 up front."""

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import RequestFactory

from agreements.exports import ACLED_COLUMNS, VIOLATION_COLUMNS, copy_sql, iter_csv
from agreements.models import Violation
from compliance.tokens import token_issue
from tests.api_helpers import assert_error
from tests.factories import ActorFactory, AgreementFactory, SourceFactory, make_violation

URL = "/api/v1/violations/"
ON_POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def violations(api):
    agreement = AgreementFactory(slug="sochi")
    monitor = api.user("monitor")
    actors = [ActorFactory(name="Zeta Brigade"), ActorFactory(name="alpha Army"), ActorFactory(name="=Evil")]
    made = []
    for n in range(6):
        made.append(
            make_violation(
                user=monitor,
                agreement=agreement,
                perpetrators=actors[: n % 3 + 1],
                sources=[SourceFactory(publisher=f"Wire {n % 2}")],
                category=Violation.Category.AIRSTRIKE if n < 2 else Violation.Category.SHELLING,
                description=f'Incident {n}, "quoted"\nsecond line' if n % 2 else f"-{n} dead",
                killed_best=None if n == 3 else n % 3,
                started_at=datetime(2019, 5, 1 + n, tzinfo=UTC),
            )
        )
    return made


def read_back(data: bytes) -> list[dict[str, str]]:
    text = data.decode()
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def body(response) -> bytes:
    assert response.status_code == 200, getattr(response, "content", b"")[:300]
    assert response.streaming
    return b"".join(response.streaming_content)


@pytest.fixture
def copy_calls(monkeypatch):
    """The querysets the COPY path was asked to export."""
    calls = []
    real = copy_sql.iter_csv_copy

    def spy(queryset, columns):
        calls.append(queryset)
        return real(queryset, columns)

    monkeypatch.setattr(copy_sql, "iter_csv_copy", spy)
    return calls


@pytest.mark.parametrize(("choice", "columns"), [("ours", VIOLATION_COLUMNS), ("acled", ACLED_COLUMNS)])
def test_csv_is_the_python_csv_with_filters_and_ordering(api, violations, copy_calls, choice, columns):
    response = api.client("analyst").get(
        URL, {"format": "csv", "columns": choice, "category": "shelling", "ordering": "killed_best,-started_at"}
    )

    data = body(response)
    expected = Violation.objects.filter(retracted_at__isnull=True, category="shelling").order_by(
        "killed_best", "-started_at"
    )
    assert data == "".join(iter_csv(expected, columns)).encode()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert len(copy_calls) == (1 if ON_POSTGRESQL else 0)
    key, text = ("event_id_cnty", "notes") if choice == "acled" else ("uuid", "description")
    rows = read_back(data)
    assert [row[key] for row in rows] == [str(v.uuid) for v in expected]
    by_uuid = {row[key]: row for row in rows}
    assert by_uuid[str(violations[3].uuid)][text] == 'Incident 3, "quoted"\nsecond line'
    assert by_uuid[str(violations[2].uuid)][text] == "'-2 dead"


# Really committed, with no transaction around the test: closing a response closes the request's database
# connection (returned to the pool on PostgreSQL), as on a server.
@pytest.mark.django_db(transaction=True)
def test_a_csv_cut_short_by_the_client_leaves_the_connection_to_the_next_request(api, violations, monkeypatch):
    monkeypatch.setattr("agreements.exports.csv_files.STREAM_CHUNK_BYTES", 1)
    _, key = token_issue(user=api.user("analyst"), name="wsgi")
    environ = RequestFactory().get(URL, {"format": "csv"}, HTTP_AUTHORIZATION=f"Token {key}").environ
    # As gunicorn drives the app: read two chunks, then the client is gone and the server closes the iterable (PEP
    # 3333). close_old_connections stays out: at the request's end it would end this test's own transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(environ, lambda status, headers: None)
        chunks = iter(response)
        next(chunks)
        next(chunks)
        response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)

    client = api.client("analyst")
    assert len(read_back(body(client.get(URL, {"format": "csv"})))) == len(violations)
    assert client.get(URL).status_code == 200


def test_csv_over_its_limit_is_a_400_before_anything_is_sent(api, violations, settings):
    settings.API_CSV_MAX_ROWS = 5

    response = api.client("analyst").get(URL, {"format": "csv"})

    error = assert_error(response, 400, code="invalid", fields={"format"})
    assert "More than 5" in error["message"] and "filters" in error["message"]
    assert response["Content-Type"].startswith("application/json")
    assert len(read_back(body(api.client("analyst").get(URL, {"format": "csv", "category": "shelling"})))) == 4


def test_geojson_is_streamed(api, violations):
    response = api.client("analyst").get(URL, {"format": "geojson", "columns": "acled"})

    collection = json.loads(body(response))
    assert response["Content-Type"] == "application/geo+json"
    assert collection["type"] == "FeatureCollection"
    assert {feature["id"] for feature in collection["features"]} == {str(v.uuid) for v in violations}
    actors1 = {feature["properties"]["actor1"] for feature in collection["features"]}
    assert actors1 == {"=Evil", "alpha Army", "Zeta Brigade"}  # GeoJSON is not formula-escaped


def test_geojson_over_its_limit_is_a_400_pointing_to_csv(api, violations, settings):
    settings.API_GEOJSON_MAX_ROWS = 4

    response = api.client("analyst").get(URL, {"format": "geojson"})

    error = assert_error(response, 400, code="invalid", fields={"format"})
    assert "GeoJSON" in error["message"] and "CSV" in error["message"]
    narrower = api.client("analyst").get(URL, {"format": "geojson", "category": "shelling"})
    assert len(json.loads(body(narrower))["features"]) == 4
