"""Hand-built records for the assessment engine's tests: an agreement, three actors and one call per kind of
evidence, each written through the real services (violations through `violation_create`, statuses through the
review workflow), so the engine reads exactly what the application writes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from agreements import services
from agreements.models import Clause, ControlChange, Patrol, RouteStatus, Violation
from tests.factories import ActorFactory, AgreementFactory, SourceFactory, UserFactory, ZoneFactory, make_violation

# Inside and outside tests.factories.SQUARE (the 1°×1° square around 36.5 E, 35.5 N).
INSIDE = {"longitude": Decimal("36.5"), "latitude": Decimal("35.5")}
OUTSIDE = {"longitude": Decimal("38.5"), "latitude": Decimal("35.5")}

MAY_1, MAY_31 = date(2019, 5, 1), date(2019, 5, 31)

DEFAULT_TERMS = {
    Clause.Kind.WEAPONS_WITHDRAWAL: {"weapon_categories": ["tanks", "artillery"]},
    Clause.Kind.ROUTE_OPENING: {"routes": ["M4", "M5"]},
}


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


class World:
    """An agreement between a government and rebels, guaranteed by a third state; add what a test needs."""

    def __init__(self):
        self.agreement = AgreementFactory(slug="accord")
        self.reporter = UserFactory(username="reporter", role="monitor")
        # A second person reviews (the workflow refuses the reporter); a superuser holds every permission.
        self.reviewer = UserFactory(username="verifier", is_superuser=True, is_staff=True)
        self.government = ActorFactory(slug="government", name="Government")
        self.army = ActorFactory(slug="army", name="Army", part_of=self.government)
        self.rebels = ActorFactory(slug="rebels", name="Rebels")
        self.guarantor = ActorFactory(slug="guarantor", name="Guarantor")
        self._numbers = 0

    def clause(self, kind, *, deadline=None, terms=None, obligated=None, number=None) -> Clause:
        self._numbers += 1
        if terms is None:
            terms = dict(DEFAULT_TERMS.get(kind, {}))
            if kind == Clause.Kind.PATROLS:
                terms = {"participants": [self.guarantor.slug, self.government.slug]}
            elif kind == Clause.Kind.COORDINATION_CENTRE:
                terms = {"members": [self.guarantor.slug]}
        clause = Clause(
            agreement=self.agreement,
            number=number or str(self._numbers),
            position=self._numbers,
            title=f"{kind} clause",
            kind=kind,
            deadline=deadline,
            terms=terms,
        )
        obligated = [self.government, self.rebels] if obligated is None else obligated
        return services.clause_save(clause=clause, user=self.reporter, obligated_actors=obligated)

    def zone(self, clause=None, **fields):
        zone = ZoneFactory.build(agreement=self.agreement, clause=clause, **fields)
        return services.zone_save(zone=zone, user=self.reporter)

    def violation(
        self, *clauses, on, status="reported", perpetrators=None, where=None, category=None, **fields
    ) -> Violation:
        """A violation started on `on` (a date: noon UTC; or a datetime), then moved to `status` by the workflow
        ("retracted" retracts a reported one)."""
        started_at = noon(on) if not isinstance(on, datetime) else on
        violation = make_violation(
            user=self.reporter,
            agreement=self.agreement,
            clauses=list(clauses),
            perpetrators=[self.army] if perpetrators is None else perpetrators,
            sources=[SourceFactory()],
            started_at=started_at,
            category=category or Violation.Category.SHELLING,
            **(where or OUTSIDE),
            **fields,
        )
        return self.set_status(violation, status)

    def set_status(self, violation, status):
        if status == "reported":
            return violation
        if status == "retracted":
            return services.violation_retract(violation=violation, user=self.reviewer, reason="Duplicate entry.")
        move = {
            "verified": services.violation_verify,
            "disputed": services.violation_dispute,
            "rejected": services.violation_reject,
        }[status]
        return move(violation=violation, user=self.reviewer, note="reviewed")

    def patrol(self, clause, *, on, outcome="completed", participants=None) -> Patrol:
        patrol = Patrol(
            agreement=self.agreement, clause=clause, patrolled_on=on, kind=Patrol.Kind.JOINT, outcome=outcome
        )
        participants = [self.guarantor] if participants is None else participants
        return services.model_save(instance=patrol, user=self.reporter, m2m={"participants": participants})

    def route(self, route, *, on, status, segment="", clause=None) -> RouteStatus:
        row = RouteStatus(
            agreement=self.agreement, clause=clause, route=route, segment=segment, observed_on=on, status=status
        )
        return services.model_save(instance=row, user=self.reporter)

    def control_change(self, *, on, locations=1, to_actor=None, violation=None) -> ControlChange:
        change = ControlChange(
            agreement=self.agreement,
            area_description="villages in the plain",
            occurred_on=on,
            locations=locations,
            to_actor=to_actor or self.army,
            violation=violation,
        )
        return services.model_save(instance=change, user=self.reporter)
