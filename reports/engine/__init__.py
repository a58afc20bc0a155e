"""The assessment engine: plain functions over the record, no HTTP.

    assess_agreement(agreement, start=, end=, actor=None, include_overrides=True) -> AgreementAssessment
    assess_clause(clause, start=, end=, actor=None, include_overrides=True) -> ClauseAssessment
    compliance_timeline(agreement, start=, end=, step="month", actor=None) -> list[dict]

For each clause and period: the computed status, a 0–3 score on the Peace Accords Matrix scale, the deadline
state and the evidence, with the rule that produced them written out (`rules.py` says how each kind is judged;
`evidence.py` what counts as evidence). A person's assessment recorded for exactly that clause, actor and period
(`reports.assessments.assessment_record`) overrides the status and score shown; the computed ones stay beside it.

The agreement's implementation percentage is the PAM roll-up: the sum of the scores shown divided by 3 × the
number of scored clauses; clauses not yet due or not assessed have no score and are left out. With an actor, the
scorecard has only the clauses that actor is obligated by (`Clause.obligated_actors`) and counts only what the actor
or its parts did (see `evidence.py`).

The number of queries does not depend on how many violations, patrols or control changes there are (about ten
for an assessment; a timeline loads the period-independent part once and runs the per-period part per step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from agreements.models import Actor, Agreement, Clause
from reports.engine.evidence import ClauseEvidence, Record
from reports.engine.periods import MAX_STEPS, STEPS, check_period, split_period
from reports.engine.rules import DeadlineState, Judgement, judge
from reports.models import Assessment

__all__ = [
    "MAX_STEPS",
    "STEPS",
    "AgreementAssessment",
    "ClauseAssessment",
    "DeadlineState",
    "assess_agreement",
    "assess_clause",
    "compliance_timeline",
]


@dataclass
class ClauseAssessment:
    clause: Clause
    judgement: Judgement
    evidence: ClauseEvidence
    start: date
    override: Assessment | None = None

    @property
    def computed_status(self) -> str:
        return self.judgement.status

    @property
    def computed_score(self) -> int | None:
        return None if self.judgement.score is None else int(self.judgement.score)

    @property
    def status(self) -> str:
        """The status shown: a person's, if one was recorded for this period, else the computed one."""
        return self.override.status if self.override is not None else self.computed_status

    @property
    def score(self) -> int | None:
        return self.override.score if self.override is not None else self.computed_score

    @property
    def deadline_state(self) -> str:
        return self.judgement.deadline_state

    @property
    def rule(self) -> str:
        return self.judgement.rule

    def evidence_dict(self) -> dict:
        return self.evidence.as_dict(self.start)

    def as_dict(self) -> dict:
        clause = self.clause
        override = None
        if self.override is not None:
            override = {
                "status": self.override.status,
                "score": self.override.score,
                "rationale": self.override.rationale,
                "by": self.override.assessed_by.get_username(),
                "at": self.override.updated_at.isoformat(),
            }
        return {
            "id": clause.pk,
            "number": clause.number,
            "title": clause.title,
            "kind": clause.kind,
            "deadline": clause.deadline.isoformat() if clause.deadline else None,
            "deadline_state": self.deadline_state,
            "status": self.status,
            "score": self.score,
            "computed_status": self.computed_status,
            "computed_score": self.computed_score,
            "rule": self.rule,
            "override": override,
            "evidence": self.evidence_dict(),
        }


@dataclass
class AgreementAssessment:
    agreement: Agreement
    start: date
    end: date
    actor: Actor | None
    clauses: list[ClauseAssessment] = field(default_factory=list)

    @property
    def scored(self) -> list[ClauseAssessment]:
        return [c for c in self.clauses if c.score is not None]

    @property
    def implementation_percent(self) -> float | None:
        """PAM roll-up: sum of scores / (3 × scored clauses), as a percentage rounded to 0.1; None when none scored."""
        scored = self.scored
        if not scored:
            return None
        return round(100 * sum(c.score for c in scored) / (3 * len(scored)), 1)

    def as_dict(self) -> dict:
        return {
            "agreement": {"slug": self.agreement.slug, "title": self.agreement.title},
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "actor": None if self.actor is None else {"slug": self.actor.slug, "name": self.actor.name},
            "implementation_percent": self.implementation_percent,
            "scored_clauses": len(self.scored),
            "clause_count": len(self.clauses),
            "clauses": [c.as_dict() for c in self.clauses],
        }


def _clauses(agreement: Agreement, actor: Actor | None) -> list[Clause]:
    clauses = Clause.objects.filter(agreement=agreement)
    if actor is not None:
        clauses = clauses.filter(obligated_actors=actor)
    return list(clauses.order_by("position", "number", "pk"))


def _overrides(
    clauses: list[Clause], start: date, end: date, actor: Actor | None, *, exact: bool = True
) -> dict[tuple[int, date, date], Assessment]:
    """People's assessments by (clause id, period start, period end): for exactly this period (and actor, or the
    clause as a whole), or with `exact` False every one whose period lies within it (for a timeline's steps)."""
    if not clauses:
        return {}
    rows = Assessment.objects.filter(clause__in=clauses).select_related("assessed_by")
    if exact:
        rows = rows.filter(period_start=start, period_end=end)
    else:
        rows = rows.filter(period_start__gte=start, period_end__lte=end)
    rows = rows.filter(actor=actor) if actor is not None else rows.filter(actor__isnull=True)
    return {(row.clause_id, row.period_start, row.period_end): row for row in rows}


def _for_period(overrides: dict, start: date, end: date) -> dict[int, Assessment]:
    return {clause_id: row for (clause_id, first, last), row in overrides.items() if (first, last) == (start, end)}


def _assess(record: Record, start: date, end: date, overrides: dict[int, Assessment]) -> list[ClauseAssessment]:
    evidence = record.evidence(start, end)
    return [
        ClauseAssessment(
            clause=clause,
            judgement=judge(clause, evidence[clause.pk], start, end),
            evidence=evidence[clause.pk],
            start=start,
            override=overrides.get(clause.pk),
        )
        for clause in record.clauses
    ]


def assess_agreement(
    agreement: Agreement, *, start: date, end: date, actor: Actor | None = None, include_overrides: bool = True
) -> AgreementAssessment:
    """Every clause of the agreement (with an actor: every clause it is obligated by) assessed over start..end."""
    check_period(start, end)
    clauses = _clauses(agreement, actor)
    record = Record(agreement, clauses=clauses, until=end, actor=actor)
    overrides = _for_period(_overrides(clauses, start, end, actor), start, end) if include_overrides else {}
    return AgreementAssessment(
        agreement=agreement, start=start, end=end, actor=actor, clauses=_assess(record, start, end, overrides)
    )


def assess_clause(
    clause: Clause, *, start: date, end: date, actor: Actor | None = None, include_overrides: bool = True
) -> ClauseAssessment:
    """One clause assessed over start..end, by the same rules (for recording a person's assessment beside it)."""
    check_period(start, end)
    record = Record(clause.agreement, clauses=[clause], until=end, actor=actor)
    overrides = _for_period(_overrides([clause], start, end, actor), start, end) if include_overrides else {}
    return _assess(record, start, end, overrides)[0]


def compliance_timeline(
    agreement: Agreement, *, start: date, end: date, step: str = "month", actor: Actor | None = None
) -> list[dict]:
    """Status and score per clause per step (calendar weeks, months or quarters, cut to the period), for dashboards.

    Each step: {"from", "to", "implementation_percent", "scored_clauses", "clauses": [{"id", "number", "status",
    "score", "computed_status", "computed_score", "deadline_state"}]}. A person's assessment counts for a step when it
    was recorded for exactly that step's period. Raises ValueError for an unknown step or more than MAX_STEPS steps.
    """
    steps = split_period(start, end, step)
    clauses = _clauses(agreement, actor)
    record = Record(agreement, clauses=clauses, until=end, actor=actor)
    overrides = _overrides(clauses, start, end, actor, exact=False)
    timeline = []
    for step_start, step_end in steps:
        result = AgreementAssessment(
            agreement=agreement,
            start=step_start,
            end=step_end,
            actor=actor,
            clauses=_assess(record, step_start, step_end, _for_period(overrides, step_start, step_end)),
        )
        timeline.append(
            {
                "from": step_start.isoformat(),
                "to": step_end.isoformat(),
                "implementation_percent": result.implementation_percent,
                "scored_clauses": len(result.scored),
                "clauses": [
                    {
                        "id": c.clause.pk,
                        "number": c.clause.number,
                        "status": c.status,
                        "score": c.score,
                        "computed_status": c.computed_status,
                        "computed_score": c.computed_score,
                        "deadline_state": c.deadline_state,
                    }
                    for c in result.clauses
                ],
            }
        )
    return timeline
