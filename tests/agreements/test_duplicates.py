"""Duplicate hints and merging (agreements/duplicates.py): same agreement, category and UTC day, at the same place or
within 5 km; a reviewer merges, the record kept gets the sources, clauses and actors, the duplicate is retracted."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from agreements.duplicates import duplicate_pairs, haversine_km, likely_duplicates
from agreements.models import ControlChange, Violation, ViolationSource
from agreements.services import violation_merge
from tests.factories import (
    ActorFactory,
    AgreementFactory,
    ClauseFactory,
    PlaceFactory,
    SourceFactory,
    UserFactory,
    make_violation,
)

pytestmark = pytest.mark.django_db

MORNING = datetime(2019, 5, 6, 4, 0, tzinfo=UTC)
# One degree of latitude is about 111.2 km: these offsets put a point about 3 km and 6 km north of the place.
THREE_KM = Decimal("0.027")
SIX_KM = Decimal("0.054")


@pytest.fixture
def agreement():
    return AgreementFactory()


@pytest.fixture
def place():
    return PlaceFactory(name="Kafr Nabudah", latitude=Decimal("35.430000"), longitude=Decimal("36.520000"))


@pytest.fixture
def reporter():
    return UserFactory(username="reporter", role="monitor")


@pytest.fixture
def reviewer():
    user = UserFactory(username="reviewer", is_staff=True)
    user.groups.add(Group.objects.get(name="reviewer"))
    return user


@pytest.fixture
def monitor():
    user = UserFactory(username="monitor", is_staff=True)
    user.groups.add(Group.objects.get(name="monitor"))
    return user


@pytest.fixture
def original(agreement, place, reporter):
    return make_violation(user=reporter, agreement=agreement, place=place, started_at=MORNING)


def north_of(place, offset: Decimal) -> dict:
    return {"latitude": place.latitude + offset, "longitude": place.longitude}


def hinted(violation) -> list[Violation]:
    return [hint.violation for hint in likely_duplicates(violation)]


def retract(violation, user) -> None:
    violation.retracted_at, violation.retracted_by, violation.retraction_reason = timezone.now(), user, "Wrong."
    violation.save()


# --- hints ------------------------------------------------------------------------------------------------------------


def test_haversine_measures_kilometres():
    assert haversine_km((36.52, 35.43), (36.52, 35.43)) == 0
    assert haversine_km((36.52, 35.43), (36.52, 35.457)) == pytest.approx(3.0, abs=0.01)
    assert haversine_km((0, 0), (1, 0)) == pytest.approx(111.19, abs=0.01)


def test_same_day_and_category_within_5_km_is_a_likely_duplicate(original, agreement, place, reporter):
    near = make_violation(
        user=reporter, agreement=agreement, started_at=MORNING + timedelta(hours=10), **north_of(place, THREE_KM)
    )

    (hint,) = likely_duplicates(near)

    assert hint.violation == original and not hint.same_place
    assert hint.distance_km == pytest.approx(3.0, abs=0.05)
    assert hinted(original) == [near]


def test_the_same_place_is_a_likely_duplicate_whatever_the_distance(original, agreement, place, reporter):
    again = make_violation(user=reporter, agreement=agreement, place=place, started_at=MORNING)
    (hint,) = likely_duplicates(again)
    assert hint.violation == original and hint.same_place and hint.distance_km == 0


def test_6_km_away_is_not_a_likely_duplicate(original, agreement, place, reporter):
    far = make_violation(user=reporter, agreement=agreement, started_at=MORNING, **north_of(place, SIX_KM))
    assert hinted(far) == []
    assert hinted(original) == []


def test_another_utc_day_is_not_a_likely_duplicate(original, agreement, place, reporter):
    # 23:30 on 5 May in UTC is 6 May in Syria, but days are compared in UTC.
    before = make_violation(
        user=reporter, agreement=agreement, place=place, started_at=datetime(2019, 5, 5, 23, 30, tzinfo=UTC)
    )
    after = make_violation(user=reporter, agreement=agreement, place=place, started_at=datetime(2019, 5, 7, tzinfo=UTC))
    assert hinted(original) == []
    assert hinted(before) == [] and hinted(after) == []


def test_another_category_or_agreement_is_not_a_likely_duplicate(original, agreement, place, reporter):
    make_violation(user=reporter, agreement=agreement, place=place, started_at=MORNING, category="airstrike")
    make_violation(user=reporter, agreement=AgreementFactory(), place=place, started_at=MORNING)
    assert hinted(original) == []


def test_a_retracted_record_is_not_a_likely_duplicate(original, agreement, place, reporter):
    gone = make_violation(user=reporter, agreement=agreement, place=place, started_at=MORNING)
    retract(gone, reporter)
    assert hinted(original) == []


def test_an_unsaved_violation_gets_hints_too(original, agreement, place):
    draft = Violation(agreement=agreement, category="shelling", started_at=MORNING, **north_of(place, THREE_KM))
    assert hinted(draft) == [original]


def test_duplicate_pairs_lists_each_pair_once_oldest_first(original, agreement, place, reporter):
    near = make_violation(user=reporter, agreement=agreement, started_at=MORNING, **north_of(place, THREE_KM))
    make_violation(user=reporter, agreement=agreement, started_at=MORNING, **north_of(place, SIX_KM * 3))
    make_violation(user=reporter, agreement=agreement, place=place, started_at=MORNING, category="airstrike")

    (pair,) = duplicate_pairs()

    assert (pair.first, pair.second) == (original, near)
    assert duplicate_pairs(agreement=AgreementFactory()) == []


# --- merging ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def pair(agreement, place, reporter):
    """Two reports of one incident: the second cites the first's source and one more, names other actors."""
    shared, extra = SourceFactory(title="Shared"), SourceFactory(title="Extra")
    army, militia, rebels = ActorFactory(name="Army"), ActorFactory(name="Militia"), ActorFactory(name="Rebels")
    first_clause, second_clause = ClauseFactory(agreement=agreement), ClauseFactory(agreement=agreement)
    keep = make_violation(
        user=reporter, agreement=agreement, place=place, started_at=MORNING, sources=[shared], perpetrators=[army],
        clauses=[first_clause],
    )  # fmt: skip
    duplicate = make_violation(
        user=reporter, agreement=agreement, place=place, started_at=MORNING, sources=[shared, extra],
        perpetrators=[militia], clauses=[second_clause],
    )  # fmt: skip
    duplicate.affected_actors.add(rebels)
    return keep, duplicate


def test_merge_moves_sources_unions_links_and_retracts_the_duplicate(pair, reviewer):
    keep, duplicate = pair
    keep_version, duplicate_version = keep.version, duplicate.version
    extra_citation = duplicate.citations.get(source__title="Extra")

    violation_merge(keep=keep, duplicate=duplicate, user=reviewer, note="Same shelling, two reports.")

    keep.refresh_from_db()
    duplicate.refresh_from_db()
    assert sorted(s.title for s in keep.sources.all()) == ["Extra", "Shared"]
    extra_citation.refresh_from_db()
    assert extra_citation.violation == keep, "the citation moved, it was not copied"
    assert [c.source.title for c in duplicate.citations.all()] == ["Shared"], "what keep already cites stays put"
    assert sorted(a.name for a in keep.perpetrators.all()) == ["Army", "Militia"]
    assert [a.name for a in keep.affected_actors.all()] == ["Rebels"]
    assert keep.clauses.count() == 2

    assert duplicate.merged_into == keep and duplicate.is_retracted
    assert duplicate.retracted_by == reviewer
    assert duplicate.retraction_reason == f"Merged into {keep.uuid}: Same shelling, two reports."
    assert (keep.version, duplicate.version) == (keep_version + 1, duplicate_version + 1)
    assert keep.history.latest().history_user == reviewer
    latest = duplicate.history.latest()
    assert latest.history_user == reviewer and latest.merged_into_id == keep.pk
    assert ViolationSource.history.filter(id=extra_citation.pk).latest().history_user == reviewer
    assert likely_duplicates(keep) == [], "a merged duplicate is no longer hinted"


def test_merge_repoints_control_changes(pair, reviewer):
    keep, duplicate = pair
    change = ControlChange.objects.create(
        agreement=keep.agreement,
        place=keep.place,
        occurred_on=MORNING.date(),
        to_actor=ActorFactory(),
        violation=duplicate,
    )
    violation_merge(keep=keep, duplicate=duplicate, user=reviewer)
    change.refresh_from_db()
    assert change.violation == keep
    duplicate.refresh_from_db()
    assert duplicate.retraction_reason == f"Merged into {keep.uuid}."


def test_merge_refuses_a_user_who_is_not_a_reviewer(pair, monitor):
    keep, duplicate = pair
    with pytest.raises(PermissionDenied):
        violation_merge(keep=keep, duplicate=duplicate, user=monitor)
    duplicate.refresh_from_db()
    assert not duplicate.is_retracted and duplicate.merged_into is None
    assert keep.sources.count() == 1


def test_merge_refuses_records_of_different_agreements(pair, reviewer, place, reporter):
    keep, _ = pair
    elsewhere = make_violation(user=reporter, agreement=AgreementFactory(), place=place, started_at=MORNING)
    with pytest.raises(ValidationError, match="different agreements"):
        violation_merge(keep=keep, duplicate=elsewhere, user=reviewer)
    elsewhere.refresh_from_db()
    assert not elsewhere.is_retracted


def test_merge_refuses_itself_and_retracted_records(pair, reviewer, reporter):
    keep, duplicate = pair
    with pytest.raises(ValidationError, match="into itself"):
        violation_merge(keep=keep, duplicate=keep, user=reviewer)
    retract(keep, reporter)
    with pytest.raises(ValidationError, match="record to keep is retracted"):
        violation_merge(keep=keep, duplicate=duplicate, user=reviewer)
    duplicate.refresh_from_db()
    assert not duplicate.is_retracted


def test_a_merged_duplicate_cannot_be_merged_again(pair, reviewer, agreement, place, reporter):
    keep, duplicate = pair
    violation_merge(keep=keep, duplicate=duplicate, user=reviewer)
    third = make_violation(user=reporter, agreement=agreement, place=place, started_at=MORNING)
    with pytest.raises(ValidationError, match="already retracted"):
        violation_merge(keep=third, duplicate=duplicate, user=reviewer)
