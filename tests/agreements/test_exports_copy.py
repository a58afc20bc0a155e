"""Exports at the database's speed: the CSV through PostgreSQL's COPY (agreements/copy_sql.py) gives the bytes
of the Python path; streams leave the connection as they found it; GeoJSON streams; row limits count cheaply.

The tests run on both engines: on PostgreSQL `csv_stream` goes through COPY, on SQLite through `iter_csv`, and each
test says which it expects, so the byte comparisons below check COPY on PostgreSQL and the chunking on SQLite."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agreements import exports
from agreements.exports import (
    ACLED_COLUMNS,
    VIOLATION_COLUMNS,
    ExportTooLarge,
    check_size,
    copy_cells,
    copy_sql,
    csv_files,
    csv_stream,
    geojson_feature_collection,
    iter_csv,
    iter_geojson,
)
from agreements.exports import rows as export_rows
from agreements.models import Actor, Clause, Source, Violation
from reports.annex import ANNEX_FIELDS
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

# The report annex is written by the same path, with two columns of its own (status words, civilian-bound totals).
COLUMN_SETS = {"ours": VIOLATION_COLUMNS, "acled": ACLED_COLUMNS, "annex": ANNEX_FIELDS}
ON_POSTGRESQL = connection.vendor == "postgresql"
OUTSIDE = "outside_the_test_transaction"


def python_bytes(queryset, columns) -> bytes:
    return "".join(iter_csv(queryset, columns)).encode()


def stream_bytes(queryset, columns) -> bytes:
    return b"".join(csv_stream(queryset, columns))


def read_back(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture
def awkward():
    """Violations whose every cell is hard to get right: quotes, commas, CR/LF, formula-looking text, unicode that
    sorts differently casefolded, empty strings and NULLs, several perpetrators, clauses and sources."""
    agreement = AgreementFactory(slug="-sochi")  # a slug may start with a hyphen: a formula to a spreadsheet
    ZoneFactory(agreement=agreement, slug="=dmz")
    clauses = [
        ClauseFactory(agreement=agreement, number=number, position=position)
        for number, position in (("2(a)", 1), ("10", 1), ("2", 1), ("=1", 3), ("ب", 0))
    ]
    names = [
        "zeta Brigade",
        "Äpfel Front",
        "İdlib Guard",  # casefolds to "i" and a combining dot
        "ﬁre unit",  # the ligature casefolds to "fi", next to "Fire Brigade"; lower() would leave it after "z"
        "Fire Brigade",
        "@Home Militia",
        'Alpha, "the" Army',
        "ΣΊΓΜΑ Σ",
    ]
    actors = [ActorFactory(name=name, kind=Actor.Kind.MILITIA) for name in names]
    state = ActorFactory(name="Syrian Arab Army", kind=Actor.Kind.STATE_FORCE)
    affected = [ActorFactory(name="Civilians of Kafr Nabl"), ActorFactory(name="-Minus group")]
    odd_place = PlaceFactory(
        name='Kafr "Nabl", north\nside',
        admin1="+Idlib",
        admin2="",
        admin3="حارم",
        country="SY",
        latitude=Decimal("35.400000"),
        longitude=Decimal("36.600000"),
    )
    turkish = PlaceFactory(name="Ceylanpınar", admin1="Şanlıurfa", country="TR", latitude=Decimal("36.85"))
    formula_country = PlaceFactory(name="Nowhere", country="=X", latitude=Decimal("12.000000"))
    sources = [
        SourceFactory(publisher="=Evil Wire", title='Title, with "quotes"', url=""),
        SourceFactory(publisher="Example Wire", title="Spaces after   ", url=""),
        SourceFactory(publisher="Example Wire", title="Again", url="https://x.example.org/a \u3000"),
        SourceFactory(
            publisher="SOHR", title="Zero width", url="https://x.example.org/b\u200b", reliability="A", credibility=1
        ),
    ]
    user = UserFactory(role="monitor")
    made = [
        make_violation(
            user=user,
            agreement=agreement,
            clauses=clauses,
            perpetrators=actors,
            affected_actors=affected,
            sources=sources,
            place=odd_place,
            description='He said "stop", then =SUM(A1)\r\nline two\rline three\n',
            started_at=datetime(2019, 5, 6, 4, 0, 0, 123456, tzinfo=UTC),
            ended_at=datetime(2019, 5, 6, 5, 0, 0, 500000, tzinfo=UTC),
            time_precision=Violation.TimePrecision.EXACT,
            location_precision=Violation.LocationPrecision.EXACT,
            killed_low=0,
            killed_best=0,
            killed_high=2,
            civilians_killed_best=0,
            displaced=1500,
        ),
        make_violation(
            user=user,
            agreement=agreement,
            clauses=[clauses[3]],
            perpetrators=[state, actors[1]],
            category=Violation.Category.TERRITORIAL_CAPTURE,
            latitude=Decimal("0.000001"),
            longitude=Decimal("-0.000010"),
            location_precision=Violation.LocationPrecision.EXACT,
            description='=HYPERLINK("http://x")',
            started_at=datetime(2019, 5, 7, tzinfo=timezone.get_fixed_timezone(180)),
        ),
        make_violation(
            user=user,
            agreement=agreement,
            perpetrators=[state],
            category=Violation.Category.TERRITORIAL_CAPTURE,
            place=turkish,
            location_precision=Violation.LocationPrecision.REGION,  # in_zone: unknown
            time_precision=Violation.TimePrecision.MONTH,
            description="\\.",  # COPY's end-of-data marker, alone in a cell
            started_at=datetime(2019, 5, 8, 23, 59, 59, tzinfo=UTC),
            killed_best=None,
            civilians_killed_best=4,  # the total reads the civilian figure (the annex says so)
            civilians_injured_low=1,
        ),
        make_violation(
            user=user,
            agreement=agreement,
            affected_actors=[affected[1]],
            place=formula_country,
            latitude=Decimal("-90.000000"),
            longitude=Decimal("179.999999"),
            location_precision=Violation.LocationPrecision.TOWN,
            time_precision=Violation.TimePrecision.WEEK,
            category=Violation.Category.ROUTE_CLOSURE,
            description="\tTabbed 💥 Explosion; 🇸🇾, نص عربي",
            started_at=datetime(2019, 5, 9, tzinfo=UTC),
            killed_best=7,
            injured_best=3,
        ),
        make_violation(
            user=user,
            agreement=agreement,
            sources=[sources[0]],
            place=odd_place,
            description="-2 dead",
            started_at=datetime(2019, 5, 9, tzinfo=UTC),  # same start as the one above: the id decides
        ),
    ]
    retracted = made[-1]
    Violation.objects.filter(pk=retracted.pk).update(
        retracted_at=timezone.now(), retracted_by=user, retraction_reason="Duplicate."
    )
    # A retired clause and source leave what `objects` sees, not what a violation cited.
    Clause.all_objects.filter(pk=clauses[1].pk).update(
        retired_at=timezone.now(), retired_by=user, retirement_reason="Renumbered."
    )
    Source.all_objects.filter(pk=sources[1].pk).update(
        retired_at=timezone.now(), retired_by=user, retirement_reason="Withdrawn."
    )
    return made


QUERYSETS = {
    "default order": lambda: Violation.objects.all(),
    "by killed_best, NULLs": lambda: Violation.objects.order_by("killed_best", "id"),
    "reversed": lambda: Violation.objects.all().reverse(),
    "filtered, by updated_at": lambda: Violation.objects.filter(retracted_at__isnull=True).order_by(
        "-updated_at", "pk"
    ),
    "by a related model's actor": lambda: Violation.objects.filter(perpetrators__kind=Actor.Kind.STATE_FORCE),
    "distinct, as django-filter makes it": lambda: Violation.objects.filter(
        perpetrators__kind__in=[Actor.Kind.MILITIA, Actor.Kind.STATE_FORCE]
    ).distinct(),
}


@pytest.mark.parametrize("columns", COLUMN_SETS.values(), ids=COLUMN_SETS.keys())
@pytest.mark.parametrize("make_queryset", QUERYSETS.values(), ids=QUERYSETS.keys())
def test_the_streamed_csv_is_byte_identical_to_the_python_csv(awkward, make_queryset, columns):
    queryset = make_queryset()

    assert copy_sql.supports(queryset, columns) is ON_POSTGRESQL
    streamed = stream_bytes(queryset, columns)

    assert streamed == python_bytes(queryset, columns)
    assert len(read_back(streamed)) == queryset.count()


def test_the_awkward_cells_read_back_as_written(awkward):
    first, capture, *_ = awkward

    rows = {row["uuid"]: row for row in read_back(stream_bytes(Violation.objects.all(), VIOLATION_COLUMNS))}

    row = rows[str(first.uuid)]
    assert row["agreement"] == "'-sochi"
    assert row["description"] == 'He said "stop", then =SUM(A1)\r\nline two\rline three\n'
    assert row["place"] == 'Kafr "Nabl", north\nside'
    assert (row["admin1"], row["admin2"]) == ("'+Idlib", "")
    assert row["clauses"] == "ب; 10; 2; 2(a); =1"  # position, then number by code point
    assert row["perpetrators"] == (
        '\'@Home Militia; Alpha, "the" Army; Fire Brigade; ﬁre unit; İdlib Guard; zeta Brigade; Äpfel Front; ΣΊΓΜΑ Σ'
    )
    assert row["affected_actors"] == "'-Minus group; Civilians of Kafr Nabl"
    assert row["sources"] == (
        '\'=Evil Wire: Title, with "quotes" [C3] | Example Wire: Spaces after    [C3]'
        " | Example Wire: Again [C3] https://x.example.org/a | SOHR: Zero width [A1] https://x.example.org/b\u200b"
    )
    assert (row["started_at"], row["ended_at"]) == ("2019-05-06T04:00:00.123456Z", "2019-05-06T05:00:00.500000Z")
    assert (row["killed_low"], row["killed_best"], row["injured_best"], row["displaced"]) == ("0", "0", "", "1500")
    assert (row["in_zone"], row["zone"]) == ("true", "'=dmz")
    assert (row["latitude"], row["longitude"]) == ("35.4", "36.6")
    other = rows[str(capture.uuid)]
    assert (other["latitude"], other["longitude"]) == ("0.000001", "-0.00001")
    assert other["started_at"] == "2019-05-06T21:00:00Z"
    assert other["description"] == '\'=HYPERLINK("http://x")'


def test_acled_cells_read_back_as_written(awkward):
    first, capture, month, route, retracted = awkward

    rows = {row["event_id_cnty"]: row for row in read_back(stream_bytes(Violation.objects.all(), ACLED_COLUMNS))}

    assert rows[str(first.uuid)]["actor1"] == "'@Home Militia"
    assert rows[str(first.uuid)]["assoc_actor_1"].startswith('Alpha, "the" Army; Fire Brigade; ﬁre unit')
    assert rows[str(first.uuid)]["source"] == "'=Evil Wire; Example Wire; SOHR"
    assert (rows[str(first.uuid)]["country"], rows[str(first.uuid)]["admin3"]) == ("Syria", "حارم")
    # "Syrian Arab Army", a state force, sorts before "Äpfel Front": it is actor1, and the capture the government's.
    assert (rows[str(capture.uuid)]["actor1"], rows[str(capture.uuid)]["sub_event_type"]) == (
        "Syrian Arab Army",
        "Government regains territory",
    )
    assert rows[str(month.uuid)]["country"] == "TR"
    assert (rows[str(month.uuid)]["in_zone"], rows[str(month.uuid)]["time_precision"]) == ("", "3")
    assert rows[str(route.uuid)]["country"] == "'=X"
    assert (rows[str(route.uuid)]["latitude"], rows[str(route.uuid)]["longitude"]) == ("-90.0", "179.999999")
    assert rows[str(route.uuid)]["disorder_type"] == "Strategic developments"
    assert (rows[str(route.uuid)]["actor2"], rows[str(route.uuid)]["fatalities"]) == ("'-Minus group", "7")
    assert rows[str(retracted.uuid)]["fatalities"] == "0"


def test_rows_end_in_crlf_and_newlines_inside_cells_stay_as_written(awkward):
    data = stream_bytes(Violation.objects.filter(pk=awkward[0].pk), VIOLATION_COLUMNS)

    assert data.endswith(b"\r\n")
    assert data.count(b"\r\n") == 3  # the header, the row, and the description's own CRLF
    assert b"line two\rline three\n" in data


@pytest.mark.parametrize("columns", COLUMN_SETS.values(), ids=COLUMN_SETS.keys())
def test_no_rows_is_the_header_alone(awkward, columns):
    for queryset in (Violation.objects.none(), Violation.objects.filter(description="nothing like this")):
        assert (
            stream_bytes(queryset, columns) == python_bytes(queryset, columns) == exports.csv_header(columns).encode()
        )


def test_a_queryset_copy_cannot_reproduce_goes_through_python(awkward):
    for queryset in (
        Violation.objects.order_by("place__name", "id"),  # ordering through a relation: Django's to write
        Violation.objects.order_by("?"),
        Violation.objects.all()[:2],
        Violation.objects.order_by("id").distinct("id"),  # DISTINCT ON (PostgreSQL's)
    ):
        assert copy_sql.supports(queryset, VIOLATION_COLUMNS) is False
        with pytest.raises(ValueError, match="csv_stream"):
            copy_sql.iter_csv_copy(queryset, VIOLATION_COLUMNS)
    ordered = Violation.objects.order_by("place__name", "id")
    assert stream_bytes(ordered, VIOLATION_COLUMNS) == python_bytes(ordered, VIOLATION_COLUMNS)


def test_every_export_column_has_its_sql():
    missing = [column.name for column in (*VIOLATION_COLUMNS, *ACLED_COLUMNS) if column not in copy_cells.CELLS]

    assert missing == []


def test_python_whitespace_is_what_str_strip_strips():
    everything = "".join(chr(code) for code in range(0x110000) if chr(code).isspace())

    assert everything == copy_cells.PYTHON_WHITESPACE


def test_the_stream_is_chunked(awkward, monkeypatch):
    monkeypatch.setattr(csv_files, "STREAM_CHUNK_BYTES", 200)

    chunks = list(csv_stream(Violation.objects.all(), VIOLATION_COLUMNS))

    assert len(chunks) >= 4
    assert all(isinstance(chunk, bytes) for chunk in chunks)
    assert b"".join(chunks) == python_bytes(Violation.objects.all(), VIOLATION_COLUMNS)


def test_closing_a_stream_early_leaves_the_connection_usable(awkward, monkeypatch):
    monkeypatch.setattr(csv_files, "STREAM_CHUNK_BYTES", 1)
    was_atomic = connection.in_atomic_block

    stream = csv_stream(Violation.objects.all(), VIOLATION_COLUMNS)
    next(stream)  # the header
    next(stream)  # a row: the COPY is under way
    stream.close()

    assert connection.in_atomic_block is was_atomic
    assert Violation.objects.count() == len(awkward)  # the connection answers, the COPY is over
    assert stream_bytes(Violation.objects.all(), VIOLATION_COLUMNS) == python_bytes(
        Violation.objects.all(), VIOLATION_COLUMNS
    )


@pytest.fixture
def outside():
    """A second connection to the test database, outside the test's transaction, as a streamed body is read after
    the view's transaction (if any) is over. A transactional test would do too, but its flush at the end would
    also empty the role groups the migrations made, for every later test."""
    connections[OUTSIDE] = connections.create_connection(DEFAULT_DB_ALIAS)
    yield connections[OUTSIDE]
    connections[OUTSIDE].close()
    del connections[OUTSIDE]


@pytest.mark.parametrize("read", ["whole", "the header only"])
def test_a_stream_outside_a_transaction_leaves_none_open(outside, read):
    # The test's own rows are not committed: this connection sees none, and the export is the header alone.
    with CaptureQueriesContext(outside) as queries:
        stream = csv_stream(Violation.objects.using(OUTSIDE).all(), VIOLATION_COLUMNS)
        if read == "whole":
            assert b"".join(stream) == exports.csv_header(VIOLATION_COLUMNS).encode()
        else:
            next(stream)
            stream.close()

    assert outside.get_autocommit() is True
    assert not outside.in_atomic_block
    if ON_POSTGRESQL:
        assert outside.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        # Its own read-only transaction: the reference maps and the rows are one snapshot.
        statements = [query["sql"] for query in queries]
        assert statements[:2] == ["BEGIN", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"]
    assert Violation.objects.using(OUTSIDE).count() == 0


def test_nothing_is_read_before_the_first_chunk(awkward):
    with CaptureQueriesContext(connection) as queries:
        stream = csv_stream(Violation.objects.all(), VIOLATION_COLUMNS)
    assert len(queries) == 0

    assert next(stream).startswith(exports.UTF8_BOM.encode())
    stream.close()


# --- GeoJSON, streamed --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", COLUMN_SETS.values(), ids=COLUMN_SETS.keys())
def test_streamed_geojson_is_the_feature_collection(awkward, columns, monkeypatch):
    monkeypatch.setattr(csv_files, "STREAM_CHUNK_BYTES", 300)
    monkeypatch.setattr(export_rows, "CHUNK_SIZE", 2)

    chunks = list(iter_geojson(Violation.objects.all(), columns))

    assert len(chunks) > 3  # written as the rows are read, not built whole
    collection = json.loads(b"".join(chunks))
    assert collection == geojson_feature_collection(Violation.objects.all(), columns)
    assert len(collection["features"]) == len(awkward)
    assert "Äpfel" in b"".join(chunks).decode()  # not \u-escaped, as the API's JSON renderer writes it


def test_streamed_geojson_of_nothing_is_an_empty_collection():
    assert json.loads(b"".join(iter_geojson(Violation.objects.none(), VIOLATION_COLUMNS))) == {
        "type": "FeatureCollection",
        "features": [],
    }


# --- row limits ---------------------------------------------------------------------------------------------------


def test_the_size_check_counts_no_further_than_the_limit(awkward):
    with CaptureQueriesContext(connection) as queries:
        assert check_size(Violation.objects.all(), max_rows=5, fmt="GeoJSON") == 5
        with pytest.raises(ExportTooLarge) as refused:
            check_size(Violation.objects.all(), max_rows=4, fmt="GeoJSON")

    assert len(queries) == 2
    assert all("LIMIT" in query["sql"] and "ORDER BY" not in query["sql"] for query in queries)
    assert (refused.value.count, refused.value.max_rows) == (5, 4)
    assert "GeoJSON" in str(refused.value) and "CSV" in str(refused.value) and "filters" in str(refused.value)
    assert check_size(Violation.objects.all(), max_rows=0, fmt="CSV") is None  # 0: no limit, nothing counted


def test_csv_over_its_limit_is_refused_before_anything_is_streamed(awkward):
    with pytest.raises(ExportTooLarge) as refused:
        csv_stream(Violation.objects.all(), VIOLATION_COLUMNS, max_rows=len(awkward) - 1)

    assert "CSV" in str(refused.value) and "filters" in str(refused.value)
    assert len(read_back(stream_bytes(Violation.objects.all(), VIOLATION_COLUMNS))) == len(awkward)


def test_sources_with_the_same_publisher_are_named_once_in_acled_order(awkward):
    first = awkward[0]
    Source.objects.filter(publisher="SOHR").update(publisher="Example Wire")

    [row] = read_back(stream_bytes(Violation.objects.filter(pk=first.pk), ACLED_COLUMNS))

    assert row["source"] == "'=Evil Wire; Example Wire"
