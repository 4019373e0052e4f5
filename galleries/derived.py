"""The gallery fields that follow its photos: photo numbers, photoCount, the cover and years.

Galleries own these rules; photos (and the scans) compose the pieces given here into their own writes:
``numbers_reserve`` before objects are stored, the ``photo_added``/``photo_removed`` actions inside the
photo's own transaction, ``cover_offer`` and ``year_add`` after a batch, ``drift_actions`` in the scan.

- Numbers: a block of consecutive numbers per upload, from an atomic ADD on ``lastPhotoNumber``; a
  failure later leaves a gap, never a duplicate, and numbers are never reused.
- photoCount: +1 in the transaction that writes a photo item, -1 in the one that starts its delete.
- Cover: the lowest-numbered live photo. A new photo takes the cover only when there is none or the
  cover's number is higher; deleting the cover moves it to the next live photo.
- Years: the curator's years plus the DateTimeOriginal years of photos; never removed by a photo.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from pynamodb.expressions.condition import Condition

from core.clock import now_iso
from core.conditional import applied
from core.errors import NotFound
from galleries.models import LIST_PARTITION, Gallery, country_key


class GalleryGone(NotFound):
    """The gallery was deleted while a photo was being added to it."""

    code = "gallery_gone"
    default_message = "The gallery was deleted during the upload."


@dataclass(frozen=True)
class Cover:
    """What the gallery keeps of its cover photo."""

    photo_id: str
    number: int
    url: str


def _cover_set(cover: Cover) -> list:
    return [
        Gallery.cover_photo_url.set(cover.url),
        Gallery.cover_photo_id.set(cover.photo_id),
        Gallery.cover_photo_number.set(cover.number),
    ]


def _cover_remove() -> list:
    return [
        Gallery.cover_photo_url.remove(),
        Gallery.cover_photo_id.remove(),
        Gallery.cover_photo_number.remove(),
    ]


def _cover_if_absent(cover: Cover) -> list:
    return [
        Gallery.cover_photo_url.set(Gallery.cover_photo_url | cover.url),
        Gallery.cover_photo_id.set(Gallery.cover_photo_id | cover.photo_id),
        Gallery.cover_photo_number.set(Gallery.cover_photo_number | cover.number),
    ]


def numbers_reserve(*, gallery_id: str, count: int) -> list[int]:
    """``count`` consecutive photo numbers no other upload can get (one atomic ADD); GalleryGone if none."""
    gallery = Gallery(gallery_id)

    def reserve():
        return gallery.update(
            actions=[Gallery.last_photo_number.add(count)], condition=Gallery.gallery_id.exists()
        )

    if not applied(reserve):
        raise GalleryGone()
    last = int(gallery.last_photo_number)
    return list(range(last - count + 1, last + 1))


@dataclass(frozen=True)
class GalleryChange:
    """One update of the gallery item, to run inside another app's transaction."""

    gallery: Gallery
    actions: list
    condition: Condition


def photo_added(*, gallery_id: str, cover: Cover) -> GalleryChange:
    """A photo item is being written: count it, and make it the cover if the gallery has none."""
    return GalleryChange(
        Gallery(gallery_id),
        [Gallery.photo_count.add(1), *_cover_if_absent(cover), Gallery.updated_at.set(now_iso())],
        Gallery.gallery_id.exists(),
    )


def photo_removed(*, gallery: Gallery, photo_id: str, successor: Cover | None) -> GalleryChange:
    """A photo's delete is starting: uncount it, and when it is the cover hand the cover to
    ``successor`` (the next live photo, or none). The condition fails if the cover moved since
    ``gallery`` was read, so the caller reads again rather than overwrite a newer cover."""
    actions = [Gallery.photo_count.add(-1), Gallery.updated_at.set(now_iso())]
    condition = Gallery.gallery_id.exists()
    if gallery.cover_photo_id == photo_id:
        actions += _cover_remove() if successor is None else _cover_set(successor)
        condition &= Gallery.cover_photo_id == photo_id
    else:
        condition &= Gallery.cover_photo_id.does_not_exist() | (Gallery.cover_photo_id != photo_id)
    return GalleryChange(gallery, actions, condition)


def cover_offer(*, gallery_id: str, cover: Cover) -> bool:
    """Make this photo the cover if the current cover has a higher number (or none); True if it did."""
    return applied(
        lambda: Gallery(gallery_id).update(
            actions=_cover_set(cover),
            condition=Gallery.gallery_id.exists() & (Gallery.cover_photo_number > cover.number),
        )
    )


def year_add(*, gallery_id: str, year: int) -> bool:
    """Add a year to the gallery's years unless it is there already; True when it was added."""
    return applied(
        lambda: Gallery(gallery_id).update(
            actions=[Gallery.years.set(Gallery.years.append([year])), Gallery.updated_at.set(now_iso())],
            condition=Gallery.gallery_id.exists() & ~Gallery.years.contains(year),
        )
    )


def drift_repair(gallery: Gallery, actions: list) -> bool:
    """Apply ``drift_actions`` unless the gallery changed since it was read; False when it did.

    Every photo write moves ``updatedAt``, so a concurrent upload or delete makes this fail and the caller
    counts again rather than overwrite the gallery with stale counts.
    """
    return applied(
        lambda: gallery.update(
            actions=[*actions, Gallery.updated_at.set(now_iso())],
            condition=Gallery.updated_at == gallery.updated_at,
        )
    )


def drift_actions(
    gallery: Gallery,
    *,
    photo_count: int,
    live_cover: Cover | None,
    first: Cover | None,
    photo_years: Iterable[int],
) -> list:
    """What to change so the gallery agrees with its live photos (empty when nothing drifted).

    ``live_cover`` is the current cover when it is still a live photo, ``first`` the lowest-numbered
    live photo: the cover stays while it lives, else the first photo takes it.
    """
    actions = []
    if int(gallery.photo_count or 0) != photo_count:
        actions.append(Gallery.photo_count.set(photo_count))
    cover = live_cover or first
    if cover is None:
        if gallery.cover_photo_id or gallery.cover_photo_url or gallery.cover_photo_number:
            actions += _cover_remove()
    elif (gallery.cover_photo_id, gallery.cover_photo_url, gallery.cover_photo_number) != (
        cover.photo_id,
        cover.url,
        cover.number,
    ):
        actions += _cover_set(cover)
    stored_years = [int(year) for year in gallery.years or []]
    years = sorted(set(stored_years) | set(photo_years))
    if years != stored_years:
        actions.append(Gallery.years.set(years))
    # Galleries written before the listing index existed are not in it until these are set.
    if gallery.list_partition != LIST_PARTITION:
        actions.append(Gallery.list_partition.set(LIST_PARTITION))
    if gallery.country_key != country_key(gallery.country or ""):
        actions.append(Gallery.country_key.set(country_key(gallery.country or "")))
    return actions
