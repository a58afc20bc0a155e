"""The annex downloads: the frozen CSV as stored, and the same rows typed in a workbook.

The XLSX is made from the frozen CSV (never from the record), row by row, so it holds exactly what was frozen:
instants as dates (UTC), numbers as numbers, true/false as booleans; header frozen, autofilter, widths set.
"""

from __future__ import annotations

import codecs
import csv
import io
from datetime import datetime

from openpyxl import Workbook

from reports.annex import ANNEX_COLUMNS
from reports.rendering.tables import Column, _cell, new_sheet

COLUMNS = tuple(Column(header, lambda row: None, kind) for header, kind in ANNEX_COLUMNS)


def _typed(text: str, kind: str):
    if text == "":
        return None
    if kind == "number":
        return float(text) if "." in text else int(text)
    if kind == "boolean":
        return text == "true"
    if kind == "text" and text.startswith("'") and text[1:2] in ("=", "+", "-", "@"):
        text = text[1:]  # the CSV's formula escape; the XLSX writer applies its own
    return _cell(text, kind)


def annex_csv(report) -> bytes:
    with report.annex.open("rb") as stored:
        return stored.read()


def annex_xlsx(report, issued: datetime) -> bytes:
    rows = report.frozen_data["annex"]["rows"]
    workbook = Workbook(write_only=True)
    sheet = new_sheet(workbook, "Annex", COLUMNS, rows)
    with report.annex.open("rb") as stored:
        reader = csv.reader(codecs.getreader("utf-8-sig")(stored))
        next(reader)  # the header, written by new_sheet
        for line in reader:
            sheet.append([_typed(text, column.kind) for text, column in zip(line, COLUMNS, strict=True)])
    workbook.properties.title = f"{report.frozen_data['title']}: annex"
    workbook.properties.created = workbook.properties.modified = issued
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
