"""The gallery endpoints that need photos: reading a gallery with its first photos, deleting one with them."""

import hashlib
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from core.pagination import PAGE_SIZE_PARAM
from core.schema import IF_NONE_MATCH, PAGE_PARAMETERS, not_modified
from galleries import selectors as gallery_selectors
from galleries import views as gallery_views
from galleries.models import location_privacy_of
from galleries.serializers import GalleryDeletedSerializer, GalleryOutputSerializer
from galleries.views import TAGS, gallery_etag, version_tag
from photos.ordering import PHOTO_NUMBER
from photos.selectors import photo_list
from photos.serializers import PHOTO_PAGE, PhotoOrderingQuerySerializer, PhotoOutputSerializer
from photos.services.cover import gallery_edit
from photos.services.delete import gallery_delete
from photos.services.placement import placed_after_edit


# For the schema only: ``retrieve`` builds the same dict from GalleryOutputSerializer and a page of
# PhotoOutputSerializer.
class GalleryWithPhotosSerializer(GalleryOutputSerializer):
    """A gallery with the first page of its photos."""

    photos = PHOTO_PAGE

    class Meta:
        ref_name = "GalleryWithPhotos"


class GalleryViewSet(gallery_views.GalleryBaseViewSet):
    """Galleries: anyone can read; curators create, update and delete (the class the URLs route to)."""

    @extend_schema(
        operation_id="getGallery",
        summary="Read a gallery with its first photos",
        description=(
            "Everyone may read a public or unlisted gallery; a private one is a 404 to anyone but curators. "
            "`photos` is the first page of its photos (`page_size` sets its size) in the `ordering` asked "
            "for (photo-number order by default); its `next` continues with "
            "`GET /api/galleries/{galleryId}/photos`. Send the `ETag` back in "
            "`If-None-Match` to get a 304 while neither the gallery nor that page changed."
        ),
        tags=TAGS,
        parameters=[
            *(parameter for parameter in PAGE_PARAMETERS if parameter.name == PAGE_SIZE_PARAM),
            PhotoOrderingQuerySerializer,
            IF_NONE_MATCH,
            gallery_etag(
                200,
                304,
                description="The gallery's version and the state of its first page of photos for this "
                "viewer: `If-None-Match` takes it (`If-Match` on an edit takes it too).",
            ),
        ],
        responses={
            200: OpenApiResponse(
                GalleryWithPhotosSerializer, description="The gallery and its first photos."
            ),
            304: not_modified(),
        },
    )
    def retrieve(self, request, pk=None):
        """The gallery with the first page of its photos (``photos.next`` continues the listing)."""
        ordering = self.query(PhotoOrderingQuerySerializer)["ordering"]
        gallery = gallery_selectors.gallery_read(gallery_id=pk, curator=self.is_curator())
        page = photo_list(gallery_id=pk, cursor=None, page_size=self.page_size(), ordering=ordering)
        # The gallery's version and the stored state of the photos on its first page.
        photos_state = hashlib.sha256("".join(photo.state_tag() for photo in page.items).encode())
        privacy = location_privacy_of(gallery)
        # The ordering too: two orderings with the same first photos still answer different `next` links.
        tag = f"{version_tag(gallery)}.{photos_state.hexdigest()[:20]}.{ordering}.{self.viewer()}"

        # The listing goes on in the same order (a cursor opens only its own ordering's listing).
        listing_query = "" if ordering == PHOTO_NUMBER else f"?{urlencode({'ordering': ordering})}"

        def answer() -> dict:
            photos = self.page_body(
                page,
                PhotoOutputSerializer,
                path=f"/api/galleries/{pk}/photos{listing_query}",
                location_privacy=privacy,
                gallery=gallery,
            )
            return {**self._output(gallery), "photos": photos}

        return self.tagged(tag, answer)

    def edit(self, *, gallery_id: str, expected_version: int | None, changes: dict):
        # A cover chosen among the gallery's photos is part of the same write (photos.services.cover).
        return gallery_edit(gallery_id=gallery_id, expected_version=expected_version, **changes)

    def updated(self, gallery, *, changes: dict):
        return placed_after_edit(gallery=gallery, changes=changes)

    @extend_schema(
        operation_id="deleteGallery",
        summary="Delete a gallery and its photos",
        description=(
            "Curators only. Deletes the gallery, its photos (their files and renditions) and their "
            "ratings. From the first moment the gallery reads as gone and takes no new photos or ratings. "
            "If the request fails part-way, repeating it (or the photos scan) finishes the job; once done, "
            "the gallery is a 404."
        ),
        tags=TAGS,
        responses={200: OpenApiResponse(GalleryDeletedSerializer, description="Deleted, with its photos.")},
    )
    def destroy(self, request, pk=None):
        deleted_photos = gallery_delete(gallery_id=pk)
        return Response(
            GalleryDeletedSerializer({"galleryId": pk, "deleted": True, "photosDeleted": deleted_photos}).data
        )
