"""What `make fuzz` (Schemathesis against the live app, benchmarks/fuzz.py) found, one test per finding: answers the
schema did not document, schema declarations looser than what the API takes, and inputs the API silently ignored."""

from __future__ import annotations

import json
import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from agreements import services
from agreements.models import Clause, Violation
from compliance.api.schema import NO_NUL, NOT_BLANK
from tests.api_helpers import assert_error, results
from tests.factories import ActorFactory, AgreementFactory, ClauseFactory, SourceFactory, make_violation

pytestmark = pytest.mark.django_db

VIOLATIONS = "/api/v1/violations/"
RETIRABLE = ("clauses", "zones", "patrols", "route-statuses", "control-changes")


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def violation(api):
    agreement = AgreementFactory(slug="accord")
    clause = ClauseFactory(agreement=agreement, number="1")
    return make_violation(
        user=api.user("monitor"),
        agreement=agreement,
        clauses=[clause],
        perpetrators=[ActorFactory(slug="army")],
        sources=[SourceFactory()],
    )


def parameter(schema, path: str, method: str, name: str) -> dict:
    [found] = [p for p in schema["paths"][path][method].get("parameters", []) if p["name"] == name]
    return found


def component(schema, name: str) -> dict:
    return schema["components"]["schemas"][name]


def matches(pattern: str, value: str) -> bool:
    return re.search(pattern, value) is not None


# --- answers the schema did not document, or documented wrongly ---------------------------------------------------


def test_an_unknown_format_is_400_naming_format_not_a_404(api, violation):
    # DRF answered 404 "Not found." to ?format=pdf, as if there were no violations; 404 is not documented on a list.
    assert_error(api.client("analyst").get(VIOLATIONS, {"format": "pdf"}), 400, fields={"format"})


def test_an_error_asked_for_as_geojson_is_json_and_says_so(api, violation):
    # It was sent as application/geo+json: the one error shape is documented as application/json only.
    response = api.client("analyst").get(VIOLATIONS, {"format": "geojson", "columns": "excel"})

    assert_error(response, 400, fields={"columns"})
    assert response["Content-Type"] == "application/json"


def test_the_geojson_list_is_documented_as_a_feature_collection_not_a_page(schema):
    content = schema["paths"][VIOLATIONS]["get"]["responses"]["200"]["content"]

    assert content["application/geo+json"]["schema"] == {"$ref": "#/components/schemas/FeatureCollection"}
    assert component(schema, "FeatureCollection")["required"] == ["type", "features"]
    assert {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} <= set(content)


@pytest.mark.parametrize("resource", ["places", "zones", "clauses"])
@pytest.mark.parametrize("method", ["put", "patch"])
def test_versioned_updates_document_if_match_428_and_412(schema, resource, method):
    # Places, zones and clauses answered 428 without If-Match, which only violations documented.
    operation = schema["paths"][f"/api/v1/{resource}/{{id}}/"][method]
    if_match = parameter(schema, f"/api/v1/{resource}/{{id}}/", method, "If-Match")

    assert if_match["required"] is True
    assert if_match["schema"]["minLength"] == 1  # an empty If-Match is none: 428, not 412
    assert {"412", "428"} <= set(operation["responses"])


def test_recording_an_assessment_that_exists_documents_its_200(schema):
    assert {"200", "201"} <= set(schema["paths"]["/api/v1/assessments/"]["post"]["responses"])


# --- inputs the API ignored, or refused beyond what the schema said --------------------------------------------------


def test_columns_is_checked_whatever_the_format(api, violation):
    # ?columns=excel was ignored unless an export was asked for.
    assert_error(api.client("analyst").get(VIOLATIONS, {"columns": "excel"}), 400, fields={"columns"})


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5", "²"])
def test_a_page_size_that_is_not_a_positive_whole_number_is_400(api, violation, value):
    # DRF gave the default page (50 rows) for any page_size it could not read.
    assert_error(api.client("analyst").get(VIOLATIONS, {"page_size": value}), 400, fields={"page_size"})


def test_a_huge_page_size_is_the_cap(api, violation):
    assert len(results(api.client("analyst").get(VIOLATIONS, {"page_size": "9" * 5000}))) == 1


@pytest.mark.parametrize("value", ["yes", "1", "TRUE"])
def test_include_retracted_takes_true_or_false_only(api, violation, value):
    # Any other word was read as "false", silently.
    assert_error(api.client("analyst").get(VIOLATIONS, {"include_retracted": value}), 400, fields={"include_retracted"})


@pytest.mark.parametrize(
    "params",
    [{"retired": ""}, {"columns": ""}, {"page_size": ""}, {"format": ""}, {"place": ""}, {"updated_since": ""}],
)
def test_an_empty_optional_query_parameter_is_as_if_left_out(api, violation, params):
    url = "/api/v1/clauses/" if "retired" in params else VIOLATIONS
    assert api.client("analyst").get(url, params).status_code == 200


def test_a_time_filter_is_judged_by_its_date_as_written(api, violation):
    # 1900-01-01T00:00+01:00 is 1899-12-31 in UTC: it was refused, while the schema's pattern takes it.
    client = api.client("analyst")

    assert client.get(VIOLATIONS, {"updated_since": "1900-01-01T00:00:00+01:00"}).status_code == 200
    assert_error(client.get(VIOLATIONS, {"updated_since": "1899-12-31T23:00:00Z"}), 400, fields={"updated_since"})


@pytest.mark.parametrize("bbox", ["1e1,35,37,36", "inf,35,37,36", " 36,35,37,36", "36,35,37,36,"])
def test_bbox_takes_plain_decimal_numbers_as_its_pattern_says(api, violation, schema, bbox):
    pattern = parameter(schema, VIOLATIONS, "get", "bbox")["schema"]["pattern"]

    assert not matches(pattern, bbox)
    assert_error(api.client("analyst").get(VIOLATIONS, {"bbox": bbox}), 400, fields={"bbox"})


@pytest.mark.parametrize(("group_by", "status"), [("actor, week", 200), (" ,actor,,", 200), ("actor\tweek", 400)])
def test_group_by_is_refused_exactly_where_its_pattern_says(api, violation, schema, group_by, status):
    # It was documented as any string; any word but the dimensions is refused.
    pattern = parameter(schema, "/api/v1/stats/violations", "get", "group_by")["schema"]["pattern"]

    assert matches(pattern, group_by) is (status == 200)
    assert api.client("analyst").get("/api/v1/stats/violations", {"group_by": group_by}).status_code == status


def test_a_required_text_of_whitespace_is_refused_and_the_schema_says_so(api, violation, schema):
    # DRF trims text before it checks that it is not blank: "   " is refused like "", yet minLength 1 allowed it.
    reason = component(schema, "RetractionRequest")["properties"]["reason"]
    response = api.client("reviewer").post(f"{VIOLATIONS}{violation.uuid}/retract/", {"reason": " \t\u3000"})

    assert reason["pattern"] == NOT_BLANK
    assert not matches(NOT_BLANK, " \t\u3000") and matches(NOT_BLANK, " a ")
    assert_error(response, 400, fields={"reason"})


def test_free_text_says_it_takes_no_nul(schema):
    assert component(schema, "ActorRequest")["properties"]["description"]["pattern"] == NO_NUL
    assert parameter(schema, VIOLATIONS, "get", "search")["schema"]["pattern"] == NO_NUL
    assert not matches(NO_NUL, "a\x00b")


def test_an_integer_past_20_digits_in_clause_terms_is_400_naming_terms(api):
    # Free-form terms (kind "other") could carry one; the parser refused the whole body without naming the field.
    agreement = AgreementFactory(slug="accord")
    body = json.dumps({"agreement": agreement.slug, "number": "9", "title": "T", "kind": "other", "terms": {"n": 1}})
    body = body.replace('"n": 1', '"n": ' + "9" * 25)

    response = api.client("admin").generic("POST", "/api/v1/clauses/", body, content_type="application/json")

    assert_error(response, 400, code="invalid", fields={"terms"})
    assert not Clause.objects.filter(agreement=agreement).exists()


# --- schema declarations made to say what the API takes --------------------------------------------------------------


def request_components(schema) -> set[str]:
    """The components a request body names, and those they name in turn."""
    names, pending = set(), []
    for item in schema["paths"].values():
        for operation in item.values():
            content = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            pending += [media.get("schema", {}) for media in content.values()]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/") and ref.split("/")[-1] not in names:
                names.add(ref.split("/")[-1])
                pending.append(component(schema, ref.split("/")[-1]))
            pending += list(node.values())
        elif isinstance(node, list):
            pending += node
    return names


def test_every_request_body_refuses_unknown_fields_in_the_schema_too(schema):
    # StrictFieldsMixin refuses them (400), while the schema let any extra field through.
    objects = [name for name in request_components(schema) if component(schema, name).get("type") == "object"]

    assert len(objects) > 20
    for name in objects:
        assert component(schema, name)["additionalProperties"] is False, name


def test_violation_updates_do_not_document_new_sources(schema):
    # An update refuses new_sources (sources are cited one by one), yet PUT and PATCH listed it.
    for method in ("put", "patch"):
        ref = schema["paths"]["/api/v1/violations/{uuid}/"][method]["requestBody"]["content"]["application/json"]
        assert "new_sources" not in component(schema, ref["schema"]["$ref"].split("/")[-1])["properties"]
    assert "new_sources" in component(schema, "ViolationRequest")["properties"]


@pytest.mark.parametrize("resource", RETIRABLE)
def test_retired_is_a_parameter_of_the_list_not_of_retire(schema, resource):
    # It was documented on POST …/retire/, which ignores it, and missing from the list, which reads it.
    assert parameter(schema, f"/api/v1/{resource}/", "get", "retired")["schema"]["enum"] == ["all", "false", "true"]
    names = {p["name"] for p in schema["paths"][f"/api/v1/{resource}/{{id}}/retire/"]["post"].get("parameters", [])}
    assert "retired" not in names


def test_filters_are_documented_as_the_api_reads_them(schema):
    def of(name, path=VIOLATIONS):
        return parameter(schema, path, "get", name)

    assert of("in_zone")["schema"] == {"type": "string", "enum": ["false", "true", "unknown"]}  # was boolean
    assert of("clause")["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}  # was number
    assert of("include_retracted")["schema"] == {"type": "boolean"}
    assert of("page_size")["schema"]["minimum"] == 1
    assert of("occurred_after")["schema"]["pattern"] == of("deadline_after", "/api/v1/clauses/")["schema"]["pattern"]
    # Optional single values may be sent empty; a list of choices may not hold an empty one.
    assert of("place")["allowEmptyValue"] is True
    assert "allowEmptyValue" not in of("status")


@pytest.mark.parametrize(
    ("name", "inside", "outside"),
    [
        ("occurred_after", ["1900-01-01", "2100-12-31"], ["1899-12-31", "2101-01-01", "2019-13-01"]),
        ("updated_since", ["1900-01-01T00:00:00+01:00", "2100-12-31T23:59:59.5Z"], ["2101-01-01T00:00:00Z"]),
    ],
)
def test_day_and_time_patterns_span_the_accepted_range(schema, api, violation, name, inside, outside):
    pattern = parameter(schema, VIOLATIONS, "get", name)["schema"]["pattern"]
    client = api.client("analyst")
    for value in inside:
        assert matches(pattern, value), value
        assert client.get(VIOLATIONS, {name: value}).status_code == 200, value
    for value in outside:
        assert not matches(pattern, value), value
        assert_error(client.get(VIOLATIONS, {name: value}), 400, fields={name})


def test_dates_of_assessments_and_reports_carry_the_range(schema):
    day = parameter(schema, VIOLATIONS, "get", "occurred_after")["schema"]["pattern"]

    assert component(schema, "AssessmentRequest")["properties"]["period_start"]["pattern"] == day
    assert component(schema, "ReportIssueRequest")["properties"]["from"]["pattern"] == day


def test_zone_geometry_and_clause_terms_are_typed(schema):
    geometry = component(schema, "ZoneRequest")["properties"]["geometry"]
    position = geometry["oneOf"][0]["properties"]["coordinates"]["items"]["items"]

    assert position["items"] == {"type": "number", "minimum": -180, "maximum": 180}
    assert component(schema, "ClauseRequest")["properties"]["terms"]["type"] == "object"


def test_ids_in_bodies_are_positive_bigints(schema):
    [row_id, _] = component(schema, "ViolationRequest")["properties"]["agreement"]["oneOf"]

    assert row_id == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}


# --- exports of violations linked to retired records ------------------------------------------------------------------
# Found by the fuzzer: the exports read linked clauses and sources with `objects`, which leaves the retired out, so a
# violation citing a retired clause or source failed XLSX and GeoJSON exports with a KeyError (500).


@pytest.mark.parametrize("fmt", ["xlsx", "geojson", "csv"])
def test_an_export_of_a_violation_linked_to_a_retired_clause_is_not_a_500(api, violation, fmt):
    clause = violation.clauses.get()
    services.model_retire(instance=clause, user=api.user("admin"), reason="Merged into another clause.")

    response = api.client("analyst").get(VIOLATIONS, {"format": fmt})
    # GeoJSON is streamed: its status is sent before the rows are read, so the failure is in the body.
    body = b"".join(response.streaming_content) if response.streaming else response.content

    assert response.status_code == 200
    assert body
    assert Violation.objects.filter(pk=violation.pk, clauses=clause).exists()
    if fmt == "csv":  # COPY on PostgreSQL, Python elsewhere: the retired clause's number is still in the cell
        assert clause.number in body.decode()


def test_the_schema_served_again_has_no_dangling_references(api):
    """Found by the browser test: a component rewritten in place by the first generation left the second pointing at
    an enum it no longer created (Redoc refused the whole document)."""
    client = api.client("analyst")
    for _ in range(2):
        schema = client.get("/api/schema/", {"format": "json"}).json()
        refs = set(re.findall(r"#/components/schemas/([A-Za-z0-9_]+)", json.dumps(schema)))
        assert refs <= set(schema["components"]["schemas"]), refs - set(schema["components"]["schemas"])


def test_async_and_mine_take_booleans_only(api, violation):
    """Found by the fuzzer once jobs joined the API: `async=banana` and `mine=banana` were read as "not asked"."""
    client = api.client("analyst")
    assert_error(client.get(VIOLATIONS, {"format": "csv", "async": "banana"}), 400, fields={"async"})
    assert_error(client.get(VIOLATIONS, {"async": "-58800"}), 400, fields={"async"})  # the JSON list checks it too
    assert_error(client.get("/api/v1/jobs/", {"mine": "banana"}), 400, fields={"mine"})
    assert client.get("/api/v1/jobs/", {"mine": "true"}).status_code == 200


def test_the_202_of_an_async_export_is_documented():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    responses = schema["paths"]["/api/v1/violations/"]["get"]["responses"]
    assert "202" in responses and "application/json" in responses["202"]["content"]
