"""The scan actions over HTTP: the guide's ``update_GalleryPhotos`` / ``update_galleries_metadata``.

``POST /galleries?action=update_GalleryPhotos[&id=<galleryId>]`` and its REST twin
``POST /api/scans/gallery-photos``; ``POST /galleries?action=update_galleries_metadata[&id=<galleryId>]``
and ``POST /api/scans/galleries-metadata``. A curator credential is required (POST).

Narrowing to one gallery: the guide's routes pass ``?id=`` like every other action; either route also
accepts ``galleryId`` in a JSON body (both given and different is a 400). Body flags: ``dryRun`` and,
for the photos scan, ``createMissingGalleries``. The answer is the run summary (200).

A whole-bucket scan can outlast API Gateway's 29 s limit: schedule big ones (scans.events) or narrow.
"""

from types import ModuleType

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.validation import IdField
from core.viewsets import BaseViewSet


def scan_services() -> tuple[ModuleType, ModuleType]:
    """The two scan services, imported on first use: with the claims, records and summary they bring they
    cost about 11 ms on a cold start (median cumulative time of ``scans.views`` over 12 runs of
    ``python -X importtime``, against 0.8 ms before), which every visitor's request would pay and only
    a curator's scan call needs."""
    from scans import galleries_scan, photos_scan  # lazy on purpose, see the docstring

    return photos_scan, galleries_scan


class ScanInputSerializer(serializers.Serializer):
    galleryId = IdField(required=False)
    dryRun = serializers.BooleanField(required=False, default=False)
    createMissingGalleries = serializers.BooleanField(required=False, default=False)
    resumeFrom = IdField(required=False, default=None)


class ScanViewSet(BaseViewSet):
    """Curators start the photos scan or the galleries scan; both answer the run summary."""

    def gallery_photos(self, request, gallery_id=None):
        options = self._options(request, gallery_id)
        photos_scan, _ = scan_services()
        summary = photos_scan.gallery_photos_scan(
            gallery_id=options["galleryId"],
            dry_run=options["dryRun"],
            create_missing_galleries=options["createMissingGalleries"],
            resume_from=options["resumeFrom"],
        )
        return Response(summary.as_dict())

    def galleries_metadata(self, request, gallery_id=None):
        options = self._options(request, gallery_id)
        _, galleries_scan = scan_services()
        summary = galleries_scan.galleries_metadata_scan(
            gallery_id=options["galleryId"], dry_run=options["dryRun"]
        )
        return Response(summary.as_dict())

    def _options(self, request, gallery_id: str | None) -> dict:
        options = dict(self.validated(ScanInputSerializer, request.data if request.data else {}))
        body_id = options.get("galleryId")
        if gallery_id is not None:
            if body_id is not None and body_id != gallery_id:
                raise ValidationError({"galleryId": ["Does not match the gallery id in the URL."]})
            options["galleryId"] = self.validated(ScanInputSerializer, {"galleryId": gallery_id})["galleryId"]
        options.setdefault("galleryId", None)
        return options
