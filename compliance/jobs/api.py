"""Jobs in the API: read where a job stands, download what it made, and the 202 answer that starts one.

    GET /api/v1/jobs/                    the caller's jobs, newest first (everyone's with compliance.view_all_jobs)
    GET /api/v1/jobs/{id}/               state, progress, result and its link, error
    GET /api/v1/jobs/{id}/download/      the file an export job wrote: only the person who asked for it

Endpoints that can run as a job (issuing a report, exporting violations) do so when the client asks, with
`?async=1` or the header `Prefer: respond-async` (RFC 7240), and then answer `202 Accepted` with the job and its
URL in `Location`; without asking they answer as they always did.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from django.db.models import Q
from django.http import FileResponse
from django.urls import reverse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from compliance.api.filters import BooleanFilter
from compliance.jobs.models import Job, JobKind, JobState

VIEW_ALL = "compliance.view_all_jobs"
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def wants_async(request) -> bool:
    """Whether the client asked for a job: `?async=1` (or true), else `Prefer: respond-async`; `?async=0` wins."""
    value = request.query_params.get("async", "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    if value:
        raise ValidationError({"async": "async is true or false (1 or 0)."})
    return any(
        token.split(";")[0].strip().lower() == "respond-async" for token in request.headers.get("Prefer", "").split(",")
    )


def accepted(request, job: Job) -> Response:
    """The 202 answer for a job just started: the job as GET /api/v1/jobs/{id}/ shows it, and where to poll."""
    response = Response(JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)
    response["Location"] = reverse("job-detail", kwargs={"pk": job.pk})
    response["Retry-After"] = "1"
    if "respond-async" in request.headers.get("Prefer", "").lower():
        response["Preference-Applied"] = "respond-async"
    return response


def visible_jobs(user):
    jobs = Job.objects.select_related("requested_by")
    return jobs if user.has_perm(VIEW_ALL) else jobs.filter(requested_by=user)


def result_link(job: Job) -> str | None:
    """Where the job's result is read: the report it issued, or the file it wrote."""
    if job.state != JobState.SUCCEEDED:
        return None
    if job.kind == JobKind.REPORT and job.result and job.result.get("report"):
        return reverse("report-detail", kwargs={"pk": job.result["report"]})
    if job.output_file:
        return reverse("job-download", kwargs={"pk": job.pk})
    return None


class JobProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(source="progress_done")
    total = serializers.IntegerField(source="progress_total", allow_null=True, help_text="Null while not known.")
    percent = serializers.IntegerField(allow_null=True)
    message = serializers.CharField(source="progress_message")


class JobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    requested_by = serializers.CharField(source="requested_by.username")
    progress = JobProgressSerializer(source="*")
    result_url = serializers.SerializerMethodField(help_text="The report issued, or the file to download.")

    class Meta:
        model = Job
        fields = ["id", "url", "kind", "state", "progress", "result", "result_url", "error", "requested_by",
                  "parameters", "attempts", "created_at", "started_at", "finished_at"]  # fmt: skip
        read_only_fields = fields

    def _absolute(self, path: str | None) -> str | None:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None and path else path

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, job) -> str:
        return self._absolute(reverse("job-detail", kwargs={"pk": job.pk}))

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_result_url(self, job) -> str | None:
        return self._absolute(result_link(job))


class JobFilter(filters.FilterSet):
    kind = filters.MultipleChoiceFilter(choices=JobKind.choices)
    state = filters.MultipleChoiceFilter(choices=JobState.choices)
    # Strict: a value other than true/false is a 400, never silently "both".
    mine = BooleanFilter(method="filter_mine", help_text="Only my jobs (for those who see everyone's).")

    class Meta:
        model = Job
        fields = ["kind", "state", "mine"]

    def filter_mine(self, queryset, name, value):
        user = self.request.user
        return queryset.filter(requested_by=user) if value else queryset.filter(~Q(requested_by=user))


@extend_schema_view(
    list=extend_schema(summary="My jobs, newest first (everyone's for the admin role)"),
    retrieve=extend_schema(summary="Where a job stands: state, progress, result, error"),
)
class JobViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = JobSerializer
    filterset_class = JobFilter
    # The cursor pages by the ordering filter's order: newest first (ids are random UUIDs, not a sequence).
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]
    # Any signed-in user may follow their own jobs; which jobs they see is the queryset's business.
    required_permissions: list[str] = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Job.objects.none()
        return visible_jobs(self.request.user)

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"  # progress changes from one poll to the next
        return response

    def perform_content_negotiation(self, request, force=False):
        if getattr(self, "action", None) == "download":
            renderer = JSONRenderer()  # the file itself bypasses renderers; its errors are JSON
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        summary="Download the file an export job wrote (only the person who asked for it)",
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            409: OpenApiResponse(description="The job has not succeeded (yet)."),
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        job = self.get_object()
        if job.requested_by_id != request.user.pk:
            raise PermissionDenied("Only the person who asked for this export can download it.")
        if not request.user.has_perm("agreements.view_violation"):
            raise PermissionDenied("You may no longer read violations.")
        if job.state != JobState.SUCCEEDED or not job.output_file:
            raise NotFound("This job has no file to download (it has not succeeded, or it writes none).")
        name = PurePosixPath(job.output_file.name).name
        response = FileResponse(job.output_file.open("rb"), as_attachment=True, filename=name)
        response["Cache-Control"] = "private, no-store"
        return response
