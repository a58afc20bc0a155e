"""ACLED's vocabulary and ours, mapped once: the import reads ACLED-style files through these maps and the exports
(Python and COPY) write ACLED-style columns through them, so a file we write reads back as it was.

- event types: our category → ACLED (event_type, sub_event_type); a territorial capture is "Government regains
  territory" when the first perpetrator is a state actor (`ACLED_STATE_CAPTURE`), else "Non-state actor overtakes
  territory". Read back by `category_for_acled`, which reverses the map (see its docstring for the ambiguous pairs).
- precision codes: ACLED's 1/2/3 for time and geography, both ways.
- `fatalities`: killed (best estimate) by the casualty rule of `agreements.models.violations.casualty_total`, with
  ACLED's 0 for "none reported"; an import reads 0 back as "not reported".
- column names: `ACLED_READ` are those an import uses, `ACLED_NOT_READ` those of ACLED's own export it ignores.
"""

from __future__ import annotations

import functools

from agreements.models import Actor, Place, Violation

EXPLOSIONS = "Explosions/Remote violence"
BATTLES = "Battles"
STRATEGIC = "Strategic developments"
POLITICAL_VIOLENCE = "Political violence"
VIOLENCE_AGAINST_CIVILIANS = "Violence against civilians"

# Our category → ACLED (event_type, sub_event_type). A territorial capture depends on who took the ground: this
# entry is the non-state case, `ACLED_STATE_CAPTURE` the state one.
ACLED_EVENT_TYPES: dict[str, tuple[str, str]] = {
    Violation.Category.AIRSTRIKE: (EXPLOSIONS, "Air/drone strike"),
    Violation.Category.SHELLING: (EXPLOSIONS, "Shelling/artillery/missile attack"),
    Violation.Category.BARREL_BOMB: (EXPLOSIONS, "Air/drone strike"),
    Violation.Category.GROUND_ASSAULT: (BATTLES, "Armed clash"),
    Violation.Category.TERRITORIAL_CAPTURE: (BATTLES, "Non-state actor overtakes territory"),
    Violation.Category.PATROL_ATTACK: (BATTLES, "Armed clash"),
    Violation.Category.HEAVY_WEAPONS_IN_ZONE: (STRATEGIC, "Other"),
    Violation.Category.ARMED_GROUP_IN_ZONE: (STRATEGIC, "Other"),
    Violation.Category.ROUTE_CLOSURE: (STRATEGIC, "Other"),
    Violation.Category.OTHER: (STRATEGIC, "Other"),
}
ACLED_STATE_CAPTURE = (BATTLES, "Government regains territory")
ACLED_FALLBACK_EVENT = (STRATEGIC, "Other")
STATE_ACTOR_KINDS = frozenset({Actor.Kind.STATE, Actor.Kind.STATE_FORCE, Actor.Kind.UNIT})

# Our precision → ACLED's code (export); the import reads a code back as the finest precision that writes it.
ACLED_TIME_PRECISION = {
    Violation.TimePrecision.EXACT: 1,
    Violation.TimePrecision.DAY: 1,
    Violation.TimePrecision.WEEK: 2,
    Violation.TimePrecision.MONTH: 3,
}
ACLED_GEO_PRECISION = {
    Violation.LocationPrecision.EXACT: 1,
    Violation.LocationPrecision.TOWN: 1,
    Violation.LocationPrecision.DISTRICT: 2,
    Violation.LocationPrecision.REGION: 3,
}
ACLED_TIME_PRECISIONS = {
    1: Violation.TimePrecision.DAY,
    2: Violation.TimePrecision.WEEK,
    3: Violation.TimePrecision.MONTH,
}
ACLED_GEO_PRECISIONS = {
    1: Violation.LocationPrecision.TOWN,
    2: Violation.LocationPrecision.DISTRICT,
    3: Violation.LocationPrecision.REGION,
}
# A place's kind → the precision an ACLED row located only by that place has.
PLACE_KIND_PRECISIONS = {
    Place.Kind.SITE: Violation.LocationPrecision.EXACT,
    Place.Kind.SETTLEMENT: Violation.LocationPrecision.TOWN,
    Place.Kind.ADMIN3: Violation.LocationPrecision.DISTRICT,
    Place.Kind.ADMIN2: Violation.LocationPrecision.DISTRICT,
    Place.Kind.ADMIN1: Violation.LocationPrecision.REGION,
}
COUNTRY_NAMES = {"SY": "Syria"}

# The columns an import reads (ACLED's, our `clauses`, and the extras an author may add).
ACLED_READ = frozenset(
    {
        "event_date",
        "event_type",
        "sub_event_type",
        "actor1",
        "assoc_actor_1",
        "actor2",
        "assoc_actor_2",
        "admin1",
        "admin2",
        "admin3",
        "location",
        "latitude",
        "longitude",
        "geo_precision",
        "time_precision",
        "fatalities",
        "source",
        "notes",
        "clauses",
        "category",
        "source_grade",
        "source_kind",
        "source_url",
    }
)
ACLED_REQUIRED = ("event_date", "event_type", "notes")
# Columns of ACLED's own export that carry nothing an import records (ours add event_id_cnty, year, country …).
ACLED_NOT_READ = frozenset(
    {
        "event_id_cnty",
        "event_id_no_cnty",
        "year",
        "disorder_type",
        "country",
        "in_zone",
        "status",
        "iso",
        "iso3",
        "region",
        "inter1",
        "inter2",
        "interaction",
        "civilian_targeting",
        "source_scale",
        "tags",
        "timestamp",
    }
)
# Model field → the ACLED column a row error names (errors from full_clean name model fields).
ACLED_FIELD_COLUMNS = {
    "started_at": "event_date",
    "ended_at": "event_date",
    "time_precision": "time_precision",
    "category": "event_type",
    "perpetrators": "actor1",
    "affected_actors": "actor2",
    "place": "location",
    "location_precision": "geo_precision",
    "killed_best": "fatalities",
    "description": "notes",
    "publisher": "source",
    "title": "source",
    "url": "source_url",
    "kind": "source_kind",
}


def event_type_for(category: str, actor1_kind: str | None) -> tuple[str, str]:
    """(event_type, sub_event_type) of a violation in ACLED's terms, from its category and actor1's kind."""
    if category == Violation.Category.TERRITORIAL_CAPTURE and actor1_kind in STATE_ACTOR_KINDS:
        return ACLED_STATE_CAPTURE
    return ACLED_EVENT_TYPES.get(category, ACLED_FALLBACK_EVENT)


def disorder_type_for(event_type: str) -> str:
    return STRATEGIC if event_type == STRATEGIC else POLITICAL_VIOLENCE


@functools.cache
def _categories() -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """(event_type, sub_event_type), folded → our category: `ACLED_EVENT_TYPES` reversed.

    Where several of ours map to one ACLED pair the default is "other" if it is among them, else the first in the
    order of our categories (an "Air/drone strike" is an airstrike, an "Armed clash" a ground assault). The second
    map is for an event type alone: an ACLED sub-event type our export never writes, or none given."""
    # Imported here: the importer's package reads this module, and names are compared as the importer compares them.
    from agreements.importing.names import fold

    by_pair: dict[tuple[str, str], list[str]] = {}
    for category, pair in ACLED_EVENT_TYPES.items():
        by_pair.setdefault(pair, []).append(category)
    by_pair.setdefault(ACLED_STATE_CAPTURE, []).append(Violation.Category.TERRITORIAL_CAPTURE)
    order = list(Violation.Category.values)
    mapping = {}
    for (event_type, sub_event_type), categories in by_pair.items():
        categories.sort(key=order.index)
        chosen = Violation.Category.OTHER if Violation.Category.OTHER in categories else categories[0]
        mapping[(fold(event_type), fold(sub_event_type))] = str(chosen)
    defaults = {
        fold(EXPLOSIONS): Violation.Category.OTHER,
        fold(BATTLES): Violation.Category.GROUND_ASSAULT,
        fold(STRATEGIC): Violation.Category.OTHER,
        fold(VIOLENCE_AGAINST_CIVILIANS): Violation.Category.OTHER,
    }
    return mapping, {key: str(value) for key, value in defaults.items()}


ACLED_EVENT_TYPE_NAMES = sorted(
    {event_type for event_type, _ in ACLED_EVENT_TYPES.values()} | {VIOLENCE_AGAINST_CIVILIANS}
)


def category_for_acled(event_type: str, sub_event_type: str = "") -> tuple[str | None, str | None]:
    """(our category, warning) for an ACLED event type; (None, None) when the event type is unknown."""
    from agreements.importing.names import fold

    by_pair, by_event_type = _categories()
    event_key, sub_key = fold(event_type), fold(sub_event_type)
    if (event_key, sub_key) in by_pair:
        return by_pair[(event_key, sub_key)], None
    if event_key in by_event_type:
        category = by_event_type[event_key]
        what = f"{event_type} / {sub_event_type}" if sub_event_type else event_type
        return category, f"event type {what!r} has no exact match; recorded as {category!r}."
    return None, None
