"""Re-rendering a photo whose original changed under the same key (the photos scan finds these)."""

from pynamodb.expressions.condition import Condition

from core import storage
from core.transactions import Refused, transaction_run
from galleries import derived
from galleries.models import Gallery, visibility_of
from galleries.selectors import gallery_get
from photos import keys, ordering, renditions, tags
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

    Renditions are written first, then the item changes (with its tag entries' copy of the visibility)
    on condition that nobody re-rendered, moved or re-tagged it meanwhile (its ETag, keys and tags are
    still the ones we saw) and that the gallery still has ``visibility``; False when a condition failed.
    """
    processed = prepared.image
    photo = photo_get(gallery_id=gallery_id, photo_id=photo_id, include_deleting=True)  # refused below
    # Where the gallery's visibility asks (keys that change are dropped below, like renamed ones).
    if visibility is None:  # the caller (a scan) usually read it for the whole gallery
        visibility = visibility_of(gallery_get(gallery_id=gallery_id, include_deleting=True))
    previous_keys = [str(key) for key in photo.rendition_keys or []]
    plan = renditions_plan(gallery_id, int(photo.photo_number), processed, private=visibility == "private")
    rendition_keys: list[str] = []
    try:
        renditions_store(processed, plan, rendition_keys)
    except BaseException:
        keep_only_listed(photo, rendition_keys)  # a key that came out the same is listed: kept
        raise
    thumbnail_url, full_size_url = renditions.stored_urls(rendition_keys)
    actions = [
        GalleryPhoto.exif_data.set(processed.exif),
        GalleryPhoto.width.set(processed.width),
        GalleryPhoto.height.set(processed.height),
        GalleryPhoto.content_type.set(processed.content_type),
        GalleryPhoto.original_etag.set(original_etag),
        GalleryPhoto.original_size.set(prepared.size),
        GalleryPhoto.original_sha256.set(prepared.sha256),
        GalleryPhoto.rendition_keys.set(rendition_keys),
        GalleryPhoto.renditions.set(rendition_sizes(processed, plan)),
        GalleryPhoto.thumbhash.set(processed.thumbhash),
        GalleryPhoto.renditions_version.set(prepared.renditions_version),
        GalleryPhoto.dominant_color.set(processed.dominant_color),
        GalleryPhoto.visibility.set(visibility),
        GalleryPhoto.taken_order.set(ordering.taken_order(processed.exif, int(photo.photo_number))),
    ]
    if thumbnail_url and full_size_url:
        actions += [
            GalleryPhoto.thumbnail_url.set(thumbnail_url),
            GalleryPhoto.full_size_url.set(full_size_url),
        ]
    unchanged: Condition = (
        GalleryPhoto.original_etag.does_not_exist()
        if previous_etag is None
        else GalleryPhoto.original_etag == previous_etag
    )

    def build(transaction) -> None:
        # Never recreate a deleted item, nor overwrite a move of its renditions or an edit of its tags
        # that ran meanwhile; and only while the gallery still has the visibility these keys were placed
        # for (a scan read it minutes ago: a move to private since then must never be undone).
        condition = unchanged & renditions_unchanged(photo) & tags.entries_unchanged(photo)
        transaction.update(photo, actions=actions, condition=condition)
        transaction.condition_check(Gallery, gallery_id, condition=derived.visibility_is(visibility))
        if photo.visibility != visibility:  # the search's copy moves with the item's
            tags.tag_visibility_set(transaction, photo, visibility)

    try:
        transaction_run(build)
    except Refused:
        # What we wrote under keys the item does not list (a move to the other placement won the
        # race) would be strays, public ones of a private gallery at worst.
        keep_only_listed(photo, rendition_keys)
        return False
    # A location-free download copy of the old original is stale: the next download makes a new one.
    storage.objects_delete_prefix(f"{keys.downloads_prefix(gallery_id)}{photo_id}-")
    dropped = [key for key in previous_keys if key not in rendition_keys]
    if dropped:
        keep_only_listed(photo, dropped)  # read again: a move that landed since may list one of them
        photo.full_size_url = full_size_url
        derived.cover_url_moved(gallery_id=gallery_id, cover=photo.as_cover())  # if it is the cover
    year = photo_year(processed.exif)
    if year is not None:
        derived.years_merge(gallery_id=gallery_id, years=[year])
    return True
