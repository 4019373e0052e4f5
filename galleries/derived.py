"""The gallery fields that follow its photos: photo numbers, photoCount, the cover and years.

Galleries own these rules; photos (and the scans) compose the pieces given here into their own writes:
``numbers_reserve`` before objects are stored, the ``photo_added``/``photo_removed`` actions inside the
photo's own transaction, ``cover_offer`` and ``years_merge`` after a batch, ``drift_actions`` in the scan.

- Numbers: a block of consecutive numbers per upload, from an atomic ADD on ``lastPhotoNumber``; a
  failure later leaves a gap, never a duplicate, and numbers are never reused.
- photoCount: +1 in the transaction that writes a photo item, -1 in the one that starts its delete.
- Cover: a curator may choose it in the gallery's edit (``CoverChoice``, ``cover_actions``: the edit and
  the check that the photo is still live run in one transaction); a chosen cover holds until that photo
  is deleted, and choosing none gives it back to the automatic rule. Otherwise it is the lowest-numbered
  live photo: a new photo takes it when there is none or the cover's number is higher, deleting the
  cover moves it to the next live photo, and the scan repairs it (never a chosen one).
- Years: the curator's years, plus the years photos were taken (1826 to next year only), minus the years
  the curator removed (``yearsRemoved``: a removed year stays removed, against photos and scans);
  stored sorted.
- Version: +1 on every write that changes what the gallery answers (``touched``); the ETag and the
  If-Match condition of edits.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from core.clock import now_iso
from core.conditional import applied
from core.errors import NotFound, Rejected
from core.validation import is_plausible_year
from galleries.models import (
    LIST_PARTITION,
    VISIBILITY_OF_OLD_GALLERIES,
    Gallery,
    country_key,
    public_partition_for,
    visibility_of,
)


class GalleryGone(NotFound):
    """The gallery does not exist, or its delete has begun: it takes no new photo or rating."""

    code = "gallery_gone"
    default_message = "The gallery was deleted (or is being deleted); nothing was added to it."


def gallery_open() -> Condition:
    """The condition every write that adds to a gallery carries: it exists and its delete has not begun."""
    return Gallery.gallery_id.exists() & Gallery.deleting_at.does_not_exist()


@dataclass(frozen=True)
class Cover:
    """What the gallery keeps of its cover photo."""

    photo_id: str
    number: int
    url: str


def touched() -> list:
    """What every write that changes the gallery's answer also does: a new updatedAt and version."""
    return [Gallery.updated_at.set(now_iso()), Gallery.version.add(1)]


def automatic_cover() -> Condition:
    """No curator chose the cover (the lowest-numbered photo may take it)."""
    return Gallery.cover_chosen.does_not_exist() | (Gallery.cover_chosen == False)  # noqa: E712


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
        return gallery.update(actions=[Gallery.last_photo_number.add(count)], condition=gallery_open())

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
        [Gallery.photo_count.add(1), *_cover_if_absent(cover), *touched()],
        gallery_open(),
    )


def photo_removed(*, gallery: Gallery, photo_id: str, successor: Cover | None) -> GalleryChange:
    """A photo's delete is starting: uncount it, and when it is the cover hand the cover to
    ``successor`` (the next live photo, or none). The condition fails if the cover moved since
    ``gallery`` was read, so the caller reads again rather than overwrite a newer cover."""
    actions = [Gallery.photo_count.add(-1), *touched()]
    condition = Gallery.gallery_id.exists()
    if gallery.cover_photo_id == photo_id:
        # A chosen cover that is deleted gives the choice back to the automatic rule.
        actions += _cover_remove() if successor is None else _cover_set(successor)
        actions.append(Gallery.cover_chosen.remove())
        condition &= Gallery.cover_photo_id == photo_id
    else:
        condition &= Gallery.cover_photo_id.does_not_exist() | (Gallery.cover_photo_id != photo_id)
    return GalleryChange(gallery, actions, condition)


def cover_offer(*, gallery_id: str, cover: Cover) -> bool:
    """Make this photo the cover if no curator chose one and the current cover has a higher number (or
    there is none); True if it did."""
    return applied(
        lambda: Gallery(gallery_id).update(
            actions=[*_cover_set(cover), *touched()],
            condition=gallery_open() & automatic_cover() & (Gallery.cover_photo_number > cover.number),
        )
    )


@dataclass(frozen=True)
class CoverChoice:
    """The cover a curator's edit asks for: ``chosen`` True for their photo (``cover``), False to give the
    cover back to the automatic rule (``cover`` is then the lowest-numbered live photo, None when there
    is none). ``still_live`` adds to the edit's transaction the check that the cover's photo is live
    (None without a photo): galleries cannot see photo items, so the photos layer hands it in."""

    cover: Cover | None
    chosen: bool
    still_live: Callable[[TransactWrite], None] | None = None


class CoverNotAPhoto(Rejected):
    """The cover asked for is not a live photo of the gallery (missing, another gallery's, being deleted)."""

    code = "cover_not_a_photo"
    default_message = "The cover must be a live photo of this gallery; nothing was changed."

    def __init__(self, photo_id: str):
        message = f"Photo {photo_id[:128]!r} is not a live photo of this gallery."
        super().__init__(self.default_message, details={"coverPhotoId": [message]})


def cover_actions(gallery: Gallery, choice: CoverChoice) -> list:
    """What an edit of ``gallery`` writes for ``choice`` (empty when the gallery has it already)."""
    cover = choice.cover
    stored = (gallery.cover_photo_id, gallery.cover_photo_url, gallery.cover_photo_number)
    actions = []
    if cover is None:
        if any(part is not None for part in stored):
            actions += _cover_remove()
    elif stored != (cover.photo_id, cover.url, cover.number):
        actions += _cover_set(cover)
    if bool(gallery.cover_chosen) != choice.chosen:
        actions.append(Gallery.cover_chosen.set(True) if choice.chosen else Gallery.cover_chosen.remove())
    return actions


def visibility_is(visibility: str) -> Condition:
    """The condition a write that follows the gallery's visibility carries (a rendition move): the
    gallery is open and still has that visibility (a gallery from before the setting is public)."""
    same = Gallery.visibility == visibility
    if visibility == VISIBILITY_OF_OLD_GALLERIES:
        same = same | Gallery.visibility.does_not_exist()
    return gallery_open() & same


def cover_url_moved(*, gallery_id: str, cover: Cover) -> bool:
    """The cover photo's rendition moved (a visibility change): the gallery keeps its new URL, if that
    photo is still the cover; True when it changed."""
    return applied(
        lambda: Gallery(gallery_id).update(
            actions=[Gallery.cover_photo_url.set(cover.url), *touched()],
            condition=Gallery.gallery_id.exists()
            & (Gallery.cover_photo_id == cover.photo_id)
            & (Gallery.cover_photo_url != cover.url),
        )
    )


YEARS_ATTEMPTS = 5


def years_merge(*, gallery_id: str, years: Iterable[int]) -> bool:
    """Add the years photos were taken in, by the years rule; True when the gallery changed.

    A read, then a write on condition that the version is still the one read (years stay sorted and a
    curator's concurrent edit is never overwritten); read again when someone wrote meanwhile.
    """
    found = {year for year in years if is_plausible_year(year)}
    for _ in range(YEARS_ATTEMPTS):
        try:
            gallery = Gallery.get(gallery_id, consistent_read=True)
        except Gallery.DoesNotExist:
            return False
        stored = [int(year) for year in gallery.years or []]
        merged = sorted((set(stored) | found) - {int(year) for year in gallery.years_removed or []})
        if merged == stored or gallery.deleting_at is not None:
            return False
        if applied(
            lambda gallery=gallery, merged=merged: gallery.update(
                actions=[Gallery.years.set(merged), *touched()],
                condition=gallery_open() & version_is(gallery.version),
            )
        ):
            return True
    return False


def version_is(version) -> Condition:
    """The condition that the gallery's version is still ``version`` (None or 0: an item from before
    versions)."""
    if not version:
        return Gallery.version.does_not_exist() | (Gallery.version == 0)
    return Gallery.version == int(version)


def drift_repair(gallery: Gallery, actions: list) -> bool:
    """Apply ``drift_actions`` unless the gallery changed since it was read; False when it did.

    Every photo write moves the version, so a concurrent upload or delete makes this fail and the caller
    counts again rather than overwrite the gallery with stale counts.
    """
    return applied(
        lambda: gallery.update(
            actions=[*actions, *touched()],
            condition=version_is(gallery.version) & gallery_open(),
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
    live photo: a chosen cover stays while it lives, else the first photo is the cover.
    """
    actions = []
    if int(gallery.photo_count or 0) != photo_count:
        actions.append(Gallery.photo_count.set(photo_count))
    chosen = bool(gallery.cover_chosen) and live_cover is not None
    cover = live_cover if chosen else first
    if gallery.cover_chosen and not chosen:
        actions.append(Gallery.cover_chosen.remove())
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
    removed = {int(year) for year in gallery.years_removed or []}
    years = sorted({year for year in {*stored_years, *photo_years} if is_plausible_year(year)} - removed)
    if years != stored_years:
        actions.append(Gallery.years.set(years))
    # Galleries written before the listing index existed are not in it until these are set.
    if gallery.list_partition != LIST_PARTITION:
        actions.append(Gallery.list_partition.set(LIST_PARTITION))
    if gallery.country_key != country_key(gallery.country or ""):
        actions.append(Gallery.country_key.set(country_key(gallery.country or "")))
    listed = public_partition_for(visibility_of(gallery))  # galleries from before visitors' index
    if gallery.public_partition != listed:
        actions.append(Gallery.public_partition.set(listed) if listed else Gallery.public_partition.remove())
    return actions
