"""Clauses past their deadline without evidence of fulfilment: the To-do page's list, decided by the engine.

There is one fulfilment and deadline rule, `reports.engine.rules.deadline_of`; the compliance endpoint, the
timeline, every report and this list read it. A clause is listed when the engine, assessing its agreement up to
`today`, says its deadline state is *overdue*: a breach clause (ceasefire, zone, withdrawals, …) with a verified or
unverified breach counted against it after the deadline (in its zone, of the matching category, or linked to it);
a patrols clause with no completed patrol on or before the deadline; a route-opening clause whose routes were not
all open on or before it. The reason shown is the engine's own sentence.

Only clauses of agreements in force or suspended are considered (a draft binds nobody yet; an expired or
superseded agreement's deadlines are history). One assessment per such agreement: about ten queries each,
whatever the number of violations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone

from agreements.models import Agreement, Clause
from reports.engine import assess_agreement
from reports.engine.rules import DEADLINE_LABELS, DeadlineState, deadline_of

OVERDUE = DeadlineState.OVERDUE
MONITORED_AGREEMENT_STATUSES = (Agreement.Status.IN_FORCE, Agreement.Status.SUSPENDED)


@dataclass
class ClauseDue:
    """A clause past its deadline without evidence of fulfilment, and why (the engine's words)."""

    clause: Clause
    state: str  # always OVERDUE: the engine's deadline state
    reason: str
    days_overdue: int
    evidence: list[str] = field(default_factory=list)

    @property
    def state_label(self) -> str:
        return DEADLINE_LABELS[self.state]


def _last_seen(assessed) -> list[str]:
    """For a route clause: the last observation of each route named, on or before the day judged."""
    latest = {}
    for row in assessed.evidence.route_rows:
        if row.route in assessed.evidence.routes:
            latest[(row.route, row.segment)] = row
    return [
        f"{row.route}{f' ({row.segment})' if row.segment else ''} {row.status.replace('_', ' ')} on {row.observed_on}"
        for row in latest.values()
    ]


def overdue_clauses(*, agreement: Agreement | None = None, today: date | None = None) -> list[ClauseDue]:
    """Clauses past their deadline (before `today`) that the engine judges overdue on `today`, longest first."""
    today = today or timezone.localdate()
    agreements = Agreement.objects.filter(
        status__in=MONITORED_AGREEMENT_STATUSES, clauses__deadline__lt=today
    ).distinct()
    if agreement is not None:
        agreements = agreements.filter(pk=agreement.pk)
    due = []
    for each in agreements.order_by("slug"):
        # The deadline state does not depend on where the period starts (it reads from the day after the deadline
        # to the period's end), so a one-day period ending today asks exactly "is it overdue today?".
        assessment = assess_agreement(each, start=today, end=today, include_overrides=False)
        for assessed in assessment.clauses:
            clause = assessed.clause
            state, reason = deadline_of(clause, assessed.evidence, today)
            if state != OVERDUE:
                continue
            clause.agreement = each  # named beside the clause; no query per row
            due.append(ClauseDue(clause, state, reason, (today - clause.deadline).days, _last_seen(assessed)))
    return sorted(due, key=lambda item: (item.clause.deadline, item.clause.agreement.slug, item.clause.position))
