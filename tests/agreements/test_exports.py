"""Violation exports (agreements/exports/): CSV, XLSX and GeoJSON from one column list, ours and ACLED-style."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agreements.exports import (
    ACLED_COLUMNS,
    ACLED_EVENT_TYPES,
    VIOLATION_COLUMNS,
    ExportTooLarge,
    csv_stream,
    escape_cell,
    geojson_feature_collection,
    iter_csv,
    xlsx,
    xlsx_bytes,
)
from agreements.models import Actor, Violation
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

pytestmark = pytest.mark.django_db

STARTED = datetime(2019, 5, 6, 4, 0, tzinfo=UTC)
# Latitude and longitude far enough apart that a swapped pair cannot pass for the right one.
OWN_POINT = {"latitude": Decimal("35.100000"), "longitude": Decimal("36.900000")}


def csv_rows(queryset, columns) -> list[dict[str, str]]:
    # What the API sends (COPY on PostgreSQL), which must be the Python path's bytes.
    data = b"".join(csv_stream(queryset, columns))
    assert data == "".join(iter_csv(queryset, columns)).encode()
    text = data.decode()
    assert text.startswith("\ufeff"), "the CSV must start with a UTF-8 BOM for Excel"
    reader = csv.reader(io.StringIO(text[1:], newline=""))
    header, *rows = list(reader)
    assert header == [column.header for column in columns]
    return [dict(zip(header, row, strict=True)) for row in rows]


def only_row(columns, **filters):
    rows = csv_rows(Violation.objects.filter(**filters), columns)
    assert len(rows) == 1
    return rows[0]


@pytest.fixture
def agreement():
    return AgreementFactory(slug="sochi-2018")


@pytest.fixture
def rich_violation(agreement):
    """A violation with every kind of link: clauses, two perpetrators, an affected actor, two sources."""
    clauses = [
        ClauseFactory(agreement=agreement, number="2", position=2),
        ClauseFactory(agreement=agreement, number="5", position=5),
    ]
    zeta = ActorFactory(name="Zeta Brigade", kind=Actor.Kind.MILITIA)
    alpha = ActorFactory(name="alpha Army", kind=Actor.Kind.STATE_FORCE)
    civilians = ActorFactory(name="Civilians of Kafr Nabudah", kind=Actor.Kind.CIVILIANS)
    place = PlaceFactory(name="Kafr Nabudah", admin1="Hama", admin2="As-Suqaylabiyah", admin3="Kafr Nabudah")
    wire = SourceFactory(publisher="Example Wire", title="Shells fall", url="https://news.example.org/shells")
    wire_again = SourceFactory(publisher="Example Wire", title="Follow-up", url="")
    monitor = SourceFactory(publisher="SOHR", title="Daily toll", url="https://sohr.example.org/1")
    return make_violation(
        agreement=agreement,
        clauses=clauses,
        perpetrators=[zeta, alpha],
        affected_actors=[civilians],
        sources=[wire, monitor, wire_again],
        place=place,
        location_precision=Violation.LocationPrecision.EXACT,
        time_precision=Violation.TimePrecision.WEEK,
        killed_low=2,
        killed_best=3,
        killed_high=5,
        civilians_killed_best=1,
        displaced=40,
        started_at=STARTED,
        **OWN_POINT,
    )


# --- CSV, our columns ---------------------------------------------------------------------------------------------


def test_csv_has_the_bom_our_headers_and_one_row_per_violation(agreement):
    for _ in range(3):
        make_violation(agreement=agreement)
    make_violation()  # another agreement: filtered out below

    rows = csv_rows(Violation.objects.filter(agreement=agreement), VIOLATION_COLUMNS)

    assert len(rows) == Violation.objects.filter(agreement=agreement).count() == 3
    assert {row["agreement"] for row in rows} == {"sochi-2018"}


def test_csv_writes_our_columns_values(rich_violation):
    row = only_row(VIOLATION_COLUMNS, pk=rich_violation.pk)

    assert row["uuid"] == str(rich_violation.uuid)
    assert row["agreement"] == "sochi-2018"
    assert row["started_at"] == "2019-05-06T04:00:00Z"
    assert row["ended_at"] == ""
    assert row["time_precision"] == "week"
    assert row["category"] == "shelling"
    assert row["clauses"] == "2; 5"
    assert row["perpetrators"] == "alpha Army; Zeta Brigade"
    assert row["affected_actors"] == "Civilians of Kafr Nabudah"
    assert (row["place"], row["admin1"], row["admin2"]) == ("Kafr Nabudah", "Hama", "As-Suqaylabiyah")
    assert (row["latitude"], row["longitude"]) == ("35.1", "36.9")
    assert row["location_precision"] == "exact"
    assert (row["in_zone"], row["zone"]) == ("false", "")
    assert (row["killed_low"], row["killed_best"], row["killed_high"]) == ("2", "3", "5")
    assert (row["civilians_killed_best"], row["injured_best"], row["displaced"]) == ("1", "", "40")
    assert (row["status"], row["retracted"], row["version"]) == ("reported", "false", "1")
    assert row["sources"] == (
        "Example Wire: Shells fall [C3] https://news.example.org/shells"
        " | SOHR: Daily toll [C3] https://sohr.example.org/1"
        " | Example Wire: Follow-up [C3]"
    )
    assert row["description"] == "Shelling reported."
    assert row["updated_at"].endswith("Z")


def test_csv_names_the_zone_and_leaves_in_zone_empty_when_too_coarse(agreement):
    zone = ZoneFactory(agreement=agreement, slug="dmz")
    inside = make_violation(agreement=agreement, place=PlaceFactory())  # the default place is inside the square
    coarse = make_violation(agreement=agreement, location_precision=Violation.LocationPrecision.REGION)

    assert inside.zone == zone
    assert only_row(VIOLATION_COLUMNS, pk=inside.pk)["in_zone"] == "true"
    assert only_row(VIOLATION_COLUMNS, pk=inside.pk)["zone"] == "dmz"
    assert only_row(VIOLATION_COLUMNS, pk=coarse.pk)["in_zone"] == ""


def test_csv_marks_a_retracted_violation(agreement):
    violation = make_violation(agreement=agreement)
    Violation.objects.filter(pk=violation.pk).update(
        retracted_at=timezone.now(), retracted_by=UserFactory(), retraction_reason="Duplicate."
    )

    assert only_row(VIOLATION_COLUMNS, pk=violation.pk)["retracted"] == "true"


def test_csv_takes_the_place_coordinates_when_the_violation_has_none():
    violation = make_violation(place=PlaceFactory(latitude=Decimal("34.25"), longitude=Decimal("37.75")))

    row = only_row(VIOLATION_COLUMNS, pk=violation.pk)

    assert (row["latitude"], row["longitude"]) == ("34.25", "37.75")


# --- formula escaping ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "description",
    ['=HYPERLINK("http://x")', "+1", "-2 dead", "@SUM(A1)", "\t=1+1", "\r=1+1"],
)
def test_csv_escapes_text_a_spreadsheet_would_run_as_a_formula(description):
    violation = make_violation(description=description, killed_best=2)

    row = only_row(VIOLATION_COLUMNS, pk=violation.pk)

    assert row["description"] == "'" + description
    assert row["killed_best"] == "2"


def test_csv_escapes_a_formula_in_a_name_too():
    actor = ActorFactory(name="=cmd|' /C calc'!A0")
    violation = make_violation(perpetrators=[actor])

    assert only_row(ACLED_COLUMNS, pk=violation.pk)["actor1"] == "'=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("=1+1", "'=1+1"),
        ("-2", "'-2"),  # a string stays a string, even when it looks like a number
        ("Idlib", "Idlib"),
        ("a=b", "a=b"),
        ("", ""),
        (-2, "-2"),  # a number is not escaped
        (3, "3"),
        (-35.5, "-35.5"),
        (0.000001, "0.000001"),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (datetime(2019, 5, 6, 7, 0, tzinfo=timezone.get_fixed_timezone(180)), "2019-05-06T04:00:00Z"),
        (datetime(2019, 5, 6).date(), "2019-05-06"),
    ],
)
def test_escape_cell_escapes_strings_only(value, text):
    assert escape_cell(value) == text


# --- CSV, ACLED-style columns -------------------------------------------------------------------------------------


def test_acled_csv_maps_our_fields(rich_violation):
    row = only_row(ACLED_COLUMNS, pk=rich_violation.pk)

    assert row["event_id_cnty"] == str(rich_violation.uuid)
    assert (row["event_date"], row["year"], row["time_precision"]) == ("2019-05-06", "2019", "2")
    assert (row["disorder_type"], row["event_type"], row["sub_event_type"]) == (
        "Political violence",
        "Explosions/Remote violence",
        "Shelling/artillery/missile attack",
    )
    assert (row["actor1"], row["assoc_actor_1"]) == ("alpha Army", "Zeta Brigade")
    assert (row["actor2"], row["assoc_actor_2"]) == ("Civilians of Kafr Nabudah", "")
    assert (row["country"], row["admin1"], row["admin2"], row["admin3"]) == (
        "Syria",
        "Hama",
        "As-Suqaylabiyah",
        "Kafr Nabudah",
    )
    assert (row["location"], row["latitude"], row["longitude"], row["geo_precision"]) == (
        "Kafr Nabudah",
        "35.1",
        "36.9",
        "1",
    )
    assert row["source"] == "Example Wire; SOHR"
    assert row["notes"] == "Shelling reported."
    assert row["fatalities"] == "3"
    assert (row["clauses"], row["in_zone"], row["status"]) == ("2; 5", "false", "reported")


def test_acled_fatalities_are_zero_when_not_reported():
    violation = make_violation(killed_best=None, location_precision=Violation.LocationPrecision.DISTRICT)

    row = only_row(ACLED_COLUMNS, pk=violation.pk)

    assert (row["fatalities"], row["geo_precision"], row["time_precision"]) == ("0", "2", "1")
    assert (row["actor1"], row["actor2"], row["source"]) == ("", "", "")


def test_acled_event_date_is_the_utc_date():
    # 01:00 on the 6th in Damascus (UTC+3) is 22:00 UTC on the 5th.
    violation = make_violation(started_at=datetime(2019, 5, 6, 1, 0, tzinfo=timezone.get_fixed_timezone(180)))

    assert only_row(ACLED_COLUMNS, pk=violation.pk)["event_date"] == "2019-05-05"


def test_every_category_has_an_acled_event_type():
    assert set(ACLED_EVENT_TYPES) == set(Violation.Category.values)


@pytest.mark.parametrize(
    ("category", "perpetrator_kind", "expected"),
    [
        ("airstrike", None, ("Political violence", "Explosions/Remote violence", "Air/drone strike")),
        ("barrel_bomb", None, ("Political violence", "Explosions/Remote violence", "Air/drone strike")),
        ("ground_assault", None, ("Political violence", "Battles", "Armed clash")),
        ("patrol_attack", None, ("Political violence", "Battles", "Armed clash")),
        ("territorial_capture", "state_force", ("Political violence", "Battles", "Government regains territory")),
        ("territorial_capture", "unit", ("Political violence", "Battles", "Government regains territory")),
        (
            "territorial_capture",
            "non_state_armed_group",
            ("Political violence", "Battles", "Non-state actor overtakes territory"),
        ),
        ("territorial_capture", None, ("Political violence", "Battles", "Non-state actor overtakes territory")),
        ("heavy_weapons_in_zone", None, ("Strategic developments", "Strategic developments", "Other")),
        ("route_closure", None, ("Strategic developments", "Strategic developments", "Other")),
    ],
)
def test_acled_event_type_follows_the_category(category, perpetrator_kind, expected):
    perpetrators = [ActorFactory(kind=perpetrator_kind)] if perpetrator_kind else []
    violation = make_violation(category=category, perpetrators=perpetrators)

    row = only_row(ACLED_COLUMNS, pk=violation.pk)

    assert (row["disorder_type"], row["event_type"], row["sub_event_type"]) == expected


def test_a_territorial_capture_is_coded_by_actor1():
    state = ActorFactory(name="Syrian Arab Army", kind=Actor.Kind.STATE_FORCE)
    group = ActorFactory(name="Allied Militia", kind=Actor.Kind.MILITIA)  # first alphabetically: actor1
    violation = make_violation(category="territorial_capture", perpetrators=[state, group])

    row = only_row(ACLED_COLUMNS, pk=violation.pk)

    assert (row["actor1"], row["sub_event_type"]) == ("Allied Militia", "Non-state actor overtakes territory")


# --- query counts -------------------------------------------------------------------------------------------------


def make_linked_violations(agreement, count):
    clause = ClauseFactory(agreement=agreement)
    for _ in range(count):
        make_violation(
            agreement=agreement,
            clauses=[clause],
            perpetrators=[ActorFactory(), ActorFactory()],
            affected_actors=[ActorFactory()],
            sources=[SourceFactory(), SourceFactory()],
        )


def export_queries(render, agreement) -> int:
    queryset = Violation.objects.filter(agreement=agreement)
    with CaptureQueriesContext(connection) as queries:
        render(queryset)
    return len(queries)


RENDERERS = {
    "csv": lambda queryset: "".join(iter_csv(queryset, VIOLATION_COLUMNS)),
    "acled-csv": lambda queryset: "".join(iter_csv(queryset, ACLED_COLUMNS)),
    "csv-stream": lambda queryset: b"".join(csv_stream(queryset, VIOLATION_COLUMNS)),
    "acled-csv-stream": lambda queryset: b"".join(csv_stream(queryset, ACLED_COLUMNS)),
    "xlsx": lambda queryset: xlsx_bytes(queryset, VIOLATION_COLUMNS, max_rows=1000),
    "geojson": lambda queryset: geojson_feature_collection(queryset, VIOLATION_COLUMNS),
}


@pytest.mark.parametrize("renderer", RENDERERS.values(), ids=RENDERERS.keys())
def test_query_count_does_not_grow_with_rows(agreement, renderer):
    make_linked_violations(agreement, 3)
    with_3 = export_queries(renderer, agreement)
    make_linked_violations(agreement, 27)
    with_30 = export_queries(renderer, agreement)

    assert Violation.objects.filter(agreement=agreement).count() == 30
    assert with_3 == with_30
    assert with_30 <= 9  # rows, 4 link queries, 3 shared lookups (actors, clauses, sources), + the count for XLSX


# --- XLSX ---------------------------------------------------------------------------------------------------------


def load_sheets(data: bytes):
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    return workbook, [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]


def test_xlsx_has_a_header_and_one_row_per_violation_with_native_types(rich_violation, agreement):
    make_violation(agreement=agreement, description='=HYPERLINK("http://x")', killed_best=None)
    queryset = Violation.objects.filter(agreement=agreement).order_by("started_at", "id")

    workbook, rows = load_sheets(xlsx_bytes(queryset, VIOLATION_COLUMNS, max_rows=10))

    assert workbook.sheetnames == ["Violations", "About"]
    header, *body = rows
    assert header == [column.header for column in VIOLATION_COLUMNS]
    assert len(body) == queryset.count() == 2
    by_uuid = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    rich = by_uuid[str(rich_violation.uuid)]
    assert rich["killed_best"] == 3 and isinstance(rich["killed_best"], int)
    assert rich["latitude"] == pytest.approx(35.1) and isinstance(rich["latitude"], float)
    assert rich["longitude"] == pytest.approx(36.9)
    assert rich["started_at"] == datetime(2019, 5, 6, 4, 0)  # naive, in UTC
    assert rich["retracted"] is False
    assert rich["in_zone"] is False
    assert rich["injured_best"] is None
    assert rich["perpetrators"] == "alpha Army; Zeta Brigade"
    other = next(row for uuid, row in by_uuid.items() if uuid != str(rich_violation.uuid))
    assert other["description"] == '\'=HYPERLINK("http://x")'
    assert other["killed_best"] is None


def test_xlsx_acled_event_date_is_a_date(rich_violation):
    _, rows = load_sheets(xlsx_bytes(Violation.objects.all(), ACLED_COLUMNS, max_rows=10))
    row = dict(zip(rows[0], rows[1], strict=True))

    assert row["event_date"].date() == datetime(2019, 5, 6).date()  # openpyxl reads dates back as datetimes
    assert (row["year"], row["fatalities"], row["time_precision"]) == (2019, 3, 2)


def test_xlsx_about_sheet_describes_the_columns(rich_violation):
    workbook, _ = load_sheets(xlsx_bytes(Violation.objects.all(), VIOLATION_COLUMNS, max_rows=10))
    about = [list(row) for row in workbook["About"].iter_rows(values_only=True)]

    assert about[0][0] == "Exported at (UTC)" and isinstance(about[0][1], datetime)
    assert about[1] == ["Rows", 1]
    described = {row[0]: row[1] for row in about if row and row[0] in {c.header for c in VIOLATION_COLUMNS}}
    assert set(described) == {column.header for column in VIOLATION_COLUMNS}
    assert all(described.values())


def test_xlsx_drops_control_characters_openpyxl_refuses():
    violation = make_violation(description="line\x01one\x0b")

    _, rows = load_sheets(xlsx_bytes(Violation.objects.filter(pk=violation.pk), VIOLATION_COLUMNS, max_rows=10))

    assert dict(zip(rows[0], rows[1], strict=True))["description"] == "lineone"


def test_xlsx_refuses_more_rows_than_the_limit_before_building(agreement, monkeypatch):
    for _ in range(3):
        make_violation(agreement=agreement)

    def no_workbook(*args, **kwargs):
        raise AssertionError("a workbook was built")

    monkeypatch.setattr(xlsx, "Workbook", no_workbook)
    with CaptureQueriesContext(connection) as queries, pytest.raises(ExportTooLarge) as refused:
        xlsx_bytes(Violation.objects.all(), VIOLATION_COLUMNS, max_rows=2)

    assert (refused.value.count, refused.value.max_rows) == (3, 2)
    assert "CSV" in str(refused.value) and "filters" in str(refused.value)
    assert len(queries) == 1  # the count, nothing else


def test_xlsx_accepts_exactly_the_limit(agreement):
    for _ in range(2):
        make_violation(agreement=agreement)

    _, rows = load_sheets(xlsx_bytes(Violation.objects.all(), VIOLATION_COLUMNS, max_rows=2))

    assert len(rows) == 3


# --- GeoJSON ------------------------------------------------------------------------------------------------------


def test_geojson_puts_each_violation_at_lon_lat(rich_violation):
    by_place = make_violation(place=PlaceFactory(latitude=Decimal("34.25"), longitude=Decimal("37.75")))

    collection = geojson_feature_collection(Violation.objects.all(), VIOLATION_COLUMNS)

    assert collection["type"] == "FeatureCollection"
    features = {feature["id"]: feature for feature in collection["features"]}
    assert set(features) == {str(rich_violation.uuid), str(by_place.uuid)}
    own = features[str(rich_violation.uuid)]
    assert own["type"] == "Feature"
    assert own["geometry"] == {"type": "Point", "coordinates": [36.9, 35.1]}
    assert all(isinstance(c, float) for c in own["geometry"]["coordinates"])
    assert features[str(by_place.uuid)]["geometry"]["coordinates"] == [37.75, 34.25]


def test_geojson_properties_keep_json_types_and_are_not_escaped(rich_violation):
    Violation.objects.filter(pk=rich_violation.pk).update(description="=1+1")

    collection = geojson_feature_collection(Violation.objects.all(), VIOLATION_COLUMNS)

    properties = collection["features"][0]["properties"]
    assert set(properties) == {column.name for column in VIOLATION_COLUMNS}
    assert properties["uuid"] == str(rich_violation.uuid)
    assert properties["description"] == "=1+1"
    assert properties["killed_best"] == 3
    assert properties["injured_best"] is None
    assert properties["in_zone"] is False
    assert properties["retracted"] is False
    assert properties["started_at"] == "2019-05-06T04:00:00Z"
    assert properties["ended_at"] is None
    assert (properties["latitude"], properties["longitude"]) == (35.1, 36.9)
    assert properties["clauses"] == "2; 5"
    assert json.loads(json.dumps(collection)) == collection


def test_geojson_with_acled_columns(rich_violation):
    collection = geojson_feature_collection(Violation.objects.all(), ACLED_COLUMNS)

    properties = collection["features"][0]["properties"]
    assert (properties["event_date"], properties["year"], properties["fatalities"]) == ("2019-05-06", 2019, 3)
    assert properties["actor1"] == "alpha Army"
    json.dumps(collection)


def test_geojson_of_nothing_is_an_empty_collection():
    assert geojson_feature_collection(Violation.objects.none(), VIOLATION_COLUMNS) == {
        "type": "FeatureCollection",
        "features": [],
    }
