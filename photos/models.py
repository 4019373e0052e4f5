"""PynamoDB model of the GalleryPhotos table (attribute names exactly as in the customer's guide)."""

from django.conf import settings
from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

# Claim ids sort after every photo id (ids start with a letter or digit), so one range condition
# separates photos from claims in a gallery's partition.
CLAIM_PREFIX = "~original#"


class PhotoNumberIndex(LocalSecondaryIndex):
    """A gallery's photos in photoNumber order."""

    class Meta:
        index_name = "byPhotoNumber"
        projection = AllProjection()

    gallery_id = UnicodeAttribute(hash_key=True, attr_name="galleryId")
    photo_number = NumberAttribute(range_key=True, attr_name="photoNumber")


class PhotoIdIndex(GlobalSecondaryIndex):
    """Find a photo's gallery from its photoId alone (ratings address photos by id)."""

    class Meta:
        index_name = "byPhotoId"
        projection = KeysOnlyProjection()
        billing_mode = "PAY_PER_REQUEST"

    photo_id = UnicodeAttribute(hash_key=True, attr_name="photoId")


class GalleryPhoto(Model):
    class Meta:
        table_name = settings.GALLERY_PHOTOS_TABLE
        billing_mode = "PAY_PER_REQUEST"

    gallery_id = UnicodeAttribute(hash_key=True, attr_name="galleryId")
    photo_id = UnicodeAttribute(range_key=True, attr_name="photoId")
    photo_number = NumberAttribute(attr_name="photoNumber")
    title = UnicodeAttribute(default="")
    description = UnicodeAttribute(default="")
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    s3_key = UnicodeAttribute(attr_name="s3Key")
    thumbnail_url = UnicodeAttribute(null=True, attr_name="thumbnailURL")
    full_size_url = UnicodeAttribute(null=True, attr_name="fullSizeURL")
    exif_data = MapAttribute(default=dict, attr_name="exifData")
    uploaded_at = UnicodeAttribute(attr_name="uploadedAt")
    # Added by this service: every object key the photo owns besides the original (renditions), and
    # what the original looked like when its renditions were made (so a scan can tell it changed).
    rendition_keys = ListAttribute(of=UnicodeAttribute, default=list, attr_name="renditionKeys")
    original_etag = UnicodeAttribute(null=True, attr_name="originalETag")
    original_size = NumberAttribute(null=True, attr_name="originalSize")
    content_type = UnicodeAttribute(null=True, attr_name="contentType")
    original_url = UnicodeAttribute(null=True, attr_name="originalURL")
    # Set when a delete starts: readers skip the photo from then on, and a repeated delete or a scan
    # finishes the job if the objects or ratings could not all be removed the first time.
    deleting_at = UnicodeAttribute(null=True, attr_name="deletingAt")
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    # Rating aggregates, changed only inside the rating transaction; the average is derived.
    rating_count = NumberAttribute(default=0, attr_name="ratingCount")
    rating_sum = NumberAttribute(default=0, attr_name="ratingSum")
    rating_histogram = MapAttribute(default=dict, attr_name="ratingHistogram")

    by_number = PhotoNumberIndex()
    by_photo_id = PhotoIdIndex()


class OriginalClaim(Model):
    """A run's claim on adopting one original (lives in GalleryPhotos; see the module docstring)."""

    class Meta:
        table_name = settings.GALLERY_PHOTOS_TABLE

    gallery_id = UnicodeAttribute(hash_key=True, attr_name="galleryId")
    claim_id = UnicodeAttribute(range_key=True, attr_name="photoId")
    s3_key = UnicodeAttribute(attr_name="s3Key")
    owner = UnicodeAttribute()
    claimed_until = NumberAttribute(attr_name="claimedUntil")
    adopted_photo_id = UnicodeAttribute(null=True, attr_name="adoptedPhotoId")

    @classmethod
    def _get_connection(cls):
        # Same table as GalleryPhoto: share its connection, so resetting clients resets this one too.
        return GalleryPhoto._get_connection()
