"""Gallery endpoints that need nothing but the gallery: list, create, update.

Reading a gallery (it answers its first page of photos) and deleting it (its photos and their ratings go
first) need photos too, so ``photos.views.galleries.GalleryViewSet`` extends this class with them; that
is the class the URLs and the guide's /galleries routes use."""

from rest_framework import status
from rest_framework.exceptions import ValidationError

from core.viewsets import BaseViewSet
from galleries import selectors, services
from galleries.serializers import (
    GalleryInputSerializer,
    GalleryListQuerySerializer,
    GalleryOutputSerializer,
    GalleryUpdateSerializer,
)


class GalleryBaseViewSet(BaseViewSet):
    """Galleries: anyone can read; curators create and update."""

    def get_serializer(self, *args, **kwargs):
        # The browsable API's create/edit forms and OPTIONS use the input serializer.
        return GalleryInputSerializer(*args, **kwargs)

    def list(self, request):
        filters = self.query(GalleryListQuerySerializer)
        page = selectors.gallery_list(
            cursor=self.cursor(), page_size=self.page_size(), curator=self.is_curator(), **filters
        )
        return self.page_response(page, GalleryOutputSerializer)

    def create(self, request):
        data = self.validated(GalleryInputSerializer, request.data)
        gallery = services.gallery_create(**data)
        return self.tagged(version_tag(gallery), lambda: self._output(gallery), code=status.HTTP_201_CREATED)

    def update(self, request, pk=None):
        data = dict(self.validated(GalleryUpdateSerializer, request.data))
        body_id = data.pop("galleryId", None)
        if pk is not None and body_id is not None and body_id != pk:
            raise ValidationError({"galleryId": ["Does not match the gallery in the URL."]})
        gallery_id = pk if pk is not None else body_id
        if gallery_id is None:
            raise ValidationError({"galleryId": ["This field is required."]})
        gallery = services.gallery_update(
            gallery_id=gallery_id, expected_version=self.expected_version(), **data
        )
        gallery = self.updated(gallery, changes=data)
        return self.tagged(version_tag(gallery), lambda: self._output(gallery))

    partial_update = update

    def updated(self, gallery, *, changes: dict):
        """What follows an edit beyond the gallery item (the photos layer moves renditions when the
        visibility changed); the gallery to answer."""
        return gallery

    def _output(self, gallery) -> dict:
        return GalleryOutputSerializer(gallery, context={"request": self.request}).data


def version_tag(gallery) -> str:
    """A gallery's ETag: its stored version."""
    return f"v{int(gallery.version or 0)}"
