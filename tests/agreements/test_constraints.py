"""The database itself refuses every invalid state, whatever path wrote it; full_clean() refuses it with a message.

Each case builds one row that differs from a valid one in a single respect. The database test saves it with a plain
`.save()` (no full_clean) and expects an IntegrityError naming the check constraint (unique constraints are named
differently by SQLite and PostgreSQL, so those cases only expect the error). The Python test runs full_clean() on
the same row and expects a ValidationError carrying the model's message.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from agreements.models import (
    Agreement,
    AgreementParty,
    Clause,
    ControlChange,
    Place,
    RouteStatus,
    Source,
    Violation,
    Zone,
)
from tests.factories import SQUARE, ActorFactory, AgreementFactory, ClauseFactory, PlaceFactory, SourceFactory

pytestmark = pytest.mark.django_db

STARTED = datetime(2019, 5, 6, 4, 0, tzinfo=UTC)
VALID_SHA256 = "0123456789abcdef" * 4


@pytest.fixture
def ctx(user):
    return SimpleNamespace(user=user, agreement=AgreementFactory(), place=PlaceFactory(), actor=ActorFactory())


# --- valid rows, each case changes one thing ----------------------------------------------------------------------


def violation(ctx, **over) -> Violation:
    fields = {
        "agreement": ctx.agreement,
        "category": Violation.Category.SHELLING,
        "description": "Shelling reported.",
        "started_at": STARTED,
        "place": ctx.place,
        "reported_by": ctx.user,
    }
    fields.update(over)
    return Violation(**fields)


def source(ctx, **over) -> Source:
    fields = {
        "publisher": "Example Wire",
        "title": "Shelling in the south",
        "url": "",
        "kind": Source.Kind.NEWS_REPORT,
        "reliability": Source.Reliability.B,
        "credibility": Source.Credibility.PROBABLY_TRUE,
        "sha256": VALID_SHA256,
    }
    fields.update(over)
    return Source(**fields)


def clause(ctx, **over) -> Clause:
    fields = {"agreement": ctx.agreement, "number": "5", "title": "Withdrawal", "kind": Clause.Kind.OTHER}
    fields.update(over)
    return Clause(**fields)


def zone(ctx, **over) -> Zone:
    fields = {
        "agreement": ctx.agreement,
        "name": "Demilitarised zone",
        "slug": "dmz",
        "kind": Zone.Kind.DEMILITARISED_ZONE,
        "geometry": dict(SQUARE),
    }
    fields.update(over)
    return Zone(**fields)


def place(ctx, **over) -> Place:
    fields = {"name": "Kafr Nabudah", "admin1": "Hama", "latitude": Decimal("35.4"), "longitude": Decimal("36.5")}
    fields.update(over)
    return Place(**fields)


def party(ctx, **over) -> AgreementParty:
    fields = {"agreement": ctx.agreement, "actor": ctx.actor, "role": AgreementParty.Role.GUARANTOR}
    fields.update(over)
    return AgreementParty(**fields)


def control_change(ctx, **over) -> ControlChange:
    fields = {
        "agreement": ctx.agreement,
        "place": ctx.place,
        "occurred_on": date(2019, 5, 9),
        "from_actor": ActorFactory(),
        "to_actor": ctx.actor,
    }
    fields.update(over)
    return ControlChange(**fields)


def route_status(ctx, **over) -> RouteStatus:
    fields = {
        "agreement": ctx.agreement,
        "route": "M4",
        "observed_on": date(2020, 3, 15),
        "status": RouteStatus.Status.CLOSED,
    }
    fields.update(over)
    return RouteStatus(**fields)


def agreement(ctx, **over):
    return AgreementFactory.build(**over)


def duplicate_clause_number(ctx):
    clause(ctx).save()
    return clause(ctx, title="Another clause with the same number")


def duplicate_place_pcode(ctx):
    place(ctx, pcode="SY070400").save()
    return place(ctx, name="Another place", pcode="SY070400")


def duplicate_source_url(ctx):
    source(ctx, url="https://news.example.org/a").save()
    return source(ctx, title="The same article again", url="https://news.example.org/a")


def duplicate_route_status(ctx):
    route_status(ctx).save()
    return route_status(ctx, status=RouteStatus.Status.OPEN)


def same_actor_both_sides(ctx):
    return control_change(ctx, from_actor=ctx.actor, to_actor=ctx.actor)


def actor_part_of_itself(ctx):
    ctx.actor.part_of = ctx.actor
    return ctx.actor


def agreement_amending_itself(ctx):
    ctx.agreement.amends, ctx.agreement.relation = ctx.agreement, Agreement.Relation.AMENDS
    return ctx.agreement


def retraction_without_reason(ctx):
    return violation(ctx, retracted_at=STARTED + timedelta(days=3), retracted_by=ctx.user, retraction_reason="")


VALID_BUILDERS = [violation, source, clause, zone, place, party, control_change, route_status, agreement]


@dataclass(frozen=True)
class Case:
    id: str
    build: object  # ctx -> unsaved instance
    db_says: str | None  # fragment of the IntegrityError (check constraint name); None for unique constraints
    clean_says: str  # fragment of the full_clean() ValidationError


CASES = [
    # bad choice values
    Case("violation-category", lambda c: violation(c, category="massacre"), "category_valid", "not a valid choice"),
    Case(
        "violation-status",
        lambda c: violation(c, status="confirmed"),
        "status_valid",
        "status must be one of: reported, verified, disputed, rejected.",
    ),
    Case(
        "violation-location-precision",
        lambda c: violation(c, location_precision="street"),
        "location_precision_valid",
        "not a valid choice",
    ),
    Case("source-reliability", lambda c: source(c, reliability="G"), "reliability_valid", "not a valid choice"),
    Case("source-kind", lambda c: source(c, kind="rumour"), "source_kind_valid", "not a valid choice"),
    Case("clause-kind", lambda c: clause(c, kind="truce"), "clause_kind_valid", "not a valid choice"),
    Case("zone-precision", lambda c: zone(c, precision="exact"), "zone_precision_valid", "not a valid choice"),
    Case("zone-kind", lambda c: zone(c, kind="no_fly_zone"), "zone_kind_valid", "not a valid choice"),
    Case("party-role", lambda c: party(c, role="sponsor"), "role_valid", "not a valid choice"),
    Case("route-status", lambda c: route_status(c, status="blocked"), "routestatus_status_valid", "not a valid choice"),
    Case("agreement-status", lambda c: agreement(c, status="void"), "agreement_status_valid", "not a valid choice"),
    # counts and estimates
    Case(
        "negative-killed", lambda c: violation(c, killed_best=-1), "killed_best_non_negative", "greater than or equal"
    ),
    Case("negative-displaced", lambda c: violation(c, displaced=-5), "displaced_non_negative", "greater than or equal"),
    Case("negative-camps-hit", lambda c: violation(c, camps_hit=-1), "camps_hit_non_negative", "greater than or equal"),
    Case(
        "killed-low-above-best",
        lambda c: violation(c, killed_low=5, killed_best=2),
        "killed_low_le_best",
        "killed: the low estimate cannot exceed the best estimate.",
    ),
    Case(
        "killed-best-above-high",
        lambda c: violation(c, killed_best=9, killed_high=4),
        "killed_best_le_high",
        "killed: the best estimate cannot exceed the high estimate.",
    ),
    Case(
        "killed-low-above-high-best-unknown",
        lambda c: violation(c, killed_low=9, killed_high=4),
        "killed_low_le_high",
        "killed: the low estimate cannot exceed the high estimate.",
    ),
    Case(
        "civilians-injured-low-above-best",
        lambda c: violation(c, civilians_injured_low=7, civilians_injured_best=3),
        "civilians_injured_low_le_best",
        "civilians injured: the low estimate cannot exceed the best estimate.",
    ),
    Case(
        "civilians-injured-best-above-high",
        lambda c: violation(c, civilians_injured_best=7, civilians_injured_high=3),
        "civilians_injured_best_le_high",
        "civilians injured: the best estimate cannot exceed the high estimate.",
    ),
    Case(
        "civilians-killed-above-killed",
        lambda c: violation(c, killed_best=2, civilians_killed_best=3),
        "civilians_killed_best_within_total",
        "Civilians killed (best) cannot exceed all killed (best).",
    ),
    Case(
        "civilians-injured-above-injured-high",
        lambda c: violation(c, injured_high=10, civilians_injured_high=11),
        "civilians_injured_high_within_total",
        "Civilians injured (high) cannot exceed all injured (high).",
    ),
    # time
    Case(
        "end-before-start",
        lambda c: violation(c, ended_at=STARTED - timedelta(hours=1)),
        "end_after_start",
        "The end cannot be before the start.",
    ),
    Case(
        "agreement-until-before-from",
        lambda c: agreement(c, in_force_from=date(2018, 9, 17), in_force_until=date(2018, 9, 16)),
        "in_force_ordered",
        "In force until must not be before in force from.",
    ),
    # where
    Case(
        "violation-latitude-91",
        lambda c: violation(c, latitude=Decimal("91"), longitude=Decimal("36.5")),
        "violation_latitude_range",
        "less than or equal to 90",
    ),
    Case(
        "violation-longitude-181",
        lambda c: violation(c, latitude=Decimal("35.5"), longitude=Decimal("181")),
        "violation_longitude_range",
        "less than or equal to 180",
    ),
    Case(
        "place-latitude-91",
        lambda c: place(c, latitude=Decimal("91")),
        "place_latitude_range",
        "less than or equal to 90",
    ),
    Case(
        "place-longitude-minus-181",
        lambda c: place(c, longitude=Decimal("-181")),
        "place_longitude_range",
        "greater than or equal to -180",
    ),
    Case(
        "latitude-without-longitude",
        lambda c: violation(c, latitude=Decimal("35.5")),
        "coordinates_paired",
        "Give both latitude and longitude, or neither.",
    ),
    Case(
        "violation-nowhere",
        lambda c: violation(c, place=None),
        "has_location",
        "Give a place, coordinates, or both.",
    ),
    # review and retraction
    Case(
        "verified-without-verifier",
        lambda c: violation(c, status=Violation.Status.VERIFIED),
        "verified_has_verifier",
        "A verified violation records who verified it and when.",
    ),
    Case(
        "verified-without-time",
        lambda c: violation(c, status=Violation.Status.VERIFIED, verified_by=c.user),
        "verified_has_verifier",
        "A verified violation records who verified it and when.",
    ),
    Case(
        "retraction-without-reason",
        retraction_without_reason,
        "retraction_complete",
        "A retraction records who, when and why.",
    ),
    Case(
        "reason-without-retraction",
        lambda c: violation(c, retraction_reason="Duplicate of another report."),
        "retraction_complete",
        "A retraction records who, when and why.",
    ),
    Case("version-zero", lambda c: violation(c, version=0), "version_positive", "Version starts at 1."),
    # sources
    Case("credibility-7", lambda c: source(c, credibility=7), "credibility_range", "not a valid choice"),
    Case("credibility-0", lambda c: source(c, credibility=0), "credibility_range", "not a valid choice"),
    Case("sha256-too-short", lambda c: source(c, sha256="abc123"), "sha256_format", "64 lowercase hexadecimal"),
    Case(
        "sha256-uppercase",
        lambda c: source(c, sha256=VALID_SHA256.upper()),
        "sha256_format",
        "64 lowercase hexadecimal",
    ),
    Case(
        "sha256-not-hex",
        lambda c: source(c, sha256="g" * 64),
        "sha256_format",
        "64 lowercase hexadecimal",
    ),
    # relations between rows
    Case(
        "control-change-to-itself",
        same_actor_both_sides,
        "controlchange_actors_differ",
        "Control passes from one actor to another, not to itself.",
    ),
    Case(
        "control-change-nowhere",
        lambda c: control_change(c, place=None, area_description=""),
        "controlchange_has_where",
        "Name the place, or describe the area",
    ),
    Case(
        "relation-without-amends",
        lambda c: agreement(c, relation="amends"),
        "relation_with_amends",
        "Say how it relates",
    ),
    Case(
        "amends-without-relation",
        lambda c: agreement(c, amends=c.agreement),
        "relation_with_amends",
        "Say how it relates",
    ),
    Case("actor-part-of-itself", actor_part_of_itself, "not_part_of_itself", "An actor cannot be part of itself."),
    Case(
        "agreement-amends-itself",
        agreement_amending_itself,
        "not_amending_itself",
        "An agreement cannot amend itself.",
    ),
    Case(
        "zone-negative-depth",
        lambda c: zone(c, depth_km_min=Decimal("-1")),
        "zone_depth_min_non_negative",
        "Depth cannot be negative.",
    ),
    Case(
        "zone-depth-min-above-max",
        lambda c: zone(c, depth_km_min=Decimal("20"), depth_km_max=Decimal("15")),
        "zone_depth_ordered",
        "Smallest depth must not exceed largest depth.",
    ),
    # uniqueness
    Case(
        "duplicate-clause-number",
        duplicate_clause_number,
        None,
        "This agreement already has a clause with this number.",
    ),
    Case("duplicate-place-pcode", duplicate_place_pcode, None, "Another place already has this p-code."),
    Case("duplicate-source-url", duplicate_source_url, None, "A source with this URL exists already: reuse it."),
    Case(
        "duplicate-route-status",
        duplicate_route_status,
        None,
        "This route segment already has a status for this day.",
    ),
]


def _messages(error: ValidationError) -> list[str]:
    return error.messages


@pytest.mark.parametrize("build", VALID_BUILDERS, ids=lambda b: b.__name__)
def test_the_unchanged_rows_are_valid(ctx, build):
    # Guard for the cases below: each differs from one of these in one respect only, so a refusal is that respect's.
    instance = build(ctx)
    instance.full_clean()
    instance.save()
    assert type(instance).objects.filter(pk=instance.pk).exists()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_database_refuses_the_invalid_row(ctx, case):
    instance = case.build(ctx)
    model = type(instance)
    count = model.objects.count()
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        instance.save()
    if case.db_says is not None:
        assert case.db_says in str(exc.value)
    assert model.objects.count() == count


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_full_clean_refuses_the_invalid_row_with_a_message(ctx, case):
    instance = case.build(ctx)
    with pytest.raises(ValidationError) as exc:
        instance.full_clean()
    assert any(case.clean_says in message for message in _messages(exc.value)), _messages(exc.value)


def test_the_low_estimate_message_names_the_casualty_kind(ctx):
    with pytest.raises(ValidationError) as exc:
        violation(ctx, injured_low=4, injured_best=1).full_clean()
    assert exc.value.messages == ["injured: the low estimate cannot exceed the best estimate."]


def test_equal_estimates_and_civilians_equal_to_the_total_are_allowed(ctx):
    row = violation(
        ctx,
        killed_low=3,
        killed_best=3,
        killed_high=3,
        civilians_killed_low=3,
        civilians_killed_best=3,
        civilians_killed_high=3,
        ended_at=STARTED,
    )
    row.full_clean()
    row.save()
    assert Violation.objects.get(pk=row.pk).civilians_killed_high == 3


def test_one_missing_estimate_does_not_block_the_others(ctx):
    # None means "not reported": a best estimate without low or high is fine, and zero is a real figure.
    row = violation(ctx, killed_best=4, injured_low=0, civilians_killed_best=None)
    row.full_clean()
    row.save()
    assert Violation.objects.get(pk=row.pk).injured_low == 0


def test_coordinates_alone_locate_a_violation(ctx):
    row = violation(ctx, place=None, latitude=Decimal("35.5"), longitude=Decimal("36.5"))
    row.full_clean()
    row.save()
    assert Violation.objects.filter(pk=row.pk, place__isnull=True).exists()


def test_the_same_clause_number_is_allowed_in_another_agreement(ctx):
    ClauseFactory(agreement=ctx.agreement, number="5")
    other = clause(ctx, agreement=AgreementFactory())
    other.full_clean()
    with transaction.atomic():
        other.save()
    assert Clause.objects.filter(number="5").count() == 2


def test_two_places_without_a_pcode_are_allowed(ctx):
    first, second = place(ctx, pcode=""), place(ctx, name="Another place", pcode="")
    first.save()
    second.full_clean()
    with transaction.atomic():
        second.save()
    assert Place.objects.filter(pcode="").count() == 3  # with the fixture's place


def test_two_sources_without_a_url_are_allowed(ctx):
    SourceFactory(url="")
    second = source(ctx, url="")
    second.full_clean()
    with transaction.atomic():
        second.save()
    assert Source.objects.filter(url="").count() == 2


def test_the_same_route_on_another_day_or_segment_is_allowed(ctx):
    route_status(ctx).save()
    for other in (route_status(ctx, observed_on=date(2020, 3, 16)), route_status(ctx, segment="Saraqib–Ariha")):
        other.full_clean()
        with transaction.atomic():
            other.save()
    assert RouteStatus.objects.filter(route="M4").count() == 3


def test_a_complete_retraction_and_verification_are_allowed(ctx):
    row = violation(
        ctx,
        status=Violation.Status.VERIFIED,
        verified_by=ctx.user,
        verified_at=STARTED + timedelta(days=1),
        retracted_at=STARTED + timedelta(days=2),
        retracted_by=ctx.user,
        retraction_reason="Duplicate of another report.",
    )
    row.full_clean()
    row.save()
    assert Violation.objects.get(pk=row.pk).is_retracted


def test_an_agreement_amending_an_earlier_one_says_how(ctx):
    later = AgreementFactory.build(amends=ctx.agreement, relation="amends")
    later.full_clean()
    later.save()
    assert ctx.agreement.amended_by.get() == later
