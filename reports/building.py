"""Building and issuing compliance reports: the data a report shows, gathered once and frozen.

`report_data` reads the record and returns the whole report as plain JSON data (dates as ISO strings, decimals as
floats, every list in a fixed order), so the same record always gives the same document, byte for byte once
serialised. `report_issue` freezes that document in a `Report` row with the SHA-256 of its canonical JSON; every
rendering (PDF, HTML, CSV, XLSX, JSON) is made from the frozen copy, never from the record again, so a report
downloaded next year says exactly what it said when issued, and the hash proves it.

What the document holds (schema 1):

    schema, title, agreement {slug, title, short_title, signed_on, signed_at, parties}, period {from, to},
    actor (None or {slug, name}),
    assessment            the assessment engine's answer (reports.engine.assess_agreement(...).as_dict())
    violations_by_actor_clause   [{actor, name, clause, clause_title, verified, unverified, disputed, total}], from
                          the assessment's per-clause evidence
    weeks                 the Mondays of the weeks the period touches, ISO dates (the chart's x axis)
    weekly_by_actor       [{week, actor, name, count}] (week: the Monday, ISO date)
    map                   {zones: [{slug, name, kind, precision, geometry}],
                           incidents: [{uuid, lon, lat, status, category, in_zone, precision, place}]}
    humanitarian          {killed, civilians_killed, injured, civilians_injured: {low, best, high},
                           displaced, health_facilities_hit, education_facilities_hit, idp_sites_hit, camps_hit,
                           violations}
    patrols, route_statuses, control_changes, violations (with their sources and grades)
    labels                the words for every coded value, frozen with the data

Which violations a report lists: as the assessment engine counts them, those of the agreement that started within
the period (by `started_at` in UTC, both days included) and are neither retracted nor rejected; with an actor,
those whose alleged perpetrators include the actor or one of its parts (its units, a state's forces, at any
depth). Each is marked verified, unverified (still "reported") or disputed. With an actor, the patrols are those it
(or a part of it) took part in and the control changes those in its (or a part's) favour, as the engine counts
them; route statuses are the agreement's, whoever the actor.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Prefetch
from django.utils import timezone

from agreements.models import (
    Actor,
    Agreement,
    Clause,
    ControlChange,
    Patrol,
    RouteStatus,
    Violation,
    ViolationSource,
    Zone,
)
from agreements.models.agreements import AgreementPartyRole, ClauseKind
from agreements.models.events import DatePrecision, PatrolKind, PatrolOutcome, RouteStatusStatus
from agreements.models.geography import ZoneKind, ZonePrecision
from agreements.models.violations import ViolationCategory, ViolationLocationPrecision, ViolationTimePrecision
from reports.engine import assess_agreement
from reports.engine.evidence import actor_family
from reports.engine.periods import day_bounds
from reports.models import ComplianceStatus, ImplementationScore, Report

SCHEMA_VERSION = 1

FORMATS = ("pdf", "html", "csv", "xlsx", "json")

# How a report names the review status of the violations it lists ("reported" means nobody has verified it yet).
REPORT_STATUS = {
    Violation.Status.VERIFIED: "verified",
    Violation.Status.REPORTED: "unverified",
    Violation.Status.DISPUTED: "disputed",
}
REPORT_STATUSES = ("verified", "unverified", "disputed")

DEADLINE_STATES = {
    "not_due": "Not yet due",
    "met": "Met",
    "overdue": "Overdue",
    "no_deadline": "No deadline",
}

HUMANITARIAN_ESTIMATED = ("killed", "civilians_killed", "injured", "civilians_injured")
HUMANITARIAN_COUNTS = ("displaced", "health_facilities_hit", "education_facilities_hit", "idp_sites_hit", "camps_hit")

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


# --- wording ------------------------------------------------------------------------------------------------------


def _day_month(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"


def period_label(start: date, end: date) -> str:
    """'1–31 May 2019', '6 May – 2 June 2019', '20 December 2018 – 10 January 2019', '6 May 2019'."""
    if start == end:
        return f"{_day_month(start)} {start.year}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{end.day} {MONTHS[end.month - 1]} {end.year}"
    if start.year == end.year:
        return f"{_day_month(start)} – {_day_month(end)} {end.year}"
    return f"{_day_month(start)} {start.year} – {_day_month(end)} {end.year}"


def agreement_name(agreement: Agreement) -> str:
    name = agreement.short_title or agreement.title
    return name if name.lower().startswith("the ") else f"the {name}"


def report_title(agreement: Agreement, start: date, end: date, actor: Actor | None = None) -> str:
    """'Compliance with the Sochi memorandum, 1–31 May 2019' (': Russian Federation' inserted for one actor)."""
    who = f": {actor.name}" if actor is not None else ""
    return f"Compliance with {agreement_name(agreement)}{who}, {period_label(start, end)}"


def frozen_labels() -> dict:
    # Frozen with the data, so a renamed choice in the code does not change what an issued report says.
    return {
        "compliance_status": dict(ComplianceStatus.choices),
        "score": {str(value): label for value, label in ImplementationScore.choices},
        "deadline_state": dict(DEADLINE_STATES),
        "clause_kind": dict(ClauseKind.choices),
        "category": dict(ViolationCategory.choices),
        "violation_status": {"verified": "Verified", "unverified": "Unverified", "disputed": "Disputed"},
        "time_precision": dict(ViolationTimePrecision.choices),
        "location_precision": dict(ViolationLocationPrecision.choices),
        "date_precision": dict(DatePrecision.choices),
        "party_role": dict(AgreementPartyRole.choices),
        "patrol_kind": dict(PatrolKind.choices),
        "patrol_outcome": dict(PatrolOutcome.choices),
        "route_status": dict(RouteStatusStatus.choices),
        "zone_kind": dict(ZoneKind.choices),
        "zone_precision": dict(ZonePrecision.choices),
    }


# --- selecting the record -----------------------------------------------------------------------------------------


def report_violations(
    agreement: Agreement, *, start: date, end: date, actor: Actor | None = None, family: set[int] | None = None
):
    """The violations a report counts (see the module's docstring), with what the report reads off them joined.

    `family`: the ids of the actor and its parts, when the caller has them already.
    """
    first, after = day_bounds(start, end)
    queryset = Violation.objects.filter(
        agreement=agreement,
        retracted_at__isnull=True,
        status__in=list(REPORT_STATUS),
        started_at__gte=first,
        started_at__lt=after,
    )
    if actor is not None:
        # A subquery, not a join: a violation by two of the actor's parts is listed once.
        perpetrated = Violation.perpetrators.through.objects.filter(
            violation_id=OuterRef("pk"), actor_id__in=family if family is not None else actor_family(actor)
        )
        queryset = queryset.filter(Exists(perpetrated))
    return queryset.select_related(
        "place",  # place name, governorate, and the coordinates of violations that have none of their own
    ).prefetch_related(
        "clauses",  # the clauses breached
        "perpetrators",  # who is alleged to have done it
        # the sources with their grades, in the order they were cited
        Prefetch("citations", queryset=ViolationSource.objects.select_related("source").order_by("id")),
    )


# --- pieces of the document ---------------------------------------------------------------------------------------


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def _float(value) -> float | None:
    return None if value is None else round(float(value), 6)


def _by_name(actors) -> list[Actor]:
    return sorted(actors, key=lambda a: (a.name.casefold(), a.name))


def _clause_order(clause: Clause) -> tuple:
    return (clause.position, *_natural(clause.number))


def _natural(number: str) -> tuple:
    # "2" before "10", "2(a)" after "2", numbers before anything else.
    match = re.match(r"(\d+)(.*)", number)
    return (0, int(match[1]), match[2]) if match else (1, 0, number)


def _agreement_block(agreement: Agreement) -> dict:
    parties = sorted(
        agreement.party_roles.select_related("actor"),
        key=lambda party: (party.actor.name.casefold(), party.role),
    )
    return {
        "slug": agreement.slug,
        "title": agreement.title,
        "short_title": agreement.short_title,
        "signed_on": _iso(agreement.signed_on),
        "signed_at": agreement.signed_at,
        "parties": [{"actor": p.actor.slug, "name": p.actor.name, "role": p.role} for p in parties],
    }


def _violation_row(violation: Violation) -> dict:
    point = violation.point()
    clauses = sorted(violation.clauses.all(), key=_clause_order)
    return {
        "uuid": str(violation.uuid),
        "started_at": _iso(violation.started_at),
        "ended_at": _iso(violation.ended_at),
        "time_precision": violation.time_precision,
        "category": violation.category,
        "place": violation.place.name if violation.place_id else None,
        "admin1": violation.place.admin1 if violation.place_id else None,
        "lon": _float(point[0]) if point else None,
        "lat": _float(point[1]) if point else None,
        "location_precision": violation.location_precision,
        "perpetrators": [actor.name for actor in _by_name(violation.perpetrators.all())],
        "clauses": [clause.number for clause in clauses],
        "status": REPORT_STATUS[violation.status],
        "in_zone": violation.in_zone,
        "killed_best": violation.killed_best,
        "civilians_killed_best": violation.civilians_killed_best,
        "injured_best": violation.injured_best,
        "description": violation.description,
        "sources": [
            {
                "publisher": citation.source.publisher,
                "title": citation.source.title,
                "url": citation.source.url,
                "published_on": _iso(citation.source.published_on),
                "kind": citation.source.kind,
                "grade": citation.source.grade,
                "note": citation.note,
            }
            for citation in violation.citations.all()
        ],
    }


def _by_actor_clause(assessment: dict) -> list[dict]:
    """Violations per (alleged perpetrator, clause) and status, as the engine attributed them to each clause (so the
    table agrees with the clauses' evidence: a demilitarised-zone clause also counts incidents inside its zone)."""
    rows = []
    for clause in assessment["clauses"]:
        for line in clause["evidence"]["violations"]["by_actor"]:
            counts = {status: line.get(status, 0) for status in REPORT_STATUSES}
            rows.append(
                {
                    "actor": line["actor"],
                    "name": line["name"],
                    "clause": clause["number"],
                    "clause_title": clause["title"],
                    **counts,
                    "total": sum(counts.values()),
                }
            )
    order = {clause["number"]: index for index, clause in enumerate(assessment["clauses"])}
    return sorted(rows, key=lambda row: (row["name"].casefold(), row["name"], row["actor"], order[row["clause"]]))


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weekly_by_actor(violations: list[Violation]) -> list[dict]:
    """Violations per week (Monday to Sunday, UTC) they started in, and alleged perpetrator; a violation with two
    perpetrators counts once for each."""
    counts: Counter = Counter()
    names: dict[str | None, str] = {}
    for violation in violations:
        week = _monday(violation.started_at.astimezone(UTC).date())
        for actor in violation.perpetrators.all() or [None]:
            slug = actor.slug if actor else None
            names[slug] = actor.name if actor else "Unattributed"
            counts[(week, slug)] += 1
    keys = sorted(counts, key=lambda k: (k[0], k[1] is None, names[k[1]].casefold(), k[1] or ""))
    return [
        {"week": week.isoformat(), "actor": slug, "name": names[slug], "count": counts[(week, slug)]}
        for week, slug in keys
    ]


def weeks_of(start: date, end: date) -> list[str]:
    """The Mondays of the weeks the period touches, ISO dates."""
    weeks, week = [], _monday(start)
    while week <= end:
        weeks.append(week.isoformat())
        week += timedelta(days=7)
    return weeks


def _map_block(agreement: Agreement, rows: list[dict]) -> dict:
    zones = Zone.objects.filter(agreement=agreement).order_by("slug")
    return {
        "zones": [
            {
                "slug": zone.slug,
                "name": zone.name,
                "kind": zone.kind,
                "precision": zone.precision,
                "geometry": zone.geometry,
            }
            for zone in zones
        ],
        "incidents": [
            {
                "uuid": row["uuid"],
                "lon": row["lon"],
                "lat": row["lat"],
                "status": row["status"],
                "category": row["category"],
                "in_zone": row["in_zone"],
                "precision": row["location_precision"],
                "place": row["place"],
            }
            for row in rows
            if row["lon"] is not None
        ],
    }


def _sum(values: list[int | None]) -> int | None:
    given = [value for value in values if value is not None]
    return sum(given) if given else None


def _humanitarian(violations: list[Violation]) -> dict:
    """Sums over the listed violations; None where none of them reports a figure (not the same as zero)."""
    block = {
        kind: {
            estimate: _sum([getattr(v, f"{kind}_{estimate}") for v in violations])
            for estimate in ("low", "best", "high")
        }
        for kind in HUMANITARIAN_ESTIMATED
    }
    block.update({name: _sum([getattr(v, name) for v in violations]) for name in HUMANITARIAN_COUNTS})
    block["violations"] = len(violations)
    return block


def _patrols(agreement: Agreement, start: date, end: date, family: set[int] | None) -> list[dict]:
    patrols = Patrol.objects.filter(agreement=agreement, patrolled_on__gte=start, patrolled_on__lte=end)
    if family is not None:
        took_part = Patrol.participants.through.objects.filter(patrol_id=OuterRef("pk"), actor_id__in=family)
        patrols = patrols.filter(Exists(took_part))
    patrols = (
        patrols.select_related("clause")  # the clause number
        .prefetch_related("participants")  # who took part
        .annotate(incident_count=Count("incidents", distinct=True))
        .order_by("patrolled_on", "id")
    )
    return [
        {
            "date": _iso(patrol.patrolled_on),
            "date_precision": patrol.date_precision,
            "kind": patrol.kind,
            "participants": [actor.name for actor in _by_name(patrol.participants.all())],
            "route": patrol.route,
            "outcome": patrol.outcome,
            "clause": patrol.clause.number if patrol.clause_id else None,
            "incidents": patrol.incident_count,
        }
        for patrol in patrols
    ]


def _route_statuses(agreement: Agreement, start: date, end: date) -> list[dict]:
    """Observations in the period, and for each route segment the last one before it (the standing status)."""
    observations = (
        RouteStatus.objects.filter(agreement=agreement, observed_on__lte=end)
        .select_related("clause", "source")
        .order_by("route", "segment", "observed_on", "id")
    )
    latest_before: dict[tuple[str, str], RouteStatus] = {}
    during: list[RouteStatus] = []
    for observation in observations:
        if observation.observed_on < start:
            latest_before[(observation.route, observation.segment)] = observation
        else:
            during.append(observation)
    chosen = [(o, True) for o in latest_before.values()] + [(o, False) for o in during]
    chosen.sort(key=lambda pair: (pair[0].route, pair[0].segment, pair[0].observed_on, pair[0].pk))
    return [
        {
            "route": o.route,
            "segment": o.segment,
            "status": o.status,
            "observed_on": _iso(o.observed_on),
            "before_period": before,
            "clause": o.clause.number if o.clause_id else None,
            "source": o.source.publisher if o.source_id else None,
            "notes": o.notes,
        }
        for o, before in chosen
    ]


def _control_changes(agreement: Agreement, start: date, end: date, family: set[int] | None) -> list[dict]:
    changes = ControlChange.objects.filter(agreement=agreement, occurred_on__gte=start, occurred_on__lte=end)
    if family is not None:
        changes = changes.filter(to_actor_id__in=family)
    changes = changes.select_related("place", "from_actor", "to_actor", "violation").order_by("occurred_on", "id")
    return [
        {
            "occurred_on": _iso(change.occurred_on),
            "date_precision": change.date_precision,
            "place": change.place.name if change.place_id else None,
            "area_description": change.area_description,
            "locations": change.locations,
            "from_actor": change.from_actor.name if change.from_actor_id else None,
            "to_actor": change.to_actor.name,
            "violation": str(change.violation.uuid) if change.violation_id else None,
        }
        for change in changes
    ]


# --- the document -------------------------------------------------------------------------------------------------


def report_data(agreement: Agreement, *, start: date, end: date, actor: Actor | None = None) -> dict:
    """Everything a report shows, as deterministic JSON data (see the module's docstring).

    The number of queries does not depend on the number of violations.
    """
    if end < start:
        raise ValueError("The period ends before it starts.")
    family = actor_family(actor) if actor is not None else None
    violations = list(
        report_violations(agreement, start=start, end=end, actor=actor, family=family).order_by("started_at", "uuid")
    )
    rows = [_violation_row(violation) for violation in violations]
    assessment = assess_agreement(agreement, start=start, end=end, actor=actor).as_dict()
    return {
        "schema": SCHEMA_VERSION,
        "title": report_title(agreement, start, end, actor),
        "agreement": _agreement_block(agreement),
        "period": {"from": start.isoformat(), "to": end.isoformat(), "label": period_label(start, end)},
        "actor": {"slug": actor.slug, "name": actor.name} if actor is not None else None,
        "assessment": assessment,
        "violations_by_actor_clause": _by_actor_clause(assessment),
        "weeks": weeks_of(start, end),
        "weekly_by_actor": _weekly_by_actor(violations),
        "map": _map_block(agreement, rows),
        "humanitarian": _humanitarian(violations),
        "patrols": _patrols(agreement, start, end, family),
        "route_statuses": _route_statuses(agreement, start, end),
        "control_changes": _control_changes(agreement, start, end, family),
        "violations": rows,
        "labels": frozen_labels(),
    }


def canonical_json(data: dict) -> str:
    """The one serialisation the hash is taken over: sorted keys, no spaces, UTF-8 text as is."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(data: dict) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def report_issue(
    *,
    agreement: Agreement,
    start: date,
    end: date,
    actor: Actor | None = None,
    user,
    formats: list[str] | tuple[str, ...] | None = None,
) -> Report:
    """Build the report once, freeze its data with the SHA-256 of that data, and store who issued it and when.

    The hash identifies the content: issuing again while nothing in the record changed gives the same data, so
    the report already issued is returned (with its own issuer and time) instead of a second copy; see
    `report_get_or_issue` to tell the two apart. `formats` is what the issuer asked for, kept in the parameters;
    every format can be downloaded whatever it says.
    """
    return report_get_or_issue(agreement=agreement, start=start, end=end, actor=actor, user=user, formats=formats)[0]


def report_get_or_issue(
    *,
    agreement: Agreement,
    start: date,
    end: date,
    actor: Actor | None = None,
    user,
    formats: list[str] | tuple[str, ...] | None = None,
) -> tuple[Report, bool]:
    """`report_issue`, also saying whether the report is new (True) or an identical one issued before (False)."""
    formats = list(dict.fromkeys(formats or FORMATS))
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise ValueError(f"Unknown format {', '.join(unknown)}; choose from {', '.join(FORMATS)}.")
    data = report_data(agreement, start=start, end=end, actor=actor)
    digest = content_hash(data)
    existing = Report.objects.filter(sha256=digest).first()
    if existing is not None:
        return existing, False
    report = Report(
        agreement=agreement,
        actor=actor,
        period_start=start,
        period_end=end,
        title=data["title"][: Report._meta.get_field("title").max_length],
        parameters={
            "agreement": agreement.slug,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "actor": actor.slug if actor is not None else None,
            "formats": formats,
            "schema": SCHEMA_VERSION,
        },
        frozen_data=data,
        sha256=digest,
        issued_by=user,
        issued_at=timezone.now(),
    )
    report.full_clean()
    try:
        with transaction.atomic():
            report.save()
    except IntegrityError:
        # The same content was issued by someone else between the lookup and the save.
        existing = Report.objects.filter(sha256=digest).first()
        if existing is None:
            raise
        return existing, False
    return report, True


def frozen_hash_matches(report: Report) -> bool:
    """Whether the stored data still hashes to the stored SHA-256 (it always should: nothing edits a report)."""
    return content_hash(report.frozen_data) == report.sha256
