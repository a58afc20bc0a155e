"""People's assessments of clauses over HTTP: /api/v1/assessments/ (list, detail, write), a thin face over
`reports.assessments`, which stores the computed status beside the person's."""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import filters as drf_filters
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from agreements.models import Actor, Clause
from compliance import freshness
from compliance.api.conditional import ConditionalGetMixin, conditional
from compliance.api.errors import PreconditionFailed
from compliance.api.etags import etag_version, record_etag
from compliance.api.fields import BriefRelatedField
from compliance.api.filters import DateFilter, IdFilter, IsoDateTimeFilter, actor_q
from compliance.api.idempotency import IdempotentMixin
from compliance.api.serializers import DayField, StrictFieldsMixin
from reports.api.compliance_schema import ClauseEvidenceSerializer, ComplianceStatusField
from reports.assessments import assessment_record, assessment_withdraw
from reports.models import Assessment, ComplianceStatus

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

    @staticmethod
    def version_of(assessment) -> int:
        # Assessments carry no version number; the time of their last save (in microseconds) serves as one.
        return int(assessment.updated_at.timestamp() * 1_000_000)

    def retrieve(self, request, *args, **kwargs):
        assessment = self.get_object()
        counter, changed_at = freshness.current()
        etag = record_etag(f"assessment-{assessment.pk}", self.version_of(assessment), counter)
        build = lambda: Response(self.get_serializer(assessment).data)  # noqa: E731
        return conditional(request, build, etag, counter=counter, last_modified=changed_at)

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
            # The version a GET of this assessment gave, compared with the current one.
            named = etag_version(header, f"assessment-{serializer.instance.pk}")
            if named != self.version_of(serializer.instance) and header.strip() != "*":
                raise PreconditionFailed("This assessment changed since you read it; read it again.")
        serializer.save()
