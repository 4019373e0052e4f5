"""The guide's action-style routes on /galleries, dispatched to the same viewset methods as /api/.

Routing only: ``(HTTP method, ?action=)`` picks a viewset method, ``?id=`` becomes its id argument.
No validation or business logic lives here.
"""

from dataclasses import dataclass

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.viewsets import ViewSetMixin

from core.http_errors import envelope
from photos.views.galleries import GalleryViewSet
from photos.views.photos import PhotoViewSet
from photos.views.ratings import PhotoRatingViewSet
from scans.views import ScanViewSet


@dataclass(frozen=True)
class Route:
    viewset: type[ViewSetMixin]
    method: str  # the viewset method to call
    id_kwarg: str | None = None  # the method's argument that receives ?id=
    id_required: bool = False
    with_id: str | None = None  # method to call instead when ?id= is given (GET list/retrieve)


ROUTES: dict[tuple[str, str | None], Route] = {
    ("GET", None): Route(GalleryViewSet, "list", "pk", with_id="retrieve"),
    ("POST", None): Route(GalleryViewSet, "create"),
    ("PUT", None): Route(GalleryViewSet, "update", "pk"),
    ("DELETE", None): Route(GalleryViewSet, "destroy", "pk", id_required=True),
    ("POST", "upload_photos"): Route(PhotoViewSet, "create", "gallery_pk", id_required=True),
    ("POST", "delete_photo"): Route(PhotoViewSet, "destroy", "gallery_pk", id_required=True),
    ("POST", "update_GalleryPhotos"): Route(ScanViewSet, "gallery_photos", "gallery_id"),
    ("POST", "update_galleries_metadata"): Route(ScanViewSet, "galleries_metadata", "gallery_id"),
    ("POST", "rate_photo"): Route(PhotoRatingViewSet, "rate"),
    ("GET", "get_photo_rating"): Route(PhotoRatingViewSet, "retrieve"),
}

_views: dict = {}


def _view_for(route: Route, method: str, action: str):
    key = (route.viewset, method, action)
    if key not in _views:
        _views[key] = route.viewset.as_view({method.lower(): action})
    return _views[key]


@csrf_exempt
def galleries_endpoint(request):
    """``/galleries``: the customer's guide's single endpoint."""
    action = request.GET.get("action") or None
    gallery_id = request.GET.get("id") or None
    http_method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
    route = ROUTES.get((http_method, action))
    if route is None:
        allowed = sorted(method for method, known in ROUTES if known == action)
        if not allowed:
            actions = sorted({known for _, known in ROUTES if known})
            return JsonResponse(
                envelope(f"Unknown action {action!r}.", {"action": action, "knownActions": actions}),
                status=400,
            )
        response = JsonResponse(
            envelope(f"{request.method} is not allowed here.", {"allowedMethods": allowed}), status=405
        )
        response["Allow"] = ", ".join(allowed)
        return response
    method_name = route.with_id if (gallery_id and route.with_id) else route.method
    if route.id_required and not gallery_id:
        return JsonResponse(
            envelope("The query parameter 'id' is required.", {"id": ["Required."]}), status=400
        )
    kwargs = {route.id_kwarg: gallery_id} if route.id_kwarg and gallery_id else {}
    return _view_for(route, http_method, method_name)(request, **kwargs)
