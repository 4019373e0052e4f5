"""The gallery endpoints that need photos: reading a gallery with its first photos, deleting one with them."""

from rest_framework.response import Response

from galleries import selectors as gallery_selectors
from galleries import views as gallery_views
from photos.selectors import photo_list
from photos.serializers import PhotoOutputSerializer
from photos.services.delete import gallery_delete


class GalleryViewSet(gallery_views.GalleryBaseViewSet):
    """Galleries: anyone can read; curators create, update and delete (the class the URLs route to)."""

    def retrieve(self, request, pk=None):
        """The gallery with the first page of its photos (``photos.next`` continues the listing)."""
        gallery = gallery_selectors.gallery_get(gallery_id=pk)
        page = photo_list(gallery_id=pk, cursor=None, page_size=self.page_size())
        photos = self.page_body(page, PhotoOutputSerializer, path=f"/api/galleries/{pk}/photos")
        return Response({**self._output(gallery), "photos": photos})

    def destroy(self, request, pk=None):
        deleted_photos = gallery_delete(gallery_id=pk)
        return Response({"galleryId": pk, "deleted": True, "photosDeleted": deleted_photos})
