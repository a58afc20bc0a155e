from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from compliance import views
from reports.api.stats import ViolationStatsView

admin.site.site_header = "Treaty-compliance tracker"
admin.site.site_title = "Compliance tracker"
admin.site.index_title = "Record of agreements and what happened under them"

public = {"permission_classes": [AllowAny], "authentication_classes": []}

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/stats/violations", ViolationStatsView.as_view(), name="stats-violations"),
    path("api/v1/", include("agreements.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(**public), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", **public), name="docs"),
]
