"""The documented shape of the compliance answers (OpenAPI): serializers used for the schema only, the answers
themselves being the engine's `as_dict()`."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import (
    inline_serializer,
)
from rest_framework import serializers

from agreements.models import Clause, RouteStatus
from reports.engine import STEPS
from reports.engine.rules import DEADLINE_LABELS
from reports.models import ComplianceStatus

# --- the documented shape of the answers ------------------------------------------------------------------------

STATUS_CHOICES = ComplianceStatus.choices
SCORE_FIELD = {"min_value": 0, "max_value": 3, "allow_null": True}


class ComplianceStatusField(serializers.ChoiceField):
    """A compliance status. Documented as one `ComplianceStatusEnum` component wherever it appears (status,
    computed_status, in answers and in assessments), rather than as one enum per field name."""

    def __init__(self, **kwargs):
        super().__init__(choices=ComplianceStatus.choices, **kwargs)


class ComplianceStatusFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ComplianceStatusField

    def map_serializer_field(self, auto_schema, direction):
        component = ResolvedComponent(
            name="ComplianceStatusEnum",
            type=ResolvedComponent.SCHEMA,
            object="ComplianceStatusEnum",
            schema={
                "type": "string",
                "enum": list(ComplianceStatus.values),
                "description": "\n".join(f"* `{value}` - {label}" for value, label in ComplianceStatus.choices),
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


def _brief(name: str, fields: dict, **kwargs):
    return inline_serializer(name, fields, **kwargs)


AGREEMENT_BRIEF = _brief("ComplianceAgreement", {"slug": serializers.CharField(), "title": serializers.CharField()})
PERIOD = _brief("CompliancePeriod", {"from": serializers.DateField(), "to": serializers.DateField()})
ACTOR_BRIEF = _brief(
    "ComplianceActor", {"slug": serializers.CharField(), "name": serializers.CharField()}, allow_null=True
)


class ActorViolationCountSerializer(serializers.Serializer):
    actor = serializers.CharField(help_text="Actor slug.")
    name = serializers.CharField()
    verified = serializers.IntegerField()
    unverified = serializers.IntegerField()
    disputed = serializers.IntegerField()


class ViolationEvidenceSerializer(serializers.Serializer):
    verified = serializers.IntegerField()
    unverified = serializers.IntegerField(help_text="Still 'reported' (not retracted).")
    disputed = serializers.IntegerField(help_text="Shown apart; they decide nothing.")
    by_actor = ActorViolationCountSerializer(many=True)


class PatrolEvidenceSerializer(serializers.Serializer):
    completed = serializers.IntegerField()
    cut_short = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    attacked = serializers.IntegerField()


class RouteObservationSerializer(serializers.Serializer):
    route = serializers.CharField()
    segment = serializers.CharField(help_text="Empty: the whole route.")
    status = serializers.ChoiceField(choices=RouteStatus.Status.choices)
    observed_on = serializers.DateField()


class ClauseEvidenceSerializer(serializers.Serializer):
    violations = ViolationEvidenceSerializer()
    patrols = PatrolEvidenceSerializer()
    route_statuses = RouteObservationSerializer(
        many=True, help_text="Observations in the period and, per route and segment, the last one before it."
    )
    control_changes = serializers.IntegerField()
    locations_changed = serializers.IntegerField()


class ComplianceOverrideSerializer(serializers.Serializer):
    status = ComplianceStatusField()
    score = serializers.IntegerField(**SCORE_FIELD)
    rationale = serializers.CharField()
    by = serializers.CharField(help_text="Username of the person who assessed it.")
    at = serializers.DateTimeField()


DEADLINE_STATES = list(DEADLINE_LABELS.items())


class ClauseComplianceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=Clause.Kind.choices)
    deadline = serializers.DateField(allow_null=True)
    deadline_state = serializers.ChoiceField(choices=DEADLINE_STATES)
    status = ComplianceStatusField(help_text="A person's if recorded, else computed.")
    score = serializers.IntegerField(**SCORE_FIELD, help_text="0–3 (Peace Accords Matrix); null when unscored.")
    computed_status = ComplianceStatusField()
    computed_score = serializers.IntegerField(**SCORE_FIELD)
    rule = serializers.CharField(help_text="Why: the rule that produced the computed status, in words.")
    override = ComplianceOverrideSerializer(allow_null=True)
    evidence = ClauseEvidenceSerializer()


class ComplianceSerializer(serializers.Serializer):
    agreement = AGREEMENT_BRIEF
    period = PERIOD
    actor = ACTOR_BRIEF
    implementation_percent = serializers.FloatField(
        allow_null=True, help_text="Sum of scores / (3 × scored clauses) × 100; null when no clause is scored."
    )
    scored_clauses = serializers.IntegerField()
    clause_count = serializers.IntegerField()
    clauses = ClauseComplianceSerializer(many=True)


class TimelineClauseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = ComplianceStatusField()
    score = serializers.IntegerField(**SCORE_FIELD)
    computed_status = ComplianceStatusField()
    computed_score = serializers.IntegerField(**SCORE_FIELD)
    deadline_state = serializers.ChoiceField(choices=DEADLINE_STATES)


TIMELINE_STEP = inline_serializer(
    "ComplianceTimelineStep",
    {
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "implementation_percent": serializers.FloatField(allow_null=True),
        "scored_clauses": serializers.IntegerField(),
        "clauses": TimelineClauseSerializer(many=True),
    },
    many=True,
)


class ComplianceTimelineSerializer(serializers.Serializer):
    agreement = AGREEMENT_BRIEF
    period = PERIOD
    actor = ACTOR_BRIEF
    step = serializers.ChoiceField(choices=[(s, s) for s in STEPS])
    steps = TIMELINE_STEP


# --- the compliance views -------------------------------------------------------------------------------------------
