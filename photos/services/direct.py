"""Direct-to-S3 uploads: API Gateway takes ~4.5 MB per request, camera JPEGs are often larger.

A curator asks for upload slots (``upload_slots_create``): presigned S3 POST forms for keys under
``uploads/{galleryId}/``, limited by S3 itself to PHOTO_MAX_BYTES. The browser posts each file straight
to S3, then asks for photos to be made from those keys (``photos_from_uploads``), which runs the very
same pipeline as a multipart upload (``photos_upload``) reading the bytes from S3 instead of the
request, and deletes every upload object it was given, made into a photo or refused. Upload objects
nobody claims are removed with their gallery; an S3 lifecycle rule on ``uploads/`` (docs/deploy.md)
removes stragglers.
"""

import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings

from galleries.selectors import gallery_get
from gallery_project.aws import s3_client
from photos import keys
from photos.objects import objects_delete
from photos.services import IncomingPhoto, PhotoRejected, UploadResult, photos_upload

SLOT_SECONDS = 15 * 60


def upload_slots_create(*, gallery_id: str, content_types: list[str]) -> list[dict]:
    """One presigned POST form per file to upload, each for a fresh key of this gallery."""
    gallery_get(gallery_id=gallery_id)
    expires_at = datetime.now(UTC) + timedelta(seconds=SLOT_SECONDS)
    slots = []
    for content_type in content_types:
        key = keys.upload_key(gallery_id, uuid.uuid4().hex)
        form = s3_client().generate_presigned_post(
            Bucket=settings.BUCKET_NAME,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, settings.PHOTO_MAX_BYTES],
            ],
            ExpiresIn=SLOT_SECONDS,
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
    ``tags`` each); the objects are deleted afterwards, whatever became of them."""
    gallery_get(gallery_id=gallery_id)
    incoming = [_incoming(gallery_id, upload) for upload in uploads]
    try:
        return photos_upload(gallery_id=gallery_id, files=incoming)
    finally:
        objects_delete(upload["uploadKey"] for upload in uploads)


def _incoming(gallery_id: str, upload: dict) -> IncomingPhoto:
    key = upload["uploadKey"]
    size = _size_of(key)

    def read() -> bytes:
        if size is None:
            raise PhotoRejected("upload_missing", "Nothing was uploaded for this slot (or it expired).")
        return s3_client().get_object(Bucket=settings.BUCKET_NAME, Key=key)["Body"].read()

    return IncomingPhoto(
        filename=upload.get("filename") or key.rsplit("/", 1)[-1],
        size=size,
        read=read,
        title=upload["title"],
        description=upload["description"],
        tags=tuple(upload["tags"]),
    )


def _size_of(key: str) -> int | None:
    from botocore.exceptions import ClientError

    try:
        return s3_client().head_object(Bucket=settings.BUCKET_NAME, Key=key)["ContentLength"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
