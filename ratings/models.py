"""PynamoDB model of the PhotoRatings table (attribute names exactly as in the customer's guide)."""

from django.conf import settings
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from core.aws import ClientLimits


class PhotoRating(Model):
    class Meta(ClientLimits):
        table_name = settings.PHOTO_RATINGS_TABLE
        billing_mode = "PAY_PER_REQUEST"

    photo_id = UnicodeAttribute(hash_key=True, attr_name="photoId")
    user_id = UnicodeAttribute(range_key=True, attr_name="userId")
    rating = NumberAttribute()
    rated_at = UnicodeAttribute(attr_name="ratedAt")
    # Added by this service: the photo's gallery, so a gallery's ratings can be found without a scan.
    gallery_id = UnicodeAttribute(null=True, attr_name="galleryId")
    # Added by this service: the generation of the visitor id's holding that wrote the rating
    # (``ratings.visitors``); only that holding's token may change or withdraw it. None on ratings from
    # before the service kept it, which no token reaches.
    visitor_generation = UnicodeAttribute(null=True, attr_name="visitorGeneration")
    # Added by this service: "stream" on a rating written as a plain put on a hot photo, whose move of the
    # photo's aggregate the stream aggregator adds (ratings.stream); absent on a rating whose own
    # transaction moved it.
    aggregated_by = UnicodeAttribute(null=True, attr_name="aggregatedBy")
