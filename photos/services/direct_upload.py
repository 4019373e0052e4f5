"""Direct-to-S3 uploads: API Gateway takes ~4.5 MB per request, camera JPEGs are often larger.

A curator asks for upload slots (``upload_slots_create``): presigned S3 POST forms for keys under
``uploads/{galleryId}/``, limited by S3 itself to PHOTO_MAX_BYTES, each file optionally with its photo's
metadata (``filename``, ``title``, ``description``, ``tags``, ``altText``) and ``keepDuplicate``. Each
slot's metadata is kept in a record of kind ``upload-slot`` (``core.records``, keyed like the upload's
claim) for as long as an upload object may wait to become a photo. The browser posts each file straight
to S3. Two doors then make the photo, and either is enough:
- S3's ObjectCreated event (``photo_from_upload_event``, from ``scans.object_events``) makes it with the
  slot's metadata, so a client needs no second call. A slot without a record (made by an older release,
  or expired) is left to its completion, as before;
- the completion (``photos_from_uploads``, ``POST .../photos/from-uploads``) makes it, or answers the
  photo the event made. The metadata a completion sends wins over the slot's, field by field (it is the
  client's latest word); what it leaves out keeps the slot's value (a title nobody gave is the file
  name's, the completion's file name first). Sent after the event made the photo, it is applied through
  the photo's edit (``photos.services.edit``: the rules and tag entries of PATCH), once: the claim
  remembers what the upload last applied, so the same completion again changes nothing, even after a
  curator's edit. The photo answered for a duplicate (``duplicateOf``) belongs to an earlier upload
  and is never edited. ``keepDuplicate`` is the slots' for the event and the completion's own for it.
Both run the very same pipeline as a multipart upload (``photos_upload``). Each upload object is read
from S3 once (one GET, whose length is checked before the body is read); the original is then a
server-side copy, not a second transfer.

Making a photo of an upload is claimed once per ``uploadKey`` (an ``upload`` record): the first door
takes the claim with a conditional write, and the photo's commit makes it final in the same transaction
(status ``done`` with the photo id and the metadata applied). Any other door, concurrent or repeated,
answers the photo the first one made (or the same refusal), never a second photo. A door that finds the
claim still at work waits for it briefly (``BUSY_WAIT``, at most half of its time left, polling the
claim) when the holder is an event, so a completion sent while the event makes the photo answers that
photo; an event waits for any holder (no client would ask again for it, and a later delivery comes a
minute later). A completion does not wait for another completion: that is a client's own second
request, told 409 ``upload_busy`` (ask again) as before; nor for an event past the wait. An event still
meeting a holder is delivered again later. The upload object and its slot record are deleted only once
its photo is committed or its content was refused (a file that is not a photo: the claim keeps the
refusal, which later doors answer; no retry); after a storage failure the claim is released and the
object stays, so the advised retry (or the event's next delivery) works. Upload objects never made
into photos are removed by the photos scan after a day (and on AWS by the lifecycle rule on
``uploads/``, docs/deploy.md), and with their gallery.
"""

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

from core import deadline, records, storage
from core.errors import Conflict, DomainError, Rejected, as_domain_error, storage_errors
from galleries.selectors import gallery_get
from photos import keys
from photos.models import GalleryPhoto
from photos.prepare import IncomingPhoto, photo_rejected, size_check, title_from_filename
from photos.selectors import photo_get
from photos.services.edit import photo_edit
from photos.services.upload import UploadFailure, UploadResult, photos_upload

logger = logging.getLogger(__name__)

SLOT_SECONDS = 15 * 60
CLAIM_KIND = "upload"
CLAIMED, DONE, REFUSED = "claimed", "done", "refused"
# Longer than any request that completes uploads: a claim whose holder died is taken over after it.
CLAIM_LEASE = records.WRITE_LIFETIME
# How long a completed or refused upload answers a repeated completion with the first result.
RESULT_HOLD = timedelta(days=1)
SLOT_KIND = "upload-slot"
OPEN = "open"
# As long as an upload object may wait to become a photo: the form's 15 minutes, then the day after which
# the lifecycle rule on uploads/ and the photos scan remove it.
SLOT_LIFETIME = timedelta(seconds=SLOT_SECONDS) + timedelta(days=keys.UPLOAD_EXPIRY_DAYS)
# Who holds a claim: S3's object-created event, or a client's completion.
EVENT, COMPLETION = "event", "completion"
# An event makes a camera photo in a few seconds (one GET, one decode, the renditions, one commit): a
# door that meets its claim waits this long at most, polling the claim, before answering "busy".
BUSY_WAIT = timedelta(seconds=10)
_FIRST_PAUSE, _LONGEST_PAUSE = 0.1, 1.0
# The photo's metadata as the API names it, and as the photo's edit names it.
METADATA = {"title": "title", "description": "description", "tags": "tags", "altText": "alt_text"}


def upload_slots_create(*, gallery_id: str, files: list[dict], keep_duplicate: bool = False) -> list[dict]:
    """One presigned POST form per file to upload, each for a fresh key of this gallery; each file's
    ``contentType`` and, when given, its ``filename`` and metadata (kept in the slot's record for the
    event that makes the photo)."""
    gallery_get(gallery_id=gallery_id)
    expires_at = datetime.now(UTC) + timedelta(seconds=SLOT_SECONDS)
    slots = []
    for file in files:
        key = keys.upload_key(gallery_id, uuid.uuid4().hex)
        given = {field: file[field] for field in ("filename", *METADATA) if field in file}
        # Written before the form is handed out: no object can reach the key before its record exists.
        records.record_take(
            SLOT_KIND,
            _claim_id(key),
            owner=uuid.uuid4().hex,
            status=OPEN,
            lifetime=SLOT_LIFETIME,
            data={
                "galleryId": gallery_id,
                "uploadKey": key,
                "keepDuplicate": keep_duplicate,
                "metadata": given,
            },
        )
        form = storage.presigned_post(
            key, content_type=file["contentType"], max_bytes=settings.PHOTO_MAX_BYTES, expires_in=SLOT_SECONDS
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
    """Make photos from uploaded objects, or answer the photos made of them already: each upload names
    its ``uploadKey`` and carries the metadata the completion sent (``filename``, ``title``,
    ``description``, ``tags``, ``altText``: only those sent); see the module's docstring."""
    result, _ = _uploads_make(gallery_id, uploads, keep_duplicate=keep_duplicate, by=COMPLETION)
    return result


@dataclass(frozen=True)
class UploadEvent:
    """What an object-created event came to for an upload: its photo (``made`` by this event, or by an
    earlier door; ``duplicate`` when a photo of the gallery has its bytes), an ``error`` (a refusal, or
    a failure a later attempt may get past: ``Unavailable``, ``Conflict``, ``Internal``), or neither
    (no slot record: the completion makes the photo)."""

    photo_id: str | None = None
    made: bool = False
    duplicate: bool = False
    error: DomainError | None = None


def photo_from_upload_event(*, gallery_id: str, upload_key: str) -> UploadEvent:
    """An upload object arrived: make its photo with its slot's metadata, exactly as a completion would
    (the same claim: one photo whatever the mix of events and completions); see the module's docstring.
    A storage failure before the photo is made raises, with the claim released and the object kept."""
    slot = records.record_get(SLOT_KIND, _claim_id(upload_key))
    if slot is None:  # a slot of an older release, expired, or settled already: the claim tells
        return _settled_answer(upload_key)
    stored = slot.data.as_dict()
    result, made = _uploads_make(
        gallery_id,
        [{"uploadKey": upload_key}],
        keep_duplicate=bool(stored.get("keepDuplicate")),
        by=EVENT,
        slots={upload_key: stored.get("metadata") or {}},
    )
    if result.failures:
        return UploadEvent(error=result.failures[0].error)
    [photo] = result.photos
    duplicate = getattr(photo, "duplicate_of", None) is not None
    return UploadEvent(photo_id=photo.photo_id, made=bool(made) and not duplicate, duplicate=duplicate)


def _settled_answer(upload_key: str) -> UploadEvent:
    record = records.record_get(CLAIM_KIND, _claim_id(upload_key))
    if record is None or record.status not in (DONE, REFUSED):
        return UploadEvent()
    stored = record.data.as_dict()
    if record.status == REFUSED:
        return UploadEvent(error=photo_rejected(stored.get("code", "rejected"), stored.get("message")))
    return UploadEvent(photo_id=stored.get("photoId"), duplicate=bool(stored.get("duplicate")))


@dataclass(frozen=True)
class _Settled:
    """What an earlier door made of an upload: its photo or its refusal (``claim``: the final claim)."""

    outcome: GalleryPhoto | DomainError
    claim: records.ServiceRecord | None = None


def _uploads_make(
    gallery_id: str, uploads: list[dict], *, keep_duplicate: bool, by: str, slots: dict | None = None
) -> tuple[UploadResult, set[int]]:
    """The photos of these uploads (made here, or earlier by another door), and the indexes of those
    this call made. ``slots``: the slots' metadata by upload key when the caller read it already."""
    gallery_get(gallery_id=gallery_id)
    owner = uuid.uuid4().hex
    waits_until = _waiting_ends()
    claims: dict[int, records.ServiceRecord] = {}
    earlier: dict[int, _Settled | DomainError] = {}
    try:
        for index, upload in enumerate(uploads):
            claim = _claim_take(gallery_id, upload["uploadKey"], owner, by=by, waits_until=waits_until)
            if isinstance(claim, records.ServiceRecord):
                claims[index] = claim
            else:
                earlier[index] = claim
        order = sorted(claims)
        metadata = {
            index: _metadata(_slot_metadata(uploads[index]["uploadKey"], slots), uploads[index])
            for index in order
        }
        files = [_incoming(uploads[index], metadata[index]) for index in order]
        final = {uploads[index]["uploadKey"]: _claim_final(claims[index], metadata[index]) for index in order}
        made = (
            photos_upload(
                gallery_id=gallery_id,
                files=files,
                also_commit=lambda incoming: final[incoming.upload_key],
                keep_duplicate=keep_duplicate,
            )
            if files
            else UploadResult()
        )
    except BaseException:
        # Storage failed before any photo was made (or the gallery went): the claims go, the upload
        # objects stay, so the retry the answer advises (or the event's next delivery) can take them.
        for claim in claims.values():
            _quietly_released(claim)
        raise
    outcomes: dict[int, GalleryPhoto | DomainError] = {}
    photos = iter(made.photos)
    failed = {failure.index: failure.error for failure in made.failures}
    for position, index in enumerate(order):
        outcomes[index] = failed[position] if position in failed else next(photos)
    _settle(uploads, claims, outcomes)
    for index, settled in earlier.items():
        if isinstance(settled, _Settled):
            # An event sends nothing of its own; a completion's metadata goes to the photo made earlier.
            outcome = settled.outcome
            outcomes[index] = _sent_applied(settled, uploads[index]) if by == COMPLETION else outcome
        else:
            outcomes[index] = settled
    result = UploadResult()
    for index, upload in enumerate(uploads):
        outcome = outcomes[index]
        if isinstance(outcome, DomainError):
            result.failures.append(UploadFailure(index, upload.get("filename") or "", outcome))
        else:
            result.photos.append(outcome)
    return result, set(claims)


def _quietly_released(claim: records.ServiceRecord) -> None:
    try:
        records.record_release(claim)
    except Exception:
        logger.exception("could not release the claim on %s; it expires by itself", claim.record_key)


def _claim_id(upload_key: str) -> str:
    return hashlib.sha256(upload_key.encode()).hexdigest()[:40]


def _waiting_ends() -> float:
    """When a door stops waiting for claims held by others: ``BUSY_WAIT`` from now, and no later than
    half of the request's (or event's) time left, so the work that may follow still fits."""
    budget = BUSY_WAIT.total_seconds()
    left = deadline.remaining()
    if left is not None:
        budget = min(budget, max(0.0, left / 2))
    return time.monotonic() + budget


def _claim_take(gallery_id: str, upload_key: str, owner: str, *, by: str, waits_until: float):
    """This door's claim on the upload, or what an earlier door made of it (``_Settled``), or a
    Conflict while another door is still at work after the wait (a completion waits only for an event,
    an event for any door)."""
    data = {"galleryId": gallery_id, "uploadKey": upload_key, "by": by}
    busy = Conflict(
        "This upload is being made into a photo by another request; ask again in a moment.",
        code="upload_busy",
        details={"uploadKey": upload_key},
    )
    pause, released = _FIRST_PAUSE, 0
    while True:
        claim = records.record_take(
            CLAIM_KIND, _claim_id(upload_key), owner=owner, status=CLAIMED, lifetime=_lease(by), data=data
        )
        if claim is not None:
            return claim
        current = records.record_get(CLAIM_KIND, _claim_id(upload_key))
        if current is None:  # released or expired between the two calls: take it again
            released += 1
            if released > _RETAKES:
                return busy
            continue
        if current.status in (DONE, REFUSED):
            return _settled(current)
        waits = by == EVENT or current.data.as_dict().get("by") == EVENT
        if not waits or time.monotonic() + pause > waits_until:
            return busy
        time.sleep(pause)
        pause = min(2 * pause, _LONGEST_PAUSE)


_RETAKES = 3
# After an event's deadline, what its Lambda invocation may still live (its margin and the timeout itself).
_EVENT_LEASE_MARGIN = timedelta(seconds=30)


def _lease(by: str) -> timedelta:
    """How long a claim holds before another door may take it over: an event's as long as its invocation
    may live (a crashed or timed-out invocation's claim is free for Lambda's retry a minute or two later),
    a completion's ``CLAIM_LEASE``."""
    left = deadline.remaining() if by == EVENT else None
    if left is None:
        return CLAIM_LEASE
    return min(CLAIM_LEASE, timedelta(seconds=left) + _EVENT_LEASE_MARGIN)


def _settled(record: records.ServiceRecord) -> _Settled:
    stored = record.data.as_dict()
    if record.status == REFUSED:
        return _Settled(photo_rejected(stored.get("code", "rejected"), stored.get("message")))
    try:
        photo = photo_get(gallery_id=stored["galleryId"], photo_id=stored["photoId"])
    except DomainError as gone:  # made, then deleted since: the first result still stands
        return _Settled(gone)
    if stored.get("duplicate"):
        photo.duplicate_of = photo.photo_id  # type: ignore[attr-defined]  # answered as the first time
    return _Settled(photo, record)


def _claim_final(claim: records.ServiceRecord, metadata: dict):
    """The claim's last word, written by the photo's own commit: done, with the photo's id and the
    metadata it was made with (what a later completion's metadata is compared with)."""

    def add(transaction, photo) -> None:
        data = {**claim.data.as_dict(), "photoId": photo.photo_id, "metadata": metadata}
        records.record_update_in(transaction, claim, status=DONE, lifetime=RESULT_HOLD, data=data)

    return add


def _slot_metadata(upload_key: str, known: dict | None) -> dict:
    """What the slot's request said of the photo (only the fields it gave), {} when it has no record."""
    if known is not None and upload_key in known:
        return known[upload_key]
    slot = records.record_get(SLOT_KIND, _claim_id(upload_key))
    return (slot.data.as_dict().get("metadata") or {}) if slot is not None else {}


def _metadata(base: dict, sent: dict) -> dict:
    """The photo's metadata: what a completion sent over ``base`` (the slot's, or what the upload last
    applied), field by field; a title none gave is the file name's (the completion's, else the base's).
    ``titleGiven`` remembers which, so a later file name changes only a title no one gave."""
    merged = {**base, **{field: sent[field] for field in ("filename", *METADATA) if field in sent}}
    return {
        "filename": merged.get("filename", ""),
        "title": merged["title"] if "title" in merged else title_from_filename(merged.get("filename")),
        "titleGiven": "title" in merged,
        "description": merged.get("description", ""),
        "tags": list(merged.get("tags", [])),
        "altText": merged.get("altText", ""),
    }


def _sent_applied(settled: _Settled, sent: dict) -> GalleryPhoto | DomainError:
    """An earlier door's photo, with the metadata this completion sent applied to it when it differs
    from what the upload last applied (the completion wins), through the photo's edit; once: the claim
    then remembers it. A duplicate's answer, or a claim of an older release, is answered as it is."""
    photo, claim = settled.outcome, settled.claim
    if not isinstance(photo, GalleryPhoto) or claim is None:
        return photo
    stored = claim.data.as_dict()
    applied = stored.get("metadata")
    if not applied:
        return photo
    base = {field: value for field, value in applied.items() if field != "title" or applied.get("titleGiven")}
    wanted = _metadata(base, sent)
    changes = {METADATA[field]: wanted[field] for field in METADATA if wanted[field] != applied.get(field)}
    if not changes:
        return photo
    try:
        edited = photo_edit(gallery_id=photo.gallery_id, photo_id=photo.photo_id, **changes)
        records.record_update(claim, status=DONE, lifetime=RESULT_HOLD, data={**stored, "metadata": wanted})
    except DomainError as refused:  # deleted since, or edited by others all the while
        return refused
    except storage_errors() as error:  # the photo stands; the same completion again applies it
        logger.exception("could not apply a completion's metadata to photo %s", photo.photo_id)
        return as_domain_error(error)
    return edited


def _settle(uploads: list[dict], claims: dict, outcomes: dict) -> None:
    """After the batch: upload objects (and slot records) of committed photos and of refused content
    go; a refusal is remembered; a storage failure releases the claim and keeps the object for the
    retry."""
    done_with: list[str] = []
    for index, claim in claims.items():
        outcome, key = outcomes[index], uploads[index]["uploadKey"]
        try:
            if not isinstance(outcome, DomainError):
                if getattr(outcome, "duplicate_of", None):  # no commit made the claim final: do it here
                    data = {**claim.data.as_dict(), "photoId": outcome.photo_id, "duplicate": True}
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
        for key in done_with:  # the claim answers from now on; the record would expire anyway
            try:
                records.record_drop(SLOT_KIND, _claim_id(key))
            except Exception:
                logger.exception("could not delete the slot record of %s; it expires by itself", key)


def _incoming(upload: dict, metadata: dict) -> IncomingPhoto:
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
        filename=metadata["filename"] or key.rsplit("/", 1)[-1],
        size=None,  # known once the object is opened; read() checks it before reading the body
        read=read,
        title=metadata["title"],
        description=metadata["description"],
        tags=tuple(metadata["tags"]),
        upload_key=key,
        alt_text=metadata["altText"],
    )
