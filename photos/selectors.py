"""Photo reads: one photo, a gallery's photos in one of its orders with a tag filter, photos with a tag
across the galleries a reader may see, a photo the reader may see with a visitor's rating of it."""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from pynamodb.expressions.condition import Condition

from core.errors import NotFound
from core.pagination import Looked, Page, RawKey, paginate, paginate_keyed
from core.validation import is_valid_id
from galleries.models import Gallery
from galleries.selectors import galleries_listed, gallery_read
from photos.models import GalleryPhoto, PhotoTag
from photos.ordering import NEWEST, PHOTO_NUMBER, TAKEN_FIRST, TAKEN_LAST, TOP_RATED, UNDATED
from photos.recent import recent_gallery
from ratings.selectors import VisitorRating, rating_of


def photo_get(*, gallery_id: str, photo_id: str, include_deleting: bool = False) -> GalleryPhoto:
    """A live photo of a gallery; ``include_deleting`` also finds one whose delete is under way."""
    if is_valid_id(gallery_id) and is_valid_id(photo_id):
        try:
            photo = GalleryPhoto.get(gallery_id, photo_id, consistent_read=True)
        except GalleryPhoto.DoesNotExist:
            photo = None
        if photo is not None and (include_deleting or photo.deleting_at is None):
            return photo
    raise NotFound(f"Photo {photo_id[:128]!r} does not exist in gallery {gallery_id[:128]!r}.")


def photo_find(*, photo_id: str) -> GalleryPhoto:
    """A live photo from its id alone. NotFound names the photo only: its caller knows no gallery, and
    may not be allowed to learn one.

    An id says nothing of its gallery: the byPhotoId index knows it, but is eventually consistent (it
    may not list a photo committed a moment ago, and still list one deleted a moment ago), so it is
    only asked where to look, and when it lists nothing the record a photo's commit writes answers for
    a photo written lately (``photos.recent``, read strongly consistent). The photo item is then read
    strongly consistent, and it alone decides: a photo is answered once its upload has answered, and
    never once its delete has begun, whatever the index says.
    """
    if is_valid_id(photo_id):
        gallery_id = _gallery_of(photo_id)
        if gallery_id is not None:
            try:
                return photo_get(gallery_id=gallery_id, photo_id=photo_id)
            except NotFound:
                pass
    raise _no_such_photo(photo_id)


def _gallery_of(photo_id: str) -> str | None:
    """Where to look for a photo: the gallery the byPhotoId index names, else the one a recently written
    photo's record names (ids are made once and never move between galleries, so both agree when both
    answer); None when neither knows the id."""
    for key in GalleryPhoto.by_photo_id.query(photo_id, limit=1):
        return key.gallery_id
    return recent_gallery(photo_id=photo_id)


def _no_such_photo(photo_id: str) -> NotFound:
    """The 404 of a photo found by its id alone, missing or hidden alike: it never names a gallery."""
    return NotFound(f"Photo {photo_id[:128]!r} does not exist.")


def photo_after_write(*, photo: GalleryPhoto) -> GalleryPhoto:
    """A photo's item read again for the answer of a write to it, found even once its delete has begun
    (the write landed before); NotFound, naming the photo only, if the item is gone."""
    try:
        return photo_get(gallery_id=photo.gallery_id, photo_id=photo.photo_id, include_deleting=True)
    except NotFound:
        raise _no_such_photo(photo.photo_id) from None


def is_live() -> Condition:
    """The condition that a photo's delete has not started: readers see only these."""
    return GalleryPhoto.deleting_at.does_not_exist()


def renditions_unchanged(photo: GalleryPhoto) -> Condition:
    """The condition that the item still lists the renditions ``photo`` was read with (a move or a
    re-render that ran meanwhile changed them), is live, and exists (never recreated)."""
    listed = GalleryPhoto.rendition_keys == list(photo.rendition_keys or [])
    if not photo.rendition_keys:
        listed = GalleryPhoto.rendition_keys.does_not_exist() | listed
    return GalleryPhoto.photo_id.exists() & is_live() & listed


def photo_alive() -> Condition:
    """The condition a write to a photo item carries when the photo must still be live."""
    return GalleryPhoto.photo_id.exists() & is_live()


def photo_list(
    *,
    gallery_id: str,
    cursor: str | None,
    page_size: int,
    tag: str | None = None,
    ordering: str = PHOTO_NUMBER,
) -> Page:
    """A page of a gallery's live photos in one of ``photos.ordering.ORDERINGS`` (photoNumber by default),
    optionally only those with a tag. Callers read the gallery first (its existence and its location
    rule), so it is not read again here.

    photoNumber reads the local index, which holds the items themselves. The other orders read their
    keys-only index and then the page's items by key, strongly consistent (``paginate_keyed``): the index
    decides only the order, never what is answered of a photo. A photo whose order key is missing (an
    item from before the key, until the photos scan fills it in) is not in that order's listing.
    Each order's cursors open only that order's listing of this gallery.
    """
    wanted = tag or None  # cleaned as stored tags are (photos.serializers.TagQueryField)
    if ordering == PHOTO_NUMBER:
        return _photos_by_number(gallery_id=gallery_id, cursor=cursor, page_size=page_size, tag=wanted)
    if ordering not in _ORDER_PARTS:
        raise ValueError(f"unknown ordering {ordering!r}")

    def read(found: list[RawKey]) -> list[Looked]:
        photos = _photos_of([(gallery_id, key["photoId"]["S"]) for key in found])
        answered = []
        for key in found:
            photo = photos.get((gallery_id, key["photoId"]["S"]))
            keep = (
                photo is not None
                and photo.deleting_at is None
                and (not wanted or wanted in (photo.tags or []))
            )
            answered.append(Looked(photo if keep else None))
        return answered

    return paginate_keyed(
        [partial(part, gallery_id) for part in _ORDER_PARTS[ordering]],
        read,
        cursor=cursor,
        page_size=page_size,
        scope=f"photos:{gallery_id}:{ordering}",
        filtered=bool(wanted),
    )


def _photos_by_number(*, gallery_id: str, cursor: str | None, page_size: int, tag: str | None) -> Page:
    condition = is_live()
    if tag:
        condition &= GalleryPhoto.tags.contains(tag)

    def fetch(start_key, limit):
        return GalleryPhoto.by_number.query(
            gallery_id, filter_condition=condition, last_evaluated_key=start_key, page_size=limit
        )

    # Filtered by tag: a page examines a bounded number of photos and answers a cursor to go on.
    return paginate(
        fetch,
        model=GalleryPhoto,
        cursor=cursor,
        page_size=page_size,
        scope=f"photos:{gallery_id}",
        filtered=bool(tag),
    )


def _by_uploaded_newest(gallery_id: str, start_key: RawKey | None, limit: int):
    return GalleryPhoto.by_uploaded_at.query(
        gallery_id, scan_index_forward=False, last_evaluated_key=start_key, page_size=limit
    )


def _by_rating_top(gallery_id: str, start_key: RawKey | None, limit: int):
    # Read backwards: the highest average first, and among equals the lowest number (ordering.rating_order).
    return GalleryPhoto.by_rating.query(
        gallery_id, scan_index_forward=False, last_evaluated_key=start_key, page_size=limit
    )


def _dated(forward: bool):
    def query(gallery_id: str, start_key: RawKey | None, limit: int):
        return GalleryPhoto.by_taken_at.query(
            gallery_id,
            GalleryPhoto.taken_order < UNDATED,
            scan_index_forward=forward,
            last_evaluated_key=start_key,
            page_size=limit,
        )

    return query


def _undated(gallery_id: str, start_key: RawKey | None, limit: int):
    # Photos whose date is unknown come after the dated ones in both directions, by number.
    return GalleryPhoto.by_taken_at.query(
        gallery_id,
        GalleryPhoto.taken_order.startswith(UNDATED),
        last_evaluated_key=start_key,
        page_size=limit,
    )


# Each order other than photoNumber: the index queries its listing reads, one after the other.
_ORDER_PARTS = {
    TOP_RATED: [_by_rating_top],
    TAKEN_FIRST: [_dated(forward=True), _undated],
    TAKEN_LAST: [_dated(forward=False), _undated],
    NEWEST: [_by_uploaded_newest],
}


@dataclass(frozen=True)
class Found:
    """A photo a search found, with its gallery (its answer follows the gallery's location and download
    rules)."""

    photo: GalleryPhoto
    gallery: Gallery


def photos_tagged(*, tag: str, curator: bool, cursor: str | None, page_size: int) -> Page:
    """A page of the live photos with ``tag`` across every gallery the reader may search, newest first
    (``Found`` items). Curators search every gallery; anyone else public galleries only (an unlisted one
    is seen only by those who have its link, so no search shows it).

    Reads the photos' tag entries (``photos.tags``): a visitor's query reads only the index of public
    galleries' entries. Each page then reads its galleries (the truth: an entry whose copy of the
    visibility is stale, a change under way, is skipped, and so is a gallery being deleted), and only
    then the photos of the galleries the reader may search, by key and strongly consistent (a photo
    whose delete began, or that no longer has the tag, is skipped). A cursor names only entries of
    galleries the reader may search, and opens only this tag's search for this kind of reader.
    """
    wanted = tag or ""  # cleaned as stored tags are (photos.serializers.TagQueryField)

    def fetch(start_key: RawKey | None, limit: int):
        if curator:
            return PhotoTag.query(
                wanted, scan_index_forward=False, last_evaluated_key=start_key, page_size=limit
            )
        return PhotoTag.public_by_tag.query(
            wanted, scan_index_forward=False, last_evaluated_key=start_key, page_size=limit
        )

    def read(found: list[RawKey]) -> list[Looked]:
        entries = [PhotoTag.ids_in(key["entryKey"]["S"]) for key in found]
        galleries = galleries_listed(gallery_ids={gallery_id for gallery_id, _ in entries}, curator=curator)
        # Photos are read only in galleries the reader may search.
        photos = _photos_of([entry for entry in entries if entry[0] in galleries])
        answered = []
        for gallery_id, photo_id in entries:
            photo = photos.get((gallery_id, photo_id))
            if photo is None or photo.deleting_at is not None or wanted not in (photo.tags or []):
                answered.append(Looked(None, known=gallery_id in galleries))
            else:
                answered.append(Looked(Found(photo, galleries[gallery_id])))
        return answered

    return paginate_keyed(
        [fetch],
        read,
        cursor=cursor,
        page_size=page_size,
        scope=f"photos-tagged:{'curator' if curator else 'visitor'}:{wanted}",
        filtered=True,
    )


def _photos_of(keys: list[tuple[str, str]]) -> dict[tuple[str, str], GalleryPhoto]:
    """Photos read by (gallery id, photo id), strongly consistent, by that key."""
    found = GalleryPhoto.batch_get(keys, consistent_read=True) if keys else ()
    return {(photo.gallery_id, photo.photo_id): photo for photo in found}


def photos_live(*, gallery_id: str, photo_ids: list[str]) -> list[GalleryPhoto]:
    """The live photos among ``photo_ids`` of a gallery, in that order (one read for all, strongly
    consistent); a photo gone or whose delete has begun is left out."""
    wanted = dict.fromkeys(photo_id for photo_id in photo_ids if is_valid_id(photo_id))  # a key once
    found = _photos_of([(gallery_id, photo_id) for photo_id in wanted])
    keys = [(gallery_id, photo_id) for photo_id in photo_ids]
    return [found[key] for key in keys if key in found and found[key].deleting_at is None]


def photo_first_live(*, gallery_id: str, excluding: str | None = None) -> GalleryPhoto | None:
    """The lowest-numbered live photo of a gallery (the natural cover), optionally skipping one."""
    condition = is_live()
    if excluding:
        condition &= GalleryPhoto.photo_id != excluding
    for photo in GalleryPhoto.by_number.query(gallery_id, filter_condition=condition, page_size=10):
        return photo
    return None


def photos_live_in_order(*, gallery_id: str, fields: list[str]) -> Iterator[GalleryPhoto]:
    """A gallery's live photos in photoNumber order, only ``fields`` read, strongly consistent."""
    return GalleryPhoto.by_number.query(
        gallery_id, filter_condition=is_live(), consistent_read=True, attributes_to_get=fields
    )


def photos_of_gallery(*, gallery_id: str, fields: list[str] | None = None) -> Iterator[GalleryPhoto]:
    """Every photo item of a gallery, deleting ones included, strongly consistent (a Query)."""
    return GalleryPhoto.query(gallery_id, consistent_read=True, attributes_to_get=fields)


def photo_with_key_exists(*, gallery_id: str, original_key: str, excluding: str | None = None) -> bool:
    """Whether a photo item of the gallery (other than ``excluding``) holds this original key (reads the
    gallery's partition; the photo id, a key attribute, cannot be in DynamoDB's filter)."""
    matches = GalleryPhoto.query(
        gallery_id,
        filter_condition=GalleryPhoto.s3_key == original_key,
        consistent_read=True,
        attributes_to_get=["photoId"],
    )
    return any(match.photo_id != excluding for match in matches)


def photo_exists(*, gallery_id: str, photo_id: str) -> bool:
    """Whether the item exists at all (live or being deleted)."""
    try:
        GalleryPhoto.get(gallery_id, photo_id, consistent_read=True, attributes_to_get=["photoId"])
    except GalleryPhoto.DoesNotExist:
        return False
    return True


def photo_readable(*, photo_id: str, curator: bool) -> GalleryPhoto:
    """A live photo whose gallery the reader may see, for every rating route; NotFound otherwise (a
    private gallery's photo reads as missing to visitors), naming the photo only, whatever the cause.

    NotFound too once the gallery's delete began. A rating that read the gallery just before is
    committed and then removed with the photo (marked before its ratings are purged): no rating
    outlives its photo. (A condition on the gallery inside the rating's transaction would make every
    rating of a gallery conflict with every other one: DynamoDB conflicts on shared items.)
    """
    photo = photo_find(photo_id=photo_id)  # NotFound once the photo is gone or its delete has started
    try:
        gallery_read(gallery_id=photo.gallery_id, curator=curator)
    except NotFound:
        # The answer of a photo that does not exist: naming the gallery would reveal the photo and
        # the id of a gallery the reader may not know of.
        raise _no_such_photo(photo_id) from None
    return photo


def photo_rating_read(*, photo_id: str, user_id: str, curator: bool) -> VisitorRating:
    """The visitor's rating (None if they have not rated) and the aggregate of a photo the reader may see."""
    photo = photo_readable(photo_id=photo_id, curator=curator)
    return VisitorRating(photo, user_id, rating_of(photo_id=photo_id, user_id=user_id))


def photo_gallery_ids() -> set[str]:
    """The gallery id of every photo partition (a scan of the table reading only the key: for the photos
    scan's search for photos whose gallery is gone)."""
    return {photo.gallery_id for photo in GalleryPhoto.scan(attributes_to_get=["galleryId"])}


def photo_number_taken(*, gallery_id: str, number: int) -> bool:
    """Whether an item of the gallery holds this photo number (strongly consistent)."""
    matches = GalleryPhoto.by_number.query(
        gallery_id, GalleryPhoto.photo_number == number, consistent_read=True, limit=1
    )
    return any(True for _ in matches)
