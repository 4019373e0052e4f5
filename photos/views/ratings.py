"""Rating endpoints: visitors rate photos, withdraw and read ratings, and get a visitor id; the guide's
?action= routes reach the same.

They live with photos because every rating call starts by finding the live photo; what a rating does
to the aggregate is ratings' (``ratings.services``, ``ratings.aggregate``), and who may write as a
visitor id too (``ratings.visitors``: the ``X-Visitor-Token`` header)."""

from collections.abc import Mapping

from rest_framework import permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.parsers import BoundedJSONParser
from core.throttling import RatingWriteThrottle, VisitorReadThrottle
from core.viewsets import BaseViewSet
from photos.selectors import photo_rating_read, photo_readable
from photos.services.rate import photo_rate, photo_rating_withdraw
from ratings.serializers import (
    NewVisitorOutputSerializer,
    RatingAggregateSerializer,
    RatingInputSerializer,
    RatingKeySerializer,
    RatingWrittenOutputSerializer,
    VisitorRatingOutputSerializer,
)
from ratings.visitors import HEADER, visitor_create


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


class VisitorWriteViewSet(BaseViewSet):
    """The base of the visitors' endpoints: open to everyone, writes throttled per client address, and
    a write as a visitor id without its token refused with 403 (``X-Visitor-Token``)."""

    permission_classes = [permissions.AllowAny]
    # JSON only: a rating must be a JSON number, and form fields are always text.
    parser_classes = [BoundedJSONParser]

    def get_throttles(self):
        # Reads count like every visitor's read; writes (they move the aggregates) have their own rate.
        safe = self.request.method in permissions.SAFE_METHODS
        return [VisitorReadThrottle()] if safe else [RatingWriteThrottle()]

    def visitor_token(self) -> str | None:
        return self.request.headers.get(HEADER) or None


class PhotoRatingViewSet(VisitorWriteViewSet):
    """Visitors' ratings of photos: a photo of a private gallery is 404 to all but curators."""

    def rate(self, request, photo_pk=None, user_pk=None):
        body = self.validated(
            RatingInputSerializer, _with_url_ids(request.data, photoId=photo_pk, userId=user_pk)
        )
        written = photo_rate(
            photo_id=body["photoId"],
            user_id=body["userId"],
            rating=body["rating"],
            visitor_token=self.visitor_token(),
            curator=self.is_curator(),
            address=RatingWriteThrottle().get_ident(request),
        )
        return Response(
            RatingWrittenOutputSerializer(written).data,
            status=status.HTTP_201_CREATED if written.created else status.HTTP_200_OK,
        )

    def withdraw(self, request, photo_pk=None, user_pk=None):
        """``DELETE /api/photos/{photoId}/ratings/{userId}`` with the visitor's token (no guide action)."""
        key = self.validated(RatingKeySerializer, {"photoId": photo_pk, "userId": user_pk})
        state = photo_rating_withdraw(
            photo_id=key["photoId"],
            user_id=key["userId"],
            visitor_token=self.visitor_token(),
            curator=self.is_curator(),
        )
        return Response(VisitorRatingOutputSerializer(state).data)

    def retrieve(self, request, photo_pk=None, user_pk=None):
        key = self.validated(
            RatingKeySerializer, _with_url_ids(request.query_params, photoId=photo_pk, userId=user_pk)
        )
        state = photo_rating_read(photo_id=key["photoId"], user_id=key["userId"], curator=self.is_curator())
        return Response(VisitorRatingOutputSerializer(state).data)

    def summary(self, request, photo_pk=None):
        photo = photo_readable(photo_id=photo_pk, curator=self.is_curator())
        return Response(RatingAggregateSerializer(photo).data)


class VisitorViewSet(VisitorWriteViewSet):
    """``POST /api/visitors``: a fresh visitor id, already this client's, with its token."""

    def create(self, request):
        return Response(NewVisitorOutputSerializer(visitor_create()).data, status=status.HTTP_201_CREATED)
