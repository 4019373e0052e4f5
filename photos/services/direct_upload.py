"""Direct-to-S3 uploads: API Gateway takes ~4.5 MB per request, camera JPEGs are often larger.

A curator asks for upload slots (``upload_slots_create``): presigned S3 POST forms for keys under
``uploads/{galleryId}/``, limited by S3 itself to PHOTO_MAX_BYTES. The browser posts each file straight
to S3, then asks for photos to be made from those keys (``photos_from_uploads``), which runs the very
same pipeline as a multipart upload (``photos_upload``). Each upload object is read from S3 once (one
GET, whose length is checked before the body is read); the original is then a server-side copy, not
a second transfer. Every upload object it was given is deleted afterwards, made into a photo or refused.
Upload objects nobody claims are removed with their gallery; an S3 lifecycle rule on ``uploads/``
(docs/deploy.md) removes stragglers.
"""

import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings

from core import storage
from core.errors import Rejected
from galleries.selectors import gallery_get
from photos import keys
from photos.prepare import IncomingPhoto, photo_rejected, size_check
from photos.services.upload import UploadResult, photos_upload

SLOT_SECONDS = 15 * 60


def upload_slots_create(*, gallery_id: str, content_types: list[str]) -> list[dict]:
    """One presigned POST form per file to upload, each for a fresh key of this gallery."""
    gallery_get(gallery_id=gallery_id)
    expires_at = datetime.now(UTC) + timedelta(seconds=SLOT_SECONDS)
    slots = []
    for content_type in content_types:
        key = keys.upload_key(gallery_id, uuid.uuid4().hex)
        form = storage.presigned_post(
            key, content_type=content_type, max_bytes=settings.PHOTO_MAX_BYTES, expires_in=SLOT_SECONDS
        )
        slots.append(
            {
                "uploadKey": key,
                "url": form["url"],
                "fields": form["fields"],
                "expiresAt": expires_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
                "maxBytes": settings.PHOTO_MAX_BYTES,
            }
        )
    return slots


def photos_from_uploads(*, gallery_id: str, uploads: list[dict]) -> UploadResult:
    """Make photos from uploaded objects (``uploadKey``, ``filename``, ``title``, ``description``,
    ``tags`` each); the objects are deleted afterwards, whatever became of them (``photos_upload``
    reads the gallery first: a missing one is a 404, and its upload objects go too)."""
    try:
        return photos_upload(gallery_id=gallery_id, files=[_incoming(upload) for upload in uploads])
    finally:
        storage.objects_delete(upload["uploadKey"] for upload in uploads)


def _incoming(upload: dict) -> IncomingPhoto:
    key = upload["uploadKey"]

    def read() -> bytes:
        opened = storage.object_open(key)
        if opened is None:
            raise photo_rejected("upload_missing", "Nothing was uploaded for this slot (or it expired).")
        try:
            size_check(opened.size)  # before a byte of the body is read
        except Rejected:
            opened.close()
            raise
        return opened.read()

    return IncomingPhoto(
        filename=upload.get("filename") or key.rsplit("/", 1)[-1],
        size=None,  # known once the object is opened; read() checks it before reading the body
        read=read,
        title=upload["title"],
        description=upload["description"],
        tags=tuple(upload["tags"]),
        upload_key=key,
    )
