"""`manage.py load_sochi`: what it loads (from agreements/demo/sochi/), that it loads it once, and that the demo
geometry behaves."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from shapely.geometry import Point, shape

from agreements import services
from agreements.demo import loading, reading
from agreements.models import (
    Actor,
    ActorAlias,
    Agreement,
    AgreementParty,
    Clause,
    ControlChange,
    Patrol,
    Place,
    PlaceAlias,
    RouteStatus,
    Source,
    Violation,
    ViolationSource,
    Zone,
)
from tests.factories import UserFactory

DATA = reading.read(loading.SOCHI)
DEMO_USERNAME = "sochi-demo"

FRONT_LINE_TOWNS = ("Kafr Nabudah", "Qalaat al-Madiq", "Kafr Zita", "Latamna", "Morek", "Khan Shaykhun")


def run_command() -> str:
    out = StringIO()
    call_command("load_sochi", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="class")
def demo_output(django_db_setup, django_db_blocker):
    """Load the demo once per test class (a load takes about a second), inside a transaction rolled back after."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield run_command()
        transaction.set_rollback(True)


@pytest.fixture
def loaded(demo_output, db):
    return demo_output


def agreement() -> Agreement:
    return Agreement.objects.get(slug="sochi-2018")


def clause(number: str) -> Clause:
    return Clause.objects.get(agreement__slug="sochi-2018", number=number)


def demo_violation(key: str) -> Violation:
    return Violation.objects.get(uuid=loading.violation_uuid("sochi-2018", key))


def place(name: str) -> Place:
    return Place.objects.get(name=name)


def every_row_count() -> dict[str, int]:
    """Rows of every table of the app, history and m2m tables included, and users."""
    models = [*apps.get_app_config("agreements").get_models(include_auto_created=True), get_user_model()]
    return {model._meta.label: model._default_manager.count() for model in models}


def timestamps() -> dict[str, list]:
    """When each timestamped row was last saved (a save, even an unchanged one, moves updated_at)."""
    models = [Actor, Agreement, Clause, Place, Zone, Source, Violation, ControlChange, Patrol, RouteStatus]
    return {m.__name__: sorted(m.objects.values_list("pk", "updated_at")) for m in models}


class TestTheLoadedDemo:
    """Read the demo loaded once for the class (each test still runs in its own rolled-back transaction)."""

    # --- what is loaded -----------------------------------------------------------------------------------------------

    def test_counts_match_the_data_files(self, loaded):
        expected = {
            Actor: len(DATA.actors),
            ActorAlias: sum(len(entry.refs.get("aliases", [])) for entry in DATA.actors),
            Agreement: 1,
            AgreementParty: len(DATA.parties),
            Clause: len(DATA.clauses),
            Place: len(DATA.places),
            PlaceAlias: sum(len(entry.refs.get("aliases", [])) for entry in DATA.places),
            Zone: len(DATA.zones),
            Source: 1,
            Violation: len(DATA.violations),
            ViolationSource: len(DATA.violations),
            ControlChange: len(DATA.control_changes),
            Patrol: len(DATA.patrols),
            RouteStatus: len(DATA.route_statuses),
        }
        assert {m.__name__: m.objects.count() for m in expected} == {m.__name__: n for m, n in expected.items()}
        # The data itself, as the memorandum and the brief give it.
        assert len(DATA.actors) == 15
        assert len(DATA.clauses) == 10
        assert len(DATA.places) == 17
        assert len(DATA.parties) == 5
        assert len(DATA.route_statuses) == 2
        assert len(DATA.control_changes) == 5
        assert len(DATA.violations) == 10

    def test_the_command_reports_what_it_created(self, loaded):
        assert "Created 15 actors," in loaded
        assert "1 agreement," in loaded
        assert "10 clauses," in loaded
        assert "10 violations, 10 citations," in loaded
        assert "1 user." in loaded
        assert "Nothing to do" not in loaded

    def test_agreement(self, loaded):
        sochi_memo = agreement()
        assert sochi_memo.title == "Memorandum on Stabilization of the Situation in the Idlib De-escalation Area"
        assert sochi_memo.short_title == "Sochi memorandum"
        assert sochi_memo.signed_on == date(2018, 9, 17)
        assert sochi_memo.in_force_from == date(2018, 9, 17)
        assert sochi_memo.signed_at == "Sochi"
        assert sochi_memo.status == Agreement.Status.IN_FORCE
        assert sochi_memo.summary

    def test_parties_russia_and_turkey_sign_and_guarantee_iran_observes(self, loaded):
        roles = set(AgreementParty.objects.filter(agreement=agreement()).values_list("actor__slug", "role"))
        assert roles == {
            ("russia", "signatory"),
            ("russia", "guarantor"),
            ("turkey", "signatory"),
            ("turkey", "guarantor"),
            ("iran", "observer"),
        }

    def test_actor_relations_and_aliases(self, loaded):
        def actor(slug):
            return Actor.objects.get(slug=slug)

        assert actor("tiger-forces").part_of == actor("syrian-arab-army")
        assert actor("syrian-arab-army").part_of == actor("government-of-syria")
        assert actor("syrian-arab-air-force").part_of == actor("government-of-syria")
        assert actor("russian-aerospace-forces").part_of == actor("russia")
        assert actor("russian-military-police").part_of == actor("russia")
        assert actor("turkish-armed-forces").part_of == actor("turkey")
        assert list(actor("national-front-for-liberation").backed_by.all()) == [actor("turkey")]
        assert list(actor("syrian-national-army").backed_by.all()) == [actor("turkey")]
        assert list(actor("iranian-backed-militias").backed_by.all()) == [actor("iran")]
        hts = actor("hayat-tahrir-al-sham")
        assert hts.short_name == "HTS"
        assert hts.kind == Actor.Kind.NON_STATE_ARMED_GROUP
        assert "al-Qaeda" in hts.description
        assert {"Tahrir al-Sham", "HTS"} <= set(hts.aliases.values_list("name", flat=True))
        assert actor("unknown").kind == Actor.Kind.UNKNOWN
        assert actor("national-front-for-liberation").kind == Actor.Kind.COALITION

    # --- clauses ------------------------------------------------------------------------------------------------------

    def test_clauses_numbered_in_order_with_valid_terms(self, loaded):
        clauses = list(Clause.objects.filter(agreement=agreement()))
        assert [c.number for c in clauses] == [str(n) for n in range(1, 11)]
        assert [c.position for c in clauses] == list(range(1, 11))
        for c in clauses:
            c.full_clean()  # terms fit their kind, actor slugs in terms exist

    def test_dmz_clause_depth(self, loaded):
        dmz = clause("3")
        assert dmz.kind == Clause.Kind.DEMILITARISED_ZONE
        assert dmz.terms["depth_km_min"] == 15
        assert dmz.terms["depth_km_max"] == 20
        assert dmz.terms["lines_defined"] is False

    def test_heavy_weapons_clause(self, loaded):
        weapons = clause("6")
        assert weapons.kind == Clause.Kind.WEAPONS_WITHDRAWAL
        assert weapons.deadline == date(2018, 10, 10)
        assert set(weapons.terms["weapon_categories"]) == {"tanks", "multiple_rocket_launchers", "artillery", "mortars"}

    def test_group_withdrawal_clause(self, loaded):
        groups = clause("5")
        assert groups.kind == Clause.Kind.GROUP_WITHDRAWAL
        assert groups.deadline == date(2018, 10, 15)
        assert groups.terms["groups"] == ["hayat-tahrir-al-sham"]

    def test_route_clause(self, loaded):
        routes = clause("8")
        assert routes.kind == Clause.Kind.ROUTE_OPENING
        assert routes.deadline == date(2018, 12, 31)
        assert sorted(routes.terms["routes"]) == ["M4", "M5"]

    def test_patrol_and_ceasefire_clauses(self, loaded):
        patrols = clause("7")
        assert patrols.kind == Clause.Kind.PATROLS
        assert set(patrols.terms["participants"]) == {"turkish-armed-forces", "russian-military-police"}
        assert patrols.terms["uav_monitoring"] is True
        ceasefire = clause("9")
        assert ceasefire.kind == Clause.Kind.CEASEFIRE
        assert "coordination centre" in ceasefire.terms["mechanism"]
        assert clause("1").terms["observation_posts"] is True

    def test_obligations(self, loaded):
        assert list(clause("2").obligated_actors.values_list("slug", flat=True)) == ["russia"]
        assert set(clause("6").obligated_actors.values_list("slug", flat=True)) == {"russia", "turkey"}

    # --- zones and places ---------------------------------------------------------------------------------------------

    def test_zones_are_approximate_and_tied_to_their_clauses(self, loaded):
        dmz = Zone.objects.get(agreement=agreement(), slug="dmz")
        area = Zone.objects.get(agreement=agreement(), slug="de-escalation-area")
        assert dmz.precision == area.precision == Zone.Precision.APPROXIMATE
        assert dmz.kind == Zone.Kind.DEMILITARISED_ZONE
        assert area.kind == Zone.Kind.DE_ESCALATION_AREA
        assert (dmz.depth_km_min, dmz.depth_km_max) == (Decimal("15"), Decimal("20"))
        assert dmz.clause == clause("3")
        assert area.clause == clause("1")
        assert "approximat" in dmz.description
        assert "3.5 million" in area.description

    def test_dmz_covers_the_front_line_towns_but_not_idlib_or_ariha(self, loaded):
        dmz = shape(Zone.objects.get(slug="dmz").geometry)
        assert dmz.is_valid
        for name in FRONT_LINE_TOWNS:
            town = place(name)
            assert dmz.covers(Point(float(town.longitude), float(town.latitude))), name
        for name in ("Idlib", "Ariha", "Aleppo", "Hama", "Latakia"):
            town = place(name)
            assert not dmz.covers(Point(float(town.longitude), float(town.latitude))), name

    def test_de_escalation_area_contains_the_dmz_and_idlib_but_not_government_cities(self, loaded):
        area = shape(Zone.objects.get(slug="de-escalation-area").geometry)
        assert area.is_valid
        assert area.contains(shape(Zone.objects.get(slug="dmz").geometry))
        for name in ("Idlib", "Ariha"):
            assert area.covers(Point(float(place(name).longitude), float(place(name).latitude))), name
        for name in ("Aleppo", "Hama", "Latakia"):
            assert not area.covers(Point(float(place(name).longitude), float(place(name).latitude))), name

    def test_places(self, loaded):
        kafr_nabudah = place("Kafr Nabudah")
        assert kafr_nabudah.admin1 == "Hama"
        assert kafr_nabudah.kind == Place.Kind.SETTLEMENT
        assert (kafr_nabudah.latitude, kafr_nabudah.longitude) == (Decimal("35.43"), Decimal("36.52"))
        assert {"Kafr Nabouda", "Kafranbouda"} <= set(kafr_nabudah.aliases.values_list("name", flat=True))
        assert place("Khan Shaykhun").admin1 == "Idlib"
        assert "Khan Sheikhoun" in place("Khan Shaykhun").aliases.values_list("name", flat=True)
        assert place("Aleppo").admin1 == "Aleppo"
        assert place("Latakia").admin1 == "Latakia"
        assert place("Idlib Governorate").kind == place("Hama Governorate").kind == Place.Kind.ADMIN1
        assert all("approximate" in p.notes.lower() for p in Place.objects.all())
        for p in Place.objects.all():
            p.full_clean()

    # --- events -------------------------------------------------------------------------------------------------------

    def test_every_violation_is_reported_sourced_and_attributed(self, loaded):
        source = Source.objects.get()
        assert source.publisher == "TRT World"
        assert source.kind == Source.Kind.OPINION
        assert source.grade == "C3"
        assert source.url.startswith("https://www.trtworld.com/opinion/")
        assert "partisan" in source.notes
        demo_user = get_user_model().objects.get(username=DEMO_USERNAME)
        for violation in Violation.objects.all():
            assert violation.status == Violation.Status.REPORTED
            assert violation.sources.count() >= 1
            assert violation.perpetrators.exists()
            assert violation.clauses.exists()
            assert violation.reported_by == demo_user
            assert violation.version == 1
            assert violation.started_at.tzinfo is not None
            assert violation.history.earliest().history_user == demo_user

    def test_demo_user_cannot_log_in(self, loaded):
        demo_user = get_user_model().objects.get(username=DEMO_USERNAME)
        assert not demo_user.has_usable_password()
        assert not demo_user.is_staff
        assert not demo_user.is_superuser

    def test_public_ids_are_deterministic(self, loaded):
        expected = {loading.violation_uuid("sochi-2018", entry.name) for entry in DATA.violations}
        assert set(Violation.objects.values_list("uuid", flat=True)) == expected
        assert loading.violation_uuid("sochi-2018", "2019-05-26-retaking") == uuid.uuid5(
            uuid.UUID("84623c97-884c-4862-a0c1-a7f858937526"), "sochi-2018/2019-05-26-retaking"
        )

    def test_kafr_nabudah_events_are_in_the_dmz(self, loaded):
        events = Violation.objects.filter(place__name="Kafr Nabudah")
        assert events.count() == 4
        for violation in events:
            assert violation.location_precision == Violation.LocationPrecision.TOWN
            assert violation.in_zone is True
            assert violation.zone.slug == "dmz"

    def test_governorate_level_events_have_no_in_zone_answer(self, loaded):
        coarse = Violation.objects.filter(place__kind=Place.Kind.ADMIN1)
        assert coarse.count() == 6
        for violation in coarse:
            assert violation.location_precision == Violation.LocationPrecision.REGION
            assert violation.in_zone is None
            assert violation.zone is None

    def test_no_demo_event_claims_idlib_city_but_one_there_would_be_outside_the_zone(self, loaded, user):
        assert not Violation.objects.filter(place__name="Idlib").exists()
        # The geometry makes the negative case demonstrable: a town-precision event at Idlib city is out of the zone.
        recorded = services.violation_create(
            user=user,
            agreement=agreement(),
            category=Violation.Category.AIRSTRIKE,
            description="Test only.",
            started_at=datetime(2019, 5, 10, tzinfo=UTC),
            place=place("Idlib"),
            location_precision=Violation.LocationPrecision.TOWN,
        )
        assert recorded.in_zone is False
        assert recorded.zone is None

    def test_humanitarian_figures(self, loaded):
        impact = demo_violation("2019-05-humanitarian-impact")
        assert impact.displaced == 200000
        assert "more than 200,000" in impact.description
        assert (impact.health_facilities_hit, impact.idp_sites_hit, impact.camps_hit) == (20, 3, 1)
        assert impact.killed_best is None
        assert impact.civilians_killed_best is None
        assert impact.started_at == datetime(2019, 5, 1, tzinfo=UTC)
        assert impact.ended_at == datetime(2019, 5, 16, tzinfo=UTC)
        assert "OCHA" in impact.citations.get().note

    def test_hts_expansion_event(self, loaded):
        expansion = demo_violation("2019-01-hts-expansion")
        assert list(expansion.perpetrators.values_list("slug", flat=True)) == ["hayat-tahrir-al-sham"]
        assert list(expansion.affected_actors.values_list("slug", flat=True)) == ["national-front-for-liberation"]
        assert list(expansion.clauses.values_list("number", flat=True)) == ["5"]
        assert expansion.time_precision == Violation.TimePrecision.WEEK

    def test_may_ground_operation_and_air_campaign(self, loaded):
        operation = demo_violation("2019-05-06-ground-operation")
        assert set(operation.perpetrators.values_list("slug", flat=True)) == {
            "syrian-arab-army",
            "russian-aerospace-forces",
        }
        assert set(operation.clauses.values_list("number", flat=True)) == {"2", "3", "9"}
        assert demo_violation("2019-05-06-capture").category == Violation.Category.TERRITORIAL_CAPTURE
        assert demo_violation("2019-04-barrel-bombs").category == Violation.Category.BARREL_BOMB
        assert set(demo_violation("2019-04-air-bombardment").perpetrators.values_list("slug", flat=True)) == {
            "russian-aerospace-forces",
            "syrian-arab-air-force",
        }
        counter = demo_violation("2019-05-21-counter-attack")
        assert set(counter.perpetrators.values_list("slug", flat=True)) == {
            "national-front-for-liberation",
            "hayat-tahrir-al-sham",
        }
        assert set(counter.clauses.values_list("number", flat=True)) == {"5", "9"}

    # --- control, patrols, routes -------------------------------------------------------------------------------------

    def test_six_may_control_changes_sum_to_21_locations(self, loaded):
        six_may = ControlChange.objects.filter(agreement=agreement(), occurred_on=date(2019, 5, 6))
        assert sum(six_may.values_list("locations", flat=True)) == 21
        assert set(six_may.values_list("to_actor__slug", flat=True)) == {"syrian-arab-army"}
        assert set(six_may.values_list("from_actor", flat=True)) == {None}
        unnamed = six_may.get(place=None)
        assert unnamed.locations == 19
        assert "19" in unnamed.area_description
        assert "second source" in six_may.get(place__name="Qalaat al-Madiq").notes
        assert {c.violation for c in six_may} == {demo_violation("2019-05-06-capture")}

    def test_kafr_nabudah_changes_hands(self, loaded):
        changes = ControlChange.objects.filter(place__name="Kafr Nabudah").order_by("occurred_on")
        assert [(c.occurred_on, c.from_actor and c.from_actor.slug, c.to_actor.slug) for c in changes] == [
            (date(2019, 5, 6), None, "syrian-arab-army"),
            (date(2019, 5, 21), "syrian-arab-army", "national-front-for-liberation"),
            (date(2019, 5, 26), "national-front-for-liberation", "syrian-arab-army"),
        ]
        assert changes[1].violation == demo_violation("2019-05-21-counter-attack")
        assert changes[2].violation == demo_violation("2019-05-26-retaking")
        assert all(c.source is not None for c in changes)

    def test_coordinated_patrol_linked_to_the_shelling(self, loaded):
        patrol = Patrol.objects.get(agreement=agreement())
        assert patrol.kind == Patrol.Kind.COORDINATED
        assert patrol.date_precision == "month"
        assert patrol.outcome == Patrol.Outcome.COMPLETED
        assert patrol.clause == clause("7")
        assert set(patrol.participants.values_list("slug", flat=True)) == {
            "turkish-armed-forces",
            "russian-military-police",
        }
        assert list(patrol.incidents.all()) == [demo_violation("2019-early-shelling-after-patrols")]

    def test_m4_and_m5_closed_at_the_deadline(self, loaded):
        statuses = RouteStatus.objects.filter(agreement=agreement())
        assert sorted(statuses.values_list("route", "status", "observed_on")) == [
            ("M4", "closed", date(2018, 12, 31)),
            ("M5", "closed", date(2018, 12, 31)),
        ]
        assert {s.clause for s in statuses} == {clause("8")}

    # --- idempotence --------------------------------------------------------------------------------------------------

    def test_second_run_changes_nothing(self, loaded):
        rows, saved = every_row_count(), timestamps()
        versions = dict(Violation.objects.values_list("uuid", "version"))
        history = Violation.history.count(), Clause.history.count(), Zone.history.count(), Actor.history.count()

        counts = loading.load()
        assert set(counts) >= {"Violation", "Clause", "Zone", "User"}
        assert not any(counts.values()), counts
        output = run_command()

        assert output.strip() == "Nothing to do: the Sochi demo is already loaded."
        assert every_row_count() == rows
        assert timestamps() == saved
        assert dict(Violation.objects.values_list("uuid", "version")) == versions
        assert (
            Violation.history.count(),
            Clause.history.count(),
            Zone.history.count(),
            Actor.history.count(),
        ) == history

    def test_history_was_written_by_the_first_run(self, loaded):
        # The counterpart of the test above: the comparison there would pass trivially if nothing kept history.
        assert Violation.history.count() >= Violation.objects.count() == 10
        assert Zone.history.count() >= 2
        assert apps.get_model("agreements", "HistoricalViolationSource").objects.count() == 10

    def test_an_edited_demo_record_is_left_as_the_monitor_left_it(self, loaded):
        # Another's entry: a reviewer edits it (a monitor edits only their own).
        user = UserFactory(username="desk-reviewer", role="reviewer")
        edited = clause("4")
        edited.title = "Lines of the zone (edited by a monitor)"
        services.clause_save(clause=edited, user=user)
        retaking = demo_violation("2019-05-26-retaking")
        services.violation_update(violation=retaking, user=user, killed_best=5)

        assert "Nothing to do" in run_command()
        assert clause("4").title == "Lines of the zone (edited by a monitor)"
        assert demo_violation("2019-05-26-retaking").killed_best == 5
        assert demo_violation("2019-05-26-retaking").version == 2

    def test_a_missing_record_is_restored_alone(self, loaded):
        RouteStatus.objects.get(route="M5").delete()
        PlaceAlias.objects.filter(name="Kafranbouda").delete()
        rows = every_row_count()

        output = run_command()

        assert output.strip() == "Created 1 place alias, 1 route status."
        after = every_row_count()
        assert after["agreements.RouteStatus"] == rows["agreements.RouteStatus"] + 1
        assert after["agreements.PlaceAlias"] == rows["agreements.PlaceAlias"] + 1
        assert after["agreements.Violation"] == rows["agreements.Violation"]
        assert after["agreements.HistoricalViolation"] == rows["agreements.HistoricalViolation"]
        assert RouteStatus.objects.get(route="M5").status == RouteStatus.Status.CLOSED


# --- on a database without the demo -----------------------------------------------------------------------------------


def test_load_returns_the_counts_of_created_rows(db):
    counts = loading.load()
    assert counts["Violation"] == Violation.objects.count() == 10
    assert counts["Clause"] == 10
    assert counts["PlaceAlias"] == PlaceAlias.objects.count() > 0
    assert counts["User"] == 1


def test_records_are_attributed_to_a_given_user_instead(db, user):
    loading.load(user=user)
    assert not get_user_model().objects.filter(username=DEMO_USERNAME).exists()
    assert set(Violation.objects.values_list("reported_by", flat=True)) == {user.pk}
    assert Actor.history.filter(history_user=user).count() >= Actor.objects.count()


def test_an_actor_entered_by_hand_under_another_slug_is_reused(db, user):
    hts = services.model_save(
        instance=Actor(name="Hayat Tahrir al-Sham", slug="hts", kind=Actor.Kind.NON_STATE_ARMED_GROUP), user=user
    )
    loading.load()
    assert Actor.objects.filter(name="Hayat Tahrir al-Sham").count() == 1
    assert clause("5").terms["groups"] == ["hts"]
    assert demo_violation("2019-01-hts-expansion").perpetrators.get() == hts
