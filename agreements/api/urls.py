from rest_framework.routers import DefaultRouter

from agreements.api import views

router = DefaultRouter()
router.register("agreements", views.AgreementViewSet, basename="agreement")
router.register("clauses", views.ClauseViewSet, basename="clause")
router.register("actors", views.ActorViewSet, basename="actor")
router.register("zones", views.ZoneViewSet, basename="zone")
router.register("places", views.PlaceViewSet, basename="place")
router.register("violations", views.ViolationViewSet, basename="violation")
router.register("patrols", views.PatrolViewSet, basename="patrol")
router.register("route-statuses", views.RouteStatusViewSet, basename="routestatus")
router.register("control-changes", views.ControlChangeViewSet, basename="controlchange")

urlpatterns = router.urls
