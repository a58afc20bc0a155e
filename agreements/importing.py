"""Bulk import of violations from CSV or XLSX: plain functions, no HTTP. The admin page and the
`import_violations` command are thin faces over `import_violations()`.

Two layouts are read, told apart by the header row (the first row of the file, or of the "Violations" sheet of a
workbook, else its first sheet):

- **ours** — the headers of `agreements.exports.VIOLATION_COLUMNS` (what our CSV/XLSX export writes), so an export
  can be edited and imported again. Required: `started_at`, `category`, `description`, and `place` or `latitude` +
  `longitude`. Read: `uuid` (kept as the public id when given; an id we already have is an error: imports only
  add), `agreement` (must be empty or the import's agreement), `ended_at`, `time_precision`, `clauses` (numbers),
  `perpetrators`, `affected_actors` (names, "; "), `place`, `admin1`, `admin2`, `latitude`, `longitude`,
  `location_precision`, every count column, `sources` ("publisher: title [A1] url", " | "), `retracted` (a
  retracted record is not imported: the row is an error). Computed or workflow columns (`in_zone`, `zone`,
  `status`, `version`, `updated_at`) are ignored: an import records "reported" violations.
- **ACLED-style** — `event_date, event_type, sub_event_type, actor1, assoc_actor_1, actor2, assoc_actor_2, admin1,
  admin2, admin3, location, latitude, longitude, geo_precision, time_precision, fatalities, source, notes` (and
  our `clauses` column, which our ACLED-style export adds). Required: `event_date`, `event_type`, `notes`, and
  `location` or coordinates. Optional extras: `category` (ours, overrides the event type), `source_grade` (e.g.
  B2), `source_kind`, `source_url`. ACLED's other columns (event ids, year, disorder type, interaction codes …)
  are ignored.

How values are read:

- Actors and places are matched by name or alias (also an actor's short name or slug), ignoring case, accents
  and spacing. A name that matches nothing, or several records, is a row error: nothing is ever created silently.
  A place's candidates are narrowed by the row's admin1/admin2/admin3 when it gives them. With no location but
  an admin1, the governorate-level place of that admin1 is used (kind "admin1").
- ACLED event types map to our categories by reversing `exports.ACLED_EVENT_TYPES` (`category_for_acled`);
  where several of ours map to one ACLED pair the default is "other" if it is among them, else the first (an
  "Air/drone strike" is an airstrike, an "Armed clash" a ground assault).
- Coordinates equal to the matched place's are not stored as the violation's own (it takes its place's), so an
  export imports back as it was; coordinates more than `FAR_FROM_PLACE_KM` from the place give a warning.
- `fatalities` is the best estimate of killed; ACLED writes 0 when none are reported, so 0 reads as "not
  reported" (empty), as our ACLED export writes it.
- An ACLED `source` cell lists publishers; each becomes a source titled "<publisher>, report of <date>" (one per
  publisher and day, reused across rows), graded F6 ("cannot be judged") unless `source_grade` says otherwise.
  Our `sources` cell is reused by URL, else by publisher and title.
- Dates: ISO 8601 (`2019-05-06`, `2019-05-06T04:00:00Z`; a time without zone is UTC) or ACLED's "06 May 2019";
  workbook date cells as they are (in UTC). A leading apostrophe our export adds against spreadsheet formulas is
  removed again.

An import is all or nothing and runs in one transaction. Each row is written through `agreements.services` in
a savepoint; a row that fails is rolled back to it and the next is tried, so the report lists every error of
the file. At the end the whole transaction is rolled back when the run is a dry run or any row failed, so a dry
run validates exactly what a real run would (constraints, zones, sources) and writes nothing.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import uuid as uuid_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from openpyxl import load_workbook

from agreements import exports, services
from agreements.duplicates import haversine_km, likely_duplicates
from agreements.models import Actor, Agreement, Clause, Place, Source, Violation
from agreements.models.violations import COUNT_FIELDS

OURS = "ours"
ACLED = "acled"
LAYOUT_NAMES = {OURS: "our columns", ACLED: "ACLED-style columns"}

FAR_FROM_PLACE_KM = 25
COORDINATE_STEP = Decimal("0.000001")
SEPARATOR = ";"
SOURCE_SEPARATOR = " | "
MAX_ROWS = 50_000

# --- columns --------------------------------------------------------------------------------------------------------

OUR_HEADERS = {column.header for column in exports.VIOLATION_COLUMNS}
OUR_REQUIRED = ("started_at", "category", "description")

ACLED_USED = {
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
# Columns of ACLED's own export (and of ours) that carry nothing an import records.
ACLED_IGNORED = {column.header for column in exports.ACLED_COLUMNS} - ACLED_USED | {
    "event_id_no_cnty",
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
ACLED_REQUIRED = ("event_date", "event_type", "notes")

# Model field → the column a row error should name, per layout (errors from full_clean name model fields).
FIELD_COLUMNS = {
    ACLED: {
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
    },
    OURS: {"publisher": "sources", "title": "sources", "url": "sources", "kind": "sources"},
}


# --- comparing names ----------------------------------------------------------------------------------------------

_PUNCTUATION = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "–": "-", "—": "-", "‐": "-"})


def fold(text) -> str:
    """A name as compared: case, accents, apostrophe and dash variants and repeated spaces do not count."""
    text = unicodedata.normalize("NFKD", str(text or ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_PUNCTUATION)
    return " ".join(text.casefold().split())


# --- ACLED event types → our categories -----------------------------------------------------------------------------


def _acled_categories() -> dict[tuple[str, str], str]:
    """(event_type, sub_event_type), folded → our category: `exports.ACLED_EVENT_TYPES` reversed."""
    by_pair: dict[tuple[str, str], list[str]] = {}
    for category, pair in exports.ACLED_EVENT_TYPES.items():
        by_pair.setdefault(pair, []).append(category)
    by_pair.setdefault(exports.ACLED_STATE_CAPTURE, []).append(Violation.Category.TERRITORIAL_CAPTURE)
    order = list(Violation.Category.values)
    mapping = {}
    for (event_type, sub_event_type), categories in by_pair.items():
        categories.sort(key=order.index)
        chosen = Violation.Category.OTHER if Violation.Category.OTHER in categories else categories[0]
        mapping[(fold(event_type), fold(sub_event_type))] = str(chosen)
    return mapping


ACLED_CATEGORIES = _acled_categories()
# An ACLED sub-event type our export never writes, or an event type given without one: the nearest of ours.
ACLED_EVENT_TYPE_DEFAULTS = {
    fold(exports.EXPLOSIONS): Violation.Category.OTHER,
    fold(exports.BATTLES): Violation.Category.GROUND_ASSAULT,
    fold(exports.STRATEGIC): Violation.Category.OTHER,
    "violence against civilians": Violation.Category.OTHER,
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
PLACE_KIND_PRECISIONS = {
    Place.Kind.SITE: Violation.LocationPrecision.EXACT,
    Place.Kind.SETTLEMENT: Violation.LocationPrecision.TOWN,
    Place.Kind.ADMIN3: Violation.LocationPrecision.DISTRICT,
    Place.Kind.ADMIN2: Violation.LocationPrecision.DISTRICT,
    Place.Kind.ADMIN1: Violation.LocationPrecision.REGION,
}


def category_for_acled(event_type: str, sub_event_type: str = "") -> tuple[str | None, str | None]:
    """(our category, warning) for an ACLED event type; (None, None) when the event type is unknown."""
    event_key, sub_key = fold(event_type), fold(sub_event_type)
    if (event_key, sub_key) in ACLED_CATEGORIES:
        return ACLED_CATEGORIES[(event_key, sub_key)], None
    if event_key in ACLED_EVENT_TYPE_DEFAULTS:
        category = str(ACLED_EVENT_TYPE_DEFAULTS[event_key])
        what = f"{event_type} / {sub_event_type}" if sub_event_type else event_type
        return category, f"event type {what!r} has no exact match; recorded as {category!r}."
    return None, None


# --- results --------------------------------------------------------------------------------------------------------


@dataclass
class RowResult:
    """One row of the file: what it would create (or created), and what is wrong with it."""

    number: int  # as a spreadsheet numbers it: the header is row 1
    summary: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    new_sources: list[str] = field(default_factory=list)
    reused_sources: list[str] = field(default_factory=list)
    violation_uuid: uuid_module.UUID | None = None  # the violation created; None unless the import was committed

    @property
    def ok(self) -> bool:
        return not self.errors

    def describe(self) -> str:
        """One line: "airstrike at Kafr Nabudah on 2019-05-06; perpetrators …; sources: 1 new, 0 known"."""
        summary = self.summary
        parts = [f"{summary.get('category', '?')} at {summary.get('place', '?')} on {summary.get('started', '?')}"]
        for key in ("perpetrators", "affected", "clauses", "killed"):
            if self.summary.get(key):
                parts.append(f"{key} {self.summary[key]}")
        if self.new_sources or self.reused_sources:
            parts.append(f"sources: {len(self.new_sources)} new, {len(self.reused_sources)} known")
        return "; ".join(parts)


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do): file-level problems and one result per data row."""

    agreement: Agreement | None
    dry_run: bool
    layout: str = ""
    rows: list[RowResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # problems with the file as a whole
    warnings: list[str] = field(default_factory=list)
    committed: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and all(row.ok for row in self.rows)

    @property
    def error_rows(self) -> list[RowResult]:
        return [row for row in self.rows if not row.ok]

    @property
    def layout_name(self) -> str:
        return LAYOUT_NAMES.get(self.layout, "")

    @property
    def violation_count(self) -> int:
        return sum(1 for row in self.rows if row.ok)

    @property
    def new_source_count(self) -> int:
        return len({name for row in self.rows for name in row.new_sources})

    def all_errors(self) -> list[str]:
        """Every error as one line, file-level first, then "row N: …" in file order."""
        return [*self.errors, *(f"row {row.number}: {error}" for row in self.rows for error in row.errors)]


class ImportRefused(Exception):
    """The import cannot start (no such agreement …); a file's own problems go into the report instead."""


# --- reading a file -------------------------------------------------------------------------------------------------


def _read_bytes(file) -> bytes:
    if isinstance(file, bytes):
        return file
    if isinstance(file, (str, Path)):
        return Path(file).read_bytes()
    data = file.read()
    if hasattr(file, "seek"):
        file.seek(0)
    return data.encode("utf-8") if isinstance(data, str) else data


def read_table(data: bytes) -> tuple[list[str], list[tuple[int, list[Any]]], list[str]]:
    """(headers, [(row number, values)], warnings) of a CSV or XLSX file; blank rows are left out.

    XLSX is recognised by its content (a zip archive), whatever the file is called. Raises ValueError when the
    file cannot be read as either.
    """
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    return _read_csv(data)


def _read_csv(data: bytes) -> tuple[list[str], list[tuple[int, list[Any]]], list[str]]:
    warnings = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        warnings.append("The file is not UTF-8; it was read as Windows-1252 (check accented names).")
    if "\x00" in text:
        raise ValueError("This is not a CSV or XLSX file.")
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count) if first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise ValueError(f"The CSV cannot be read: {exc}.") from exc
    if not records:
        return [], [], warnings
    headers, *body = records
    rows = [(number, values) for number, values in enumerate(body, start=2) if any(v.strip() for v in values)]
    return headers, rows, warnings


def _read_xlsx(data: bytes) -> tuple[list[str], list[tuple[int, list[Any]]], list[str]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, key errors) for a damaged workbook
        raise ValueError(f"The XLSX workbook cannot be read: {exc}.") from exc
    try:
        sheet = workbook["Violations"] if "Violations" in workbook.sheetnames else workbook.worksheets[0]
        headers: list[str] = []
        rows = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number == 1:
                headers = ["" if value is None else str(value) for value in values]
            elif any(value is not None and str(value).strip() for value in values):
                rows.append((number, list(values)))
        return headers, rows, []
    finally:
        workbook.close()


def detect_layout(headers: Iterable[str]) -> tuple[str | None, list[str], list[str]]:
    """(layout, errors, warnings) for a header row: ours, ACLED-style, or None when neither fits."""
    names = [header_key(header) for header in headers]
    present = set(names)
    errors: list[str] = []
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        errors.append(f"Columns given more than once: {', '.join(repeated)}.")
    if "event_date" in present:
        layout, required, known = ACLED, ACLED_REQUIRED, ACLED_USED | ACLED_IGNORED
        where = ("location", "latitude", "longitude")
    elif "started_at" in present:
        layout, required, known = OURS, OUR_REQUIRED, OUR_HEADERS
        where = ("place", "latitude", "longitude")
    else:
        return (
            None,
            [
                "The header row has neither our columns (started_at, category, description, place …) nor "
                "ACLED-style columns (event_date, event_type, actor1, location, notes …)."
            ],
            [],
        )
    missing = [name for name in required if name not in present]
    if where[0] not in present and not {where[1], where[2]} <= present:
        missing.append(f"{where[0]} (or {where[1]} and {where[2]})")
    if missing:
        errors.append(f"Missing required columns for {LAYOUT_NAMES[layout]}: {', '.join(missing)}.")
    unknown = [name for name in names if name and name not in known]
    warnings = [f"Columns ignored (not part of {LAYOUT_NAMES[layout]}): {', '.join(unknown)}."] if unknown else []
    return layout, errors, warnings


def header_key(header) -> str:
    return str(header or "").strip().lstrip("\ufeff").strip().lower()


# --- matching names -------------------------------------------------------------------------------------------------


class _NameIndex:
    """Folded name → the ids it names, for actors or places, built once per import (two or three queries)."""

    def __init__(self):
        self.ids: dict[str, set[int]] = {}

    def add(self, name: str, pk: int) -> None:
        key = fold(name)
        if key:
            self.ids.setdefault(key, set()).add(pk)

    def find(self, name: str) -> set[int]:
        return self.ids.get(fold(name), set())


def _actor_index() -> tuple[_NameIndex, dict[int, Actor]]:
    index, actors = _NameIndex(), {}
    for actor in Actor.objects.prefetch_related("aliases"):
        actors[actor.pk] = actor
        for name in (actor.name, actor.short_name, actor.slug, *(alias.name for alias in actor.aliases.all())):
            index.add(name, actor.pk)
    return index, actors


def _place_index() -> tuple[_NameIndex, dict[int, Place]]:
    index, places = _NameIndex(), {}
    for place in Place.objects.prefetch_related("aliases"):
        places[place.pk] = place
        for name in (place.name, *(alias.name for alias in place.aliases.all())):
            index.add(name, place.pk)
    return index, places


# --- reading cells --------------------------------------------------------------------------------------------------

ACLED_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%d-%b-%Y", "%d-%B-%Y")


class CellError(Exception):
    """A cell's value cannot be read; the message names the column."""


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    # Undo exports.escape_cell: a leading apostrophe before a formula character is ours, not the author's.
    if text.startswith("'") and text[1:2] and text[1] in "=+-@\t\r":
        text = text[1:]
    return text


def _split(text: str, separator: str = SEPARATOR) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in text.split(separator) if part.strip()))


def parse_moment(value, column: str) -> tuple[datetime | None, bool]:
    """(aware UTC datetime, whether a time of day was given) from a cell; (None, False) when empty."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC), value.time() != time(0)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC), False
    text = cell_text(value)
    if not text:
        return None, False
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC), False
        moment = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        for pattern in ACLED_DATE_FORMATS:
            try:
                return datetime.strptime(text, pattern).replace(tzinfo=UTC), False
            except ValueError:
                continue
        raise CellError(f"{column}: {text!r} is not a date (use YYYY-MM-DD or e.g. 06 May 2019).") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC), True


def parse_count(value, column: str) -> int | None:
    text = cell_text(value)
    if not text:
        return None
    try:
        number = Decimal(text.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        raise CellError(f"{column}: {text!r} is not a whole number.") from None
    if number != number.to_integral_value():
        raise CellError(f"{column}: {text!r} is not a whole number.")
    if number < 0:
        raise CellError(f"{column}: {text} cannot be negative.")
    return int(number)


def parse_coordinate(value, column: str, limit: int) -> Decimal | None:
    text = cell_text(value)
    if not text:
        return None
    try:
        number = Decimal(text.replace(",", ".") if text.count(",") == 1 and "." not in text else text)
    except InvalidOperation:
        raise CellError(f"{column}: {text!r} is not a number.") from None
    if not number.is_finite() or abs(number) > limit:
        raise CellError(f"{column}: {text} is outside ±{limit}.")
    return number.quantize(COORDINATE_STEP)


def parse_bool(value, column: str) -> bool | None:
    if isinstance(value, bool):
        return value
    text = fold(cell_text(value))
    if not text:
        return None
    if text in {"true", "yes", "1"}:
        return True
    if text in {"false", "no", "0"}:
        return False
    raise CellError(f"{column}: {cell_text(value)!r} is not true or false.")


def parse_choice(value, column: str, choices) -> str | None:
    """A choice by its value or its label, case-insensitively."""
    text = cell_text(value)
    if not text:
        return None
    for choice_value, label in choices:
        if fold(text) in {fold(choice_value), fold(label)}:
            return str(choice_value)
    allowed = ", ".join(str(choice_value) for choice_value, _ in choices)
    raise CellError(f"{column}: {text!r} is not one of {allowed}.")


def parse_grade(text: str, column: str) -> tuple[str, int]:
    match = re.fullmatch(r"\s*([A-Fa-f])\s*([1-6])\s*", text)
    if not match:
        raise CellError(f"{column}: {text!r} is not an Admiralty grade (A1 … F6).")
    return match.group(1).upper(), int(match.group(2))


OUR_SOURCE_RE = re.compile(r"^(?P<publisher>.+?): (?P<title>.+) \[(?P<grade>[A-Fa-f][1-6])\](?: (?P<url>\S+))?$")


# --- turning a row into service calls ---------------------------------------------------------------------------------


@dataclass
class _Prepared:
    """What a row asks for: the service's arguments, and the sources to find or create first."""

    fields: dict[str, Any]
    clauses: list[Clause]
    perpetrators: list[Actor]
    affected: list[Actor]
    sources: list[services.NewSource]


class _RowReader:
    """Reads one layout's rows against the database's actors, places and the agreement's clauses."""

    def __init__(self, *, agreement: Agreement, layout: str, headers: list[str]):
        self.agreement = agreement
        self.layout = layout
        self.columns = {header_key(header): position for position, header in enumerate(headers)}
        self.actor_index, self.actors = _actor_index()
        self.place_index, self.places = _place_index()
        self.clauses = {clause.number.strip(): clause for clause in Clause.objects.filter(agreement=agreement)}

    def get(self, values: list[Any], column: str):
        position = self.columns.get(column)
        return values[position] if position is not None and position < len(values) else None

    def text(self, values, column: str) -> str:
        return cell_text(self.get(values, column))

    # the row

    def read(self, values: list[Any], result: RowResult) -> _Prepared:
        """The row's service arguments, as far as they can be read; what cannot be is an error on `result`."""
        errors = result.errors

        def attempt(read: Callable[[], Any], default=None):
            try:
                return read()
            except CellError as exc:
                errors.append(str(exc))
                return default

        if self.layout == ACLED:
            return self._read_acled(values, result, attempt)
        return self._read_ours(values, result, attempt)

    def _read_acled(self, values, result: RowResult, attempt) -> _Prepared:
        fields: dict[str, Any] = {"agreement": self.agreement}
        started, _ = attempt(lambda: parse_moment(self.get(values, "event_date"), "event_date"), (None, False))
        if started is None and not any("event_date" in e for e in result.errors):
            result.errors.append("event_date: required.")
        fields["started_at"] = started
        precision = attempt(lambda: parse_count(self.get(values, "time_precision"), "time_precision"))
        if precision is not None and precision not in ACLED_TIME_PRECISIONS:
            result.errors.append(f"time_precision: {precision} is not an ACLED code (1 day, 2 week, 3 month).")
        fields["time_precision"] = ACLED_TIME_PRECISIONS.get(precision, Violation.TimePrecision.DAY)

        fields["category"] = self._acled_category(values, result, attempt)
        perpetrators = self._actors(values, ("actor1", "assoc_actor_1"), result)
        affected = self._actors(values, ("actor2", "assoc_actor_2"), result)
        clauses = self._clauses(values, result)

        geo = attempt(lambda: parse_count(self.get(values, "geo_precision"), "geo_precision"))
        if geo is not None and geo not in ACLED_GEO_PRECISIONS:
            result.errors.append(f"geo_precision: {geo} is not an ACLED code (1 town, 2 district, 3 region).")
        self._where(values, fields, result, attempt, place_column="location", precision=ACLED_GEO_PRECISIONS.get(geo))

        killed = attempt(lambda: parse_count(self.get(values, "fatalities"), "fatalities"))
        fields["killed_best"] = killed or None  # ACLED's 0 means "none reported"
        fields["description"] = self.text(values, "notes")
        if not fields["description"]:
            result.errors.append("notes: a description of what happened is required.")
        sources = self._acled_sources(values, started, result, attempt)
        return _Prepared(fields, clauses, perpetrators, affected, sources)

    def _acled_category(self, values, result: RowResult, attempt) -> str | None:
        if self.text(values, "category"):
            return attempt(lambda: parse_choice(self.get(values, "category"), "category", Violation.Category.choices))
        event_type, sub_event_type = self.text(values, "event_type"), self.text(values, "sub_event_type")
        if not event_type:
            result.errors.append("event_type: required.")
            return None
        category, warning = category_for_acled(event_type, sub_event_type)
        if category is None:
            known = ", ".join(
                sorted({a for a, _ in exports.ACLED_EVENT_TYPES.values()} | {"Violence against civilians"})
            )
            result.errors.append(f"event_type: {event_type!r} is not an ACLED event type ({known}).")
        elif warning:
            result.warnings.append(warning)
        return category

    def _acled_sources(self, values, started, result: RowResult, attempt) -> list[services.NewSource]:
        publishers = _split(self.text(values, "source"))
        if not publishers:
            result.warnings.append("source: no source given; add one before the violation is reviewed.")
            return []
        reliability, credibility = Source.Reliability.F, Source.Credibility.CANNOT_JUDGE
        grade = self.text(values, "source_grade")
        if grade:
            reliability, credibility = attempt(lambda: parse_grade(grade, "source_grade"), (reliability, credibility))
        kind = attempt(lambda: parse_choice(self.get(values, "source_kind"), "source_kind", Source.Kind.choices))
        url = self.text(values, "source_url")
        if url and len(publishers) > 1:
            result.errors.append("source_url: one URL was given for several publishers; give one publisher per row.")
        day = f", report of {started:%Y-%m-%d}" if started else ""
        return [
            services.NewSource(
                publisher=publisher,
                title=f"{publisher}{day}",
                kind=kind or Source.Kind.OTHER,
                url=url,
                reliability=reliability,
                credibility=credibility,
            )
            for publisher in publishers
        ]

    def _read_ours(self, values, result: RowResult, attempt) -> _Prepared:
        fields: dict[str, Any] = {"agreement": self.agreement}
        given = self.text(values, "agreement")
        if given and given != self.agreement.slug:
            result.errors.append(f"agreement: the row is for {given!r}, the import is into {self.agreement.slug!r}.")
        public_id = self.text(values, "uuid")
        if public_id:
            try:
                fields["uuid"] = uuid_module.UUID(public_id)
            except ValueError:
                result.errors.append(f"uuid: {public_id!r} is not a UUID.")
            else:
                if Violation.objects.filter(uuid=fields["uuid"]).exists():
                    result.errors.append(
                        f"uuid: violation {public_id} is already recorded; an import only adds new violations "
                        "(edit it in the admin, or clear the uuid cell to add a copy)."
                    )
        if attempt(lambda: parse_bool(self.get(values, "retracted"), "retracted")):
            result.errors.append("retracted: a retracted record is not imported.")

        started, exact = attempt(lambda: parse_moment(self.get(values, "started_at"), "started_at"), (None, False))
        if started is None and not any(e.startswith("started_at") for e in result.errors):
            result.errors.append("started_at: required.")
        fields["started_at"] = started
        fields["ended_at"] = attempt(lambda: parse_moment(self.get(values, "ended_at"), "ended_at")[0])
        choices = Violation.TimePrecision.choices
        precision = attempt(lambda: parse_choice(self.get(values, "time_precision"), "time_precision", choices))
        fields["time_precision"] = precision or (
            Violation.TimePrecision.EXACT if exact else Violation.TimePrecision.DAY
        )
        fields["category"] = attempt(
            lambda: parse_choice(self.get(values, "category"), "category", Violation.Category.choices)
        )
        if fields["category"] is None and not any(e.startswith("category") for e in result.errors):
            result.errors.append("category: required.")
        clauses = self._clauses(values, result)
        perpetrators = self._actors(values, ("perpetrators",), result)
        affected = self._actors(values, ("affected_actors",), result)

        choices = Violation.LocationPrecision.choices
        location_precision = attempt(
            lambda: parse_choice(self.get(values, "location_precision"), "location_precision", choices)
        )
        self._where(values, fields, result, attempt, place_column="place", precision=location_precision)
        for name in COUNT_FIELDS:
            fields[name] = attempt(lambda name=name: parse_count(self.get(values, name), name))
        fields["description"] = self.text(values, "description")
        if not fields["description"]:
            result.errors.append("description: required.")
        sources = []
        for line in _split(self.text(values, "sources"), SOURCE_SEPARATOR.strip()):
            match = OUR_SOURCE_RE.match(line)
            if not match:
                result.errors.append(f"sources: {line!r} is not 'publisher: title [grade] url'.")
                continue
            reliability, credibility = parse_grade(match["grade"], "sources")
            sources.append(
                services.NewSource(
                    publisher=match["publisher"].strip(),
                    title=match["title"].strip(),
                    kind=Source.Kind.OTHER,
                    url=match["url"] or "",
                    reliability=reliability,
                    credibility=credibility,
                )
            )
        return _Prepared(fields, clauses, perpetrators, affected, sources)

    # links

    def _actors(self, values, columns: tuple[str, ...], result: RowResult) -> list[Actor]:
        found: list[Actor] = []
        for column in columns:
            for name in _split(self.text(values, column)):
                ids = self.actor_index.find(name)
                if not ids:
                    result.errors.append(
                        f"{column}: no actor named {name!r} (add the actor, or add this name as an alias of one)."
                    )
                elif len(ids) > 1:
                    names = ", ".join(sorted(self.actors[pk].name for pk in ids))
                    result.errors.append(f"{column}: {name!r} could be any of {names}; use the full name.")
                else:
                    actor = self.actors[next(iter(ids))]
                    if actor not in found:
                        found.append(actor)
        return found

    def _clauses(self, values, result: RowResult) -> list[Clause]:
        found = []
        for number in _split(self.text(values, "clauses")):
            clause = self.clauses.get(number)
            if clause is None:
                result.errors.append(f"clauses: {self.agreement.slug} has no clause {number!r}.")
            elif clause not in found:
                found.append(clause)
        return found

    def _admin_areas(self, values) -> dict[str, str]:
        return {level: self.text(values, level) for level in ("admin1", "admin2", "admin3") if self.text(values, level)}

    def _place(self, values, column: str, result: RowResult) -> Place | None:
        name = self.text(values, column)
        areas = self._admin_areas(values)
        if not name:
            if "admin1" not in areas:
                return None
            candidates = [
                place
                for place in self.places.values()
                if place.kind == Place.Kind.ADMIN1 and fold(place.admin1) == fold(areas["admin1"])
            ]
            if len(candidates) == 1:
                return candidates[0]
            if not candidates:
                result.errors.append(f"admin1: no governorate-level place for {areas['admin1']!r}; name a location.")
            else:
                result.errors.append(f"admin1: several governorate-level places for {areas['admin1']!r}.")
            return None
        candidates = [self.places[pk] for pk in self.place_index.find(name)]
        if not candidates:
            result.errors.append(f"{column}: no place named {name!r} (add the place, or add this name as its alias).")
            return None
        narrowed = [
            place
            for place in candidates
            if all(
                not getattr(place, level) or fold(getattr(place, level)) == fold(area) for level, area in areas.items()
            )
        ]
        if len(narrowed) == 1:
            return narrowed[0]
        if not narrowed:
            where = ", ".join(f"{level} {area!r}" for level, area in areas.items())
            result.errors.append(f"{column}: no place named {name!r} in {where}.")
            return None
        names = "; ".join(sorted(f"{place} [{place.admin1}/{place.admin2}]" for place in narrowed))
        result.errors.append(f"{column}: {name!r} could be any of {names}; give admin1/admin2 to tell them apart.")
        return None

    def _where(self, values, fields: dict, result: RowResult, attempt, *, place_column: str, precision) -> None:
        place = self._place(values, place_column, result)
        latitude = attempt(lambda: parse_coordinate(self.get(values, "latitude"), "latitude", 90))
        longitude = attempt(lambda: parse_coordinate(self.get(values, "longitude"), "longitude", 180))
        unreadable = any(error.startswith(("latitude", "longitude")) for error in result.errors)
        if (latitude is None) != (longitude is None) and not unreadable:
            result.errors.append("latitude, longitude: give both or neither.")
            latitude = longitude = None
        if (
            place is None
            and latitude is None
            and not any(e.startswith((place_column, "admin1")) for e in result.errors)
        ):
            result.errors.append(f"{place_column}: give a place, or latitude and longitude.")
        if place is not None and latitude is not None:
            if (latitude, longitude) == (
                place.latitude.quantize(COORDINATE_STEP),
                place.longitude.quantize(COORDINATE_STEP),
            ):
                latitude = longitude = None  # the place's own point: the violation takes it from its place
            else:
                distance = haversine_km(
                    (float(longitude), float(latitude)), (float(place.longitude), float(place.latitude))
                )
                if distance > FAR_FROM_PLACE_KM:
                    result.warnings.append(
                        f"latitude, longitude: {distance:.0f} km from {place.name}; check the place or the point."
                    )
        if precision is None:
            precision = PLACE_KIND_PRECISIONS.get(place.kind) if place is not None else None
        if precision == Violation.LocationPrecision.TOWN and place is not None and place.kind == Place.Kind.SITE:
            precision = Violation.LocationPrecision.EXACT
        fields.update(
            place=place,
            latitude=latitude,
            longitude=longitude,
            location_precision=precision or Violation.LocationPrecision.TOWN,
        )


# --- writing ----------------------------------------------------------------------------------------------------------


def _source_for(new: services.NewSource, *, user, result: RowResult) -> Source:
    """An existing source (by URL, else by publisher and title without URL), or a new one through the service."""
    existing = (
        Source.objects.filter(url=new.url).first()
        if new.url
        else Source.objects.filter(url="", publisher=new.publisher, title=new.title).first()
    )
    label = f"{new.publisher}: {new.title}"
    if existing is not None:
        result.reused_sources.append(label)
        return existing
    result.new_sources.append(label)
    return services.source_get_or_create(new=new, user=user)


def _error_lines(exc: ValidationError, layout: str) -> list[str]:
    columns = FIELD_COLUMNS.get(layout, {})
    if hasattr(exc, "error_dict"):
        lines = []
        for name, messages in exc.message_dict.items():
            for message in messages:
                lines.append(message if name == NON_FIELD_ERRORS else f"{columns.get(name, name)}: {message}")
        return lines
    return list(exc.messages)


def _summarise(prepared: _Prepared) -> dict[str, str]:
    fields = prepared.fields
    place = fields.get("place")
    where = place.name if place is not None else f"{fields.get('latitude')}, {fields.get('longitude')}"
    started = fields.get("started_at")
    return {
        "started": f"{started:%Y-%m-%d}" if started else "",
        "category": str(fields.get("category") or ""),
        "place": where,
        "perpetrators": ", ".join(actor.name for actor in prepared.perpetrators),
        "affected": ", ".join(actor.name for actor in prepared.affected),
        "clauses": ", ".join(clause.number for clause in prepared.clauses),
        "killed": "" if fields.get("killed_best") is None else str(fields["killed_best"]),
    }


def _write_row(prepared: _Prepared, *, user, result: RowResult, layout: str) -> None:
    """Record the row's violation in a savepoint; on a ValidationError roll back to it and note the errors."""
    try:
        with transaction.atomic():
            sources = [_source_for(new, user=user, result=result) for new in prepared.sources]
            violation = services.violation_record(
                user=user,
                clauses=prepared.clauses,
                perpetrators=prepared.perpetrators,
                affected_actors=prepared.affected,
                sources=list(dict.fromkeys(sources)),
                **{name: value for name, value in prepared.fields.items() if value is not None},
            )
    except ValidationError as exc:
        result.errors.extend(_error_lines(exc, layout))
        result.new_sources.clear()
        result.reused_sources.clear()
        return
    except IntegrityError as exc:  # full_clean checks constraints first, so this means a race with another writer
        result.errors.append(f"The database refused the row: {exc}.")
        return
    result.violation_uuid = violation.uuid
    for hint in likely_duplicates(violation):
        other = hint.violation
        distance = "same place" if hint.same_place else f"{hint.distance_km:.1f} km away"
        result.warnings.append(
            f"Possible duplicate of {other.uuid} ({other.get_category_display()} on {other.started_at:%Y-%m-%d}, "
            f"{distance})."
        )


def _agreement(agreement) -> Agreement:
    if isinstance(agreement, Agreement):
        return agreement
    found = Agreement.objects.filter(slug=str(agreement)).first()
    if found is None:
        raise ImportRefused(f"No agreement with slug {agreement!r}.")
    return found


def import_violations(
    *,
    file,
    agreement: Agreement | str,
    user,
    dry_run: bool,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import the violations of a CSV or XLSX file into `agreement` (an Agreement or its slug), as `user`.

    `file` is a path, bytes or a binary file object. All or nothing: the rows are written in one transaction that
    is kept only when this is not a dry run and no row has an error. `progress(done, total)` is called after each
    row. Raises ImportRefused only when the import cannot start (unknown agreement); everything wrong with the file
    is in the report.
    """
    agreement = _agreement(agreement)
    report = ImportReport(agreement=agreement, dry_run=dry_run)
    try:
        headers, rows, warnings = read_table(_read_bytes(file))
    except (ValueError, OSError) as exc:
        report.errors.append(str(exc))
        return report
    report.warnings.extend(warnings)
    if not headers:
        report.errors.append("The file is empty.")
        return report
    layout, errors, warnings = detect_layout(headers)
    report.layout = layout or ""
    report.errors.extend(errors)
    report.warnings.extend(warnings)
    if not rows and layout:
        report.errors.append("The file has a header row but no data rows.")
    if len(rows) > MAX_ROWS:
        report.errors.append(f"The file has {len(rows)} rows; import at most {MAX_ROWS} at a time.")
    if report.errors:
        return report

    with transaction.atomic():
        reader = _RowReader(agreement=agreement, layout=layout, headers=headers)
        if progress is not None:
            progress(0, len(rows))
        for done, (number, values) in enumerate(rows, start=1):
            result = RowResult(number=number)
            report.rows.append(result)
            prepared = reader.read(values, result)
            result.summary = _summarise(prepared)
            if result.ok:
                _write_row(prepared, user=user, result=result, layout=layout)
            if progress is not None:
                progress(done, len(rows))
        report.committed = not dry_run and report.ok
        if not report.committed:
            transaction.set_rollback(True)
    if not report.committed:
        for row in report.rows:
            row.violation_uuid = None  # rolled back: the id named nothing
    return report
