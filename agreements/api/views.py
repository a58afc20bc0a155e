"""Thin viewsets for the reference records: a queryset with its joins declared, a serializer, a filterset; writes are
the services'."""

from agreements.api import serializers
from agreements.api.base import BaseViewSet, RetirableViewSet, VersionedMixin
from agreements.models import Actor, Agreement, Clause, ControlChange, Patrol, Place, RouteStatus, Zone
from compliance.api import filters


class AgreementViewSet(BaseViewSet):
    # Parties and clauses are embedded: prefetch them once per page, not per agreement.
    queryset = Agreement.objects.select_related("amends").prefetch_related("party_roles__actor", "clauses")
    serializer_class = serializers.AgreementSerializer
    filterset_class = filters.AgreementFilter
    lookup_field = "slug"
    lookup_value_regex = "[-a-zA-Z0-9_]{1,100}"  # Agreement.slug
    ordering_fields = ["signed_on", "slug", "updated_at"]
    ordering = ["slug"]


class ClauseViewSet(VersionedMixin, RetirableViewSet):
    queryset = Clause.all_objects.select_related("agreement").prefetch_related("obligated_actors")
    serializer_class = serializers.ClauseSerializer
    filterset_class = filters.ClauseFilter
    ordering_fields = ["position", "number", "deadline", "updated_at", "id"]
    ordering = ["agreement_id", "position", "id"]


class ActorViewSet(BaseViewSet):
    queryset = Actor.objects.select_related("part_of").prefetch_related("backed_by", "aliases")
    serializer_class = serializers.ActorSerializer
    filterset_class = filters.ActorFilter
    ordering_fields = ["name", "updated_at", "id"]
    ordering = ["name", "id"]


class ZoneViewSet(VersionedMixin, RetirableViewSet):
    queryset = Zone.all_objects.select_related("agreement", "clause")
    serializer_class = serializers.ZoneSerializer
    filterset_class = filters.ZoneFilter
    ordering_fields = ["name", "updated_at", "id"]
    ordering = ["name", "id"]


class PlaceViewSet(VersionedMixin, BaseViewSet):
    queryset = Place.objects.prefetch_related("aliases")
    serializer_class = serializers.PlaceSerializer
    filterset_class = filters.PlaceFilter
    ordering_fields = ["name", "admin1", "updated_at", "id"]
    ordering = ["name", "id"]


class PatrolViewSet(RetirableViewSet):
    queryset = Patrol.all_objects.select_related("agreement", "clause", "source").prefetch_related(
        "participants", "incidents"
    )
    serializer_class = serializers.PatrolSerializer
    filterset_class = filters.PatrolFilter
    ordering_fields = ["patrolled_on", "updated_at", "id"]
    ordering = ["-patrolled_on", "-id"]


class RouteStatusViewSet(RetirableViewSet):
    queryset = RouteStatus.all_objects.select_related("agreement", "clause", "source")
    serializer_class = serializers.RouteStatusSerializer
    filterset_class = filters.RouteStatusFilter
    ordering_fields = ["observed_on", "route", "updated_at", "id"]
    ordering = ["-observed_on", "-id"]


class ControlChangeViewSet(RetirableViewSet):
    queryset = ControlChange.all_objects.select_related(
        "agreement", "place", "from_actor", "to_actor", "violation", "source"
    )
    serializer_class = serializers.ControlChangeSerializer
    filterset_class = filters.ControlChangeFilter
    ordering_fields = ["occurred_on", "updated_at", "id"]
    ordering = ["-occurred_on", "-id"]
