from django.contrib import admin
from django.urls import path

from compliance import views

admin.site.site_header = "Treaty-compliance tracker"
admin.site.site_title = "Compliance tracker"
admin.site.index_title = "Record of agreements and what happened under them"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]
