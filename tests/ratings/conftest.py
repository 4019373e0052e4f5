"""Fixtures for rating tests: a photo to rate, a clean throttle, and rating helpers."""

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import jpeg_bytes


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """Throttle counts live in the process-wide cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


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


@pytest.fixture
def rate(client):
    """Rate through the REST route (default) or the guide's route, as an anonymous visitor."""

    def _rate(photo_id: str, user_id: str, rating, via: str = "rest", api=None):
        api = api or client
        if via == "rest":
            return api.put(f"/api/photos/{photo_id}/ratings/{user_id}", {"rating": rating}, format="json")
        body = {"photoId": photo_id, "userId": user_id, "rating": rating}
        return api.post("/galleries?action=rate_photo", body, format="json")

    return _rate
