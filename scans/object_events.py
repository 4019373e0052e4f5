"""An object appeared in the bucket (an S3 ObjectCreated event): make its photo exactly once.

Delivery is at least once and in any order, and the same object may also be reached by an upload's own
request, a direct-upload completion or a scan. Every one of those doors goes through the same records,
so any mix of them ends in exactly one photo:
- ``galleries/{id}/{name}``: the scan's adoption (``scans.photos_scan.original_adopt``): nothing while a
  photo write's intent names the object (our own upload, in flight), nothing when a photo holds it, one
  adopter through the original's claim, and no second photo of the same bytes (``photos.content``);
- ``uploads/{id}/{uploadId}``: made into a photo with the metadata its slot's request gave, through the
  same claim as the browser's completion (``photos.services.direct_upload.photo_from_upload_event``), so
  a direct upload needs no second call; an event after the completion answers the photo it made. A slot
  of an older release (no slot record) is left to its completion, which carries the metadata.

A failure that a later attempt may get past (S3 or DynamoDB failed or throttled, the decode budget busy)
raises ``TryLater``, after the event's other objects are done: Lambda then runs the event again (twice,
then it goes to the function's failure destination, docs/deploy.md), and locally the courier of
``devtools.local_services.s3_events`` does the same. A file that can never be a photo is not retried: the
outcome says why, and the photos scan lists it among its failures.
"""

import logging
import uuid
from urllib.parse import unquote_plus

from core.errors import Conflict, DomainError, Internal, Unavailable, storage_errors
from galleries.selectors import gallery_get
from photos import keys
from photos.services.direct_upload import UploadEvent, photo_from_upload_event
from scans.photos_scan import Left, TryAgain, listed_object, original_adopt

logger = logging.getLogger(__name__)

UPLOAD_KEY_PARTS = 3  # uploads/{galleryId}/{uploadId}


class TryLater(Exception):
    """Objects of an event that a later attempt may make into photos (``failures``: key and reason each);
    raised so that the event is delivered again."""

    def __init__(self, failures: list[dict]):
        super().__init__("; ".join(f"{failure['key']}: {failure['reason']}" for failure in failures))
        self.failures = failures


def object_created(key: str) -> str:
    """Make the photo of one new object; a word saying what became of it (for the logs and tests).
    Raises ``TryLater`` for a failure a later attempt may get past."""
    if key.startswith(keys.UPLOADS_ROOT):
        return _upload_completed(key)
    parsed = keys.parse_original_key(key)
    if parsed is None:
        return "ignored"  # renditions, folder markers, keys that cannot hold an original
    gallery_id, _ = parsed
    try:
        gallery_get(gallery_id=gallery_id)
    except DomainError:
        return "no-gallery"  # the photos scan reports prefixes with no gallery (or creates one)
    listed = listed_object(key)
    if listed is None:
        return "gone"
    outcome = original_adopt(gallery_id, listed, owner=uuid.uuid4().hex)
    if outcome is None:
        return "exists"
    if isinstance(outcome, Left):
        return f"left: {outcome.reason}"
    if isinstance(outcome, TryAgain):
        _, reason = outcome
        raise TryLater([{"key": key, "reason": reason}])
    if isinstance(outcome, tuple):
        _, reason = outcome
        return f"refused: {reason}"
    return outcome


def _upload_completed(key: str) -> str:
    parts = key.split("/")
    if len(parts) != UPLOAD_KEY_PARTS or not keys.is_upload_key_of(key, parts[1]):
        return "ignored"
    gallery_id = parts[1]
    try:
        answer = photo_from_upload_event(gallery_id=gallery_id, upload_key=key)
    except storage_errors() as error:  # the claim was released and the object kept: a retry may do it
        logger.exception("making the photo of %s failed", key)
        raise TryLater([{"key": key, "reason": f"Storage failed: {error}"}]) from error
    except DomainError as error:
        answer = UploadEvent(error=error)
    if answer.error is not None:
        if isinstance(answer.error, RETRIED):
            raise TryLater([{"key": key, "reason": answer.error.message}])
        if answer.error.code == "upload_missing":
            return "gone"
        return f"refused: {answer.error.message}"
    if answer.photo_id is None:
        return "left to its completion"
    if answer.duplicate:
        return "duplicates"
    return "created" if answer.made else f"photo {answer.photo_id}"


# What a later delivery may get past: storage throttled or failing, the decode budget busy, another door
# still at work on the same upload.
RETRIED = (Unavailable, Internal, Conflict)


def created_keys(event) -> list[str]:
    """The object keys of an S3 event notification (URL-encoded in the event, decoded here)."""
    records = event.get("Records", []) if isinstance(event, dict) else []
    found = []
    for record in records:
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        key = record.get("s3", {}).get("object", {}).get("key")
        if isinstance(key, str):
            found.append(unquote_plus(key))
    return found
