"""The report as HTML: one Django template (reports/report.html) for the HTML download and for the PDF.

`report_context` turns the frozen data into what the template shows (labels resolved from the frozen labels, dates
written out, the actor × clause matrix pivoted); `render_html` fills the template. The PDF passes `for_pdf=True`,
which adds the page furniture (page size, running footer with page numbers) and embeds the chart and map as SVG
images instead of inline SVG, which the PDF library cannot read; everything else is the same markup.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from django.template.loader import render_to_string

from reports.document import MONTHS
from reports.rendering import charts

PATROL_WORDS = (("completed", "completed"), ("cut_short", "cut short"), ("cancelled", "cancelled"),
                ("attacked", "attacked"))  # fmt: skip

STATUS_CSS = {
    "compliant": "ok",
    "partially_compliant": "partial",
    "non_compliant": "bad",
    "not_yet_due": "pending",
    "not_assessed": "none",
}


# Embedded in the PDF (see fonts/LICENSE.txt); the HTML names the same family and lets the browser fall back.
FONTS_DIR = Path(__file__).resolve().parent / "fonts"
PDF_FONTS = {"regular": FONTS_DIR / "DejaVuSansCondensed.ttf", "bold": FONTS_DIR / "DejaVuSansCondensed-Bold.ttf"}

# A4 (595 pt) less the PDF's side margins (report.html's @page): how wide a figure can be.
PDF_CONTENT_WIDTH = 515
PX_PER_PT = 0.75


@dataclass(frozen=True)
class ReportMeta:
    """What the Report row adds to the frozen data: its id and who issued it, when, with which hash."""

    id: int | None
    sha256: str
    issued_by: str
    issued_at: str  # ISO 8601, UTC

    @property
    def issued_at_label(self) -> str:
        moment = datetime.fromisoformat(self.issued_at.replace("Z", "+00:00"))
        return f"{moment:%Y-%m-%d %H:%M} UTC"


def report_meta(report) -> ReportMeta:
    user = report.issued_by
    name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    issued_by = f"{name} ({user.get_username()})" if name else user.get_username()
    return ReportMeta(
        id=report.pk,
        sha256=report.sha256,
        issued_by=issued_by,
        issued_at=report.issued_at.isoformat().replace("+00:00", "Z"),
    )


# --- wording ------------------------------------------------------------------------------------------------------


def long_date(iso: str | None) -> str:
    if not iso:
        return ""
    day = date.fromisoformat(iso[:10])
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def when(started_at: str, ended_at: str | None, precision: str) -> str:
    """'6 May 2019', 'week of 6 May 2019', 'May 2019', '22 April 2019 – 5 May 2019 (week)' …"""
    start = date.fromisoformat(started_at[:10])
    if precision == "month":
        text = f"{MONTHS[start.month - 1]} {start.year}"
    elif precision == "week":
        text = f"week of {long_date(started_at)}"
    else:
        text = long_date(started_at)
        if precision == "exact":
            text += f", {started_at[11:16]} UTC"
    if ended_at and ended_at[:10] != started_at[:10]:
        text = f"{long_date(started_at)} – {long_date(ended_at)}"
        if precision in {"week", "month"}:
            text += f" (known to the {precision})"
    return text


def _label(labels: dict, group: str, value) -> str:
    if value is None:
        return "—"
    return labels.get(group, {}).get(str(value), str(value).replace("_", " ").capitalize())


def _zone_flag(value: bool | None) -> str:
    return {True: "Yes", False: "No"}.get(value, "Cannot tell")


def _count(value) -> str:
    return "—" if value is None else f"{value:,}"


# --- the view of the data -----------------------------------------------------------------------------------------


def _clauses(data: dict) -> list[dict]:
    labels = data["labels"]
    rows = []
    for clause in data["assessment"]["clauses"]:
        evidence = clause.get("evidence") or {}
        violations = evidence.get("violations") or {}
        patrols = evidence.get("patrols") or {}
        override = clause.get("override")
        routes = evidence.get("route_statuses") or []
        other = []
        done = [f"{patrols.get(key, 0)} {word}" for key, word in PATROL_WORDS if patrols.get(key)]
        if done:
            other.append("Patrols: " + ", ".join(done))
        other += [
            f"{r['route']}{' (' + r['segment'] + ')' if r.get('segment') else ''}: "
            f"{_label(labels, 'route_status', r['status']).lower()} on {long_date(r.get('observed_on'))}"
            for r in routes
        ]
        changes, locations = evidence.get("control_changes", 0), evidence.get("locations_changed", 0)
        if changes:
            other.append(
                f"{changes} control change{'s' if changes != 1 else ''} "
                f"({locations} location{'s' if locations != 1 else ''})"
            )
        rows.append(
            {
                "number": clause["number"],
                "title": clause["title"],
                "kind": _label(labels, "clause_kind", clause.get("kind")),
                "deadline": long_date(clause.get("deadline")) or "—",
                "deadline_state": clause.get("deadline_state"),
                "deadline_state_label": _label(labels, "deadline_state", clause.get("deadline_state")),
                "status": clause.get("status"),
                "status_label": _label(labels, "compliance_status", clause.get("status")),
                "status_css": STATUS_CSS.get(clause.get("status"), "none"),
                "score": "—" if clause.get("score") is None else clause["score"],
                "verified": violations.get("verified", 0),
                "unverified": violations.get("unverified", 0),
                "disputed": violations.get("disputed", 0),
                "other_evidence": other,
                "rule": clause.get("rule") or "",
                "override": override,
                "override_at": long_date(override.get("at")) if override else "",
                "computed_label": _label(labels, "compliance_status", clause.get("computed_status")),
                "computed_score": "—" if clause.get("computed_score") is None else clause["computed_score"],
            }
        )
    return rows


def _matrix(data: dict) -> dict:
    """The actor × clause counts pivoted: one row per actor, one column per clause that has any, then "no clause
    cited"; the row's total is the actor's DISTINCT violations (actor_totals), not the sum of its cells."""
    rows = data["violations_by_actor_clause"]
    order = [c["number"] for c in data["assessment"]["clauses"]]
    present = {row["clause"] for row in rows}
    clauses = [number for number in order if number in present]
    clauses += sorted(n for n in present if n is not None and n not in clauses)
    if None in present:
        clauses.append(None)
    totals = {line["actor"]: line["total"] for line in data["actor_totals"]}
    by_actor: dict = {}
    for row in rows:
        entry = by_actor.setdefault(row["actor"], {"name": row["name"], "cells": {}})
        entry["cells"][row["clause"]] = row
    table = []
    for actor, entry in by_actor.items():
        cells = []
        for number in clauses:
            row = entry["cells"].get(number)
            cells.append(
                {
                    "total": row["total"] if row else 0,
                    "detail": f"{row['verified']}/{row['unverified']}/{row['disputed']}" if row else "",
                }
            )
        table.append({"name": entry["name"], "cells": cells, "total": totals.get(actor, 0)})
    headers = ["No clause cited" if number is None else f"Cl. {number}" for number in clauses]
    return {"clauses": headers, "rows": table}


def _humanitarian(data: dict) -> dict:
    block = data["humanitarian"]
    estimated = [
        ("Killed", block["killed"]),
        ("of whom civilians", block["civilians_killed"]),
        ("Injured", block["injured"]),
        ("of whom civilians", block["civilians_injured"]),
    ]
    counts = [
        ("People displaced", block["displaced"]),
        ("Health facilities hit", block["health_facilities_hit"]),
        ("Education facilities hit", block["education_facilities_hit"]),
        ("Sites of displaced people hit", block["idp_sites_hit"]),
        ("Camps hit", block["camps_hit"]),
    ]
    return {
        "estimated": [
            {"label": label, "low": _count(v["low"]), "best": _count(v["best"]), "high": _count(v["high"])}
            for label, v in estimated
        ],
        "counts": [{"label": label, "value": _count(value)} for label, value in counts],
        "violations": block["violations"],
    }


def _violations(data: dict) -> list[dict]:
    labels = data["labels"]
    rows = []
    for index, v in enumerate(data["serious"], start=1):
        place = v.get("place") or (f"{v['lat']}, {v['lon']}" if v.get("lat") is not None else "—")
        if v.get("admin1") and v.get("admin1") not in place:
            place = f"{place} ({v['admin1']})"
        rows.append(
            {
                "index": index,
                "uuid": v["uuid"],
                "when": when(v["started_at"], v.get("ended_at"), v.get("time_precision", "day")),
                "place": place,
                "location_precision": _label(labels, "location_precision", v.get("location_precision")),
                "category": _label(labels, "category", v["category"]),
                "perpetrators": ", ".join(v["perpetrators"]) or "Unattributed",
                "clauses": ", ".join(v["clauses"]) or "—",
                "status": v["status"],
                "status_label": _label(labels, "violation_status", v["status"]),
                "in_zone": _zone_flag(v.get("in_zone")),
                "killed": _count(v.get("killed_best"))
                + (" (civilians; total not reported)" if v.get("killed_from_civilians") else ""),
                "description": v["description"],
                "sources": [
                    {
                        "publisher": s["publisher"],
                        "title": s["title"],
                        "url": s.get("url") or "",
                        "published_on": long_date(s.get("published_on")),
                        "grade": s["grade"],
                        "note": s.get("note") or "",
                    }
                    for s in v["sources"]
                ],
            }
        )
    return rows


def _notes(data: dict) -> list[str]:
    """What a reader must know to read the figures right: when a total stood on civilian figures."""
    notes = []
    for kind, count in (data["humanitarian"].get("from_civilians") or {}).items():
        if count:
            notes.append(
                f"{count} violation{'s' if count != 1 else ''} reported civilians {kind} but no total: the "
                f"civilian figure is the least the total can be, and the {kind} totals here count it."
            )
    return notes


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _records(data: dict) -> dict:
    """Patrols, route statuses and control changes with their words."""
    labels = data["labels"]
    return {
        "patrols": [
            {
                **p,
                "date_label": long_date(p["date"]),
                "kind_label": _label(labels, "patrol_kind", p["kind"]),
                "outcome_label": _label(labels, "patrol_outcome", p["outcome"]),
                "participants_label": ", ".join(p["participants"]) or "—",
            }
            for p in data["patrols"]
        ],
        "route_statuses": [
            {
                **r,
                "observed_label": long_date(r["observed_on"]),
                "status_label": _label(labels, "route_status", r["status"]),
            }
            for r in data["route_statuses"]
        ],
        "control_changes": [
            {
                **c,
                "date_label": long_date(c["occurred_on"]),
                "where": c["place"] or c["area_description"],
            }
            for c in data["control_changes"]
        ],
    }


def report_context(data: dict, meta: ReportMeta, *, for_pdf: bool = False) -> dict:
    labels = data["labels"]
    assessment = data["assessment"]
    percent = assessment.get("implementation_percent")
    chart, world = charts.weekly_chart_svg(data), charts.map_svg(data)
    agreement = data["agreement"]
    return {
        "pdf": for_pdf,
        "fonts": {name: path.as_posix() for name, path in PDF_FONTS.items()} if for_pdf else {},
        "data": data,
        "meta": meta,
        "title": data["title"],
        "agreement": agreement,
        "signed": ", ".join(filter(None, [long_date(agreement.get("signed_on")), agreement.get("signed_at")])),
        "parties": [
            f"{p['name']} ({_label(labels, 'party_role', p['role']).lower()})" for p in agreement.get("parties", [])
        ],
        "period": f"{long_date(data['period']['from'])} – {long_date(data['period']['to'])}",
        "actor": data.get("actor"),
        "percent": "—" if percent is None else f"{percent:.0f}%",
        "percent_value": percent,
        "scored": assessment.get("scored_clauses"),
        "clause_count": assessment.get("clause_count"),
        "clauses": _clauses(data),
        "matrix": _matrix(data),
        "status_totals": data["summary"],
        "violation_count": data["summary"]["violations"],
        "actor_totals": data["actor_totals"],
        "top_places": data["top_places"],
        "notes": _notes(data),
        "annex": data.get("annex"),
        "serious_limit": data.get("serious_limit"),
        "map_cells": bool(data["map"].get("cells")),
        "chart_svg": chart,
        "map_svg": world,
        "chart_src": _data_uri(chart) if for_pdf else "",
        "map_src": _data_uri(world) if for_pdf else "",
        "chart_size": _pdf_box(_svg_size(chart), PDF_CONTENT_WIDTH),
        "map_size": _pdf_box(_svg_size(world), PDF_CONTENT_WIDTH),
        "humanitarian": _humanitarian(data),
        **_records(data),
        "violations": _violations(data),
    }


def _svg_size(svg: str) -> tuple[int, int]:
    head = svg[: svg.index(">")]
    width = int(head.split('width="', 1)[1].split('"', 1)[0])
    height = int(head.split('height="', 1)[1].split('"', 1)[0])
    return width, height


def _pdf_box(size: tuple[int, int], width: float) -> tuple[int, int]:
    """The <img> width and height (CSS pixels, which xhtml2pdf lays out at 0.75 pt each) that draw an SVG of
    `size` units at one point per unit, shrunk to fit `width` points if it is wider."""
    scale = min(width / size[0], 1) / PX_PER_PT
    return round(size[0] * scale), round(size[1] * scale)


def render_html(data: dict, meta: ReportMeta, *, for_pdf: bool = False) -> str:
    return render_to_string("reports/report.html", report_context(data, meta, for_pdf=for_pdf))
