"""Gallery endpoints: the guide's /galleries routes and the REST /api/galleries routes share these."""

from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from galleries import selectors, services
from galleries.serializers import (
    GalleryInputSerializer,
    GalleryListQuerySerializer,
    GalleryOutputSerializer,
    GalleryUpdateSerializer,
)
from gallery_project.viewsets import BaseViewSet


class GalleryViewSet(BaseViewSet):
    """Galleries: anyone can read; curators create, update and delete."""

    def get_serializer(self, *args, **kwargs):
        # The browsable API's create/edit forms and OPTIONS use the input serializer.
        return GalleryInputSerializer(*args, **kwargs)

    def list(self, request):
        filters = self.query(GalleryListQuerySerializer)
        page = selectors.gallery_list(cursor=self.cursor(), page_size=self.page_size(), **filters)
        return self.page_response(page, GalleryOutputSerializer)

    def retrieve(self, request, pk=None):
        """The gallery with the first page of its photos (``photos.next`` continues the listing)."""
        from photos.selectors import photo_list
        from photos.serializers import PhotoOutputSerializer

        gallery = selectors.gallery_get(gallery_id=pk)
        page = photo_list(gallery_id=pk, cursor=None, page_size=self.page_size())
        photos = self.page_body(page, PhotoOutputSerializer, path=f"/api/galleries/{pk}/photos")
        return Response({**self._output(gallery), "photos": photos})

    def create(self, request):
        data = self.validated(GalleryInputSerializer, request.data)
        gallery = services.gallery_create(**data)
        return Response(self._output(gallery), status=status.HTTP_201_CREATED)

    def update(self, request, pk=None):
        data = dict(self.validated(GalleryUpdateSerializer, request.data))
        body_id = data.pop("galleryId", None)
        if pk is not None and body_id is not None and body_id != pk:
            raise ValidationError({"galleryId": ["Does not match the gallery in the URL."]})
        gallery_id = pk if pk is not None else body_id
        if gallery_id is None:
            raise ValidationError({"galleryId": ["This field is required."]})
        gallery = services.gallery_update(gallery_id=gallery_id, **data)
        return Response(self._output(gallery))

    partial_update = update

    def destroy(self, request, pk=None):
        deleted_photos = services.gallery_delete(gallery_id=pk)
        return Response({"galleryId": pk, "deleted": True, "photosDeleted": deleted_photos})

    def _output(self, gallery) -> dict:
        return GalleryOutputSerializer(gallery, context={"request": self.request}).data
