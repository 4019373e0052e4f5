"""What crashes, hangs and races leave behind, found and finished by the photos scan.

A full photos scan (``scans.photos_scan``) runs these passes before it walks the galleries (each item
checks the scan's deadline through ``time_check``):
- ``intents_finish``: photo writes whose intent failed or whose writer died (``photos.intents``): their
  objects are deleted (never adopted), the claim on their bytes released, then the intent. An intent
  still exists only for a write that was never committed, so no item references those objects.
- ``deletes_finish``: galleries whose delete began and did not end (a crash, a timeout): finished.
- ``orphan_photos_remove``: photo partitions whose gallery item is gone (written before deletes were
  final): their photos, objects and ratings are purged.
- ``orphan_renditions_remove``: ``renditions/{id}/`` prefixes of no gallery and no live intent.
- ``abandoned_uploads_remove``: direct uploads never completed, older than ``UPLOAD_ABANDONED_AFTER``.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta

from core import records, storage
from core.errors import NotFound, storage_errors
from galleries.selectors import galleries_existing, gallery_get
from photos import content, intents, keys
from photos.selectors import photo_gallery_ids
from photos.services.delete import gallery_delete, photos_delete_for_gallery
from scans.summary import ScanSummary

logger = logging.getLogger(__name__)

# A gallery delete older than this was interrupted.
DELETE_STALE_AFTER = records.WRITE_LIFETIME
# A direct upload not completed by then never will be (its slot expired after 15 minutes); the bucket's
# lifecycle rule says the same on AWS.
UPLOAD_ABANDONED_AFTER = timedelta(days=keys.UPLOAD_EXPIRY_DAYS)


def _unbounded() -> None:
    return None


def intents_finish(
    summary: ScanSummary,
    *,
    gallery_id: str | None,
    dry_run: bool,
    time_check: Callable[[], None] = _unbounded,
) -> set[str]:
    """Clean up finished intents (of one gallery, or all); returns the keys live intents still name,
    which the scan neither adopts nor sweeps."""
    named: set[str] = set()
    for intent in intents.intents_all(gallery_id):
        time_check()
        if not intent.finished:
            named |= intent.names
            continue
        summary.failed_writes_cleaned += 1
        if dry_run:
            named |= intent.names
            continue
        try:
            storage.objects_delete(intent.objects)  # never ``adopts``: that original is not ours
            content.content_release_held(intent.claims)  # the same bytes may be uploaded again
            intents.intent_close(intent)
        except storage_errors() as error:
            named |= intent.names
            summary.fail(f"Storage failed: {error}", intent=intent.record.record_key)
    return named


def deletes_finish(summary: ScanSummary, *, gallery_id: str, dry_run: bool) -> bool:
    """Finish the gallery's delete if it began long enough ago; True when the gallery is being deleted
    (whether finished now or still under way), so the caller leaves it alone."""
    try:
        gallery = gallery_get(gallery_id=gallery_id, include_deleting=True)
    except NotFound:
        return True
    if gallery.deleting_at is None:
        return False
    started = datetime.fromisoformat(gallery.deleting_at.replace("Z", "+00:00"))
    if datetime.now(UTC) - started < DELETE_STALE_AFTER:
        return True  # its own request is still at work
    summary.galleries_deleted.append(gallery_id)
    if not dry_run:
        try:
            gallery_delete(gallery_id=gallery_id)
        except storage_errors() as error:
            summary.fail(f"Storage failed: {error}", galleryId=gallery_id)
    return True


def orphan_photos_remove(
    summary: ScanSummary, *, dry_run: bool, time_check: Callable[[], None] = _unbounded
) -> None:
    """Purge photo items (objects, ratings) of partitions whose gallery item does not exist."""
    partitions = sorted(photo_gallery_ids())
    existing = galleries_existing(gallery_ids=partitions) if partitions else set()
    for gallery_id in partitions:
        time_check()
        if gallery_id in existing:
            continue
        summary.orphan_galleries.append(gallery_id)
        if dry_run:
            continue
        try:
            summary.removed += photos_delete_for_gallery(gallery_id=gallery_id)
        except storage_errors() as error:
            summary.fail(f"Storage failed: {error}", galleryId=gallery_id)


def orphan_renditions_remove(summary: ScanSummary, *, named: set[str], dry_run: bool) -> None:
    """Delete the rendition prefixes (public and private) and download-copy prefixes of galleries that
    do not exist (unless a live intent names something in them: a write under way that will clean up
    after itself)."""
    for root in (keys.RENDITIONS_ROOT, keys.PRIVATE_RENDITIONS_ROOT, keys.DOWNLOADS_ROOT):
        ids = [prefix[len(root) :].rstrip("/") for prefix in storage.subprefixes_list(root)]
        existing = galleries_existing(gallery_ids=ids) if ids else set()
        for gallery_id in ids:
            prefix = f"{root}{gallery_id}/"
            if gallery_id in existing or any(name.startswith(prefix) for name in named):
                continue
            if not dry_run:
                summary.orphan_objects_removed += storage.objects_delete_prefix(prefix)


def abandoned_uploads_remove(
    summary: ScanSummary,
    *,
    gallery_id: str | None,
    dry_run: bool,
    time_check: Callable[[], None] = _unbounded,
) -> None:
    """Delete upload objects older than ``UPLOAD_ABANDONED_AFTER`` (of one gallery, or all)."""
    prefix = keys.uploads_prefix(gallery_id) if gallery_id else keys.UPLOADS_ROOT
    for page in pages(storage.objects_list(prefix), 1000):
        time_check()
        old = [item["Key"] for item in page if not upload_waiting(item)]
        summary.abandoned_uploads_removed += len(old)
        if old and not dry_run:
            storage.objects_delete(old)


def upload_waiting(item: dict) -> bool:
    """Whether a listed upload object is young enough to still become a photo (not abandoned yet)."""
    modified = item.get("LastModified")
    return modified is None or datetime.now(UTC) - modified <= UPLOAD_ABANDONED_AFTER


def pages(items: Iterable, size: int) -> Iterator[list]:
    """``items`` in lists of ``size`` (the last may be shorter), streamed."""
    page: list = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page
