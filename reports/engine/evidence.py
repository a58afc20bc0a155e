"""What the record says about each clause of an agreement over a period, counted in the database.

`Record` loads what does not depend on the period once (the clauses, the actor's family, zones, route statuses);
`Record.evidence(start, end)` then runs a fixed number of aggregate queries whatever the number of violations,
patrols or control changes, set-based: violation counts for every clause at once, grouped by clause and status
over the clause links (each clause's counting window a CASE on the clause), plus one over the zones of the zone
clauses; the same two per perpetrator; one for patrol outcomes; one for control changes (one per distinct counting
window); none per row and none per clause but for the zone clauses' parts of the zone query.

Which violations count for a clause (`attributed`):
- those linked to it (`Violation.clauses`), and
- for a demilitarised-zone clause, also those whose computed location lies in a zone the clause sets up
  (`Zone.clause`), whatever their category; for a weapons- or group-withdrawal clause, those in a zone it sets up
  or names in its terms (`terms.zone`), of the matching category (heavy weapons / armed group in zone).
  Zones are tied to clauses explicitly, so an incident is never counted against a zone clause it has nothing to
  do with; an in-zone incident counts once per clause even when it is also linked.
- never retracted or rejected ones; disputed ones are counted apart and decide nothing;
- by the day the incident started (`started_at`, in UTC), both days of the period included;
- for a clause that must be kept from a deadline on (the breach kinds below), only from the day after the
  deadline: what happened before or on the deadline day was still allowed.
With an actor: only violations whose alleged perpetrators include the actor or one of its parts (its forces and
units, recursively through `Actor.part_of`), patrols it or its parts took part in, and control changes in its
or its parts' favour.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import BigIntegerField, Case, Count, DateTimeField, Exists, Min, OuterRef, Q, Sum, Value, When

from agreements.models import Actor, Clause, ControlChange, Patrol, RouteStatus, Violation, Zone
from reports.engine.periods import day_bounds

Kind = Clause.Kind
VStatus = Violation.Status

# Obligations to refrain from something (or to have left somewhere) from a date on: judged on breaches.
BREACH_KINDS = frozenset(
    {
        Kind.STATUS_QUO,
        Kind.CEASEFIRE,
        Kind.DEMILITARISED_ZONE,
        Kind.WEAPONS_WITHDRAWAL,
        Kind.GROUP_WITHDRAWAL,
        Kind.COORDINATION_CENTRE,
        Kind.OTHER,
    }
)

# Kinds that also count incidents located in their zone, and of which category (None: any).
ZONE_CATEGORIES = {
    Kind.DEMILITARISED_ZONE: None,
    Kind.WEAPONS_WITHDRAWAL: Violation.Category.HEAVY_WEAPONS_IN_ZONE,
    Kind.GROUP_WITHDRAWAL: Violation.Category.ARMED_GROUP_IN_ZONE,
}

PATROL_OUTCOMES = tuple(Patrol.Outcome.values)

# The word for each counted review status, said once for the engine, the reports and the To-do page: "reported"
# means nobody has checked it yet, so a report calls it "unverified".
STATUS_WORDS = {VStatus.VERIFIED: "verified", VStatus.REPORTED: "unverified", VStatus.DISPUTED: "disputed"}
STATUS_WORD_LABELS = {"verified": "Verified", "unverified": "Unverified", "disputed": "Disputed"}

UNION_CHUNK = 100  # completed, cut_short, cancelled, attacked

_LINKED = Violation.clauses.through
_PERPETRATED = Violation.perpetrators.through
_PATROLLED = Patrol.participants.through


@dataclass(frozen=True)
class RouteObservation:
    route: str
    segment: str
    status: str
    observed_on: date
    clause_id: int | None = None

    def as_dict(self) -> dict:
        return {
            "route": self.route,
            "segment": self.segment,
            "status": self.status,
            "observed_on": self.observed_on.isoformat(),
        }


@dataclass
class ClauseEvidence:
    """The counts one clause is judged on. Counts are of distinct incidents (or patrols, or control changes)."""

    counted_from: date  # the first day whose incidents count: the period's start, or the day after a deadline
    verified: int = 0
    unverified: int = 0  # still "reported" (neither retracted nor rejected)
    disputed: int = 0
    breaches_since_deadline: int = 0  # verified + unverified from the day after the deadline to the period's end
    by_actor: list[dict] = field(default_factory=list)
    patrols: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PATROL_OUTCOMES, 0))
    first_completed_patrol: date | None = None  # on or before the period's end, whenever
    routes: tuple[str, ...] = ()  # the routes a route-opening clause names
    route_rows: list[RouteObservation] = field(default_factory=list)  # every observation up to the period's end
    control_established: int = 0  # control changes with no incident or a verified one
    control_reported: int = 0  # control changes tied to an incident still "reported"
    locations_changed: int = 0

    @property
    def control_changes(self) -> int:
        return self.control_established + self.control_reported

    def route_evidence(self, start: date) -> list[RouteObservation]:
        """The observations the route rule rests on: those in the period, and for each route and segment the last
        one before it (the state the period started in)."""
        before: dict[tuple[str, str], RouteObservation] = {}
        during = []
        for row in self.route_rows:
            if row.observed_on < start:
                before[(row.route, row.segment)] = row  # rows come in date order: the last one wins
            else:
                during.append(row)
        return sorted([*before.values(), *during], key=lambda r: (r.route, r.segment, r.observed_on))

    def as_dict(self, start: date) -> dict:
        return {
            "violations": {
                "verified": self.verified,
                "unverified": self.unverified,
                "disputed": self.disputed,
                "by_actor": self.by_actor,
            },
            "patrols": dict(self.patrols),
            "route_statuses": [row.as_dict() for row in self.route_evidence(start)],
            "control_changes": self.control_changes,
            "locations_changed": self.locations_changed,
        }


def counted_from(clause: Clause, start: date) -> date:
    """The first day of the period whose incidents count against the clause."""
    if clause.kind in BREACH_KINDS and clause.deadline is not None:
        return max(start, clause.deadline + timedelta(days=1))
    return start


def _since(clause: Clause, start: date) -> date:
    """The first day whose incidents say whether the deadline was kept (the period's start when it has none)."""
    if clause.kind in BREACH_KINDS and clause.deadline is not None:
        return clause.deadline + timedelta(days=1)
    return start


def actor_family(actor: Actor) -> set[int]:
    """The actor and every actor that is part of it, recursively (a state, its forces, their units)."""
    children = defaultdict(list)
    for pk, parent in Actor.objects.values_list("pk", "part_of_id"):
        if parent is not None:
            children[parent].append(pk)
    family, todo = set(), [actor.pk]
    while todo:
        pk = todo.pop()
        if pk not in family:
            family.add(pk)
            todo.extend(children[pk])
    return family


class Record:
    """The part of the record an assessment of `clauses` reads, up to `until` (the last day any period asked ends)."""

    def __init__(self, agreement, *, clauses: list[Clause], until: date, actor: Actor | None = None):
        self.agreement = agreement
        self.clauses = clauses
        self.actor = actor
        self.family = actor_family(actor) if actor is not None else None
        self.zone_ids = self._zones()
        self.route_rows = self._route_rows(until)

    # --- loaded once ---------------------------------------------------------------------------------------------

    def _zones(self) -> dict[int, list[int]]:
        """Per clause of a zone kind, the zones whose in-zone incidents count for it."""
        zone_clauses = [c for c in self.clauses if c.kind in ZONE_CATEGORIES]
        if not zone_clauses:
            return {}
        zones = list(Zone.objects.filter(agreement=self.agreement).values("pk", "slug", "clause_id"))
        result = {}
        for clause in zone_clauses:
            named = (clause.terms or {}).get("zone") if clause.kind != Kind.DEMILITARISED_ZONE else None
            result[clause.pk] = [
                z["pk"] for z in zones if z["clause_id"] == clause.pk or (named and z["slug"] == named)
            ]
        return result

    def _route_rows(self, until: date) -> list[RouteObservation]:
        routes = {route for c in self.clauses if c.kind == Kind.ROUTE_OPENING for route in self.routes_of(c)}
        clause_ids = [c.pk for c in self.clauses]
        rows = (
            RouteStatus.objects.filter(agreement=self.agreement, observed_on__lte=until)
            .filter(Q(route__in=routes) | Q(clause_id__in=clause_ids))
            .order_by("observed_on", "route", "segment")
            .values_list("route", "segment", "status", "observed_on", "clause_id")
        )
        return [RouteObservation(*row) for row in rows]

    @staticmethod
    def routes_of(clause: Clause) -> tuple[str, ...]:
        if clause.kind != Kind.ROUTE_OPENING:
            return ()
        return tuple(str(route) for route in (clause.terms or {}).get("routes", []))

    # --- per period ----------------------------------------------------------------------------------------------

    def evidence(self, start: date, end: date) -> dict[int, ClauseEvidence]:
        result = {
            c.pk: ClauseEvidence(counted_from=counted_from(c, start), routes=self.routes_of(c)) for c in self.clauses
        }
        if not self.clauses:
            return result
        self._count_violations(result, start, end)
        self._count_by_actor(result, start, end)
        self._count_patrols(result, start, end)
        self._count_control_changes(result, end)
        for clause in self.clauses:
            routes = set(result[clause.pk].routes)
            result[clause.pk].route_rows = [
                row
                for row in self.route_rows
                if row.observed_on <= end and (row.clause_id == clause.pk or row.route in routes)
            ]
        return result

    def _violations(self):
        rows = Violation.objects.counted().filter(agreement=self.agreement)
        if self.family is not None:
            rows = rows.filter(
                Exists(_PERPETRATED.objects.filter(violation_id=OuterRef("pk"), actor_id__in=self.family))
            )
        return rows

    # Violations are counted for every clause at once: one grouped query over the clause links (each clause's
    # counting window is a CASE on the clause), and one over the zones, for the zone clauses only (an in-zone
    # incident also linked to the clause is counted by the first, once).

    def _windows(self, result, start: date, end: date) -> dict[int, tuple]:
        """Per clause binding within the period: (first instant a breach of the deadline counts, first instant the
        period's counts count)."""
        windows = {}
        for clause in self.clauses:
            first = result[clause.pk].counted_from
            if first <= end:
                windows[clause.pk] = (day_bounds(_since(clause, start), end)[0], day_bounds(first, end)[0])
        return windows

    @staticmethod
    def _from(key: str, windows: dict[int, tuple], index: int) -> Case:
        whens = [When(**{key: pk}, then=Value(window[index])) for pk, window in windows.items()]
        return Case(*whens, output_field=DateTimeField())

    def _linked(self, windows, end: date, *, counting: int):
        """The clause links of counted violations within each clause's window (`counting`: 0 from the day after
        the deadline, 1 from the period's first counted day)."""
        upper = day_bounds(end, end)[1]
        lower = min(window[counting] for window in windows.values())
        violations = self._violations().filter(started_at__gte=lower, started_at__lt=upper)
        return _LINKED.objects.filter(
            Q(violation__started_at__gte=self._from("clause_id", windows, counting)),
            clause_id__in=list(windows),
            violation__in=violations,
        )

    def _in_zone(self, windows, end: date, *, counting: int):
        """Per zone clause: its counted in-zone violations that are not linked to it, within its window."""
        upper = day_bounds(end, end)[1]
        for clause in self.clauses:
            zone_ids = self.zone_ids.get(clause.pk)
            if not zone_ids or clause.pk not in windows:
                continue
            rows = self._violations().filter(
                in_zone=True, zone_id__in=zone_ids, started_at__gte=windows[clause.pk][counting], started_at__lt=upper
            )
            if ZONE_CATEGORIES[clause.kind] is not None:
                rows = rows.filter(category=ZONE_CATEGORIES[clause.kind])
            linked = _LINKED.objects.filter(violation_id=OuterRef("pk"), clause_id=clause.pk)
            yield (
                clause,
                rows.exclude(Exists(linked)).annotate(clause_key=Value(clause.pk, output_field=BigIntegerField())),
            )

    @staticmethod
    def _union(parts):
        """The zone clauses' rows as one UNION ALL query per UNION_CHUNK clauses (SQLite refuses more than 500 terms
        in a compound SELECT)."""
        for first in range(0, len(parts), UNION_CHUNK):
            chunk = parts[first : first + UNION_CHUNK]
            yield from chunk[0].union(*chunk[1:], all=True) if len(chunk) > 1 else chunk[0]

    def _status_rows(self, windows, start: date, end: date):
        """(clause, status, counted in the period, counted since the deadline), each count of distinct violations."""
        since = Q(violation__started_at__gte=self._from("clause_id", windows, 0))
        first = Q(violation__started_at__gte=self._from("clause_id", windows, 1))
        linked = (
            self._linked(windows, end, counting=0)
            .values("clause_id", "violation__status")
            .annotate(
                in_period=Count("violation_id", filter=first, distinct=True),
                since_deadline=Count("violation_id", filter=since, distinct=True),
            )
            .order_by()
        )
        for row in linked:
            yield row["clause_id"], row["violation__status"], row["in_period"], row["since_deadline"]
        parts = [
            rows.values("clause_key", "status")
            .annotate(
                in_period=Count("pk", filter=Q(started_at__gte=windows[clause.pk][1]), distinct=True),
                since_deadline=Count("pk", distinct=True),
            )
            .order_by()
            for clause, rows in self._in_zone(windows, end, counting=0)
        ]
        for row in self._union(parts) if parts else ():
            yield row["clause_key"], row["status"], row["in_period"], row["since_deadline"]

    def _count_violations(self, result, start, end) -> None:
        windows = self._windows(result, start, end)
        if not windows:
            return
        for clause_id, status, n, since_deadline in self._status_rows(windows, start, end):
            evidence = result[clause_id]
            if status == VStatus.VERIFIED:
                evidence.verified += n
            elif status == VStatus.REPORTED:
                evidence.unverified += n
            elif status == VStatus.DISPUTED:
                evidence.disputed += n
            if status in (VStatus.VERIFIED, VStatus.REPORTED):
                evidence.breaches_since_deadline += since_deadline

    def _actor_rows(self, windows, end: date):
        """(clause, status, actor id, slug, name, distinct violations in the period)."""
        names = ("perpetrators__id", "perpetrators__slug", "perpetrators__name")
        linked = (
            self._linked(windows, end, counting=1)
            .values("clause_id", "violation__status", *(f"violation__{name}" for name in names))
            .annotate(n=Count("violation_id", distinct=True))
            .order_by()
        )
        for row in linked:
            yield row["clause_id"], row["violation__status"], *(row[f"violation__{name}"] for name in names), row["n"]
        parts = [
            rows.values("clause_key", "status", *names).annotate(n=Count("pk", distinct=True)).order_by()
            for _, rows in self._in_zone(windows, end, counting=1)
        ]
        for row in self._union(parts) if parts else ():
            yield row["clause_key"], row["status"], *(row[name] for name in names), row["n"]

    def _count_by_actor(self, result, start, end) -> None:
        windows = self._windows(result, start, end)
        if not windows:
            return
        tables: dict[int, dict[int, dict]] = defaultdict(dict)
        for clause_id, status, actor_id, slug, name, n in self._actor_rows(windows, end):
            if actor_id is None or (self.family is not None and actor_id not in self.family):
                continue
            line = tables[clause_id].setdefault(
                actor_id, {"actor": slug, "name": name, "verified": 0, "unverified": 0, "disputed": 0}
            )
            line[STATUS_WORDS[status]] += n
        for clause_id, lines in tables.items():
            result[clause_id].by_actor = sorted(
                lines.values(), key=lambda a: (-a["verified"], -a["unverified"], -a["disputed"], a["name"])
            )

    def _count_patrols(self, result, start, end) -> None:
        patrol_clauses = [c.pk for c in self.clauses if c.kind == Kind.PATROLS]
        rows = Patrol.objects.filter(agreement=self.agreement, patrolled_on__lte=end).filter(
            Q(clause_id__in=[c.pk for c in self.clauses]) | Q(clause__isnull=True)
        )
        if self.family is not None:
            rows = rows.filter(Exists(_PATROLLED.objects.filter(patrol_id=OuterRef("pk"), actor_id__in=self.family)))
        rows = (
            rows.values("clause_id", "outcome")
            .annotate(in_period=Count("pk", filter=Q(patrolled_on__gte=start)), first=Min("patrolled_on"))
            .order_by()
        )
        for row in rows:
            # A patrol tied to no clause counts for every patrols clause of its agreement.
            targets = patrol_clauses if row["clause_id"] is None else [row["clause_id"]]
            for clause_id in targets:
                evidence = result[clause_id]
                evidence.patrols[row["outcome"]] += row["in_period"]
                if row["outcome"] == Patrol.Outcome.COMPLETED and row["first"] is not None:
                    current = evidence.first_completed_patrol
                    evidence.first_completed_patrol = min(current, row["first"]) if current else row["first"]

    def _count_control_changes(self, result, end) -> None:
        """Control changes are the evidence of status-quo clauses. One tied to an incident shares its standing:
        verified or untied → established; reported → reported; disputed, rejected or retracted → not counted."""
        windows: dict[date, list[int]] = defaultdict(list)
        for clause in self.clauses:
            if clause.kind == Kind.STATUS_QUO and result[clause.pk].counted_from <= end:
                windows[result[clause.pk].counted_from].append(clause.pk)
        for first, clause_ids in windows.items():
            rows = ControlChange.objects.filter(
                agreement=self.agreement, occurred_on__gte=first, occurred_on__lte=end
            ).filter(
                Q(violation__isnull=True)
                | Q(violation__in=Violation.objects.counted().filter(status__in=[VStatus.VERIFIED, VStatus.REPORTED]))
            )
            if self.family is not None:
                rows = rows.filter(to_actor_id__in=self.family)
            counts = Counter()
            locations = 0
            for row in rows.values("violation__status").annotate(n=Count("pk"), places=Sum("locations")).order_by():
                established = row["violation__status"] in (None, VStatus.VERIFIED)
                counts["established" if established else "reported"] += row["n"]
                locations += row["places"] or 0
            for clause_id in clause_ids:
                evidence = result[clause_id]
                evidence.control_established = counts["established"]
                evidence.control_reported = counts["reported"]
                evidence.locations_changed = locations
