"""Violations exported as CSV, XLSX and GeoJSON: plain functions over a queryset, called by the API views.

The columns are declared once, as `Column`s whose `value` returns a plain Python value (str, int, float, bool,
date, datetime or None), and every format renders those values in its own way:

- CSV (`iter_csv`): streamed, UTF-8 with a BOM (so Excel reads it as UTF-8); booleans as `true`/`false`, None as
  an empty cell, datetimes as ISO 8601 in UTC (`2019-05-06T04:00:00Z`), strings formula-escaped (`escape_cell`).
  `csv_stream` is what the API sends: on PostgreSQL the same bytes produced by `COPY … TO STDOUT`
  (agreements/exports_copy.py), elsewhere `iter_csv` in chunks.
- XLSX (`xlsx_bytes`): native numbers, booleans, dates and datetimes (naive, in UTC), strings formula-escaped;
  refused above a row limit (`ExportTooLarge`), since a workbook is built whole before it is sent.
- GeoJSON (`iter_geojson`, streamed; `geojson_feature_collection`, one dict): one Point feature per violation,
  JSON types, nothing escaped.

A format whose rows are rendered in Python (XLSX, GeoJSON) is refused above a row limit (`check_size`, a count that
stops at the limit), since past it the answer would outlast the worker's timeout and be cut off.

Two column lists:

`VIOLATION_COLUMNS` — ours, one column per field of the record (counts as low / best / high, None when not
reported), with links flattened to text: clauses by number, actors by name, sources as
"publisher: title [grade] url", several joined with "; " (sources with " | ").

`ACLED_COLUMNS` — named as in ACLED's data export, so tools written for ACLED read our files:

    event_id_cnty   our uuid (ACLED's own ids look like SYR12345; ours are never confused with them)
    event_date      started_at's date in UTC, YYYY-MM-DD
    year            started_at's year
    time_precision  1 when our precision is exact or day, 2 week, 3 month (ACLED's codes)
    disorder_type   "Political violence", or "Strategic developments" for that event type (as ACLED codes it)
    event_type      from our category, by `ACLED_EVENT_TYPES`; a territorial capture is "Government regains
    sub_event_type  territory" when actor1 is a state, state force or unit, else "Non-state actor overtakes territory"
    actor1          the first alleged perpetrator by name (alphabetical, case-insensitive)
    assoc_actor_1   the other perpetrators, "; "
    actor2          the first affected actor by name
    assoc_actor_2   the other affected actors, "; "
    country         the place's country by name ("SY" → "Syria"), else its ISO code
    admin1..admin3  the place's administrative areas
    location        the place's name
    latitude        the violation's own coordinates, else its place's
    longitude
    geo_precision   1 when our location precision is exact or town, 2 district, 3 region (ACLED's codes)
    source          the sources' publishers, "; " (each publisher once)
    notes           our description
    fatalities      killed (best estimate); 0 when not reported, ACLED's convention (ours says None)
    clauses         ours: the clause numbers, "; "
    in_zone         ours: true / false / empty when the location is too coarse to tell
    status          ours: reported, verified, disputed, rejected
"""

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from agreements import acled
from agreements.models import Actor, Clause, Source, Violation, ViolationSource
from agreements.models.violations import casualty_total

Value = str | int | float | bool | date | datetime | None

# Rows fetched per database round trip; their links are read once per chunk, so queries grow with rows / 500.
CHUNK_SIZE = 500

# Bytes handed to the server per write of a streamed export: one write per line would be a system call per row.
STREAM_CHUNK_BYTES = 64 * 1024

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


class ExportTooLarge(Exception):
    """More rows than a format accepts: XLSX is built in memory, GeoJSON rendered row by row in Python, and an export
    that outlasts the worker's timeout would be cut off mid-file."""

    def __init__(self, count: int, max_rows: int, fmt: str = "XLSX"):
        self.count = count  # counted up to max_rows + 1 only: "at least"
        self.max_rows = max_rows
        self.format = fmt
        advice = (
            "Narrow the filters (agreement, dates, actor…); larger exports will be background jobs."
            if fmt == "CSV"
            else "Narrow the filters (agreement, dates, actor…) or export as CSV, which streams every row."
        )
        super().__init__(f"More than {max_rows} violations match, more than a {fmt} export can hold. {advice}")


def count_up_to(queryset: QuerySet, limit: int) -> int:
    """The number of rows, counted no further than `limit`: a LIMIT in the database, never a full count."""
    return queryset.order_by()[:limit].count()


def check_size(queryset: QuerySet[Violation], *, max_rows: int | None, fmt: str) -> int | None:
    """Raises ExportTooLarge when more than `max_rows` rows match (None or 0: no limit); returns the rows counted."""
    if not max_rows:
        return None
    count = count_up_to(queryset, max_rows + 1)
    if count > max_rows:
        raise ExportTooLarge(count, max_rows, fmt)
    return count


# --- reading values off a violation -------------------------------------------------------------------------------
# The links come from `_rows`, which reads them per chunk as plain id pairs (see `_attach_links`).


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
    if links is None:  # a violation not read through `_rows`: ask its managers (a few queries, fine for one)
        links = _Links(
            clauses=list(v.clauses.all()),
            perpetrators=list(v.perpetrators.all()),
            affected=list(v.affected_actors.all()),
            citations=[_Citation(c.source, c.note) for c in v.citations.select_related("source")],
        )
        v._export_links = links
    return links


def name_order(name: str) -> tuple[str, str]:
    """The sort key of an actor's name; exports_copy ranks actors by it too, so both CSV paths agree."""
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

# The ACLED vocabulary lives in agreements/acled.py (shared with the import); its names stay importable from here.
ACLED_EVENT_TYPES = acled.ACLED_EVENT_TYPES
ACLED_STATE_CAPTURE = acled.ACLED_STATE_CAPTURE
ACLED_TIME_PRECISION = acled.ACLED_TIME_PRECISION
ACLED_GEO_PRECISION = acled.ACLED_GEO_PRECISION
COUNTRY_NAMES = acled.COUNTRY_NAMES
STATE_ACTOR_KINDS = acled.STATE_ACTOR_KINDS
EXPLOSIONS, BATTLES, STRATEGIC = acled.EXPLOSIONS, acled.BATTLES, acled.STRATEGIC


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
    return COUNTRY_NAMES.get(v.place.country, v.place.country) if v.place_id else None


def _acled(name: str, value: Callable[[Violation], Value], description: str) -> Column:
    return Column(name, name, value, description)


ACLED_COLUMNS: tuple[Column, ...] = (
    _acled("event_id_cnty", lambda v: str(v.uuid), "Our public id (uuid) of the violation."),
    _acled("event_date", lambda v: v.started_at.astimezone(UTC).date(), "Date the incident started (UTC)."),
    _acled("year", lambda v: v.started_at.astimezone(UTC).year, "Year the incident started."),
    _acled("time_precision", lambda v: ACLED_TIME_PRECISION.get(v.time_precision), "1 day or exact, 2 week, 3 month."),
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
        lambda v: ACLED_GEO_PRECISION.get(v.location_precision),
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


# --- the queryset -------------------------------------------------------------------------------------------------


def export_queryset(queryset: QuerySet[Violation]) -> QuerySet[Violation]:
    """The queryset with the joins the columns read; the many-to-many links are read by `_rows` per chunk."""
    return (
        queryset.select_related(
            "agreement",  # agreement slug
            "place",  # place name, admin areas, country, coordinates when the violation has none of its own
            "zone",  # zone slug
        )
        .defer("zone__geometry", "agreement__text", "agreement__summary")
        .prefetch_related(None)
    )


class _Lookups:
    """Actors, clauses and sources by id, read once per export and shared by every row that links to them."""

    def __init__(self):
        self.by_model: dict[type, dict[int, object]] = {Actor: {}, Clause: {}, Source: {}}

    def get(self, model, ids) -> dict[int, object]:
        known = self.by_model[model]
        missing = set(ids) - known.keys()
        if missing:
            # Every linked row, retired ones included: a violation still cites the clause or source it cited.
            known.update(model._base_manager.in_bulk(missing))
        return known


def _pairs(through, ids, target: str) -> dict[int, list[int]]:
    linked: dict[int, list[int]] = {}
    for violation_id, target_id in through.objects.filter(violation_id__in=ids).values_list("violation_id", target):
        linked.setdefault(violation_id, []).append(target_id)
    return linked


def _attach_links(batch: list[Violation], lookups: _Lookups) -> list[Violation]:
    # Django's prefetch_related builds a queryset per row and relation; for exports of thousands of rows plain
    # (violation id, target id) pairs and shared objects are several times faster (see benchmarks/run.py).
    ids = [v.pk for v in batch]
    clause_ids = _pairs(Violation.clauses.through, ids, "clause_id")
    perpetrator_ids = _pairs(Violation.perpetrators.through, ids, "actor_id")
    affected_ids = _pairs(Violation.affected_actors.through, ids, "actor_id")
    citation_rows: dict[int, list[tuple[int, str]]] = {}
    for violation_id, source_id, note in (
        ViolationSource.objects.filter(violation_id__in=ids)
        .order_by("id")
        .values_list("violation_id", "source_id", "note")
    ):
        citation_rows.setdefault(violation_id, []).append((source_id, note))
    clauses = lookups.get(Clause, {i for group in clause_ids.values() for i in group})
    actors = lookups.get(Actor, {i for group in (*perpetrator_ids.values(), *affected_ids.values()) for i in group})
    sources = lookups.get(Source, {source_id for rows in citation_rows.values() for source_id, _ in rows})
    for v in batch:
        v._export_links = _Links(
            clauses=sorted(
                (clauses[i] for i in clause_ids.get(v.pk, [])), key=lambda c: (c.agreement_id, c.position, c.number)
            ),
            perpetrators=[actors[i] for i in perpetrator_ids.get(v.pk, [])],
            affected=[actors[i] for i in affected_ids.get(v.pk, [])],
            citations=[_Citation(sources[source_id], note) for source_id, note in citation_rows.get(v.pk, [])],
        )
    return batch


def _rows(queryset: QuerySet[Violation]) -> Iterator[Violation]:
    lookups = _Lookups()
    batch: list[Violation] = []
    for violation in export_queryset(queryset).iterator(chunk_size=CHUNK_SIZE):
        batch.append(violation)
        if len(batch) == CHUNK_SIZE:
            yield from _attach_links(batch, lookups)
            batch = []
    if batch:
        yield from _attach_links(batch, lookups)


# --- rendering values ---------------------------------------------------------------------------------------------


def _iso_utc(moment: datetime) -> str:
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _float_text(number: float) -> str:
    text = repr(number)
    # 1e-06 is a valid float literal but not what a spreadsheet or an analyst expects in a coordinate column.
    return format(Decimal(text), "f") if "e" in text or "E" in text else text


def _plain_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return _float_text(value)
    return str(value)


def escape_cell(value: Value) -> str:
    """The text of a cell, with spreadsheet-formula injection defused.

    A string starting with = + - @ (or tab, carriage return) gets a leading apostrophe, which spreadsheets read as
    "this is text". Only strings are escaped: a number, even a negative one, stays a number; None is empty,
    booleans are true/false, datetimes ISO 8601 in UTC.
    """
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    return _plain_text(value)


def _json_value(value: Value) -> str | int | float | bool | None:
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _xlsx_value(value: Value):
    if isinstance(value, str):
        text = ILLEGAL_CHARACTERS_RE.sub("", escape_cell(value))  # control characters openpyxl would refuse
        return text[:XLSX_MAX_CELL_CHARS]
    if isinstance(value, datetime):
        # Excel has no time zones: the value is written as naive UTC, and the About sheet says so.
        return value.astimezone(UTC).replace(tzinfo=None) if timezone.is_aware(value) else value
    return value


# --- formats ------------------------------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose `write` hands the line back, so csv.writer produces lines instead of storing them."""

    def write(self, value: str) -> str:
        return value


def csv_header(columns: Sequence[Column]) -> str:
    """The BOM and the header line, shared by both CSV paths."""
    return UTF8_BOM + csv.writer(_Echo()).writerow([escape_cell(column.header) for column in columns])


def iter_csv(queryset: QuerySet[Violation], columns: Sequence[Column]) -> Iterator[str]:
    """CSV lines for a StreamingHttpResponse: the BOM and header first, then one line per violation.

    Rows are fetched in chunks; at no point are all of them in memory.
    """
    writer = csv.writer(_Echo())
    yield csv_header(columns)
    for violation in _rows(queryset):
        yield writer.writerow([escape_cell(column.value(violation)) for column in columns])


def _in_chunks(pieces: Iterable[str]) -> Iterator[bytes]:
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= STREAM_CHUNK_BYTES:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()


def csv_stream(
    queryset: QuerySet[Violation], columns: Sequence[Column], *, max_rows: int | None = None
) -> Iterator[bytes]:
    """The CSV export as UTF-8 chunks for a StreamingHttpResponse: `COPY … TO STDOUT` on PostgreSQL, `iter_csv`
    otherwise (or for a queryset the COPY path cannot reproduce row for row); the bytes are the same either way.

    Raises ExportTooLarge, before anything is read, when more than `max_rows` rows match. Nothing touches the
    database connection until the first chunk is asked for, i.e. after the view and the middleware are done.
    """
    from agreements import exports_copy  # it builds on this module's columns

    check_size(queryset, max_rows=max_rows, fmt="CSV")
    if exports_copy.supports(queryset, columns):
        return exports_copy.iter_csv_copy(queryset, columns)
    return _in_chunks(iter_csv(queryset, columns))


def xlsx_bytes(queryset: QuerySet[Violation], columns: Sequence[Column], *, max_rows: int) -> bytes:
    """An XLSX workbook: a "Violations" sheet (header + one row per violation) and an "About" sheet.

    Raises ExportTooLarge, before building anything, when more than `max_rows` violations match.
    """
    count = count_up_to(queryset, max_rows + 1)  # exact up to the limit, which is all the About sheet needs
    if count > max_rows:
        raise ExportTooLarge(count, max_rows, "XLSX")
    exported_at = timezone.now()

    # Write-only mode streams rows to a temporary file instead of holding a cell object per value.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Violations")
    sheet.append([_xlsx_value(column.header) for column in columns])
    for violation in _rows(queryset):
        sheet.append([_xlsx_value(column.value(violation)) for column in columns])

    about = workbook.create_sheet("About")
    about.append(["Exported at (UTC)", _xlsx_value(exported_at)])
    about.append(["Rows", count])
    about.append(["Times", "All dates and times are in UTC (Excel cells have no time zone)."])
    about.append([])
    about.append(["Column", "Description"])
    for column in columns:
        about.append([_xlsx_value(column.header), _xlsx_value(column.description)])

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _features(queryset: QuerySet[Violation], columns: Sequence[Column]) -> Iterator[dict]:
    for violation in _rows(queryset):
        point = violation.point()
        if point is None:
            continue
        yield {
            "type": "Feature",
            "id": str(violation.uuid),
            "geometry": {"type": "Point", "coordinates": [point[0], point[1]]},
            "properties": {column.name: _json_value(column.value(violation)) for column in columns},
        }


def geojson_feature_collection(queryset: QuerySet[Violation], columns: Sequence[Column]) -> dict:
    """A GeoJSON FeatureCollection: one Point ([lon, lat]) per violation, the columns as properties.

    Values keep their JSON types (numbers, booleans, null; dates as ISO strings) and are not formula-escaped.
    A violation without a point (none should exist: the database requires a place or coordinates) is left out.
    """
    return {"type": "FeatureCollection", "features": list(_features(queryset, columns))}


def iter_geojson(queryset: QuerySet[Violation], columns: Sequence[Column]) -> Iterator[bytes]:
    """The same FeatureCollection as `geojson_feature_collection`, as UTF-8 chunks for a StreamingHttpResponse.

    Features are encoded as their rows are read (in chunks of CHUNK_SIZE), so memory does not grow with the rows.
    Compact and not ASCII-escaped, as the API's JSON renderer writes it.
    """
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode

    def parts() -> Iterator[str]:
        yield '{"type":"FeatureCollection","features":['
        separator = ""
        for feature in _features(queryset, columns):
            yield separator + encode(feature)
            separator = ","
        yield "]}"

    return _in_chunks(parts())
