"""What a fault test does through the REST API: make a gallery, upload tiny JPEGs, rate a photo."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.factories import jpeg_bytes

PHOTO_SIZE = (32, 24)  # a few hundred bytes: fast to decode, render and store


def gallery_create(api: APIClient, name: str = "Faults") -> str:
    body = {"name": name, "continent": "Europe", "country": "Norway", "years": [2024]}
    response = api.post("/api/galleries", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["galleryId"]


def upload_payload(count: int, prefix: str = "p") -> dict:
    files = [
        SimpleUploadedFile(f"{prefix}{n}.jpg", jpeg_bytes(*PHOTO_SIZE), content_type="image/jpeg")
        for n in range(count)
    ]
    return {"photos": files}


def photos_upload(api: APIClient, gallery_id: str, count: int = 1):
    """POST ``count`` tiny JPEGs in one multipart request; the response, unchecked (faults make it fail)."""
    return api.post(f"/api/galleries/{gallery_id}/photos", upload_payload(count), format="multipart")


def photo_rate(api: APIClient, photo_id: str, user_id: str, stars: int):
    return api.put(f"/api/photos/{photo_id}/ratings/{user_id}", {"rating": stars}, format="json")


@dataclass(frozen=True)
class Scene:
    """A consistent store made through the API: one gallery, its photos (output bodies), one rating."""

    gallery_id: str
    photos: list[dict]

    @property
    def photo_ids(self) -> list[str]:
        return [photo["photoId"] for photo in self.photos]


def scene_create(curator: APIClient, visitor: APIClient, photos: int = 2) -> Scene:
    """A gallery with ``photos`` photos, the first rated 4 stars by visitor "v1"."""
    gallery_id = gallery_create(curator)
    response = photos_upload(curator, gallery_id, photos)
    assert response.status_code == 201, response.content
    uploaded = sorted(response.json()["photos"], key=lambda photo: photo["photoNumber"])
    rated = photo_rate(visitor, uploaded[0]["photoId"], "v1", 4)
    assert rated.status_code == 201, rated.content
    return Scene(gallery_id, uploaded)


# ---------------------------------------------------------------- files, slots and edits of the fault cases


def jpeg() -> bytes:
    """A tiny JPEG (64x48), a different file each call (a retry of the same file reuses the bytes)."""
    return jpeg_bytes(64, 48)


def files_upload(api: APIClient, gallery_id: str, files: dict[str, bytes]):
    """POST these files (name -> bytes) in one multipart request; the response, unchecked."""
    payload = {
        "photos": [SimpleUploadedFile(name, data, content_type="image/jpeg") for name, data in files.items()]
    }
    return api.post(f"/api/galleries/{gallery_id}/photos", payload, format="multipart")


def upload_slots(api: APIClient, gallery_id: str, count: int = 1) -> list[dict]:
    files = [{"filename": f"f{n}.jpg", "contentType": "image/jpeg"} for n in range(count)]
    response = api.post(f"/api/galleries/{gallery_id}/uploads", {"files": files}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["uploads"]


def slot_post(slot: dict, data: bytes) -> int:
    """What a browser does with a slot: the form's fields and the file, POSTed straight to S3."""
    files = {"file": ("photo.jpg", data, "image/jpeg")}
    return requests.post(slot["url"], data=slot["fields"], files=files, timeout=30).status_code


def uploads_complete(api: APIClient, gallery_id: str, upload_key: str):
    """Ask for a photo to be made of an uploaded object; the response, unchecked."""
    body = {"uploads": [{"uploadKey": upload_key, "filename": "card.jpg"}]}
    return api.post(f"/api/galleries/{gallery_id}/photos/from-uploads", body, format="json")
