"""Reports: issue one (POST), list and read them, download any format rendered from the frozen data.

    POST /api/v1/reports/                             {"agreement", "from", "to", "actor"?, "formats"?} → 201
    GET  /api/v1/reports/                             issued reports, newest first (without their frozen data)
    GET  /api/v1/reports/{id}/                        one report's row and download links
    GET  /api/v1/reports/{id}/download/?format=pdf    pdf | html | csv | xlsx | json

Like every URL of the API it ends in a slash; without it a GET is redirected (301), keeping ?format=.
Reports are never changed or deleted (405). Reading needs reports.view_report; issuing reports.add_report.
Issuing content identical to an issued report (same hash) returns that report with 200 instead of 201, so a
retried POST does not make a second copy.

Asked with `?async=1` or `Prefer: respond-async`, a POST is checked at once (400 as usual) and then issued by a
background job: 202 with the job, `Location: /api/v1/jobs/{id}/`; the finished job links to the report.
"""

from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import parse_etags, quote_etag
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from agreements.models import Actor, Agreement
from compliance.api.fields import BriefRelatedField
from compliance.api.filters import DateFilter
from compliance.api.idempotency import IdempotentMixin
from compliance.api.serializers import DayField, StrictFieldsMixin
from compliance.jobs.api import JobSerializer, accepted, wants_async
from reports import rendering
from reports.issuing import report_get_or_issue
from reports.jobs import report_job_start
from reports.models import Report
from reports.rendering import DOWNLOADS, FORMATS

# Part of the download's ETag: bump it when a renderer's output changes, so a cached copy is not taken for the new.
RENDERING_VERSION = 2


class ReportIssueSerializer(StrictFieldsMixin, serializers.Serializer):
    """What to report on: an agreement, a period (UTC dates, both included) and optionally one actor."""

    agreement = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Agreement.objects.all(),
        help_text="Agreement slug.",
        error_messages={"does_not_exist": "No agreement with slug {value!r}."},
    )
    actor = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Actor.objects.all(),
        required=False,
        allow_null=True,
        help_text="Actor slug: count only the violations alleged against it or its parts.",
        error_messages={"does_not_exist": "No actor with slug {value!r}."},
    )
    formats = serializers.ListField(
        child=serializers.ChoiceField(choices=FORMATS),
        required=False,
        help_text="The formats the issuer means to use (kept with the report); every format can be downloaded.",
    )

    def get_fields(self):
        # "from" is a Python keyword, so the period's fields are added here rather than declared as attributes.
        fields = super().get_fields()
        fields["from"] = DayField(help_text="First day of the period (YYYY-MM-DD).")
        fields["to"] = DayField(help_text="Last day of the period (YYYY-MM-DD), included.")
        return fields

    def validate(self, attrs):
        if attrs["to"] < attrs["from"]:
            raise ValidationError({"to": "The period ends before it starts."})
        return attrs


class ReportSerializer(serializers.ModelSerializer):
    agreement = BriefRelatedField(model=Agreement, brief=["slug", "title"], read_only=True)
    actor = BriefRelatedField(model=Actor, brief=["id", "slug", "name"], read_only=True, allow_null=True)
    period = serializers.SerializerMethodField()
    issued_by = serializers.CharField(source="issued_by.username", read_only=True)
    downloads = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = ["id", "title", "agreement", "actor", "period", "parameters", "sha256", "issued_by", "issued_at",
                  "downloads"]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(
        inline_serializer("ReportPeriod", {"from": serializers.DateField(), "to": serializers.DateField()})
    )
    def get_period(self, report) -> dict:
        return {"from": report.period_start.isoformat(), "to": report.period_end.isoformat()}

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string", "format": "uri"}})
    def get_downloads(self, report) -> dict:
        path = reverse("report-download", kwargs={"pk": report.pk})
        request = self.context.get("request")
        links = {fmt: f"{path}?format={fmt}" for fmt in DOWNLOADS}
        return {fmt: request.build_absolute_uri(link) for fmt, link in links.items()} if request else links


class ReportFilter(filters.FilterSet):
    agreement = filters.CharFilter(field_name="agreement__slug", help_text="Agreement slug.")
    actor = filters.CharFilter(field_name="actor__slug", help_text="Actor slug.")
    issued_after = DateFilter(field_name="issued_at", lookup_expr="date__gte", help_text="Issued on or after.")
    issued_before = DateFilter(field_name="issued_at", lookup_expr="date__lte", help_text="Issued on or before.")

    class Meta:
        model = Report
        fields = ["agreement", "actor", "issued_after", "issued_before"]


ASYNC_PARAMETER = OpenApiParameter(
    "async",
    bool,
    description="1: issue the report in a background job and answer 202 with the job (as `Prefer: respond-async`).",
)
PREFER_HEADER = OpenApiParameter(
    "Prefer",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="`respond-async`: answer 202 with a background job instead of waiting for the report.",
)

DOWNLOAD_FORMAT = OpenApiParameter(
    "format",
    str,
    enum=list(DOWNLOADS),
    required=True,
    description="pdf and html: the full report (same layout); csv: the clauses table; xlsx: every table, one "
    "sheet each, with an About sheet; json: the frozen data, with who issued it, when, and its SHA-256; "
    "annex-csv and annex-xlsx: every violation the report counts, frozen with it (its SHA-256 is in the data).",
)


@extend_schema_view(
    list=extend_schema(summary="Issued reports, newest first"),
    retrieve=extend_schema(summary="One issued report and its download links"),
)
class ReportViewSet(
    IdempotentMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ReportSerializer
    filterset_class = ReportFilter
    lookup_value_regex = "[0-9]{1,19}"  # ids are bigints; anything else is no route (a JSON 404), not a failed lookup
    http_method_names = ["get", "post", "head", "options"]  # an issued report is never changed or deleted

    def get_queryset(self):
        if self.action == "download":
            return Report.objects.select_related("issued_by")  # who issued it is printed in every format
        # The brief objects of the list are joined; the frozen data (the bulk of a row) is read only to download.
        return Report.objects.select_related("agreement", "actor", "issued_by").defer("frozen_data")

    def get_serializer_class(self):
        return ReportIssueSerializer if self.action == "create" else ReportSerializer

    def initial(self, request, *args, **kwargs):
        # 405 for every caller, before permissions: no role may change or delete an issued report.
        if request.method.lower() not in self.http_method_names:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def perform_content_negotiation(self, request, force=False):
        # DRF reads ?format= as a renderer choice; for a download it names the file format instead, which the action
        # reads itself. Errors of a download are answered as JSON.
        if getattr(self, "action", None) == "download":
            renderer = JSONRenderer()
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        summary="Issue a report",
        request=ReportIssueSerializer,
        parameters=[ASYNC_PARAMETER, PREFER_HEADER],
        responses={
            201: ReportSerializer,
            200: OpenApiResponse(ReportSerializer, description="A report with identical content was already issued."),
            202: OpenApiResponse(JobSerializer, description="Asked for async: the job that issues the report."),
        },
    )
    def create(self, request, *args, **kwargs):
        serializer = ReportIssueSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if wants_async(request):
            job = report_job_start(
                agreement=data["agreement"], start=data["from"], end=data["to"], actor=data.get("actor"),
                formats=data.get("formats"), user=request.user,
            )  # fmt: skip
            return accepted(request, job)
        report, created = report_get_or_issue(
            agreement=data["agreement"],
            start=data["from"],
            end=data["to"],
            actor=data.get("actor"),
            user=request.user,
            formats=data.get("formats"),
        )
        body = ReportSerializer(report, context=self.get_serializer_context()).data
        response = Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
        response["Location"] = reverse("report-detail", kwargs={"pk": report.pk})
        return response

    @extend_schema(
        summary="Download a report, rendered from its frozen data",
        parameters=[DOWNLOAD_FORMAT],
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "text/html"): OpenApiTypes.STR,
            (200, "text/csv"): OpenApiTypes.STR,
            (200, rendering.CONTENT_TYPES["xlsx"]): OpenApiTypes.BINARY,
            (200, "application/json"): OpenApiTypes.OBJECT,
            304: OpenApiResponse(description="Not modified: If-None-Match names this download's ETag."),
        },
    )
    @action(detail=True, methods=["get"], url_path="download")
    def download(self, request, pk=None):
        fmt = request.query_params.get("format", "")
        if fmt not in DOWNLOADS:
            raise ValidationError({"format": f"Choose one of: {', '.join(DOWNLOADS)}."})
        report = self.get_object()
        etag = quote_etag(f"{report.sha256[:32]}.{report.pk}.{fmt}.r{RENDERING_VERSION}")
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
        else:
            try:
                rendered = rendering.render(report, fmt)
            except ValueError as exc:  # an annex asked of a report issued before annexes
                raise ValidationError({"format": str(exc)}) from exc
            response = HttpResponse(rendered.content, content_type=rendered.content_type)
            response["Content-Disposition"] = f'attachment; filename="{rendered.filename}"'
        response["ETag"] = etag
        response["Cache-Control"] = "private, max-age=0, must-revalidate"
        return response
