"""Fixtures for photo tests: a gallery to upload into and an upload helper."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import jpeg_bytes


@pytest.fixture
def gallery_id(curator):
    body = {"name": "Night walks", "continent": "Europe", "country": "France", "years": [2022]}
    return curator.post("/api/galleries", body, format="json").json()["galleryId"]


def as_file(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def upload(curator):
    """Upload files (name -> bytes) with extra form fields through the REST route."""

    def _upload(gallery_id: str, files: dict[str, bytes] | None = None, via: str = "rest", **fields):
        files = files if files is not None else {"one.jpg": jpeg_bytes()}
        payload = {"photos": [as_file(name, data) for name, data in files.items()], **fields}
        url = (
            f"/api/galleries/{gallery_id}/photos"
            if via == "rest"
            else f"/galleries?action=upload_photos&id={gallery_id}"
        )
        return curator.post(url, payload, format="multipart")

    return _upload
