"""Rating endpoints: visitors rate photos, withdraw and read ratings, and get a visitor id; the guide's
?action= routes reach the same.

They live with photos because every rating call starts by finding the live photo; what a rating does
to the aggregate is ratings' (``ratings.services``, ``ratings.aggregate``), and who may write as a
visitor id too (``ratings.visitors``: the ``X-Visitor-Token`` header)."""

from collections.abc import Mapping

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core import idempotency
from core.parsers import BoundedJSONParser
from core.schema import KEY_REUSED, error, idempotency_parameters
from core.throttling import RatingWriteThrottle, VisitorReadThrottle, client_address
from core.viewsets import BaseViewSet
from photos.selectors import photo_rating_read, photo_readable
from photos.services.rate import photo_rate, photo_rating_withdraw
from ratings.serializers import (
    NewVisitorOutputSerializer,
    RatingAggregateSerializer,
    RatingBodySerializer,
    RatingInputSerializer,
    RatingKeySerializer,
    RatingWrittenOutputSerializer,
    VisitorRatingOutputSerializer,
)
from ratings.services import RatingWritten
from ratings.visitors import (
    ANOTHER_HOLDING,
    HEADER,
    TOKEN_INVALID,
    TOKEN_REQUIRED,
    token_generation,
    visitor_create,
    visitor_token,
)

VISITOR_TOKEN = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "The `visitorToken` the visitor id was given (by its first rating or `POST /api/visitors`). "
        "Needed to re-rate or withdraw; a first rating with an id nobody holds needs none."
    ),
)

_REFUSED_AS_VISITOR = (
    f"Not this client's visitor id; `details.reason` says why: `{TOKEN_REQUIRED}` (the id is held, or "
    f"the visitor rated the photo already: send its `{HEADER}`), `{TOKEN_INVALID}` (the token sent is "
    f"not this id's, or another client holds the id now), `{ANOTHER_HOLDING}` (the rating was made "
    "before visitor tokens or by another holder of the id: rate with a new visitor id). Also a signed-in "
    "browser's missing CSRF token."
)
_PHOTO_NOT_FOUND = "No such photo, or one of a gallery this viewer may not see (private to visitors)."
_BUSY = (
    "Many visitors are rating this photo right now (or taking this visitor id): nothing changed, try again."
)


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

    @extend_schema(
        operation_id="ratePhoto",
        tags=["ratings"],
        summary="Rate a photo",
        description=(
            "A visitor gives a photo 1 to 5 stars, replacing their earlier rating of it. Anyone may rate "
            "a photo they may see. The first write with a `userId` nobody holds takes that id for this "
            f"client, and every answer carries its `visitorToken`: keep it and send it as `{HEADER}` to "
            "re-rate or withdraw (or get an id first with `POST /api/visitors`). 201 for a first rating, "
            "200 for a re-rating; both carry the visitor's rating and the photo's new aggregate. On a "
            "photo many visitors are rating at the same moment the aggregate answered is the one last "
            "applied, which this rating joins within about a second."
        ),
        parameters=[VISITOR_TOKEN, *idempotency_parameters(200, 201)],
        request={"application/json": RatingBodySerializer},
        responses={
            200: OpenApiResponse(
                RatingWrittenOutputSerializer, description="The visitor's rating was replaced."
            ),
            201: OpenApiResponse(
                RatingWrittenOutputSerializer, description="The visitor's first rating of the photo."
            ),
            403: error(403, _REFUSED_AS_VISITOR),
            404: error(404, _PHOTO_NOT_FOUND),
            409: error(409, f"{_BUSY} Or a request with this `Idempotency-Key` is still being answered."),
            422: error(422, KEY_REUSED),
            429: error(
                429,
                "Too many writes from this address, or too many new visitor ids rating this photo from it "
                "today: wait `Retry-After` seconds.",
            ),
        },
    )
    def rate(self, request, photo_pk=None, user_pk=None):
        body = self.validated(
            RatingInputSerializer, _with_url_ids(request.data, photoId=photo_pk, userId=user_pk)
        )
        token = self.visitor_token()

        def work(new_id: str | None):
            written = photo_rate(
                photo_id=body["photoId"],
                user_id=body["userId"],
                rating=body["rating"],
                visitor_token=token,
                curator=self.is_curator(),
                address=client_address(request),
            )
            answer = Response(
                RatingWrittenOutputSerializer(written).data,
                status=status.HTTP_201_CREATED if written.created else status.HTTP_200_OK,
            )
            generation = (
                token_generation(body["userId"], written.visitor_token) if written.visitor_token else None
            )
            return answer, {"generation": generation or ""}

        def replay(result: dict, code: int):
            # The visitor's rating and the photo's aggregate as they are now; the token the first answer
            # handed out, signed again (its generation is no secret: only the key signs it).
            state = photo_rating_read(
                photo_id=body["photoId"], user_id=body["userId"], curator=self.is_curator()
            )
            generation = result["generation"]
            handed = visitor_token(body["userId"], generation) if generation else None
            written = RatingWritten(
                state=state, created=code == status.HTTP_201_CREATED, visitor_token=handed
            )
            return Response(RatingWrittenOutputSerializer(written).data, status=code)

        # The token sent is part of what was asked: a replay hands a token only to a request like the first.
        return idempotency.idempotent(
            request,
            fingerprint=lambda: idempotency.fingerprint_of(body, token or ""),
            work=work,
            replay=replay,
        )

    @extend_schema(
        operation_id="withdrawRating",
        tags=["ratings"],
        summary="Withdraw a rating",
        description=(
            f"A visitor withdraws their rating of a photo, with their `{HEADER}` (always needed). Answers "
            "what `getRating` then answers: no rating (`rating` and `ratedAt` null) and the new aggregate."
        ),
        parameters=[VISITOR_TOKEN],
        request=None,
        responses={
            200: VisitorRatingOutputSerializer,
            403: error(403, _REFUSED_AS_VISITOR),
            404: error(404, f"{_PHOTO_NOT_FOUND} Or the visitor has not rated it."),
            409: error(409, _BUSY),
        },
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

    @extend_schema(
        operation_id="getRating",
        tags=["ratings"],
        summary="Read a visitor's rating",
        description=(
            "A visitor's rating of a photo (`rating` and `ratedAt` null when they have not rated it) and the "
            "photo's aggregate. Anyone may read it for a photo they may see."
        ),
        responses={200: VisitorRatingOutputSerializer, 404: error(404, _PHOTO_NOT_FOUND)},
    )
    def retrieve(self, request, photo_pk=None, user_pk=None):
        key = self.validated(
            RatingKeySerializer, _with_url_ids(request.query_params, photoId=photo_pk, userId=user_pk)
        )
        state = photo_rating_read(photo_id=key["photoId"], user_id=key["userId"], curator=self.is_curator())
        return Response(VisitorRatingOutputSerializer(state).data)

    @extend_schema(
        operation_id="getPhotoRatings",
        tags=["ratings"],
        summary="Read a photo's ratings",
        description=(
            "The photo's rating aggregate: the mean (null before the first rating), the count and how many "
            "ratings give each number of stars. Anyone may read it for a photo they may see."
        ),
        responses={200: RatingAggregateSerializer, 404: error(404, _PHOTO_NOT_FOUND)},
    )
    def summary(self, request, photo_pk=None):
        photo = photo_readable(photo_id=photo_pk, curator=self.is_curator())
        return Response(RatingAggregateSerializer(photo).data)


class VisitorViewSet(VisitorWriteViewSet):
    """``POST /api/visitors``: a fresh visitor id, already this client's, with its token."""

    @extend_schema(
        operation_id="createVisitor",
        tags=["visitors"],
        summary="Get a visitor id",
        description=(
            "Anyone gets a fresh visitor id, already theirs, with its token: rate as this `userId` and send "
            f"the token as `{HEADER}` with every write. (Clients may instead invent a `userId`: their first "
            "rating takes it.) No body."
        ),
        request=None,
        responses={
            201: NewVisitorOutputSerializer,
            409: error(409, "No fresh visitor id could be taken: try again."),
        },
    )
    def create(self, request):
        return Response(NewVisitorOutputSerializer(visitor_create()).data, status=status.HTTP_201_CREATED)
