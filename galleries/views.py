"""Gallery endpoints that need nothing but the gallery: list, create, update.

Reading a gallery (it answers its first page of photos) and deleting it (its photos and their ratings go
first) need photos too, so ``photos.views.galleries.GalleryViewSet`` extends this class with them; that
is the class the URLs and the guide's /galleries routes use."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError

from core import idempotency
from core.errors import Conflict
from core.schema import (
    IF_MATCH,
    KEY_REUSED,
    PAGE_PARAMETERS,
    error,
    etag_header,
    idempotency_parameters,
    page_of,
)
from core.validation import FIRST_PHOTOGRAPH_YEAR
from core.viewsets import BaseViewSet
from galleries import selectors, services
from galleries.serializers import (
    CONTINENT_FORMS_HELP,
    CONTINENT_SPELLINGS,
    GalleryInputSerializer,
    GalleryListQuerySerializer,
    GalleryOutputSerializer,
    GalleryUpdateSerializer,
)

TAGS = ["galleries"]
# Bodies are documented as JSON, the guide's and the clients' format. The browsable API's forms work too,
# but are no part of the contract: a form field sent empty counts as absent there, "0" as false.


GALLERY_VERSION = "The gallery's version: `If-Match` takes it to edit only this version."


def gallery_etag(*codes: int, description: str = GALLERY_VERSION) -> OpenApiParameter:
    """The ``ETag`` of a gallery's answers."""
    return etag_header(*codes, description=description)


# Written out rather than taken from GalleryListQuerySerializer: its fields would say "any string", but a
# continent is one of the spellings ContinentField reads and a country needs a visible character (a
# request the schema calls valid must not be refused; the fuzz tier checks both ways).
LIST_FILTERS = [
    OpenApiParameter(
        "continent",
        {"type": "string", "pattern": rf"^(?:\s*(?:{CONTINENT_SPELLINGS})\s*)?$"},
        description="Only galleries of this continent. " + CONTINENT_FORMS_HELP,
    ),
    OpenApiParameter(
        "country",
        # Not blank (empty is fine), no NUL.
        {"type": "string", "maxLength": 100, "pattern": r"^(?:|[^\x00]*[^\s\x00][^\x00]*)$"},
        description="Only galleries of this country, ignoring case and repeated spaces.",
    ),
    OpenApiParameter(
        "year",
        {"type": "integer", "minimum": FIRST_PHOTOGRAPH_YEAR},
        description="Only galleries with photos of this year (1826 to next year).",
    ),
]

GALLERY_PAGE = page_of(GalleryOutputSerializer, "GalleryPage")

EDIT_DESCRIPTION = (
    "Curators only. Changes the fields sent and leaves the others as they are (PUT and PATCH alike: the "
    "guide's PUT sends whole galleries, partial ones are fine). With `If-Match` (an `ETag` from a read) "
    "the edit applies only to that version, else 412; without it, to the current one. A visibility change "
    "also moves the photos' renditions (their URLs change). `coverPhotoId` chooses the cover among the "
    "gallery's photos (it holds until that photo is deleted); `null` gives it back to the automatic rule "
    "(the lowest-numbered photo). Answers the gallery with its new `ETag`."
)
EDIT_RESPONSES = {
    200: OpenApiResponse(GalleryOutputSerializer, description="The gallery as it is now."),
    400: error(
        400,
        "The body is invalid (`details` by field), or `coverPhotoId` names no live photo of this gallery "
        "(missing, another gallery's, being deleted): nothing was changed.",
    ),
    409: error(409, "The gallery kept changing (photos added or removed) while it was being edited: retry."),
    412: error(412),
}


def edit_schema(*, operation_id: str, summary: str):
    """PUT and PATCH: the same edit (only the fields sent change), each its own operation."""
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=EDIT_DESCRIPTION,
        tags=TAGS,
        request={"application/json": GalleryUpdateSerializer},
        parameters=[IF_MATCH, gallery_etag(200)],
        responses=EDIT_RESPONSES,
    )


class GalleryBaseViewSet(BaseViewSet):
    """Galleries: anyone can read; curators create and update."""

    def get_serializer(self, *args, **kwargs):
        # The browsable API's create/edit forms and OPTIONS use the input serializer.
        return GalleryInputSerializer(*args, **kwargs)

    @extend_schema(
        operation_id="listGalleries",
        summary="List galleries, newest first",
        description=(
            "Everyone may list; visitors see public galleries only, curators every one (unlisted and "
            "private too). Filters combine. A filtered page examines a bounded number of galleries, so it "
            "may hold fewer than `page_size` (even none) and still have a `next` page: follow `next` until "
            "it is null. A cursor works only for the same viewer and filters."
        ),
        tags=TAGS,
        parameters=[*LIST_FILTERS, *PAGE_PARAMETERS],
        responses={200: OpenApiResponse(GALLERY_PAGE, description="A page of galleries, newest first.")},
    )
    def list(self, request):
        filters = self.query(GalleryListQuerySerializer)
        page = selectors.gallery_list(
            cursor=self.cursor(), page_size=self.page_size(), curator=self.is_curator(), **filters
        )
        return self.page_response(page, GalleryOutputSerializer)

    @extend_schema(
        operation_id="createGallery",
        summary="Create a gallery",
        description=(
            "Curators only. Creates an empty gallery (no photos, no cover) and answers it with its `ETag`. "
            "Without `visibility` it gets the operator's default (public unless configured otherwise)."
        ),
        tags=TAGS,
        request={"application/json": GalleryInputSerializer},
        parameters=[gallery_etag(201), *idempotency_parameters(201)],
        responses={
            201: OpenApiResponse(GalleryOutputSerializer, description="The new gallery."),
            404: error(404, "A replay (`Idempotency-Key`) of a creation whose gallery was deleted since."),
            409: error(409, "A request with this `Idempotency-Key` is still being answered: try again."),
            422: error(422, KEY_REUSED),
        },
    )
    def create(self, request):
        data = self.validated(GalleryInputSerializer, request.data)

        def work(new_id: str | None):
            # With a key the id is the key's own: a retry whose first result could not be kept finds
            # the gallery made, and is answered with it rather than making a second.
            try:
                gallery = services.gallery_create(**data, gallery_id=new_id)
            except Conflict:
                if new_id is None:
                    raise
                answer = idempotency.replayed(replay({"galleryId": new_id}, status.HTTP_201_CREATED))
                return answer, {"galleryId": new_id}
            answer = self.tagged(
                version_tag(gallery), lambda: self._output(gallery), code=status.HTTP_201_CREATED
            )
            return answer, {"galleryId": gallery.gallery_id}

        def replay(result: dict, code: int):
            # The gallery as it is now (a later edit shows; one deleted since is 404, as a read says).
            gallery = selectors.gallery_read(gallery_id=result["galleryId"], curator=True)
            return self.tagged(version_tag(gallery), lambda: self._output(gallery), code=code)

        return idempotency.idempotent(
            request,
            fingerprint=lambda: idempotency.fingerprint_of(data),
            work=work,
            replay=replay,
        )

    @edit_schema(operation_id="updateGallery", summary="Edit a gallery")
    def update(self, request, pk=None):
        data = dict(self.validated(GalleryUpdateSerializer, request.data))
        body_id = data.pop("galleryId", None)
        if pk is not None and body_id is not None and body_id != pk:
            raise ValidationError({"galleryId": ["Does not match the gallery in the URL."]})
        gallery_id = pk if pk is not None else body_id
        if gallery_id is None:
            raise ValidationError({"galleryId": ["This field is required."]})
        gallery = self.edit(gallery_id=gallery_id, expected_version=self.expected_version(), changes=data)
        gallery = self.updated(gallery, changes=data)
        return self.tagged(version_tag(gallery), lambda: self._output(gallery))

    @edit_schema(operation_id="patchGallery", summary="Edit some fields of a gallery")
    def partial_update(self, request, pk=None):
        # The same edit as PUT (only the fields sent change); its own method so each has its own schema.
        return self.update(request, pk)

    def edit(self, *, gallery_id: str, expected_version: int | None, changes: dict):
        """The edit itself. A chosen cover (``cover_photo_id``) needs the gallery's photos: the photos
        layer's class composes it (here it would be refused as not editable)."""
        return services.gallery_update(gallery_id=gallery_id, expected_version=expected_version, **changes)

    def updated(self, gallery, *, changes: dict):
        """What follows an edit beyond the gallery item (the photos layer moves renditions when the
        visibility changed); the gallery to answer."""
        return gallery

    def _output(self, gallery) -> dict:
        return GalleryOutputSerializer(gallery, context={"request": self.request}).data


def version_tag(gallery) -> str:
    """A gallery's ETag: its stored version."""
    return f"v{int(gallery.version or 0)}"
