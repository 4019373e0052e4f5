"""Photo-write intents: before the first object of a photo is written, a record says which objects the
write is about to make, so a crash, a hang or a failed rollback never leaves objects nobody can judge.

An intent is a ``photo-write`` record in the short-lived records table (``core.records``), keyed by the
gallery and the photo number the write reserved (numbers are never handed out twice, and an original's
or rendition's key carries its number, so whoever finds an object finds its intent). Its life:
- ``intent_open`` before the first object (status ``pending``);
- the photo's commit deletes it in the same transaction (``intent_close_in``): an intent that still
  exists therefore means the photo was never committed;
- a rollback that removed its objects deletes it (``intent_close``); one that could not marks it
  ``failed`` (``intent_failed``), and a writer that died leaves it ``pending``;
- the photos scan finishes the job for failed intents and pending ones older than ``STALE_AFTER``
  (longer than any request or Lambda invocation lives): it deletes the objects the intent names (never
  an original it only ``adopts``) and then the intent. Scans never adopt or sweep an object a live
  intent names.

Intents live ``LIFETIME`` (far longer than the scans' schedule), since an expired record is absent to
every reader and its objects would then look like anyone's.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core import records
from core.errors import Internal

KIND = "photo-write"
PENDING, FAILED = "pending", "failed"
LIFETIME = timedelta(days=7)
STALE_AFTER = records.WRITE_LIFETIME


def intent_id(gallery_id: str, number: int) -> str:
    return f"{gallery_id}/{number}"


@dataclass(frozen=True)
class Intent:
    record: records.ServiceRecord

    @property
    def gallery_id(self) -> str:
        return str(self.record.data["galleryId"])

    @property
    def objects(self) -> list[str]:
        """The keys this write makes (and a cleanup deletes)."""
        return list(self.record.data["objects"] or [])

    @property
    def adopts(self) -> str | None:
        """An original already in the bucket that this write adopts: protected, never deleted."""
        return self.record.data.as_dict().get("adopts")

    @property
    def names(self) -> set[str]:
        return {*self.objects, *([self.adopts] if self.adopts else [])}

    @property
    def claims(self) -> dict:
        """The records the write held (see ``intent_open``)."""
        return dict(self.record.data.as_dict().get("claims") or {})

    @property
    def finished(self) -> bool:
        """Failed, or pending so long that its writer is dead: the scan may clean it up."""
        started = datetime.fromisoformat(self.record.data["startedAt"])
        return self.record.status == FAILED or datetime.now(UTC) - started > STALE_AFTER


def intent_open(
    *,
    gallery_id: str,
    number: int,
    photo_id: str,
    objects: list[str],
    adopts: str | None = None,
    claims: dict | None = None,
) -> Intent:
    """Record the write before its first object; it names every key the write may put, and ``claims``
    the records the write holds (its bytes' claim: ``{"content": record key, "owner": ...}``), which a
    cleanup releases with it."""
    data = {
        "galleryId": gallery_id,
        "number": number,
        "photoId": photo_id,
        "objects": objects,
        "startedAt": datetime.now(UTC).isoformat(),
    }
    if adopts:
        data["adopts"] = adopts
    if claims:
        data["claims"] = claims
    record = records.record_take(
        KIND,
        intent_id(gallery_id, number),
        owner=uuid.uuid4().hex,
        status=PENDING,
        lifetime=LIFETIME,
        data=data,
        over_expired=False,
        listed=True,  # the photos scan enumerates intents
    )
    if record is None:  # numbers are reserved atomically: two writes never share one
        raise Internal(f"A write of photo number {number} of gallery {gallery_id} is on record already.")
    return Intent(record)


def intent_close_in(transaction, intent: Intent) -> None:
    """The commit: the intent goes in the same transaction as the photo item."""
    records.record_release_in(transaction, intent.record)


def intent_close(intent: Intent) -> None:
    """The write's objects are gone again (a rollback, or a scan's cleanup): nothing is left to judge."""
    records.record_release(intent.record)


def intent_failed(intent: Intent) -> None:
    """The rollback could not remove the objects: the scan removes them."""
    records.record_update(intent.record, status=FAILED, lifetime=LIFETIME, data=intent.record.data.as_dict())


def intent_of(gallery_id: str, number: int) -> Intent | None:
    """The live intent of a gallery's photo number, if a write of it is pending or failed."""
    record = records.record_get(KIND, intent_id(gallery_id, number))
    return None if record is None else Intent(record)


def intents_all(gallery_id: str | None = None) -> list[Intent]:
    """Every live intent (of one gallery, or all)."""
    found = (Intent(record) for record in records.records_of_kind(KIND))
    return [intent for intent in found if gallery_id is None or intent.gallery_id == gallery_id]
