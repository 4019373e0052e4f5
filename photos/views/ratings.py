"""Rating endpoints: visitors rate photos and read ratings; the guide's ?action= routes reach the same.

They live with photos because every rating call starts by finding the live photo; what a rating does
to the aggregate is ratings' (``ratings.services``, ``ratings.aggregate``)."""

from collections.abc import Mapping

from rest_framework import permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from core.viewsets import BaseViewSet
from photos import selectors
from photos.services.rate import photo_rate
from ratings.serializers import (
    RatingAggregateSerializer,
    RatingInputSerializer,
    RatingKeySerializer,
    VisitorRatingOutputSerializer,
)
from ratings.throttling import RatingWriteThrottle


def _with_url_ids(data, **url_ids) -> dict:
    """The body or query merged with the ids from a REST URL; a body naming other ids is refused."""
    if hasattr(data, "dict"):
        data = data.dict()
    if not isinstance(data, Mapping):
        raise ValidationError({"non_field_errors": ["Send a JSON object."]})
    merged = dict(data)
    for name, value in url_ids.items():
        if value is None:
            continue
        if name in merged and merged[name] != value:
            raise ValidationError({name: ["Does not match the URL."]})
        merged[name] = value
    return merged


class PhotoRatingViewSet(BaseViewSet):
    """Visitors' ratings of photos: open to everyone, writes throttled per client address."""

    permission_classes = [permissions.AllowAny]
    # JSON only: a rating must be a JSON number, and form fields are always text.
    parser_classes = [JSONParser]

    def get_throttles(self):
        # Reads cost no more than photo reads, which are not limited; writes move the aggregates.
        return [] if self.request.method in permissions.SAFE_METHODS else [RatingWriteThrottle()]

    def rate(self, request, photo_pk=None, user_pk=None):
        body = self.validated(
            RatingInputSerializer, _with_url_ids(request.data, photoId=photo_pk, userId=user_pk)
        )
        written = photo_rate(
            photo_id=body["photoId"],
            user_id=body["userId"],
            rating=body["rating"],
            address=RatingWriteThrottle().get_ident(request),
        )
        return Response(
            VisitorRatingOutputSerializer(written.state).data,
            status=status.HTTP_201_CREATED if written.created else status.HTTP_200_OK,
        )

    def retrieve(self, request, photo_pk=None, user_pk=None):
        key = self.validated(
            RatingKeySerializer, _with_url_ids(request.query_params, photoId=photo_pk, userId=user_pk)
        )
        state = selectors.photo_rating_get(photo_id=key["photoId"], user_id=key["userId"])
        return Response(VisitorRatingOutputSerializer(state).data)

    def summary(self, request, photo_pk=None):
        photo = selectors.photo_find(photo_id=photo_pk)
        return Response(RatingAggregateSerializer(photo).data)
