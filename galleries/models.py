"""PynamoDB model of the Galleries table (attribute names exactly as in the customer's guide)."""

from typing import Any

from django.conf import settings
from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

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


class Gallery(Model):
    class Meta:
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

    by_created_at = GalleriesByCreatedAt()


def country_key(country: str) -> str:
    return " ".join(country.split()).casefold()
