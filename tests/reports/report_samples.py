"""A frozen report document written by hand, shaped as `reports.document.report_data` returns it (schema 1), so the
renderers can be tested without the record or the assessment engine."""

from __future__ import annotations

import copy

from reports.document import frozen_labels
from reports.rendering.html import ReportMeta

SQUARE = {"type": "Polygon", "coordinates": [[[36.0, 35.0], [37.0, 35.0], [37.0, 36.0], [36.0, 36.0], [36.0, 35.0]]]}
BAND = {
    "type": "Polygon",
    "coordinates": [[[36.2, 35.2], [36.8, 35.2], [36.8, 35.5], [36.2, 35.5], [36.2, 35.2]]],
}


def _evidence(verified=0, unverified=0, disputed=0, *, by_actor=(), patrols=None, routes=(), changes=0, locations=0):
    return {
        "violations": {
            "verified": verified,
            "unverified": unverified,
            "disputed": disputed,
            "by_actor": list(by_actor),
        },
        "patrols": patrols or {"completed": 0, "cut_short": 0, "cancelled": 0, "attacked": 0},
        "route_statuses": list(routes),
        "control_changes": changes,
        "locations_changed": locations,
    }


def _clause(number, title, kind, status, score, deadline=None, deadline_state="no_deadline", **evidence):
    return {
        "id": int(number),
        "number": number,
        "title": title,
        "kind": kind,
        "deadline": deadline,
        "deadline_state": deadline_state,
        "status": status,
        "score": score,
        "computed_status": status,
        "computed_score": score,
        "rule": f"Rule for clause {number}.",
        "override": None,
        "evidence": _evidence(**evidence),
    }


CLAUSES = [
    _clause(
        "2",
        "Russia prevents military operations on Idlib; status quo kept",
        "status_quo",
        "non_compliant",
        0,
        verified=1,
        unverified=2,
        by_actor=[{"actor": "army", "name": "Syrian Arab Army", "verified": 1, "unverified": 1, "disputed": 0}],
        changes=2,
        locations=21,
    ),
    _clause("3", "Demilitarised zone 15–20 km deep", "demilitarised_zone", "partially_compliant", 1, unverified=1),
    _clause(
        "6",
        "Heavy weapons out of the zone by 10 October 2018",
        "weapons_withdrawal",
        "compliant",
        3,
        deadline="2018-10-10",
        deadline_state="met",
    ),
    _clause(
        "7",
        "Coordinated patrols and drone monitoring",
        "patrols",
        "not_assessed",
        None,
        patrols={"completed": 1, "cut_short": 0, "cancelled": 1, "attacked": 1},
    ),
    _clause(
        "8",
        "M4 and M5 transit restored by the end of 2018",
        "route_opening",
        "not_yet_due",
        None,
        deadline="2018-12-31",
        deadline_state="overdue",
        routes=[{"route": "M4", "segment": "", "status": "closed", "observed_on": "2018-12-31"}],
    ),
]
CLAUSES[1]["override"] = {
    "status": "partially_compliant",
    "score": 1,
    "rationale": "Lines never published; judged on the approximate band.",
    "by": "analyst",
    "at": "2019-06-02T10:00:00Z",
}
CLAUSES[1]["computed_status"] = "non_compliant"
CLAUSES[1]["computed_score"] = 0


def _violation(uuid, started_at, status, perpetrators, clauses, place, lon, lat, **extra):
    row = {
        "uuid": uuid,
        "started_at": started_at,
        "ended_at": None,
        "time_precision": "day",
        "category": "shelling",
        "place": place,
        "admin1": "Hama",
        "lon": lon,
        "lat": lat,
        "location_precision": "town",
        "perpetrators": perpetrators,
        "clauses": clauses,
        "status": status,
        "in_zone": True,
        "killed_best": None,
        "civilians_killed_best": None,
        "injured_best": None,
        "description": "Shelling reported.",
        "sources": [
            {
                "publisher": "Example Wire",
                "title": "Report",
                "url": "https://news.example.org/report",
                "published_on": "2019-05-07",
                "kind": "news_report",
                "grade": "C3",
                "note": "",
            }
        ],
    }
    row.update(extra)
    return row


VIOLATIONS = [
    _violation(
        "00000000-0000-4000-8000-000000000001",
        "2019-05-06T00:00:00Z",
        "verified",
        ["Syrian Arab Army"],
        ["2", "3"],
        "Kafr Nabudah",
        36.52,
        35.43,
        killed_best=12,
        category="ground_assault",
    ),
    _violation(
        "00000000-0000-4000-8000-000000000002",
        "2019-05-21T00:00:00Z",
        "unverified",
        ["Hayat Tahrir al-Sham", "National Front for Liberation"],
        ["2"],
        "Kafr Nabudah",
        36.52,
        35.43,
        description='=HYPERLINK("http://evil.example") counter-attack at night',
    ),
    _violation(
        "00000000-0000-4000-8000-000000000003",
        "2019-05-01T00:00:00Z",
        "disputed",
        ["Syrian Arab Army"],
        ["2"],
        "Idlib Governorate",
        36.62,
        35.8,
        location_precision="region",
        in_zone=None,
        ended_at="2019-05-16T00:00:00Z",
        time_precision="week",
    ),
]


FROZEN = {
    "schema": 1,
    "title": "Compliance with the Sochi memorandum, 1–31 May 2019",
    "agreement": {
        "slug": "sochi-2018",
        "title": "Memorandum on Stabilization of the Situation in the Idlib De-escalation Area",
        "short_title": "Sochi memorandum",
        "signed_on": "2018-09-17",
        "signed_at": "Sochi",
        "parties": [
            {"actor": "russia", "name": "Russian Federation", "role": "signatory"},
            {"actor": "turkey", "name": "Republic of Türkiye", "role": "guarantor"},
        ],
    },
    "period": {"from": "2019-05-01", "to": "2019-05-31", "label": "1–31 May 2019"},
    "actor": None,
    "assessment": {
        "agreement": {"slug": "sochi-2018", "title": "Memorandum on Stabilization"},
        "period": {"from": "2019-05-01", "to": "2019-05-31"},
        "actor": None,
        "implementation_percent": 44.4,
        "scored_clauses": 3,
        "clause_count": 5,
        "clauses": CLAUSES,
    },
    "violations_by_actor_clause": [
        {
            "actor": "hts",
            "name": "Hayat Tahrir al-Sham",
            "clause": "2",
            "clause_title": "Status quo",
            "verified": 0,
            "unverified": 1,
            "disputed": 0,
            "total": 1,
        },
        {
            "actor": "nfl",
            "name": "National Front for Liberation",
            "clause": "2",
            "clause_title": "Status quo",
            "verified": 0,
            "unverified": 1,
            "disputed": 0,
            "total": 1,
        },
        {
            "actor": "army",
            "name": "Syrian Arab Army",
            "clause": "2",
            "clause_title": "Status quo",
            "verified": 1,
            "unverified": 0,
            "disputed": 1,
            "total": 2,
        },
        {
            "actor": "army",
            "name": "Syrian Arab Army",
            "clause": "3",
            "clause_title": "DMZ",
            "verified": 1,
            "unverified": 0,
            "disputed": 0,
            "total": 1,
        },
    ],
    "weeks": ["2019-04-29", "2019-05-06", "2019-05-13", "2019-05-20", "2019-05-27"],
    "weekly_by_actor": [
        {"week": "2019-04-29", "actor": "army", "name": "Syrian Arab Army", "count": 1},
        {"week": "2019-05-06", "actor": "army", "name": "Syrian Arab Army", "count": 1},
        {"week": "2019-05-20", "actor": "hts", "name": "Hayat Tahrir al-Sham", "count": 1},
        {"week": "2019-05-20", "actor": "nfl", "name": "National Front for Liberation", "count": 1},
    ],
    "map": {
        "zones": [
            {
                "slug": "area",
                "name": "De-escalation area",
                "kind": "de_escalation_area",
                "precision": "approximate",
                "geometry": SQUARE,
            },
            {"slug": "dmz", "name": "DMZ", "kind": "demilitarised_zone", "precision": "approximate", "geometry": BAND},
        ],
        "incidents": [
            {
                "uuid": v["uuid"],
                "lon": v["lon"],
                "lat": v["lat"],
                "status": v["status"],
                "category": v["category"],
                "in_zone": v["in_zone"],
                "precision": v["location_precision"],
                "place": v["place"],
            }
            for v in VIOLATIONS
        ],
    },
    "humanitarian": {
        "killed": {"low": 10, "best": 12, "high": 15},
        "civilians_killed": {"low": None, "best": 4, "high": None},
        "injured": {"low": None, "best": None, "high": None},
        "civilians_injured": {"low": None, "best": None, "high": None},
        "displaced": 200000,
        "health_facilities_hit": 20,
        "education_facilities_hit": None,
        "idp_sites_hit": 3,
        "camps_hit": 1,
        "violations": 3,
    },
    "patrols": [
        {
            "date": "2019-05-10",
            "date_precision": "day",
            "kind": "coordinated",
            "participants": ["Russian Military Police", "Turkish Armed Forces"],
            "route": "Along the DMZ",
            "outcome": "attacked",
            "clause": "7",
            "incidents": 1,
        }
    ],
    "route_statuses": [
        {
            "route": "M4",
            "segment": "",
            "status": "closed",
            "observed_on": "2018-12-31",
            "before_period": True,
            "clause": "8",
            "source": None,
            "notes": "Not reopened by the deadline.",
        }
    ],
    "control_changes": [
        {
            "occurred_on": "2019-05-06",
            "date_precision": "week",
            "place": "Kafr Nabudah",
            "area_description": "",
            "locations": 1,
            "from_actor": None,
            "to_actor": "Syrian Arab Army",
            "violation": "00000000-0000-4000-8000-000000000001",
        }
    ],
    "violations": VIOLATIONS,
    "labels": frozen_labels(),
}

META = ReportMeta(
    id=7,
    sha256="0f" * 32,
    issued_by="Ana Analyst (analyst)",
    issued_at="2019-06-03T09:30:00Z",
)


def frozen() -> dict:
    """A fresh deep copy, so a test may change it freely."""
    return copy.deepcopy(FROZEN)
