"""bench/load.py's URLconf: the service's routes, and a bare DRF JSON view beside them (the floor: the
same server, middleware and renderer, no auth, no throttle, no storage call)."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from gallery_project.urls import urlpatterns as service_urlpatterns


class Bare(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [path("bench/bare", Bare.as_view()), *service_urlpatterns]
