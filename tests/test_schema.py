"""The OpenAPI schema: generated without warnings, valid, covering every route, documenting the one error shape."""

import pytest
import yaml
from django.core.management import call_command

from agreements.api.urls import router

METHODS = {"get", "put", "patch", "post", "delete"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    """The generated schema, validated against the OpenAPI 3 specification (warnings are the next test's)."""
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_the_schema_generates_without_a_warning(tmp_path):
    # --fail-on-warn turns any drf-spectacular warning (an unresolvable field, a clashing enum name…) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/violations/{uuid}/" in yaml.safe_load((tmp_path / "schema.yaml").read_text())["paths"]


def router_paths() -> list[str]:
    """Every path the router serves (list, detail and extra actions), spelt as OpenAPI spells it."""
    paths = []
    for prefix, viewset, _ in router.registry:
        lookup = getattr(viewset, "lookup_url_kwarg", None) or getattr(viewset, "lookup_field", "pk")
        for route in router.get_routes(viewset):
            if not router.get_method_map(viewset, route.mapping):
                continue
            url = route.url.format(
                prefix=prefix,
                lookup=f"{{{'id' if lookup == 'pk' else lookup}}}",
                trailing_slash="/",
                url_path=getattr(route, "url_path", ""),
            )
            paths.append("/api/v1/" + url.strip("^$"))
    return paths


def operations(schema, prefix="/api/v1/"):
    for path, item in schema["paths"].items():
        if path.startswith(prefix):
            for method, operation in item.items():
                if method in METHODS:
                    yield path, method, operation


def error_ref(response) -> str:
    return response["content"]["application/json"]["schema"]["$ref"]


def test_the_schema_is_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"]


@pytest.mark.parametrize("path", [*router_paths(), "/api/v1/stats/violations"])
def test_every_route_is_in_the_schema(schema, path):
    assert path in schema["paths"]


def test_router_paths_are_found():
    paths = router_paths()
    assert "/api/v1/violations/{uuid}/" in paths
    assert "/api/v1/agreements/{slug}/" in paths
    assert "/api/v1/actors/{id}/" in paths


def test_the_router_has_every_resource_of_the_design():
    prefixes = {prefix for prefix, _, _ in router.registry}
    assert {
        "agreements",
        "clauses",
        "actors",
        "zones",
        "places",
        "violations",
        "patrols",
        "route-statuses",
        "control-changes",
    } <= prefixes


def test_the_error_component_has_the_one_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "fields"]


def test_every_api_operation_documents_401_and_403_with_the_error_shape(schema):
    checked = 0
    for path, method, operation in operations(schema):
        for code in ("401", "403"):
            assert error_ref(operation["responses"][code]) == "#/components/schemas/Error", (path, method, code)
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("method", ["put", "patch"])
def test_violation_updates_document_412_428_and_the_if_match_header(schema, method):
    operation = schema["paths"]["/api/v1/violations/{uuid}/"][method]

    for code in ("412", "428"):
        assert error_ref(operation["responses"][code]) == "#/components/schemas/Error"
    [if_match] = [p for p in operation["parameters"] if p["name"] == "If-Match"]
    assert if_match["in"] == "header"
    assert if_match["required"] is True


def test_violations_document_no_delete_and_their_filters_and_formats(schema):
    assert "delete" not in schema["paths"]["/api/v1/violations/{uuid}/"]
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/violations/"]["get"]["parameters"]}
    assert {"agreement", "clause", "actor", "perpetrator", "category", "status", "bbox", "search"} <= set(parameters)
    assert {"occurred_after", "occurred_before", "in_zone", "updated_since", "ordering", "cursor"} <= set(parameters)
    assert set(parameters["format"]["schema"]["enum"]) == {"json", "geojson", "csv", "xlsx"}


def test_stats_document_group_by(schema):
    parameters = {p["name"] for p in schema["paths"]["/api/v1/stats/violations"]["get"]["parameters"]}
    assert "group_by" in parameters


def test_stats_document_the_violation_filters(schema):
    parameters = {p["name"] for p in schema["paths"]["/api/v1/stats/violations"]["get"]["parameters"]}
    assert {"agreement", "category", "actor", "occurred_after", "bbox"} <= parameters


def test_token_authentication_is_documented(schema):
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Token <key>",
    }


def test_writes_document_ids_or_slugs_for_related_rows(schema):
    request = schema["components"]["schemas"]["ViolationRequest"]["properties"]["perpetrators"]
    assert {option["type"] for option in request["items"]["oneOf"]} == {"integer", "string"}
