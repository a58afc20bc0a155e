from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from agreements.views import source_file
from compliance import views
from compliance.api.docs import RedocView, SwaggerView
from compliance.jobs.api import JobViewSet
from reports.api.assessments import AssessmentViewSet
from reports.api.compliance import ComplianceTimelineView, ComplianceView
from reports.api.reports import ReportViewSet
from reports.api.stats import ViolationStatsView

admin.site.site_header = "Treaty-compliance tracker"
admin.site.site_title = "Compliance tracker"
admin.site.index_title = "Record of agreements and what happened under them"

public = {"permission_classes": [AllowAny], "authentication_classes": []}

# A SimpleRouter: no API root of its own to shadow the one agreements.api.urls serves at /api/v1/.
reports_router = SimpleRouter()
reports_router.register("reports", ReportViewSet, basename="report")

# People's assessments of clauses (reports/api/assessments.py); a SimpleRouter for the same reason.
assessments_router = SimpleRouter()
assessments_router.register("assessments", AssessmentViewSet, basename="assessment")

# Background jobs (compliance/jobs/); a SimpleRouter for the same reason.
jobs_router = SimpleRouter()
jobs_router.register("jobs", JobViewSet, basename="job")

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    # Archived source files: staff only, through a view (there is no public media URL).
    path("media/sources/<path:path>", source_file, name="source-file"),
    path("api/v1/stats/violations", ViolationStatsView.as_view(), name="stats-violations"),
    path("api/v1/", include(reports_router.urls)),
    path("api/v1/agreements/<slug:slug>/compliance", ComplianceView.as_view(), name="agreement-compliance"),
    path(
        "api/v1/agreements/<slug:slug>/compliance/timeline",
        ComplianceTimelineView.as_view(),
        name="agreement-compliance-timeline",
    ),
    path("api/v1/", include(assessments_router.urls)),
    path("api/v1/", include(jobs_router.urls)),
    path("api/v1/", include("agreements.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(**public), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema", **public), name="docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema", **public), name="redoc"),
    # Last: any other /api/ URL is a JSON 404 in the error shape, not Django's HTML page (see the view).
    re_path(r"^api/", views.api_not_found, name="api-not-found"),
]

# JSON in the error shape under /api/, Django's pages elsewhere.
handler400 = "compliance.views.bad_request"
handler403 = "compliance.views.permission_denied"
handler404 = "compliance.views.page_not_found"
handler500 = "compliance.views.server_error"
