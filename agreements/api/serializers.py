"""Serializers: reads embed brief related objects; writes accept ids or slugs and go through agreements.services."""

from django.db import models
from rest_framework import serializers

from agreements import services
from agreements.models import (
    Actor,
    Agreement,
    AgreementParty,
    Clause,
    ControlChange,
    Patrol,
    Place,
    RouteStatus,
    Source,
    Violation,
    Zone,
)
from compliance.api.fields import AreaField, BriefRelatedField, TermsField
from compliance.api.serializers import StrictFieldsMixin, changed_fields


def actor_field(**kwargs):
    return BriefRelatedField(model=Actor, brief=["id", "slug", "name"], **kwargs)


def agreement_field(**kwargs):
    return BriefRelatedField(model=Agreement, brief=["slug", "title"], **kwargs)


def clause_field(**kwargs):
    return BriefRelatedField(model=Clause, brief=["id", "number", "title"], slug_field=None, **kwargs)


def place_field(**kwargs):
    return BriefRelatedField(model=Place, brief=["id", "name", "admin1"], slug_field=None, **kwargs)


def source_field(**kwargs):
    return BriefRelatedField(model=Source, brief=["id", "title"], slug_field=None, **kwargs)


class ServiceSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """Creates and updates through `services.model_save`; subclasses name a more specific service if one exists.

    An update that changes no value is not saved: no history row, no new `updated_at` (so ETags stay valid).
    """

    def _split(self, validated_data):
        m2m = {
            name: validated_data.pop(name)
            for name in list(validated_data)
            if self.Meta.model._meta.get_field(name).many_to_many
        }
        return validated_data, m2m

    def save_instance(self, instance, m2m):
        return services.model_save(instance=instance, user=self.context["request"].user, m2m=m2m)

    def create(self, validated_data):
        data, m2m = self._split(validated_data)
        return self.save_instance(self.Meta.model(**data), m2m)

    def update(self, instance, validated_data):
        data, m2m = self._split(validated_data)
        if not changed_fields(instance, validated_data):
            return instance
        for name, value in data.items():
            setattr(instance, name, value)
        return self.save_instance(instance, m2m)

    def validate(self, attrs):
        # Constraints and model validation run in the service; nothing is half-written if they fail.
        return attrs


class ActorSerializer(ServiceSerializer):
    part_of = actor_field(required=False, allow_null=True)
    backed_by = actor_field(many=True, required=False)
    aliases = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Actor
        fields = [
            "id",
            "slug",
            "name",
            "short_name",
            "kind",
            "country",
            "part_of",
            "backed_by",
            "aliases",
            "description",
            "created_at",
            "updated_at",
        ]


class PartySerializer(StrictFieldsMixin, serializers.ModelSerializer):
    actor = actor_field()

    class Meta:
        model = AgreementParty
        fields = ["actor", "role"]

    def validate(self, attrs):
        # A PATCH makes every field optional, nested ones included; a party is still an actor and a role.
        missing = {name: ["This field is required."] for name in ("actor", "role") if name not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class ClauseBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Clause
        fields = ["id", "number", "title", "kind", "deadline"]


class AgreementSerializer(ServiceSerializer):
    parties = PartySerializer(
        source="party_roles",
        many=True,
        required=False,
        help_text="Actors and their roles. Written as a whole: the list given replaces the parties; leave it out to "
        "keep them.",
    )
    clauses = ClauseBriefSerializer(many=True, read_only=True)
    amends = agreement_field(required=False, allow_null=True)

    class Meta:
        model = Agreement
        fields = [
            "slug",
            "title",
            "short_title",
            "signed_on",
            "signed_at",
            "in_force_from",
            "in_force_until",
            "status",
            "summary",
            "source_url",
            "amends",
            "relation",
            "parties",
            "clauses",
            "created_at",
            "updated_at",
        ]

    def validate_parties(self, parties):
        pairs = [(party["actor"].pk, party["role"]) for party in parties]
        if len(set(pairs)) < len(pairs):
            raise serializers.ValidationError("Each actor is given once per role.")
        return parties

    @staticmethod
    def _pop_parties(validated_data) -> list[tuple[Actor, str]] | None:
        parties = validated_data.pop("party_roles", None)
        return None if parties is None else [(party["actor"], party["role"]) for party in parties]

    def create(self, validated_data):
        parties = self._pop_parties(validated_data)
        agreement = Agreement(**validated_data)
        return services.agreement_save(agreement=agreement, user=self.context["request"].user, parties=parties or [])

    def update(self, instance, validated_data):
        parties = self._pop_parties(validated_data)
        same_parties = parties is None or {(actor.pk, role) for actor, role in parties} == {
            (party.actor_id, party.role) for party in instance.party_roles.all()
        }
        if same_parties and not changed_fields(instance, validated_data):
            return instance
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return services.agreement_save(agreement=instance, user=self.context["request"].user, parties=parties)


class ClauseSerializer(ServiceSerializer):
    serializer_field_mapping = {**ServiceSerializer.serializer_field_mapping, models.JSONField: TermsField}
    agreement = agreement_field()
    obligated_actors = actor_field(many=True, required=False)

    class Meta:
        model = Clause
        fields = [
            "id",
            "agreement",
            "number",
            "position",
            "title",
            "text",
            "kind",
            "deadline",
            "obligated_actors",
            "terms",
            "created_at",
            "version",
            "retired_at",
            "retirement_reason",
            "updated_at",
        ]

    def save_instance(self, instance, m2m):
        return services.clause_save(
            clause=instance,
            user=self.context["request"].user,
            obligated_actors=m2m.get("obligated_actors"),
            expected_version=self.context.get("expected_version"),
        )


class ZoneSerializer(ServiceSerializer):
    serializer_field_mapping = {**ServiceSerializer.serializer_field_mapping, models.JSONField: AreaField}
    agreement = agreement_field()
    clause = clause_field(required=False, allow_null=True)

    class Meta:
        model = Zone
        fields = [
            "id",
            "agreement",
            "clause",
            "name",
            "slug",
            "kind",
            "geometry",
            "depth_km_min",
            "depth_km_max",
            "precision",
            "description",
            "created_at",
            "version",
            "retired_at",
            "retirement_reason",
            "updated_at",
        ]

    def save_instance(self, instance, m2m):
        return services.zone_save(
            zone=instance, user=self.context["request"].user, expected_version=self.context.get("expected_version")
        )


class PlaceSerializer(ServiceSerializer):
    aliases = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Place
        fields = [
            "id",
            "name",
            "kind",
            "country",
            "admin1",
            "admin2",
            "admin3",
            "pcode",
            "latitude",
            "longitude",
            "aliases",
            "notes",
            "created_at",
            "version",
            "updated_at",
        ]

    def save_instance(self, instance, m2m):
        return services.place_save(
            place=instance, user=self.context["request"].user, expected_version=self.context.get("expected_version")
        )


class RetirementSerializer(StrictFieldsMixin, serializers.Serializer):
    """The body of POST …/retire."""

    reason = serializers.CharField(max_length=2000, help_text="Why the record no longer stands (required).")


class PatrolSerializer(ServiceSerializer):
    agreement = agreement_field()
    clause = clause_field(required=False, allow_null=True)
    participants = actor_field(many=True)
    incidents = serializers.SlugRelatedField(
        many=True, slug_field="uuid", queryset=Violation.objects.all(), required=False
    )
    source = source_field(required=False, allow_null=True)

    class Meta:
        model = Patrol
        fields = [
            "id",
            "agreement",
            "clause",
            "patrolled_on",
            "date_precision",
            "kind",
            "participants",
            "route",
            "outcome",
            "incidents",
            "source",
            "notes",
            "created_at",
            "retired_at",
            "retirement_reason",
            "updated_at",
        ]


class RouteStatusSerializer(ServiceSerializer):
    agreement = agreement_field()
    clause = clause_field(required=False, allow_null=True)
    source = source_field(required=False, allow_null=True)

    class Meta:
        model = RouteStatus
        fields = [
            "id",
            "agreement",
            "clause",
            "route",
            "segment",
            "observed_on",
            "status",
            "source",
            "notes",
            "created_at",
            "retired_at",
            "retirement_reason",
            "updated_at",
        ]


class ControlChangeSerializer(ServiceSerializer):
    agreement = agreement_field()
    place = place_field(required=False, allow_null=True)
    from_actor = actor_field(required=False, allow_null=True)
    to_actor = actor_field()
    violation = serializers.SlugRelatedField(
        slug_field="uuid", queryset=Violation.objects.all(), required=False, allow_null=True
    )
    source = source_field(required=False, allow_null=True)

    class Meta:
        model = ControlChange
        fields = [
            "id",
            "agreement",
            "place",
            "locations",
            "area_description",
            "occurred_on",
            "date_precision",
            "from_actor",
            "to_actor",
            "violation",
            "source",
            "notes",
            "created_at",
            "retired_at",
            "retirement_reason",
            "updated_at",
        ]
