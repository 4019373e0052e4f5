"""The guide's /galleries routes reach the same viewset methods as their REST twins."""

import pytest

from gallery_project import compat
from photos.views.galleries import GalleryViewSet
from photos.views.ratings import PhotoRatingViewSet
from tests.factories import jpeg_bytes

PARIS = {"name": "Paris", "continent": "Europe", "country": "France", "years": [2023]}


def _gallery(curator):
    return curator.post("/api/galleries", PARIS, format="json").json()["galleryId"]


# (name, guide request, REST twin request); each request is (method, url, body) and may use {id}.
PAIRS = [
    ("create", ("post", "/galleries", PARIS), ("post", "/api/galleries", PARIS)),
    ("list", ("get", "/galleries", None), ("get", "/api/galleries", None)),
    ("retrieve", ("get", "/galleries?id={id}", None), ("get", "/api/galleries/{id}", None)),
    ("retrieve-missing", ("get", "/galleries?id=missing", None), ("get", "/api/galleries/missing", None)),
    (
        "update",
        ("put", "/galleries", {"galleryId": "{id}", "name": "Paris by night"}),
        ("put", "/api/galleries/{id}", {"name": "Paris by night"}),
    ),
    (
        "update-invalid",
        ("put", "/galleries", {"galleryId": "{id}", "continent": "Mars"}),
        ("put", "/api/galleries/{id}", {"continent": "Mars"}),
    ),
    ("delete", ("delete", "/galleries?id={id}", None), ("delete", "/api/galleries/{id}", None)),
    ("delete-missing", ("delete", "/galleries?id=nope", None), ("delete", "/api/galleries/nope", None)),
    (
        "scan-photos",
        ("post", "/galleries?action=update_GalleryPhotos&id={id}", None),
        ("post", "/api/scans/gallery-photos", {"galleryId": "{id}"}),
    ),
    (
        "scan-photos-dry-run-all",
        ("post", "/galleries?action=update_GalleryPhotos", {"dryRun": True}),
        ("post", "/api/scans/gallery-photos", {"dryRun": True}),
    ),
    (
        "scan-photos-missing",
        ("post", "/galleries?action=update_GalleryPhotos&id=nope", None),
        ("post", "/api/scans/gallery-photos", {"galleryId": "nope"}),
    ),
    (
        "scan-galleries",
        ("post", "/galleries?action=update_galleries_metadata&id={id}", None),
        ("post", "/api/scans/galleries-metadata", {"galleryId": "{id}"}),
    ),
    (
        "scan-galleries-all",
        ("post", "/galleries?action=update_galleries_metadata", None),
        ("post", "/api/scans/galleries-metadata", None),
    ),
]

VOLATILE = {"galleryId", "createdAt", "updatedAt"}


def _call(api, request, gallery_id):
    method, url, body = request
    url = url.replace("{id}", gallery_id)
    if body is not None:
        body = {k: (v.replace("{id}", gallery_id) if isinstance(v, str) else v) for k, v in body.items()}
    return getattr(api, method)(url, body, format="json") if body is not None else getattr(api, method)(url)


def _comparable(response):
    body = response.json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in VOLATILE | {"next", "previous"}}
        if "results" in body:
            body["results"] = [{k: v for k, v in r.items() if k not in VOLATILE} for r in body["results"]]
    return response.status_code, body


@pytest.mark.parametrize(("name", "guide", "rest"), PAIRS, ids=[pair[0] for pair in PAIRS])
def test_guide_route_and_rest_twin_answer_alike(aws, curator, name, guide, rest):
    """Each side runs on its own fresh gallery, so a delete on one side cannot affect the other."""
    guide_id, rest_id = _gallery(curator), _gallery(curator)
    guide_response = _call(curator, guide, guide_id)
    rest_response = _call(curator, rest, rest_id)
    assert _comparable(guide_response) == _comparable(rest_response)


def test_every_guide_route_is_covered_by_the_parity_table():
    covered = {(request[0].upper(), None) for _, request, _ in PAIRS}
    gallery_routes = {key for key, route in compat.ROUTES.items() if route.viewset is GalleryViewSet}
    assert gallery_routes <= covered


def test_get_with_id_returns_the_gallery(aws, curator, client):
    gallery_id = _gallery(curator)
    assert client.get(f"/galleries?id={gallery_id}").json()["galleryId"] == gallery_id


def test_unknown_action_is_400_listing_known_actions(aws, client):
    response = client.post("/galleries?action=launch_rockets")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "details"} and "launch_rockets" in body["error"]
    assert "knownActions" in body["details"]


def test_delete_without_id_is_400(aws, curator):
    response = curator.delete("/galleries")
    assert response.status_code == 400 and set(response.json()) == {"error", "details"}


def test_put_without_gallery_id_is_400(aws, curator):
    response = curator.put("/galleries", {"name": "x"}, format="json")
    assert response.status_code == 400 and "galleryId" in response.json()["details"]


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("patch", "/galleries", 405),
        ("post", "/galleries?action=rate_photo&x=1", 400),  # right action, body missing its fields
        ("delete", "/galleries?action=upload_photos&id=x", 405),
        ("post", "/galleries?id=x&action=", 400),  # an empty action is no action: a create, and invalid
    ],
)
def test_wrong_method_or_body_answers_the_envelope(aws, curator, method, url, status):
    response = getattr(curator, method)(url, {}, format="json")
    assert response.status_code == status and set(response.json()) == {"error", "details"}


def test_patch_on_guide_endpoint_is_405_with_allow(aws, curator):
    response = curator.patch("/galleries", {}, format="json")
    assert response.status_code == 405
    assert "PUT" in response["Allow"]


@pytest.mark.parametrize("url", ["/nowhere", "/api/nothing-here", "/galleries/extra/segments"])
def test_unknown_urls_are_json_404(aws, client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"error", "details"}


# Rating routes: (name, the visitor's earlier rating or None, guide request, REST twin request); {photo}
# is a fresh photo on each side.
RATING_PAIRS = [
    (
        "rate",
        None,
        ("post", "/galleries?action=rate_photo", {"photoId": "{photo}", "userId": "v1", "rating": 4}),
        ("put", "/api/photos/{photo}/ratings/v1", {"rating": 4}),
    ),
    (
        "re-rate",
        2,
        ("post", "/galleries?action=rate_photo", {"photoId": "{photo}", "userId": "v1", "rating": 5}),
        ("put", "/api/photos/{photo}/ratings/v1", {"rating": 5}),
    ),
    (
        "rate-invalid",
        None,
        ("post", "/galleries?action=rate_photo", {"photoId": "{photo}", "userId": "v1", "rating": "5"}),
        ("put", "/api/photos/{photo}/ratings/v1", {"rating": "5"}),
    ),
    (
        "rate-missing-photo",
        None,
        ("post", "/galleries?action=rate_photo", {"photoId": "gone", "userId": "v1", "rating": 4}),
        ("put", "/api/photos/gone/ratings/v1", {"rating": 4}),
    ),
    (
        "get-rating",
        3,
        ("get", "/galleries?action=get_photo_rating&photoId={photo}&userId=v1", None),
        ("get", "/api/photos/{photo}/ratings/v1", None),
    ),
    (
        "get-no-rating",
        None,
        ("get", "/galleries?action=get_photo_rating&photoId={photo}&userId=v1", None),
        ("get", "/api/photos/{photo}/ratings/v1", None),
    ),
    (
        "get-missing-photo",
        None,
        ("get", "/galleries?action=get_photo_rating&photoId=gone&userId=v1", None),
        ("get", "/api/photos/gone/ratings/v1", None),
    ),
]


def _photo(curator):
    from django.core.files.uploadedfile import SimpleUploadedFile

    gallery_id = _gallery(curator)
    photo = SimpleUploadedFile("p.jpg", jpeg_bytes(64, 48), "image/jpeg")
    response = curator.post(f"/api/galleries/{gallery_id}/photos", {"photos": [photo]}, format="multipart")
    return response.json()["photos"][0]["photoId"]


def _rating_call(api, request, photo_id):
    method, url, body = request
    url = url.replace("{photo}", photo_id)
    if body is None:
        return getattr(api, method)(url)
    body = {k: (v.replace("{photo}", photo_id) if isinstance(v, str) else v) for k, v in body.items()}
    return getattr(api, method)(url, body, format="json")


def _keep_token(api, response) -> None:
    """Like a browser, send the visitor's token (given by its first rating) with every later request."""
    token = response.json().get("visitorToken") if response.status_code in (200, 201) else None
    if token:
        api.credentials(HTTP_X_VISITOR_TOKEN=token)


@pytest.mark.parametrize(
    ("name", "earlier", "guide", "rest"), RATING_PAIRS, ids=[pair[0] for pair in RATING_PAIRS]
)
def test_rating_guide_route_and_rest_twin_answer_alike(aws, curator, client, name, earlier, guide, rest):
    sides = []
    for request in (guide, rest):
        photo_id = _photo(curator)
        if earlier is not None:
            earlier_response = client.put(
                f"/api/photos/{photo_id}/ratings/v1", {"rating": earlier}, format="json"
            )
            assert earlier_response.status_code in (200, 201), earlier_response.content
            _keep_token(client, earlier_response)
        response = _rating_call(client, request, photo_id)
        _keep_token(client, response)
        body = {k: v for k, v in response.json().items() if k not in {"photoId", "ratedAt"}}
        sides.append((response.status_code, body))
    assert sides[0] == sides[1]
    assert sides[0][0] != 403, sides[0]  # the visitor kept its token: never refused


def test_every_rating_route_is_covered_by_the_parity_table():
    covered = {
        (request[0].upper(), request[1].split("action=")[1].split("&")[0]) for *_, request, _ in RATING_PAIRS
    }
    rating_routes = {key for key, route in compat.ROUTES.items() if route.viewset is PhotoRatingViewSet}
    assert rating_routes == covered
