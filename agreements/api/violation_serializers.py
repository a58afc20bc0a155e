"""Violations and their sources on the wire: reads embed brief related objects; writes accept ids or slugs and go
through agreements.services (the violation and its new sources in one transaction)."""

from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agreements import services
from agreements.api.serializers import actor_field, agreement_field, clause_field, place_field, source_field
from agreements.models import (
    Source,
    Violation,
    Zone,
)
from agreements.models.violations import COUNT_FIELDS
from agreements.services.base import atomic as services_atomic
from compliance.api.fields import BriefRelatedField
from compliance.api.serializers import StrictFieldsMixin, changed_fields


class SourceSerializer(serializers.ModelSerializer):
    grade = serializers.CharField(read_only=True)

    class Meta:
        model = Source
        fields = [
            "id",
            "publisher",
            "title",
            "url",
            "published_on",
            "kind",
            "reliability",
            "credibility",
            "grade",
            "sha256",
        ]


class CitedSourceSerializer(SourceSerializer):
    """A source as shown on a violation: the source and what it says about this incident."""

    note = serializers.CharField()

    class Meta(SourceSerializer.Meta):
        fields = [*SourceSerializer.Meta.fields, "note"]


class CitationSerializer(StrictFieldsMixin, serializers.Serializer):
    """A source of a violation on write: an existing source's id, or a new source described in full."""

    source = source_field(required=False)
    publisher = serializers.CharField(required=False, max_length=200)
    title = serializers.CharField(required=False, max_length=500)
    url = serializers.URLField(required=False, allow_blank=True, max_length=1000)
    published_on = serializers.DateField(required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=Source.Kind.choices, required=False)
    reliability = serializers.ChoiceField(choices=Source.Reliability.choices, default=Source.Reliability.F)
    credibility = serializers.ChoiceField(choices=Source.Credibility.choices, default=Source.Credibility.CANNOT_JUDGE)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")

    def validate(self, attrs):
        typed = any(attrs.get(name) for name in ("publisher", "title", "kind", "url", "published_on"))
        problem = services.citation_source_problem(
            source=attrs.get("source"),
            publisher=attrs.get("publisher", ""),
            title=attrs.get("title", ""),
            kind=attrs.get("kind", ""),
            typed=typed,
        )
        if problem:
            raise serializers.ValidationError(problem)
        return attrs


class ViolationSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    agreement = agreement_field()
    clauses = clause_field(many=True, required=False)
    perpetrators = actor_field(many=True, required=False)
    affected_actors = actor_field(many=True, required=False)
    place = place_field(required=False, allow_null=True)
    zone = BriefRelatedField(model=Zone, read_only=True, allow_null=True, brief=["slug", "name"])
    sources = serializers.SerializerMethodField()
    new_sources = CitationSerializer(many=True, write_only=True, required=False)
    retracted = serializers.BooleanField(source="is_retracted", read_only=True)
    reported_by = serializers.StringRelatedField(read_only=True)
    verified_by = serializers.StringRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Violation
        fields = [
            "id",
            "agreement",
            "clauses",
            "category",
            "perpetrators",
            "affected_actors",
            "description",
            "started_at",
            "ended_at",
            "time_precision",
            "place",
            "latitude",
            "longitude",
            "location_precision",
            "in_zone",
            "zone",
            *COUNT_FIELDS,
            "status",
            "reported_by",
            "verified_by",
            "verified_at",
            "retracted",
            "retracted_at",
            "retraction_reason",
            "version",
            "created_at",
            "updated_at",
            "sources",
            "new_sources",
        ]
        read_only_fields = ["in_zone", "status", "verified_at", "retracted_at", "retraction_reason", "version"]

    @extend_schema_field(CitedSourceSerializer(many=True))
    def get_sources(self, violation):
        # Built by hand: a serializer instance per citation costs more than the rest of the row (measured).
        return [
            {
                "id": citation.source.pk,
                "publisher": citation.source.publisher,
                "title": citation.source.title,
                "url": citation.source.url,
                "published_on": citation.source.published_on.isoformat() if citation.source.published_on else None,
                "kind": citation.source.kind,
                "reliability": citation.source.reliability,
                "credibility": citation.source.credibility,
                "grade": citation.source.grade,
                "sha256": citation.source.sha256,
                "note": citation.note,
            }
            for citation in violation.citations.all()
        ]

    def validate(self, attrs):
        if self.instance is not None and "new_sources" in attrs:
            raise serializers.ValidationError({"new_sources": "Add sources to an existing violation one by one."})
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        user = self.context["request"].user
        citations = validated_data.pop("new_sources", [])
        with services_atomic():  # the violation and its sources, or nothing
            violation = services.violation_create(user=user, **validated_data)
            for citation in citations:
                source = citation.pop("source", None)
                note = citation.pop("note", "")
                new = None if source else services.NewSource(**citation)
                services.violation_cite(
                    violation=violation, user=user, source=source, new_source=new, note=note, new_record=True
                )
        return violation

    def update(self, instance, validated_data):
        if not changed_fields(instance, validated_data):
            # Nothing to write (no history row, no new version); a stale If-Match is still refused, as for a write.
            services.violation_check_version(violation=instance, expected_version=self.context.get("expected_version"))
            return instance
        return services.violation_update(
            violation=instance,
            user=self.context["request"].user,
            expected_version=self.context.get("expected_version"),
            **validated_data,
        )


class ViolationUpdateSerializer(ViolationSerializer):
    """What PUT and PATCH take, for the schema: the violation's own fields. Sources are cited one by one, so an
    update refuses `new_sources` (ViolationSerializer.validate says so); the view itself uses ViolationSerializer."""

    new_sources = None

    class Meta(ViolationSerializer.Meta):
        fields = [name for name in ViolationSerializer.Meta.fields if name != "new_sources"]


class ReviewNoteSerializer(StrictFieldsMixin, serializers.Serializer):
    """The body of POST …/verify, …/dispute, …/reject and …/reopen."""

    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, help_text="Optional; kept in the review log."
    )


class RetractionSerializer(StrictFieldsMixin, serializers.Serializer):
    """The body of POST …/retract."""

    reason = serializers.CharField(max_length=2000, help_text="Why the violation is withdrawn (required).")


class HistoryChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True, help_text="Foreign keys and links as ids.")
    new = serializers.JSONField(allow_null=True)


class ViolationHistorySerializer(serializers.Serializer):
    """One saved change of a violation, as the history keeps it (agreements.workflow.violation_history)."""

    at = serializers.DateTimeField()
    user = serializers.CharField(allow_null=True, help_text="Username of who made the change.")
    type = serializers.ChoiceField(choices=["created", "changed", "deleted"])
    version = serializers.IntegerField()
    reason = serializers.CharField(allow_blank=True, help_text="The review step or retraction and its note, if any.")
    changes = HistoryChangeSerializer(many=True)
