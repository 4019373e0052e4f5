"""URLs: the guide's /galleries endpoint, the REST API under /api/, curator sign-in, JSON 404s."""

from django.urls import include, path, re_path
from django.views.generic import RedirectView
from rest_framework.routers import DefaultRouter

from galleries.views import GalleryViewSet
from gallery_project import compat, errors, sessions
from photos.views import PhotoViewSet

router = DefaultRouter()
router.trailing_slash = "/?"  # /api/galleries and /api/galleries/ both work (the constructor only knows "/")
router.register("galleries", GalleryViewSet, basename="gallery")

photos = PhotoViewSet.as_view({"get": "list", "post": "create"})
photo = PhotoViewSet.as_view({"get": "retrieve", "delete": "destroy"})

urlpatterns = [
    re_path(r"^galleries/?$", compat.galleries_endpoint, name="galleries-compat"),
    path("api/auth/login", sessions.login, name="curator-login"),
    path("api/auth/logout", sessions.logout, name="curator-logout"),
    re_path(r"^api/galleries/(?P<gallery_pk>[^/]+)/photos/?$", photos, name="gallery-photos"),
    re_path(r"^api/galleries/(?P<gallery_pk>[^/]+)/photos/(?P<pk>[^/]+)/?$", photo, name="gallery-photo"),
    path("api/", include(router.urls)),
    path("", RedirectView.as_view(url="/api/", permanent=False)),
    # Anything else is a JSON 404 in the envelope, whatever DEBUG says.
    re_path(r"^.*$", errors.json_not_found),
]

handler400 = errors.json_bad_request
handler404 = errors.json_not_found
handler500 = errors.json_server_error
