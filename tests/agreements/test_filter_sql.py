"""Dashboard filters keep the indexes usable: date bounds compare the column itself (no cast of every row) and a
plain-column filter adds no DISTINCT over every column. The same answers either way, on both engines."""

from datetime import UTC, datetime

from agreements.models import Violation
from compliance.api.filters import ViolationFilter
from tests.factories import UserFactory, make_violation


def sql(params) -> str:
    return str(ViolationFilter(params, queryset=Violation.objects.all()).qs.query).upper()


def test_day_bounds_compare_started_at_itself_and_keep_whole_utc_days(db):
    late = make_violation(started_at=datetime(2019, 5, 6, 23, 59, 59, tzinfo=UTC))
    early = make_violation(started_at=datetime(2019, 5, 7, 0, 0, tzinfo=UTC))
    query = sql({"occurred_after": "2019-05-06", "occurred_before": "2019-05-06"})
    assert "DATE(" not in query and "::DATE" not in query and "DJANGO_DATETIME_CAST_DATE" not in query
    found = ViolationFilter(
        {"occurred_after": "2019-05-06", "occurred_before": "2019-05-06"}, queryset=Violation.objects.all()
    ).qs
    assert list(found) == [late]
    found = ViolationFilter({"occurred_after": "2019-05-07"}, queryset=Violation.objects.all()).qs
    assert list(found) == [early]


def test_a_category_filter_adds_no_distinct(db):
    make_violation(category=Violation.Category.SHELLING)
    assert "DISTINCT" not in sql({"category": ["shelling", "airstrike"]})
    assert ViolationFilter({"category": ["shelling"]}, queryset=Violation.objects.all()).qs.count() == 1


def test_the_unfiltered_shortcut_is_what_the_empty_filter_gives(db):
    standing = make_violation()
    retracted = make_violation()
    Violation.objects.filter(pk=retracted.pk).update(
        retracted_at=datetime(2020, 1, 1, tzinfo=UTC), retracted_by=UserFactory(), retraction_reason="Duplicate."
    )
    empty = ViolationFilter({}, queryset=Violation.objects.all()).qs

    assert list(ViolationFilter.unfiltered(Violation.objects.all())) == list(empty) == [standing]


def test_the_list_builds_the_filter_form_only_when_a_filter_is_named(api, monkeypatch):
    make_violation()
    built = []
    init = ViolationFilter.__init__

    def counted(self, *args, **kwargs):
        built.append(args[0] if args else kwargs.get("data"))
        init(self, *args, **kwargs)

    monkeypatch.setattr(ViolationFilter, "__init__", counted)
    client = api.client("analyst")

    plain = client.get("/api/v1/violations/?page_size=10&ordering=-started_at")
    assert plain.status_code == 200 and built == []
    named = client.get("/api/v1/violations/?page_size=10&include_retracted=false")
    assert named.status_code == 200 and len(built) == 1
    assert named.json()["results"] == plain.json()["results"]
    client.get("/api/v1/violations/?occurred_after=2000-01-01")
    assert len(built) == 2
