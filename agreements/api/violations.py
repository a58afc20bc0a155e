"""Violations over HTTP: the list (JSON rows built by the database, exports in four formats, async exports as jobs),
the detail with its version, edits that name it, the review steps and the history. Writes are the services'."""

import copy

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from agreements import exports, services
from agreements.api import violation_serializers
from agreements.api.base import IF_MATCH_REQUIRED, BaseViewSet, PreconditionRequired
from agreements.api.renderers import CSVRenderer, GeoJSONRenderer, XLSXRenderer
from agreements.api.violation_rows import detail_row, page_rows
from agreements.jobs import export_job_start
from agreements.models import Violation
from agreements.services import permissions
from compliance import freshness
from compliance.api import filters
from compliance.api.conditional import conditional
from compliance.api.errors import PreconditionFailed
from compliance.api.etags import etag_version, record_etag
from compliance.jobs.api import JobSerializer, accepted, wants_async

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
            200: violation_serializers.ViolationSerializer,
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
            (200, "application/json"): violation_serializers.ViolationSerializer(many=True),
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
        request=violation_serializers.ViolationUpdateSerializer,
        responses=violation_serializers.ViolationSerializer,
    ),
    partial_update=extend_schema(
        parameters=[IF_MATCH_REQUIRED],
        request=violation_serializers.ViolationUpdateSerializer,
        responses=violation_serializers.ViolationSerializer,
    ),
)
class ViolationViewSet(BaseViewSet):
    serializer_class = violation_serializers.ViolationSerializer
    filterset_class = filters.ViolationFilter
    lookup_field = "uuid"
    lookup_value_regex = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]  # retract, never delete
    ordering_fields = filters.VIOLATION_ORDERING_FIELDS
    ordering = filters.VIOLATION_ORDERING

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
        return record_etag(str(violation.uuid), violation.version, freshness.current()[0])

    def retrieve(self, request, *args, **kwargs):
        # The version and the counter decide the ETag: a 304 costs two small queries, not the body's.
        found = Violation.objects.filter(uuid=self.kwargs["uuid"]).values_list("pk", "version").first()
        if found is None:
            raise Http404
        pk, version = found
        counter, changed_at = freshness.current()
        return conditional(
            request,
            lambda: Response(detail_row(pk)),
            record_etag(str(self.kwargs["uuid"]), version, counter),
            counter=counter,
            last_modified=changed_at,
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        violation = serializer.save()
        response = Response(detail_row(violation.pk), status=201)
        response["ETag"] = record_etag(str(violation.uuid), violation.version, freshness.current()[0])
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
        version = etag_version(header, str(self.kwargs["uuid"]))
        if version is None:
            raise PreconditionFailed("If-Match does not name a version of this violation; read it again.")
        return version

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
        response = Response(
            violation_serializers.ViolationSerializer(violation, context=self.get_serializer_context()).data
        )
        response["ETag"] = self.etag(violation)
        return response

    @_step_schema("Verify (reviewers; not the reporter or last editor)", violation_serializers.ReviewNoteSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, uuid=None):
        return self.step(request, services.violation_verify, violation_serializers.ReviewNoteSerializer)

    @_step_schema("Dispute (reviewers; not the reporter or last editor)", violation_serializers.ReviewNoteSerializer)
    @action(detail=True, methods=["post"])
    def dispute(self, request, uuid=None):
        return self.step(request, services.violation_dispute, violation_serializers.ReviewNoteSerializer)

    @_step_schema("Reject (reviewers; not the reporter or last editor)", violation_serializers.ReviewNoteSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, uuid=None):
        return self.step(request, services.violation_reject, violation_serializers.ReviewNoteSerializer)

    @_step_schema(
        "Send back to reported (reviewers; not the reporter or last editor)", violation_serializers.ReviewNoteSerializer
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, uuid=None):
        return self.step(request, services.violation_reopen, violation_serializers.ReviewNoteSerializer)

    @_step_schema("Retract with a reason", violation_serializers.RetractionSerializer, RETRACT_DESCRIPTION)
    @action(detail=True, methods=["post"])
    def retract(self, request, uuid=None):
        return self.step(request, services.violation_retract, violation_serializers.RetractionSerializer)

    @extend_schema(
        operation_id="v1_violations_history",
        summary="Who changed what and when, newest first",
        description="One entry per saved change (created, changed), with who, when, the version it made and the "
        "fields it changed (old and new; foreign keys and links as ids). Readable with the violation's view "
        "permission, retracted or not.",
        filters=False,
        responses=violation_serializers.ViolationHistorySerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def history(self, request, uuid=None):
        entries = services.violation_history(violation=self.get_object())
        return Response(violation_serializers.ViolationHistorySerializer(entries, many=True).data)

    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        response["ETag"] = record_etag(str(response.data["id"]), response.data["version"], freshness.current()[0])
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
        if fmt == "api":
            return super().list(request, *args, **kwargs)
        if fmt == "json":
            return self.conditional(request, self.list_rows)
        queryset = self.filter_queryset(self.get_queryset())
        if asked_async:
            # The filters and columns were checked just above (400 now rather than a failed job later).
            job = export_job_start(
                query=request.query_params, fmt=fmt, columns=request.query_params.get("columns", "ours"),
                user=request.user,
            )  # fmt: skip
            return accepted(request, job)
        return self.conditional(request, lambda: self.export(fmt, queryset, columns))

    def list_rows(self):
        # Values or SQL-built JSON, not instances and nested serializers (see violation_rows).
        rows = page_rows(self.paginate_queryset, self.filter_queryset(Violation.objects.all()))
        return self.get_paginated_response(rows)

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
