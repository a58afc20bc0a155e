"""GET /api/v1/stats/violations: counts and casualty sums by dimension, checked against a count done in Python over
the same rows; filters, retracted rows, the query budget and conditional GETs."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from agreements import services
from agreements.models import Violation
from tests.api_helpers import (
    assert_error,
    count_queries,
)
from tests.factories import (
    ActorFactory,
    AgreementFactory,
    ClauseFactory,
    PlaceFactory,
    SourceFactory,
    ZoneFactory,
    make_violation,
)

pytestmark = pytest.mark.django_db


URL = "/api/v1/stats/violations"

# The columns each dimension adds to a result row, and how to read them off a violation (one tuple per group the
# violation falls in: a violation with two perpetrators is in two actor groups; with none, in the empty group).
DIMENSIONS = {
    "actor": (("actor_id", "actor"), lambda v: [(a.pk, a.name) for a in v.perpetrators.all()] or [(None, None)]),
    "clause": (("clause_id", "clause"), lambda v: [(c.pk, c.number) for c in v.clauses.all()] or [(None, None)]),
    "category": (("category",), lambda v: [(v.category,)]),
    "place": (("place_id", "place"), lambda v: [(v.place_id, v.place.name if v.place_id else None)]),
    "admin1": (("admin1",), lambda v: [(v.place.admin1 if v.place_id else None,)]),
    "status": (("status",), lambda v: [(v.status,)]),
    "day": (("day",), lambda v: [(v.started_at.astimezone(UTC).date().isoformat(),)]),
    "week": (("week",), lambda v: [(monday(v.started_at).isoformat(),)]),
    "month": (("month",), lambda v: [(v.started_at.astimezone(UTC).date().replace(day=1).isoformat(),)]),
}
MODEL_FIELD_NAMES = ()


def monday(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def expected(violations, group_by: list[str]) -> dict[tuple, tuple[int, int | None]]:
    """{group key: (violations, sum of killed_best or None)}, counted in Python."""
    members = defaultdict(set)
    for violation in violations:
        for parts in itertools.product(*(DIMENSIONS[name][1](violation) for name in group_by)):
            members[sum(parts, ())].add(violation)
    result = {}
    for key, group in members.items():
        killed = [v.killed_best for v in group if v.killed_best is not None]
        result[key] = (len(group), sum(killed) if killed else None)
    return result


def actual(response, group_by: list[str]) -> dict[tuple, tuple[int, int | None]]:
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert body["group_by"] == group_by
    columns = [column for name in group_by for column in DIMENSIONS[name][0]]
    rows = {}
    for row in body["results"]:
        assert set(columns) <= set(row), row
        key = tuple(row[column] for column in columns)
        assert key not in rows, f"group {key} appears twice"
        rows[key] = (row["violations"], row["killed"])
    return rows


def live(**filters) -> list[Violation]:
    return list(Violation.objects.filter(retracted_at__isnull=True, **filters))


@pytest.fixture
def record(api):
    """Seven violations over two agreements, three actors, three clauses, three places (one without), four weeks and
    all statuses but rejected (w1 verified, w7 disputed); w6 is retracted. killed_best includes None and 0."""
    sochi, other = AgreementFactory(slug="sochi"), AgreementFactory(slug="other")
    ZoneFactory(agreement=sochi)
    a5, a6, b5 = (
        ClauseFactory(agreement=sochi, number="5"),
        ClauseFactory(agreement=sochi, number="6"),
        ClauseFactory(agreement=other, number="5"),
    )
    saa, hts, turkey = (
        ActorFactory(slug="saa", name="Syrian Arab Army"),
        ActorFactory(slug="hts", name="HTS"),
        ActorFactory(slug="turkey", name="Turkey"),
    )
    kafr_nabl = PlaceFactory(name="Kafr Nabl", admin1="Idlib")
    maarat = PlaceFactory(name="Maarat", admin1="Idlib", latitude=Decimal("35.6"), longitude=Decimal("36.6"))
    far = PlaceFactory(name="Far Town", admin1="Hama", latitude=Decimal("34.0"), longitude=Decimal("38.0"))
    monitor, reviewer = api.user("monitor"), api.user("reviewer")

    def record_one(name, agreement, clauses, category, perpetrators, started_at, killed, **fields):
        return make_violation(
            user=monitor,
            agreement=agreement,
            clauses=clauses,
            category=category,
            perpetrators=perpetrators,
            started_at=started_at,
            killed_best=killed,
            description=name,
            **fields,
        )

    shelling, airstrike = Violation.Category.SHELLING, Violation.Category.AIRSTRIKE
    w = {
        "w1": record_one(
            "w1",
            sochi,
            [a5],
            shelling,
            [saa],
            datetime(2019, 5, 6, 4, tzinfo=UTC),
            3,
            place=kafr_nabl,
            sources=[SourceFactory()],
        ),
        "w2": record_one(
            "w2", sochi, [a5, a6], airstrike, [saa, hts], datetime(2019, 5, 7, 23, 59, tzinfo=UTC), 5, place=maarat
        ),
        "w3": record_one(
            "w3",
            sochi,
            [a6],
            Violation.Category.GROUND_ASSAULT,
            [hts],
            datetime(2019, 5, 13, tzinfo=UTC),
            None,
            place=far,
        ),
        "w4": record_one(
            "w4",
            other,
            [b5],
            shelling,
            [turkey],
            datetime(2019, 6, 1, 10, tzinfo=UTC),
            1,
            latitude=Decimal("35.1"),
            longitude=Decimal("36.9"),
        ),
        "w5": record_one(
            "w5", sochi, [], Violation.Category.OTHER, [], datetime(2019, 5, 5, 12, tzinfo=UTC), 0, place=kafr_nabl
        ),
        "w6": record_one("w6", sochi, [a5], shelling, [saa], datetime(2019, 5, 6, 5, tzinfo=UTC), 10, place=kafr_nabl),
        "w7": record_one(
            "w7", sochi, [a5], shelling, [saa, hts], datetime(2019, 5, 12, 23, tzinfo=UTC), 2, place=maarat
        ),
    }
    services.violation_verify(violation=w["w1"], user=reviewer)
    services.violation_dispute(violation=w["w7"], user=reviewer, note="Sources disagree.")
    services.violation_retract(violation=w["w6"], user=reviewer, reason="Duplicate of w1.")
    return w


def stats(api, group_by: str = "", **params):
    return api.client("analyst").get(URL, {"group_by": group_by, **params})


SINGLE = [
    pytest.param(name, marks=MODEL_FIELD_NAMES) if name in {"category", "place", "status"} else name
    for name in DIMENSIONS
]


@pytest.mark.parametrize("dimension", SINGLE)
def test_each_dimension_counts_as_python_does(api, record, dimension):
    assert actual(stats(api, dimension), [dimension]) == expected(live(), [dimension])


@pytest.mark.parametrize(
    "group_by",
    [
        "actor,week",
        "clause,month",
        "actor,clause",
        "admin1,day",
        pytest.param("category,week", marks=MODEL_FIELD_NAMES),
        pytest.param("actor,status", marks=MODEL_FIELD_NAMES),
    ],
)
def test_combined_dimensions_count_as_python_does(api, record, group_by):
    names = group_by.split(",")
    assert actual(stats(api, group_by), names) == expected(live(), names)


def test_actor_week_groups_are_as_counted_by_hand(api, record):
    rows = actual(stats(api, "actor,week"), ["actor", "week"])
    saa, hts = record["w1"].perpetrators.get(), record["w3"].perpetrators.get()

    assert rows[(saa.pk, "Syrian Arab Army", "2019-05-06")] == (3, 10)  # w1, w2, w7 (Sunday 12th); w6 retracted
    assert rows[(hts.pk, "HTS", "2019-05-06")] == (2, 7)  # w2, w7
    assert rows[(hts.pk, "HTS", "2019-05-13")] == (1, None)  # w3: killed not reported
    assert rows[(None, None, "2019-04-29")] == (1, 0)  # w5: no perpetrator, killed 0


def test_without_group_by_there_is_one_total_row(api, record):
    response = stats(api)

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["violations"] == 6
    assert row["killed"] == 3 + 5 + 1 + 0 + 2


@pytest.mark.parametrize(
    ("params", "filters"),
    [
        ({"category": "shelling"}, {"category": "shelling"}),
        ({"agreement": "sochi"}, {"agreement__slug": "sochi"}),
        ({"occurred_after": "2019-05-07", "occurred_before": "2019-05-12"}, {"description__in": ["w2", "w7"]}),
        ({"actor": "hts"}, {"description__in": ["w2", "w3", "w7"]}),
        ({"clause_number": "5", "agreement": "sochi"}, {"description__in": ["w1", "w2", "w7"]}),
        ({"admin1": "Idlib"}, {"place__admin1": "Idlib"}),
        ({"in_zone": "true"}, {"in_zone": True}),
    ],
    ids=lambda value: "&".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None,
)
@pytest.mark.parametrize("group_by", ["actor", "week", "actor,clause"])
def test_stats_honour_the_list_filters(api, record, params, filters, group_by):
    names = group_by.split(",")
    rows = actual(stats(api, group_by, **params), names)
    assert rows == expected(live(**filters), names)
    assert rows != expected(live(), names) or len(live(**filters)) == len(live())


def test_retracted_rows_do_not_count(api, record):
    saa = record["w1"].perpetrators.get()
    before = actual(stats(api, "actor"), ["actor"])[(saa.pk, "Syrian Arab Army")]

    services.violation_retract(violation=record["w1"], user=api.user("reviewer"), reason="Wrong place.")
    after = actual(stats(api, "actor"), ["actor"])[(saa.pk, "Syrian Arab Army")]

    assert before == (3, 10)
    assert after == (2, 7)


@pytest.mark.parametrize("params", [{"updated_since": "2000-01-01T00:00:00Z"}, {"include_retracted": "true"}])
def test_retracted_rows_do_not_count_whatever_the_filters(api, record, params):
    assert actual(stats(api, "actor", **params), ["actor"]) == expected(live(), ["actor"])


@pytest.mark.parametrize("group_by", ["weather", "actor,weather", "actor;week"])
def test_an_unknown_group_by_is_400(api, record, group_by):
    error = assert_error(stats(api, group_by), 400, code="invalid", fields={"group_by"})
    assert "weather" in error["message"] or "actor;week" in error["message"]


def test_a_bad_filter_is_400(api, record):
    assert_error(stats(api, "week", bbox="1,2"), 400, fields={"bbox"})
    assert_error(stats(api, "week", occurred_after="soon"), 400, fields={"occurred_after"})


def test_a_repeated_dimension_is_counted_once(api, record):
    assert actual(stats(api, "week,week"), ["week"]) == expected(live(), ["week"])


def test_an_analyst_and_a_read_only_token_may_read_stats(api, record):
    assert api.client("analyst").get(URL).status_code == 200
    assert api.client("monitor", read_only=True).get(URL).status_code == 200


# --- query budget -----------------------------------------------------------------------------------------------


def test_stats_run_one_aggregate_and_one_counter_query_whatever_the_rows(api):
    agreement, place = AgreementFactory(), PlaceFactory()
    actors, clauses = ActorFactory.create_batch(3), ClauseFactory.create_batch(3, agreement=agreement)
    client = api.client("analyst")

    def add(n):
        for i in range(n):
            make_violation(
                user=api.user("monitor"),
                agreement=agreement,
                place=place,
                perpetrators=actors[: 1 + i % 3],
                clauses=clauses[: 1 + i % 2],
                started_at=datetime(2019, 5, 1, tzinfo=UTC) + timedelta(days=i),
                killed_best=i,
            )

    add(3)
    client.get(URL)  # warm up: the token's first use is recorded once
    few_response, few = count_queries(lambda: client.get(URL, {"group_by": "actor,clause,week"}))
    add(27)
    many_response, many = count_queries(lambda: client.get(URL, {"group_by": "actor,clause,week"}))

    assert few_response.status_code == many_response.status_code == 200
    assert len(many_response.json()["results"]) > len(few_response.json()["results"])
    assert len(many) == len(few) <= 8, many
    on_violations = [sql for sql in many if '"agreements_violation"' in sql]
    assert len(on_violations) == 1, on_violations  # the aggregate; the ETag reads the change counter
    assert len([sql for sql in many if '"compliance_changestamp"' in sql]) == 1


# --- conditional GETs -------------------------------------------------------------------------------------------


def test_stats_answer_304_to_a_repeated_request_without_aggregating(api, record):
    client = api.client("analyst")
    first = client.get(URL, {"group_by": "actor,week"})
    assert first["ETag"]
    assert first["Last-Modified"]

    again, queries = count_queries(
        lambda: client.get(URL, {"group_by": "actor,week"}, HTTP_IF_NONE_MATCH=first["ETag"])
    )

    assert again.status_code == 304
    assert again.content == b""
    assert [sql for sql in queries if '"agreements_' in sql] == []  # the change counter decides


def test_stats_etag_changes_after_an_update(api, record):
    client = api.client("analyst")
    first = client.get(URL, {"group_by": "week"})

    services.violation_update(
        violation=Violation.objects.get(pk=record["w1"].pk), user=api.user("reviewer"), killed_best=30
    )
    again = client.get(URL, {"group_by": "week"}, HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 200
    assert again["ETag"] != first["ETag"]
    assert actual(again, ["week"])[("2019-05-06",)] == (3, 37)


def test_stats_etag_differs_per_grouping_and_filter(api, record):
    client = api.client("analyst")
    tags = {
        client.get(URL, params)["ETag"]
        for params in ({"group_by": "week"}, {"group_by": "actor"}, {"group_by": "week", "category": "shelling"})
    }
    assert len(tags) == 3
