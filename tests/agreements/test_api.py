"""The REST API, resource by resource (NetBox-style generic cases): who may read and write what, the error shape,
brief embedded relations, flat query counts, cursor pagination and conditional GETs.

Violation-specific behaviour (If-Match, filters, exports) is in test_api_violations.py; stats in
tests/reports/test_stats_api.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import models

from agreements import services
from agreements.api.urls import router
from agreements.models import (
    Actor,
    ActorAlias,
    Agreement,
    AgreementParty,
    Clause,
    ControlChange,
    Patrol,
    Place,
    PlaceAlias,
    RouteStatus,
    Violation,
    Zone,
)
from tests.api_helpers import (
    Api,
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


# --- the resources --------------------------------------------------------------------------------------------------
# Each builder makes one row with every embedded relation filled, so an unprefetched relation shows up as a query
# per row in the query-count test.


def build_agreement(api: Api) -> Agreement:
    earlier = AgreementFactory()
    agreement = AgreementFactory(amends=earlier, relation="amends")
    for role in (AgreementParty.Role.SIGNATORY, AgreementParty.Role.GUARANTOR):
        AgreementParty.objects.create(agreement=agreement, actor=ActorFactory(), role=role)
    ClauseFactory.create_batch(2, agreement=agreement)
    return agreement


def build_clause(api: Api) -> Clause:
    clause = ClauseFactory()
    clause.obligated_actors.set(ActorFactory.create_batch(2))
    return clause


def build_actor(api: Api) -> Actor:
    actor = ActorFactory(part_of=ActorFactory())
    actor.backed_by.set(ActorFactory.create_batch(2))
    ActorAlias.objects.create(actor=actor, name=f"{actor.name} alias")
    return actor


def build_zone(api: Api) -> Zone:
    clause = ClauseFactory()
    return ZoneFactory(agreement=clause.agreement, clause=clause)


def build_place(api: Api) -> Place:
    place = PlaceFactory()
    PlaceAlias.objects.create(place=place, name=f"{place.name} alias")
    return place


def build_violation(api: Api) -> Violation:
    clause = ClauseFactory()
    ZoneFactory(agreement=clause.agreement)
    return make_violation(
        user=api.user("monitor"),
        agreement=clause.agreement,
        clauses=[clause],
        perpetrators=ActorFactory.create_batch(2),
        affected_actors=[ActorFactory()],
        sources=SourceFactory.create_batch(2),
    )


def build_patrol(api: Api) -> Patrol:
    clause = ClauseFactory()
    patrol = services.model_save(
        instance=Patrol(
            agreement=clause.agreement,
            clause=clause,
            patrolled_on=date(2019, 5, 1),
            kind=Patrol.Kind.JOINT,
            outcome=Patrol.Outcome.COMPLETED,
            source=SourceFactory(),
        ),
        user=api.user("admin"),
        m2m={
            "participants": ActorFactory.create_batch(2),
            "incidents": [make_violation(agreement=clause.agreement, user=api.user("monitor"))],
        },
    )
    return patrol


def build_route_status(api: Api) -> RouteStatus:
    clause = ClauseFactory()
    return services.model_save(
        instance=RouteStatus(
            agreement=clause.agreement,
            clause=clause,
            route="M4",
            observed_on=date(2019, 5, 1),
            status=RouteStatus.Status.CLOSED,
            source=SourceFactory(),
        ),
        user=api.user("admin"),
    )


def build_control_change(api: Api) -> ControlChange:
    violation = make_violation(user=api.user("monitor"))
    return services.model_save(
        instance=ControlChange(
            agreement=violation.agreement,
            place=PlaceFactory(),
            occurred_on=date(2019, 5, 2),
            from_actor=ActorFactory(),
            to_actor=ActorFactory(),
            violation=violation,
            source=SourceFactory(),
        ),
        user=api.user("admin"),
    )


# Payloads for a new row; each refers to related rows by slug where the field takes one (ids elsewhere).


def agreement_payload() -> dict:
    return {"slug": "new-memorandum", "title": "New memorandum", "signed_on": "2019-01-01"}


def clause_payload() -> dict:
    return {
        "agreement": AgreementFactory().slug,
        "number": "99",
        "title": "New clause",
        "kind": Clause.Kind.OTHER,
        "terms": {},
        "obligated_actors": [ActorFactory().slug],
    }


def actor_payload() -> dict:
    return {"slug": "new-actor", "name": "New Actor", "kind": Actor.Kind.STATE_FORCE, "part_of": ActorFactory().slug}


def zone_payload() -> dict:
    return {
        "agreement": AgreementFactory().slug,
        "name": "New zone",
        "slug": "new-zone",
        "kind": Zone.Kind.DEMILITARISED_ZONE,
        "geometry": SQUARE,
    }


def place_payload() -> dict:
    return {"name": "New place", "admin1": "Hama", "latitude": 35.1, "longitude": 36.9}


def violation_payload() -> dict:
    agreement = AgreementFactory()
    return {
        "agreement": agreement.slug,
        "clauses": [ClauseFactory(agreement=agreement).pk],
        "category": Violation.Category.SHELLING,
        "description": "Shelling of the town centre.",
        "started_at": "2019-05-06T04:00:00Z",
        "place": PlaceFactory().pk,
        "perpetrators": [ActorFactory().slug],
    }


def patrol_payload() -> dict:
    return {
        "agreement": AgreementFactory().slug,
        "patrolled_on": "2019-05-01",
        "kind": Patrol.Kind.JOINT,
        "outcome": Patrol.Outcome.COMPLETED,
        "participants": [ActorFactory().slug, ActorFactory().pk],
    }


def route_status_payload() -> dict:
    return {
        "agreement": AgreementFactory().slug,
        "route": "M5",
        "observed_on": "2019-05-01",
        "status": RouteStatus.Status.OPEN,
        "clause": None,  # a clause of the old agreement would not belong to the new one
    }


def control_change_payload() -> dict:
    return {
        "agreement": AgreementFactory().slug,
        "occurred_on": "2019-05-02",
        "place": PlaceFactory().pk,
        "from_actor": ActorFactory().slug,
        "to_actor": ActorFactory().slug,
    }


@dataclass(frozen=True)
class Resource:
    path: str
    model: type[models.Model]
    build: Callable[[Api], models.Model]
    payload: Callable[[], dict]
    change: dict  # a PATCH body; each field's new value is checked on the row
    writer: str = "admin"  # a role that may create and update
    lookup: str = "pk"  # the attribute in the detail URL
    # Roles that may read but not write.
    readers_only: tuple[str, ...] = ("analyst",)
    embedded: dict = field(default_factory=dict)  # field -> keys of its brief embedded object(s)

    def __str__(self):
        return self.path

    def list_url(self) -> str:
        return f"/api/v1/{self.path}/"

    def detail_url(self, instance) -> str:
        return f"/api/v1/{self.path}/{getattr(instance, self.lookup)}/"

    def public_key(self, instance) -> tuple[str, object]:
        """The key naming the row in a response body, and its value for `instance`."""
        if self.lookup == "slug":
            return "slug", instance.slug
        if self.lookup == "uuid":
            return "id", str(instance.uuid)
        return "id", instance.pk

    def created(self, body: dict):
        """The row a create response describes."""
        if self.lookup == "slug":
            return self.model.objects.get(slug=body["slug"])
        if self.lookup == "uuid":
            return self.model.objects.get(uuid=body["id"])
        return self.model.objects.get(pk=body["id"])


RESOURCES = [
    Resource(
        "agreements",
        Agreement,
        build_agreement,
        agreement_payload,
        {"title": "Renamed memorandum"},
        lookup="slug",
        readers_only=("analyst", "monitor", "reviewer"),
        embedded={"amends": {"slug", "title"}},
    ),
    Resource(
        "clauses",
        Clause,
        build_clause,
        clause_payload,
        {"title": "Renamed clause"},
        readers_only=("analyst", "monitor", "reviewer"),
        embedded={"agreement": {"slug", "title"}, "obligated_actors": {"id", "slug", "name"}},
    ),
    Resource(
        "actors",
        Actor,
        build_actor,
        actor_payload,
        {"name": "Renamed actor"},
        readers_only=("analyst", "monitor", "reviewer"),
        embedded={"part_of": {"id", "slug", "name"}, "backed_by": {"id", "slug", "name"}},
    ),
    Resource(
        "zones",
        Zone,
        build_zone,
        zone_payload,
        {"name": "Renamed zone"},
        readers_only=("analyst", "monitor", "reviewer"),
        embedded={"agreement": {"slug", "title"}, "clause": {"id", "number", "title"}},
    ),
    Resource("places", Place, build_place, place_payload, {"name": "Renamed place", "admin2": "Maarat"}),
    Resource(
        "violations",
        Violation,
        build_violation,
        violation_payload,
        {"description": "Corrected description.", "killed_best": 3},
        writer="monitor",
        lookup="uuid",
        embedded={
            "agreement": {"slug", "title"},
            "clauses": {"id", "number", "title"},
            "perpetrators": {"id", "slug", "name"},
            "affected_actors": {"id", "slug", "name"},
            "place": {"id", "name", "admin1"},
            "zone": {"slug", "name"},
        },
    ),
    Resource(
        "patrols",
        Patrol,
        build_patrol,
        patrol_payload,
        {"outcome": Patrol.Outcome.ATTACKED},
        embedded={"agreement": {"slug", "title"}, "participants": {"id", "slug", "name"}},
    ),
    Resource(
        "route-statuses",
        RouteStatus,
        build_route_status,
        route_status_payload,
        {"status": RouteStatus.Status.PARTLY_OPEN},
        embedded={"agreement": {"slug", "title"}, "clause": {"id", "number", "title"}, "source": {"id", "title"}},
    ),
    Resource(
        "control-changes",
        ControlChange,
        build_control_change,
        control_change_payload,
        {"notes": "Confirmed by two sources."},
        embedded={
            "agreement": {"slug", "title"},
            "place": {"id", "name", "admin1"},
            "from_actor": {"id", "slug", "name"},
            "to_actor": {"id", "slug", "name"},
        },
    ),
]
REFERENCE_DATA = [resource for resource in RESOURCES if resource.path in {"agreements", "clauses", "actors", "zones"}]
WRITES = ["post", "put", "patch"]


def by_path(*paths):
    return [resource for resource in RESOURCES if resource.path in paths]


def snapshot(instance) -> dict:
    """The stored values of a row's own columns."""
    return type(instance).objects.filter(pk=instance.pk).values().get()


def write(client, method: str, resource: Resource, instance=None, body: dict | None = None, **headers):
    url = resource.list_url() if method == "post" else resource.detail_url(instance)
    return getattr(client, method)(url, body or {}, format="json", **headers)


def if_match(client, resource: Resource, instance) -> dict:
    """The If-Match header for the row as `client` reads it now (violations require it; others ignore it)."""
    response = client.get(resource.detail_url(instance))
    assert response.status_code == 200, response.content[:300]
    return {"HTTP_IF_MATCH": response["ETag"]}


# --- anonymous ------------------------------------------------------------------------------------------------------

# Evidence and the reference it is judged against are retracted or retired, never deleted.
NEVER_DELETED = {"violations", "clauses", "zones", "patrols", "route-statuses", "control-changes"}


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
@pytest.mark.parametrize("method", ["get-list", "get-detail", *WRITES, "delete"])
def test_anonymous_is_401_with_the_error_shape_and_a_challenge(api, resource, method):
    instance = resource.build(api)
    before = snapshot(instance)
    verb = method.partition("-")[0]
    url = resource.list_url() if method in {"get-list", "post"} else resource.detail_url(instance)

    response = getattr(api.anonymous, verb)(url, {} if verb == "get" else resource.payload(), format="json")

    if verb == "delete" and resource.path in NEVER_DELETED:
        # Nobody may delete evidence, so the method does not exist for anyone: 405 before any credentials.
        assert_error(response, 405, code="method_not_allowed")
    else:
        assert_error(response, 401, code="not_authenticated")
        assert response["WWW-Authenticate"].startswith("Token")
    assert snapshot(instance) == before


@pytest.mark.parametrize("url", ["/api/v1/", "/api/v1/stats/violations", "/api/v1/stats/violations?group_by=week"])
def test_anonymous_is_401_on_the_api_root_and_stats(api, url):
    response = api.anonymous.get(url)
    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"


def every_route():
    """(method, URL template) for every route the router serves, extra actions included."""
    for prefix, viewset, _ in router.registry:
        for route in router.get_routes(viewset):
            for method in router.get_method_map(viewset, route.mapping):
                url = route.url.format(
                    prefix=prefix, lookup="{key}", trailing_slash="/", url_path=getattr(route, "url_path", "")
                )
                yield pytest.param(prefix, method, "/api/v1/" + url.strip("^$"), id=f"{method}-{url.strip('^$')}")


@pytest.mark.parametrize(("prefix", "method", "url"), list(every_route()))
def test_every_api_route_is_401_anonymously(api, prefix, method, url):
    [resource] = by_path(prefix)
    instance = resource.build(api)

    response = getattr(api.anonymous, method)(url.format(key=getattr(instance, resource.lookup)), {}, format="json")

    if method == "delete" and prefix in NEVER_DELETED:
        assert_error(response, 405, code="method_not_allowed")  # retracted or retired, never deleted: not for anyone
    else:
        assert_error(response, 401, code="not_authenticated")


def test_a_wrong_token_is_401_not_anonymous(api):
    client = api.anonymous
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    assert_error(client.get("/api/v1/violations/"), 401, code="authentication_failed")


@pytest.mark.parametrize("url", ["/healthz", "/readyz", "/api/schema/", "/api/docs/"])
def test_probes_schema_and_docs_answer_anonymously(api, url):
    response = api.anonymous.get(url)
    assert response.status_code == 200, response.content[:300]


# --- read-only tokens and roles that may only read ----------------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
@pytest.mark.parametrize("method", WRITES)
def test_a_read_only_token_cannot_write(api, resource, method):
    instance = resource.build(api)
    body = {**resource.payload(), **resource.change}  # may create related rows: before counting
    before, rows = snapshot(instance), resource.model.objects.count()
    client = api.client(resource.writer, read_only=True)
    headers = if_match(client, resource, instance) if method != "post" else {}

    response = write(client, method, resource, instance, body, **headers)

    error = assert_error(response, 403)
    assert "read-only" in error["message"]
    assert snapshot(instance) == before
    assert resource.model.objects.count() == rows


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_a_read_only_token_can_read(api, resource):
    instance = resource.build(api)
    client = api.client(resource.writer, read_only=True)
    assert client.get(resource.list_url()).status_code == 200
    assert client.get(resource.detail_url(instance)).status_code == 200


@pytest.mark.parametrize(
    ("resource", "role"),
    [(resource, role) for resource in RESOURCES for role in resource.readers_only],
    ids=lambda value: str(value),
)
@pytest.mark.parametrize("method", WRITES)
def test_a_role_without_write_permission_gets_403(api, resource, role, method):
    instance = resource.build(api)
    body = {**resource.payload(), **resource.change}  # may create related rows: before counting
    before, rows = snapshot(instance), resource.model.objects.count()
    client = api.client(role)
    headers = if_match(client, resource, instance) if method != "post" else {}

    response = write(client, method, resource, instance, body, **headers)

    assert_error(response, 403, code="permission_denied")
    assert snapshot(instance) == before
    assert resource.model.objects.count() == rows


# --- reading --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_analyst_lists_and_reads_with_brief_embedded_relations(api, resource):
    instance = resource.build(api)
    client = api.client("analyst")

    listed = results(client.get(resource.list_url()))
    detail = client.get(resource.detail_url(instance))

    assert detail.status_code == 200
    key, value = resource.public_key(instance)
    assert detail.json()[key] == value
    [from_list] = [row for row in listed if row[key] == value]
    assert from_list == detail.json()
    for name, keys in resource.embedded.items():
        value = detail.json()[name]
        embedded = value if isinstance(value, list) else [value]
        assert embedded, f"{name} is empty"
        for item in embedded:
            assert set(item) == keys, (name, item)


def test_embedded_objects_carry_the_related_rows_values(api):
    violation = build_violation(api)
    body = api.client("analyst").get(f"/api/v1/violations/{violation.uuid}/").json()

    assert body["id"] == str(violation.uuid)
    assert body["agreement"] == {"slug": violation.agreement.slug, "title": violation.agreement.title}
    assert body["place"] == {"id": violation.place.pk, "name": violation.place.name, "admin1": "Idlib"}
    assert sorted(body["perpetrators"], key=lambda actor: actor["id"]) == [
        {"id": actor.pk, "slug": actor.slug, "name": actor.name} for actor in violation.perpetrators.order_by("pk")
    ]
    assert [(source["id"], source["grade"]) for source in body["sources"]] == [
        (citation.source.pk, citation.source.grade) for citation in violation.citations.order_by("pk")
    ]
    assert body["sources"][0]["grade"] == "C3"


def test_agreement_detail_embeds_parties_and_clauses(api):
    agreement = build_agreement(api)
    body = api.client("analyst").get(f"/api/v1/agreements/{agreement.slug}/").json()

    assert {party["actor"]["id"] for party in body["parties"]} == set(
        agreement.party_roles.values_list("actor_id", flat=True)
    )
    assert {party["role"] for party in body["parties"]} == {"signatory", "guarantor"}
    assert [clause["id"] for clause in body["clauses"]] == list(
        agreement.clauses.order_by("position", "number").values_list("pk", flat=True)
    )
    assert body["amends"] == {"slug": agreement.amends.slug, "title": agreement.amends.title}


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_an_unknown_detail_is_404_with_the_error_shape(api, resource):
    missing = "00000000-0000-4000-8000-000000000000" if resource.lookup == "uuid" else "999999"
    if resource.lookup == "slug":
        missing = "no-such-agreement"
    assert_error(api.client("analyst").get(f"{resource.list_url()}{missing}/"), 404, code="not_found")


# --- writing --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_the_writer_role_creates(api, resource):
    payload = resource.payload()
    rows = resource.model.objects.count()

    response = write(api.client(resource.writer), "post", resource, body=payload)

    assert response.status_code == 201, response.content[:500]
    assert resource.model.objects.count() == rows + 1
    created = resource.created(response.json())
    for name, value in payload.items():
        if isinstance(value, list):
            related = getattr(created, name).all()
            assert {str(v) for v in value} <= {str(r.pk) for r in related} | {getattr(r, "slug", None) for r in related}
        elif isinstance(getattr(created, name), models.Model):
            related = getattr(created, name)
            assert str(value) in {str(related.pk), getattr(related, "slug", None)}
        elif isinstance(getattr(created, name), Decimal):
            assert getattr(created, name) == Decimal(str(value))
        elif isinstance(getattr(created, name), date):
            assert getattr(created, name).isoformat().startswith(value[:10])
        else:
            assert getattr(created, name) == value, name


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_the_writer_role_updates_with_patch(api, resource):
    instance = resource.build(api)
    client = api.client(resource.writer)

    response = write(client, "patch", resource, instance, resource.change, **if_match(client, resource, instance))

    assert response.status_code == 200, response.content[:500]
    instance = resource.model.objects.get(pk=instance.pk)
    for name, value in resource.change.items():
        assert getattr(instance, name) == value
        assert response.json()[name] == value


@pytest.mark.parametrize("resource", by_path("agreements", "actors", "places", "route-statuses"), ids=str)
def test_the_writer_role_replaces_with_put(api, resource):
    instance = resource.build(api)
    client = api.client(resource.writer)
    body = {**resource.payload(), **resource.change}
    rows = resource.model.objects.count()

    response = write(client, "put", resource, instance, body, **if_match(client, resource, instance))

    assert response.status_code == 200, response.content[:500]
    assert resource.model.objects.count() == rows
    instance = resource.model.objects.get(pk=instance.pk)
    for name, value in resource.change.items():
        assert getattr(instance, name) == value


@pytest.mark.parametrize("resource", REFERENCE_DATA, ids=str)
def test_reference_data_is_written_only_by_admins(api, resource):
    payload = resource.payload()
    assert_error(write(api.client("monitor"), "post", resource, body=payload), 403)
    assert write(api.client("admin"), "post", resource, body=payload).status_code == 201


def test_writes_accept_ids_or_slugs_for_related_rows(api):
    by_slug, by_id = ActorFactory(), ActorFactory()
    agreement = AgreementFactory()
    body = {**patrol_payload(), "agreement": agreement.slug, "participants": [by_slug.slug, by_id.pk]}

    response = api.client("admin").post("/api/v1/patrols/", body, format="json")

    assert response.status_code == 201, response.content
    patrol = Patrol.objects.get(pk=response.json()["id"])
    assert set(patrol.participants.all()) == {by_slug, by_id}
    assert patrol.agreement == agreement
    assert {actor["slug"] for actor in response.json()["participants"]} == {by_slug.slug, by_id.slug}


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("clauses", "agreement", "no-such-agreement"),
        ("control-changes", "to_actor", "no-such-actor"),
        ("control-changes", "to_actor", 999999),
        ("patrols", "participants", ["no-such-actor"]),
    ],
)
def test_an_unknown_related_id_or_slug_is_400_naming_the_field(api, path, field, value):
    [resource] = by_path(path)
    payload = {**resource.payload(), field: value}
    rows = resource.model.objects.count()

    response = write(api.client("admin"), "post", resource, body=payload)

    error = assert_error(response, 400, code="invalid", fields={field})
    assert str(value).strip("[]'") in " ".join(error["fields"][field])
    assert resource.model.objects.count() == rows


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("places", {"latitude": 135.0}, "latitude"),
        ("actors", {"kind": "alien"}, "kind"),
        ("route-statuses", {"observed_on": "yesterday"}, "observed_on"),
        ("zones", {"geometry": {"type": "Point", "coordinates": [36, 35]}}, "geometry"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_writes_nothing(api, path, body, field):
    [resource] = by_path(path)
    payload = {**resource.payload(), **body}
    rows = resource.model.objects.count()

    response = write(api.client("admin"), "post", resource, body=payload)

    assert_error(response, 400, code="invalid", fields={field})
    assert resource.model.objects.count() == rows


def test_an_admin_deletes_an_unreferenced_record(api):
    actor = ActorFactory()
    assert api.client("admin").delete(f"/api/v1/actors/{actor.pk}/").status_code == 204
    assert not Actor.objects.filter(pk=actor.pk).exists()


def test_deleting_a_referenced_record_is_409_and_keeps_it(api):
    place = build_violation(api).place
    client = api.client("admin")
    client.raise_request_exception = False

    error = assert_error(client.delete(f"/api/v1/places/{place.pk}/"), 409, code="conflict")

    assert "violations" in error["message"]
    assert Place.objects.filter(pk=place.pk).exists()


# --- query counts ---------------------------------------------------------------------------------------------------


AMENDS_NOT_JOINED = ()


@pytest.mark.parametrize(
    "resource",
    [pytest.param(r, marks=AMENDS_NOT_JOINED) if r.path == "agreements" else r for r in RESOURCES],
    ids=str,
)
def test_list_query_count_does_not_grow_with_rows(api, resource):
    client = api.client("analyst")
    resource.build(api)
    client.get(resource.list_url())  # warm up: the token's first use is recorded once
    cache.clear()  # measure the answer built, not served from the answer cache

    response, one = count_queries(lambda: client.get(resource.list_url()))
    few = len(results(response))
    for _ in range(49):
        resource.build(api)
    response, many = count_queries(lambda: client.get(resource.list_url()))

    assert len(results(response)) == min(resource.model.objects.count(), 50) == 50 > few
    assert len(many) == len(one), [sql[:150] for sql in many]


# --- ordering and pagination ----------------------------------------------------------------------------------------


def test_ordering_from_the_explicit_list_is_applied(api):
    for name in ["Charlie", "Alpha", "Bravo"]:
        ActorFactory(name=name)
    client = api.client("analyst")

    default = [row["name"] for row in results(client.get("/api/v1/actors/"))]
    by_newest = [row["name"] for row in results(client.get("/api/v1/actors/", {"ordering": "-id"}))]
    by_oldest = [row["name"] for row in results(client.get("/api/v1/actors/", {"ordering": "id"}))]

    assert default == ["Alpha", "Bravo", "Charlie"]
    assert by_newest == ["Bravo", "Alpha", "Charlie"]
    assert by_oldest == ["Charlie", "Alpha", "Bravo"]


def test_an_ordering_outside_the_explicit_list_is_ignored(api):
    for name in ["Charlie", "Alpha", "Bravo"]:
        ActorFactory(name=name, description=name[::-1])
    client = api.client("analyst")

    response = client.get("/api/v1/actors/", {"ordering": "description"})

    assert [row["name"] for row in results(response)] == ["Alpha", "Bravo", "Charlie"]


def test_cursor_pages_follow_next_without_duplicates(api):
    ids = {ActorFactory().pk for _ in range(5)}

    pages = all_pages(api.client("analyst"), "/api/v1/actors/", {"page_size": 2})

    assert [len(page) for page in pages] == [2, 2, 1]
    seen = [row["id"] for page in pages for row in page]
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == ids


def test_page_size_is_capped(api):
    cap = settings.API_MAX_PAGE_SIZE  # read by the pagination class at import, so the real value is tested
    Place.objects.bulk_create(
        [Place(name=f"Hamlet {n}", latitude=Decimal("35.5"), longitude=Decimal("36.5")) for n in range(cap + 1)]
    )

    response = api.client("analyst").get("/api/v1/places/", {"page_size": cap + 100})

    assert len(results(response)) == cap
    assert response.json()["next"]


# --- conditional GETs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
@pytest.mark.parametrize("target", ["list", "detail"])
def test_a_repeated_get_with_if_none_match_is_304_with_an_empty_body(api, resource, target):
    instance = resource.build(api)
    client = api.client("analyst")
    url = resource.list_url() if target == "list" else resource.detail_url(instance)

    first = client.get(url)
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])

    assert first.status_code == 200
    assert first["ETag"].startswith('"')
    if target == "list":
        assert first["Last-Modified"]
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_a_list_answers_304_without_reading_the_rows(api, resource):
    resource.build(api)
    client = api.client("analyst")
    client.get(resource.list_url())  # warm up: the token's first use is recorded once
    cache.clear()  # the full answer built, not served from the answer cache
    first, full = count_queries(lambda: client.get(resource.list_url()))

    again, short = count_queries(lambda: client.get(resource.list_url(), HTTP_IF_NONE_MATCH=first["ETag"]))

    assert again.status_code == 304
    assert len(short) < len(full)
    # The validator is the change counter's one row: no query touches the records, however many there are.
    assert [sql for sql in short if '"agreements_' in sql] == []
    stamp = [sql for sql in short if '"compliance_changestamp"' in sql]
    assert len(stamp) == 1 and "MAX(" not in stamp[0].upper() and "COUNT(" not in stamp[0].upper()


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_a_list_etag_changes_after_an_update(api, resource):
    instance = resource.build(api)
    client = api.client("analyst")
    first = client.get(resource.list_url())

    writer = api.client(resource.writer if resource.writer != "monitor" else "reviewer")
    changed = write(writer, "patch", resource, instance, resource.change, **if_match(writer, resource, instance))
    assert changed.status_code == 200
    again = client.get(resource.list_url(), HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 200
    assert again["ETag"] != first["ETag"]
    assert json.loads(again.content)["results"]


PREFETCHES_ON_304 = ()


@pytest.mark.parametrize(
    "resource",
    [
        pytest.param(r, marks=PREFETCHES_ON_304)
        if r.path in {"agreements", "clauses", "actors", "places", "patrols", "violations"}
        else r
        for r in RESOURCES
    ],
    ids=str,
)
def test_a_detail_answers_304_without_reading_the_related_rows(api, resource):
    instance = resource.build(api)
    client = api.client("analyst")
    client.get(resource.detail_url(instance))  # warm up: the token's first use is recorded once
    first = client.get(resource.detail_url(instance))

    again, queries = count_queries(lambda: client.get(resource.detail_url(instance), HTTP_IF_NONE_MATCH=first["ETag"]))

    assert again.status_code == 304
    on_records = [sql for sql in queries if '"agreements_' in sql]
    assert len(on_records) <= 2, [sql[:150] for sql in on_records]  # the row (for permissions) and its state
