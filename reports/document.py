"""The document a compliance report is: the data it shows, gathered from the record in a fixed number of grouped
queries and returned as plain JSON data (dates as ISO strings, decimals as floats, every list in a fixed order), so
the same record always gives the same document, byte for byte once serialised. `reports.issuing` freezes it.

Its size is bounded whatever the number of violations: summaries, the per-clause judgements with their evidence
counts, actor × clause, weekly series, the top places, the map (each incident up to a few hundred, counts per grid
cell beyond), and the most serious incidents in full. Every violation is listed in the annex (`reports.annex`), a
CSV whose SHA-256 is part of the document, so the report's hash covers it.

What the document holds (schema 2):

    schema, title, agreement {slug, title, short_title, signed_on, signed_at, parties}, period {from, to, label},
    actor (None or {slug, name}),
    assessment            the assessment engine's answer (reports.engine.assess_agreement(...).as_dict())
    summary               {violations, verified, unverified, disputed, unattributed, no_clause_cited}
    violations_by_actor_clause   [{actor, name, clause, clause_title, verified, unverified, disputed, total}], from
                          the assessment's per-clause evidence, and clause None: violations citing no clause
    actor_totals          [{actor, name, verified, unverified, disputed, total}]: DISTINCT violations per actor
    weeks                 the Mondays of the weeks the period touches, ISO dates (the chart's x axis)
    weekly_by_actor       [{week, actor, name, count}] (week: the Monday, ISO date)
    top_places            [{place, admin1, count, verified}]
    map                   {zones: [...], located, incidents: [{uuid, lon, lat, status, ...}] (few) or
                           cells: [{lon, lat, count, verified, unverified, disputed}] (many), cell_degrees}
    humanitarian          {killed, civilians_killed, injured, civilians_injured: {low, best, high},
                           displaced, …, violations, from_civilians: {killed, injured}}
    serious               the most serious incidents in full (with their sources and grades)
    serious_limit, annex {format, rows, sha256, columns}
    patrols, route_statuses, control_changes, labels (the words for every coded value, frozen with the data)

Which violations a report counts: as the assessment engine counts them, `Violation.objects.counted()` of the
agreement that started within the period (by `started_at` in UTC, both days included); with an actor, those whose
alleged perpetrators include the actor or one of its parts (its units, a state's forces, at any depth). Each is
marked verified, unverified (still "reported") or disputed. With an actor, the patrols are those it (or a part of
it) took part in and the control changes those in its (or a part's) favour, as the engine counts them; route
statuses are the agreement's, whoever the actor.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Prefetch

from agreements.exports.copy_sql import snapshot
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
from agreements.models.violations import (
    ViolationCategory,
    ViolationLocationPrecision,
    ViolationTimePrecision,
    casualty_total,
    casualty_total_is_civilian_bound,
)
from reports import summaries
from reports.annex import Annex, annex_write
from reports.engine import assess_agreement
from reports.engine.evidence import STATUS_WORD_LABELS, STATUS_WORDS, actor_family
from reports.engine.periods import day_bounds
from reports.engine.rules import DEADLINE_LABELS
from reports.models import ComplianceStatus, ImplementationScore

SCHEMA_VERSION = 2  # 2: bounded summaries and the annex instead of every violation in the document

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
        "deadline_state": dict(DEADLINE_LABELS),
        "clause_kind": dict(ClauseKind.choices),
        "category": dict(ViolationCategory.choices),
        "violation_status": dict(STATUS_WORD_LABELS),
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
    """The violations a report counts (see the module's docstring).

    `family`: the ids of the actor and its parts, when the caller has them already.
    """
    first, after = day_bounds(start, end)
    queryset = Violation.objects.counted().filter(agreement=agreement, started_at__gte=first, started_at__lt=after)
    if actor is not None:
        # A subquery, not a join: a violation by two of the actor's parts is listed once.
        perpetrated = Violation.perpetrators.through.objects.filter(
            violation_id=OuterRef("pk"), actor_id__in=family if family is not None else actor_family(actor)
        )
        queryset = queryset.filter(Exists(perpetrated))
    return queryset


def _in_full(queryset):
    """What a violation shown in full reads, joined: a fixed number of queries for any number of rows."""
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
        "status": STATUS_WORDS[violation.status],
        "in_zone": violation.in_zone,
        # The casualty rule: a total not reported reads its civilian figure (flagged, and said in the notes).
        "killed_best": casualty_total(violation, "killed", "best"),
        "killed_from_civilians": casualty_total_is_civilian_bound(violation, "killed", "best"),
        "civilians_killed_best": violation.civilians_killed_best,
        "injured_best": casualty_total(violation, "injured", "best"),
        "injured_from_civilians": casualty_total_is_civilian_bound(violation, "injured", "best"),
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


def _by_actor_clause(assessment: dict, no_clause: list[dict]) -> list[dict]:
    """Violations per (alleged perpetrator, clause) and status, as the engine attributed them to each clause (so the
    table agrees with the clauses' evidence: a demilitarised-zone clause also counts incidents inside its zone),
    and per perpetrator those that cite no clause (clause None)."""
    rows = []
    for clause in assessment["clauses"]:
        for line in clause["evidence"]["violations"]["by_actor"]:
            counts = {word: line.get(word, 0) for word in STATUS_WORDS.values()}
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
    for line in no_clause:
        rows.append({**line, "clause": None, "clause_title": "No clause cited"})
    order = {clause["number"]: index for index, clause in enumerate(assessment["clauses"])}
    order[None] = len(order)
    return sorted(rows, key=lambda row: (row["name"].casefold(), row["name"], row["actor"], order[row["clause"]]))


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weeks_of(start: date, end: date) -> list[str]:
    """The Mondays of the weeks the period touches, ISO dates."""
    weeks, week = [], _monday(start)
    while week <= end:
        weeks.append(week.isoformat())
        week += timedelta(days=7)
    return weeks


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


def _map_block(agreement: Agreement, violations) -> dict:
    zones = Zone.objects.filter(agreement=agreement).order_by("slug")
    return {
        "zones": [
            {"slug": z.slug, "name": z.name, "kind": z.kind, "precision": z.precision, "geometry": z.geometry}
            for z in zones
        ],
        **summaries.map_incidents(violations),
    }


def _summaries(agreement: Agreement, violations, assessment: dict, family: set[int] | None) -> dict:
    """The pieces drawn from the violations: each a grouped query, bounded by actors, clauses, weeks, places."""
    serious = list(_in_full(summaries.most_serious(violations)))
    return {
        "summary": summaries.summary(violations),
        "violations_by_actor_clause": _by_actor_clause(assessment, summaries.no_clause_cited(violations, family)),
        "actor_totals": summaries.actor_totals(violations, family),
        "weekly_by_actor": summaries.weekly_by_actor(violations),
        "top_places": summaries.top_places(violations),
        "map": _map_block(agreement, violations),
        "humanitarian": summaries.humanitarian(violations),
        "serious": [_violation_row(violation) for violation in serious],
        "serious_limit": summaries.SERIOUS,
    }


def report_build(agreement: Agreement, *, start: date, end: date, actor: Actor | None = None) -> tuple[dict, Annex]:
    """Everything a report shows, as deterministic JSON data (see the module's docstring), and its annex.

    The number of queries does not depend on the number of violations (but for the annex: a few per chunk).
    """
    if end < start:
        raise ValueError("The period ends before it starts.")
    # One snapshot for every query: the summaries, the assessment and the annex count the same violations even
    # while monitors keep recording.
    with snapshot(agreement._state.db or "default"):
        return _build(agreement, start, end, actor)


def _build(agreement: Agreement, start: date, end: date, actor: Actor | None) -> tuple[dict, Annex]:
    family = actor_family(actor) if actor is not None else None
    violations = report_violations(agreement, start=start, end=end, actor=actor, family=family)
    assessment = assess_agreement(agreement, start=start, end=end, actor=actor).as_dict()
    annex = annex_write(violations)
    data = {
        "schema": SCHEMA_VERSION,
        "title": report_title(agreement, start, end, actor),
        "agreement": _agreement_block(agreement),
        "period": {"from": start.isoformat(), "to": end.isoformat(), "label": period_label(start, end)},
        "actor": {"slug": actor.slug, "name": actor.name} if actor is not None else None,
        "assessment": assessment,
        "weeks": weeks_of(start, end),
        **_summaries(agreement, violations, assessment, family),
        "patrols": _patrols(agreement, start, end, family),
        "route_statuses": _route_statuses(agreement, start, end),
        "control_changes": _control_changes(agreement, start, end, family),
        "annex": annex.summary(),
        "labels": frozen_labels(),
    }
    return data, annex


def report_data(agreement: Agreement, *, start: date, end: date, actor: Actor | None = None) -> dict:
    """The document alone (its annex built to be hashed, then let go)."""
    data, annex = report_build(agreement, start=start, end=end, actor=actor)
    annex.file.close()
    return data
