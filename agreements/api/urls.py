from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import DefaultRouter

from agreements.api import views, violations

router = DefaultRouter()
router.register("agreements", views.AgreementViewSet, basename="agreement")
router.register("clauses", views.ClauseViewSet, basename="clause")
router.register("actors", views.ActorViewSet, basename="actor")
router.register("zones", views.ZoneViewSet, basename="zone")
router.register("places", views.PlaceViewSet, basename="place")
router.register("violations", violations.ViolationViewSet, basename="violation")
router.register("patrols", views.PatrolViewSet, basename="patrol")
router.register("route-statuses", views.RouteStatusViewSet, basename="routestatus")
router.register("control-changes", views.ControlChangeViewSet, basename="controlchange")

# The review steps as the README spells them, without the trailing slash: a redirect cannot carry a POST's body, so
# these answer directly. Only the slashed form is in the schema.
UNSLASHED_ACTIONS = {"verify", "dispute", "reject", "reopen", "retract", "history"}


def unslashed(view):
    # A plain function (no `cls`) is not an API view to drf-spectacular, so the schema lists each route once. The
    # viewset still checks CSRF for session users itself, as DRF views always do.
    @csrf_exempt
    def same_view(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    return same_view


urlpatterns = [
    *router.urls,
    *(
        re_path(url.pattern.regex.pattern.removesuffix("/$") + "$", unslashed(url.callback))
        for url in router.urls
        if url.name in {f"violation-{action}" for action in UNSLASHED_ACTIONS}
        and url.pattern.regex.pattern.endswith("/$")
    ),
]
