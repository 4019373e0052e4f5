"""Fixtures for scan tests: objects put straight into the bucket, galleries, and a state snapshot."""

import pytest
from django.conf import settings

from core.aws import s3_client
from galleries.services import gallery_create
from tests.factories import jpeg_bytes


@pytest.fixture(autouse=True)
def one_worker(settings):
    """moto's TransactWriteItems deep-copies every table unlocked, so parallel adoptions can crash it.

    The race between runs is tested on DynamoDB Local, which is safe under concurrency.
    """
    settings.PHOTO_PROCESSING_WORKERS = 1


@pytest.fixture
def put_object():
    def _put(key: str, data: bytes | None = None) -> str:
        s3_client().put_object(
            Bucket=settings.BUCKET_NAME, Key=key, Body=data if data is not None else jpeg_bytes(64, 48)
        )
        return key

    return _put


@pytest.fixture
def make_gallery():
    def _make(name: str = "Card dump", years=(2019,)) -> str:
        return gallery_create(name=name, continent="Asia", country="Japan", years=list(years)).gallery_id

    return _make


@pytest.fixture
def upload_photo(curator):
    """Upload one photo through the API, as a curator would."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    def _upload(gallery_id: str) -> dict:
        photo = SimpleUploadedFile("upload.jpg", jpeg_bytes(64, 48), content_type="image/jpeg")
        response = curator.post(
            f"/api/galleries/{gallery_id}/photos", {"photos": [photo]}, format="multipart"
        )
        assert response.status_code == 201, response.content
        return response.json()["photos"][0]

    return _upload
