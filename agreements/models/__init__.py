from agreements.models.actors import Actor, ActorAlias
from agreements.models.agreements import Agreement, AgreementParty, Clause
from agreements.models.events import ControlChange, DatePrecision, Patrol, RouteStatus
from agreements.models.geography import Place, PlaceAlias, Zone
from agreements.models.violations import Source, Violation, ViolationReview, ViolationSource

__all__ = [
    "Actor",
    "ActorAlias",
    "Agreement",
    "AgreementParty",
    "Clause",
    "ControlChange",
    "DatePrecision",
    "Patrol",
    "Place",
    "PlaceAlias",
    "RouteStatus",
    "Source",
    "Violation",
    "ViolationReview",
    "ViolationSource",
    "Zone",
]
