"""Compliance over HTTP: thin faces over `reports.engine` and `reports.assessments`.

    GET /api/v1/agreements/{slug}/compliance?from=&to=[&actor=]            assess_agreement(...).as_dict()
    GET /api/v1/agreements/{slug}/compliance/timeline?from=&to=&step=[&actor=]   compliance_timeline(...)
    /api/v1/assessments/                                                  people's assessments (list, detail, write)

Conditional GETs: the compliance answers depend on every row the engine reads, so their ETag comes from
`record_state` — the latest `updated_at` and the row count of the agreement itself, its clauses, zones, violations,
patrols, route statuses, control changes and assessments (with an actor: the actors too, since the actor's parts
come from `Actor.part_of`), in one query. Any edit, addition or deletion there changes the tag; the request's path
(period, actor, step), format and role are in it as well (`compliance.api.conditional.etag_for`). The answers do not
depend on today's date, only on the record, so nothing else can make a cached answer stale.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Count, Exists, IntegerField, Max, OuterRef, Subquery, Value
from django.shortcuts import get_object_or_404
from django.utils.http import http_date, parse_etags
from django_filters import rest_framework as filters
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import filters as drf_filters
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from agreements.api.fields import BriefRelatedField
from agreements.api.filters import DateFilter, IdFilter, IsoDateTimeFilter, actor_q
from agreements.models import Actor, Agreement, Clause, ControlChange, Patrol, RouteStatus, Violation, Zone
from agreements.services import permissions
from compliance.api.conditional import ConditionalGetMixin, etag_for, fingerprint, not_modified
from compliance.api.errors import PreconditionFailed
from compliance.api.idempotency import IdempotentMixin
from compliance.api.serializers import DayField, StrictFieldsMixin
from compliance.dates import DAY_SCHEMA, day_out_of_range
from reports.assessments import assessment_record, assessment_withdraw
from reports.engine import MAX_STEPS, STEPS, assess_agreement, compliance_timeline
from reports.engine.periods import split_period
from reports.engine.rules import DEADLINE_LABELS
from reports.models import Assessment, ComplianceStatus

# --- conditional GETs over the whole record of an agreement ------------------------------------------------------


def _state_of(queryset) -> tuple[Subquery, Subquery]:
    """(latest updated_at, row count) of a queryset, as scalar subqueries (grouped on a constant: one row)."""
    grouped = queryset.order_by().annotate(_all=Value(1, output_field=IntegerField())).values("_all")
    return (
        Subquery(grouped.annotate(latest=Max("updated_at")).values("latest")),
        Subquery(grouped.annotate(rows=Count("pk")).values("rows")),
    )


def record_state(agreement: Agreement, *, actor: Actor | None = None) -> tuple[str, object]:
    """A string that changes whenever anything the engine reads for `agreement` changes, and the latest change."""
    sources = {
        "agreement": Agreement.objects.filter(pk=agreement.pk),
        "clauses": Clause.objects.filter(agreement=agreement),
        "zones": Zone.objects.filter(agreement=agreement),
        "violations": Violation.objects.filter(agreement=agreement),
        "patrols": Patrol.objects.filter(agreement=agreement),
        "route_statuses": RouteStatus.objects.filter(agreement=agreement),
        "control_changes": ControlChange.objects.filter(agreement=agreement),
        "assessments": Assessment.objects.filter(clause__agreement=agreement),
    }
    if actor is not None:
        sources["actors"] = Actor.objects.all()
    annotations = {}
    for name, queryset in sources.items():
        annotations[f"{name}_latest"], annotations[f"{name}_rows"] = _state_of(queryset)
    row = Agreement.objects.filter(pk=agreement.pk).annotate(**annotations).values(*annotations).get()
    latest = max((row[f"{name}_latest"] for name in sources if row[f"{name}_latest"]), default=None)
    state = "|".join(
        f"{row[f'{name}_latest'].isoformat() if row[f'{name}_latest'] else '-'}/{row[f'{name}_rows']}"
        for name in sources
    )
    return state, latest


class RecordConditionalMixin(ConditionalGetMixin):
    """`conditional` for answers computed from many tables: the state comes from `record_state`, not one queryset."""

    def conditional_on_record(self, request, state: str, latest, build):
        etag = etag_for(request, state)
        response = Response(status=status.HTTP_304_NOT_MODIFIED) if not_modified(request, etag, latest) else build()
        response["ETag"] = etag
        if latest:
            response["Last-Modified"] = http_date(latest.timestamp())
        response["Cache-Control"] = "private, no-cache"
        return response


# --- query parameters ---------------------------------------------------------------------------------------------


def parse_day(params, name: str) -> date:
    value = params.get(name)
    if not value:
        raise ValidationError({name: f"Give {name} as a date, YYYY-MM-DD (both days are included)."})
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationError({name: f"{value!r} is not a date; use YYYY-MM-DD."}) from None
    problem = day_out_of_range(day)
    if problem:
        raise ValidationError({name: problem})
    return day


def parse_period(params) -> tuple[date, date]:
    errors = {}
    days = {}
    for name in ("from", "to"):
        try:
            days[name] = parse_day(params, name)
        except ValidationError as exc:
            errors.update(exc.detail)
    if errors:
        raise ValidationError(errors)
    if days["to"] < days["from"]:
        raise ValidationError({"to": f"The period ends ({days['to']}) before it starts ({days['from']})."})
    return days["from"], days["to"]


def parse_actor(params) -> Actor | None:
    value = (params.get("actor") or "").strip()
    if not value:
        return None
    actor = Actor.objects.filter(actor_q(value)).first()
    if actor is None:
        raise ValidationError({"actor": f"No actor with id or slug {value!r}."})
    return actor


PERIOD_PARAMETERS = [
    OpenApiParameter("from", DAY_SCHEMA, required=True, description="First day of the period (YYYY-MM-DD), included."),
    OpenApiParameter("to", DAY_SCHEMA, required=True, description="Last day of the period (YYYY-MM-DD), included."),
    OpenApiParameter(
        "actor",
        str,
        required=False,
        description="Actor id or slug: its scorecard (only the clauses it is obligated by; only what it or its "
        "parts did).",
    ),
]

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


class ComplianceView(RecordConditionalMixin, APIView):
    """Each clause's status, score, deadline state and evidence over a period, and the implementation percentage."""

    required_permissions = [permissions.VIEW_CLAUSE]

    @extend_schema(operation_id="agreement_compliance", parameters=PERIOD_PARAMETERS, responses=ComplianceSerializer)
    def get(self, request, slug):
        agreement = get_object_or_404(Agreement, slug=slug)
        start, end = parse_period(request.query_params)
        actor = parse_actor(request.query_params)
        state, latest = record_state(agreement, actor=actor)
        return self.conditional_on_record(
            request,
            state,
            latest,
            lambda: Response(assess_agreement(agreement, start=start, end=end, actor=actor).as_dict()),
        )


class ComplianceTimelineView(RecordConditionalMixin, APIView):
    """Status and score of every clause per week, month or quarter of the period (cut to it), for dashboards."""

    required_permissions = [permissions.VIEW_CLAUSE]

    @extend_schema(
        operation_id="agreement_compliance_timeline",
        parameters=[
            *PERIOD_PARAMETERS,
            OpenApiParameter(
                "step",
                str,
                enum=list(STEPS),
                default="month",
                description=f"Calendar weeks (Monday–Sunday), months or quarters; at most {MAX_STEPS} steps.",
            ),
        ],
        responses=ComplianceTimelineSerializer,
    )
    def get(self, request, slug):
        agreement = get_object_or_404(Agreement, slug=slug)
        start, end = parse_period(request.query_params)
        actor = parse_actor(request.query_params)
        step = request.query_params.get("step") or "month"
        if step not in STEPS:
            raise ValidationError({"step": f"step is one of: {', '.join(STEPS)}."})
        try:
            split_period(start, end, step)  # refuse too many steps before anything is computed
        except ValueError as exc:
            raise ValidationError({"step": str(exc)}) from exc
        state, latest = record_state(agreement, actor=actor)

        def build():
            return Response(
                {
                    "agreement": {"slug": agreement.slug, "title": agreement.title},
                    "period": {"from": start.isoformat(), "to": end.isoformat()},
                    "actor": None if actor is None else {"slug": actor.slug, "name": actor.name},
                    "step": step,
                    "steps": compliance_timeline(agreement, start=start, end=end, step=step, actor=actor),
                }
            )

        return self.conditional_on_record(request, state, latest, build)


# --- people's assessments -------------------------------------------------------------------------------------------


class AssessmentFilter(filters.FilterSet):
    agreement = filters.CharFilter(field_name="clause__agreement__slug", help_text="Agreement slug.")
    clause = IdFilter(field_name="clause_id", help_text="Clause id.")
    actor = filters.CharFilter(
        method="filter_actor", help_text="Actor id or slug; 'none' for assessments of a clause as a whole."
    )
    status = filters.MultipleChoiceFilter(choices=ComplianceStatus.choices)
    period_start = DateFilter(help_text="The period starts on this day.")
    period_end = DateFilter(help_text="The period ends on this day.")
    period_after = DateFilter(
        field_name="period_end", lookup_expr="gte", help_text="The period ends on or after this day."
    )
    period_before = DateFilter(
        field_name="period_start", lookup_expr="lte", help_text="The period starts on or before this day."
    )
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt")

    class Meta:
        model = Assessment
        fields = []

    def filter_actor(self, queryset, name, value):
        if value.lower() == "none":
            return queryset.filter(actor__isnull=True)
        return queryset.filter(Exists(Actor.objects.filter(actor_q(value), pk=OuterRef("actor_id"))))


FIXED_IDENTITY = "Fixed once recorded: record an assessment of the other clause, actor or period instead."


class AssessmentSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """Writes go through `assessment_record`, which stores the computed values beside the person's."""

    clause = BriefRelatedField(model=Clause, brief=["id", "number", "title"], slug_field=None)
    agreement = serializers.SlugRelatedField(source="clause.agreement", slug_field="slug", read_only=True)
    actor = BriefRelatedField(model=Actor, brief=["id", "slug", "name"], required=False, allow_null=True)
    assessed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    status = ComplianceStatusField(help_text="The person's judgement.")
    score = serializers.IntegerField(min_value=0, max_value=3, allow_null=True, required=False)
    computed_status = ComplianceStatusField(read_only=True, help_text="The engine's, when last saved.")
    evidence = ClauseEvidenceSerializer(read_only=True)
    period_start = DayField(help_text="First day of the period, included.")
    period_end = DayField(help_text="Last day of the period, included.")

    class Meta:
        model = Assessment
        fields = [
            "id",
            "agreement",
            "clause",
            "actor",
            "period_start",
            "period_end",
            "status",
            "score",
            "rationale",
            "computed_status",
            "computed_score",
            "computed_rule",
            "evidence",
            "assessed_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["computed_status", "computed_score", "computed_rule", "assessed_by"]
        # One per clause, actor and period is the service's rule (it updates the existing one): not the serializer's.
        validators = []

    def save_assessment(self, identity: dict, data: dict):
        return assessment_record(
            **identity,
            status=data["status"],
            score=data.get("score"),
            rationale=data["rationale"],
            user=self.context["request"].user,
        )

    def create(self, validated_data):
        identity = {name: validated_data.get(name) for name in ("clause", "actor", "period_start", "period_end")}
        return self.save_assessment(identity, validated_data)

    def update(self, instance, validated_data):
        identity = {
            "clause": instance.clause,
            "actor": instance.actor,
            "period_start": instance.period_start,
            "period_end": instance.period_end,
        }
        changed = [name for name, value in identity.items() if name in validated_data and validated_data[name] != value]
        if changed:
            raise ValidationError(dict.fromkeys(changed, FIXED_IDENTITY))
        data = {
            "status": validated_data.get("status", instance.status),
            "score": validated_data.get("score", instance.score),
            "rationale": validated_data.get("rationale", instance.rationale),
        }
        # The service strips the rationale; compared the same way, an update changing nothing is not saved (no
        # history row, and the stored computed values and assessor stay those of the last real change).
        if (data["status"], data["score"], (data["rationale"] or "").strip()) == (
            instance.status,
            instance.score,
            instance.rationale,
        ):
            return instance
        return self.save_assessment(identity, data)


IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag you read: refused with 412 if the assessment changed since.",
)


class WithdrawalSerializer(StrictFieldsMixin, serializers.Serializer):
    """The body of POST /assessments/{id}/retire."""

    reason = serializers.CharField(max_length=2000, help_text="Why the assessment is withdrawn (required).")


@extend_schema_view(
    create=extend_schema(
        description="Record a person's assessment; when one exists for the same clause, actor and period it is updated "
        "(200) instead of created (201). The engine's computed status, score, rule and evidence are stored beside it.",
        responses={
            201: AssessmentSerializer,
            200: OpenApiResponse(
                AssessmentSerializer, description="An assessment of the same clause, actor and period was updated."
            ),
        },
    ),
    update=extend_schema(parameters=[IF_MATCH]),
    partial_update=extend_schema(parameters=[IF_MATCH]),
)
class AssessmentViewSet(IdempotentMixin, ConditionalGetMixin, viewsets.ModelViewSet):
    """People's assessments of clauses over periods, each beside the computed one. Analysts and admins write."""

    serializer_class = AssessmentSerializer
    filterset_class = AssessmentFilter
    lookup_value_regex = "[0-9]{1,19}"  # ids are bigints; anything else is no route (a JSON 404), not a failed lookup
    filter_backends = [filters.DjangoFilterBackend, drf_filters.OrderingFilter]
    ordering_fields = ["period_start", "period_end", "updated_at", "id"]
    ordering = ["-period_end", "-id"]
    # Withdrawn with a reason (POST …/retire), never deleted; a withdrawn one stays readable by its id.
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        # Every embedded relation (clause, its agreement, actor, assessor) joined once per page.
        rows = Assessment.objects if getattr(self, "action", None) == "list" else Assessment.all_objects
        return rows.select_related("clause__agreement", "actor", "assessed_by")

    @property
    def required_permissions(self):
        return ["reports.change_assessment"] if getattr(self, "action", None) == "retire" else None

    @extend_schema(
        summary="Withdraw a person's assessment with a reason (never deleted)",
        description="The computed assessment shows again; the withdrawn one stays readable by its id and in the "
        "history. Needs reports.change_assessment.",
        request=WithdrawalSerializer,
    )
    @action(detail=True, methods=["post"])
    def retire(self, request, *args, **kwargs):
        assessment = self.get_object()
        body = WithdrawalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assessment_withdraw(assessment=assessment, user=request.user, reason=body.validated_data["reason"])
        return Response(self.get_serializer(self.get_queryset().get(pk=assessment.pk)).data)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        existed = Assessment.objects.filter(
            clause=data["clause"],
            period_start=data["period_start"],
            period_end=data["period_end"],
            **({"actor": data["actor"]} if data.get("actor") else {"actor__isnull": True}),
        ).exists()
        serializer.save()
        return Response(serializer.data, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        header = self.request.headers.get("If-Match")
        if header:
            # The tag a GET of this assessment gave (same path, format and role), compared with the current one.
            current = etag_for(self.request, fingerprint(Assessment.objects.filter(pk=serializer.instance.pk))[0])
            if current not in parse_etags(header) and header.strip() != "*":
                raise PreconditionFailed("This assessment changed since you read it; read it again.")
        serializer.save()
