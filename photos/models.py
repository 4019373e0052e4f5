"""PynamoDB model of the GalleryPhotos table (attribute names exactly as in the customer's guide)."""

import hashlib
import json
from typing import Any

from django.conf import settings
from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

from core.aws import ClientLimits
from galleries.derived import Cover


class PhotoNumberIndex(LocalSecondaryIndex):
    """A gallery's photos in photoNumber order."""

    class Meta:
        index_name = "byPhotoNumber"
        projection = AllProjection()

    gallery_id = UnicodeAttribute(hash_key=True, attr_name="galleryId")
    photo_number = NumberAttribute(range_key=True, attr_name="photoNumber")


class PhotoIdIndex(GlobalSecondaryIndex):
    """Find a photo's gallery from its photoId alone (ratings address photos by id). Eventually
    consistent, as every global index: only where to look (``photos.selectors.photo_find``)."""

    class Meta:
        index_name = "byPhotoId"
        projection = KeysOnlyProjection()
        billing_mode = "PAY_PER_REQUEST"

    photo_id = UnicodeAttribute(hash_key=True, attr_name="photoId")


class _GalleryOrderIndex(GlobalSecondaryIndex):
    """A gallery's photos in one more order (keys only: a page is then read by key, strongly
    consistent, so the index decides only the order and never what a reader sees of a photo, and
    writes that do not change the order key, a rating's count for one, cost the index nothing)."""

    class Meta:
        projection = KeysOnlyProjection()
        billing_mode = "PAY_PER_REQUEST"

    gallery_id = UnicodeAttribute(hash_key=True, attr_name="galleryId")


class UploadedAtIndex(_GalleryOrderIndex):
    class Meta(_GalleryOrderIndex.Meta):
        index_name = "byUploadedAt"

    uploaded_at = UnicodeAttribute(range_key=True, attr_name="uploadedAt")


class TakenAtIndex(_GalleryOrderIndex):
    class Meta(_GalleryOrderIndex.Meta):
        index_name = "byTakenAt"

    taken_order = UnicodeAttribute(range_key=True, attr_name="takenOrder")


class RatingIndex(_GalleryOrderIndex):
    class Meta(_GalleryOrderIndex.Meta):
        index_name = "byRating"

    rating_order = UnicodeAttribute(range_key=True, attr_name="ratingOrder")


class RenditionAttribute(MapAttribute):
    """One rendition's file as stored: its name within the photo's rendition keys (the key's last part,
    which does not change when a visibility change moves it), pixels, format and size."""

    file = UnicodeAttribute()
    width = NumberAttribute()
    height = NumberAttribute()
    format = UnicodeAttribute()
    bytes = NumberAttribute()


class GalleryPhoto(Model):
    class Meta(ClientLimits):
        table_name = settings.GALLERY_PHOTOS_TABLE
        billing_mode = "PAY_PER_REQUEST"

    gallery_id = UnicodeAttribute(hash_key=True, attr_name="galleryId")
    photo_id = UnicodeAttribute(range_key=True, attr_name="photoId")
    photo_number = NumberAttribute(attr_name="photoNumber")
    title = UnicodeAttribute(default="")
    description = UnicodeAttribute(default="")
    # Added by this service: the text a screen reader says in place of the photo (empty: none given).
    alt_text = UnicodeAttribute(default="", attr_name="altText")
    tags: ListAttribute[Any] = ListAttribute(of=UnicodeAttribute, default=list)
    s3_key = UnicodeAttribute(attr_name="s3Key")
    thumbnail_url = UnicodeAttribute(null=True, attr_name="thumbnailURL")
    full_size_url = UnicodeAttribute(null=True, attr_name="fullSizeURL")
    exif_data: MapAttribute = MapAttribute(default=dict, attr_name="exifData")
    uploaded_at = UnicodeAttribute(attr_name="uploadedAt")
    # Added by this service: every object key the photo owns besides the original (renditions), and
    # what the original looked like when its renditions were made (so a scan can tell it changed).
    rendition_keys: ListAttribute[Any] = ListAttribute(
        of=UnicodeAttribute, default=list, attr_name="renditionKeys"
    )
    original_etag = UnicodeAttribute(null=True, attr_name="originalETag")
    original_size = NumberAttribute(null=True, attr_name="originalSize")
    # The original's SHA-256 (hex): the same bytes twice in a gallery are noticed (photos.content).
    original_sha256 = UnicodeAttribute(null=True, attr_name="originalSHA256")
    content_type = UnicodeAttribute(null=True, attr_name="contentType")
    original_url = UnicodeAttribute(null=True, attr_name="originalURL")
    # Set when a delete starts: readers skip the photo from then on, and a repeated delete or a scan
    # finishes the job if the objects or ratings could not all be removed the first time.
    deleting_at = UnicodeAttribute(null=True, attr_name="deletingAt")
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    # The rating aggregate: its rules (changes, initialisation, derived values) are ratings.aggregate's.
    # No full default histogram: PynamoDB fills defaults in on read too, which would hide an old item's
    # missing buckets; new photos are written with ratings.aggregate.empty_histogram().
    rating_count = NumberAttribute(default=0, attr_name="ratingCount")
    rating_sum = NumberAttribute(default=0, attr_name="ratingSum")
    rating_histogram: MapAttribute = MapAttribute(default=dict, attr_name="ratingHistogram")
    # Until when the photo is "hot" (ISO time): its ratings' transactions kept meeting each other, so its
    # ratings are plain puts added to the aggregate from PhotoRatings' stream (photos.services.rate).
    rating_hot_until = UnicodeAttribute(null=True, attr_name="ratingHotUntil")

    # A copy of the gallery's visibility, written with the renditions' placement (public and unlisted
    # galleries' renditions under the public prefix, private ones' under the private prefix): a listing
    # or search of photos never needs to read a hidden gallery. photos.services.placement rewrites it.
    visibility = UnicodeAttribute(null=True, attr_name="galleryVisibility")

    # What pages need before the image: each rendition's size and bytes (``renditions``, by file name
    # within ``renditionKeys``), a ThumbHash placeholder (base64) and the dominant colour (#rrggbb).
    renditions: ListAttribute[Any] = ListAttribute(of=RenditionAttribute, default=list)
    thumbhash = UnicodeAttribute(null=True)
    # photos.renditions.renditions_version when they were made (absent: before sizes and placeholders).
    renditions_version = UnicodeAttribute(null=True, attr_name="renditionsVersion")
    dominant_color = UnicodeAttribute(null=True, attr_name="dominantColor")

    # Order keys of the gallery's other orders (``photos.ordering`` makes them; absent on items from
    # before them until the photos scan fills them in).
    taken_order = UnicodeAttribute(null=True, attr_name="takenOrder")
    rating_order = UnicodeAttribute(null=True, attr_name="ratingOrder")

    # The curator's edits of the photo (title, description, tags, alt text): +1 on each that changes one
    # (photos.services.edit), so If-Match on an edit compares one number; an item never edited has none.
    version = NumberAttribute(null=True)

    by_number = PhotoNumberIndex()
    by_photo_id = PhotoIdIndex()
    by_uploaded_at = UploadedAtIndex()
    by_taken_at = TakenAtIndex()
    by_rating = RatingIndex()

    def as_cover(self) -> Cover:
        """What the gallery keeps of this photo when it is the cover."""
        return Cover(self.photo_id, int(self.photo_number), self.full_size_url or "")

    def state_tag(self) -> str:
        """The photo's ETag as stored: ``v<version>`` (its edit version, which If-Match names), then a
        digest of the stored state a reader sees (not of an answer with signed URLs), which changes when
        the photo is re-rendered, rated or edited (If-None-Match).

        If-Match compares the version alone, as a gallery's does: visitors' ratings and the scans'
        re-renders change what a reader sees but never what a curator edits, so they do not make a
        curator's edit fail."""
        state = [
            self.photo_id,
            self.original_etag,
            self.title,
            self.description,
            self.alt_text,
            sorted(self.tags or []),
            self.rating_count,
            self.rating_sum,
            self.full_size_url,
            self.exif(),
        ]
        digest = hashlib.sha256(json.dumps(state, default=str).encode()).hexdigest()[:20]
        return f"v{self.edit_version()}.{digest}"

    def edit_version(self) -> int:
        """How many edits changed the photo (0 for one never edited)."""
        return int(self.version or 0)

    def exif(self) -> dict:
        """The EXIF fields as a plain dict (empty when none were read)."""
        exif = self.exif_data
        return exif.as_dict() if hasattr(exif, "as_dict") else dict(exif or {})


class PublicTagIndex(GlobalSecondaryIndex):
    """The entries of photos in public galleries only (sparse: ``publicTag`` is set on those alone), by
    tag, newest first: a visitor's search reads this and never an entry of another gallery."""

    class Meta:
        index_name = "publicByTag"
        projection = AllProjection()
        billing_mode = "PAY_PER_REQUEST"

    public_tag = UnicodeAttribute(hash_key=True, attr_name="publicTag")
    entry_key = UnicodeAttribute(range_key=True, attr_name="entryKey")


class TagEntriesOfGalleryIndex(GlobalSecondaryIndex):
    """A gallery's entries, for the photos scan to compare them with the gallery's photos."""

    class Meta:
        index_name = "byGallery"
        projection = AllProjection()
        billing_mode = "PAY_PER_REQUEST"

    gallery_id = UnicodeAttribute(hash_key=True, attr_name="galleryId")
    entry_key = UnicodeAttribute(range_key=True, attr_name="entryKey")


class PhotoTag(Model):
    """One tag of one photo, with the photo's copy of its gallery's visibility: the search of photos by tag
    across galleries reads these instead of every gallery (``photos.tags`` writes them, in the same
    transactions as the photo's own changes; the photos scan repairs them)."""

    class Meta(ClientLimits):
        table_name = settings.PHOTO_TAGS_TABLE
        billing_mode = "PAY_PER_REQUEST"

    tag = UnicodeAttribute(hash_key=True)
    # "<uploadedAt>#<galleryId>#<photoId>" (``key_of``): newest first when read backwards, one per photo.
    entry_key = UnicodeAttribute(range_key=True, attr_name="entryKey")
    gallery_id = UnicodeAttribute(attr_name="galleryId")
    photo_id = UnicodeAttribute(attr_name="photoId")
    visibility = UnicodeAttribute(attr_name="galleryVisibility")
    public_tag = UnicodeAttribute(null=True, attr_name="publicTag")

    public_by_tag = PublicTagIndex()
    by_gallery = TagEntriesOfGalleryIndex()

    @staticmethod
    def key_of(photo: GalleryPhoto) -> str:
        """The sort key of a photo's entries (ids never hold "#", an ISO time neither)."""
        return f"{photo.uploaded_at}#{photo.gallery_id}#{photo.photo_id}"

    @staticmethod
    def ids_in(entry_key: str) -> tuple[str, str]:
        """The gallery id and photo id an entry's sort key names."""
        _, gallery_id, photo_id = entry_key.rsplit("#", 2)
        return gallery_id, photo_id
