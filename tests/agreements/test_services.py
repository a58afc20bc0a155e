"""The write path (agreements/services.py): the computed in-zone flag, recording and editing violations, sources."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agreements import services
from agreements.models import Place, Source, Violation, ViolationSource, Zone
from tests.factories import (
    SQUARE,
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

INSIDE = {"longitude": Decimal("36.5"), "latitude": Decimal("35.5")}
OUTSIDE = {"longitude": Decimal("38.0"), "latitude": Decimal("35.5")}
EAST_SQUARE = {
    "type": "Polygon",
    "coordinates": [[[37.5, 35.0], [38.5, 35.0], [38.5, 36.0], [37.5, 36.0], [37.5, 35.0]]],
}


def square(west, south, east, north):
    return {
        "type": "Polygon",
        "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    }


def stored(violation: Violation) -> Violation:
    return Violation.objects.get(pk=violation.pk)


@pytest.fixture
def zone(db):
    return ZoneFactory()


@pytest.fixture
def editor(db):
    # Editing another person's entry is a reviewer's (or admin's) act; a monitor edits only their own.
    return UserFactory(username="editor2", role="reviewer")


# --- in zone ------------------------------------------------------------------------------------------------------


def test_a_violation_inside_the_zone_is_in_zone(zone, user):
    violation = stored(make_violation(user=user, agreement=zone.agreement, **INSIDE))
    assert violation.in_zone is True
    assert violation.zone == zone


def test_a_violation_outside_the_zone_is_not_in_zone(zone, user):
    violation = stored(make_violation(user=user, agreement=zone.agreement, **OUTSIDE))
    assert violation.in_zone is False
    assert violation.zone is None


@pytest.mark.parametrize(
    ("lon", "lat"),
    [("36.0", "35.5"), ("37.0", "35.2"), ("36.5", "36.0"), ("36.0", "35.0"), ("37.0", "36.0")],
    ids=["west-edge", "east-edge", "north-edge", "south-west-vertex", "north-east-vertex"],
)
def test_a_violation_on_the_zone_boundary_counts_as_inside(zone, user, lon, lat):
    violation = stored(
        make_violation(user=user, agreement=zone.agreement, longitude=Decimal(lon), latitude=Decimal(lat))
    )
    assert violation.in_zone is True
    assert violation.zone == zone


def test_a_violation_just_beyond_the_edge_is_outside(zone, user):
    violation = make_violation(
        user=user, agreement=zone.agreement, longitude=Decimal("35.999999"), latitude=Decimal("35.5")
    )
    assert stored(violation).in_zone is False


@pytest.mark.parametrize("precision", [Violation.LocationPrecision.REGION, Violation.LocationPrecision.DISTRICT])
@pytest.mark.parametrize("where", [INSIDE, OUTSIDE], ids=["inside", "outside"])
def test_a_coarse_location_leaves_in_zone_unknown(zone, user, precision, where):
    violation = stored(make_violation(user=user, agreement=zone.agreement, location_precision=precision, **where))
    assert violation.in_zone is None
    assert violation.zone is None


def test_an_exact_location_is_decided(zone, user):
    violation = make_violation(
        user=user, agreement=zone.agreement, location_precision=Violation.LocationPrecision.EXACT, **INSIDE
    )
    assert stored(violation).in_zone is True


@pytest.mark.parametrize(("where", "expected"), [(INSIDE, True), (OUTSIDE, False)], ids=["inside", "outside"])
def test_a_violation_located_by_its_place_uses_the_place_coordinates(zone, user, where, expected):
    place = PlaceFactory(**where)
    violation = stored(make_violation(user=user, agreement=zone.agreement, place=place))
    assert violation.latitude is None
    assert violation.in_zone is expected
    assert violation.zone == (zone if expected else None)


def test_own_coordinates_win_over_the_place(zone, user):
    place = PlaceFactory(**INSIDE)
    violation = stored(make_violation(user=user, agreement=zone.agreement, place=place, **OUTSIDE))
    assert violation.in_zone is False


def test_a_de_escalation_area_does_not_set_in_zone(user):
    area = ZoneFactory(kind=Zone.Kind.DE_ESCALATION_AREA)
    violation = stored(make_violation(user=user, agreement=area.agreement, **INSIDE))
    assert violation.in_zone is False
    assert violation.zone is None


@pytest.mark.parametrize("kind", [Zone.Kind.BUFFER_ZONE, Zone.Kind.SECURITY_CORRIDOR])
def test_every_restricting_kind_sets_in_zone(user, kind):
    corridor = ZoneFactory(kind=kind)
    violation = stored(make_violation(user=user, agreement=corridor.agreement, **INSIDE))
    assert violation.in_zone is True
    assert violation.zone == corridor


def test_a_zone_of_another_agreement_does_not_count(zone, user):
    violation = stored(make_violation(user=user, agreement=AgreementFactory(), **INSIDE))
    assert violation.in_zone is False
    assert violation.zone is None


def test_the_smallest_of_nested_restricting_zones_is_chosen(user):
    agreement = AgreementFactory()
    # Named so the big zone comes first in Zone's default ordering: the choice must be by size, not by order.
    big = ZoneFactory(agreement=agreement, name="A big buffer", geometry=square(35.0, 34.0, 38.0, 37.0))
    small = ZoneFactory(agreement=agreement, name="Z small zone", geometry=dict(SQUARE))
    inner = stored(make_violation(user=user, agreement=agreement, **INSIDE))
    only_big = stored(
        make_violation(user=user, agreement=agreement, longitude=Decimal("37.5"), latitude=Decimal("35.5"))
    )
    assert inner.zone == small
    assert only_big.zone == big
    assert inner.in_zone is only_big.in_zone is True


def test_a_nested_de_escalation_area_is_not_chosen_over_a_restricting_zone(user):
    agreement = AgreementFactory()
    ZoneFactory(agreement=agreement, kind=Zone.Kind.DE_ESCALATION_AREA, geometry=square(36.4, 35.4, 36.6, 35.6))
    dmz = ZoneFactory(agreement=agreement, geometry=dict(SQUARE))
    assert stored(make_violation(user=user, agreement=agreement, **INSIDE)).zone == dmz


def test_moving_a_place_reflags_its_violations(zone, user, editor):
    place = PlaceFactory(**INSIDE)
    violation = make_violation(user=user, agreement=zone.agreement, place=place)
    assert stored(violation).in_zone is True
    history = violation.history.count()

    place.longitude = Decimal("38.0")
    services.place_save(place=place, user=editor)

    moved = stored(violation)
    assert moved.in_zone is False
    assert moved.zone is None
    assert moved.history.count() == history + 1
    assert moved.history.first().history_user == editor
    assert moved.history.first().in_zone is False
    assert Place.objects.get(pk=place.pk).longitude == Decimal("38.0")
    assert place.history.first().history_user == editor


def test_moving_a_place_back_into_the_zone_flags_its_violations(zone, user):
    place = PlaceFactory(**OUTSIDE)
    violation = make_violation(user=user, agreement=zone.agreement, place=place)
    place.longitude = Decimal("36.25")
    services.place_save(place=place, user=user)
    assert stored(violation).in_zone is True
    assert stored(violation).zone == zone


def test_moving_a_place_leaves_violations_with_their_own_coordinates(zone, user, editor):
    place = PlaceFactory(**INSIDE)
    violation = make_violation(user=user, agreement=zone.agreement, place=place, **INSIDE)
    history = violation.history.count()
    place.longitude = Decimal("38.0")
    services.place_save(place=place, user=editor)
    assert stored(violation).in_zone is True
    assert violation.history.count() == history  # nothing changed, nothing written


def test_place_save_refuses_a_bad_place_and_reflags_nothing(zone, user):
    place = PlaceFactory(**INSIDE)
    violation = make_violation(user=user, agreement=zone.agreement, place=place)
    place.longitude = Decimal("181")
    with pytest.raises(ValidationError) as exc:
        services.place_save(place=place, user=user)
    assert "longitude" in exc.value.message_dict
    assert Place.objects.get(pk=place.pk).longitude == Decimal("36.5")
    assert stored(violation).in_zone is True


def test_changing_a_zone_geometry_reflags_violations(zone, user, editor):
    inside = make_violation(user=user, agreement=zone.agreement, **INSIDE)
    outside = make_violation(user=user, agreement=zone.agreement, **OUTSIDE)

    zone.geometry = EAST_SQUARE
    services.zone_save(zone=zone, user=editor)

    assert (stored(inside).in_zone, stored(inside).zone) == (False, None)
    assert (stored(outside).in_zone, stored(outside).zone) == (True, zone)
    assert stored(outside).history.first().history_user == editor
    assert zone.history.first().history_user == editor


def test_a_new_zone_flags_the_violations_already_recorded(user):
    agreement = AgreementFactory()
    violation = make_violation(user=user, agreement=agreement, **INSIDE)
    assert stored(violation).in_zone is False
    zone = services.zone_save(
        zone=Zone(agreement=agreement, name="DMZ", slug="dmz", kind=Zone.Kind.DEMILITARISED_ZONE, geometry=SQUARE),
        user=user,
    )
    assert stored(violation).zone == zone


def test_a_zone_that_stops_restricting_unflags_violations(zone, user):
    violation = make_violation(user=user, agreement=zone.agreement, **INSIDE)
    zone.kind = Zone.Kind.DE_ESCALATION_AREA
    services.zone_save(zone=zone, user=user)
    assert (stored(violation).in_zone, stored(violation).zone) == (False, None)


def test_zone_save_leaves_other_agreements_alone(zone, user):
    elsewhere = make_violation(user=user, agreement=AgreementFactory(), **INSIDE)
    history = elsewhere.history.count()
    zone.geometry = square(35.0, 34.0, 38.0, 37.0)
    services.zone_save(zone=zone, user=user)
    assert stored(elsewhere).in_zone is False
    assert elsewhere.history.count() == history


def test_zone_save_refuses_a_bad_geometry_and_reflags_nothing(zone, user):
    violation = make_violation(user=user, agreement=zone.agreement, **INSIDE)
    zone.geometry = {"type": "Point", "coordinates": [38.0, 35.5]}
    with pytest.raises(ValidationError):
        services.zone_save(zone=zone, user=user)
    assert Zone.objects.get(pk=zone.pk).geometry == SQUARE
    assert stored(violation).in_zone is True


# --- recording and editing violations --------------------------------------------------------------------------------


def test_violation_record_sets_reporter_version_and_status_and_writes_history(user):
    violation = stored(make_violation(user=user))
    assert violation.reported_by == user
    assert violation.updated_by is None
    assert violation.version == 1
    assert violation.status == Violation.Status.REPORTED
    [row] = violation.history.all()
    assert row.history_type == "+"
    assert row.history_user == user
    assert row.version == 1


def test_violation_record_stores_its_links_and_sources(user):
    agreement = AgreementFactory()
    clause, actor, victim, source = ClauseFactory(agreement=agreement), ActorFactory(), ActorFactory(), SourceFactory()
    violation = make_violation(
        user=user,
        agreement=agreement,
        clauses=[clause],
        perpetrators=[actor],
        affected_actors=[victim],
        sources=[source],
    )
    violation = stored(violation)
    assert list(violation.clauses.all()) == [clause]
    assert list(violation.perpetrators.all()) == [actor]
    assert list(violation.affected_actors.all()) == [victim]
    assert list(violation.sources.all()) == [source]


def test_violation_record_ignores_a_reporter_passed_as_a_field(user, editor):
    violation = make_violation(user=user, reported_by=editor, version=7)
    assert (stored(violation).reported_by, stored(violation).version) == (user, 1)


def test_violation_update_bumps_the_version_and_sets_updated_by(user, editor):
    violation = make_violation(user=user)
    services.violation_update(violation=violation, user=editor, expected_version=1, description="Shelling, 3 killed.")
    violation = stored(violation)
    assert violation.version == 2
    assert violation.updated_by == editor
    assert violation.reported_by == user
    assert violation.description == "Shelling, 3 killed."
    assert violation.history.first().history_user == editor
    assert violation.history.first().version == 2


def test_violation_update_without_an_expected_version_still_bumps_it(user):
    violation = make_violation(user=user)
    services.violation_update(violation=violation, user=user, killed_best=2)
    services.violation_update(violation=violation, user=user, killed_best=3)
    assert (stored(violation).version, stored(violation).killed_best) == (3, 3)


def test_violation_update_recomputes_in_zone(zone, user):
    violation = make_violation(user=user, agreement=zone.agreement, **INSIDE)
    services.violation_update(violation=violation, user=user, **OUTSIDE)
    assert (stored(violation).in_zone, stored(violation).zone) == (False, None)


def test_violation_update_refuses_a_bookkeeping_field(user, editor):
    violation = make_violation(user=user)
    with pytest.raises(ValidationError) as exc:
        services.violation_update(violation=violation, user=editor, status=Violation.Status.VERIFIED)
    assert "status" in exc.value.message_dict
    assert stored(violation).status == Violation.Status.REPORTED
    assert stored(violation).version == 1


def test_violation_record_refuses_a_clause_of_another_agreement_and_writes_nothing(user):
    agreement = AgreementFactory()
    foreign = ClauseFactory(number="7", title="Foreign clause")
    count = Violation.objects.count()
    with pytest.raises(ValidationError) as exc:
        make_violation(user=user, agreement=agreement, clauses=[ClauseFactory(agreement=agreement), foreign])
    assert "clauses" in exc.value.message_dict
    assert "7. Foreign clause" in exc.value.message_dict["clauses"][0]
    assert Violation.objects.count() == count
    assert Violation.history.count() == 0


def test_violation_update_refuses_a_clause_of_another_agreement(user, editor):
    violation = make_violation(user=user)
    with pytest.raises(ValidationError) as exc:
        services.violation_update(
            violation=violation, user=editor, clauses=[ClauseFactory()], description="Changed as well."
        )
    assert "clauses" in exc.value.message_dict
    violation = stored(violation)
    assert (violation.version, violation.description, violation.clauses.count()) == (1, "Shelling reported.", 0)


def test_moving_a_violation_to_another_agreement_refuses_the_old_agreements_clauses(user):
    agreement = AgreementFactory()
    violation = make_violation(user=user, agreement=agreement, clauses=[ClauseFactory(agreement=agreement)])
    with pytest.raises(ValidationError) as exc:
        services.violation_update(violation=violation, user=user, agreement=AgreementFactory())
    assert "clauses" in exc.value.message_dict
    assert stored(violation).agreement == agreement


def test_moving_a_violation_to_another_agreement_with_its_clauses_goes_through(user):
    agreement = AgreementFactory()
    violation = make_violation(user=user, agreement=agreement, clauses=[ClauseFactory(agreement=agreement)])
    other = AgreementFactory()
    clause = ClauseFactory(agreement=other)
    services.violation_update(violation=violation, user=user, agreement=other, clauses=[clause])
    assert (stored(violation).agreement, list(stored(violation).clauses.all())) == (other, [clause])


def test_a_stale_edit_is_refused_naming_what_the_other_person_changed(user, editor):
    violation = make_violation(user=user, description="Shelling reported.")
    mine = stored(violation)  # I load version 1 …
    theirs = stored(violation)
    services.violation_update(violation=theirs, user=editor, expected_version=1, description="Shelling, 2 killed.")

    with pytest.raises(services.StaleEdit) as exc:  # … and save after they did
        services.violation_update(violation=mine, user=user, expected_version=1, killed_best=5)

    assert isinstance(exc.value, ValidationError)
    assert set(exc.value.changed) == {"description"}  # not killed_best: that is my own change
    assert exc.value.changed["description"] == ("Shelling reported.", "Shelling, 2 killed.")
    message = exc.value.messages[0]
    assert "description" in message
    assert "editor2" in message
    assert "now version 2" in message
    assert "you loaded version 1" in message
    row = stored(violation)
    assert (row.version, row.description, row.killed_best, row.updated_by) == (2, "Shelling, 2 killed.", None, editor)


def test_an_edit_at_the_current_version_goes_through_after_a_reload(user, editor):
    violation = make_violation(user=user)
    services.violation_update(violation=stored(violation), user=editor, expected_version=1, description="Theirs.")
    services.violation_update(violation=stored(violation), user=user, expected_version=2, killed_best=5)
    row = stored(violation)
    assert (row.version, row.description, row.killed_best) == (3, "Theirs.", 5)


def test_updating_a_retracted_violation_is_refused(user, editor):
    violation = make_violation(user=user)
    Violation.objects.filter(pk=violation.pk).update(
        retracted_at=timezone.now(), retracted_by=editor, retraction_reason="Duplicate of another report."
    )
    with pytest.raises(ValidationError, match="retracted"):
        services.violation_update(violation=stored(violation), user=editor, expected_version=1, description="Edited.")
    row = stored(violation)
    assert (row.version, row.description) == (1, "Shelling reported.")


def test_a_bad_value_through_violation_record_leaves_no_row(user):
    count, source = Violation.objects.count(), SourceFactory()
    with pytest.raises(ValidationError) as exc:
        make_violation(user=user, killed_low=5, killed_best=2, sources=[source])
    assert any("low estimate cannot exceed" in m for m in exc.value.messages), exc.value.messages
    assert Violation.objects.count() == count
    assert Violation.history.count() == 0
    assert not ViolationSource.objects.exists()


def test_a_bad_value_through_violation_update_leaves_the_row_unchanged(user):
    violation = make_violation(user=user, killed_best=2)
    with pytest.raises(ValidationError) as exc:
        services.violation_update(violation=violation, user=user, civilians_killed_best=3, description="Edited.")
    assert any("Civilians killed (best) cannot exceed" in m for m in exc.value.messages)
    row = stored(violation)
    assert (row.version, row.civilians_killed_best, row.description) == (1, None, "Shelling reported.")


def test_violation_record_refuses_a_violation_without_a_location(user):
    with pytest.raises(ValidationError, match="Give a place, coordinates, or both"):
        services.violation_create(
            user=user,
            agreement=AgreementFactory(),
            category=Violation.Category.AIRSTRIKE,
            description="Airstrike.",
            started_at=datetime(2019, 5, 6, tzinfo=UTC),
        )
    assert not Violation.objects.exists()


# --- sources --------------------------------------------------------------------------------------------------------


def new_source(url="", **over) -> services.NewSource:
    fields = {"publisher": "Example Wire", "title": "Shelling overnight", "kind": Source.Kind.NEWS_REPORT, "url": url}
    fields.update(over)
    return services.NewSource(**fields)


def test_citing_a_new_source_with_a_known_url_reuses_it(user):
    known = SourceFactory(url="https://news.example.org/shelling")
    violation = make_violation(user=user)
    count = Source.objects.count()
    citation = services.violation_cite(
        violation=violation, user=user, new_source=new_source("https://news.example.org/shelling", title="Other title")
    )
    assert citation.source == known
    assert Source.objects.count() == count
    assert Source.objects.get(pk=known.pk).title == known.title  # the stored source is not overwritten


def test_citing_a_new_source_with_a_new_url_creates_it(user):
    violation = make_violation(user=user)
    count = Source.objects.count()
    citation = services.violation_cite(
        violation=violation,
        user=user,
        new_source=new_source(
            "https://ngo.example.org/report",
            published_on=date(2019, 5, 8),
            reliability=Source.Reliability.B,
            credibility=Source.Credibility.PROBABLY_TRUE,
        ),
        note="Counts two dead.",
    )
    assert Source.objects.count() == count + 1
    source = Source.objects.get(url="https://ngo.example.org/report")
    assert citation.source == source
    assert (source.grade, source.published_on) == ("B2", date(2019, 5, 8))
    assert source.history.first().history_user == user
    assert ViolationSource.objects.get(pk=citation.pk).note == "Counts two dead."


def test_new_sources_without_a_url_are_reused_by_publisher_and_title(user):
    violation, other = make_violation(user=user), make_violation(user=user)
    count = Source.objects.count()
    first = services.violation_cite(violation=violation, user=user, new_source=new_source(title="Phone call"))
    again = services.violation_cite(violation=other, user=user, new_source=new_source(title="Phone call"))
    another = services.violation_cite(violation=violation, user=user, new_source=new_source(title="Phone call 2"))
    assert again.source == first.source
    assert another.source != first.source
    assert Source.objects.count() == count + 2


def test_a_bad_new_source_is_refused_and_not_stored(user):
    violation = make_violation(user=user)
    count = Source.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.violation_cite(
            violation=violation, user=user, new_source=new_source("https://x.example.org/a", credibility=7)
        )
    assert "credibility" in exc.value.message_dict
    assert Source.objects.count() == count
    assert not violation.citations.exists()


def test_citing_the_same_source_twice_is_refused(user):
    source = SourceFactory()
    violation = make_violation(user=user, sources=[source])
    with pytest.raises(ValidationError, match="already cited"):
        services.violation_cite(violation=violation, user=user, source=source)
    assert violation.citations.count() == 1


def test_citing_a_known_url_twice_through_new_source_is_refused(user):
    violation = make_violation(user=user)
    services.violation_cite(violation=violation, user=user, new_source=new_source("https://x.example.org/a"))
    with pytest.raises(ValidationError, match="already cited"):
        services.violation_cite(violation=violation, user=user, new_source=new_source("https://x.example.org/a"))
    assert violation.citations.count() == 1


@pytest.mark.parametrize("both", [True, False], ids=["both", "neither"])
def test_cite_needs_exactly_one_of_source_and_new_source(user, both):
    violation = make_violation(user=user)
    kwargs = {"source": SourceFactory(), "new_source": new_source("https://x.example.org/b")} if both else {}
    count = Source.objects.count()
    with pytest.raises(ValidationError, match="Choose an existing source or describe a new one"):
        services.violation_cite(violation=violation, user=user, **kwargs)
    assert Source.objects.count() == count
    assert not violation.citations.exists()


def test_one_source_can_back_many_violations(user):
    source = SourceFactory()
    first, second = make_violation(user=user, sources=[source]), make_violation(user=user, sources=[source])
    assert set(source.violations.all()) == {first, second}


def test_citation_remove_keeps_the_source(user, editor):
    source = SourceFactory()
    violation, other = make_violation(user=user, sources=[source]), make_violation(user=user, sources=[source])
    citation = violation.citations.get()
    citation_id = citation.pk
    services.citation_remove(citation=citation, user=editor, reason="Duplicate of another citation.")
    assert not violation.citations.exists()
    assert Source.objects.filter(pk=source.pk).exists()
    assert [c.source for c in other.citations.all()] == [source]
    # Retired, not deleted: the link stays with who, when and why, and the violation shows the change.
    kept = ViolationSource.all_objects.get(pk=citation_id)
    assert (kept.retired_by, kept.retirement_reason) == (editor, "Duplicate of another citation.")
    removal = ViolationSource.history.filter(id=citation_id).first()
    assert (removal.history_type, removal.history_user) == ("~", editor)
    assert (stored(violation).version, stored(violation).updated_by) == (2, editor)
    assert stored(violation).history.first().history_change_reason.startswith("source removed")
