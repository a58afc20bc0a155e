"""CSV: streamed, UTF-8 with a BOM; through `COPY … TO STDOUT` on PostgreSQL (`copy_sql`), the same bytes from
Python elsewhere. Also the row limits every format checks before it reads anything."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

from django.db.models import QuerySet

from agreements.exports import rows
from agreements.exports.columns import UTF8_BOM, Column
from agreements.exports.values import escape_cell
from agreements.models import Violation

# Bytes handed to the server per write of a streamed export: one write per line would be a system call per row.
STREAM_CHUNK_BYTES = 64 * 1024


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
    for violation in rows.violation_rows(queryset):
        yield writer.writerow([escape_cell(column.value(violation)) for column in columns])


def in_chunks(pieces: Iterable[str]) -> Iterator[bytes]:
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
    from agreements.exports import copy_sql  # it builds on this module

    check_size(queryset, max_rows=max_rows, fmt="CSV")
    if copy_sql.supports(queryset, columns):
        return copy_sql.iter_csv_copy(queryset, columns)
    return in_chunks(iter_csv(queryset, columns))
