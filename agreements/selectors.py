"""Reads of the record that more than one face needs (the admin's To-do page now, the compliance engine later).

Plain functions over querysets; nothing here writes.

**Overdue clauses.** A clause is *past its deadline* when its deadline is before `today`. Whether there is evidence
that it was nevertheless fulfilled depends on its kind, and is kept deliberately simple:

- route opening: every route in `terms.routes` has an "open" route status for the whole route (empty segment)
  observed on or before `today` — or, when the clause names `terms.segments`, every one of those segments of the
  route has been observed open. A route with no such status makes the clause **overdue**.
- weapons withdrawal / group withdrawal: a *verified* violation of the agreement in the matching category (heavy
  weapons in zone / armed group in zone) starting after the deadline makes the clause **overdue**; reported or
  disputed ones only make it **needs assessment** (unconfirmed reports); none at all counts as fulfilled.
- any other kind with a deadline: nothing in this app marks it fulfilled (assessments live in `reports`, which
  this app does not read), so it is listed as **needs assessment** once the deadline has passed.

Only clauses of agreements in force or suspended are considered (a draft binds nobody yet; an expired or
superseded agreement's deadlines are history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from agreements.models import Actor, Agreement, Clause, RouteStatus, Violation

OVERDUE = "overdue"
NEEDS_ASSESSMENT = "needs_assessment"
STATE_LABELS = {OVERDUE: "Overdue", NEEDS_ASSESSMENT: "Needs assessment"}

WITHDRAWAL_CATEGORIES = {
    Clause.Kind.WEAPONS_WITHDRAWAL: Violation.Category.HEAVY_WEAPONS_IN_ZONE,
    Clause.Kind.GROUP_WITHDRAWAL: Violation.Category.ARMED_GROUP_IN_ZONE,
}
MONITORED_AGREEMENT_STATUSES = (Agreement.Status.IN_FORCE, Agreement.Status.SUSPENDED)


# --- violations waiting for review ------------------------------------------------------------------------------------


def violations_awaiting_review(*, agreement: Agreement | None = None) -> QuerySet[Violation]:
    """Reported (unreviewed) violations that are not retracted, the longest-waiting first."""
    queryset = (
        Violation.objects.filter(status=Violation.Status.REPORTED, retracted_at__isnull=True)
        .select_related("agreement", "place", "reported_by")  # shown on every row of the list
        .prefetch_related(Prefetch("perpetrators", queryset=Actor.objects.only("id", "name", "short_name")))
        .order_by("created_at", "id")
    )
    if agreement is not None:
        queryset = queryset.filter(agreement=agreement)
    return queryset


# --- clauses past their deadline ------------------------------------------------------------------------------------


@dataclass
class ClauseDue:
    """A clause past its deadline without evidence of fulfilment, and why."""

    clause: Clause
    state: str  # OVERDUE or NEEDS_ASSESSMENT
    reason: str
    days_overdue: int
    evidence: list[str] = field(default_factory=list)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


def _route_opened(clause: Clause, route: str, statuses: list[RouteStatus]) -> bool:
    opened = {status.segment.strip().casefold() for status in statuses if status.route.casefold() == route.casefold()}
    if "" in opened:
        return True
    segments = [segment.strip().casefold() for segment in clause.terms.get("segments") or []]
    return bool(segments) and all(segment in opened for segment in segments)


def _route_opening(clause: Clause, *, today: date, days: int) -> ClauseDue | None:
    routes = [route for route in clause.terms.get("routes") or [] if str(route).strip()]
    statuses = list(
        RouteStatus.objects.filter(
            agreement_id=clause.agreement_id, status=RouteStatus.Status.OPEN, observed_on__lte=today
        ).only("route", "segment")
    )
    closed = [route for route in routes if not _route_opened(clause, route, statuses)]
    if not closed:
        return None
    latest = {
        status.route: status
        for status in RouteStatus.objects.filter(
            agreement_id=clause.agreement_id, route__in=closed, observed_on__lte=today
        ).order_by("observed_on", "id")
    }
    evidence = [str(latest[route]) for route in closed if route in latest]
    return ClauseDue(
        clause,
        OVERDUE,
        f"No 'open' status for {', '.join(closed)} (whole route) on or before {today:%Y-%m-%d}.",
        days,
        evidence,
    )


def _withdrawal(clause: Clause, *, today: date, days: int) -> ClauseDue | None:
    category = WITHDRAWAL_CATEGORIES[clause.kind]
    after = datetime.combine(clause.deadline + timedelta(days=1), time(0), tzinfo=UTC)
    counts = (
        Violation.objects.filter(
            agreement_id=clause.agreement_id, category=category, retracted_at__isnull=True, started_at__gte=after
        )
        .values("status")
        .annotate(n=Count("id"))
    )
    by_status = {row["status"]: row["n"] for row in counts}
    label = Violation.Category(category).label.lower()
    verified = by_status.get(Violation.Status.VERIFIED, 0)
    if verified:
        return ClauseDue(
            clause, OVERDUE, f"{verified} verified violation(s) of '{label}' after the deadline.", days, []
        )
    unconfirmed = by_status.get(Violation.Status.REPORTED, 0) + by_status.get(Violation.Status.DISPUTED, 0)
    if unconfirmed:
        return ClauseDue(
            clause,
            NEEDS_ASSESSMENT,
            f"{unconfirmed} unverified report(s) of '{label}' after the deadline; review them.",
            days,
            [],
        )
    return None


def clause_deadline_state(clause: Clause, *, today: date | None = None) -> ClauseDue | None:
    """Why `clause` is past its deadline without evidence of fulfilment; None when it is not (or not yet) due."""
    today = today or timezone.localdate()
    if clause.deadline is None or clause.deadline >= today:
        return None
    days = (today - clause.deadline).days
    if clause.kind == Clause.Kind.ROUTE_OPENING:
        return _route_opening(clause, today=today, days=days)
    if clause.kind in WITHDRAWAL_CATEGORIES:
        return _withdrawal(clause, today=today, days=days)
    return ClauseDue(
        clause, NEEDS_ASSESSMENT, "Deadline passed; nothing in the record shows it was met. Assess it.", days
    )


def overdue_clauses(*, agreement: Agreement | None = None, today: date | None = None) -> list[ClauseDue]:
    """Clauses past their deadline without evidence of fulfilment, the longest overdue first.

    A few queries per clause past its deadline (agreements have tens of clauses, not thousands).
    """
    today = today or timezone.localdate()
    clauses = (
        Clause.objects.filter(deadline__lt=today, agreement__status__in=MONITORED_AGREEMENT_STATUSES)
        .select_related("agreement")  # the agreement is named beside each clause
        .order_by("deadline", "agreement__slug", "position", "number")
    )
    if agreement is not None:
        clauses = clauses.filter(agreement=agreement)
    due = [state for clause in clauses if (state := clause_deadline_state(clause, today=today)) is not None]
    return sorted(due, key=lambda item: (item.state != OVERDUE, item.clause.deadline, item.clause.position))
