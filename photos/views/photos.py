"""Photo endpoints: upload, list, read, delete; the guide's ?action= routes reach the same methods."""

import json

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import UnsupportedMediaType, ValidationError
from rest_framework.response import Response

from core import idempotency
from core.http_errors import ApiError, PayloadTooLarge, status_for
from core.pagination import page_links
from core.parsers import declared_length
from core.schema import (
    IF_MATCH,
    IF_NONE_MATCH,
    KEY_REUSED,
    PAGE_PARAMETERS,
    error,
    etag_header,
    idempotency_parameters,
    not_modified,
)
from core.viewsets import BaseViewSet
from galleries import selectors as gallery_selectors
from galleries.models import downloads_allowed, location_privacy_of
from photos import selectors
from photos.prepare import IncomingPhoto
from photos.serializers import (
    PHOTO_PAGE,
    FromUploadsInputSerializer,
    KeepDuplicateSerializer,
    PhotoDeletedSerializer,
    PhotoDeleteSerializer,
    PhotoEditSerializer,
    PhotoListQuerySerializer,
    PhotoOutputSerializer,
    PhotoSearchQuerySerializer,
    PhotoUploadFormSerializer,
    PhotoUploadSerializer,
    UploadResultSerializer,
    UploadSlotsInputSerializer,
    UploadSlotsOutputSerializer,
    parse_upload,
)
from photos.services import delete, direct_upload, edit, upload
from photos.services.originals import original_download_url


def _reader(uploaded_file):
    """Read the whole file from the start, however often it is called (check, then store)."""

    def read() -> bytes:
        uploaded_file.seek(0)
        return uploaded_file.read()

    return read


def _batch_status(statuses: set[int]) -> int:
    """The status of a batch none of whose files was stored: a fault of the service when any file met
    one (500 when any was ours, else 503: try again, with Retry-After), the files' own status when they
    agree, else 400."""
    server = {code for code in statuses if code >= 500}
    if server:
        return 500 if 500 in server else 503
    return next(iter(statuses)) if len(statuses) == 1 else 400


def _upload_answers(*, body: str) -> dict:
    """What an upload answers (multipart, or from upload slots): the result, or the envelope when no file
    was stored (``details.files`` then lists each refusal like ``errors`` does)."""
    return {
        201: OpenApiResponse(
            UploadResultSerializer,
            description=(
                "Every file is a photo of the gallery: stored now, or already there with the same bytes "
                "(`duplicateOf`). `errors` is empty."
            ),
        ),
        207: OpenApiResponse(
            UploadResultSerializer,
            description=(
                "Some files were stored (`photos`) and some refused (`errors`: each with its `index`, "
                "`code` and the `status` it alone would answer). Send the refused ones again, fixed."
            ),
        ),
        400: error(
            400,
            "The request is invalid (`details` by field), or no file was stored and the refusals differ or "
            "are about content (empty, corrupt, a name whose extension lies): `details.files` lists them.",
        ),
        409: error(
            409,
            "No file was stored: each met another request at work on the same thing (an upload being "
            "completed, a photo with the same bytes being deleted); `details.files`. Try again shortly. "
            "Or a request with this `Idempotency-Key` is still being answered.",
        ),
        422: error(422, KEY_REUSED),
        413: error(
            413,
            f"{body} too large, or no file was stored because each was over a limit (bytes, pixels, "
            "decoding memory): `details.files`.",
        ),
        415: error(
            415,
            f"{body} not of the content type this operation takes, or no file was stored because none "
            "was a JPEG, PNG, WebP, TIFF, HEIC/HEIF or AVIF image: `details.files`.",
        ),
        503: error(
            503,
            "Storage was unavailable or the service busy: nothing was stored (when some files were, the "
            "answer is 207). `details.files` lists each file. Retry after `Retry-After` seconds.",
        ),
    }


_PHOTO_ETAG = etag_header(
    200, 304, description="This answer's version: send it as `If-None-Match` to read again for free (304)."
)


def _photo_tag(photo, gallery, viewer: str) -> str:
    """A photo's ETag: its stored state (``state_tag``: the edit version If-Match names, then a digest),
    and what its answer depends on beyond the photo: the viewer and the gallery's location and download
    rules (originalURL)."""
    downloads = "d" if downloads_allowed(gallery) else "n"
    return f"{photo.state_tag()}.{viewer}.{location_privacy_of(gallery)}.{downloads}"


class PhotoViewSet(BaseViewSet):
    """A gallery's photos: anyone can read; curators upload, edit and delete."""

    def get_serializer(self, *args, **kwargs):
        # Only for the browsable API's forms and OPTIONS; create() reads the request itself. A photo's
        # page offers its edit form (PATCH), a gallery's photos the upload form.
        if getattr(self.request, "method", None) == "PATCH":
            return PhotoEditSerializer(*args, **kwargs)
        return PhotoUploadFormSerializer(*args, **kwargs)

    @extend_schema(
        operation_id="listPhotos",
        tags=["photos"],
        summary="List a gallery's photos",
        description=(
            "A page of the gallery's photos in the `ordering` asked for (`photoNumber` by default), "
            "optionally only those with a `tag`. Anyone may list a public or unlisted gallery's photos; a "
            "private gallery is 404 to everyone but curators. Follow `next` for the following page (a page "
            "filtered by tag may hold fewer photos than `page_size`, even none, and still have a `next`); "
            "a cursor continues only the ordering that made it. A photo uploaded before an ordering "
            "existed appears in it once the photos scan has given it its place."
        ),
        parameters=[PhotoListQuerySerializer, *PAGE_PARAMETERS],
        responses={
            200: PHOTO_PAGE,
            400: error(
                400,
                "An unknown `ordering` (`details.ordering` names the allowed ones), a `tag` too long, a "
                "`page_size` below 1, or a `cursor` that is not one of this ordering's.",
            ),
        },
    )
    def list(self, request, gallery_pk=None):
        filters = self.query(PhotoListQuerySerializer)
        gallery = gallery_selectors.gallery_read(gallery_id=gallery_pk, curator=self.is_curator())
        privacy = location_privacy_of(gallery)
        page = selectors.photo_list(
            gallery_id=gallery_pk, cursor=self.cursor(), page_size=self.page_size(), **filters
        )
        return self.page_response(page, PhotoOutputSerializer, location_privacy=privacy, gallery=gallery)

    @extend_schema(
        operation_id="searchPhotos",
        tags=["photos"],
        summary="Find photos by tag across galleries",
        description=(
            "A page of the photos with `tag` in every gallery the caller may search, newest first: "
            "curators search all galleries, anyone else public galleries only (a private gallery's photos "
            "are never found, nor an unlisted gallery's, which only those with its link see). Each photo "
            "answers as its gallery's listing would (location and downloads as that gallery allows). "
            "Follow `next` for the following page (a page may hold fewer photos than `page_size`, even "
            "none, and still have a `next`)."
        ),
        parameters=[PhotoSearchQuerySerializer, *PAGE_PARAMETERS],
        responses={
            200: PHOTO_PAGE,
            400: error(
                400, "No `tag`, one too long, a `page_size` below 1, or a `cursor` not of this search."
            ),
        },
    )
    def search(self, request):
        query = self.query(PhotoSearchQuerySerializer)
        page = selectors.photos_tagged(
            tag=query["tag"], curator=self.is_curator(), cursor=self.cursor(), page_size=self.page_size()
        )
        # Each photo is answered with its own gallery's rules (location privacy, downloads).
        results = [
            PhotoOutputSerializer(
                found.photo,
                context={
                    "request": request,
                    "location_privacy": location_privacy_of(found.gallery),
                    "gallery": found.gallery,
                },
            ).data
            for found in page.items
        ]
        return Response(
            {"results": results, **page_links(request, page)}, headers={"Vary": "Authorization, Cookie"}
        )

    @extend_schema(
        operation_id="getPhoto",
        tags=["photos"],
        summary="Read a photo",
        description=(
            "The photo with fresh URLs of its renditions. Anyone may read a photo of a public or unlisted "
            "gallery; a private gallery's photos are 404 to everyone but curators. The answer has an `ETag`: "
            "send it back as `If-None-Match` and an unchanged photo answers 304 with no body."
        ),
        parameters=[IF_NONE_MATCH, _PHOTO_ETAG],
        responses={200: PhotoOutputSerializer, 304: not_modified()},
    )
    def retrieve(self, request, gallery_pk=None, pk=None):
        gallery = gallery_selectors.gallery_read(gallery_id=gallery_pk, curator=self.is_curator())
        privacy = location_privacy_of(gallery)
        photo = selectors.photo_get(gallery_id=gallery_pk, photo_id=pk)
        context = {"request": request, "location_privacy": privacy, "gallery": gallery}
        tag = _photo_tag(photo, gallery, self.viewer())
        return self.tagged(tag, lambda: PhotoOutputSerializer(photo, context=context).data)

    @extend_schema(
        operation_id="getPhotoOriginal",
        tags=["photos"],
        summary="Download a photo's original",
        description=(
            "Redirects (302) to a short-lived signed URL of the photo's original file. Curators always "
            "get the original as uploaded; visitors only when the gallery allows downloads, and then a "
            "copy without the location unless the gallery shows exact locations. Follow `Location` at "
            "once: the URL expires within minutes."
        ),
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                response=[302],
                description="The signed URL of the original (or of its copy without the location).",
            )
        ],
        responses={
            302: OpenApiResponse(description="The original is at `Location` (no body)."),
            404: error(
                404,
                "No such photo or gallery (to visitors, a private gallery is a missing one), or the gallery "
                "does not offer its originals to visitors.",
            ),
        },
    )
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

    @extend_schema(
        operation_id="uploadPhotos",
        tags=["photos"],
        summary="Upload photos",
        description=(
            "Curators upload one or more photos as `multipart/form-data`: each `photos` part is a file, "
            "and the i-th `titles`, `descriptions` and `tags` parts go with the i-th file. Each file is "
            "checked and stored on its own: 201 when all were stored, 207 when some were refused "
            "(`errors`), and an error envelope when none was (`details.files` lists why, file by file). "
            "A file whose bytes are a photo of the gallery already is answered by that photo "
            "(`duplicateOf`) unless `keepDuplicate` is true. Requests are limited to about 4.5 MB behind "
            "API Gateway: send larger files through upload slots (`createUploadSlots`)."
        ),
        request={"multipart/form-data": PhotoUploadSerializer},
        parameters=idempotency_parameters(201, 207),
        responses=_upload_answers(body="The body is"),
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
                alt_text=entry["alt_text"],
            )
            for entry in entries
        ]

        def sent() -> str:
            files = [
                {
                    **entry,
                    "file": idempotency.file_digest(entry["file"]),
                    "name": entry["file"].name,
                    "type": entry["file"].content_type,
                }
                for entry in entries
            ]
            return idempotency.fingerprint_of(files, keep)

        return self._idempotent_upload(
            gallery_pk,
            sent,
            lambda: upload.photos_upload(
                gallery_id=gallery_pk, files=incoming, keep_duplicate=keep["keepDuplicate"]
            ),
        )

    @extend_schema(
        operation_id="createUploadSlots",
        tags=["photos"],
        summary="Get upload slots for large files",
        description=(
            "Curators get one presigned S3 form per file, for files too large to send through the API. "
            "Post each form's `fields`, then the file (as the last field, named `file`) to its `url` within "
            "15 minutes (S3 takes only the declared content type and at most `maxBytes`). Each file may "
            "carry its photo's `filename`, `title`, `description`, `tags` and `altText` (checked as "
            "`createPhotosFromUploads` checks them), and the request `keepDuplicate`: once S3 has a file, "
            "its photo is made with them, with no further call (a photo appears in the gallery within "
            "seconds; a file that is not a photo is refused and removed). `createPhotosFromUploads` "
            "naming each `uploadKey` still works, whether it comes before or after that: it answers the "
            "photos, and applies the metadata it sends (which wins over the slot's)."
        ),
        request={"application/json": UploadSlotsInputSerializer},
        responses={201: UploadSlotsOutputSerializer},
    )
    def upload_slots(self, request, gallery_pk=None):
        """Presigned S3 POST forms for files too large for API Gateway (see photos.services.direct_upload)."""
        data = self.validated(UploadSlotsInputSerializer, request.data)
        slots = direct_upload.upload_slots_create(
            gallery_id=gallery_pk, files=data["files"], keep_duplicate=data["keepDuplicate"]
        )
        return Response(UploadSlotsOutputSerializer({"uploads": slots}).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="createPhotosFromUploads",
        tags=["photos"],
        summary="Make photos from uploaded files",
        description=(
            "Curators make photos of files posted to upload slots (`createUploadSlots`), with the same "
            "checks and answers as `uploadPhotos`; since S3's event makes each photo by itself, this call "
            "is needed only to learn the answer or to send metadata the slots did not carry. Each "
            "`uploadKey` is made into a photo once: asking again (a retry), or after the event made it, "
            "answers that photo, or the same refusal. The metadata sent wins over the slot's, field by "
            "field (what is left out keeps the slot's value); sent after the photo was made, it is "
            "applied to the photo as an edit would (`updatePhoto`), once: the same request again changes "
            "nothing. A key S3's event is making into a photo at that moment is waited for (a few "
            "seconds); one still at work after that, or being completed by another request, is refused "
            "with the code `upload_busy` (409): ask again."
        ),
        request={"application/json": FromUploadsInputSerializer},
        parameters=idempotency_parameters(201, 207),
        responses=_upload_answers(body="The JSON body is"),
    )
    def create_from_uploads(self, request, gallery_pk=None):
        """Photos from files posted to upload slots; answers exactly like the multipart upload."""
        data = self.validated(FromUploadsInputSerializer, request.data, context={"gallery_id": gallery_pk})
        return self._idempotent_upload(
            gallery_pk,
            lambda: idempotency.fingerprint_of(data),
            lambda: direct_upload.photos_from_uploads(
                gallery_id=gallery_pk, uploads=data["uploads"], keep_duplicate=data["keepDuplicate"]
            ),
        )

    def _idempotent_upload(self, gallery_pk, sent, made) -> Response:
        """An upload's answer, or with an ``Idempotency-Key`` already answered, that answer again: the
        same status, the photos it stored as they are now (one deleted since is left out) and the same
        refusals."""

        def work(new_id: str | None):
            response = self._upload_response(made())
            kept = [
                {"photoId": photo["photoId"], "duplicate": "duplicateOf" in photo}
                for photo in response.data["photos"]
            ]
            return response, {"photos": kept, "errors": json.dumps(response.data["errors"])}

        def replay(result: dict, code: int) -> Response:
            duplicates = {kept["photoId"] for kept in result["photos"] if kept["duplicate"]}
            photo_ids = [kept["photoId"] for kept in result["photos"]]
            photos = selectors.photos_live(gallery_id=gallery_pk, photo_ids=photo_ids)
            for photo in photos:
                if photo.photo_id in duplicates:
                    photo.duplicate_of = photo.photo_id  # type: ignore[attr-defined]  # as the upload marks it
            body = {"photos": photos, "errors": json.loads(result["errors"])}
            return Response(UploadResultSerializer(body, context={"request": self.request}).data, status=code)

        return idempotency.idempotent(
            self.request,
            fingerprint=sent,
            work=work,
            replay=replay,
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
            names = ", ".join(failure["filename"] or f"#{failure['index']}" for failure in failures)
            code = _batch_status({failure["status"] for failure in failures})
            details: dict = {"files": failures}
            if code >= 500:
                details["requestId"] = getattr(self.request, "request_id", "-")
            raise ApiError(code, f"No photo was stored: {names}.", details=details)
        # A photo answered for a file whose bytes were stored before carries ``duplicateOf``.
        result_body = {"photos": result.photos, "errors": failures}
        body = UploadResultSerializer(result_body, context={"request": self.request}).data
        # 207 when some files were stored and some refused: the stored ones exist, the rest are listed.
        return Response(body, status=status.HTTP_207_MULTI_STATUS if failures else status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="deletePhoto",
        tags=["photos"],
        summary="Delete a photo",
        description=(
            "Curators delete a photo: its files, its ratings and its place in the gallery (the cover moves "
            "to another photo when it was this one). Optionally a JSON body guards the delete: "
            '`{"photoNumber": 3, "s3Key": "..."}` deletes only when the stored photo has them (else 400), '
            "and a `photoId` in it must be the path's. Deleting a photo whose delete began finishes it."
        ),
        request={"application/json": PhotoDeleteSerializer},
        responses={
            200: PhotoDeletedSerializer,
            400: error(
                400,
                "The body is invalid, its `photoId` is not the path's, or its `photoNumber` or `s3Key` do "
                "not match the stored photo (nothing was deleted).",
            ),
            409: error(409, "The gallery kept changing while the photo was being deleted: try again."),
        },
    )
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
        return Response(
            PhotoDeletedSerializer({"galleryId": gallery_pk, "photoId": photo.photo_id, "deleted": True}).data
        )

    @extend_schema(
        operation_id="updatePhoto",
        tags=["photos"],
        summary="Edit a photo's title, description, tags or alt text",
        description=(
            "Curators only. Changes the fields sent (`title`, `description`, `tags`, `altText`) and leaves "
            "the others as they are; each is checked and cleaned as an upload's. With `If-Match` (the "
            "`ETag` of a read) the edit applies only to the photo as it was then, else 412; without it, to "
            "the current photo. Ratings and re-renders since that read do not count as changes (the tag's "
            "version moves only with edits). Answers the photo as `getPhoto` does, with its new `ETag`."
        ),
        request={"application/json": PhotoEditSerializer},
        parameters=[
            IF_MATCH,
            etag_header(200, description="The photo's new version: `If-Match` takes it for the next edit."),
        ],
        responses={
            200: PhotoOutputSerializer,
            409: error(409, "Other edits of this photo kept landing while it was being edited: retry."),
            412: error(412),
        },
    )
    def partial_update(self, request, gallery_pk=None, pk=None):
        data = self.validated(PhotoEditSerializer, request.data)
        gallery = gallery_selectors.gallery_read(gallery_id=gallery_pk, curator=self.is_curator())
        photo = edit.photo_edit(
            gallery_id=gallery_pk, photo_id=pk, expected_version=self.expected_version(), **data
        )
        context = {"request": request, "location_privacy": location_privacy_of(gallery), "gallery": gallery}
        tag = _photo_tag(photo, gallery, self.viewer())
        return self.tagged(tag, lambda: PhotoOutputSerializer(photo, context=context).data)
