"""The report's chart and map, drawn from the frozen data as SVG text: no plotting library, no map tiles, no network.

The HTML report puts the SVG inline; the PDF embeds the same SVG as an image, which svglib turns into vector
drawing (so the PDF's chart and map stay sharp, and their words can be searched and copied).

- `weekly_chart_svg`: violations per week, one stacked bar per week, one colour per alleged perpetrator.
- `map_svg`: the agreement's zones and the period's incidents, on an equirectangular projection (longitudes
  shrunk by the cosine of the middle latitude) fitted to the box around zones and incidents, with a graticule
  and a scale bar. Incidents are coloured by review status; one placed only at district or governorate level is
  drawn hollow, since its point is a centroid, not where it happened.
"""

from __future__ import annotations

import math
from collections import defaultdict
from xml.sax.saxutils import escape, quoteattr

FONT = "DejaVu Sans Condensed, DejaVu Sans, Helvetica, Arial, sans-serif"

# Okabe–Ito, readable by colour-blind readers; actors beyond eight reuse them (the legend still names each).
ACTOR_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#999933", "#000000")
UNATTRIBUTED_COLOUR = "#9a9a9a"

STATUS_COLOURS = {"verified": "#B2182B", "unverified": "#EF8A62", "disputed": "#6A51A3"}
STATUS_ORDER = ("verified", "unverified", "disputed")

ZONE_STYLES = {
    # kind: (fill, fill opacity, stroke, dash)
    "de_escalation_area": ("#D9EAD3", 0.7, "#6A8F5B", ""),
    "demilitarised_zone": ("#F4B183", 0.55, "#C0504D", "5,3"),
    "buffer_zone": ("#F4B183", 0.55, "#C0504D", "5,3"),
    "security_corridor": ("#FFE699", 0.6, "#BF9000", "5,3"),
    "other": ("#DDDDDD", 0.5, "#777777", "2,2"),
}
APPROXIMATE_PRECISIONS = ("district", "region")
CELL_MAX_RADIUS = 14  # points: the grid cell with the most incidents
MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _text(x: float, y: float, content: str, *, size: float = 9, anchor: str = "start", weight: str = "normal",
          fill: str = "#222222") -> str:  # fmt: skip
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-family={quoteattr(FONT)} font-size="{size}" '
        f'text-anchor="{anchor}" font-weight="{weight}" fill="{fill}">{escape(content)}</text>'
    )


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label={quoteattr(label)}>'
        f"<title>{escape(label)}</title>" + "".join(body) + "</svg>"
    )


def _short_date(iso: str) -> str:
    _, month, day = (int(part) for part in iso.split("-"))
    return f"{day} {MONTH_ABBREVIATIONS[month - 1]}"


def _nice_step(maximum: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if maximum / step <= 6:
            return step
    return 10 ** len(str(maximum))


def actor_colours(weekly: list[dict]) -> list[tuple[str | None, str, str, int]]:
    """[(actor slug, name, colour, total)] in the order bars stack and the legend reads: most violations first."""
    totals: dict[str | None, int] = defaultdict(int)
    names: dict[str | None, str] = {}
    for row in weekly:
        totals[row["actor"]] += row["count"]
        names[row["actor"]] = row["name"]
    order = sorted(totals, key=lambda slug: (slug is None, -totals[slug], names[slug].casefold()))
    colours, index = [], 0
    for slug in order:
        if slug is None:
            colour = UNATTRIBUTED_COLOUR
        else:
            colour = ACTOR_COLOURS[index % len(ACTOR_COLOURS)]
            index += 1
        colours.append((slug, names[slug], colour, totals[slug]))
    return colours


def weekly_chart_svg(data: dict, *, width: int = 515) -> str:
    """Stacked bars of violations per week by alleged perpetrator, with the legend beside them."""
    weeks: list[str] = data.get("weeks") or sorted({row["week"] for row in data["weekly_by_actor"]})
    weekly = data["weekly_by_actor"]
    actors = actor_colours(weekly)
    counts = {(row["week"], row["actor"]): row["count"] for row in weekly}
    week_totals = {week: sum(counts.get((week, slug), 0) for slug, *_ in actors) for week in weeks}
    top = max([*week_totals.values(), 1])
    step = _nice_step(top)
    ceiling = math.ceil(top / step) * step

    legend_width = 160
    left, right, top_pad, bottom = 34, legend_width + 16, 14, 40
    legend_rows = max(len(actors), 1)
    height = max(220, top_pad + legend_rows * 16 + 30)
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    body = [f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']

    for tick in range(0, ceiling + 1, step):
        y = top_pad + plot_h - plot_h * tick / ceiling
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e3e3e3" stroke-width="0.8"/>'
        )
        body.append(_text(left - 5, y + 3, str(tick), size=8, anchor="end", fill="#555555"))

    slot = plot_w / max(len(weeks), 1)
    bar = min(slot * 0.7, 46)
    label_every = math.ceil(36 / slot)  # a date label needs about 36 units: thin them out on long periods
    for index, week in enumerate(weeks):
        x = left + slot * index + (slot - bar) / 2
        y = top_pad + plot_h
        for slug, name, colour, _ in actors:
            count = counts.get((week, slug), 0)
            if not count:
                continue
            h = plot_h * count / ceiling
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}" '
                f'stroke="#ffffff" stroke-width="0.6"><title>{escape(f"{name}: {count}")}</title></rect>'
            )
        if week_totals[week] and label_every == 1:
            body.append(_text(x + bar / 2, y - 3, str(week_totals[week]), size=8, anchor="middle", weight="bold"))
        if index % label_every == 0:
            body.append(_text(x + bar / 2, top_pad + plot_h + 13, _short_date(week), size=8, anchor="middle"))
    body.append(
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" '
        f'stroke="#555555" stroke-width="1"/>'
    )
    body.append(_text(left + plot_w / 2, height - 8, "Week beginning (Monday)", size=8, anchor="middle", fill="#555"))

    lx = width - legend_width
    body.append(_text(lx, top_pad + 4, "Alleged perpetrator (violations)", size=8, weight="bold"))
    if not actors:
        body.append(_text(left + plot_w / 2, top_pad + plot_h / 2, "No violations in the period", anchor="middle"))
    for row, (_, name, colour, total) in enumerate(actors):
        y = top_pad + 14 + row * 16
        body.append(f'<rect x="{lx}" y="{y}" width="10" height="10" fill="{colour}"/>')
        body.append(_text(lx + 15, y + 9, _clip(f"{name} ({total})", 34), size=8.5))
    return _svg(width, height, body, "Violations per week by alleged perpetrator")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the map ------------------------------------------------------------------------------------------------------


def _rings(geometry: dict) -> list[list[list[float]]]:
    """Every ring (outer and holes) of a Polygon or MultiPolygon."""
    if geometry.get("type") == "Polygon":
        return list(geometry["coordinates"])
    if geometry.get("type") == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


def _bbox_area(geometry: dict) -> float:
    points = [p for ring in _rings(geometry) for p in ring]
    if not points:
        return 0.0
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return (max(lons) - min(lons)) * (max(lats) - min(lats))


class Projection:
    """Equirectangular: x grows with longitude × cos(middle latitude), y with falling latitude, fitted to a box."""

    def __init__(self, lons: list[float], lats: list[float], *, width: float, max_height: float, pad: float):
        self.min_lon, self.max_lon = min(lons), max(lons)
        self.min_lat, self.max_lat = min(lats), max(lats)
        # Never narrower than ~0.2° (a single incident, or a tiny zone, still gets some surroundings).
        grow_lon = max(0.2 - (self.max_lon - self.min_lon), 0) / 2 + (self.max_lon - self.min_lon) * 0.04
        grow_lat = max(0.2 - (self.max_lat - self.min_lat), 0) / 2 + (self.max_lat - self.min_lat) * 0.04
        self.min_lon, self.max_lon = self.min_lon - grow_lon, self.max_lon + grow_lon
        self.min_lat, self.max_lat = self.min_lat - grow_lat, self.max_lat + grow_lat
        self.cos = math.cos(math.radians((self.min_lat + self.max_lat) / 2))
        span_x = (self.max_lon - self.min_lon) * self.cos
        span_y = self.max_lat - self.min_lat
        self.scale = min((width - 2 * pad) / span_x, (max_height - 2 * pad) / span_y)
        self.width = width
        self.height = span_y * self.scale + 2 * pad
        self.pad_x = (width - span_x * self.scale) / 2
        self.pad_y = pad

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            self.pad_x + (lon - self.min_lon) * self.cos * self.scale,
            self.pad_y + (self.max_lat - lat) * self.scale,
        )

    def km_per_px(self) -> float:
        return 111.32 / self.scale


def _graticule_step(span: float) -> float:
    for step in (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10):
        if span / step <= 6:
            return step
    return 20


def _degrees(value: float, positive: str, negative: str) -> str:
    hemisphere = positive if value >= 0 else negative
    return f"{abs(value):g}°{hemisphere}"


def _scale_bar(project: Projection, body: list[str]) -> None:
    target_km = project.km_per_px() * project.width * 0.18
    km = next((n for n in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000) if n >= target_km), 1000)
    length = km / project.km_per_px()
    x, y = 12, project.height - 14
    body.append(f'<rect x="{x - 4}" y="{y - 13}" width="{length + 40}" height="20" fill="#ffffff" fill-opacity="0.8"/>')
    body.append(f'<line x1="{x}" y1="{y}" x2="{x + length:.1f}" y2="{y}" stroke="#222222" stroke-width="2"/>')
    body.append(f'<line x1="{x}" y1="{y - 4}" x2="{x}" y2="{y + 2}" stroke="#222222" stroke-width="1"/>')
    body.append(
        f'<line x1="{x + length:.1f}" y1="{y - 4}" x2="{x + length:.1f}" y2="{y + 2}" stroke="#222222" '
        f'stroke-width="1"/>'
    )
    body.append(_text(x + length + 5, y + 3, f"{km} km", size=8))


def map_svg(data: dict, *, width: int = 515, max_height: int = 560) -> str:
    """The agreement's zones and the period's incidents (see the module's docstring)."""
    zones = sorted(data["map"]["zones"], key=lambda zone: -_bbox_area(zone["geometry"]))
    incidents = data["map"]["incidents"]
    cells = data["map"].get("cells") or []
    points = [p for zone in zones for ring in _rings(zone["geometry"]) for p in ring]
    points += [(i["lon"], i["lat"]) for i in incidents] + [(c["lon"], c["lat"]) for c in cells]
    label = "Map of the zones and the period's incidents"
    if not points:
        body = [
            f'<rect x="0" y="0" width="{width}" height="80" fill="#f7f7f7" stroke="#cccccc"/>',
            _text(width / 2, 44, "No zones and no located incidents to map", anchor="middle"),
        ]
        return _svg(width, 80, body, label)

    project = Projection([p[0] for p in points], [p[1] for p in points], width=width, max_height=max_height, pad=18)
    height = project.height
    body = [f'<rect x="0" y="0" width="{width}" height="{height:.0f}" fill="#F4F8FB"/>']

    step = _graticule_step(max(project.max_lon - project.min_lon, project.max_lat - project.min_lat))
    lon = math.ceil(project.min_lon / step) * step
    while lon <= project.max_lon:
        x, _ = project(lon, project.max_lat)
        body.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height:.0f}" stroke="#d5dde5" stroke-width="0.6"/>')
        body.append(_text(x + 2, 10, _degrees(round(lon, 4), "E", "W"), size=7, fill="#7a8a99"))
        lon += step
    lat = math.ceil(project.min_lat / step) * step
    while lat <= project.max_lat:
        _, y = project(project.min_lon, lat)
        body.append(f'<line x1="0" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="#d5dde5" stroke-width="0.6"/>')
        body.append(_text(width - 3, y - 2, _degrees(round(lat, 4), "N", "S"), size=7, anchor="end", fill="#7a8a99"))
        lat += step

    for zone in zones:
        fill, opacity, stroke, dash = ZONE_STYLES.get(zone["kind"], ZONE_STYLES["other"])
        path = " ".join(
            "M " + " L ".join(f"{x:.1f},{y:.1f}" for x, y in (project(p[0], p[1]) for p in ring)) + " Z"
            for ring in _rings(zone["geometry"])
        )
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        body.append(
            f'<path d="{path}" fill="{fill}" fill-opacity="{opacity}" fill-rule="evenodd" stroke="{stroke}" '
            f'stroke-width="1.2"{dashes}><title>{escape(zone["name"])}</title></path>'
        )

    _draw_incidents(project, incidents, body)
    _draw_cells(project, cells, body)
    _scale_bar(project, body)
    body.append(f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1:.0f}" fill="none" stroke="#999999"/>')

    legend, legend_height = _map_legend(zones, width, height)
    return _svg(width, height + legend_height, body + legend, label)


def _draw_incidents(project: Projection, incidents: list[dict], body: list[str]) -> None:
    """One marker per incident; incidents at the same point sit side by side, labelled once with the place."""
    groups: dict[tuple[float, float], list[dict]] = defaultdict(list)
    for incident in incidents:
        groups[(round(incident["lon"], 4), round(incident["lat"], 4))].append(incident)
    radius, gap = 4.2, 9.5
    for (lon, lat), group in sorted(groups.items(), key=lambda item: (-item[0][1], item[0][0])):
        group.sort(key=lambda i: (STATUS_ORDER.index(i["status"]) if i["status"] in STATUS_ORDER else 9, i["uuid"]))
        cx, cy = project(lon, lat)
        first = cx - gap * (len(group) - 1) / 2
        for index, incident in enumerate(group):
            x = first + gap * index
            colour = STATUS_COLOURS.get(incident["status"], "#444444")
            title = escape(f"{incident.get('place') or ''} — {incident['category']} — {incident['status']}")
            if incident.get("precision") in APPROXIMATE_PRECISIONS:
                body.append(
                    f'<circle cx="{x:.1f}" cy="{cy:.1f}" r="{radius}" fill="#ffffff" stroke="{colour}" '
                    f'stroke-width="1.8" stroke-dasharray="2,1.5"><title>{title}</title></circle>'
                )
            else:
                body.append(
                    f'<circle cx="{x:.1f}" cy="{cy:.1f}" r="{radius}" fill="{colour}" stroke="#ffffff" '
                    f'stroke-width="1"><title>{title}</title></circle>'
                )
        place = group[0].get("place") or f"{lat:g}, {lon:g}"
        count = f" ({len(group)})" if len(group) > 1 else ""
        body.append(_text(first + gap * (len(group) - 1) + 8, cy + 3, f"{place}{count}", size=8, weight="bold"))


def _draw_cells(project: Projection, cells: list[dict], body: list[str]) -> None:
    """Many incidents: one circle per grid cell, its area in proportion to the incidents in it (the largest at
    CELL_MAX_RADIUS), coloured by the share of them verified, the count written on the larger ones."""
    if not cells:
        return
    largest = max(cell["count"] for cell in cells)
    for cell in sorted(cells, key=lambda c: -c["count"]):
        x, y = project(cell["lon"], cell["lat"])
        radius = max(1.5, CELL_MAX_RADIUS * math.sqrt(cell["count"] / largest))
        colour = STATUS_COLOURS["verified"] if cell["verified"] * 2 >= cell["count"] else STATUS_COLOURS["unverified"]
        title = escape(f"{cell['count']} incidents, {cell['verified']} verified")
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="{colour}" fill-opacity="0.55" '
            f'stroke="#ffffff" stroke-width="0.6"><title>{title}</title></circle>'
        )
        if radius >= 7:
            body.append(_text(x, y + 3, str(cell["count"]), size=7, anchor="middle", weight="bold"))


def _map_legend(zones: list[dict], width: float, top: float) -> tuple[list[str], float]:
    body, y = [], top + 16
    x = 4
    for status in STATUS_ORDER:
        body.append(f'<circle cx="{x + 5}" cy="{y - 3}" r="4.2" fill="{STATUS_COLOURS[status]}"/>')
        body.append(_text(x + 13, y, status.capitalize(), size=8.5))
        x += 78
    body.append(
        f'<circle cx="{x + 5}" cy="{y - 3}" r="4.2" fill="#ffffff" stroke="#444444" stroke-width="1.5" '
        f'stroke-dasharray="2,1.5"/>'
    )
    body.append(_text(x + 13, y, "Hollow: placed only at district or governorate level", size=8.5))
    y += 16
    x = 4
    for zone in sorted(zones, key=lambda z: z["name"]):
        fill, opacity, stroke, dash = ZONE_STYLES.get(zone["kind"], ZONE_STYLES["other"])
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        text = f"{zone['name']} ({zone['precision']})"
        body.append(
            f'<rect x="{x}" y="{y - 9}" width="14" height="10" fill="{fill}" fill-opacity="{opacity}" '
            f'stroke="{stroke}"{dashes}/>'
        )
        body.append(_text(x + 19, y, text, size=8.5))
        x += 24 + 5.2 * len(text)
        if x > width - 150:
            x, y = 4, y + 16
    return body, y - top + 8
