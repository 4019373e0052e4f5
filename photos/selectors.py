"""Photo reads: one photo, a gallery's photos in photoNumber order with a tag filter, a photo the reader
may see with a visitor's rating of it."""

from collections.abc import Iterator

from pynamodb.expressions.condition import Condition

from core.errors import NotFound
from core.pagination import Page, paginate
from core.validation import is_valid_id
from galleries.selectors import gallery_read
from photos.models import GalleryPhoto
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
    """A live photo from its id alone (through the byPhotoId index). NotFound names the photo only: its
    caller knows no gallery, and may not be allowed to learn one (the index still lists a photo whose
    delete has begun, or whose item is gone)."""
    if is_valid_id(photo_id):
        for key in GalleryPhoto.by_photo_id.query(photo_id, limit=1):
            try:
                return photo_get(gallery_id=key.gallery_id, photo_id=photo_id)
            except NotFound:
                break
    raise _no_such_photo(photo_id)


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


def photo_list(*, gallery_id: str, cursor: str | None, page_size: int, tag: str | None = None) -> Page:
    """A page of a gallery's live photos in photoNumber order. Callers read the gallery first (its
    existence and its location rule), so it is not read again here."""
    condition = is_live()
    if tag:
        condition &= GalleryPhoto.tags.contains(tag.strip().lower())

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
