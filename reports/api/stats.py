from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from agreements.models import Violation
from agreements.services import permissions
from compliance.api.conditional import ConditionalGetMixin
from compliance.api.filters import ViolationFilter
from reports.stats import DIMENSIONS, GROUP_BY_PATTERN, parse_group_by, violation_stats


class ViolationStatsView(ConditionalGetMixin, APIView):
    """Violations counted (with best-estimate casualty sums) by any of the dimensions, honouring list filters."""

    required_permissions = [permissions.VIEW_VIOLATION]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "group_by",
                {"type": "string", "pattern": GROUP_BY_PATTERN},
                required=False,
                description=f"Comma-separated dimensions: {', '.join(DIMENSIONS)}. Empty: one total row.",
            ),
        ],
        filters=True,
        responses=inline_serializer(
            "ViolationStats",
            {
                "group_by": serializers.ListField(child=serializers.CharField()),
                "results": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request):
        try:
            group_by = parse_group_by(request.query_params.get("group_by", ""))
        except ValueError as exc:
            raise ValidationError({"group_by": str(exc)}) from exc
        filterset = ViolationFilter(request.query_params, queryset=Violation.objects.all(), request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        # Counts never include retracted rows, whatever the list filters would show a mirror.
        queryset = filterset.qs.standing()
        return self.conditional(
            request, lambda: Response({"group_by": group_by, "results": violation_stats(queryset, group_by)})
        )

    # drf-spectacular reads the filter parameters from these.
    filter_backends = [DjangoFilterBackend]
    filterset_class = ViolationFilter
    queryset = Violation.objects.none()
