"""What every viewset of the record shares: idempotent writes, conditional reads, versions that an edit must
name (If-Match), and retirement instead of deletion."""

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import filters as drf_filters
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from agreements import services
from agreements.api import serializers
from compliance import freshness
from compliance.api import filters
from compliance.api.conditional import ConditionalGetMixin, conditional
from compliance.api.errors import PreconditionFailed
from compliance.api.etags import etag_version, record_etag
from compliance.api.idempotency import IdempotentMixin


class PreconditionRequired(APIException):
    status_code = 428
    default_code = "precondition_required"
    default_detail = "Send If-Match with the ETag you read, so a concurrent edit is never silently overwritten."


class BaseViewSet(IdempotentMixin, ConditionalGetMixin, viewsets.ModelViewSet):
    filter_backends = [filters.FilterBackend, drf_filters.OrderingFilter]
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

    def version_etag(self, obj, counter: str | None = None) -> str:
        return record_etag(f"{obj._meta.model_name}-{obj.pk}", obj.version, counter)

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()
        counter, changed_at = freshness.current()
        return conditional(
            request,
            lambda: Response(self.get_serializer(obj).data),
            self.version_etag(obj, counter),
            counter=counter,
            last_modified=changed_at,
        )

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.request.method in {"PUT", "PATCH"} and self.kwargs.get(self.lookup_url_kwarg or self.lookup_field):
            context["expected_version"] = self.expected_version(self.get_object())
        return context

    def expected_version(self, obj) -> int:
        header = self.request.headers.get("If-Match")
        if not header:
            raise PreconditionRequired()
        version = etag_version(header, f"{obj._meta.model_name}-{obj.pk}")
        if version is not None:
            return version
        raise PreconditionFailed(f"If-Match does not name a version of this {obj._meta.verbose_name}; read it again.")

    @extend_schema(parameters=[IF_MATCH_REQUIRED])
    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        obj = self.get_queryset().model._base_manager.get(pk=response.data["id"])
        response["ETag"] = self.version_etag(obj, freshness.current()[0])
        return response

    @extend_schema(parameters=[IF_MATCH_REQUIRED])
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)


class RetirableViewSet(BaseViewSet):
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
        services.model_retire(instance=instance, user=request.user, reason=body.validated_data["reason"])
        return Response(self.get_serializer(self.get_queryset().get(pk=instance.pk)).data)
