"""URLs: the guide's /galleries endpoint, the REST API under /api/, curator sign-in, the curator console
under /console/, JSON 404s.

Every answer that is an error is the envelope: an unknown path is a JSON 404 whatever the method (the
catch-all is CSRF-exempt), an unknown method a 405 with ``Allow``, and Django's own error pages are
replaced (handler400/403/404/500 here, ``CSRF_FAILURE_VIEW`` and ``MalformedRequestMiddleware`` in the
settings)."""

from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from rest_framework.routers import DefaultRouter

from console import urls as console_urls
from core import http_errors
from core.viewsets import APIRootView
from gallery_project import api_docs, compat, sessions
from photos.views.galleries import GalleryViewSet
from photos.views.photos import PhotoViewSet
from photos.views.ratings import PhotoRatingViewSet, VisitorViewSet
from scans.views import ScanViewSet

router = DefaultRouter()
router.trailing_slash = "/?"  # /api/galleries and /api/galleries/ both work (the constructor only knows "/")
# No format suffixes (/api/galleries.json): the hand-written routes have none, and the viewsets' methods
# take no ``format``. Clients choose with Accept or ?format=json; a suffix is an unknown path (404).
router.include_format_suffixes = False
router.APIRootView = APIRootView
router.register("galleries", GalleryViewSet, basename="gallery")

photos = PhotoViewSet.as_view({"get": "list", "post": "create"})
photo = PhotoViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
photo_original = PhotoViewSet.as_view({"get": "original"})
upload_slots = PhotoViewSet.as_view({"post": "upload_slots"})
photos_from_uploads = PhotoViewSet.as_view({"post": "create_from_uploads"})
gallery_photos_scan = ScanViewSet.as_view({"post": "gallery_photos"})
galleries_metadata_scan = ScanViewSet.as_view({"post": "galleries_metadata"})
ratings = PhotoRatingViewSet.as_view({"get": "summary"})
rating = PhotoRatingViewSet.as_view({"get": "retrieve", "put": "rate", "delete": "withdraw"})
visitors = VisitorViewSet.as_view({"post": "create"})
photo_search = PhotoViewSet.as_view({"get": "search"})
# "/" only points at the API: no CSRF token to check, and a method other than GET is a 405 envelope.
to_api_root = csrf_exempt(
    http_errors.methods_only("GET", "HEAD")(RedirectView.as_view(pattern_name="api-root", permanent=False))
)

urlpatterns = [
    re_path(r"^galleries/?$", compat.galleries_endpoint, name="galleries-compat"),
    path("api/auth/login", sessions.login, name="curator-login"),
    path("api/auth/logout", sessions.logout, name="curator-logout"),
    re_path(r"^api/galleries/(?P<gallery_pk>[^/]+)/photos/?$", photos, name="gallery-photos"),
    re_path(r"^api/galleries/(?P<gallery_pk>[^/]+)/uploads/?$", upload_slots, name="gallery-upload-slots"),
    re_path(
        r"^api/galleries/(?P<gallery_pk>[^/]+)/photos/from-uploads/?$",
        photos_from_uploads,
        name="gallery-photos-from-uploads",
    ),
    re_path(r"^api/galleries/(?P<gallery_pk>[^/]+)/photos/(?P<pk>[^/]+)/?$", photo, name="gallery-photo"),
    re_path(
        r"^api/galleries/(?P<gallery_pk>[^/]+)/photos/(?P<pk>[^/]+)/original/?$",
        photo_original,
        name="gallery-photo-original",
    ),
    re_path(r"^api/photos/?$", photo_search, name="photo-search"),
    re_path(r"^api/photos/(?P<photo_pk>[^/]+)/ratings/?$", ratings, name="photo-ratings"),
    re_path(r"^api/photos/(?P<photo_pk>[^/]+)/ratings/(?P<user_pk>[^/]+)/?$", rating, name="photo-rating"),
    path("api/visitors", visitors, name="visitors"),
    re_path(r"^api/schema/?$", api_docs.schema, name="api-schema"),
    re_path(r"^api/docs/?$", api_docs.docs, name="api-docs"),
    re_path(r"^api/redoc/?$", api_docs.redoc, name="api-redoc"),
    path("api/scans/gallery-photos", gallery_photos_scan, name="scan-gallery-photos"),
    path("api/scans/galleries-metadata", galleries_metadata_scan, name="scan-galleries-metadata"),
    path("api/", include(router.urls)),
    path("console/", include(console_urls)),
    path("", to_api_root),
    # Anything else is a JSON 404 in the envelope, whatever DEBUG says.
    re_path(r"^.*$", http_errors.json_not_found),
]

handler400 = http_errors.json_bad_request
handler403 = http_errors.json_forbidden
handler404 = http_errors.json_not_found
handler500 = http_errors.json_server_error
