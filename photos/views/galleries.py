"""The gallery endpoints that need photos: reading a gallery with its first photos, deleting one with them."""

import hashlib

from rest_framework.response import Response

from galleries import selectors as gallery_selectors
from galleries import views as gallery_views
from galleries.models import location_privacy_of
from galleries.views import version_tag
from photos.selectors import photo_list
from photos.serializers import PhotoOutputSerializer
from photos.services.delete import gallery_delete
from photos.services.placement import gallery_place


class GalleryViewSet(gallery_views.GalleryBaseViewSet):
    """Galleries: anyone can read; curators create, update and delete (the class the URLs route to)."""

    def retrieve(self, request, pk=None):
        """The gallery with the first page of its photos (``photos.next`` continues the listing)."""
        gallery = gallery_selectors.gallery_read(gallery_id=pk, curator=self.is_curator())
        page = photo_list(gallery_id=pk, cursor=None, page_size=self.page_size())
        # The gallery's version and the stored state of the photos on its first page.
        photos_state = hashlib.sha256("".join(photo.state_tag() for photo in page.items).encode())
        privacy = location_privacy_of(gallery)
        tag = f"{version_tag(gallery)}.{photos_state.hexdigest()[:20]}.{self.viewer()}"

        def answer() -> dict:
            photos = self.page_body(
                page,
                PhotoOutputSerializer,
                path=f"/api/galleries/{pk}/photos",
                location_privacy=privacy,
                gallery=gallery,
            )
            return {**self._output(gallery), "photos": photos}

        return self.tagged(tag, answer)

    def updated(self, gallery, *, changes: dict):
        # Renditions follow the visibility (safe to repeat: a PUT naming the same visibility finishes
        # a move an earlier request ran out of time for); the cover's URL may have moved with them.
        if "visibility" in changes and gallery_place(gallery=gallery).moved:
            return gallery_selectors.gallery_get(gallery_id=gallery.gallery_id)
        return gallery

    def destroy(self, request, pk=None):
        deleted_photos = gallery_delete(gallery_id=pk)
        return Response({"galleryId": pk, "deleted": True, "photosDeleted": deleted_photos})
