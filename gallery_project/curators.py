"""Curator keys: create them (shown once), store only their SHA-256, and recognise them."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from core.clock import now_iso
from gallery_project.models import CuratorKey

KEY_PREFIX = "gk_"


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


def curator_key_create(*, label: str = "") -> tuple[str, CuratorKey]:
    """Make a new key; returns the key (the only time it exists in clear) and its stored record."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = CuratorKey(key_hash(key), key_id=uuid.uuid4().hex[:12], label=label, created_at=now_iso())
    record.save()
    return key, record


def curator_key_revoke(*, key_id: str) -> int:
    """Delete every stored key with this id; returns how many were deleted."""
    removed = 0
    for record in CuratorKey.scan(CuratorKey.key_id == key_id):
        record.delete()
        removed += 1
    return removed


def curator_from_hash(hashed: str) -> Curator | None:
    try:
        record = CuratorKey.get(hashed)
    except CuratorKey.DoesNotExist:
        return None
    return Curator(key_id=record.key_id, label=record.label)


def curator_from_key(key: str) -> Curator | None:
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    return curator_from_hash(key_hash(key))
