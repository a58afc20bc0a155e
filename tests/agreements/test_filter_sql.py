"""Dashboard filters keep the indexes usable: date bounds compare the column itself (no cast of every row) and a
plain-column filter adds no DISTINCT over every column. The same answers either way, on both engines."""

from datetime import UTC, datetime

from agreements.models import Violation
from compliance.api.filters import ViolationFilter
from tests.factories import make_violation


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
