"""Rendering an issued report from its frozen data: PDF, HTML, CSV, XLSX, JSON.

`render(report, fmt)` is what the API, the admin and the command call; `render_data(data, meta, fmt)` renders any
frozen document (the unit tests hand it one). Nothing here reads the record: only `report.frozen_data` and the
report's own row (id, who, when, hash).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from reports.rendering.html import ReportMeta, render_html, report_meta
from reports.rendering.pdf import render_pdf
from reports.rendering.tables import clauses_csv, report_xlsx

FORMATS = ("pdf", "html", "csv", "xlsx", "json")

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


@dataclass(frozen=True)
class Rendered:
    content: bytes
    content_type: str
    filename: str


def report_json(data: dict, meta: ReportMeta) -> bytes:
    """The frozen data under "data", with the report's id, who issued it, when, and the SHA-256 of "data"."""
    document = {
        "report": meta.id,
        "title": data["title"],
        "issued_by": meta.issued_by,
        "issued_at": meta.issued_at,
        "sha256": meta.sha256,
        "sha256_of": "data, serialised as JSON with sorted keys, separators ',' and ':', non-ASCII as is, UTF-8",
        "data": data,
    }
    return (json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def filename(data: dict, meta: ReportMeta, fmt: str) -> str:
    """'sochi-2018-2019-05-01-2019-05-31-report-12.pdf' (ASCII: the slug, the dates and the id)."""
    actor = f"-{data['actor']['slug']}" if data.get("actor") else ""
    number = f"-report-{meta.id}" if meta.id else ""
    return f"{data['agreement']['slug']}{actor}-{data['period']['from']}-{data['period']['to']}{number}.{fmt}"


def render_data(data: dict, meta: ReportMeta, fmt: str) -> Rendered:
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}; choose from {', '.join(FORMATS)}.")
    if fmt == "pdf":
        content = render_pdf(data, meta)
    elif fmt == "html":
        content = render_html(data, meta).encode("utf-8")
    elif fmt == "csv":
        content = clauses_csv(data, meta)
    elif fmt == "xlsx":
        content = report_xlsx(data, meta)
    else:
        content = report_json(data, meta)
    return Rendered(content=content, content_type=CONTENT_TYPES[fmt], filename=filename(data, meta, fmt))


def render(report, fmt: str) -> Rendered:
    """Render an issued `reports.models.Report` from its frozen data."""
    return render_data(report.frozen_data, report_meta(report), fmt)
