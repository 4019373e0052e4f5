"""The scan actions over HTTP: the guide's ``update_GalleryPhotos`` / ``update_galleries_metadata``.

``POST /galleries?action=update_GalleryPhotos[&id=<galleryId>]`` and its REST twin
``POST /api/scans/gallery-photos``; ``POST /galleries?action=update_galleries_metadata[&id=<galleryId>]``
and ``POST /api/scans/galleries-metadata``. A curator credential is required (POST).

Narrowing to one gallery: the guide's routes pass ``?id=`` like every other action; either route also
accepts ``galleryId`` in a JSON body (both given and different is a 400). Body flags: ``dryRun`` and,
for the photos scan, ``createMissingGalleries`` and ``rerender``. The answer is the run summary (200).

A whole-bucket scan can outlast API Gateway's 29 s limit: schedule big ones (scans.events) or narrow.
"""

from collections.abc import Mapping
from types import ModuleType

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.schema import error
from core.viewsets import BaseViewSet
from scans.serializers import ScanInputSerializer, ScanSummarySerializer


def scan_services() -> tuple[ModuleType, ModuleType]:
    """The two scan services, imported on first use: with the claims, records and summary they bring they
    cost about 11 ms on a cold start (median cumulative time of ``scans.views`` over 12 runs of
    ``python -X importtime``, against 0.8 ms before), which every visitor's request would pay and only
    a curator's scan call needs."""
    from scans import galleries_scan, photos_scan  # lazy on purpose, see the docstring

    return photos_scan, galleries_scan


TAGS = ["scans"]
# The body is documented as JSON (as the galleries' are: forms work too, outside the contract).
FAILURES_NOTE = (
    " What fails for one item does not fail the run: it is counted in `failed` and listed in `failures`."
)


class ScanViewSet(BaseViewSet):
    """Curators start the photos scan or the galleries scan; both answer the run summary."""

    @extend_schema(
        operation_id="scanGalleryPhotos",
        summary="Reconcile the photo tables with the bucket",
        description=(
            "Curators only. Brings GalleryPhotos in line with the originals under `galleries/` in the "
            "bucket: adopts originals that have no photo (as an upload would), re-renders changed ones, "
            "removes photos whose original is gone, and finishes what crashes left (interrupted writes "
            "and deletes, orphan renditions, abandoned direct uploads, renditions not where their "
            "gallery's visibility asks). Safe to repeat. Narrow it with `galleryId`; preview it with "
            "`dryRun`. Near the request's deadline it stops and answers `complete: false`: run it again, "
            "with `resumeFrom` when the answer names one." + FAILURES_NOTE
        ),
        tags=TAGS,
        request={"application/json": ScanInputSerializer},
        responses={
            200: OpenApiResponse(ScanSummarySerializer, description="What the run did (or would do)."),
            404: error(
                404,
                "`galleryId` names no gallery and no objects in the bucket (or an id that cannot be one).",
            ),
        },
    )
    def gallery_photos(self, request, gallery_id=None):
        options = self._options(request, gallery_id)
        photos_scan, _ = scan_services()
        summary = photos_scan.gallery_photos_scan(
            gallery_id=options["galleryId"],
            dry_run=options["dryRun"],
            create_missing_galleries=options["createMissingGalleries"],
            resume_from=options["resumeFrom"],
            rerender=options["rerender"],
        )
        return Response(summary.as_dict())

    @extend_schema(
        operation_id="scanGalleriesMetadata",
        summary="Repair galleries' photoCount, cover and years",
        description=(
            "Curators only. Recomputes each gallery's (or one's, with `galleryId`) photoCount, cover and "
            "years from its live photos and writes only what drifted, never over a concurrent change. "
            "Safe to repeat; `dryRun` reports without writing. `createMissingGalleries` and `resumeFrom` "
            "are ignored; `complete` is always true." + FAILURES_NOTE
        ),
        tags=TAGS,
        request={"application/json": ScanInputSerializer},
        responses={
            200: OpenApiResponse(ScanSummarySerializer, description="What the run did (or would do)."),
            404: error(404, "`galleryId` names a gallery that does not exist."),
        },
    )
    def galleries_metadata(self, request, gallery_id=None):
        options = self._options(request, gallery_id)
        _, galleries_scan = scan_services()
        summary = galleries_scan.galleries_metadata_scan(
            gallery_id=options["galleryId"], dry_run=options["dryRun"]
        )
        return Response(summary.as_dict())

    def _options(self, request, gallery_id: str | None) -> dict:
        # No body scans with the defaults; a body that is no JSON object (`null`, `false`, `[]`) is a 400
        # like any malformed input, not a run over the whole bucket.
        body = {} if isinstance(request.data, Mapping) and not request.data else request.data
        options = dict(self.validated(ScanInputSerializer, body))
        body_id = options.get("galleryId")
        if gallery_id is not None:
            if body_id is not None and body_id != gallery_id:
                raise ValidationError({"galleryId": ["Does not match the gallery id in the URL."]})
            options["galleryId"] = self.validated(ScanInputSerializer, {"galleryId": gallery_id})["galleryId"]
        options.setdefault("galleryId", None)
        return options
