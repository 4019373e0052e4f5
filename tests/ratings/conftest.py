"""Fixtures for rating tests: a photo to rate, a clean throttle, and rating helpers.

``rate`` and ``withdraw`` remember the ``visitorToken`` each userId was given and send it as
``X-Visitor-Token`` on that userId's later writes (a browser keeping its token), unless a test says
``token=None`` (send none) or ``token="..."`` (send that one).
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import jpeg_bytes


@pytest.fixture
def gallery_id(curator):
    body = {"name": "Lakes", "continent": "Europe", "country": "Italy", "years": [2023]}
    return curator.post("/api/galleries", body, format="json").json()["galleryId"]


@pytest.fixture
def upload(curator):
    """Upload ``count`` small photos into a gallery; returns their output bodies."""

    def _upload(gallery_id: str, count: int = 1) -> list[dict]:
        files = [SimpleUploadedFile(f"p{n}.jpg", jpeg_bytes(64, 48), "image/jpeg") for n in range(count)]
        response = curator.post(f"/api/galleries/{gallery_id}/photos", {"photos": files}, format="multipart")
        assert response.status_code == 201, response.content
        return response.json()["photos"]

    return _upload


@pytest.fixture
def photo_id(gallery_id, upload):
    return upload(gallery_id)[0]["photoId"]


REMEMBERED = object()  # send the token this userId was given, if any


@pytest.fixture
def visitor_tokens() -> dict[str, str]:
    """The token each userId was given by a rating answer (or POST /api/visitors, when a test adds it)."""
    return {}


def _token_header(visitor_tokens: dict[str, str], user_id: str, token) -> dict:
    sent = visitor_tokens.get(user_id) if token is REMEMBERED else token
    return {} if sent is None else {"HTTP_X_VISITOR_TOKEN": sent}


@pytest.fixture
def rate(client, visitor_tokens):
    """Rate through the REST route (default) or the guide's route, as an anonymous visitor."""

    def _rate(photo_id: str, user_id: str, rating, via: str = "rest", api=None, token=REMEMBERED):
        api, headers = api or client, _token_header(visitor_tokens, user_id, token)
        if via == "rest":
            url, body = f"/api/photos/{photo_id}/ratings/{user_id}", {"rating": rating}
            response = api.put(url, body, format="json", **headers)
        else:
            body = {"photoId": photo_id, "userId": user_id, "rating": rating}
            response = api.post("/galleries?action=rate_photo", body, format="json", **headers)
        if response.status_code in (200, 201) and response.json().get("visitorToken"):
            visitor_tokens[user_id] = response.json()["visitorToken"]
        return response

    return _rate


@pytest.fixture
def withdraw(client, visitor_tokens):
    """Withdraw a visitor's rating (``DELETE /api/photos/{photoId}/ratings/{userId}``)."""

    def _withdraw(photo_id: str, user_id: str, api=None, token=REMEMBERED):
        headers = _token_header(visitor_tokens, user_id, token)
        return (api or client).delete(f"/api/photos/{photo_id}/ratings/{user_id}", **headers)

    return _withdraw
