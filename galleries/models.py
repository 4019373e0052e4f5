"""PynamoDB model of the Galleries table (attribute names exactly as in the customer's guide)."""

from typing import Any

from django.conf import settings
from pynamodb.attributes import BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from core.aws import ClientLimits

# Every gallery carries the same listPartition, so one index lists them all newest first. Galleries are
# few and written rarely, far below what one index partition takes.
LIST_PARTITION = "gallery"


class GalleriesByCreatedAt(GlobalSecondaryIndex):
    """All galleries in createdAt order (the listing); a scan's order would shuffle as galleries come."""

    class Meta:
        index_name = "byCreatedAt"
        projection = AllProjection()
        billing_mode = "PAY_PER_REQUEST"

    list_partition = UnicodeAttribute(hash_key=True, attr_name="listPartition")
    created_at = UnicodeAttribute(range_key=True, attr_name="createdAt")


class PublicGalleriesByCreatedAt(GlobalSecondaryIndex):
    """Public galleries only, newest first: visitors' listing reads this sparse index, so it never
    examines (nor could a cursor name) an unlisted or private gallery."""

    class Meta:
        index_name = "publicByCreatedAt"
        projection = AllProjection()
        billing_mode = "PAY_PER_REQUEST"

    public_partition = UnicodeAttribute(hash_key=True, attr_name="publicPartition")
    created_at = UnicodeAttribute(range_key=True, attr_name="createdAt")


class Gallery(Model):
    class Meta(ClientLimits):
        table_name = settings.GALLERIES_TABLE
        billing_mode = "PAY_PER_REQUEST"

    gallery_id = UnicodeAttribute(hash_key=True, attr_name="galleryId")
    name = UnicodeAttribute()
    continent = UnicodeAttribute()
    country = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    years: ListAttribute[Any] = ListAttribute(of=NumberAttribute, default=list)
    photo_count = NumberAttribute(default=0, attr_name="photoCount")
    cover_photo_url = UnicodeAttribute(null=True, attr_name="coverPhotoURL")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    # Added by this service (not in the guide): the cover's photo id and number, so the lowest-numbered
    # photo is the cover and deleting it can move the cover; the last photo number handed out, so
    # numbers are never reused.
    cover_photo_id = UnicodeAttribute(null=True, attr_name="coverPhotoId")
    cover_photo_number = NumberAttribute(null=True, attr_name="coverPhotoNumber")
    last_photo_number = NumberAttribute(default=0, attr_name="lastPhotoNumber")
    # For the listing: the index's partition, and the country folded so ?country= ignores case.
    # No default: PynamoDB fills defaults in on read too, which would hide an item missing it.
    list_partition = UnicodeAttribute(null=True, attr_name="listPartition")
    country_key = UnicodeAttribute(null=True, attr_name="countryKey")
    # Set (conditionally, once) when the gallery's delete begins: from then on no photo, upload or rating
    # is accepted for it, readers see it as gone, and whoever finds it (a repeated DELETE, the photos
    # scan) finishes the delete.
    deleting_at = UnicodeAttribute(null=True, attr_name="deletingAt")
    # The item's version, +1 on every write that changes what the gallery answers: its ETag, and the
    # If-Match condition of edits (an item from before versions reads as 0).
    version = NumberAttribute(null=True)
    # Years the curator removed: a photo's date never adds them back, nor does a scan.
    years_removed: ListAttribute[Any] = ListAttribute(of=NumberAttribute, null=True, attr_name="yearsRemoved")
    # True when a curator chose the cover: it holds until that photo is deleted; otherwise the cover is
    # the lowest-numbered live photo.
    cover_chosen = BooleanAttribute(null=True, attr_name="coverChosen")
    # What visitors see of where its photos were taken: "hidden" (the default, also when missing),
    # "approximate" (about a kilometre) or "exact". Curators always see exact values (photos.privacy).
    location_privacy = UnicodeAttribute(null=True, attr_name="locationPrivacy")
    # Who may see it: "public" (listed and readable; also when missing), "unlisted" (readable by id,
    # never listed) or "private" (curators only). Photos copy it (their renditions' placement).
    visibility = UnicodeAttribute(null=True)
    # Whether visitors may download originals (without their location unless locationPrivacy is exact).
    allow_original_download = BooleanAttribute(null=True, attr_name="allowOriginalDownload")

    # Set only while the gallery is public (and listed): the sparse index visitors' listing reads.
    public_partition = UnicodeAttribute(null=True, attr_name="publicPartition")

    by_created_at = GalleriesByCreatedAt()
    public_by_created_at = PublicGalleriesByCreatedAt()


def country_key(country: str) -> str:
    return " ".join(country.split()).casefold()


PUBLIC_PARTITION = "public"


def public_partition_for(visibility: str) -> str | None:
    """The value that puts a gallery in visitors' listing index: only public galleries have one."""
    return PUBLIC_PARTITION if visibility == "public" else None


LOCATION_PRIVACY = ("hidden", "approximate", "exact")
LOCATION_PRIVACY_DEFAULT = "hidden"


def location_privacy_of(gallery: Gallery) -> str:
    """The gallery's location privacy; a gallery from before the setting hides locations."""
    value = gallery.location_privacy
    return value if value in LOCATION_PRIVACY else LOCATION_PRIVACY_DEFAULT


VISIBILITY = ("public", "unlisted", "private")
VISIBILITY_OF_OLD_GALLERIES = "public"  # the guide's galleries were all public


def visibility_of(gallery: Gallery) -> str:
    """The gallery's visibility; a gallery from before the setting is public."""
    value = gallery.visibility
    return value if value in VISIBILITY else VISIBILITY_OF_OLD_GALLERIES


def visible_to(gallery: Gallery, *, curator: bool) -> bool:
    """Curators see every gallery; everyone else public and unlisted ones (by id)."""
    return curator or visibility_of(gallery) != "private"


def downloads_allowed(gallery: Gallery) -> bool:
    return bool(gallery.allow_original_download)
