"""The SQL of each exported cell and of each many-to-many link's aggregate, for `copy_sql`: the text every cell
of `csv_files.iter_csv` holds, computed by PostgreSQL (see copy_sql's docstring for what keeps them identical)."""

from __future__ import annotations

import json
from collections.abc import Callable

from agreements import acled
from agreements.acled import (
    ACLED_EVENT_TYPES,
    ACLED_GEO_PRECISION,
    ACLED_STATE_CAPTURE,
    ACLED_TIME_PRECISION,
    COUNTRY_NAMES,
    STATE_ACTOR_KINDS,
    STRATEGIC,
)
from agreements.exports.columns import ACLED_COLUMNS, FORMULA_PREFIXES, VIOLATION_COLUMNS, Column
from agreements.models import Source, Violation, ViolationSource
from agreements.models.violations import COUNT_FIELDS, ESTIMATES

# str.rstrip() strips every character Python calls whitespace; rtrim(text, characters) strips exactly those given.
PYTHON_WHITESPACE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())

POLITICAL_VIOLENCE = acled.POLITICAL_VIOLENCE

# to_char() patterns of datetime.isoformat() in UTC, "+00:00" written "Z" (values.iso_utc).
ISO_SECONDS = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
ISO_MICROSECONDS = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def _formula_codes() -> str:
    """escape_cell's prefixes as the list of code points ascii(cell) is compared with."""
    if any(len(prefix) != 1 for prefix in FORMULA_PREFIXES):
        raise ValueError("FORMULA_PREFIXES must be single characters here: ascii() reads a cell's first one.")
    return ", ".join(str(ord(prefix)) for prefix in FORMULA_PREFIXES)


class _Select:
    """What the cells need, collected while they are written: raw columns of the inner query, link outputs,
    the reference maps, SQL literals (quoted by the connection, so no value is pasted into SQL by hand)."""

    def __init__(self, connection, maps: dict[str, dict[int, list]]):
        self.connection = connection
        self.columns: dict[str, str] = {}  # lookup path → its alias in the inner query
        self.links: dict[str, dict[str, Callable[[_Select], str]]] = {}  # link → {output: its aggregate}
        self._maps = maps
        self._map_literals: dict[str, str] = {}
        self._formula_codes = _formula_codes()

    def literal(self, value) -> str:
        return self.connection.ops.compose_sql("%s", [value])

    def name(self, model, field: str | None = None) -> str:
        """The quoted table of a model, or the quoted column of one of its fields."""
        return self.connection.ops.quote_name(
            model._meta.db_table if field is None else model._meta.get_field(field).column
        )

    def col(self, path: str) -> str:
        alias = self.columns.setdefault(path, "x_" + path.replace("__", "_"))
        return f"f.{alias}"

    def link(self, link: str, output: str) -> str:
        self.links.setdefault(link, {})[output] = _LINKS[link][1][output]
        return f"{link}.{output}"

    def escaped(self, text_sql: str) -> str:
        """escape_cell in SQL; `text_sql` is written three times, so give it a column, not an expression.

        ascii() is the first character's code point (0 for '', NULL for NULL): three times cheaper than a regular
        expression, which counts at a dozen cells a row."""
        return (
            f"CASE WHEN ascii({text_sql}) IN ({self._formula_codes}) THEN '''' || {text_sql} "
            f"ELSE NULLIF({text_sql}, '') END"
        )

    def lookup(self, map_name: str, id_sql: str, index: int) -> str:
        """Item `index` of the map's entry for the id: text, except the rank (0), an integer."""
        if map_name not in self._map_literals:
            entries = {str(pk): entry for pk, entry in self._maps[map_name].items()}
            self._map_literals[map_name] = self.literal(json.dumps(entries, ensure_ascii=False)) + "::jsonb"
        item = f"({self._map_literals[map_name]} -> ({id_sql})::text ->> {index})"
        return f"{item}::int" if index == 0 else item


# --- cells --------------------------------------------------------------------------------------------------------

Cell = Callable[[_Select], str]


def _escaped(path: str) -> Cell:
    return lambda s: s.escaped(s.col(path))


def _choice(path: str) -> Cell:
    return lambda s: f"NULLIF({s.col(path)}, '')"


def _number(path: str) -> Cell:
    return lambda s: s.col(path)  # COPY writes an integer as str() does


def _boolean(path: str) -> Cell:
    return lambda s: f"CASE WHEN {s.col(path)} THEN 'true' WHEN NOT {s.col(path)} THEN 'false' END"


def _iso(path: str) -> Cell:
    def cell(s: _Select) -> str:
        utc = f"({s.col(path)} AT TIME ZONE 'UTC')"
        seconds, microseconds = s.literal(ISO_SECONDS), s.literal(ISO_MICROSECONDS)
        return (
            f"CASE WHEN date_trunc('second', {utc}) = {utc} THEN to_char({utc}, {seconds}) "
            f"ELSE to_char({utc}, {microseconds}) END"
        )

    return cell


def _coordinate(axis: str) -> Cell:
    # Violation.point(): the violation's own pair when it has both, else its place's (NULL without a place).
    def cell(s: _Select) -> str:
        value = (
            f"CASE WHEN {s.col('latitude')} IS NOT NULL AND {s.col('longitude')} IS NOT NULL "
            f"THEN {s.col(axis)} ELSE {s.col('place__' + axis)} END"
        )
        trimmed = f"trim_scale({value})"
        return f"CASE WHEN scale({trimmed}) = 0 THEN {trimmed}::text || '.0' ELSE {trimmed}::text END"

    return cell


def _linked(link: str, output: str) -> Cell:
    return lambda s: s.escaped(s.link(link, output))


def _mapped(s: _Select, path: str, mapping: dict, otherwise: str | None = None) -> str:
    """CASE path WHEN key THEN value … [ELSE otherwise] END, keys and values as literals."""
    if not mapping:
        return otherwise or "NULL"
    branches = " ".join(f"WHEN {s.literal(str(key))} THEN {s.literal(value)}" for key, value in mapping.items())
    return f"CASE {s.col(path)} {branches}" + (f" ELSE {otherwise}" if otherwise else "") + " END"


def _event_type(index: int) -> Cell:
    """columns.acled_event_type(v)[index]: by category; a territorial capture by actor1's kind."""

    def cell(s: _Select) -> str:
        by_category = _mapped(
            s,
            "category",
            {key: pair[index] for key, pair in ACLED_EVENT_TYPES.items()},
            s.literal(acled.ACLED_FALLBACK_EVENT[index]),
        )
        state_kinds = ", ".join(s.literal(str(kind)) for kind in sorted(STATE_ACTOR_KINDS))
        return (
            f"CASE WHEN {s.col('category')} = {s.literal(str(Violation.Category.TERRITORIAL_CAPTURE))} "
            f"AND {s.link('perpetrators', 'first_kind')} IN ({state_kinds}) "
            f"THEN {s.literal(ACLED_STATE_CAPTURE[index])} ELSE {by_category} END"
        )

    return cell


def _disorder_type(s: _Select) -> str:
    strategic = s.literal(STRATEGIC)
    return f"CASE WHEN ({_event_type(0)(s)}) = {strategic} THEN {strategic} ELSE {s.literal(POLITICAL_VIOLENCE)} END"


# The event type cells are not escaped: they are these constants, which escape_cell leaves as they are.
_EVENT_TEXTS = {
    STRATEGIC,
    POLITICAL_VIOLENCE,
    "Other",
    *ACLED_STATE_CAPTURE,
    *(text for pair in ACLED_EVENT_TYPES.values() for text in pair),
}
if any(not text or text.startswith(FORMULA_PREFIXES) for text in _EVENT_TEXTS):
    raise ValueError("An ACLED event type would be escaped or empty: write its cells with _Select.escaped.")


def _country(s: _Select) -> str:
    # Escaped around a CASE over two columns, cheap enough to evaluate three times.
    return s.escaped(f"({_mapped(s, 'place__country', COUNTRY_NAMES, s.col('place__country'))})")


def _casualty_total(kind: str, estimate: str) -> Cell:
    # casualty_total_expression written over the inner query's columns (this SQL reads f, not the model's table).
    return lambda s: f"COALESCE({s.col(f'{kind}_{estimate}')}, {s.col(f'civilians_{kind}_{estimate}')})"


def _precision_code(path: str, codes: dict) -> Cell:
    return lambda s: _mapped(s, path, {key: int(code) for key, code in codes.items()})


def mapped_cell(path: str, mapping: dict) -> Cell:
    """A column's value through `mapping` (NULL for a value it does not name): for columns declared elsewhere."""
    return lambda s: _mapped(s, path, mapping)


def civilian_bound_cell(kind: str) -> Cell:
    """'true' when any estimate's total is not reported and its civilian figure stands in for it
    (casualty_total_is_civilian_bound), else 'false'."""

    def cell(s: _Select) -> str:
        bound = " OR ".join(
            f"({s.col(f'{kind}_{e}')} IS NULL AND {s.col(f'civilians_{kind}_{e}')} IS NOT NULL)" for e in ESTIMATES
        )
        return f"CASE WHEN {bound} THEN 'true' ELSE 'false' END"

    return cell


OUR_CELLS: dict[str, Cell] = {
    "uuid": lambda s: f"{s.col('uuid')}::text",
    "agreement": _escaped("agreement__slug"),
    "started_at": _iso("started_at"),
    "ended_at": _iso("ended_at"),
    "time_precision": _choice("time_precision"),
    "category": _choice("category"),
    "clauses": _linked("clauses", "numbers"),
    "perpetrators": _linked("perpetrators", "joined"),
    "affected_actors": _linked("affected", "joined"),
    "place": _escaped("place__name"),
    "admin1": _escaped("place__admin1"),
    "admin2": _escaped("place__admin2"),
    "latitude": _coordinate("latitude"),
    "longitude": _coordinate("longitude"),
    "location_precision": _choice("location_precision"),
    "in_zone": _boolean("in_zone"),
    "zone": _escaped("zone__slug"),
    **{name: _number(name) for name in COUNT_FIELDS},
    **{
        f"{kind}_{estimate}": _casualty_total(kind, estimate)
        for kind in ("killed", "injured")
        for estimate in ESTIMATES
    },
    "status": _choice("status"),
    "retracted": lambda s: f"CASE WHEN {s.col('retracted_at')} IS NULL THEN 'false' ELSE 'true' END",
    "sources": _linked("sources", "lines"),
    "description": _escaped("description"),
    "version": _number("version"),
    "updated_at": _iso("updated_at"),
}

ACLED_CELLS: dict[str, Cell] = {
    "event_id_cnty": lambda s: f"{s.col('uuid')}::text",
    "event_date": lambda s: f"to_char({s.col('started_at')} AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    "year": lambda s: f"EXTRACT(YEAR FROM {s.col('started_at')} AT TIME ZONE 'UTC')::int",
    "time_precision": _precision_code("time_precision", ACLED_TIME_PRECISION),
    "disorder_type": _disorder_type,
    "event_type": _event_type(0),
    "sub_event_type": _event_type(1),
    "actor1": _linked("perpetrators", "first"),
    "assoc_actor_1": _linked("perpetrators", "rest"),
    "actor2": _linked("affected", "first"),
    "assoc_actor_2": _linked("affected", "rest"),
    "country": _country,
    "admin1": _escaped("place__admin1"),
    "admin2": _escaped("place__admin2"),
    "admin3": _escaped("place__admin3"),
    "location": _escaped("place__name"),
    "latitude": _coordinate("latitude"),
    "longitude": _coordinate("longitude"),
    "geo_precision": _precision_code("location_precision", ACLED_GEO_PRECISION),
    "source": _linked("publishers", "names"),
    "notes": _escaped("description"),
    "fatalities": lambda s: f"COALESCE({_casualty_total('killed', 'best')(s)}, 0)",
    "clauses": _linked("clauses", "numbers"),
    "in_zone": _boolean("in_zone"),
    "status": _choice("status"),
}

# By Column, not by name: both lists have a time_precision, a latitude… which do not always mean the same.
CELLS: dict[Column, Cell] = {
    **{column: OUR_CELLS[column.name] for column in VIOLATION_COLUMNS if column.name in OUR_CELLS},
    **{column: ACLED_CELLS[column.name] for column in ACLED_COLUMNS if column.name in ACLED_CELLS},
}


# --- the many-to-many links, aggregated once per link table ------------------------------------------------------
# Each is (rows: its key and FROM … for the exported violations' ids, {output: aggregate}); copy_select groups the
# rows by violation and joins the result to f. Only the outputs some cell asked for are selected. Outputs are the
# cells' final text, so that a cell reads a column; outputs over the same ordered array_agg cost a single aggregate
# (PostgreSQL computes identical aggregate calls once).


def _links_rows(relation: str) -> Callable[[_Select, str], tuple[str, str]]:
    def sql(s: _Select, ids: str) -> tuple[str, str]:
        through = getattr(Violation, relation).through
        key = f"t.{s.name(through, 'violation')}"
        return key, f"FROM {s.name(through)} AS t WHERE {key} IN ({ids})"

    return sql


def _ordered(relation: str, target: str, index: int, template: str) -> Callable[[_Select], str]:
    """`template` with {items}: item `index` of each linked row's map entry, aggregated in the map's rank order."""

    def sql(s: _Select) -> str:
        linked = f"t.{s.name(getattr(Violation, relation).through, target)}"
        items = f"array_agg({s.lookup(target, linked, index)} ORDER BY {s.lookup(target, linked, 0)})"
        return template.format(items=items)

    return sql


def _actor_outputs(relation: str) -> dict[str, Callable[[_Select], str]]:
    return {
        "joined": _ordered(relation, "actor", 1, "array_to_string({items}, '; ')"),  # "; ".join(names)
        "first": _ordered(relation, "actor", 1, "({items})[1]"),  # names[0], NULL when there is none
        "rest": _ordered(relation, "actor", 1, "array_to_string(({items})[2:], '; ')"),  # "; ".join(names[1:])
        "first_kind": _ordered(relation, "actor", 2, "({items})[1]"),  # actor1's kind, for ACLED's event type
    }


def _citations(s: _Select, ids: str) -> str:
    key = f"t.{s.name(ViolationSource, 'violation')}"
    return (
        f"FROM {s.name(ViolationSource)} AS t JOIN {s.name(Source)} AS src "
        f"ON src.id = t.{s.name(ViolationSource, 'source')} WHERE {key} IN ({ids})"
    )


def _citations_rows(s: _Select, ids: str) -> tuple[str, str]:
    return f"t.{s.name(ViolationSource, 'violation')}", _citations(s, ids)


def _source_lines(s: _Select) -> str:
    # columns._sources: "publisher: title [grade] url".rstrip() per citation, in citation order, " | " between.
    def column(field: str) -> str:
        return f"src.{s.name(Source, field)}"

    line = (
        f"{column('publisher')} || ': ' || {column('title')} || ' [' || {column('reliability')} || "
        f"{column('credibility')}::text || '] ' || {column('url')}"
    )
    return f"string_agg(rtrim({line}, {s.literal(PYTHON_WHITESPACE)}), ' | ' ORDER BY t.id)"


def _publishers_rows(s: _Select, ids: str) -> tuple[str, str]:
    # columns._publishers: each publisher once, in the order of its first citation.
    return "p.vid", (
        f"FROM (SELECT t.{s.name(ViolationSource, 'violation')} AS vid, src.{s.name(Source, 'publisher')} AS "
        f"publisher, min(t.id) AS first {_citations(s, ids)} GROUP BY 1, 2) AS p"
    )


_LINKS: dict[str, tuple[Callable[[_Select, str], tuple[str, str]], dict[str, Callable[[_Select], str]]]] = {
    "perpetrators": (_links_rows("perpetrators"), _actor_outputs("perpetrators")),
    "affected": (_links_rows("affected_actors"), _actor_outputs("affected_actors")),
    "clauses": (
        _links_rows("clauses"),
        {"numbers": _ordered("clauses", "clause", 1, "array_to_string({items}, '; ')")},
    ),
    "sources": (_citations_rows, {"lines": _source_lines}),
    "publishers": (_publishers_rows, {"names": lambda s: "string_agg(p.publisher, '; ' ORDER BY p.first)"}),
}


# --- the statement ------------------------------------------------------------------------------------------------
