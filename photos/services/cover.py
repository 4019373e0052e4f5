"""A gallery's edit with its cover chosen (PUT/PATCH ``coverPhotoId``): galleries own the edit and the
cover rule (``galleries.services.gallery_update``, ``galleries.derived.cover_actions``); photos hand in
which photo it is and the condition that it is still live, checked in the edit's own transaction.

Race-safe by that condition, not by a read: a photo read as live whose delete starts a moment later
fails the check, the edit is not applied, and the next attempt's read finds the photo gone (400). A
photo's delete also moves the gallery's version, which the edit is conditioned on as well.
"""

from core.errors import NotFound
from galleries.derived import CoverChoice, CoverNotAPhoto
from galleries.models import Gallery
from galleries.services import gallery_update
from photos.models import GalleryPhoto
from photos.selectors import photo_alive, photo_first_live, photo_get


class _Unchanged:
    """The cover is not part of the edit (no ``coverPhotoId`` sent)."""


UNCHANGED = _Unchanged()


def gallery_edit(
    *,
    gallery_id: str,
    expected_version: int | None = None,
    cover_photo_id: str | _Unchanged | None = UNCHANGED,
    **changes,
) -> Gallery:
    """A gallery's edit as its PUT or PATCH asks: the fields sent, and the cover when ``cover_photo_id``
    is given (a photo id chooses that live photo of the gallery, CoverNotAPhoto otherwise; None gives
    the cover back to the lowest-numbered live photo), all in one write."""
    if isinstance(cover_photo_id, _Unchanged):
        return gallery_update(gallery_id=gallery_id, expected_version=expected_version, **changes)

    def pick(gallery: Gallery) -> CoverChoice:
        if cover_photo_id is None:
            first = photo_first_live(gallery_id=gallery.gallery_id)
            if first is None:
                return CoverChoice(None, chosen=False)
            return CoverChoice(first.as_cover(), chosen=False, still_live=_still_live(first))
        try:
            photo = photo_get(gallery_id=gallery.gallery_id, photo_id=cover_photo_id)
        except NotFound:
            raise CoverNotAPhoto(cover_photo_id) from None
        return CoverChoice(photo.as_cover(), chosen=True, still_live=_still_live(photo))

    return gallery_update(gallery_id=gallery_id, expected_version=expected_version, cover=pick, **changes)


def _still_live(photo: GalleryPhoto):
    """The check, inside another item's transaction, that ``photo`` exists and its delete has not begun."""

    def check(transaction) -> None:
        transaction.condition_check(GalleryPhoto, photo.gallery_id, photo.photo_id, condition=photo_alive())

    return check
