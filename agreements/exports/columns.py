"""The export's columns, declared once: ours (`VIOLATION_COLUMNS`) and ACLED's (`ACLED_COLUMNS`), each a `Column`
whose `value` reads a plain Python value off a violation (see the package's docstring for what each holds)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from agreements import acled
from agreements.models import Actor, Clause, Source, Violation
from agreements.models.violations import casualty_total

Value = str | int | float | bool | date | datetime | None

UTF8_BOM = "\ufeff"

# A cell starting with one of these is read as a formula by Excel, LibreOffice or Google Sheets (OWASP "CSV
# injection"); tab and carriage return are stripped by some of them before they look.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# Excel refuses a cell longer than this (the file opens "repaired", with the cell emptied).
XLSX_MAX_CELL_CHARS = 32767


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an export: its key (GeoJSON property), its header (CSV / XLSX), how to read it off a row."""

    name: str
    header: str
    value: Callable[[Violation], Value]
    description: str = ""
    # Its cell as SQL, for a column declared outside this module (copy_cells.CELLS holds the SQL of those here).
    sql: Callable | None = None


# --- reading values off a violation -------------------------------------------------------------------------------
# The links come from `rows.violation_rows`, which reads them per chunk as plain id pairs (`rows.attach_links`).


@dataclass(slots=True)
class _Citation:
    source: Source
    note: str


@dataclass(slots=True)
class _Links:
    clauses: list[Clause]
    perpetrators: list[Actor]
    affected: list[Actor]
    citations: list[_Citation]


def _links(v: Violation) -> _Links:
    links = getattr(v, "_export_links", None)
    if links is None:  # a violation not read through `violation_rows`: ask its managers (a few queries, fine for one)
        links = _Links(
            clauses=list(v.clauses.all()),
            perpetrators=list(v.perpetrators.all()),
            affected=list(v.affected_actors.all()),
            citations=[_Citation(c.source, c.note) for c in v.citations.select_related("source")],
        )
        v._export_links = links
    return links


def name_order(name: str) -> tuple[str, str]:
    """The sort key of an actor's name; copy_sql ranks actors by it too, so both CSV paths agree."""
    return (name.casefold(), name)


def _alphabetical(actors: Iterable[Actor]) -> list[Actor]:
    # Sorted here, not by the database, so SQLite and PostgreSQL (whose collations differ) give the same order.
    return sorted(actors, key=lambda actor: name_order(actor.name))


def _by_name(actors: Iterable[Actor]) -> list[str]:
    return [actor.name for actor in _alphabetical(actors)]


def _perpetrators(v: Violation) -> list[str]:
    return _by_name(_links(v).perpetrators)


def _affected(v: Violation) -> list[str]:
    return _by_name(_links(v).affected)


def _joined(names: Sequence[str], separator: str = "; ") -> str:
    return separator.join(names)


def _clauses(v: Violation) -> str:
    return _joined([clause.number for clause in _links(v).clauses])


def _source_line(citation) -> str:
    source = citation.source
    return f"{source.publisher}: {source.title} [{source.grade}] {source.url}".rstrip()


def _sources(v: Violation) -> str:
    return _joined([_source_line(citation) for citation in _links(v).citations], " | ")


def _publishers(v: Violation) -> str:
    return _joined(list(dict.fromkeys(citation.source.publisher for citation in _links(v).citations)))


def _lon(v: Violation) -> float | None:
    point = v.point()
    return point[0] if point else None


def _lat(v: Violation) -> float | None:
    point = v.point()
    return point[1] if point else None


def _place_attr(name: str) -> Callable[[Violation], str | None]:
    def read(v: Violation) -> str | None:
        return getattr(v.place, name) if v.place_id else None

    return read


def _field(name: str) -> Callable[[Violation], Value]:
    return lambda v: getattr(v, name)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


# --- our columns --------------------------------------------------------------------------------------------------


def _ours(name: str, value: Callable[[Violation], Value], description: str) -> Column:
    return Column(name, name, value, description)


def _casualties(kind: str, estimate: str) -> Callable[[Violation], Value]:
    # A total column reads the civilians counted in it when the total itself is not reported (casualty_total).
    if kind in ("killed", "injured"):
        return lambda v: casualty_total(v, kind, estimate)
    return _field(f"{kind}_{estimate}")


_COUNT_DESCRIPTIONS = {
    "killed": "people killed",
    "injured": "people injured",
    "civilians_killed": "civilians killed (part of killed)",
    "civilians_injured": "civilians injured (part of injured)",
}

VIOLATION_COLUMNS: tuple[Column, ...] = (
    _ours("uuid", lambda v: str(v.uuid), "Public id of the violation."),
    _ours("agreement", lambda v: v.agreement.slug, "Slug of the agreement breached."),
    _ours("started_at", lambda v: _utc(v.started_at), "Start of the incident (UTC)."),
    _ours("ended_at", lambda v: _utc(v.ended_at), "End of the incident (UTC), if known."),
    _ours("time_precision", _field("time_precision"), "How precisely the time is known: exact, day, week, month."),
    _ours("category", _field("category"), "Kind of incident, e.g. shelling, airstrike, ground_assault."),
    _ours("clauses", _clauses, "Numbers of the clauses breached, '; '-separated."),
    _ours("perpetrators", lambda v: _joined(_perpetrators(v)), "Alleged perpetrators by name, '; '-separated."),
    _ours("affected_actors", lambda v: _joined(_affected(v)), "Actors affected, by name, '; '-separated."),
    _ours("place", _place_attr("name"), "Name of the place."),
    _ours("admin1", _place_attr("admin1"), "Governorate (admin 1) of the place."),
    _ours("admin2", _place_attr("admin2"), "District (admin 2) of the place."),
    _ours("latitude", _lat, "Latitude (WGS 84): the violation's own coordinates, else its place's."),
    _ours("longitude", _lon, "Longitude (WGS 84): the violation's own coordinates, else its place's."),
    _ours("location_precision", _field("location_precision"), "exact, town, district or region."),
    _ours("in_zone", _field("in_zone"), "Inside a restricting zone: true, false, or empty when too coarse to tell."),
    _ours("zone", lambda v: v.zone.slug if v.zone_id else None, "Slug of the zone the incident lies in."),
    *(
        _ours(f"{kind}_{estimate}", _casualties(kind, estimate), f"{text} ({estimate} estimate); empty: not reported.")
        for kind, text in _COUNT_DESCRIPTIONS.items()
        for estimate in ("low", "best", "high")
    ),
    _ours("displaced", _field("displaced"), "People displaced; empty: not reported."),
    _ours("health_facilities_hit", _field("health_facilities_hit"), "Health facilities hit; empty: not reported."),
    _ours(
        "education_facilities_hit", _field("education_facilities_hit"), "Education facilities hit; empty: not reported."
    ),
    _ours("idp_sites_hit", _field("idp_sites_hit"), "IDP sites hit; empty: not reported."),
    _ours("camps_hit", _field("camps_hit"), "Camps hit; empty: not reported."),
    _ours("status", _field("status"), "Review status: reported, verified, disputed, rejected."),
    _ours("retracted", lambda v: v.is_retracted, "Whether the record was retracted (true/false)."),
    _ours("sources", _sources, "Sources, each 'publisher: title [grade] url', ' | '-separated; grade as A1–F6."),
    _ours("description", _field("description"), "What happened."),
    _ours("version", _field("version"), "Version of the record, bumped by every edit."),
    _ours("updated_at", lambda v: _utc(v.updated_at), "Last change of the record (UTC)."),
)


# --- ACLED-style columns ------------------------------------------------------------------------------------------

# The ACLED vocabulary (event types, precision codes, country names) is agreements/acled.py, shared with the import.


def _actor1(v: Violation) -> Actor | None:
    return next(iter(_alphabetical(_links(v).perpetrators)), None)


def acled_event_type(v: Violation) -> tuple[str, str]:
    """(event_type, sub_event_type) of a violation in ACLED's terms."""
    actor1 = _actor1(v) if v.category == Violation.Category.TERRITORIAL_CAPTURE else None
    return acled.event_type_for(v.category, actor1.kind if actor1 is not None else None)


def _disorder_type(v: Violation) -> str:
    return acled.disorder_type_for(acled_event_type(v)[0])


def _first(names: list[str]) -> str | None:
    return names[0] if names else None


def _rest(names: list[str]) -> str:
    return _joined(names[1:])


def _country(v: Violation) -> str | None:
    return acled.COUNTRY_NAMES.get(v.place.country, v.place.country) if v.place_id else None


def _acled(name: str, value: Callable[[Violation], Value], description: str) -> Column:
    return Column(name, name, value, description)


ACLED_COLUMNS: tuple[Column, ...] = (
    _acled("event_id_cnty", lambda v: str(v.uuid), "Our public id (uuid) of the violation."),
    _acled("event_date", lambda v: v.started_at.astimezone(UTC).date(), "Date the incident started (UTC)."),
    _acled("year", lambda v: v.started_at.astimezone(UTC).year, "Year the incident started."),
    _acled(
        "time_precision", lambda v: acled.ACLED_TIME_PRECISION.get(v.time_precision), "1 day or exact, 2 week, 3 month."
    ),
    _acled("disorder_type", _disorder_type, "Political violence, or Strategic developments."),
    _acled("event_type", lambda v: acled_event_type(v)[0], "ACLED event type, mapped from our category."),
    _acled("sub_event_type", lambda v: acled_event_type(v)[1], "ACLED sub-event type, mapped from our category."),
    _acled("actor1", lambda v: _first(_perpetrators(v)), "First alleged perpetrator, alphabetically."),
    _acled("assoc_actor_1", lambda v: _rest(_perpetrators(v)), "Other alleged perpetrators, '; '-separated."),
    _acled("actor2", lambda v: _first(_affected(v)), "First affected actor, alphabetically."),
    _acled("assoc_actor_2", lambda v: _rest(_affected(v)), "Other affected actors, '; '-separated."),
    _acled("country", _country, "Country of the place."),
    _acled("admin1", _place_attr("admin1"), "Governorate (admin 1)."),
    _acled("admin2", _place_attr("admin2"), "District (admin 2)."),
    _acled("admin3", _place_attr("admin3"), "Sub-district (admin 3)."),
    _acled("location", _place_attr("name"), "Name of the place."),
    _acled("latitude", _lat, "Latitude: the violation's own coordinates, else its place's."),
    _acled("longitude", _lon, "Longitude: the violation's own coordinates, else its place's."),
    _acled(
        "geo_precision",
        lambda v: acled.ACLED_GEO_PRECISION.get(v.location_precision),
        "1 exact site or town, 2 district, 3 region.",
    ),
    _acled("source", _publishers, "Publishers of the sources, '; '-separated."),
    _acled("notes", _field("description"), "Description of the incident."),
    _acled(
        "fatalities",
        lambda v: casualty_total(v, "killed", "best") or 0,
        "Killed (best estimate; civilians killed when only they are reported); 0 when not reported.",
    ),
    _acled("clauses", _clauses, "Ours: numbers of the clauses breached, '; '-separated."),
    _acled("in_zone", _field("in_zone"), "Ours: inside a restricting zone (true/false/empty)."),
    _acled("status", _field("status"), "Ours: review status."),
)
