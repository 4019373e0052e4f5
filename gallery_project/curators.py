"""Curator keys: create them (shown once), store only their SHA-256, recognise, list and revoke them.

Each key has a label (who or what it is for: required), its creation time, when it was last used
(updated at most once an hour per key, not on every request) and, once revoked, when. A revoked
key stops working at once, in scripts and in its browser sessions (every request of a session reads
its key again: ``gallery_project.auth``), and stays listed.
"""

import hashlib
import logging
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.clock import now_iso
from core.conditional import applied
from core.errors import Rejected
from gallery_project.models import CuratorKey

logger = logging.getLogger(__name__)

KEY_PREFIX = "gk_"
LAST_USED_GRANULARITY = timedelta(hours=1)


@dataclass(frozen=True)
class Curator:
    """The principal behind a valid curator key (DRF's request.user)."""

    key_id: str
    label: str
    is_authenticated: bool = True
    is_curator: bool = True


def key_hash(key: str) -> str:
    # Keys are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def curator_key_create(*, label: str) -> tuple[str, CuratorKey]:
    """Make a new key; returns the key (the only time it exists in clear) and its stored record. The
    label says who or what the key is for, so a list of keys can be read (and pruned) later."""
    label = " ".join((label or "").split())
    if not label:
        raise Rejected("A curator key needs a label: who or what it is for.", code="label_required")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = CuratorKey(key_hash(key), key_id=uuid.uuid4().hex[:12], label=label[:200], created_at=now_iso())
    record.save()
    return key, record


def curator_keys() -> Iterator[CuratorKey]:
    """Every key (hashes are never shown), oldest first."""
    return iter(sorted(CuratorKey.scan(), key=lambda record: record.created_at))


def curator_key_revoke(*, key_id: str) -> int:
    """Revoke every stored key with this id (it stops working at once, and stays listed as revoked);
    returns how many were revoked now."""
    revoked = 0
    for record in CuratorKey.scan(CuratorKey.key_id == key_id):
        if record.revoked_at is None and applied(
            lambda record=record: record.update(
                actions=[CuratorKey.revoked_at.set(now_iso())], condition=CuratorKey.key_hash.exists()
            )
        ):
            revoked += 1
    return revoked


def curator_from_hash(hashed: str, *, note_use: bool = True) -> Curator | None:
    """The curator of a key's hash (a consistent read: a revoked key stops working at once); notes the
    use unless ``note_use`` is False (a check that a key file still works is not a use)."""
    try:
        record = CuratorKey.get(hashed, consistent_read=True)
    except CuratorKey.DoesNotExist:
        return None
    if record.revoked_at is not None:
        return None
    if note_use:
        _last_used_note(record)
    return Curator(key_id=record.key_id, label=record.label)


def _last_used_note(record: CuratorKey) -> None:
    """Keep lastUsedAt to the hour: a write only when the stored one is older (conditional, so warm
    containers using one key at once write it once). Never fails the request that used the key."""
    try:
        if record.last_used_at and datetime.now(UTC) - _parsed(record.last_used_at) < LAST_USED_GRANULARITY:
            return
        unchanged = (
            CuratorKey.last_used_at.does_not_exist()
            if record.last_used_at is None
            else CuratorKey.last_used_at == record.last_used_at
        )
        stamp = now_iso()
        # Conditional on the item existing too: a key deleted meanwhile is not recreated as a stub.
        condition = unchanged & CuratorKey.key_hash.exists()
        applied(lambda: record.update(actions=[CuratorKey.last_used_at.set(stamp)], condition=condition))
    except Exception:
        logger.exception("could not note the last use of curator key %s", record.key_id)


def _parsed(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def curator_from_key(key: str, *, note_use: bool = True) -> Curator | None:
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    return curator_from_hash(key_hash(key), note_use=note_use)
