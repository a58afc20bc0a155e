"""A clause's `terms` are typed per kind (agreements/terms.py): good ones pass, bad ones are refused naming the key."""

import pytest
from django.core.exceptions import ValidationError

from agreements import services
from agreements.models import Clause
from agreements.terms import TERMS_BY_KIND
from tests.factories import ActorFactory, AgreementFactory

pytestmark = pytest.mark.django_db

TURKEY, RUSSIA = "turkish-armed-forces", "russian-military-police"

GOOD_TERMS = {
    Clause.Kind.STATUS_QUO: {"scope": "Lines of contact as of 17 September 2018", "observation_posts": True},
    Clause.Kind.CEASEFIRE: {"scope": "Idlib de-escalation area", "mechanism": "Joint coordination centre"},
    Clause.Kind.DEMILITARISED_ZONE: {"depth_km_min": 15, "depth_km_max": 20.5, "lines_defined": False},
    Clause.Kind.WEAPONS_WITHDRAWAL: {
        "weapon_categories": ["tanks", "multiple_rocket_launchers", "artillery", "mortars"],
        "zone": "dmz",
    },
    Clause.Kind.GROUP_WITHDRAWAL: {"groups": [TURKEY], "group_description": "All radical terrorist groups"},
    Clause.Kind.PATROLS: {"participants": [TURKEY, RUSSIA], "uav_monitoring": True, "purpose": "Coordinated patrols"},
    Clause.Kind.COORDINATION_CENTRE: {"members": [TURKEY, RUSSIA]},
    Clause.Kind.ROUTE_OPENING: {"routes": ["M4", "M5"], "segments": ["Aleppo–Latakia", "Aleppo–Hama"]},
    Clause.Kind.OTHER: {"anything": [1, {"nested": True}], "note": None},
}


@pytest.fixture
def actors(db):
    return [ActorFactory(slug=TURKEY), ActorFactory(slug=RUSSIA)]


@pytest.fixture
def agreement(db):
    return AgreementFactory()


def build(agreement, kind, terms, **over) -> Clause:
    return Clause(agreement=agreement, number=over.pop("number", "3"), title="A clause", kind=kind, terms=terms, **over)


def refusal(clause: Clause) -> list[str]:
    """The messages full_clean() gives for `terms` (failing the test if it accepts the clause)."""
    with pytest.raises(ValidationError) as exc:
        clause.full_clean()
    assert "terms" in exc.value.message_dict, exc.value.message_dict
    return exc.value.message_dict["terms"]


def test_every_clause_kind_declares_its_terms():
    assert set(TERMS_BY_KIND) == set(Clause.Kind.values)


def test_every_clause_kind_has_a_good_terms_example_here():
    assert set(GOOD_TERMS) == set(Clause.Kind.values)


@pytest.mark.parametrize("kind", list(GOOD_TERMS), ids=str)
def test_good_terms_for_each_kind_pass(agreement, actors, kind):
    clause = build(agreement, kind, GOOD_TERMS[kind])
    clause.full_clean()
    clause.save()
    assert Clause.objects.get(pk=clause.pk).terms == GOOD_TERMS[kind]


@pytest.mark.parametrize(
    "kind",
    [
        k
        for k in Clause.Kind.values
        if k not in {"weapons_withdrawal", "patrols", "coordination_centre", "route_opening"}
    ],
)
def test_kinds_without_a_required_key_accept_empty_terms(agreement, kind):
    build(agreement, kind, {}).full_clean()


def test_an_unknown_key_is_refused_naming_it(agreement):
    messages = refusal(build(agreement, Clause.Kind.DEMILITARISED_ZONE, {"depth": 15, "depth_km_min": 15}))
    assert len(messages) == 1
    assert messages[0].startswith("terms.depth: unknown key for a demilitarised zone clause")
    assert "depth_km_min, depth_km_max, lines_defined" in messages[0]  # it says what is allowed


def test_every_bad_key_is_named_at_once(agreement):
    messages = refusal(
        build(agreement, Clause.Kind.DEMILITARISED_ZONE, {"width": 3, "depth_km_min": "abc", "lines_defined": "yes"})
    )
    assert sorted(m.split(":")[0] for m in messages) == ["terms.depth_km_min", "terms.lines_defined", "terms.width"]


@pytest.mark.parametrize(
    ("kind", "terms", "expected"),
    [
        (Clause.Kind.DEMILITARISED_ZONE, {"depth_km_min": "abc"}, "terms.depth_km_min: must be a number, got 'abc'."),
        (Clause.Kind.DEMILITARISED_ZONE, {"depth_km_max": True}, "terms.depth_km_max: must be a number, got True."),
        (Clause.Kind.DEMILITARISED_ZONE, {"depth_km_min": -1}, "terms.depth_km_min: must be at least 0, got -1."),
        (Clause.Kind.DEMILITARISED_ZONE, {"lines_defined": "yes"}, "terms.lines_defined: must be true or false"),
        (Clause.Kind.STATUS_QUO, {"observation_posts": 1}, "terms.observation_posts: must be true or false"),
        (Clause.Kind.CEASEFIRE, {"scope": 42}, "terms.scope: must be a non-empty string"),
        (Clause.Kind.CEASEFIRE, {"mechanism": "  "}, "terms.mechanism: must be a non-empty string"),
        (Clause.Kind.ROUTE_OPENING, {"routes": "M4"}, "terms.routes: must be a list of strings (non-empty)"),
        (Clause.Kind.ROUTE_OPENING, {"routes": []}, "terms.routes: must be a list of strings (non-empty)"),
        (Clause.Kind.ROUTE_OPENING, {"routes": ["M4", 5]}, "terms.routes: must be a list of strings (non-empty)"),
        (
            Clause.Kind.PATROLS,
            {"participants": "turkish-armed-forces"},
            "terms.participants: must be a list of actor slugs (non-empty)",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and v in Clause.Kind.values else None,
)
def test_a_wrong_type_is_refused_naming_the_key(agreement, kind, terms, expected):
    messages = refusal(build(agreement, kind, terms))
    assert any(m.startswith(expected) for m in messages), messages


def test_an_unknown_weapon_category_is_refused_naming_it(agreement):
    messages = refusal(build(agreement, Clause.Kind.WEAPONS_WITHDRAWAL, {"weapon_categories": ["tanks", "lasers"]}))
    assert len(messages) == 1
    assert messages[0].startswith("terms.weapon_categories: unknown value(s) 'lasers';")
    assert "'tanks'" not in messages[0]  # the good one is not blamed


@pytest.mark.parametrize(
    ("kind", "terms", "key"),
    [
        (Clause.Kind.WEAPONS_WITHDRAWAL, {"zone": "dmz"}, "weapon_categories"),
        (Clause.Kind.ROUTE_OPENING, {"segments": ["Saraqib–Ariha"]}, "routes"),
        (Clause.Kind.PATROLS, {"uav_monitoring": True}, "participants"),
        (Clause.Kind.COORDINATION_CENTRE, {}, "members"),
    ],
)
def test_a_missing_required_key_is_refused_naming_it(agreement, kind, terms, key):
    messages = refusal(build(agreement, kind, terms))
    assert [m for m in messages if m.startswith(f"terms.{key}: required for a {kind.replace('_', ' ')} clause")]


def test_a_smallest_depth_above_the_largest_is_refused(agreement):
    messages = refusal(build(agreement, Clause.Kind.DEMILITARISED_ZONE, {"depth_km_min": 20, "depth_km_max": 15}))
    assert messages == ["terms.depth_km_min: 20 is greater than terms.depth_km_max 15."]


def test_equal_smallest_and_largest_depth_pass(agreement):
    build(agreement, Clause.Kind.DEMILITARISED_ZONE, {"depth_km_min": 15, "depth_km_max": 15}).full_clean()


@pytest.mark.parametrize("kind", [Clause.Kind.OTHER, Clause.Kind.CEASEFIRE])
@pytest.mark.parametrize("terms", [["scope", "Idlib"], "15 km", 15], ids=["list", "string", "number"])
def test_terms_that_are_not_an_object_are_refused(agreement, kind, terms):
    messages = refusal(build(agreement, kind, terms))
    assert messages == [f"terms must be a JSON object, got {type(terms).__name__}."]


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        (Clause.Kind.PATROLS, "participants"),
        (Clause.Kind.COORDINATION_CENTRE, "members"),
        (Clause.Kind.GROUP_WITHDRAWAL, "groups"),
    ],
)
def test_an_actor_slug_that_does_not_exist_is_refused_naming_it(agreement, actors, kind, key):
    messages = refusal(build(agreement, kind, {key: [TURKEY, "ghost-brigade", RUSSIA]}))
    assert messages == [f"terms.{key}: no actor with slug 'ghost-brigade'."]


def test_every_missing_actor_slug_is_named(agreement, actors):
    messages = refusal(build(agreement, Clause.Kind.PATROLS, {"participants": ["ghost-brigade", "phantom-unit"]}))
    assert sorted(messages) == [
        "terms.participants: no actor with slug 'ghost-brigade'.",
        "terms.participants: no actor with slug 'phantom-unit'.",
    ]


def test_existing_actor_slugs_pass(agreement, actors):
    build(agreement, Clause.Kind.PATROLS, {"participants": [TURKEY, RUSSIA]}).full_clean()


def test_actor_slugs_are_not_checked_under_the_other_kind(agreement):
    build(agreement, Clause.Kind.OTHER, {"participants": ["ghost-brigade"]}).full_clean()


@pytest.mark.parametrize("terms", [{}, {"x": 1}, {"participants": [1, 2], "depth": "abc", "nested": {"a": [None]}}])
def test_other_accepts_any_object(agreement, terms):
    build(agreement, Clause.Kind.OTHER, terms).full_clean()


def test_changing_the_kind_rechecks_the_terms(agreement):
    clause = build(agreement, Clause.Kind.OTHER, {"depth": 15})
    clause.full_clean()
    clause.kind = Clause.Kind.DEMILITARISED_ZONE
    assert refusal(clause)[0].startswith("terms.depth: unknown key")


# --- through the service -------------------------------------------------------------------------------------------


def test_clause_save_stores_a_good_clause_with_its_obligated_actors(agreement, actors, user):
    clause = build(agreement, Clause.Kind.PATROLS, {"participants": [TURKEY, RUSSIA]})
    services.clause_save(clause=clause, user=user, obligated_actors=actors)
    stored = Clause.objects.get(pk=clause.pk)
    assert stored.terms == {"participants": [TURKEY, RUSSIA]}
    assert set(stored.obligated_actors.all()) == set(actors)
    assert stored.history.first().history_user == user


def test_clause_save_refuses_bad_terms_and_leaves_no_row(agreement, actors, user):
    clauses, history = Clause.objects.count(), Clause.history.count()
    clause = build(agreement, Clause.Kind.WEAPONS_WITHDRAWAL, {"weapon_categories": ["lasers"]})
    with pytest.raises(ValidationError) as exc:
        services.clause_save(clause=clause, user=user, obligated_actors=actors)
    assert exc.value.message_dict["terms"][0].startswith("terms.weapon_categories: unknown value(s) 'lasers'")
    assert clause.pk is None
    assert Clause.objects.count() == clauses
    assert Clause.history.count() == history


def test_clause_save_refuses_an_edit_that_breaks_the_terms_and_keeps_the_stored_ones(agreement, user):
    clause = services.clause_save(clause=build(agreement, Clause.Kind.ROUTE_OPENING, {"routes": ["M4"]}), user=user)
    clause.terms = {"segments": ["Saraqib–Ariha"]}
    with pytest.raises(ValidationError) as exc:
        services.clause_save(clause=clause, user=user)
    assert exc.value.message_dict["terms"][0].startswith("terms.routes: required")
    assert Clause.objects.get(pk=clause.pk).terms == {"routes": ["M4"]}
