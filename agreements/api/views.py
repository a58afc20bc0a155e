"""Thin viewsets: a queryset with its joins declared, a serializer, a filterset; writes are the services'."""

import re

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import parse_etags, quote_etag
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import filters as drf_filters
from rest_framework import viewsets
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from agreements import exports, services
from agreements.api import filters, serializers
from agreements.api.renderers import CSVRenderer, GeoJSONRenderer, XLSXRenderer
from agreements.models import Actor, Agreement, Clause, ControlChange, Patrol, Place, RouteStatus, Violation, Zone
from compliance.api.conditional import ConditionalGetMixin
from compliance.api.errors import PreconditionFailed


class PreconditionRequired(APIException):
    status_code = 428
    default_code = "precondition_required"
    default_detail = "Send If-Match with the ETag you read, so a concurrent edit is never silently overwritten."


class RecordViewSet(ConditionalGetMixin, viewsets.ModelViewSet):
    filter_backends = [filters.filters.DjangoFilterBackend, drf_filters.OrderingFilter]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]


class AgreementViewSet(RecordViewSet):
    # Parties and clauses are embedded: prefetch them once per page, not per agreement.
    queryset = Agreement.objects.prefetch_related("party_roles__actor", "clauses")
    serializer_class = serializers.AgreementSerializer
    filterset_class = filters.AgreementFilter
    lookup_field = "slug"
    ordering_fields = ["signed_on", "slug", "updated_at"]
    ordering = ["slug"]


class ClauseViewSet(RecordViewSet):
    queryset = Clause.objects.select_related("agreement").prefetch_related("obligated_actors")
    serializer_class = serializers.ClauseSerializer
    filterset_class = filters.ClauseFilter
    ordering_fields = ["position", "number", "deadline", "updated_at", "id"]
    ordering = ["agreement_id", "position", "id"]


class ActorViewSet(RecordViewSet):
    queryset = Actor.objects.select_related("part_of").prefetch_related("backed_by", "aliases")
    serializer_class = serializers.ActorSerializer
    filterset_class = filters.ActorFilter
    ordering_fields = ["name", "updated_at", "id"]
    ordering = ["name", "id"]


class ZoneViewSet(RecordViewSet):
    queryset = Zone.objects.select_related("agreement", "clause")
    serializer_class = serializers.ZoneSerializer
    filterset_class = filters.ZoneFilter
    ordering_fields = ["name", "updated_at", "id"]
    ordering = ["name", "id"]


class PlaceViewSet(RecordViewSet):
    queryset = Place.objects.prefetch_related("aliases")
    serializer_class = serializers.PlaceSerializer
    filterset_class = filters.PlaceFilter
    ordering_fields = ["name", "admin1", "updated_at", "id"]
    ordering = ["name", "id"]


class PatrolViewSet(RecordViewSet):
    queryset = Patrol.objects.select_related("agreement", "clause", "source").prefetch_related(
        "participants", "incidents"
    )
    serializer_class = serializers.PatrolSerializer
    filterset_class = filters.PatrolFilter
    ordering_fields = ["patrolled_on", "updated_at", "id"]
    ordering = ["-patrolled_on", "-id"]


class RouteStatusViewSet(RecordViewSet):
    queryset = RouteStatus.objects.select_related("agreement", "clause", "source")
    serializer_class = serializers.RouteStatusSerializer
    filterset_class = filters.RouteStatusFilter
    ordering_fields = ["observed_on", "route", "updated_at", "id"]
    ordering = ["-observed_on", "-id"]


class ControlChangeViewSet(RecordViewSet):
    queryset = ControlChange.objects.select_related(
        "agreement", "place", "from_actor", "to_actor", "violation", "source"
    )
    serializer_class = serializers.ControlChangeSerializer
    filterset_class = filters.ControlChangeFilter
    ordering_fields = ["occurred_on", "updated_at", "id"]
    ordering = ["-occurred_on", "-id"]


FORMAT_PARAMETER = OpenApiParameter(
    "format",
    str,
    enum=["json", "geojson", "csv", "xlsx"],
    description="geojson: a FeatureCollection of points; csv: streamed, every filtered row, UTF-8 with BOM; "
    "xlsx: up to API_XLSX_MAX_ROWS rows.",
)
COLUMNS_PARAMETER = OpenApiParameter(
    "columns", str, enum=["ours", "acled"], description="With format=csv|xlsx|geojson: our column names or ACLED's."
)


@extend_schema_view(
    list=extend_schema(parameters=[FORMAT_PARAMETER, COLUMNS_PARAMETER]),
    update=extend_schema(parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=True)]),
    partial_update=extend_schema(
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=True)]
    ),
)
class ViolationViewSet(RecordViewSet):
    serializer_class = serializers.ViolationSerializer
    filterset_class = filters.ViolationFilter
    lookup_field = "uuid"
    lookup_value_regex = "[0-9a-f-]{36}"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]  # retract, never delete
    ordering_fields = ["started_at", "updated_at", "created_at", "killed_best", "id"]
    ordering = ["-started_at", "-id"]

    def get_queryset(self):
        # Every embedded relation is joined or prefetched once per page; the list's query count is flat.
        return Violation.objects.select_related(
            "agreement", "place", "zone", "reported_by", "verified_by"
        ).prefetch_related("clauses", "perpetrators", "affected_actors", "citations__source")

    def get_renderers(self):
        renderers = super().get_renderers()
        if self.action == "list" or self.action is None:
            renderers += [GeoJSONRenderer(), CSVRenderer(), XLSXRenderer()]
        return renderers

    def check_object_rule(self, request, obj):
        services.violation_check_editable(violation=obj, user=request.user)

    def etag(self, violation) -> str:
        return quote_etag(f"{violation.uuid}.v{violation.version}")

    def retrieve(self, request, *args, **kwargs):
        violation = self.get_object()
        etag = self.etag(violation)
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            response = Response(status=304)
        else:
            response = Response(self.get_serializer(violation).data)
        response["ETag"] = etag
        return response

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.request.method in {"PUT", "PATCH"} and self.kwargs.get("uuid"):
            context["expected_version"] = self.expected_version()
        return context

    def expected_version(self) -> int:
        header = self.request.headers.get("If-Match")
        if not header:
            raise PreconditionRequired()
        for tag in parse_etags(header):
            match = re.fullmatch(rf"{re.escape(str(self.kwargs['uuid']))}\.v(\d+)", tag.strip('"'))
            if match:
                return int(match.group(1))
        raise PreconditionFailed("If-Match does not name a version of this violation; read it again.")

    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        response["ETag"] = quote_etag(f"{response.data['id']}.v{response.data['version']}")
        return response

    def list(self, request, *args, **kwargs):
        fmt = request.accepted_renderer.format
        if fmt in {"json", "api"}:
            return super().list(request, *args, **kwargs)
        queryset = self.filter_queryset(self.get_queryset())
        columns = self.export_columns()
        return self.conditional(request, queryset, lambda: self.export(fmt, queryset, columns))

    def export_columns(self):
        choice = self.request.query_params.get("columns", "ours")
        if choice not in {"ours", "acled"}:
            raise ValidationError({"columns": "columns is 'ours' or 'acled'."})
        return exports.ACLED_COLUMNS if choice == "acled" else exports.VIOLATION_COLUMNS

    def export(self, fmt, queryset, columns):
        rows = exports.export_queryset(queryset)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        if fmt == "geojson":
            return Response(exports.geojson_feature_collection(rows, columns))
        if fmt == "csv":
            response = StreamingHttpResponse(exports.iter_csv(rows, columns), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="violations-{stamp}.csv"'
            return response
        try:
            body = exports.xlsx_bytes(rows, columns, max_rows=settings.API_XLSX_MAX_ROWS)
        except exports.ExportTooLarge as exc:
            raise ValidationError({"format": str(exc)}) from exc
        response = HttpResponse(body, content_type=XLSXRenderer.media_type)
        response["Content-Disposition"] = f'attachment; filename="violations-{stamp}.xlsx"'
        return response
