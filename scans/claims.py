"""Claims on originals: two photos-scan runs never adopt the same original twice.

Before adopting an original a run takes a claim, a ``scan-claim`` record in the short-lived records
table (``core.records``) keyed by a hash of the original's key. Only one run's conditional write wins.
While adopting, the claim lasts ``CLAIM_LEASE`` (a run that dies holding it is taken over after that).
Once the photo exists the claim says so for ``ADOPTED_HOLD``, longer than any run's listing can be
stale: a run that listed the original before the photo existed finds the claim and skips it. After
that, the photo item itself (its ``s3Key``, in the run's index of the gallery) is the answer.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from core import records
from photos.selectors import photo_exists, photo_with_key_exists

KIND = "scan-claim"
CLAIM_LEASE = records.WRITE_LIFETIME
ADOPTED_HOLD = timedelta(days=1)
ADOPTING, ADOPTED, DUPLICATE = "adopting", "adopted", "duplicate"


def claim_id_for(original_key: str) -> str:
    return hashlib.sha256(original_key.encode()).hexdigest()[:40]


def new_owner() -> str:
    """A run's token: the owner of the claims it takes."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Taken:
    """Another run holds the claim on an original no photo holds yet: why this run leaves it."""

    reason: str


def claim_take(*, gallery_id: str, original_key: str, owner: str) -> records.ServiceRecord | Taken | None:
    """The claim, if this run may adopt the original; None when a photo holds it already (adopted);
    ``Taken`` when another run is adopting it, or found it a duplicate lately."""
    claim_id = claim_id_for(original_key)
    data = {"galleryId": gallery_id, "s3Key": original_key}

    def take(replacing=None):
        return records.record_take(
            KIND,
            claim_id,
            owner=owner,
            status=ADOPTING,
            lifetime=CLAIM_LEASE,
            data=data,
            replacing=replacing,
            over_expired=False,  # an expired claim is judged below: its run may have made the photo
        )

    claim = take()  # the common case, one conditional write: nobody ever claimed this original
    if claim is not None:
        return claim
    current = records.record_get(KIND, claim_id, include_expired=True)
    if current is None:
        return take()  # released meanwhile: try once more
    photo_id = current.data.as_dict().get("photoId") if current.data else None
    if current.status == ADOPTED and photo_id:
        if photo_exists(gallery_id=gallery_id, photo_id=photo_id):
            return None
        # The adopted photo was deleted (e.g. through the API) and the file synced again.
        return take(replacing=current)
    if not current.expired:
        if current.status == DUPLICATE:
            duplicate_of = current.data.as_dict().get("duplicateOf") if current.data else None
            return Taken(f"it has the bytes of photo {duplicate_of} of the gallery")
        return Taken("another scan or event is adopting it right now")
    # A run died holding the claim; it may have committed the photo before dying.
    if photo_with_key_exists(gallery_id=gallery_id, original_key=original_key):
        return None
    return take(replacing=current)


def claim_adopted(claim: records.ServiceRecord, *, photo_id: str) -> None:
    """The photo exists: the claim now says which, for ``ADOPTED_HOLD``."""
    data = {**(claim.data.as_dict() if claim.data else {}), "photoId": photo_id}
    records.record_update(claim, status=ADOPTED, lifetime=ADOPTED_HOLD, data=data)


def claim_duplicate(claim: records.ServiceRecord, *, photo_id: str) -> None:
    """The original has the bytes of a photo of the gallery: runs skip it for ``ADOPTED_HOLD`` instead of
    reading and decoding it again (then it is judged again, in case that photo was deleted)."""
    data = {**(claim.data.as_dict() if claim.data else {}), "duplicateOf": photo_id}
    records.record_update(claim, status=DUPLICATE, lifetime=ADOPTED_HOLD, data=data)


def claim_release(claim: records.ServiceRecord) -> None:
    """Give the claim up (the adoption failed); another run may try later."""
    records.record_release(claim)


def claim_drop(*, original_key: str) -> None:
    """The original and its photo are gone: nothing is left to claim."""
    records.record_drop(KIND, claim_id_for(original_key))
