"""Rendering an issued report from its frozen data: PDF, HTML, CSV, XLSX, JSON.

`render(report, fmt)` is what the API, the admin and the command call; `render_data(data, meta, fmt)` renders any
frozen document (the unit tests hand it one). Nothing here reads the record: only `report.frozen_data`, the
report's own row (id, who, when, hash) and its frozen annex (`annex-csv`, `annex-xlsx`).

A report issued under schema 1 held every violation in its data; `current_schema` derives what schema 2 shows
from it (its list is its "most serious"), so it renders as it always could.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from reports.rendering.annex import annex_csv, annex_xlsx
from reports.rendering.html import ReportMeta, render_html, report_meta
from reports.rendering.pdf import render_pdf
from reports.rendering.tables import clauses_csv, report_xlsx

FORMATS = ("pdf", "html", "csv", "xlsx", "json")  # the formats of the report itself (the one home of this list)
ANNEX_FORMATS = ("annex-csv", "annex-xlsx")  # every violation, frozen beside the report (schema 2 on)
DOWNLOADS = FORMATS + ANNEX_FORMATS

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
CONTENT_TYPES["annex-csv"], CONTENT_TYPES["annex-xlsx"] = CONTENT_TYPES["csv"], CONTENT_TYPES["xlsx"]


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
    suffix = fmt.replace("annex-", "annex.")
    return f"{data['agreement']['slug']}{actor}-{data['period']['from']}-{data['period']['to']}{number}.{suffix}"


def current_schema(data: dict) -> dict:
    """Schema 1 (every violation in the data) read as schema 2; schema 2 as it is."""
    if data.get("schema", 1) >= 2:
        return data
    violations = data.get("violations", [])
    statuses = Counter(v["status"] for v in violations)
    per_actor: dict[str, Counter] = {}
    for v in violations:
        for name in v["perpetrators"]:
            per_actor.setdefault(name, Counter())[v["status"]] += 1
    return {
        **data,
        "summary": {
            "violations": len(violations),
            **{word: statuses[word] for word in ("verified", "unverified", "disputed")},
            "unattributed": sum(1 for v in violations if not v["perpetrators"]),
            "no_clause_cited": sum(1 for v in violations if not v["clauses"]),
        },
        "actor_totals": [
            {
                "actor": name,
                "name": name,
                **{w: c[w] for w in ("verified", "unverified", "disputed")},
                "total": sum(c.values()),
            }
            for name, c in sorted(per_actor.items())
        ],
        "top_places": [],
        "serious": violations,
        "serious_limit": None,
        "humanitarian": {**data["humanitarian"], "from_civilians": {}},
    }


def render_data(data: dict, meta: ReportMeta, fmt: str) -> Rendered:
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}; choose from {', '.join(FORMATS)}.")
    if fmt != "json":  # the JSON is the frozen data as hashed, whatever its schema
        data = current_schema(data)
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
    """Render an issued `reports.models.Report` from its frozen data (and its frozen annex)."""
    meta = report_meta(report)
    if fmt not in ANNEX_FORMATS:
        return render_data(report.frozen_data, meta, fmt)
    if not report.frozen_data.get("annex") or not report.annex:
        raise ValueError("This report was issued before reports had an annex: its violations are in the report.")
    if fmt == "annex-csv":
        content = annex_csv(report)
    else:
        issued = datetime.fromisoformat(meta.issued_at.replace("Z", "+00:00")).replace(tzinfo=None)
        content = annex_xlsx(report, issued)
    return Rendered(content=content, content_type=CONTENT_TYPES[fmt], filename=filename(report.frozen_data, meta, fmt))
