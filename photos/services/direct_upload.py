"""Direct-to-S3 uploads: API Gateway takes ~4.5 MB per request, camera JPEGs are often larger.

A curator asks for upload slots (``upload_slots_create``): presigned S3 POST forms for keys under
``uploads/{galleryId}/``, limited by S3 itself to PHOTO_MAX_BYTES. The browser posts each file straight
to S3, then asks for photos to be made from those keys (``photos_from_uploads``), which runs the very
same pipeline as a multipart upload (``photos_upload``). Each upload object is read from S3 once (one
GET, whose length is checked before the body is read); the original is then a server-side copy, not
a second transfer.

Completing is claimed once per ``uploadKey`` (an ``upload`` record, ``core.records``): the first
completion takes the claim with a conditional write, and the photo's commit makes it final in the same
transaction (status ``done`` with the photo id). A second completion of the same key, concurrent or a
retry, answers the photo the first one made (or 409 while the first is still at work), never a second
photo. The upload object is deleted only once its photo is committed or its content was refused; after a
storage failure the claim is released and the object stays, so the advised retry works. Upload objects
never completed are removed by the photos scan after a day (and on AWS by the lifecycle rule on
``uploads/``, docs/deploy.md), and with their gallery.
"""

import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings

from core import records, storage
from core.errors import Conflict, DomainError, Rejected
from galleries.selectors import gallery_get
from photos import keys
from photos.models import GalleryPhoto
from photos.prepare import IncomingPhoto, photo_rejected, size_check
from photos.selectors import photo_get
from photos.services.upload import UploadFailure, UploadResult, photos_upload

logger = logging.getLogger(__name__)

SLOT_SECONDS = 15 * 60
CLAIM_KIND = "upload"
CLAIMED, DONE, REFUSED = "claimed", "done", "refused"
# Longer than any request that completes uploads: a claim whose holder died is taken over after it.
CLAIM_LEASE = records.WRITE_LIFETIME
# How long a completed or refused upload answers a repeated completion with the first result.
RESULT_HOLD = timedelta(days=1)


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


def photos_from_uploads(
    *, gallery_id: str, uploads: list[dict], keep_duplicate: bool = False
) -> UploadResult:
    """Make photos from uploaded objects (``uploadKey``, ``filename``, ``title``, ``description``,
    ``tags`` each), each upload claimed once; see the module's docstring."""
    gallery_get(gallery_id=gallery_id)
    owner = uuid.uuid4().hex
    claims: dict[int, records.ServiceRecord] = {}
    earlier: dict[int, GalleryPhoto | DomainError] = {}
    try:
        for index, upload in enumerate(uploads):
            claim = _claim_take(gallery_id, upload["uploadKey"], owner)
            if isinstance(claim, records.ServiceRecord):
                claims[index] = claim
            else:
                earlier[index] = claim
        order = sorted(claims)
        files = [_incoming(uploads[index]) for index in order]
        by_key = {uploads[index]["uploadKey"]: claims[index] for index in order}
        made = (
            photos_upload(
                gallery_id=gallery_id,
                files=files,
                also_commit=lambda incoming: _claim_final(by_key[incoming.upload_key]),
                keep_duplicate=keep_duplicate,
            )
            if files
            else UploadResult()
        )
    except BaseException:
        # Storage failed before any photo was made (or the gallery went): the claims go, the upload
        # objects stay, so the retry the answer advises can take them again.
        for claim in claims.values():
            _quietly_released(claim)
        raise
    outcomes: dict[int, GalleryPhoto | DomainError] = dict(earlier)
    photos = iter(made.photos)
    failed = {failure.index: failure.error for failure in made.failures}
    for position, index in enumerate(order):
        outcomes[index] = failed[position] if position in failed else next(photos)
    _settle(uploads, claims, outcomes)
    result = UploadResult()
    for index, upload in enumerate(uploads):
        outcome = outcomes[index]
        if isinstance(outcome, DomainError):
            result.failures.append(UploadFailure(index, upload.get("filename") or "", outcome))
        else:
            result.photos.append(outcome)
    return result


def _quietly_released(claim: records.ServiceRecord) -> None:
    try:
        records.record_release(claim)
    except Exception:
        logger.exception("could not release the claim on %s; it expires by itself", claim.record_key)


def upload_result(*, upload_key: str) -> str | None:
    """The id of the photo a completion made of this upload, if one did (for an event that arrives
    after the completion, or twice)."""
    record = records.record_get(CLAIM_KIND, _claim_id(upload_key))
    if record is None or record.status != DONE:
        return None
    return record.data.as_dict().get("photoId")


def _claim_id(upload_key: str) -> str:
    return hashlib.sha256(upload_key.encode()).hexdigest()[:40]


def _claim_take(gallery_id: str, upload_key: str, owner: str):
    """This request's claim on the upload, or what an earlier completion made of it (its photo, its
    refusal, or a Conflict while it is still at work)."""
    data = {"galleryId": gallery_id, "uploadKey": upload_key}

    def take():
        return records.record_take(
            CLAIM_KIND, _claim_id(upload_key), owner=owner, status=CLAIMED, lifetime=CLAIM_LEASE, data=data
        )

    claim = take()
    if claim is not None:
        return claim
    current = records.record_get(CLAIM_KIND, _claim_id(upload_key))
    if current is None:  # released or expired meanwhile: one more try
        return take() or Conflict(
            "This upload is being made into a photo by another request.", code="upload_busy"
        )
    stored = current.data.as_dict()
    if current.status == DONE:
        try:
            return photo_get(gallery_id=stored["galleryId"], photo_id=stored["photoId"])
        except DomainError as gone:  # made, then deleted since: the first result still stands
            return gone
    if current.status == REFUSED:
        return Rejected(stored.get("message"), code=stored.get("code", "rejected"))
    return Conflict(
        "This upload is being made into a photo by another request; ask again in a moment.",
        code="upload_busy",
        details={"uploadKey": upload_key},
    )


def _claim_final(claim: records.ServiceRecord):
    """The claim's last word, written by the photo's own commit: done, with the photo's id."""

    def add(transaction, photo) -> None:
        data = {**claim.data.as_dict(), "photoId": photo.photo_id}
        records.record_update_in(transaction, claim, status=DONE, lifetime=RESULT_HOLD, data=data)

    return add


def _settle(uploads: list[dict], claims: dict, outcomes: dict) -> None:
    """After the batch: upload objects of committed photos and of refused content go; a refusal is
    remembered; a storage failure releases the claim and keeps the object for the retry."""
    done_with: list[str] = []
    for index, claim in claims.items():
        outcome, key = outcomes[index], uploads[index]["uploadKey"]
        try:
            if not isinstance(outcome, DomainError):
                if getattr(outcome, "duplicate_of", None):  # no commit made the claim final: do it here
                    data = {**claim.data.as_dict(), "photoId": outcome.photo_id}
                    records.record_update(claim, status=DONE, lifetime=RESULT_HOLD, data=data)
                done_with.append(key)
            elif isinstance(outcome, Rejected) and outcome.code != "upload_missing":
                data = {**claim.data.as_dict(), "code": outcome.code, "message": outcome.message}
                records.record_update(claim, status=REFUSED, lifetime=RESULT_HOLD, data=data)
                done_with.append(key)
            else:
                records.record_release(claim)
        except Exception:
            # The claim expires by itself after its lease; the object stays for a retry.
            logger.exception("could not settle the claim on %s", key)
    if done_with:
        try:
            storage.objects_delete(done_with)
        except Exception:
            logger.exception("could not delete completed uploads %s; the photos scan will", done_with)


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
        alt_text=upload.get("altText", ""),
    )
