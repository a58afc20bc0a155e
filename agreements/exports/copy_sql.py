"""The CSV export at the database's speed: on PostgreSQL, `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)` of a SELECT
whose cells are the very text `csv_files.iter_csv` writes, streamed to the client in chunks.

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
- Actors and clauses are ordered as Python orders them (actors by `name_order`, casefolded then as
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

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import connections, transaction
from django.db.models import F, QuerySet

from agreements.exports import csv_files
from agreements.exports.columns import Column, name_order
from agreements.exports.copy_cells import _LINKS, CELLS, _Select
from agreements.models import Actor, Clause, Violation


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
        and all(column in CELLS or column.sql is not None for column in columns)
        # DISTINCT (django-filter adds it to multiple-choice filters) stays in the inner query, which selects the
        # pk: it drops exactly the duplicates Django's would. DISTINCT ON fields would need Django's SQL around it.
        and not (query.is_sliced or query.distinct_fields or query.combinator)
        and _ordering(queryset) is not None
    )


def _maps(using: str) -> dict[str, dict[int, list]]:
    """Actors and clauses by id: [rank in Python's order, text, …], what the links' cells are built from.

    Every row, retired ones too (the base manager, as rows.Lookups reads them): a violation still cites them."""
    actors = sorted(
        Actor._base_manager.using(using).values_list("pk", "name", "kind"),
        key=lambda actor: name_order(actor[1]),
    )
    # rows.attach_links sorts a violation's clauses by (agreement_id, position, number).
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
    cells = ",\n  ".join((CELLS.get(column) or column.sql)(select) for column in columns)
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


@contextmanager
def snapshot(using: str = "default"):
    """A transaction in which every read sees the database as it was at its first (PostgreSQL's REPEATABLE READ,
    read-only), so that what several queries read adds up. Inside a caller's transaction, that one is used as it is
    (a streamed body is read after the view has returned, so normally none is open then; tests hold one)."""
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _copy_chunks(queryset: QuerySet, columns: tuple[Column, ...]) -> Iterator[bytes]:
    using = queryset.db
    connection = connections[using]
    header = csv_files.csv_header(columns).encode()
    with snapshot(using), connection.cursor() as cursor:
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
                if size >= csv_files.STREAM_CHUNK_BYTES:
                    rows.append(b"")
                    yield b"\r\n".join(rows)
                    rows, size = [], 0
            if rows:
                rows.append(b"")
                yield b"\r\n".join(rows)
