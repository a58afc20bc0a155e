"""The CSV export at the database's speed: on PostgreSQL, `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)` of a SELECT
whose cells are the very text `exports.iter_csv` writes, streamed to the client in chunks.

The SELECT has two layers. Inside, the filtered queryset as Django compiles it (its filters, joins and parameters),
selecting raw values. Outside, hand-written SQL: each many-to-many link table aggregated once, grouped by violation,
over the exported violations' ids only (the same queryset's ids, computed once, semi-joined: by index for a few
rows, by hash for many), joined to the rows; the cells' formatting; and the queryset's ordering, on the inner query's
columns, which is what guarantees the order of the rows.

Set-based rather than row by row: a LATERAL sub-select per link and row streamed its first row at once, but for a
million rows in an order unrelated to the table's (started_at) its index lookups, one random page each, took twice
as long (26 s against 15 s on a busy 2-core machine): too close to the worker's 30 s. Now the first row waits for the
aggregates (the BOM and header line are sent before, as soon as the SELECT is built), PostgreSQL's memory is bounded by
work_mem (`configure`), and the Python side holds one chunk at a time.

What keeps the bytes identical to `iter_csv` (tests/agreements/test_exports_copy.py compares them):

- COPY's csv format quotes a cell exactly when csv.writer's QUOTE_MINIMAL does (a comma, a quote, CR or LF in it)
  and doubles quotes the same way; but it writes an empty string as "" where csv.writer writes nothing, so every
  text cell is NULLIF(…, '') (iter_csv writes None and "" alike, as an empty cell).
- Text that can hold user input is formula-escaped with `escape_cell`'s prefixes; choice values (held by check
  constraints), uuids, dates and this module's constants cannot start with one, and are not.
- Datetimes: ISO 8601 in UTC with microseconds only when there are some (datetime.isoformat). Coordinates: the
  numeric with trailing zeros trimmed and at least one decimal, which is what repr(float) gives for a numeric(9, 6).
- Actors and clauses are ordered as Python orders them (actors by `exports.name_order`, casefolded then as
  written, which no SQL collation does; clauses by agreement, position, number). Both are reference data, so the
  export reads them first, ranks them in Python and hands the SQL a constant map id → [rank, text…]: a row's links
  are looked up in it instead of joined to those tables. The map and the rows are read in one
  snapshot (REPEATABLE READ), so it cannot miss an actor or clause a row links to.
- COPY ends rows with LF, csv.writer with CRLF. PostgreSQL sends each row as exactly one CopyData message (its
  protocol says so), so the last byte of each message is the row's end and becomes CRLF; LFs inside quoted cells
  stay LF, as csv.writer leaves them.
- The BOM and the header line come from `exports.csv_header`, as in iter_csv.

A queryset this module cannot reproduce row for row (sliced, DISTINCT ON, combined, ordered by anything but the
violation's own columns) or a column it has no SQL for goes through iter_csv instead (`supports`).
"""

import json
from collections.abc import Callable, Iterator, Sequence

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import connections, transaction
from django.db.models import F, QuerySet

from agreements import acled, exports
from agreements.acled import (
    ACLED_EVENT_TYPES,
    ACLED_GEO_PRECISION,
    ACLED_STATE_CAPTURE,
    ACLED_TIME_PRECISION,
    COUNTRY_NAMES,
    STATE_ACTOR_KINDS,
    STRATEGIC,
)
from agreements.exports import ACLED_COLUMNS, FORMULA_PREFIXES, VIOLATION_COLUMNS, Column
from agreements.models import Actor, Clause, Source, Violation, ViolationSource
from agreements.models.violations import COUNT_FIELDS, ESTIMATES

# str.rstrip() strips every character Python calls whitespace; rtrim(text, characters) strips exactly those given.
PYTHON_WHITESPACE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())

POLITICAL_VIOLENCE = acled.POLITICAL_VIOLENCE

# to_char() patterns of datetime.isoformat() in UTC, "+00:00" written "Z" (exports._iso_utc).
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
    """exports.acled_event_type(v)[index]: by category; a territorial capture by actor1's kind."""

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
    # exports._sources: "publisher: title [grade] url".rstrip() per citation, in citation order, " | " between.
    def column(field: str) -> str:
        return f"src.{s.name(Source, field)}"

    line = (
        f"{column('publisher')} || ': ' || {column('title')} || ' [' || {column('reliability')} || "
        f"{column('credibility')}::text || '] ' || {column('url')}"
    )
    return f"string_agg(rtrim({line}, {s.literal(PYTHON_WHITESPACE)}), ' | ' ORDER BY t.id)"


def _publishers_rows(s: _Select, ids: str) -> tuple[str, str]:
    # exports._publishers: each publisher once, in the order of its first citation.
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


def _ordering(queryset: QuerySet) -> list[tuple[str, bool]] | None:
    """The queryset's ORDER BY as (field, descending) pairs, read as Django's compiler reads it; None when it orders
    by anything but the model's own columns (a relation, an expression, random), which only Django knows how to
    write."""
    query = queryset.query
    if query.extra_order_by:
        return None
    meta = queryset.model._meta
    ordering = query.order_by if (query.order_by or not query.default_ordering) else meta.ordering
    pairs = []
    for item in ordering:
        if not isinstance(item, str) or item.lstrip("-") == "?":
            return None
        descending, name = (True, item[1:]) if item.startswith("-") else (False, item)
        try:
            field = meta.pk if name == "pk" else meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if field.is_relation or not field.concrete:
            return None
        pairs.append((field.name, descending == query.standard_ordering))
    return pairs


def supports(queryset: QuerySet, columns: Sequence[Column]) -> bool:
    """Whether COPY gives exactly iter_csv's bytes for this queryset and these columns."""
    query = queryset.query
    return (
        connections[queryset.db].vendor == "postgresql"
        and queryset.model is Violation
        and all(column in CELLS for column in columns)
        # DISTINCT (django-filter adds it to multiple-choice filters) stays in the inner query, which selects the
        # pk: it drops exactly the duplicates Django's would. DISTINCT ON fields would need Django's SQL around it.
        and not (query.is_sliced or query.distinct_fields or query.combinator)
        and _ordering(queryset) is not None
    )


def _maps(using: str) -> dict[str, dict[int, list]]:
    """Actors and clauses by id: [rank in Python's order, text, …], what the links' cells are built from.

    Every row, retired ones too (the base manager, as exports._Lookups reads them): a violation still cites them."""
    actors = sorted(
        Actor._base_manager.using(using).values_list("pk", "name", "kind"),
        key=lambda actor: exports.name_order(actor[1]),
    )
    # exports._attach_links sorts a violation's clauses by (agreement_id, position, number).
    clauses = sorted(Clause._base_manager.using(using).values_list("agreement_id", "position", "number", "pk"))
    return {
        "actor": {pk: [rank, name, kind] for rank, (pk, name, kind) in enumerate(actors)},
        "clause": {pk: [rank, number] for rank, (_, _, number, pk) in enumerate(clauses)},
    }


def copy_select(queryset: QuerySet, columns: Sequence[Column]) -> str:
    """The SELECT whose rows, in COPY's csv format, are iter_csv's lines (see the module's docstring).

    Reads the actors and clauses first (two queries); raises EmptyResultSet for a queryset that matches nothing
    by construction (`.none()`).
    """
    connection = connections[queryset.db]
    select = _Select(connection, _maps(queryset.db))
    cells = ",\n  ".join(CELLS[column](select) for column in columns)
    order = ", ".join(f"{select.col(name)} {'DESC' if desc else 'ASC'}" for name, desc in _ordering(queryset))
    unordered = queryset.order_by()  # the outer ORDER BY orders; an inner one would only sort the rows twice
    joins = []
    for link, outputs in select.links.items():
        key, rows = _LINKS[link][0](select, "SELECT ids.id FROM ids")
        aggregates = ", ".join(f"{sql(select)} AS {output}" for output, sql in outputs.items())
        joins.append(
            f"\nLEFT JOIN (SELECT {key} AS vid, {aggregates} {rows} GROUP BY {key}) AS {link} "
            f"ON {link}.vid = {select.col('pk')}"
        )
    # Compiled last: the cells, the ordering and the joins above have named every column it must select.
    inner = unordered.values(**{alias: F(path) for path, alias in select.columns.items()})
    sql = f"SELECT\n  {cells}\nFROM ({connection.ops.compose_sql(*inner.query.sql_with_params())}) AS f"
    sql += "".join(joins) + (f"\nORDER BY {order}" if order else "")
    if not joins:
        return sql
    # The exported ids, filtered once for all the links: a filter no index serves (a date of a timestamp, a word
    # in the description) is a scan of the table, which inlined it would be per link.
    ids = connection.ops.compose_sql(*unordered.values("pk").query.sql_with_params())
    return f"WITH ids (id) AS MATERIALIZED ({ids})\n{sql}"


def iter_csv_copy(queryset: QuerySet, columns: Sequence[Column]) -> Iterator[bytes]:
    """The bytes of iter_csv(queryset, columns), read with COPY and streamed in chunks; PostgreSQL only.

    Nothing runs until the first chunk is asked for. The rows are read in a transaction of their own (read-only,
    REPEATABLE READ: the reference maps and the rows come from one snapshot) unless the caller is in one already;
    closing the iterator early cancels the COPY and ends that transaction, leaving the connection as it was.
    """
    if not supports(queryset, columns):
        raise ValueError("COPY cannot reproduce iter_csv for this queryset or these columns; use exports.csv_stream.")
    return _copy_chunks(queryset, tuple(columns))


def configure(cursor) -> None:
    """The export's settings, local to its transaction (benchmarks/run.py gives its raw COPY the same)."""
    # JIT would compile this query's many expressions on every export: ~0.4 s more, never won back here.
    cursor.execute("SELECT set_config('jit', 'off', true)")
    # The links' aggregates and the final sort spill to disk past work_mem: 16 MB (4 by default) takes a
    # million-row export from ~17 s to ~13 s; each hash or sort node may use it, so an export uses up to ~0.2 GB.
    cursor.execute("SELECT set_config('work_mem', '16MB', true)")


def _copy_chunks(queryset: QuerySet, columns: tuple[Column, ...]) -> Iterator[bytes]:
    using = queryset.db
    connection = connections[using]
    header = exports.csv_header(columns).encode()
    # A streamed body is read after the view has returned, so normally no transaction is open here (with or
    # without ATOMIC_REQUESTS); inside a caller's atomic block (tests), the caller's transaction is the snapshot.
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if outermost:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        configure(cursor)
        try:
            select = copy_select(queryset, columns)
        except EmptyResultSet:
            yield header
            return
        # Sent before the COPY: PostgreSQL answers it only with the first rows, which for a million wait ~15 s for
        # the aggregates; the client (and any proxy timing out a silent response) sees a started file at once.
        yield header
        with cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)") as copy:
            rows: list = []
            size = 0
            for row in copy:
                rows.append(row[:-1])  # one message, one row: its last byte is the LF ending it
                size += len(row)
                if size >= exports.STREAM_CHUNK_BYTES:
                    rows.append(b"")
                    yield b"\r\n".join(rows)
                    rows, size = [], 0
            if rows:
                rows.append(b"")
                yield b"\r\n".join(rows)
