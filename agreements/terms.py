"""Typed `terms` of a clause, validated per clause kind.

A clause's `terms` is a JSON object whose allowed keys and value types depend on the clause's kind, so that
"15–20 km deep" or "routes M4 and M5" are data the compliance engine can read, not prose. Each kind declares
its keys once here; an unknown key, a wrong type or a missing required key is refused with a message that
names the key. To add a clause kind: add it to `Clause.Kind`, declare its terms in `TERMS_BY_KIND`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError

WEAPON_CATEGORIES = (
    "tanks",
    "multiple_rocket_launchers",
    "artillery",
    "mortars",
    "heavy_machine_guns",
    "anti_tank_missiles",
    "air_defence",
    "armed_drones",
)


@dataclass(frozen=True)
class Term:
    type: str  # number | text | boolean | date | list
    help: str
    required: bool = False
    minimum: float | None = None
    choices: tuple[str, ...] | None = None
    actor_slugs: bool = False  # a list whose items must be slugs of existing actors

    def describe(self) -> str:
        if self.type == "list":
            return "a list of actor slugs" if self.actor_slugs else "a list of strings"
        return {"number": "a number", "text": "a string", "boolean": "true or false", "date": "a YYYY-MM-DD date"}[
            self.type
        ]


TERMS_BY_KIND: dict[str, dict[str, Term]] = {
    "status_quo": {
        "scope": Term("text", "What must stay as it is (lines, posts, positions)."),
        "observation_posts": Term("boolean", "Observation posts are kept and keep working."),
    },
    "ceasefire": {
        "scope": Term("text", "Where and to whom the ceasefire applies."),
        "mechanism": Term("text", "The body that secures it (e.g. a joint coordination centre)."),
    },
    "demilitarised_zone": {
        "depth_km_min": Term("number", "Smallest depth of the zone, in kilometres.", minimum=0),
        "depth_km_max": Term("number", "Largest depth of the zone, in kilometres.", minimum=0),
        "lines_defined": Term("boolean", "Whether the zone's lines have been agreed and published."),
    },
    "weapons_withdrawal": {
        "weapon_categories": Term(
            "list", "Weapon categories to be withdrawn.", required=True, choices=WEAPON_CATEGORIES
        ),
        "zone": Term("text", "Slug of the zone they must leave."),
    },
    "group_withdrawal": {
        "groups": Term("list", "Actors (groups) that must leave.", actor_slugs=True),
        "group_description": Term("text", "How the agreement describes the groups, in its own words."),
        "zone": Term("text", "Slug of the zone they must leave."),
    },
    "patrols": {
        "participants": Term("list", "Actors that patrol.", required=True, actor_slugs=True),
        "uav_monitoring": Term("boolean", "Whether drones monitor the zone as well."),
        "purpose": Term("text", "What the patrols are for."),
    },
    "coordination_centre": {
        "members": Term("list", "Actors that sit in the centre.", required=True, actor_slugs=True),
    },
    "route_opening": {
        "routes": Term("list", "Routes to be opened (e.g. M4, M5).", required=True),
        "segments": Term("list", "Segments, where the agreement names them."),
    },
    "other": {},  # free-form: any JSON object
}


def _check_value(key: str, term: Term, value) -> list[str]:
    where = f"terms.{key}"
    if term.type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{where}: must be {term.describe()}, got {value!r}."]
        if term.minimum is not None and value < term.minimum:
            return [f"{where}: must be at least {term.minimum:g}, got {value!r}."]
    elif term.type == "text":
        if not isinstance(value, str) or not value.strip():
            return [f"{where}: must be a non-empty string, got {value!r}."]
    elif term.type == "boolean":
        if not isinstance(value, bool):
            return [f"{where}: must be true or false, got {value!r}."]
    elif term.type == "date":
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            return [f"{where}: must be a YYYY-MM-DD date, got {value!r}."]
    elif term.type == "list":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            return [f"{where}: must be {term.describe()} (non-empty), got {value!r}."]
        if term.choices:
            bad = [v for v in value if v not in term.choices]
            if bad:
                return [f"{where}: unknown value(s) {', '.join(map(repr, bad))}; allowed: {', '.join(term.choices)}."]
    return []


def validate_terms(kind: str, terms) -> None:
    """Raise ValidationError({"terms": [...]}) naming every bad key; return None when `terms` fits `kind`."""
    if not isinstance(terms, dict):
        raise ValidationError({"terms": f"terms must be a JSON object, got {type(terms).__name__}."})
    schema = TERMS_BY_KIND.get(kind)
    if schema is None:
        raise ValidationError({"terms": f"no terms are declared for clause kind {kind!r}."})
    if kind == "other":
        return
    errors: list[str] = []
    for key in terms:
        if key not in schema:
            allowed = ", ".join(schema) or "none"
            errors.append(f"terms.{key}: unknown key for a {kind.replace('_', ' ')} clause (allowed: {allowed}).")
    for key, term in schema.items():
        if key not in terms:
            if term.required:
                errors.append(f"terms.{key}: required for a {kind.replace('_', ' ')} clause ({term.help})")
            continue
        errors.extend(_check_value(key, term, terms[key]))
    low, high = terms.get("depth_km_min"), terms.get("depth_km_max")
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
        errors.append(f"terms.depth_km_min: {low} is greater than terms.depth_km_max {high}.")
    if errors:
        raise ValidationError({"terms": errors})


def actor_slugs_in_terms(kind: str, terms: dict) -> dict[str, list[str]]:
    """The keys of `terms` that name actors, with their slugs (so the caller can check they exist)."""
    schema = TERMS_BY_KIND.get(kind, {})
    return {
        key: value
        for key, value in terms.items()
        if key in schema and schema[key].actor_slugs and isinstance(value, list)
    }
