"""Deleting photos, and deleting a gallery with all its photos (photos sees galleries and ratings).

Photo: one transaction marks the item as deleting (readers, searches and raters stop seeing it) and
applies the gallery's ``photo_removed`` change (count, and the cover moves to the next live photo); then
the objects, ratings and tag entries go; then the item. A failure part-way leaves an invisible item
that a repeated delete, a gallery delete or the photos scan finishes.

Gallery: first the gallery is marked as being deleted (one conditional write): from then on it takes
no upload, direct-upload completion, scan adoption or rating (``galleries.derived.gallery_open``) and
reads as gone. Then every photo as above (a consistent read after the mark sees every photo ever
committed, since no commit can pass the mark), a sweep of the gallery's prefixes, then the gallery item.
A failure part-way leaves a marked gallery, never photos without a gallery; repeating the request or
the photos scan finishes the job.
"""

from core import storage
from core.clock import now_iso
from core.conditional import applied
from core.errors import Conflict, Mismatch
from core.transactions import Contended, Refused, transaction_run
from galleries import derived
from galleries.selectors import gallery_get
from galleries.services import gallery_delete_begin, gallery_item_delete
from photos import content, keys
from photos.models import GalleryPhoto
from photos.selectors import photo_first_live, photo_get, photo_with_key_exists, photos_of_gallery
from photos.tags import tag_entries_remove
from ratings.services import ratings_delete_for_photo

MARK_ATTEMPTS = 3


def photo_delete(
    *, gallery_id: str, photo_id: str, expected_s3_key: str | None = None, expected_number: int | None = None
) -> GalleryPhoto:
    """Delete a photo, its objects and its ratings, and take it off the gallery's count and cover.

    The keys deleted are the ones stored on the item; a client's ``s3Key`` or ``photoNumber`` is only
    compared with them, and a mismatch refuses the request.
    """
    photo = photo_get(gallery_id=gallery_id, photo_id=photo_id, include_deleting=True)
    mismatches = {}
    if expected_s3_key is not None and expected_s3_key != photo.s3_key:
        mismatches["s3Key"] = ["Does not match the stored key of this photo."]
    if expected_number is not None and expected_number != int(photo.photo_number):
        mismatches["photoNumber"] = ["Does not match the stored number of this photo."]
    if mismatches:
        raise Mismatch("The photo in the request does not match the stored photo.", details=mismatches)
    if photo.deleting_at is None:
        _mark_deleting(photo)
    photo_purge(photo)
    return photo


def _mark_deleting(photo: GalleryPhoto) -> None:
    for _ in range(MARK_ATTEMPTS):
        gallery = gallery_get(gallery_id=photo.gallery_id)
        successor = None
        if gallery.cover_photo_id == photo.photo_id:
            first = photo_first_live(gallery_id=photo.gallery_id, excluding=photo.photo_id)
            if first is not None:
                successor = first.as_cover()
        change = derived.photo_removed(gallery=gallery, photo_id=photo.photo_id, successor=successor)

        def build(transaction, change=change):
            transaction.update(
                photo,
                actions=[GalleryPhoto.deleting_at.set(now_iso())],
                condition=GalleryPhoto.deleting_at.does_not_exist() & GalleryPhoto.photo_id.exists(),
            )
            transaction.update(change.gallery, actions=change.actions, condition=change.condition)

        try:
            transaction_run(build)  # a fresh token per call: each look builds a different transaction
            return
        except Contended as busy:
            # Raters of a hot photo kept its item busy: look again, as they do (never after throttling),
            # so a curator's delete, which is what stops them, is not starved by them.
            if not busy.conflicts_only:
                raise
            continue
        except Refused:
            # Someone else moved the cover or started this delete meanwhile: look again.
            current = photo_get(gallery_id=photo.gallery_id, photo_id=photo.photo_id, include_deleting=True)
            if current.deleting_at is not None:
                return
    raise Conflict("The gallery kept changing while this photo was being deleted; try again.")


def photo_purge(photo: GalleryPhoto) -> None:
    """Remove a photo's objects (only inside its gallery's prefixes), ratings and tag entries, then its
    item."""
    own_keys: list[str] = [key for key in [photo.s3_key, *(photo.rendition_keys or [])] if key]
    if photo.s3_key and photo_with_key_exists(
        gallery_id=photo.gallery_id, original_key=photo.s3_key, excluding=photo.photo_id
    ):
        own_keys.remove(photo.s3_key)  # another item holds the same original (an older release's doing)
    storage.objects_delete([key for key in own_keys if keys.belongs_to_gallery(key, photo.gallery_id)])
    # Location-free download copies of its original (made on a visitor's first download).
    storage.objects_delete_prefix(f"{keys.downloads_prefix(photo.gallery_id)}{photo.photo_id}-")
    ratings_delete_for_photo(photo_id=photo.photo_id)
    if photo.original_sha256:
        content.content_drop(
            gallery_id=photo.gallery_id, sha256=photo.original_sha256, photo_id=photo.photo_id
        )
    tag_entries_remove(photo=photo)
    # A rating's transaction may still hold the item (it will be refused: the photo is marked).
    applied(photo.delete)


def photos_delete_for_gallery(*, gallery_id: str) -> int:
    """Delete every photo of a gallery (objects, ratings, items); returns how many.

    A last sweep of the gallery's prefixes removes objects no item pointed to.
    """
    deleted = 0
    for photo in photos_of_gallery(gallery_id=gallery_id):
        # Hidden first, so a rating committed meanwhile is refused instead of left behind; conditional, so
        # a photo purged meanwhile (a concurrent delete) is not recreated as a ghost.
        if photo.deleting_at is None and not applied(
            lambda photo=photo: photo.update(
                actions=[GalleryPhoto.deleting_at.set(now_iso())], condition=GalleryPhoto.photo_id.exists()
            )
        ):
            continue
        photo_purge(photo)
        deleted += 1
    for prefix in [*keys.gallery_prefixes(gallery_id), keys.uploads_prefix(gallery_id)]:
        storage.objects_delete_prefix(prefix)
    return deleted


def gallery_delete(*, gallery_id: str) -> int:
    """Mark the gallery as being deleted, delete its photos (objects, items, ratings), then the gallery
    item; returns how many photos were deleted. A gallery whose delete began earlier is finished."""
    gallery = gallery_delete_begin(gallery_id=gallery_id)
    deleted_photos = photos_delete_for_gallery(gallery_id=gallery_id)
    gallery_item_delete(gallery=gallery)
    return deleted_photos
