"""The galleries scan: recompute each gallery's photoCount, cover and years from its photo items.

``galleries_metadata_scan`` is the one service behind ``POST /galleries?action=update_galleries_metadata``,
``manage.py update_galleries_metadata`` and the scheduled Lambda event. Per gallery it reads the gallery,
then its live photos in photoNumber order (one Query on the byPhotoNumber index), asks the galleries'
own rules what drifted (``galleries.derived.drift_actions``) and writes only that, on condition that the
gallery's version is still the one it read: every photo write moves the version, so a concurrent
upload or delete makes the write fail and the gallery is read again instead of being overwritten with
stale counts.
"""

import logging
from collections.abc import Iterable

from core.errors import NotFound, storage_errors
from galleries import derived
from galleries.selectors import gallery_get, gallery_ids
from photos.prepare import photo_year
from photos.selectors import photos_live_in_order
from scans.summary import Progress, ScanSummary, no_progress

logger = logging.getLogger(__name__)

ATTEMPTS = 3


def galleries_metadata_scan(
    *, gallery_id: str | None = None, dry_run: bool = False, progress: Progress | None = None
) -> ScanSummary:
    """Fix photoCount, coverPhotoURL/coverPhotoId and years of every gallery (or one)."""
    summary = ScanSummary(scan="galleries_metadata", gallery_id=gallery_id, dry_run=dry_run)
    progress = progress or no_progress
    each_gallery: Iterable[str] = (
        [gallery_get(gallery_id=gallery_id).gallery_id] if gallery_id else gallery_ids()
    )
    for each_id in each_gallery:
        summary.scanned += 1
        try:
            outcome = _gallery_reconcile(each_id, dry_run=dry_run)
        except storage_errors() as error:
            logger.exception("reconciling gallery %s failed", each_id)
            summary.fail(f"Storage failed: {error}", galleryId=each_id)
        else:
            if outcome is None:
                summary.unchanged += 1
            elif outcome == "changed":
                summary.updated += 1
            else:
                summary.fail(outcome, galleryId=each_id)
        progress(summary)
    return summary


def _gallery_reconcile(gallery_id: str, *, dry_run: bool) -> str | None:
    """None when nothing drifted, "changed" when fixed, else the reason it could not be."""
    for _ in range(ATTEMPTS):
        try:
            gallery = gallery_get(gallery_id=gallery_id)
        except NotFound:
            return None  # deleted since the listing: nothing to reconcile
        count, first, live_cover, photo_years = 0, None, None, set()
        live = photos_live_in_order(
            gallery_id=gallery_id, fields=["photoId", "photoNumber", "fullSizeURL", "exifData"]
        )
        for photo in live:
            count += 1
            cover = photo.as_cover()
            first = first or cover
            if photo.photo_id == gallery.cover_photo_id:
                live_cover = cover
            year = photo_year(photo.exif())
            if year is not None:
                photo_years.add(year)
        actions = derived.drift_actions(
            gallery, photo_count=count, live_cover=live_cover, first=first, photo_years=photo_years
        )
        if not actions:
            return None
        if dry_run or derived.drift_repair(gallery, actions):
            return "changed"
        # the gallery changed while we counted: count again
    return "The gallery kept changing during the scan; the next run fixes it."
