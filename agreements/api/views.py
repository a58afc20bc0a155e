"""Thin viewsets: a queryset with its joins declared, a serializer, a filterset; writes are the services'."""

import copy
import re

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import parse_etags, quote_etag
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import filters as drf_filters
from rest_framework import serializers as drf_serializers
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from agreements import exports, services
from agreements.api import serializers
from agreements.api.renderers import CSVRenderer, GeoJSONRenderer, XLSXRenderer
from agreements.jobs import export_job_start
from agreements.models import Actor, Agreement, Clause, ControlChange, Patrol, Place, RouteStatus, Violation, Zone
from agreements.services import permissions
from compliance.api import filters
from compliance.api.conditional import ConditionalGetMixin
from compliance.api.errors import PreconditionFailed
from compliance.api.idempotency import IdempotentMixin
from compliance.jobs.api import JobSerializer, accepted, wants_async


class PreconditionRequired(APIException):
    status_code = 428
    default_code = "precondition_required"
    default_detail = "Send If-Match with the ETag you read, so a concurrent edit is never silently overwritten."


class RecordViewSet(IdempotentMixin, ConditionalGetMixin, viewsets.ModelViewSet):
    filter_backends = [filters.filters.DjangoFilterBackend, drf_filters.OrderingFilter]
    # Ids are bigints: anything else in their place is no route (a JSON 404), never a lookup that fails as a 500.
    lookup_value_regex = "[0-9]{1,19}"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]


RETIRE_DESCRIPTION = (
    "Take the record out of what stands, with a reason: it is never deleted (DELETE answers 405). It stays readable "
    "by its id and in lists with `retired=true` or `retired=all`; it no longer counts in compliance, reports or the "
    "in-zone flag. Needs the change permission of the resource."
)


RETIRED_PARAMETER = OpenApiParameter(
    "retired",
    str,
    enum=["false", "true", "all"],
    required=False,
    description="false (default): the records that stand; true: the retired ones; all: both.",
)
IF_MATCH_REQUIRED = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=True,
    allow_blank=False,  # an empty If-Match is no If-Match: 428
    description="The ETag you read: without it the update is refused with 428, and with 412 if the record changed "
    "since.",
)


class VersionedMixin:
    """Records with a version (places, zones, clauses): the ETag names it, and an edit must send it back in If-Match
    (428 without; 412 when someone saved in between), so a concurrent edit is never silently overwritten."""

    def version_etag(self, obj) -> str:
        return quote_etag(f"{obj._meta.model_name}-{obj.pk}.v{obj.version}")

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()
        etag = self.version_etag(obj)
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            response = Response(status=304)
        else:
            response = Response(self.get_serializer(obj).data)
        response["ETag"] = etag
        return response

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.request.method in {"PUT", "PATCH"} and self.kwargs.get(self.lookup_url_kwarg or self.lookup_field):
            context["expected_version"] = self.expected_version(self.get_object())
        return context

    def expected_version(self, obj) -> int:
        header = self.request.headers.get("If-Match")
        if not header:
            raise PreconditionRequired()
        prefix = f"{obj._meta.model_name}-{obj.pk}.v"
        for tag in parse_etags(header):
            tag = tag.strip('"')
            if tag.startswith(prefix) and tag[len(prefix) :].isdigit():
                return int(tag[len(prefix) :])
        raise PreconditionFailed(f"If-Match does not name a version of this {obj._meta.verbose_name}; read it again.")

    @extend_schema(parameters=[IF_MATCH_REQUIRED])
    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        response["ETag"] = self.version_etag(self.get_queryset().model._base_manager.get(pk=response.data["id"]))
        return response

    @extend_schema(parameters=[IF_MATCH_REQUIRED])
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)


class RetirableViewSet(RecordViewSet):
    """Evidence and reference that are retired, never deleted: no DELETE, a POST …/retire with a reason instead."""

    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    @property
    def required_permissions(self):
        if getattr(self, "action", None) != "retire":
            return None
        opts = self.queryset.model._meta
        return [f"{opts.app_label}.change_{opts.model_name}"]

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.action != "list":
            return queryset  # a retired record stays readable by its id
        choice = self.request.query_params.get("retired") or "false"
        if choice not in {"false", "true", "all"}:
            raise ValidationError({"retired": "retired is false (default), true or all."})
        if choice == "all":
            return queryset
        return queryset.filter(retired_at__isnull=choice == "false")

    @extend_schema(parameters=[RETIRED_PARAMETER])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Retire with a reason (never deleted)",
        description=RETIRE_DESCRIPTION,
        request=serializers.RetirementSerializer,
    )
    @action(detail=True, methods=["post"])
    def retire(self, request, *args, **kwargs):
        instance = self.get_object()
        body = serializers.RetirementSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.record_retire(instance=instance, user=request.user, reason=body.validated_data["reason"])
        return Response(self.get_serializer(self.get_queryset().get(pk=instance.pk)).data)


class AgreementViewSet(RecordViewSet):
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


class ActorViewSet(RecordViewSet):
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


class PlaceViewSet(VersionedMixin, RecordViewSet):
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


FORMAT_PARAMETER = OpenApiParameter(
    "format",
    str,
    enum=["json", "geojson", "csv", "xlsx"],
    description="geojson: a FeatureCollection of points, streamed, up to API_GEOJSON_MAX_ROWS rows; csv: streamed, "
    "every filtered row up to API_CSV_MAX_ROWS, UTF-8 with BOM; xlsx: up to API_XLSX_MAX_ROWS rows. Past its limit "
    "a format answers 400.",
)
COLUMNS_PARAMETER = OpenApiParameter(
    "columns", str, enum=["ours", "acled"], description="With format=csv|xlsx|geojson: our column names or ACLED's."
)
ASYNC_EXPORT_PARAMETER = OpenApiParameter(
    "async",
    bool,
    description="With format=csv|xlsx|geojson: 1 (or the header `Prefer: respond-async`) writes the file in a "
    "background job and answers 202 with the job; its `result_url` downloads the file when it is done.",
)


IF_MATCH_OPTIONAL = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional: the ETag you reviewed; if the violation changed since, the step is refused with 412.",
)


STEP_DESCRIPTION = (
    "A step of the review workflow (agreements/services/review.py): reported → verified | disputed | rejected; "
    "disputed → verified | rejected | reported; verified → disputed | reported; rejected → reported. Reviewers only, "
    "and never "
    "the violation's reporter or last editor (403 says why). Verifying needs a source and a perpetrator (the "
    "'Unknown' actor counts). Answers the violation with its new version and ETag; the step is in its review log "
    "and history."
)
RETRACT_DESCRIPTION = (
    "Withdraw a violation with a reason, whatever its status: reviewers (retract_violation), or its reporter while "
    "it is unreviewed. The row is kept, readable by its id, and leaves lists, counts and reports."
)


def _step_schema(summary: str, request_serializer, description: str = STEP_DESCRIPTION):
    return extend_schema(
        summary=summary,
        description=description,
        request=request_serializer,
        responses={
            200: serializers.ViolationSerializer,
            412: OpenApiResponse(description="If-Match names a version that is no longer current."),
        },
        parameters=[IF_MATCH_OPTIONAL],
    )


# What ?format=geojson sends (agreements.exports.iter_geojson): one Point per violation, the columns as properties.
FEATURE_COLLECTION = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "id", "geometry", "properties"],
                "properties": {
                    "type": {"type": "string", "enum": ["Feature"]},
                    "id": {"type": "string", "format": "uuid"},
                    "geometry": {
                        "type": "object",
                        "required": ["type", "coordinates"],
                        "properties": {
                            "type": {"type": "string", "enum": ["Point"]},
                            "coordinates": {
                                "type": "array",
                                "items": {"type": "number"},
                                "minItems": 2,
                                "maxItems": 2,
                                "description": "[longitude, latitude]",
                            },
                        },
                    },
                    "properties": {"type": "object", "description": "The columns (ours or ACLED's), by name."},
                },
            },
        },
    },
}


# The body is streamed by the view, never serialized: this class only names the schema above, as one object (a
# dict given as a list's response would be documented wrapped in a page).
@extend_schema_serializer(many=False)
class FeatureCollectionSerializer(drf_serializers.Serializer):
    pass


# The job an async export answers with (202): one object, not a page, although the list view sends it.
@extend_schema_serializer(many=False, component_name="AcceptedJob")
class AcceptedJobSerializer(JobSerializer):
    pass


class FeatureCollectionExtension(OpenApiSerializerExtension):
    target_class = FeatureCollectionSerializer

    def map_serializer(self, auto_schema, direction):
        # A copy: the enum post-processing hook rewrites what it is given in place, and the schema is generated again
        # on every request for it (the second would then point at an enum component it no longer creates).
        return copy.deepcopy(FEATURE_COLLECTION)


@extend_schema_view(
    list=extend_schema(
        parameters=[FORMAT_PARAMETER, COLUMNS_PARAMETER, ASYNC_EXPORT_PARAMETER],
        responses={
            (200, "application/json"): serializers.ViolationSerializer(many=True),
            (200, GeoJSONRenderer.media_type): OpenApiResponse(
                FeatureCollectionSerializer, description="?format=geojson"
            ),
            (200, CSVRenderer.media_type): OpenApiResponse(OpenApiTypes.STR, description="?format=csv"),
            (200, XLSXRenderer.media_type): OpenApiResponse(OpenApiTypes.BINARY, description="?format=xlsx"),
            (202, "application/json"): OpenApiResponse(
                AcceptedJobSerializer, description="?async=1 (or Prefer: respond-async) with an export format: the job"
            ),
        },
    ),
    update=extend_schema(
        parameters=[IF_MATCH_REQUIRED],
        request=serializers.ViolationUpdateSerializer,
        responses=serializers.ViolationSerializer,
    ),
    partial_update=extend_schema(
        parameters=[IF_MATCH_REQUIRED],
        request=serializers.ViolationUpdateSerializer,
        responses=serializers.ViolationSerializer,
    ),
)
class ViolationViewSet(RecordViewSet):
    serializer_class = serializers.ViolationSerializer
    filterset_class = filters.ViolationFilter
    lookup_field = "uuid"
    lookup_value_regex = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]  # retract, never delete
    ordering_fields = ["started_at", "updated_at", "created_at", "killed_best", "id"]
    ordering = ["-started_at", "-id"]

    # Review steps and retraction have their own permission instead of "add violation" (what POST means elsewhere);
    # the workflow then applies the rules that depend on the row (two people, transitions, a monitor's own entry).
    STEP_PERMISSIONS = {
        "verify": [permissions.REVIEW_VIOLATION],
        "dispute": [permissions.REVIEW_VIOLATION],
        "reject": [permissions.REVIEW_VIOLATION],
        "reopen": [permissions.REVIEW_VIOLATION],
        # Reviewers (retract_violation) retract any; a monitor their own unreviewed one: both can change violations.
        "retract": [permissions.CHANGE_VIOLATION],
    }

    @property
    def required_permissions(self):
        """Read by RolePermission; None means the usual permission of the HTTP method."""
        return self.STEP_PERMISSIONS.get(getattr(self, "action", None))

    def get_queryset(self):
        if getattr(self, "action", None) in {*self.STEP_PERMISSIONS, "history"}:
            return Violation.objects.all()  # the row alone; the answer is read afresh after the step
        return self.with_relations(Violation.objects.all())

    @staticmethod
    def with_relations(queryset):
        # Every embedded relation is joined or prefetched once per page; the list's query count is flat.
        return queryset.select_related("agreement", "place", "zone", "reported_by", "verified_by").prefetch_related(
            "clauses", "perpetrators", "affected_actors", "citations__source"
        )

    def filter_queryset(self, queryset):
        # Filters (and hiding retracted rows) are for lists; a violation stays readable by its id once retracted.
        if self.action == "list":
            return super().filter_queryset(queryset)
        return queryset

    def get_renderers(self):
        renderers = super().get_renderers()
        if self.action == "list" or self.action is None:
            renderers += [GeoJSONRenderer(), CSVRenderer(), XLSXRenderer()]
        return renderers

    def check_object_rule(self, request, obj):
        if self.action in {"update", "partial_update"}:
            services.violation_check_editable(violation=obj, user=request.user)
        # Review steps and retraction: agreements.services.review holds their rules.

    def etag(self, violation) -> str:
        return quote_etag(f"{violation.uuid}.v{violation.version}")

    def retrieve(self, request, *args, **kwargs):
        # The version alone decides the ETag: a 304 costs one small query, not the joins and prefetches of the body.
        version = Violation.objects.filter(uuid=self.kwargs["uuid"]).values_list("version", flat=True).first()
        if version is not None:
            etag = quote_etag(f"{self.kwargs['uuid']}.v{version}")
            if etag in parse_etags(request.headers.get("If-None-Match", "")):
                response = Response(status=304)
                response["ETag"] = etag
                return response
        violation = self.get_object()
        response = Response(self.get_serializer(violation).data)
        response["ETag"] = self.etag(violation)
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # An error asked for as GeoJSON, CSV or XLSX is still in the one JSON error shape, and says so; so is the
        # job an async export answers with.
        renderer = getattr(request, "accepted_renderer", None)
        answers_json = response.status_code >= 400 or response.status_code == 202
        if answers_json and renderer is not None and renderer.format in {"geojson", "csv", "xlsx"}:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

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

    def if_match_version(self) -> int | None:
        """The version named by an optional If-Match (review steps), else None."""
        return self.expected_version() if self.request.headers.get("If-Match") else None

    def step(self, request, run, body_serializer):
        violation = self.get_object()
        body = body_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run(violation=violation, user=request.user, expected_version=self.if_match_version(), **body.validated_data)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc) or None) from exc  # keep the workflow's reason in the error message
        violation = self.with_relations(Violation.objects.all()).get(pk=violation.pk)
        response = Response(serializers.ViolationSerializer(violation, context=self.get_serializer_context()).data)
        response["ETag"] = self.etag(violation)
        return response

    @_step_schema("Verify (reviewers; not the reporter or last editor)", serializers.ReviewNoteSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, uuid=None):
        return self.step(request, services.violation_verify, serializers.ReviewNoteSerializer)

    @_step_schema("Dispute (reviewers; not the reporter or last editor)", serializers.ReviewNoteSerializer)
    @action(detail=True, methods=["post"])
    def dispute(self, request, uuid=None):
        return self.step(request, services.violation_dispute, serializers.ReviewNoteSerializer)

    @_step_schema("Reject (reviewers; not the reporter or last editor)", serializers.ReviewNoteSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, uuid=None):
        return self.step(request, services.violation_reject, serializers.ReviewNoteSerializer)

    @_step_schema(
        "Send back to reported (reviewers; not the reporter or last editor)", serializers.ReviewNoteSerializer
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, uuid=None):
        return self.step(request, services.violation_reopen, serializers.ReviewNoteSerializer)

    @_step_schema("Retract with a reason", serializers.RetractionSerializer, RETRACT_DESCRIPTION)
    @action(detail=True, methods=["post"])
    def retract(self, request, uuid=None):
        return self.step(request, services.violation_retract, serializers.RetractionSerializer)

    @extend_schema(
        operation_id="v1_violations_history",
        summary="Who changed what and when, newest first",
        description="One entry per saved change (created, changed), with who, when, the version it made and the "
        "fields it changed (old and new; foreign keys and links as ids). Readable with the violation's view "
        "permission, retracted or not.",
        filters=False,
        responses=serializers.ViolationHistorySerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def history(self, request, uuid=None):
        entries = services.violation_history(violation=self.get_object())
        return Response(serializers.ViolationHistorySerializer(entries, many=True).data)

    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        response["ETag"] = quote_etag(f"{response.data['id']}.v{response.data['version']}")
        return response

    def perform_content_negotiation(self, request, force=False):
        # DRF answers an unknown ?format= with 404, as if the violations were not there.
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            formats = ", ".join(renderer.format for renderer in self.get_renderers())
            raise ValidationError({"format": f"format is one of: {formats}."}) from None

    def list(self, request, *args, **kwargs):
        fmt = request.accepted_renderer.format
        # Checked whatever the format, so that a bad value is refused rather than ignored.
        columns = self.export_columns()
        asked_async = wants_async(request)
        if fmt in {"json", "api"}:
            return super().list(request, *args, **kwargs)
        queryset = self.filter_queryset(self.get_queryset())
        if asked_async:
            # The filters and columns were checked just above (400 now rather than a failed job later).
            job = export_job_start(
                query=request.query_params, fmt=fmt, columns=request.query_params.get("columns", "ours"),
                user=request.user,
            )  # fmt: skip
            return accepted(request, job)
        return self.conditional(request, queryset, lambda: self.export(fmt, queryset, columns))

    def export_columns(self):
        choice = self.request.query_params.get("columns") or "ours"
        if choice not in {"ours", "acled"}:
            raise ValidationError({"columns": "columns is 'ours' or 'acled'."})
        return exports.ACLED_COLUMNS if choice == "acled" else exports.VIOLATION_COLUMNS

    def export(self, fmt, queryset, columns):
        rows = exports.export_queryset(queryset)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        # Past its row limit a format is refused up front (400): a streamed answer cut off by the worker's timeout
        # would still have said 200.
        try:
            if fmt == "geojson":
                exports.check_size(rows, max_rows=settings.API_GEOJSON_MAX_ROWS, fmt="GeoJSON")
                stream = exports.iter_geojson(rows, columns)
                return StreamingHttpResponse(stream, content_type=GeoJSONRenderer.media_type)
            if fmt == "csv":
                stream = exports.csv_stream(rows, columns, max_rows=settings.API_CSV_MAX_ROWS)
                response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
                response["Content-Disposition"] = f'attachment; filename="violations-{stamp}.csv"'
                return response
            body = exports.xlsx_bytes(rows, columns, max_rows=settings.API_XLSX_MAX_ROWS)
        except exports.ExportTooLarge as exc:
            raise ValidationError({"format": str(exc)}) from exc
        response = HttpResponse(body, content_type=XLSXRenderer.media_type)
        response["Content-Disposition"] = f'attachment; filename="violations-{stamp}.xlsx"'
        return response
