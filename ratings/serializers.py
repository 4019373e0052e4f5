"""Rating serializers: the rating body and query, the aggregate, a visitor's rating, a new visitor id."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.validation import IdField
from ratings import aggregate


class StarsField(serializers.IntegerField):
    """1 to 5 stars as a JSON whole number; text, booleans and fractions are refused, never coerced."""

    default_error_messages = {"invalid": "Must be a whole number from 1 to 5."}

    def __init__(self, **kwargs):
        message = self.default_error_messages["invalid"]
        kwargs.setdefault("error_messages", {"min_value": message, "max_value": message})
        super().__init__(min_value=1, max_value=5, **kwargs)

    def to_internal_value(self, data):
        if type(data) is not int:  # bool is a subclass of int, so isinstance would let true through
            self.fail("invalid")
        return super().to_internal_value(data)


class RatingKeySerializer(serializers.Serializer):
    photoId = IdField()
    # Visitors' ids follow the id rule (1-128 letters, digits, '.', '_', '-'): they appear in URL paths
    # and as the table's sort key.
    userId = IdField()


class RatingInputSerializer(RatingKeySerializer):
    rating = StarsField()


class RatingBodySerializer(serializers.Serializer):
    """A visitor's rating of a photo: the stars (the photo and the visitor are the path's)."""

    # The schema's body of PUT /api/photos/{photoId}/ratings/{userId}: the view merges the path's ids
    # into the body and validates RatingInputSerializer (a body may repeat the ids, if they are the path's;
    # the schema leaves them out: nothing to gain, and a way to be refused).
    rating = StarsField(
        help_text="1 to 5 stars, a JSON whole number (text, booleans and fractions are refused)."
    )

    class Meta:
        ref_name = "Rating"


class RatingHistogramSerializer(serializers.Serializer):
    """How many ratings give each number of stars: always the five buckets "1" to "5"."""

    def get_fields(self):
        return {
            str(stars): serializers.IntegerField(min_value=0, help_text=f"Ratings of {stars} stars.")
            for stars in aggregate.RATING_VALUES
        }

    class Meta:
        ref_name = "RatingHistogram"


AVERAGE_HELP = "The mean of the ratings, to two decimals; null before the first rating."
COUNT_HELP = "How many visitors rated the photo."


class RatingCountField(serializers.IntegerField):
    """A photo's count of ratings as answered: never below 0, which a stored count is only for the
    moment a withdrawal is applied before the streamed rating it withdraws (``aggregate.Change``)."""

    def to_representation(self, value) -> int:
        return max(0, int(value or 0))


class RatingAggregateSerializer(serializers.Serializer):
    """A photo's ratings summed up: their mean, their count and how many give each number of stars."""

    photoId = serializers.CharField(source="photo_id")
    averageRating = serializers.SerializerMethodField(help_text=AVERAGE_HELP)
    ratingCount = RatingCountField(source="rating_count", help_text=COUNT_HELP)
    ratingHistogram = serializers.SerializerMethodField()

    class Meta:
        ref_name = "RatingAggregate"

    def get_averageRating(self, photo) -> float | None:
        return aggregate.average(photo)

    @extend_schema_field(RatingHistogramSerializer)
    def get_ratingHistogram(self, photo) -> dict:
        return aggregate.histogram(photo)


class VisitorRatingOutputSerializer(serializers.Serializer):
    """A visitor's rating of a photo (`rating` and `ratedAt` null when not rated) and the photo's rating
    aggregate (`averageRating`, `ratingCount`, `ratingHistogram`)."""

    photoId = serializers.CharField(source="photo.photo_id")
    userId = serializers.CharField(source="user_id")
    rating = serializers.IntegerField(
        source="rating.rating",
        allow_null=True,
        help_text="The visitor's stars (1 to 5); null when not rated.",
    )
    ratedAt = serializers.CharField(
        source="rating.rated_at",
        allow_null=True,
        help_text="When the visitor last rated the photo (ISO 8601, UTC); null when not rated.",
    )
    averageRating = serializers.SerializerMethodField(help_text=AVERAGE_HELP)
    ratingCount = RatingCountField(source="photo.rating_count", help_text=COUNT_HELP)
    ratingHistogram = serializers.SerializerMethodField()

    class Meta:
        ref_name = "VisitorRating"

    def get_averageRating(self, state) -> float | None:
        return aggregate.average(state.photo)

    @extend_schema_field(RatingHistogramSerializer)
    def get_ratingHistogram(self, state) -> dict:
        return aggregate.histogram(state.photo)


class RatingWrittenOutputSerializer(VisitorRatingOutputSerializer):
    """The rating as a read answers it, and `visitorToken`: the visitor id's token (the one this write
    took, or the one sent, signed with the current key), to send as `X-Visitor-Token`."""

    visitorToken = serializers.CharField(
        source="visitor_token",
        help_text=(
            "The visitor id's token: keep it and send it as `X-Visitor-Token` to re-rate or withdraw "
            "(handed back signed with the current key on every rating)."
        ),
    )

    class Meta:
        ref_name = "RatingWritten"

    def to_representation(self, instance):
        body = VisitorRatingOutputSerializer(instance.state).data
        return {**body, "visitorToken": instance.visitor_token} if instance.visitor_token else body


class NewVisitorOutputSerializer(serializers.Serializer):
    """A fresh visitor id, already this client's, and its token."""

    userId = serializers.CharField(
        source="user_id", help_text="A fresh visitor id (32 hex digits), already this client's."
    )
    visitorToken = serializers.CharField(
        source="token", help_text="Its token: send it as `X-Visitor-Token` with every write as this visitor."
    )

    class Meta:
        ref_name = "Visitor"
