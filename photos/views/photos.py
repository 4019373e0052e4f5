"""Photo endpoints: upload, list, read, delete; the guide's ?action= routes reach the same methods."""

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import UnsupportedMediaType, ValidationError
from rest_framework.response import Response

from core.http_errors import ApiError, PayloadTooLarge, status_for
from core.parsers import declared_length
from core.viewsets import BaseViewSet
from galleries import selectors as gallery_selectors
from galleries.models import downloads_allowed, location_privacy_of
from photos import selectors
from photos.prepare import IncomingPhoto
from photos.serializers import (
    FromUploadsInputSerializer,
    KeepDuplicateSerializer,
    PhotoDeleteSerializer,
    PhotoListQuerySerializer,
    PhotoOutputSerializer,
    PhotoUploadFormSerializer,
    UploadSlotsInputSerializer,
    parse_upload,
)
from photos.services import delete, direct_upload, upload
from photos.services.originals import original_download_url


def _reader(uploaded_file):
    """Read the whole file from the start, however often it is called (check, then store)."""

    def read() -> bytes:
        uploaded_file.seek(0)
        return uploaded_file.read()

    return read


class PhotoViewSet(BaseViewSet):
    """A gallery's photos: anyone can read; curators upload and delete."""

    def get_serializer(self, *args, **kwargs):
        # Only for the browsable API's upload form and OPTIONS; create() reads the request itself.
        return PhotoUploadFormSerializer(*args, **kwargs)

    def list(self, request, gallery_pk=None):
        filters = self.query(PhotoListQuerySerializer)
        gallery = gallery_selectors.gallery_read(gallery_id=gallery_pk, curator=self.is_curator())
        privacy = location_privacy_of(gallery)
        page = selectors.photo_list(
            gallery_id=gallery_pk, cursor=self.cursor(), page_size=self.page_size(), **filters
        )
        return self.page_response(page, PhotoOutputSerializer, location_privacy=privacy, gallery=gallery)

    def retrieve(self, request, gallery_pk=None, pk=None):
        gallery = gallery_selectors.gallery_read(gallery_id=gallery_pk, curator=self.is_curator())
        privacy = location_privacy_of(gallery)
        photo = selectors.photo_get(gallery_id=gallery_pk, photo_id=pk)
        context = {"request": request, "location_privacy": privacy, "gallery": gallery}
        # What the answer depends on beyond the photo: the viewer and the gallery's location and
        # download rules (originalURL).
        downloads = "d" if downloads_allowed(gallery) else "n"
        tag = f"p{photo.state_tag()}.{self.viewer()}.{privacy}.{downloads}"
        return self.tagged(tag, lambda: PhotoOutputSerializer(photo, context=context).data)

    def original(self, request, gallery_pk=None, pk=None):
        """The photo's original: a redirect to a short-lived signed URL, for curators, and for visitors
        when the gallery allows downloads (then without the location unless it shows exact ones)."""
        gallery = gallery_selectors.gallery_read(gallery_id=gallery_pk, curator=self.is_curator())
        photo = selectors.photo_get(gallery_id=gallery_pk, photo_id=pk)
        url = original_download_url(gallery=gallery, photo=photo, curator=self.is_curator())
        return Response(
            status=status.HTTP_302_FOUND,
            headers={"Location": url, "Cache-Control": "private, no-store", "Vary": "Authorization, Cookie"},
        )

    def create(self, request, gallery_pk=None):
        if not (request.content_type or "").startswith("multipart/form-data"):
            raise UnsupportedMediaType(request.content_type, "Upload photos as multipart/form-data.")
        # Refused before any of the body is read (BoundedMultiPartParser would too: the limit stays here,
        # with the upload, whatever the parsers).
        if declared_length(request.META) > settings.UPLOAD_MAX_REQUEST_BYTES:
            raise PayloadTooLarge()
        entries = parse_upload(request.data, request.FILES)
        keep = self.validated(
            KeepDuplicateSerializer, {"keepDuplicate": request.data.get("keepDuplicate", False)}
        )
        incoming = [
            IncomingPhoto(
                filename=entry["file"].name or "",
                size=entry["file"].size,
                read=_reader(entry["file"]),
                title=entry["title"],
                description=entry["description"],
                tags=entry["tags"],
            )
            for entry in entries
        ]
        return self._upload_response(
            upload.photos_upload(gallery_id=gallery_pk, files=incoming, keep_duplicate=keep["keepDuplicate"])
        )

    def upload_slots(self, request, gallery_pk=None):
        """Presigned S3 POST forms for files too large for API Gateway (see photos.services.direct_upload)."""
        data = self.validated(UploadSlotsInputSerializer, request.data)
        content_types = [file["contentType"] for file in data["files"]]
        slots = direct_upload.upload_slots_create(gallery_id=gallery_pk, content_types=content_types)
        return Response({"uploads": slots}, status=status.HTTP_201_CREATED)

    def create_from_uploads(self, request, gallery_pk=None):
        """Photos from files posted to upload slots; answers exactly like the multipart upload."""
        data = self.validated(FromUploadsInputSerializer, request.data, context={"gallery_id": gallery_pk})
        return self._upload_response(
            direct_upload.photos_from_uploads(
                gallery_id=gallery_pk, uploads=data["uploads"], keep_duplicate=data["keepDuplicate"]
            )
        )

    def _upload_response(self, result) -> Response:
        failures = [
            {
                "index": failure.index,
                "filename": failure.filename,
                "code": failure.error.code,
                "error": failure.error.message,
                "status": status_for(failure.error),
            }
            for failure in result.failures
        ]
        if not result.photos:
            statuses = {failure["status"] for failure in failures}
            names = ", ".join(failure["filename"] or f"#{failure['index']}" for failure in failures)
            code = statuses.pop() if len(statuses) == 1 else 400
            details: dict = {"files": failures}
            if code >= 500:
                details["requestId"] = getattr(self.request, "request_id", "-")
            raise ApiError(code, f"No photo was stored: {names}.", details=details)
        photos = PhotoOutputSerializer(result.photos, many=True, context={"request": self.request}).data
        for photo, answer in zip(result.photos, photos, strict=True):
            if getattr(photo, "duplicate_of", None):
                answer["duplicateOf"] = photo.duplicate_of  # these bytes were stored before: not again
        body = {"photos": photos, "errors": failures}
        # 207 when some files were stored and some refused: the stored ones exist, the rest are listed.
        return Response(body, status=status.HTTP_207_MULTI_STATUS if failures else status.HTTP_201_CREATED)

    def destroy(self, request, gallery_pk=None, pk=None):
        body = self.validated(PhotoDeleteSerializer, request.data if request.data else {})
        body_id = body.get("photoId")
        if pk is not None and body_id is not None and body_id != pk:
            raise ValidationError({"photoId": ["Does not match the photo in the URL."]})
        photo_id = pk or body_id
        if photo_id is None:
            raise ValidationError({"photoId": ["This field is required."]})
        photo = delete.photo_delete(
            gallery_id=gallery_pk,
            photo_id=photo_id,
            expected_s3_key=body.get("s3Key"),
            expected_number=body.get("photoNumber"),
        )
        return Response({"galleryId": gallery_pk, "photoId": photo.photo_id, "deleted": True})
