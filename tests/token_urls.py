"""A urlconf with one tiny API view, for HTTP-level token tests (there are no API endpoints to borrow yet)."""

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class WhoAmI(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"user": request.user.username, "read_only": request.auth.read_only})

    def post(self, request):
        return Response({"user": request.user.username, "wrote": True})


urlpatterns = [path("whoami", WhoAmI.as_view(), name="whoami")]
