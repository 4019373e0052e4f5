"""Where a gallery's renditions live follows its visibility (and each photo keeps a copy of it).

Renditions of public and unlisted galleries are under the publicly served prefix (``renditions/``, the
CDN's, cached as immutable); a private gallery's are under ``private/renditions/``, reached only by
short-lived signed URLs. A visibility change answers at once (the gallery item decides who may read),
then moves each photo's renditions, as many as the request's time allows; the photos scan finishes
what is left (``photo_place`` is safe to repeat and to run beside uploads and other moves).

One photo's move: copy each rendition to its new key, then one conditional write of the item (its
rendition keys still the ones read, the photo live) with the new keys, URLs and visibility, then
delete the old objects. A crash between the copy and the write leaves copies no item references; one
after the write leaves old objects no item references: the photos scan removes both (it never deletes
an object an item references). After a move to private, the old public URLs stop working once their
objects are deleted (a CDN keeps its copies until they expire or are invalidated: docs/deploy.md).
"""

import logging
from dataclasses import dataclass

from core import storage
from core.conditional import applied
from core.deadline import attempt_seconds, remaining
from core.errors import DeadlineReached
from galleries import derived
from galleries.models import Gallery, visibility_of
from photos import keys
from photos.models import GalleryPhoto
from photos.selectors import is_live, photos_of_gallery

logger = logging.getLogger(__name__)

_CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp", "avif": "image/avif"}


@dataclass
class Placement:
    moved: int = 0  # photos whose renditions moved
    relabelled: int = 0  # photos whose visibility copy changed, renditions already in place
    left: int = 0  # photos not reached before the deadline (the photos scan finishes them)


def is_placed(photo: GalleryPhoto, visibility: str) -> bool:
    """Whether the photo's renditions are under the prefix the gallery's visibility asks for."""
    private = visibility == "private"
    return all(keys.is_private_rendition(str(key)) == private for key in photo.rendition_keys or [])


# A visibility change stops moving renditions with this much of the request's time left, to answer.
ANSWER_MARGIN_SECONDS = 3.0


def gallery_place(*, gallery: Gallery) -> Placement:
    """Bring every photo of the gallery in line with its visibility, until the deadline."""
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
        except DeadlineReached:
            result.left = len(photos) - index
            logger.warning(
                "gallery %s: %d photos not yet placed for %s; the photos scan finishes them",
                gallery.gallery_id,
                result.left,
                visibility,
            )
            break
        if outcome == "moved":
            result.moved += 1
        elif outcome == "relabelled":
            result.relabelled += 1
    return result


def photo_place(*, photo: GalleryPhoto, visibility: str, cover_of: Gallery | None = None) -> str:
    """One photo's renditions under the prefix ``visibility`` asks for, its copy of the visibility
    updated: "moved", "relabelled", "placed" (nothing to do) or "raced" (the item changed meanwhile:
    someone else moved, re-rendered or deleted it; the next run looks again)."""
    if is_placed(photo, visibility):
        if photo.visibility == visibility:
            return "placed"
        relabelled = applied(
            lambda: photo.update(
                actions=[GalleryPhoto.visibility.set(visibility)],
                condition=_unchanged(photo),
            )
        )
        return "relabelled" if relabelled else "raced"
    private = visibility == "private"
    old_keys = [str(key) for key in photo.rendition_keys or []]
    new_keys = [keys.rendition_moved(key, private=private) for key in old_keys]
    copied: list[str] = []
    try:
        for old, new in zip(old_keys, new_keys, strict=True):
            if old != new:
                copied.append(new)
                storage.object_copy(old, new, _content_type(old))
    except Exception:
        _delete_quietly(copied)  # or the photos scan does: no item lists them
        raise
    moved_keys = dict(zip(old_keys, new_keys, strict=True))
    thumbnail = _url_of(new_keys, "-thumb.jpg", photo.thumbnail_url)
    full_size = _url_of(new_keys, "-web.jpg", photo.full_size_url)
    actions: list = [GalleryPhoto.rendition_keys.set(new_keys), GalleryPhoto.visibility.set(visibility)]
    if thumbnail is not None:
        actions.append(GalleryPhoto.thumbnail_url.set(thumbnail))
    if full_size is not None:
        actions.append(GalleryPhoto.full_size_url.set(full_size))
    moved = applied(lambda: photo.update(actions=actions, condition=_unchanged(photo)))
    if not moved:
        _delete_quietly([key for key in copied if key not in old_keys])
        return "raced"
    storage.objects_delete([old for old, new in moved_keys.items() if old != new])
    if cover_of is None or cover_of.cover_photo_id == photo.photo_id:
        photo.full_size_url = full_size
        derived.cover_url_moved(gallery_id=photo.gallery_id, cover=photo.as_cover())
    return "moved"


def _unchanged(photo: GalleryPhoto):
    """The item still has the renditions we read and is live (never recreated, never a deleting one)."""
    return (
        GalleryPhoto.photo_id.exists()
        & is_live()
        & (GalleryPhoto.rendition_keys == list(photo.rendition_keys or []))
    )


def _url_of(rendition_keys: list[str], suffix: str, current: str | None) -> str | None:
    """The stored URL of the rendition whose key ends with ``suffix`` (the guide's thumbnail and full
    size), at its new key."""
    key = next((key for key in rendition_keys if key.endswith(suffix)), None)
    return storage.stored_url(key) if key else current


def _delete_quietly(keys_: list[str]) -> None:
    try:
        storage.objects_delete(keys_)
    except Exception:
        logger.warning("could not delete %d copied renditions; the photos scan removes them", len(keys_))


def _content_type(key: str) -> str:
    return _CONTENT_TYPES.get(key.rsplit(".", 1)[-1].lower(), "application/octet-stream")
