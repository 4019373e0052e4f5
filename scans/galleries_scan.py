"""The galleries scan: recompute each gallery's photoCount, cover and years from its photo items.

``galleries_metadata_scan`` is the one service behind ``POST /galleries?action=update_galleries_metadata``,
``manage.py update_galleries_metadata`` and the scheduled Lambda event. Per gallery it reads the gallery,
then its live photos in photoNumber order (one Query on the byPhotoNumber index, which claims and other
non-photo items never enter), and writes only what drifted, on condition that the gallery's
``updatedAt`` is still the one it read: every photo write moves ``updatedAt``, so a concurrent upload or
delete makes the write fail and the gallery is read again instead of being overwritten with stale counts.

Years: the curator's years are kept and the EXIF years of live photos are added; a year is never
removed, since a curator may have entered it on purpose (never lose data).
"""

import logging
import re

from pynamodb.exceptions import PutError, UpdateError

from galleries.models import LIST_PARTITION, Gallery, country_key
from gallery_project.clock import now_iso
from gallery_project.errors import NotFound, storage_errors
from photos.models import GalleryPhoto
from photos.scans import Progress, ScanSummary, no_progress

logger = logging.getLogger(__name__)

ATTEMPTS = 3
# A gallery made for objects found under an unknown prefix needs a continent (one of the seven) and a
# country before it is valid input; these placeholders say plainly that a curator must set them.
PLACEHOLDER_CONTINENT = "Europe"
PLACEHOLDER_COUNTRY = "Unknown"
PLACEHOLDER_DESCRIPTION = "Created by the photos scan for photos found in the bucket; set its place."


def galleries_metadata_scan(
    *, gallery_id: str | None = None, dry_run: bool = False, progress: Progress | None = None
) -> ScanSummary:
    """Fix photoCount, coverPhotoURL/coverPhotoId and years of every gallery (or one)."""
    from galleries.selectors import gallery_get

    summary = ScanSummary(scan="galleries_metadata", gallery_id=gallery_id, dry_run=dry_run)
    progress = progress or no_progress
    if gallery_id is not None:
        gallery_ids = [gallery_get(gallery_id=gallery_id).gallery_id]
    else:
        gallery_ids = (gallery.gallery_id for gallery in Gallery.scan(attributes_to_get=["galleryId"]))
    for each_id in gallery_ids:
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
    from photos import imaging

    for _ in range(ATTEMPTS):
        try:
            gallery = Gallery.get(gallery_id, consistent_read=True)
        except Gallery.DoesNotExist:
            return None  # deleted since the listing: nothing to reconcile
        count, first, current_cover, photo_years = 0, None, None, set()
        live = GalleryPhoto.by_number.query(
            gallery_id,
            filter_condition=GalleryPhoto.deleting_at.does_not_exist(),
            consistent_read=True,
            attributes_to_get=["photoId", "photoNumber", "fullSizeURL", "exifData"],
        )
        for photo in live:
            count += 1
            first = first or photo
            if photo.photo_id == gallery.cover_photo_id:
                current_cover = photo
            year = imaging.exif_year(photo.exif_data.as_dict() if photo.exif_data else {})
            if year is not None:
                photo_years.add(year)
        cover = current_cover or first
        years = sorted({int(year) for year in gallery.years or []} | photo_years)
        actions = []
        if int(gallery.photo_count or 0) != count:
            actions.append(Gallery.photo_count.set(count))
        if cover is None and (
            gallery.cover_photo_id or gallery.cover_photo_url or gallery.cover_photo_number
        ):
            actions += [
                Gallery.cover_photo_id.remove(),
                Gallery.cover_photo_url.remove(),
                Gallery.cover_photo_number.remove(),
            ]
        elif cover is not None:
            if gallery.cover_photo_id != cover.photo_id:
                actions.append(Gallery.cover_photo_id.set(cover.photo_id))
            if gallery.cover_photo_url != cover.full_size_url:
                actions.append(Gallery.cover_photo_url.set(cover.full_size_url))
            if gallery.cover_photo_number != cover.photo_number:
                actions.append(Gallery.cover_photo_number.set(cover.photo_number))
        if years != [int(year) for year in gallery.years or []]:
            actions.append(Gallery.years.set(years))
        # Galleries written before the listing index existed are not in it until these are set.
        if gallery.list_partition != LIST_PARTITION:
            actions.append(Gallery.list_partition.set(LIST_PARTITION))
        if gallery.country_key != country_key(gallery.country or ""):
            actions.append(Gallery.country_key.set(country_key(gallery.country or "")))
        if not actions:
            return None
        if dry_run:
            return "changed"
        try:
            gallery.update(
                actions=[*actions, Gallery.updated_at.set(now_iso())],
                condition=Gallery.updated_at == gallery.updated_at,
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            continue  # the gallery changed while we counted: count again
        return "changed"
    return "The gallery kept changing during the scan; the next run fixes it."


def gallery_create_for_prefix(*, gallery_id: str) -> Gallery:
    """A gallery item for objects found under ``galleries/{gallery_id}/`` (id kept, name from the id)."""
    from gallery_project.validation import is_valid_id

    if not is_valid_id(gallery_id):
        raise NotFound(f"{gallery_id[:128]!r} cannot be a gallery id.")
    from galleries.services import gallery_create

    try:
        return gallery_create(
            gallery_id=gallery_id,
            name=re.sub(r"[-_.]+", " ", gallery_id).strip().capitalize() or gallery_id,
            continent=PLACEHOLDER_CONTINENT,
            country=PLACEHOLDER_COUNTRY,
            description=PLACEHOLDER_DESCRIPTION,
        )
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return Gallery.get(gallery_id, consistent_read=True)  # a concurrent run made it first
