"""Re-rendering a photo whose original changed under the same key (the photos scan finds these)."""

from pynamodb.expressions.condition import Condition

from core import storage
from core.conditional import applied
from galleries import derived
from galleries.models import visibility_of
from galleries.selectors import gallery_get
from photos import keys, ordering, renditions
from photos.models import GalleryPhoto
from photos.prepare import PreparedPhoto, photo_year
from photos.selectors import photo_get, renditions_unchanged
from photos.services.placement import keep_only_listed
from photos.services.upload import rendition_sizes, renditions_plan, renditions_store


def photo_rerender(
    *,
    gallery_id: str,
    photo_id: str,
    previous_etag: str | None,
    prepared: PreparedPhoto,
    original_etag: str,
    visibility: str | None = None,
) -> bool:
    """New renditions and metadata for a photo whose original changed (or whose renditions are made
    again); same number. Renditions are keyed by their content: a rendition that comes out the same
    keeps its key, a changed one gets a new key and the old object is deleted once the item lists the new.

    Renditions are written first, then the item changes on condition that nobody re-rendered it
    meanwhile (its ETag is still the one we saw); False when that condition failed.
    """
    processed = prepared.image
    photo = photo_get(gallery_id=gallery_id, photo_id=photo_id, include_deleting=True)  # refused below
    # Where the gallery's visibility asks (keys that change are dropped below, like renamed ones).
    if visibility is None:  # the caller (a scan) usually read it for the whole gallery
        visibility = visibility_of(gallery_get(gallery_id=gallery_id, include_deleting=True))
    previous_keys = [str(key) for key in photo.rendition_keys or []]  # update() refreshes the item
    plan = renditions_plan(gallery_id, int(photo.photo_number), processed, private=visibility == "private")
    rendition_keys: list[str] = []
    renditions_store(processed, plan, rendition_keys)
    thumbnail_key = renditions.thumbnail_key(rendition_keys)
    full_size_key = renditions.full_size_key(rendition_keys)
    unchanged: Condition = (
        GalleryPhoto.original_etag.does_not_exist()
        if previous_etag is None
        else GalleryPhoto.original_etag == previous_etag
    )
    # Never recreate a deleted item, nor overwrite a move of its renditions that ran meanwhile.
    condition = unchanged & renditions_unchanged(photo)
    rerendered = applied(
        lambda: photo.update(
            actions=[
                GalleryPhoto.exif_data.set(processed.exif),
                GalleryPhoto.width.set(processed.width),
                GalleryPhoto.height.set(processed.height),
                GalleryPhoto.content_type.set(processed.content_type),
                GalleryPhoto.original_etag.set(original_etag),
                GalleryPhoto.original_size.set(prepared.size),
                GalleryPhoto.original_sha256.set(prepared.sha256),
                GalleryPhoto.thumbnail_url.set(storage.stored_url(thumbnail_key) if thumbnail_key else None),
                GalleryPhoto.full_size_url.set(storage.stored_url(full_size_key) if full_size_key else None),
                GalleryPhoto.rendition_keys.set(rendition_keys),
                GalleryPhoto.renditions.set(rendition_sizes(processed, plan)),
                GalleryPhoto.thumbhash.set(processed.thumbhash),
                GalleryPhoto.renditions_version.set(prepared.renditions_version),
                GalleryPhoto.dominant_color.set(processed.dominant_color),
                GalleryPhoto.visibility.set(visibility),
                GalleryPhoto.taken_order.set(ordering.taken_order(processed.exif, int(photo.photo_number))),
            ],
            condition=condition,
        )
    )
    if not rerendered:
        # What we wrote under keys the item does not list (a move to the other placement won the
        # race) would be strays, public ones of a private gallery at worst.
        keep_only_listed(photo, rendition_keys)
        return False
    # A location-free download copy of the old original is stale: the next download makes a new one.
    storage.objects_delete_prefix(f"{keys.downloads_prefix(gallery_id)}{photo_id}-")
    dropped = [key for key in previous_keys if key not in rendition_keys]
    if dropped:
        storage.objects_delete(key for key in dropped if keys.belongs_to_gallery(key, gallery_id))
        photo.full_size_url = storage.stored_url(full_size_key) if full_size_key else None
        derived.cover_url_moved(gallery_id=gallery_id, cover=photo.as_cover())  # if it is the cover
    year = photo_year(processed.exif)
    if year is not None:
        derived.years_merge(gallery_id=gallery_id, years=[year])
    return True
