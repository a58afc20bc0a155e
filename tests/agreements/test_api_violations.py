"""The violations endpoint: recording with sources, who may edit what, If-Match, filters, ordering, pagination,
retracted rows, conditional GETs and the CSV / XLSX / GeoJSON exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.utils import timezone

from agreements import services
from agreements.models import Source, Violation, ViolationSource
from tests.api_helpers import (
    all_pages,
    assert_error,
    count_queries,
    results,
)
from tests.factories import (
    SQUARE,
    ActorFactory,
    AgreementFactory,
    ClauseFactory,
    PlaceFactory,
    SourceFactory,
    ZoneFactory,
    make_violation,
)

pytestmark = pytest.mark.django_db


URL = "/api/v1/violations/"
ACLED_HEADER = [
    "event_date",
    "event_type",
    "actor1",
    "actor2",
    "admin1",
    "admin2",
    "location",
    "latitude",
    "longitude",
    "fatalities",
    "source",
    "notes",
]


def detail(violation) -> str:
    return f"{URL}{violation.uuid}/"


def uuids(rows) -> set[str]:
    return {row["id"] for row in rows}


def ids(*violations) -> set[str]:
    return {str(violation.uuid) for violation in violations}


def retract(violation, user):
    services.violation_retract(violation=violation, user=user, reason="Duplicate of another record.")


def verify(violation, user):
    services.violation_verify(violation=violation, user=user)


def stored(violation) -> dict:
    return Violation.objects.filter(pk=violation.pk).values().get()


@pytest.fixture
def sochi(db):
    """An agreement with a zone (the factories' 1°×1° square), two clauses and the places used around it."""
    agreement = AgreementFactory(slug="sochi")
    ZoneFactory(agreement=agreement, geometry=SQUARE)
    return {
        "agreement": agreement,
        "clause5": ClauseFactory(agreement=agreement, number="5"),
        "clause6": ClauseFactory(agreement=agreement, number="6"),
        "inside": PlaceFactory(name="Kafr Nabl", admin1="Idlib", latitude=Decimal("35.5"), longitude=Decimal("36.5")),
        "outside": PlaceFactory(name="Far Town", admin1="Hama", latitude=Decimal("34.0"), longitude=Decimal("38.0")),
        "saa": ActorFactory(slug="syrian-arab-army", name="Syrian Arab Army"),
    }


def new_violation_body(sochi, **overrides) -> dict:
    body = {
        "agreement": sochi["agreement"].slug,
        "clauses": [sochi["clause5"].pk],
        "category": Violation.Category.SHELLING,
        "description": "Artillery shelling of the town.",
        "started_at": "2019-05-06T04:00:00Z",
        "place": sochi["inside"].pk,
        "perpetrators": ["syrian-arab-army"],
        "killed_low": 1,
        "killed_best": 2,
        "killed_high": 4,
    }
    return {**body, **overrides}


NEW_SOURCES = [
    {
        "publisher": "SOHR",
        "title": "Shelling on Kafr Nabl",
        "kind": Source.Kind.MONITOR_REPORT,
        "url": "https://example.org/sohr/1",
        "reliability": "C",
        "credibility": 3,
    },
    {"publisher": "Example Wire", "title": "Town shelled", "kind": Source.Kind.NEWS_REPORT, "note": "Names victims."},
]


# --- recording --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("place", "in_zone"), [("inside", True), ("outside", False)])
def test_a_monitor_records_a_violation_with_two_new_sources(api, sochi, place, in_zone):
    body = new_violation_body(sochi, place=sochi[place].pk, new_sources=NEW_SOURCES)

    response = api.client("monitor").post(URL, body, format="json")

    assert response.status_code == 201, response.content
    violation = Violation.objects.get()
    assert response.json()["id"] == str(violation.uuid)
    assert violation.reported_by == api.user("monitor")
    assert violation.version == 1
    assert violation.in_zone is in_zone
    assert response.json()["in_zone"] is in_zone
    assert list(violation.perpetrators.all()) == [sochi["saa"]]
    assert list(violation.clauses.all()) == [sochi["clause5"]]
    assert Source.objects.count() == 2
    assert sorted(violation.sources.values_list("publisher", flat=True)) == ["Example Wire", "SOHR"]
    assert [(source["publisher"], source["grade"], source["note"]) for source in response.json()["sources"]] == [
        ("SOHR", "C3", ""),
        ("Example Wire", "F6", "Names victims."),
    ]


def test_a_new_source_with_a_known_url_is_reused(api, sochi):
    known = SourceFactory(url="https://example.org/sohr/1")

    response = api.client("monitor").post(URL, new_violation_body(sochi, new_sources=NEW_SOURCES), format="json")

    assert response.status_code == 201, response.content
    assert Source.objects.count() == 2
    assert known in Violation.objects.get().sources.all()


def test_an_existing_source_is_cited_by_id(api, sochi):
    source = SourceFactory()
    body = new_violation_body(sochi, new_sources=[{"source": source.pk, "note": "p. 3"}])

    response = api.client("monitor").post(URL, body, format="json")

    assert response.status_code == 201, response.content
    assert ViolationSource.objects.get().source == source
    assert Source.objects.count() == 1


@pytest.mark.parametrize("reference", ["slug", "id", "id-as-text"])
def test_perpetrators_are_given_by_id_or_slug(api, sochi, reference):
    actor = sochi["saa"]
    value = {"slug": actor.slug, "id": actor.pk, "id-as-text": str(actor.pk)}[reference]

    response = api.client("monitor").post(URL, new_violation_body(sochi, perpetrators=[value]), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["perpetrators"] == [{"id": actor.pk, "slug": "syrian-arab-army", "name": "Syrian Arab Army"}]


def test_reads_embed_brief_related_objects(api, sochi):
    body = new_violation_body(sochi, new_sources=NEW_SOURCES[:1])
    created = api.client("monitor").post(URL, body, format="json").json()

    read = api.client("analyst").get(f"{URL}{created['id']}/").json()

    assert read["agreement"] == {"slug": "sochi", "title": sochi["agreement"].title}
    assert read["perpetrators"] == [{"id": sochi["saa"].pk, "slug": "syrian-arab-army", "name": "Syrian Arab Army"}]
    assert read["place"] == {"id": sochi["inside"].pk, "name": "Kafr Nabl", "admin1": "Idlib"}
    assert read["clauses"] == [{"id": sochi["clause5"].pk, "number": "5", "title": sochi["clause5"].title}]
    assert read["zone"]["slug"]
    [source] = read["sources"]
    assert (source["publisher"], source["grade"]) == ("SOHR", "C3")
    assert "new_sources" not in read
    assert read == created


@pytest.mark.parametrize(
    ("field", "value"), [("perpetrators", ["no-such-actor"]), ("perpetrators", [999999]), ("agreement", "nope")]
)
def test_an_unknown_slug_or_id_is_400_naming_the_field(api, sochi, field, value):
    client = api.client("monitor")
    client.raise_request_exception = False

    response = client.post(URL, new_violation_body(sochi, **{field: value}), format="json")

    assert_error(response, 400, code="invalid", fields={field})
    assert not Violation.objects.exists()


def test_a_failed_create_writes_neither_the_violation_nor_its_sources(api, sochi):
    foreign_clause = ClauseFactory()
    body = new_violation_body(sochi, clauses=[foreign_clause.pk], new_sources=NEW_SOURCES)

    response = api.client("monitor").post(URL, body, format="json")

    assert_error(response, 400, code="invalid", fields={"clauses"})
    assert not Violation.objects.exists()
    assert not Source.objects.exists()


def test_a_new_source_without_kind_is_400(api, sochi):
    body = new_violation_body(sochi, new_sources=[{"publisher": "SOHR", "title": "No kind"}])

    response = api.client("monitor").post(URL, body, format="json")

    assert_error(response, 400, code="invalid", fields={"new_sources"})
    assert not Violation.objects.exists()


@pytest.mark.parametrize("role", ["monitor", "reviewer", "admin"])
def test_violations_are_never_deleted_405(api, sochi, role):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])

    response = api.client(role).delete(detail(violation))

    assert_error(response, 405, code="method_not_allowed")
    assert Violation.objects.filter(pk=violation.pk).exists()


@pytest.mark.parametrize("role", ["monitor", "reviewer", "admin"])
def test_violations_are_never_deleted(api, sochi, role):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])

    response = api.client(role).delete(detail(violation))

    assert response.status_code in {403, 405}
    assert Violation.objects.filter(pk=violation.pk).exists()
    assert "DELETE" not in api.client(role).options(detail(violation))["Allow"]


# --- who may edit -----------------------------------------------------------------------------------------------


def patch(client, violation, body):
    etag = client.get(detail(violation))["ETag"]
    return client.patch(detail(violation), body, format="json", HTTP_IF_MATCH=etag)


def test_a_monitor_edits_their_own_unverified_violation(api, sochi):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])

    response = patch(api.client("monitor"), violation, {"description": "Corrected.", "killed_best": 7})

    assert response.status_code == 200, response.content
    violation.refresh_from_db()
    assert (violation.description, violation.killed_best, violation.version) == ("Corrected.", 7, 2)
    assert violation.updated_by == api.user("monitor")


def test_a_monitor_cannot_edit_someone_elses_violation(api, sochi):
    violation = make_violation(user=api.user("monitor", name="other-monitor"), agreement=sochi["agreement"])
    before = stored(violation)

    response = patch(api.client("monitor"), violation, {"description": "Not mine."})

    assert_error(response, 403, code="permission_denied")
    assert stored(violation) == before


def test_a_refused_edit_says_why(api, sochi):
    violation = make_violation(user=api.user("monitor", name="other-monitor"), agreement=sochi["agreement"])

    error = assert_error(patch(api.client("monitor"), violation, {"description": "Not mine."}), 403)

    assert "reported" in error["message"]


def test_a_monitor_cannot_edit_their_own_verified_violation(api, sochi):
    violation = make_violation(
        user=api.user("monitor"), agreement=sochi["agreement"], perpetrators=[sochi["saa"]], sources=[SourceFactory()]
    )
    verify(violation, api.user("reviewer"))
    before = stored(violation)

    response = patch(api.client("monitor"), violation, {"description": "After verification."})

    assert_error(response, 403, code="permission_denied")
    assert stored(violation) == before


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_a_reviewer_or_admin_edits_anyones_violation(api, sochi, role):
    violation = make_violation(
        user=api.user("monitor"), agreement=sochi["agreement"], perpetrators=[sochi["saa"]], sources=[SourceFactory()]
    )
    verify(violation, api.user("reviewer", name="another-reviewer"))

    response = patch(api.client(role), violation, {"description": "Reviewed."})

    assert response.status_code == 200, response.content
    assert Violation.objects.get(pk=violation.pk).description == "Reviewed."


def test_an_analyst_cannot_record_or_edit(api, sochi):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])
    client = api.client("analyst")

    assert_error(client.post(URL, new_violation_body(sochi), format="json"), 403)
    assert_error(patch(client, violation, {"description": "No."}), 403)
    assert Violation.objects.count() == 1


def test_a_retracted_violation_stays_readable_by_its_id(api, sochi):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])
    retract(violation, api.user("reviewer"))

    response = api.client("analyst").get(detail(violation))

    assert response.status_code == 200, response.content[:300]
    assert response.json()["retracted"] is True
    assert response.json()["retraction_reason"] == "Duplicate of another record."


def test_a_retracted_violation_cannot_be_edited(api, sochi):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])
    retract(violation, api.user("reviewer"))
    before = stored(violation)
    client = api.client("reviewer")
    read = client.get(detail(violation), {"include_retracted": "true"})
    assert read.json()["retracted"] is True

    response = client.patch(detail(violation), {"description": "Edit."}, format="json", HTTP_IF_MATCH=read["ETag"])

    assert response.status_code in {403, 404}
    assert_error(response, response.status_code)
    assert stored(violation) == before


def test_status_and_computed_fields_are_read_only(api, sochi):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"], place=sochi["outside"])
    history = violation.history.count()

    response = patch(api.client("reviewer"), violation, {"status": "verified", "in_zone": True, "version": 99})

    # Refused and named, rather than dropped with a 200 (which left the client believing it had verified it).
    assert_error(response, 400, code="invalid", fields={"status", "in_zone", "version"})
    violation.refresh_from_db()
    assert (violation.status, violation.in_zone, violation.version) == ("reported", False, 1)
    assert violation.history.count() == history


def test_moving_a_violation_recomputes_in_zone(api, sochi):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"], place=sochi["outside"])
    assert violation.in_zone is False

    response = patch(api.client("monitor"), violation, {"place": sochi["inside"].pk})

    assert response.status_code == 200, response.content
    assert response.json()["in_zone"] is True
    assert Violation.objects.get(pk=violation.pk).in_zone is True


def test_new_sources_cannot_be_added_by_an_update(api, sochi):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])

    response = patch(api.client("monitor"), violation, {"new_sources": NEW_SOURCES})

    assert_error(response, 400, fields={"new_sources"})
    assert not Source.objects.exists()


# --- If-Match ---------------------------------------------------------------------------------------------------


def full_body(violation) -> dict:
    return {
        "agreement": violation.agreement.slug,
        "category": violation.category,
        "description": "Replaced description.",
        "started_at": "2019-05-06T04:00:00Z",
        "place": violation.place_id,
    }


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_update_without_if_match_is_428(api, sochi, method):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])
    before = stored(violation)

    response = getattr(api.client("monitor"), method)(detail(violation), full_body(violation), format="json")

    assert_error(response, 428, code="precondition_required")
    assert stored(violation) == before


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_update_with_a_stale_etag_is_412_and_changes_nothing(api, sochi, method):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])
    client = api.client("monitor")
    version_1 = client.get(detail(violation))["ETag"]
    services.violation_update(
        violation=Violation.objects.get(pk=violation.pk),
        user=api.user("reviewer"),
        expected_version=1,
        description="Saved by the reviewer.",
    )
    before = stored(violation)
    assert before["version"] == 2

    response = getattr(client, method)(detail(violation), full_body(violation), format="json", HTTP_IF_MATCH=version_1)

    assert_error(response, 412, code="precondition_failed")
    assert stored(violation) == before


def test_an_etag_of_another_violation_is_412(api, sochi):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])
    other = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])
    client = api.client("monitor")
    before = stored(violation)

    response = client.patch(
        detail(violation), {"description": "x"}, format="json", HTTP_IF_MATCH=client.get(detail(other))["ETag"]
    )

    assert_error(response, 412)
    assert stored(violation) == before


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_update_with_the_current_etag_succeeds_and_returns_a_new_etag(api, sochi, method):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])
    client = api.client("monitor")
    current = client.get(detail(violation))["ETag"]

    response = getattr(client, method)(detail(violation), full_body(violation), format="json", HTTP_IF_MATCH=current)

    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    assert response["ETag"] != current
    assert response["ETag"] == client.get(detail(violation))["ETag"]
    assert Violation.objects.get(pk=violation.pk).description == "Replaced description."


# --- bad input --------------------------------------------------------------------------------------------------

BAD_INPUT = {
    "killed_low above killed_best": ({"killed_low": 5, "killed_best": 2}, "killed_low"),
    "ended_at before started_at": ({"ended_at": "2019-05-01T00:00:00Z"}, "ended_at"),
    "negative count": ({"displaced": -1}, "displaced"),
    "unknown category": ({"category": "picnic"}, "category"),
    "clause of another agreement": (None, "clauses"),
}
CONSTRAINT_FIELDS = ()


def bad_body(case, sochi) -> dict:
    body, _ = BAD_INPUT[case]
    return body if body is not None else {"clauses": [ClauseFactory().pk]}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_on_update_is_400_and_writes_nothing(api, sochi, case):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"], clauses=[sochi["clause5"]])
    before, clauses = stored(violation), list(violation.clauses.all())

    response = patch(api.client("monitor"), violation, bad_body(case, sochi))

    assert_error(response, 400, code="invalid")
    assert stored(violation) == before
    assert list(violation.clauses.all()) == clauses


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_on_create_is_400_and_writes_nothing(api, sochi, case):
    body = new_violation_body(sochi, new_sources=NEW_SOURCES, **bad_body(case, sochi))

    response = api.client("monitor").post(URL, body, format="json")

    assert_error(response, 400, code="invalid")
    assert not Violation.objects.exists()
    assert not Source.objects.exists()


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=CONSTRAINT_FIELDS)
        if case in {"killed_low above killed_best", "ended_at before started_at"}
        else case
        for case in BAD_INPUT
    ],
)
def test_bad_input_names_the_field(api, sochi, case):
    violation = make_violation(user=api.user("monitor"), agreement=sochi["agreement"])
    _, field = BAD_INPUT[case]

    response = patch(api.client("monitor"), violation, bad_body(case, sochi))

    error = assert_error(response, 400, code="invalid")
    assert field in error["fields"], error


# --- filters ----------------------------------------------------------------------------------------------------
# bbox 36.2,35.2,36.8,35.8: the place "Kafr Nabl" (36.5, 35.5) inside, v3 exactly on its corner, v4 just east of it.
BBOX = "36.2,35.2,36.8,35.8"


@pytest.fixture
def record(api, sochi):
    """Six violations with distinct agreements, clauses, actors, dates, places and statuses; v6 is retracted."""
    other = AgreementFactory(slug="other-agreement")
    other_clause5 = ClauseFactory(agreement=other, number="5")
    hts, turkey = ActorFactory(slug="hts", name="HTS"), ActorFactory(slug="turkey", name="Turkey")
    monitor = api.user("monitor")

    def at(day, hour=12, minute=0):
        return datetime(2019, 5, day, hour, minute, tzinfo=UTC)

    v1 = make_violation(
        user=monitor,
        agreement=sochi["agreement"],
        clauses=[sochi["clause5"]],
        category=Violation.Category.SHELLING,
        perpetrators=[sochi["saa"]],
        description="Shelling of the market",
        started_at=at(6, 4),
        place=sochi["inside"],
        killed_best=3,
    )
    v2 = make_violation(
        user=monitor,
        agreement=sochi["agreement"],
        clauses=[sochi["clause5"], sochi["clause6"]],
        category=Violation.Category.AIRSTRIKE,
        perpetrators=[sochi["saa"], hts],
        affected_actors=[hts],
        description="Airstrike on a convoy",
        started_at=at(7, 23, 59),
        place=sochi["outside"],
        killed_best=5,
    )
    v3 = make_violation(
        user=monitor,
        agreement=sochi["agreement"],
        clauses=[sochi["clause6"]],
        category=Violation.Category.GROUND_ASSAULT,
        perpetrators=[hts],
        affected_actors=[sochi["saa"]],
        description="Assault on a checkpoint",
        started_at=at(8, 0),
        latitude=Decimal("35.2"),
        longitude=Decimal("36.8"),
        location_precision=Violation.LocationPrecision.EXACT,
    )
    v4 = make_violation(
        user=monitor,
        agreement=other,
        clauses=[other_clause5],
        category=Violation.Category.SHELLING,
        perpetrators=[turkey],
        description="Shelling across the line",
        started_at=datetime(2019, 6, 1, 10, tzinfo=UTC),
        latitude=Decimal("35.5"),
        longitude=Decimal("36.800001"),
        location_precision=Violation.LocationPrecision.EXACT,
    )
    v5 = make_violation(
        user=monitor,
        agreement=sochi["agreement"],
        category=Violation.Category.OTHER,
        perpetrators=[ActorFactory(slug="unknown", name="Unknown", kind="unknown")],
        sources=[SourceFactory()],
        description="Heavy weapons seen",
        started_at=at(5),
        place=sochi["inside"],
    )
    verify(v5, api.user("reviewer"))
    v6 = make_violation(
        user=monitor,
        agreement=sochi["agreement"],
        clauses=[sochi["clause5"]],
        category=Violation.Category.SHELLING,
        perpetrators=[sochi["saa"]],
        description="Shelling of the market (duplicate)",
        started_at=at(6, 5),
        place=sochi["inside"],
        killed_best=3,
    )
    retract(v6, api.user("reviewer"))
    return {"v1": v1, "v2": v2, "v3": v3, "v4": v4, "v5": v5, "v6": v6, "hts": hts, "turkey": turkey}


def listed(api, **params) -> set[str]:
    pages = all_pages(api.client("analyst"), URL, params)
    rows = [row for page in pages for row in page]
    assert len(rows) == len(uuids(rows)), "a violation is listed twice"
    return uuids(rows)


def test_retracted_rows_are_hidden_from_lists(api, record):
    r = record
    assert listed(api) == ids(r["v1"], r["v2"], r["v3"], r["v4"], r["v5"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"agreement": "sochi"}, ["v1", "v2", "v3", "v5"]),
        ({"agreement": "other-agreement"}, ["v4"]),
        ({"clause_number": "5"}, ["v1", "v2", "v4"]),
        ({"clause_number": "6"}, ["v2", "v3"]),
        ({"clause_number": "5", "agreement": "sochi"}, ["v1", "v2"]),
        ({"actor": "syrian-arab-army"}, ["v1", "v2", "v3"]),
        ({"actor": "hts"}, ["v2", "v3"]),
        ({"perpetrator": "syrian-arab-army"}, ["v1", "v2"]),
        ({"perpetrator": "hts"}, ["v2", "v3"]),
        ({"perpetrator": "syrian-arab-army", "actor": "hts"}, ["v2"]),
        ({"category": "shelling"}, ["v1", "v4"]),
        ({"category": ["shelling", "airstrike"]}, ["v1", "v2", "v4"]),
        ({"status": "verified"}, ["v5"]),
        ({"status": ["reported", "verified"]}, ["v1", "v2", "v3", "v4", "v5"]),
        ({"occurred_after": "2019-05-07"}, ["v2", "v3", "v4"]),
        ({"occurred_before": "2019-05-07"}, ["v1", "v2", "v5"]),
        ({"occurred_after": "2019-05-07", "occurred_before": "2019-05-07"}, ["v2"]),
        ({"occurred_after": "2019-05-08", "occurred_before": "2019-05-31"}, ["v3"]),
        ({"in_zone": "true"}, ["v1", "v3", "v5"]),
        ({"in_zone": "false"}, ["v2", "v4"]),
        ({"bbox": BBOX}, ["v1", "v3", "v5"]),
        ({"bbox": "36.2,35.2,36.800001,35.8"}, ["v1", "v3", "v4", "v5"]),
        ({"search": "market"}, ["v1"]),
        ({"search": "SHELLING market"}, ["v1"]),
        ({"search": "far town"}, ["v2"]),
        ({"search": "Kafr"}, ["v1", "v5"]),
        ({"admin1": "hama"}, ["v2"]),
    ],
    ids=lambda value: "&".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None,
)
def test_filters_narrow_the_list_exactly(api, record, params, expected):
    assert listed(api, **params) == ids(*(record[name] for name in expected))


def test_filters_take_actor_and_clause_ids_too(api, record, sochi):
    assert listed(api, actor=sochi["saa"].pk) == ids(record["v1"], record["v2"], record["v3"])
    assert listed(api, perpetrator=record["turkey"].pk) == ids(record["v4"])
    assert listed(api, clause=sochi["clause6"].pk) == ids(record["v2"], record["v3"])
    assert listed(api, place=sochi["outside"].pk) == ids(record["v2"])


def test_a_violation_matching_through_two_actors_appears_once(api, record):
    # v2 has HTS as a perpetrator and as an affected actor, and two perpetrators.
    rows = results(api.client("analyst").get(URL, {"actor": "hts"}))
    assert sorted(row["id"] for row in rows) == sorted(ids(record["v2"], record["v3"]))


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("bbox", "36.2,35.2,36.8"),
        ("bbox", "a,b,c,d"),
        ("bbox", "36.8,35.2,36.2,35.8"),
        ("bbox", "36,35,200,36"),
        ("category", "picnic"),
        ("occurred_after", "yesterday"),
        pytest.param(
            "in_zone",
            "maybe",
            marks=(),
        ),
        ("updated_since", "not-a-time"),
        ("clause", "five"),
    ],
)
def test_a_bad_filter_is_400_naming_it(api, record, param, value):
    assert_error(api.client("analyst").get(URL, {param: value}), 400, code="invalid", fields={param})


def test_updated_since_shows_changes_including_retracted_rows(api, record):
    since = timezone.now()
    services.violation_update(
        violation=Violation.objects.get(pk=record["v1"].pk), user=api.user("reviewer"), description="Edited later."
    )
    retract(record["v2"], api.user("reviewer"))

    rows = results(api.client("analyst").get(URL, {"updated_since": since.isoformat()}))

    assert uuids(rows) == ids(record["v1"], record["v2"])
    by_id = {row["id"]: row for row in rows}
    assert by_id[str(record["v2"].uuid)]["retracted"] is True
    assert by_id[str(record["v2"].uuid)]["retraction_reason"]
    assert by_id[str(record["v1"].uuid)]["retracted"] is False
    assert str(record["v2"].uuid) not in listed(api)


def test_updated_since_before_everything_includes_the_earlier_retraction(api, record):
    rows = results(api.client("analyst").get(URL, {"updated_since": "2000-01-01T00:00:00Z"}))
    assert uuids(rows) == ids(*(record[f"v{n}"] for n in range(1, 7)))
    assert [row["id"] for row in rows if row["retracted"]] == [str(record["v6"].uuid)]


# --- ordering and pagination ------------------------------------------------------------------------------------


def ordered(api, **params) -> list[str]:
    return [row["id"] for page in all_pages(api.client("analyst"), URL, params) for row in page]


def test_default_order_is_newest_first(api, record):
    r = record
    assert ordered(api) == [str(r[name].uuid) for name in ["v4", "v3", "v2", "v1", "v5"]]


def test_ordering_by_started_at_is_oldest_first_across_pages(api, record):
    r = record
    expected = [str(r[name].uuid) for name in ["v5", "v1", "v2", "v3", "v4"]]
    assert ordered(api, ordering="started_at") == expected
    assert ordered(api, ordering="started_at", page_size=2) == expected
    assert ordered(api, ordering="-started_at", page_size=2) == expected[::-1]


def test_ordering_by_a_field_outside_the_list_is_ignored(api, record):
    response = api.client("analyst").get(URL, {"ordering": "description"})
    assert response.status_code == 200
    assert ordered(api, ordering="description") == ordered(api)


def test_page_size_2_over_5_rows_gives_3_pages_via_next(api, record):
    pages = all_pages(api.client("analyst"), URL, {"page_size": 2})

    assert [len(page) for page in pages] == [2, 2, 1]
    assert {row["id"] for page in pages for row in page} == listed(api)


def test_pages_are_stable_when_rows_share_a_start_time(api, sochi):
    made = {
        str(make_violation(user=api.user("monitor"), agreement=sochi["agreement"], place=sochi["inside"]).uuid)
        for _ in range(5)
    }

    for params in ({"page_size": 2}, {"page_size": 2, "ordering": "started_at"}):
        pages = all_pages(api.client("analyst"), URL, params)
        seen = [row["id"] for page in pages for row in page]
        assert [len(page) for page in pages] == [2, 2, 1]
        assert sorted(seen) == sorted(made)


# --- conditional GETs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["list", "detail"])
def test_a_change_through_the_services_changes_the_etag(api, record, target):
    client = api.client("analyst")
    url = URL if target == "list" else detail(record["v1"])
    first = client.get(url)
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304

    services.violation_update(
        violation=Violation.objects.get(pk=record["v1"].pk), user=api.user("reviewer"), killed_best=4
    )
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 200
    assert again["ETag"] != first["ETag"]


def test_a_retraction_changes_the_list_etag(api, record):
    client = api.client("analyst")
    first = client.get(URL)

    retract(record["v1"], api.user("reviewer"))

    assert client.get(URL, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_a_list_etag_depends_on_the_filters(api, record):
    client = api.client("analyst")
    assert client.get(URL, {"category": "shelling"})["ETag"] != client.get(URL, {"category": "airstrike"})["ETag"]


def test_if_modified_since_answers_304(api, record):
    client = api.client("analyst")
    first = client.get(URL)

    again = client.get(URL, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])

    assert again.status_code == 304
    assert again.content == b""


# --- exports ----------------------------------------------------------------------------------------------------


def csv_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff"), "no UTF-8 BOM"
    header, *rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture
def sixty(api, sochi):
    """60 shelling violations (more than a page) and 3 airstrikes."""
    monitor = api.user("monitor")
    source = SourceFactory()
    for n in range(63):
        make_violation(
            user=monitor,
            agreement=sochi["agreement"],
            place=sochi["inside"],
            perpetrators=[sochi["saa"]],
            sources=[source],
            category=Violation.Category.AIRSTRIKE if n < 3 else Violation.Category.SHELLING,
            started_at=datetime(2019, 5, 1, tzinfo=UTC) + timedelta(hours=n),
        )


def test_csv_has_every_filtered_row_without_a_page_limit(api, sixty):
    client = api.client("analyst")

    everything = csv_of(client.get(URL, {"format": "csv"}))
    shelling = csv_of(client.get(URL, {"format": "csv", "category": "shelling"}))

    assert len(everything) == 63
    assert len(shelling) == 60
    assert {row["category"] for row in shelling} == {"shelling"}
    assert len({row["uuid"] for row in shelling}) == 60


def test_csv_query_count_does_not_depend_on_rows(api, sochi):
    client = api.client("analyst")
    make_violation(user=api.user("monitor"), agreement=sochi["agreement"], perpetrators=[sochi["saa"]])
    client.get(URL)  # warm up: the token's first use is recorded once
    _, one = count_queries(lambda: csv_of(client.get(URL, {"format": "csv"})))
    for _ in range(20):
        make_violation(user=api.user("monitor"), agreement=sochi["agreement"], perpetrators=[sochi["saa"]])

    _, many = count_queries(lambda: csv_of(client.get(URL, {"format": "csv"})))

    assert len(many) == len(one)


def test_csv_with_acled_columns(api, sochi):
    violation = make_violation(
        user=api.user("monitor"),
        agreement=sochi["agreement"],
        place=sochi["inside"],
        perpetrators=[sochi["saa"]],
        affected_actors=[ActorFactory(name="Civilians")],
        sources=[SourceFactory(publisher="SOHR")],
        killed_best=4,
        description="Shelling of the market",
        started_at=datetime(2019, 5, 6, 4, tzinfo=UTC),
    )

    [row] = csv_of(api.client("analyst").get(URL, {"format": "csv", "columns": "acled"}))

    assert set(ACLED_HEADER) <= set(row)
    assert row["event_id_cnty"] == str(violation.uuid)
    assert {key: row[key] for key in ACLED_HEADER} == {
        "event_date": "2019-05-06",
        "event_type": "Explosions/Remote violence",
        "actor1": "Syrian Arab Army",
        "actor2": "Civilians",
        "admin1": "Idlib",
        "admin2": "",
        "location": "Kafr Nabl",
        "latitude": "35.5",
        "longitude": "36.5",
        "fatalities": "4",
        "source": "SOHR",
        "notes": "Shelling of the market",
    }


def test_csv_escapes_a_description_starting_with_a_formula(api, sochi):
    make_violation(user=api.user("monitor"), agreement=sochi["agreement"], description='=HYPERLINK("http://x")')

    for columns, key in (("ours", "description"), ("acled", "notes")):
        [row] = csv_of(api.client("analyst").get(URL, {"format": "csv", "columns": columns}))
        assert row[key] == '\'=HYPERLINK("http://x")'


def test_an_unknown_column_set_is_400(api, sochi):
    response = api.client("analyst").get(URL, {"format": "csv", "columns": "excel"})
    assert_error(response, 400, fields={"columns"})


def test_geojson_is_a_feature_collection_at_lon_lat(api, sochi):
    own = make_violation(
        user=api.user("monitor"),
        agreement=sochi["agreement"],
        latitude=Decimal("35.1"),
        longitude=Decimal("36.9"),
        location_precision=Violation.LocationPrecision.EXACT,
    )
    by_place = make_violation(user=api.user("monitor"), agreement=sochi["agreement"], place=sochi["outside"])

    response = api.client("analyst").get(URL, {"format": "geojson"})

    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/geo+json")
    collection = json.loads(b"".join(response.streaming_content))  # streamed
    assert collection["type"] == "FeatureCollection"
    features = {feature["id"]: feature for feature in collection["features"]}
    assert set(features) == ids(own, by_place)
    assert features[str(own.uuid)]["geometry"] == {"type": "Point", "coordinates": [36.9, 35.1]}
    assert features[str(by_place.uuid)]["geometry"]["coordinates"] == [38.0, 34.0]
    assert features[str(own.uuid)]["properties"]["category"] == "shelling"


def test_geojson_honours_filters(api, record):
    response = api.client("analyst").get(URL, {"format": "geojson", "bbox": BBOX})
    features = json.loads(b"".join(response.streaming_content))["features"]
    assert {feature["id"] for feature in features} == ids(record["v1"], record["v3"], record["v5"])


def test_xlsx_has_a_header_and_one_row_per_violation(api, record):
    response = api.client("analyst").get(URL, {"format": "xlsx", "agreement": "sochi"})

    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    header, *rows = list(workbook["Violations"].iter_rows(values_only=True))
    assert "uuid" in header
    assert {row[header.index("uuid")] for row in rows} == ids(record["v1"], record["v2"], record["v3"], record["v5"])


def test_xlsx_over_the_row_limit_is_400_pointing_to_csv(api, record, settings):
    settings.API_XLSX_MAX_ROWS = 4  # read by the view at request time

    assert api.client("analyst").get(URL, {"format": "xlsx", "agreement": "sochi"}).status_code == 200
    response = api.client("analyst").get(URL, {"format": "xlsx"})

    error = assert_error(response, 400, code="invalid")
    assert "CSV" in error["message"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_errors_are_served_as_json(api, record, settings, fmt):
    settings.API_XLSX_MAX_ROWS = 1

    response = api.client("analyst").get(URL, {"format": fmt, "bbox": "1,2,3"} if fmt == "csv" else {"format": fmt})

    assert_error(response, 400)
    assert response["Content-Type"].startswith("application/json")


def test_exports_are_refused_anonymously(api, record):
    for fmt in ("csv", "xlsx", "geojson"):
        response = api.anonymous.get(URL, {"format": fmt})
        assert response.status_code == 401
