"""Reading a table — CSV or XLSX, told apart by content — row by row, so a file of any length is read in bounded
memory; and telling its layout (ours or ACLED-style) from its header row."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import load_workbook

from agreements import acled, exports
from agreements.importing.results import ACLED, LAYOUT_NAMES, OURS

OUR_HEADERS = {column.header for column in exports.VIOLATION_COLUMNS}
OUR_REQUIRED = ("started_at", "category", "description")
_ENCODING_PROBE = 1 << 20  # bytes decoded at a time while checking that a CSV is UTF-8


@dataclass
class Table:
    """A file's header row, an iterator over its non-blank data rows [(row number, values)], how many there are
    (for progress; an XLSX gives its sheet's rows, blank ones included, or 0 when it does not say), and what
    reading it noticed."""

    headers: list[str]
    rows: Iterator[tuple[int, list[Any]]]
    total: int
    warnings: list[str] = field(default_factory=list)


@contextmanager
def open_binary(file):
    """A seekable binary stream over `file`: a path, bytes, or a binary file object (rewound, not closed)."""
    if isinstance(file, (str, Path)):
        with Path(file).open("rb") as stream:
            yield stream
        return
    if isinstance(file, bytes):
        yield io.BytesIO(file)
        return
    if hasattr(file, "seek"):
        file.seek(0)
    yield file


@contextmanager
def read_table(stream: BinaryIO):
    """Yields the Table of a CSV or XLSX stream. Raises ValueError when the file can be read as neither.

    XLSX is recognised by its content (a zip archive), whatever the file is called."""
    start = stream.read(4)
    stream.seek(0)
    if start == b"PK\x03\x04":
        with _xlsx(stream) as table:
            yield table
    else:
        yield _csv(stream)


def _is_utf8(stream: BinaryIO) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    stream.seek(0)
    try:
        while chunk := stream.read(_ENCODING_PROBE):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _records(stream: BinaryIO, encoding: str) -> Iterator[list[str]]:
    stream.seek(0)
    # newline="": only \r and \n end a line, as the csv module expects (a \u2028 inside a cell stays in it).
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")
    try:
        first = text.readline()
        if "\x00" in first:
            raise ValueError("This is not a CSV or XLSX file.")
        delimiter = max(",;\t", key=first.split("\n", 1)[0].count) if first else ","
        yield from csv.reader(_chain_first(first, text), delimiter=delimiter)
    except csv.Error as exc:
        raise ValueError(f"The CSV cannot be read: {exc}.") from exc
    finally:
        if not stream.closed:
            text.detach()  # the stream is the caller's: closing the wrapper must not close it


def _chain_first(first: str, text) -> Iterator[str]:
    if first:
        yield first
    yield from text


def _data_rows(records: Iterator[list[str]]) -> Iterator[tuple[int, list[Any]]]:
    for number, values in enumerate(records, start=2):
        if "\x00" in "".join(values):
            raise ValueError("This is not a CSV or XLSX file.")
        if any(value.strip() for value in values):
            yield number, values


def _csv(stream: BinaryIO) -> Table:
    warnings = []
    encoding = "utf-8-sig"
    if not _is_utf8(stream):
        encoding = "cp1252"
        warnings.append("The file is not UTF-8; it was read as Windows-1252 (check accented names).")
    # A first pass counts the rows (for progress, and to fail on an unreadable CSV before anything is written).
    records = _records(stream, encoding)
    headers = next(records, [])
    total = sum(1 for _ in _data_rows(records))
    records = _records(stream, encoding)
    next(records, None)
    return Table(headers=headers, rows=_data_rows(records), total=total, warnings=warnings)


@contextmanager
def _xlsx(stream: BinaryIO):
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, key errors) for a damaged workbook
        raise ValueError(f"The XLSX workbook cannot be read: {exc}.") from exc
    try:
        sheet = workbook["Violations"] if "Violations" in workbook.sheetnames else workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        headers = ["" if value is None else str(value) for value in (first or ())]

        def data() -> Iterator[tuple[int, list[Any]]]:
            for number, values in enumerate(rows, start=2):
                if any(value is not None and str(value).strip() for value in values):
                    yield number, list(values)

        yield Table(headers=headers, rows=data(), total=max(0, (sheet.max_row or 1) - 1))
    finally:
        workbook.close()


def header_key(header) -> str:
    return str(header or "").strip().lstrip("\ufeff").strip().lower()


def detect_layout(headers: Iterable[str]) -> tuple[str | None, list[str], list[str]]:
    """(layout, errors, warnings) for a header row: ours, ACLED-style, or None when neither fits."""
    names = [header_key(header) for header in headers]
    present = set(names)
    errors: list[str] = []
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        errors.append(f"Columns given more than once: {', '.join(repeated)}.")
    if "event_date" in present:
        layout, required, known = ACLED, acled.ACLED_REQUIRED, acled.ACLED_READ | acled.ACLED_NOT_READ
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
