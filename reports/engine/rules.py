"""The rules: from a clause's evidence over a period to its status, its 0–3 score and its deadline state, each
with the reason written out.

Scores follow the Peace Accords Matrix (PAM) scale: 0 not begun, 1 minimal, 2 intermediate, 3 complete. How a
status maps to a score, everywhere:

- compliant → 3: the provision is implemented in full over the period.
- partially compliant → 2 or 1: 2 when the shortfall is slight (a single unverified alleged breach; most patrols
  completed; one of the named routes open), 1 when it is larger (repeated unverified breaches; fewer than half the
  patrols completed; routes only partly open, or open during the period but not at its end).
- non-compliant → 1 or 0: 1 when the provision exists but was verifiably broken (verified breaches, territory
  changing hands, patrols that set out but none completed, a route that was open once), 0 when implementation
  has not begun (a route never open after its deadline, no patrol ever completed, every patrol cancelled).
- not yet due, not assessed → no score: PAM scores only the provisions it can assess, so these are left out of
  the implementation percentage.

Absence of evidence is not evidence of compliance: a clause with no incident, patrol, route status or control
change in the period (and no missed deadline) is "not assessed", never "compliant".

A deadline is met when the obligation was fulfilled on or before the deadline day (the day itself is in time),
overdue when the deadline passed before the period's end without that, and not due when the deadline is on or
after the period's last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from agreements.models import Clause, RouteStatus
from reports.engine.evidence import BREACH_KINDS, ClauseEvidence
from reports.models import ComplianceStatus, ImplementationScore

Kind = Clause.Kind
Status = ComplianceStatus
Score = ImplementationScore


class DeadlineState:
    NOT_DUE = "not_due"
    MET = "met"
    OVERDUE = "overdue"
    NO_DEADLINE = "no_deadline"


# The one wording of each deadline state: the API's schema, every report and the To-do page read it from here.
DEADLINE_LABELS = {
    DeadlineState.NOT_DUE: "Not yet due",
    DeadlineState.MET: "Met",
    DeadlineState.OVERDUE: "Overdue",
    DeadlineState.NO_DEADLINE: "No deadline",
}


@dataclass(frozen=True)
class Judgement:
    status: str
    score: int | None
    deadline_state: str
    rule: str


NOT_ASSESSED_NOTE = (
    "Not assessed, and left out of the implementation percentage: the Peace Accords Matrix scores only the "
    "provisions it can assess, and absence of evidence is not evidence of compliance."
)
NOT_YET_DUE_NOTE = "Not yet due, and left out of the implementation percentage."


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _incidents(ev: ClauseEvidence) -> str:
    text = (
        f"{ev.verified} verified and {ev.unverified} unverified (reported) incident{'s' if ev.unverified != 1 else ''}"
    )
    if ev.disputed:
        text += f"; {_plural(ev.disputed, 'disputed incident')} shown apart, not counted"
    return text


def _day(value: date) -> str:
    return value.isoformat()


def deadline_of(clause: Clause, ev: ClauseEvidence, end: date) -> tuple[str, str]:
    """The clause's deadline state at the end of a period and the sentence saying why: the one fulfilment and
    deadline rule, which the judgements, the compliance endpoint, the reports and the To-do page all read."""
    if clause.kind == Kind.ROUTE_OPENING:
        return _route_deadline(clause, ev, end)
    if clause.kind == Kind.PATROLS:
        return _patrol_deadline(clause, ev, end)
    if clause.kind in BREACH_KINDS:
        return _breach_deadline(clause, ev, end)
    raise ValueError(f"No rule for clause kind {clause.kind!r}.")


def judge(clause: Clause, ev: ClauseEvidence, start: date, end: date) -> Judgement:
    if clause.kind == Kind.ROUTE_OPENING:
        return judge_route_opening(clause, ev, start, end)
    if clause.kind == Kind.PATROLS:
        return judge_patrols(clause, ev, start, end)
    if clause.kind in BREACH_KINDS:
        return judge_breaches(clause, ev, start, end)
    raise ValueError(f"No rule for clause kind {clause.kind!r}.")  # a new kind must get a rule here


# --- obligations to refrain (status quo, ceasefire, zone, withdrawals, centre, other) -----------------------------

_WHAT = {
    Kind.STATUS_QUO: "Status-quo clause, judged on control changes and on offensives and other incidents linked to it",
    Kind.CEASEFIRE: "Ceasefire clause, judged on the incidents linked to it",
    Kind.DEMILITARISED_ZONE: "Zone clause, judged on the incidents linked to it and those located inside the zones "
    "it sets up",
    Kind.WEAPONS_WITHDRAWAL: "Weapons-withdrawal clause, judged on presence in the zone after the deadline: incidents "
    "linked to it and heavy weapons recorded inside its zone",
    Kind.GROUP_WITHDRAWAL: "Group-withdrawal clause, judged on presence in the zone after the deadline: incidents "
    "linked to it and armed groups recorded inside its zone",
    Kind.COORDINATION_CENTRE: "Coordination-centre clause, judged on the incidents linked to it",
    Kind.OTHER: "Clause judged on the incidents linked to it",
}


def _breach_deadline(clause: Clause, ev: ClauseEvidence, end: date) -> tuple[str, str]:
    deadline = clause.deadline
    if deadline is None:
        return DeadlineState.NO_DEADLINE, ""
    if deadline >= end:
        return (
            DeadlineState.NOT_DUE,
            f"Its deadline, {_day(deadline)}, is on or after the period's last day, and it binds only from the day "
            "after.",
        )
    later = ev.breaches_since_deadline + (ev.control_changes if clause.kind == Kind.STATUS_QUO else 0)
    if later:
        breaches = _plural(later, "verified or unverified breach", "verified or unverified breaches")
        return (
            DeadlineState.OVERDUE,
            f"Deadline {_day(deadline)} overdue: {breaches} recorded after it, up to {_day(end)}.",
        )
    return (
        DeadlineState.MET,
        f"Deadline {_day(deadline)} met as far as the record shows: no verified or unverified breach recorded after "
        f"it, up to {_day(end)}.",
    )


def judge_breaches(clause: Clause, ev: ClauseEvidence, start: date, end: date) -> Judgement:
    deadline_state, deadline_text = _breach_deadline(clause, ev, end)
    what = _WHAT[clause.kind]
    if deadline_state == DeadlineState.NOT_DUE:
        return Judgement(
            Status.NOT_YET_DUE,
            None,
            deadline_state,
            f"{what}. {deadline_text} Nothing in the period is a breach yet. {NOT_YET_DUE_NOTE}",
        )
    window = f" (counted from {_day(ev.counted_from)}, the day after the deadline)" if ev.counted_from != start else ""
    facts = f"In the period{window}: {_incidents(ev)}"
    if clause.kind == Kind.STATUS_QUO:
        facts += (
            f"; {_plural(ev.control_changes, 'control change')} over {_plural(ev.locations_changed, 'location')}, "
            f"{ev.control_established} of them established (tied to a verified incident or to none) and "
            f"{ev.control_reported} tied to an unverified incident"
        )
    facts += "."
    established = ev.verified + (ev.control_established if clause.kind == Kind.STATUS_QUO else 0)
    alleged = ev.unverified + (ev.control_reported if clause.kind == Kind.STATUS_QUO else 0)
    tail = f" {deadline_text}" if deadline_text else ""
    broken = (
        "Verified breaches or established control changes" if clause.kind == Kind.STATUS_QUO else "Verified breaches"
    )
    if established:
        return Judgement(
            Status.NON_COMPLIANT,
            Score.MINIMAL,
            deadline_state,
            f"{what}. {facts} {broken} make it non-compliant; score 1 (minimal): the provision stands but was "
            f"verifiably broken.{tail}",
        )
    if alleged:
        score = Score.INTERMEDIATE if alleged == 1 else Score.MINIMAL
        why = (
            "score 2 (intermediate): a single alleged breach, not verified"
            if alleged == 1
            else "score 1 (minimal): repeated alleged breaches (unverified incidents and control changes count one "
            "each), a pattern even though none is verified yet"
        )
        return Judgement(
            Status.PARTIALLY_COMPLIANT,
            score,
            deadline_state,
            f"{what}. {facts} Only unverified breaches: partially compliant; {why}.{tail}",
        )
    return Judgement(
        Status.NOT_ASSESSED,
        None,
        deadline_state,
        f"{what}. {facts} No verified or unverified breach in the period. {NOT_ASSESSED_NOTE}{tail}",
    )


# --- patrols ----------------------------------------------------------------------------------------------------


def _patrol_deadline(clause: Clause, ev: ClauseEvidence, end: date) -> tuple[str, str]:
    deadline = clause.deadline
    if deadline is None:
        return DeadlineState.NO_DEADLINE, ""
    first = ev.first_completed_patrol
    if first is not None and first <= deadline:
        return DeadlineState.MET, f"Deadline {_day(deadline)} met: first completed patrol on {_day(first)}."
    if deadline < end:
        late = f" (the first came late, on {_day(first)})" if first else ""
        return DeadlineState.OVERDUE, f"Deadline {_day(deadline)} overdue: no patrol completed by then{late}."
    return DeadlineState.NOT_DUE, f"Deadline {_day(deadline)} not yet due."


def _no_patrols(ev: ClauseEvidence, deadline_state: str, said: str, tail: str) -> Judgement:
    """No patrol in the period: the deadline, then incidents against the clause, decide."""
    if deadline_state == DeadlineState.OVERDUE and ev.first_completed_patrol is None:
        return Judgement(
            Status.NON_COMPLIANT,
            Score.NOT_BEGUN,
            deadline_state,
            f"{said} The deadline passed with no completed patrol on record, then or since: "
            f"non-compliant; score 0 (not begun).{tail}",
        )
    if ev.verified:
        return Judgement(
            Status.NON_COMPLIANT,
            Score.MINIMAL,
            deadline_state,
            f"{said} No patrol recorded, and verified incidents against the clause: non-compliant; "
            f"score 1 (minimal).{tail}",
        )
    if ev.unverified:
        return Judgement(
            Status.PARTIALLY_COMPLIANT,
            Score.MINIMAL,
            deadline_state,
            f"{said} No patrol recorded, only unverified incidents against the clause: partially "
            f"compliant; score 1 (minimal).{tail}",
        )
    return Judgement(Status.NOT_ASSESSED, None, deadline_state, f"{said} {NOT_ASSESSED_NOTE}{tail}")


def judge_patrols(clause: Clause, ev: ClauseEvidence, start: date, end: date) -> Judgement:
    deadline_state, deadline_text = _patrol_deadline(clause, ev, end)
    tail = f" {deadline_text}" if deadline_text else ""
    p = ev.patrols
    total = sum(p.values())
    completed = p["completed"]
    facts = (
        f"In the period: {_plural(total, 'patrol')} ({completed} completed, {p['cut_short']} cut short, "
        f"{p['cancelled']} cancelled, {p['attacked']} attacked); {_incidents(ev)} linked to the clause."
    )
    what = "Patrols clause, judged on the outcomes of its patrols"
    if deadline_state == DeadlineState.NOT_DUE and not completed:
        return Judgement(
            Status.NOT_YET_DUE,
            None,
            deadline_state,
            f"{what}. {facts} No patrol completed yet.{tail} {NOT_YET_DUE_NOTE}",
        )
    if total == 0:
        return _no_patrols(ev, deadline_state, f"{what}. {facts}", tail)
    if completed == total:
        if ev.verified:
            return Judgement(
                Status.PARTIALLY_COMPLIANT,
                Score.INTERMEDIATE,
                deadline_state,
                f"{what}. {facts} Every patrol completed, but verified incidents were linked to the clause: "
                f"partially compliant; score 2 (intermediate).{tail}",
            )
        return Judgement(
            Status.COMPLIANT,
            Score.COMPLETE,
            deadline_state,
            f"{what}. {facts} Every patrol completed and no verified incident against the clause: compliant; "
            f"score 3 (complete).{tail}",
        )
    if completed:
        score = Score.INTERMEDIATE if completed * 2 >= total else Score.MINIMAL
        share = "at least half" if score == Score.INTERMEDIATE else "fewer than half"
        return Judgement(
            Status.PARTIALLY_COMPLIANT,
            score,
            deadline_state,
            f"{what}. {facts} Some patrols completed, others cut short, cancelled or attacked: partially compliant; "
            f"score {int(score)} ({share} completed).{tail}",
        )
    set_out = p["cut_short"] + p["attacked"]
    score = Score.MINIMAL if set_out else Score.NOT_BEGUN
    why = "score 1 (minimal): patrols set out but none completed" if set_out else "score 0: every patrol cancelled"
    return Judgement(
        Status.NON_COMPLIANT, score, deadline_state, f"{what}. {facts} No patrol completed: non-compliant; {why}.{tail}"
    )


# --- route opening ----------------------------------------------------------------------------------------------

OPEN, PARTLY, CLOSED = RouteStatus.Status.OPEN, RouteStatus.Status.PARTLY_OPEN, RouteStatus.Status.CLOSED


def route_state(ev: ClauseEvidence, route: str, on: date) -> str | None:
    """A route's state on a day from the observations up to it: the last whole-route observation, together with
    any later (or same-day) observation of a segment. All open → open; all closed → closed; else partly open.
    None when nothing was observed."""
    rows = [r for r in ev.route_rows if r.route == route and r.observed_on <= on]
    whole = [r for r in rows if not r.segment]
    since = whole[-1].observed_on if whole else date.min
    latest: dict[str, str] = {}
    for row in rows:
        if row.segment and row.observed_on >= since:
            latest[row.segment] = row.status
    states = ([whole[-1].status] if whole else []) + list(latest.values())
    if not states:
        return None
    if all(s == OPEN for s in states):
        return OPEN
    if all(s == CLOSED for s in states):
        return CLOSED
    return PARTLY


def fulfilled_on(ev: ClauseEvidence, until: date) -> date | None:
    """The first day on or before `until` on which every named route was open."""
    if not ev.routes:
        return None
    for day in sorted({r.observed_on for r in ev.route_rows if r.observed_on <= until}):
        if all(route_state(ev, route, day) == OPEN for route in ev.routes):
            return day
    return None


def _route_deadline(clause: Clause, ev: ClauseEvidence, end: date) -> tuple[str, str]:
    deadline = clause.deadline
    done = fulfilled_on(ev, end)
    if deadline is None:
        return DeadlineState.NO_DEADLINE, ""
    if done is not None and done <= deadline:
        return DeadlineState.MET, f"Deadline {_day(deadline)} met: all open on {_day(done)}."
    if deadline < end:
        late = f" (all open only from {_day(done)})" if done else ""
        return DeadlineState.OVERDUE, f"Deadline {_day(deadline)} overdue: not all open on or before it{late}."
    return DeadlineState.NOT_DUE, f"Deadline {_day(deadline)} not yet due."


def judge_route_opening(clause: Clause, ev: ClauseEvidence, start: date, end: date) -> Judgement:
    routes = ", ".join(ev.routes) or "(no routes named)"
    what = f"Route-opening clause ({routes}), judged on route statuses"
    at_end = {route: route_state(ev, route, end) for route in ev.routes}
    in_period = [r for r in ev.route_rows if r.observed_on >= start and r.route in ev.routes]
    deadline_state, deadline_text = _route_deadline(clause, ev, end)
    tail = f" {deadline_text}" if deadline_text else ""
    state_text = "; ".join(
        f"{route} {(state or 'no status recorded').replace('_', ' ')}" for route, state in at_end.items()
    )
    facts = f"At the period's end ({_day(end)}): {state_text or 'no route'}. {_incidents(ev)} linked to the clause."
    if ev.routes and all(state == OPEN for state in at_end.values()):
        if ev.verified:
            return Judgement(
                Status.PARTIALLY_COMPLIANT,
                Score.INTERMEDIATE,
                deadline_state,
                f"{what}. {facts} All open, but verified incidents were linked to the clause: partially compliant; "
                f"score 2 (intermediate).{tail}",
            )
        return Judgement(
            Status.COMPLIANT, Score.COMPLETE, deadline_state, f"{what}. {facts} All open: compliant; score 3.{tail}"
        )
    if deadline_state == DeadlineState.NOT_DUE:
        return Judgement(
            Status.NOT_YET_DUE, None, deadline_state, f"{what}. {facts} Not all open yet.{tail} {NOT_YET_DUE_NOTE}"
        )
    observed = any(state is not None for state in at_end.values())
    if not observed and deadline_state == DeadlineState.NO_DEADLINE:
        return Judgement(Status.NOT_ASSESSED, None, deadline_state, f"{what}. {facts} {NOT_ASSESSED_NOTE}")
    open_now = [route for route, state in at_end.items() if state == OPEN]
    some_way = [route for route, state in at_end.items() if state in (OPEN, PARTLY)]
    open_during = any(r.status in (OPEN, PARTLY) for r in in_period)
    if some_way or open_during:
        score = Score.INTERMEDIATE if open_now else Score.MINIMAL
        why = (
            f"score 2 (intermediate): {', '.join(open_now)} open"
            if open_now
            else "score 1 (minimal): only partly open, or open during the period but not at its end"
        )
        return Judgement(
            Status.PARTIALLY_COMPLIANT,
            score,
            deadline_state,
            f"{what}. {facts} Not all open: partially compliant; {why}.{tail}",
        )
    ever_open = any(r.status in (OPEN, PARTLY) for r in ev.route_rows if r.route in ev.routes)
    score = Score.MINIMAL if ever_open else Score.NOT_BEGUN
    why = (
        "score 1 (minimal): open at some time before, closed again"
        if ever_open
        else "score 0 (not begun): no open status ever recorded"
    )
    passed = " past the deadline" if deadline_state == DeadlineState.OVERDUE else ""
    return Judgement(
        Status.NON_COMPLIANT, score, deadline_state, f"{what}. {facts} None open{passed}: non-compliant; {why}.{tail}"
    )
