"""The same photo twice is noticed: each original's SHA-256 is claimed per gallery.

Before a photo's first object is written its original's hash is claimed (a ``content`` record keyed by
gallery and hash, ``core.records``) with a conditional write, so two identical uploads in flight cannot
both pass; the photo's commit makes the claim final (status ``done`` with the photo id) in the same
transaction, and the hash is stored on the item (``originalSHA256``). An upload, a direct-upload
completion or a scan adoption whose bytes match a photo already in the gallery answers that photo
(``DuplicatePhoto``), with no second item, unless the curator asks to keep the duplicate. A blind retry
after a lost answer therefore never doubles a photo, with or without an ``Idempotency-Key``.

A final claim lives as long as its photo (``HOLD``, far longer than any photo's life in practice; a
photo's delete drops it); a pending one lives ``LEASE``, so a writer that died frees the hash.
"""

import uuid
from datetime import timedelta

from core import records
from core.errors import Conflict, DomainError

KIND = "content"
PENDING, DONE = "pending", "done"
LEASE = records.WRITE_LIFETIME
HOLD = timedelta(days=3650)


class DuplicatePhoto(DomainError):
    """The gallery has a photo with these very bytes: that photo is the answer."""

    code = "duplicate"
    default_message = "This gallery already has a photo with the same bytes."

    def __init__(self, photo_id: str):
        super().__init__(details={"duplicateOf": photo_id})
        self.photo_id = photo_id


def content_id(gallery_id: str, sha256: str) -> str:
    return f"{gallery_id}/{sha256}"


def content_claim(*, gallery_id: str, sha256: str, photo_exists) -> records.ServiceRecord:
    """Claim the bytes for a new photo of the gallery; DuplicatePhoto when a photo has them, Conflict
    while an identical upload is being written. ``photo_exists(photo_id)`` says whether a claimed
    photo still exists (its delete may have failed to drop the claim)."""
    record_id = content_id(gallery_id, sha256)
    data = {"galleryId": gallery_id, "sha256": sha256}

    def take(replacing=None):
        return records.record_take(
            KIND,
            record_id,
            owner=uuid.uuid4().hex,
            status=PENDING,
            lifetime=LEASE,
            data=data,
            replacing=replacing,
        )

    claim = take()
    if claim is not None:
        return claim
    current = records.record_get(KIND, record_id)
    if current is None:  # released or expired meanwhile
        claim = take()
        if claim is not None:
            return claim
        current = records.record_get(KIND, record_id)
    if current is not None and current.status == DONE:
        photo_id = current.data.as_dict().get("photoId", "")
        if photo_exists(photo_id):
            raise DuplicatePhoto(photo_id)
        claim = take(replacing=current)  # the photo is gone: its bytes may come again
        if claim is not None:
            return claim
    raise Conflict(
        "An identical photo is being uploaded to this gallery right now; ask again in a moment.",
        code="duplicate_in_flight",
    )


def content_final_in(transaction, claim: records.ServiceRecord, *, photo_id: str) -> None:
    """The commit: the claim names its photo, for as long as the photo lives."""
    data = {**claim.data.as_dict(), "photoId": photo_id}
    records.record_update_in(transaction, claim, status=DONE, lifetime=HOLD, data=data)


def content_release(claim: records.ServiceRecord) -> None:
    """The write failed: the bytes are free again."""
    records.record_release(claim)


def content_held(claim: records.ServiceRecord) -> dict:
    """What a photo-write intent keeps of its bytes' claim, so a cleanup can release it."""
    return {"content": claim.record_key, "owner": claim.owner}


def content_release_held(held: dict) -> None:
    """Release a claim a dead write held (``content_held``), if that write still holds it."""
    if held.get("content") and held.get("owner"):
        records.record_release(records.ServiceRecord(held["content"], owner=held["owner"]))


def content_drop(*, gallery_id: str, sha256: str, photo_id: str) -> None:
    """The photo is deleted: its bytes may be uploaded again, unless the claim names another photo (a
    duplicate kept on purpose shares the bytes but not the claim)."""
    records.record_drop_if(KIND, content_id(gallery_id, sha256), data_key="photoId", value=photo_id)
