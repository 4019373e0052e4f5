"""Where a gallery's renditions live follows its visibility (and each photo keeps a copy of it).

Renditions of public and unlisted galleries are under the publicly served prefix (``renditions/``, the
CDN's); a private gallery's are under ``private/renditions/``, reached only by
short-lived signed URLs. A visibility change answers at once (the gallery item decides who may read),
then moves each photo's renditions, as many as the request's time allows; the photos scan finishes
what is left (``photo_place`` is safe to repeat and to run beside uploads and other moves).

One photo's move: copy each rendition to its new key, then one conditional write of the item (its
rendition keys still the ones read, the photo live) with the new keys, URLs and visibility, then
delete the old objects. Two moves of one photo (a curator's change and a scan) write the same new
keys: the one whose item write loses reads the item again and deletes only what it does not list,
and a copy whose source is already gone means the other move won. A crash between the copy and the
write leaves copies no item references; one after the write leaves old objects no item references:
the photos scan removes both (it never deletes an object an item references). After a move to
private, the old public URLs stop working once their objects are deleted (a CDN keeps its copies
until they expire or are invalidated: docs/deploy.md).
"""

import logging
from dataclasses import dataclass

from core import storage
from core.deadline import attempt_seconds, remaining
from core.errors import DeadlineReached, NotFound, storage_errors
from core.transactions import Refused, transaction_run
from galleries import derived
from galleries.models import Gallery, visibility_of
from galleries.selectors import gallery_get
from photos import keys, renditions, tags
from photos.models import GalleryPhoto
from photos.selectors import photo_get, photos_of_gallery, renditions_unchanged

logger = logging.getLogger(__name__)


@dataclass
class Placement:
    moved: int = 0  # photos whose renditions moved
    failed: int = 0  # photos storage failed for (the photos scan tries again)
    left: int = 0  # photos not reached before the deadline (the photos scan finishes them)


def rendition_keys_of(photo: GalleryPhoto) -> list[str]:
    """The photo's rendition objects: its ``renditionKeys``, or for an item from before them, the
    objects of its number under either placement."""
    if photo.rendition_keys:
        return [str(key) for key in photo.rendition_keys]
    found: list[str] = []
    for private in (False, True):
        prefix = f"{keys.renditions_prefix(photo.gallery_id, private=private)}photo{int(photo.photo_number)}-"
        found += [item["Key"] for item in storage.objects_list(prefix)]
    return found


def is_placed(rendition_keys: list[str], visibility: str) -> bool:
    """Whether these renditions are under the prefix the gallery's visibility asks for."""
    private = visibility == "private"
    return all(keys.is_private_rendition(key) == private for key in rendition_keys)


# A visibility change stops moving renditions with this much of the request's time left, to answer.
ANSWER_MARGIN_SECONDS = 3.0


def placed_after_edit(*, gallery: Gallery, changes: dict) -> Gallery:
    """After an edit of the gallery (the API's or the console's): when it named the visibility, its
    photos' renditions follow it (safe to repeat: an edit naming the same visibility finishes a move an
    earlier request ran out of time for); the gallery as it is then (read again when renditions moved,
    since the cover's URL may have moved with them)."""
    if "visibility" in changes and gallery_place(gallery=gallery).moved:
        return gallery_get(gallery_id=gallery.gallery_id)
    return gallery


def gallery_place(*, gallery: Gallery) -> Placement:
    """Bring every photo of the gallery in line with its visibility, until the deadline. A photo that
    storage fails for is logged and left (the visibility itself is already changed; the photos scan
    moves what is left)."""
    visibility = visibility_of(gallery)
    result = Placement()
    photos = [
        photo for photo in photos_of_gallery(gallery_id=gallery.gallery_id) if photo.deleting_at is None
    ]
    for index, photo in enumerate(photos):
        left = remaining()
        try:
            if left is not None and left < ANSWER_MARGIN_SECONDS + attempt_seconds():
                raise DeadlineReached()
            outcome = photo_place(photo=photo, visibility=visibility, cover_of=gallery)
            if outcome == "raced":  # an edit or re-render landed meanwhile: once more, as it is now
                again = photo_reread(photo)
                if again is not None:
                    outcome = photo_place(photo=again, visibility=visibility, cover_of=gallery)
        except DeadlineReached:
            result.left = len(photos) - index
            logger.warning(
                "gallery %s: %d photos not yet placed for %s; the photos scan finishes them",
                gallery.gallery_id,
                result.left,
                visibility,
            )
            break
        except storage_errors():
            logger.exception(
                "placing the renditions of photo %s failed; the photos scan retries", photo.photo_id
            )
            result.failed += 1
            continue
        result.moved += outcome == "moved"
    return result


def photo_place(*, photo: GalleryPhoto, visibility: str, cover_of: Gallery | None = None) -> str:
    """One photo's renditions under the prefix ``visibility`` asks for, its copy of the visibility
    updated: "moved", "relabelled", "placed" (nothing to do) or "raced" (the item changed meanwhile, or
    the gallery's visibility is no longer ``visibility``: someone else moved, re-rendered or deleted
    it, or a later change supersedes this move; the next run looks again). The item is written in one
    transaction with a check that the gallery still has this visibility, so a move that started before
    a change can never undo it."""
    old_keys = rendition_keys_of(photo)
    if is_placed(old_keys, visibility):
        if photo.visibility == visibility:
            return "placed"
        return (
            "relabelled" if _write(photo, [GalleryPhoto.visibility.set(visibility)], visibility) else "raced"
        )
    private = visibility == "private"
    new_keys = [keys.rendition_moved(key, private=private) for key in old_keys]
    copied: list[str] = []
    try:
        for old, new in zip(old_keys, new_keys, strict=True):
            if old != new:
                copied.append(new)
                if not storage.object_copy_if_present(
                    old, new, renditions.content_type_of(old), cache_control=keys.rendition_cache_control(new)
                ):
                    keep_only_listed(photo, copied)  # another move took it first
                    return "raced"
    except Exception:
        keep_only_listed(photo, copied)
        raise
    actions: list = [GalleryPhoto.rendition_keys.set(new_keys), GalleryPhoto.visibility.set(visibility)]
    thumbnail, full_size = renditions.stored_urls(new_keys)
    if thumbnail is not None:
        actions.append(GalleryPhoto.thumbnail_url.set(thumbnail))
    if full_size is not None:
        actions.append(GalleryPhoto.full_size_url.set(full_size))
    if not _write(photo, actions, visibility):
        keep_only_listed(photo, copied)
        return "raced"
    # The old objects, except any the item lists again (a move back that landed meanwhile).
    keep_only_listed(photo, [old for old, new in zip(old_keys, new_keys, strict=True) if old != new])
    photo.rendition_keys, photo.visibility = new_keys, visibility
    photo.full_size_url = full_size or photo.full_size_url
    if cover_of is None or cover_of.cover_photo_id == photo.photo_id:
        derived.cover_url_moved(gallery_id=photo.gallery_id, cover=photo.as_cover())
    return "moved"


def photo_reread(photo: GalleryPhoto) -> GalleryPhoto | None:
    """The photo's item as it is now (strongly consistent), or None once its delete began or it is gone."""
    try:
        return photo_get(gallery_id=photo.gallery_id, photo_id=photo.photo_id)
    except NotFound:
        return None


def _write(photo: GalleryPhoto, actions: list, visibility: str) -> bool:
    """The item's change, on condition that it is unchanged and the gallery still has ``visibility``."""

    def build(transaction) -> None:
        condition = renditions_unchanged(photo) & tags.entries_unchanged(photo)
        transaction.update(photo, actions=actions, condition=condition)
        transaction.condition_check(Gallery, photo.gallery_id, condition=derived.visibility_is(visibility))
        tags.tag_visibility_set(transaction, photo, visibility)  # the search's copy moves with the item

    try:
        transaction_run(build)
    except Refused:
        return False
    return True


def keep_only_listed(photo: GalleryPhoto, written: list[str]) -> None:
    """Delete those of ``written`` the item (read again) does not list: after a lost race or a failure,
    a concurrent move or re-render may have written the same keys and listed them. Best effort: the
    photos scan removes what is left."""
    if not written:
        return
    try:
        current = GalleryPhoto.get(photo.gallery_id, photo.photo_id, consistent_read=True)
        listed = {str(key) for key in current.rendition_keys or []}
    except GalleryPhoto.DoesNotExist:
        listed = set()
    except storage_errors():
        logger.warning("could not check %d rendition objects; the photos scan removes strays", len(written))
        return
    try:
        storage.objects_delete([key for key in written if key not in listed])
    except storage_errors():
        logger.warning("could not delete %d rendition objects; the photos scan removes them", len(written))
