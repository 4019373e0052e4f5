"""What older releases left in GalleryPhotos, removed once by ``ensure_resources`` on upgrade.

Releases before the ServiceRecords table kept the photos scan's claims in GalleryPhotos (``photoId``
``~original#<hash>``, no ``photoNumber``). Claims are short-lived records now, and every reader of
GalleryPhotos takes each item for a photo, so these items must go before the new code reads the table.
"""

from photos.models import GalleryPhoto

LEGACY_CLAIM_PREFIX = "~original#"


def legacy_claims_remove() -> int:
    """Delete every claim item an older release left in GalleryPhotos (one scan); returns how many."""
    removed = 0
    with GalleryPhoto.batch_write() as batch:
        for item in GalleryPhoto.scan(
            GalleryPhoto.photo_id.startswith(LEGACY_CLAIM_PREFIX), attributes_to_get=["galleryId", "photoId"]
        ):
            batch.delete(GalleryPhoto(item.gallery_id, item.photo_id))
            removed += 1
    return removed
