"""Rating serializers: the rating body and query, the aggregate, a visitor's rating, a new visitor id."""

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


class RatingAggregateSerializer(serializers.Serializer):
    photoId = serializers.CharField(source="photo_id")
    averageRating = serializers.SerializerMethodField()
    ratingCount = serializers.IntegerField(source="rating_count")
    ratingHistogram = serializers.SerializerMethodField()

    def get_averageRating(self, photo) -> float | None:
        return aggregate.average(photo)

    def get_ratingHistogram(self, photo) -> dict:
        return aggregate.histogram(photo)


class VisitorRatingOutputSerializer(serializers.Serializer):
    """``{photoId, userId, rating, ratedAt}`` (the last two null when not rated) plus the aggregate."""

    photoId = serializers.CharField(source="photo.photo_id")
    userId = serializers.CharField(source="user_id")
    rating = serializers.IntegerField(source="rating.rating", allow_null=True)
    ratedAt = serializers.CharField(source="rating.rated_at", allow_null=True)

    def to_representation(self, instance):
        return {**super().to_representation(instance), **RatingAggregateSerializer(instance.photo).data}


class RatingWrittenOutputSerializer(serializers.Serializer):
    """A visitor's rating as a read answers it, plus ``visitorToken``: the token of the visitor id (the
    one this write took, or the one sent, signed with the current key), for ``X-Visitor-Token``."""

    def to_representation(self, instance):
        body = VisitorRatingOutputSerializer(instance.state).data
        return {**body, "visitorToken": instance.visitor_token} if instance.visitor_token else body


class NewVisitorOutputSerializer(serializers.Serializer):
    """``POST /api/visitors``: a fresh visitor id, already held, and its token."""

    userId = serializers.CharField(source="user_id")
    visitorToken = serializers.CharField(source="token")
