"""The scans' input and their answer, the run summary (``scans.summary.ScanSummary.as_dict``), described
for the API and its schema."""

from rest_framework import serializers

from core.validation import IdField

SCANS = ("gallery_photos", "galleries_metadata")
# scans.summary.MAX_REPORTED_FAILURES, not imported: this module loads with every request's views, the
# summary only when a scan runs (scans.views.scan_services). A test keeps them equal.
REPORTED_FAILURES = 100


class ScanInputSerializer(serializers.Serializer):
    """What a scan may be told (every field optional; an empty body scans everything)."""

    galleryId = IdField(
        required=False,
        help_text="Scan only this gallery (404 if it does not exist; for the photos scan, if it has no "
        "objects in the bucket either). The guide's route may name it in `?id=` instead; both given and "
        "different is a 400.",
    )
    dryRun = serializers.BooleanField(
        required=False, default=False, help_text="Report what the scan would do, changing nothing."
    )
    createMissingGalleries = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Photos scan only: make a private gallery (placeholder place, to be set by a curator) for "
        "objects under `galleries/{id}/` that have no gallery, and adopt them; otherwise they are listed in "
        "`missingGalleries`.",
    )
    resumeFrom = IdField(
        required=False,
        default=None,
        help_text="Photos scan only: go on from this gallery, the `resumeFrom` of a run that stopped at its "
        "deadline (the passes that run before the galleries are not repeated). Ignored with `galleryId`.",
    )
    rerender = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Photos scan only: also make again, from their originals, the photos whose renditions an "
        "older release made (new sizes, formats, placeholders); photos already current are skipped, so a "
        "run cut short by its deadline goes on where it stopped.",
    )

    class Meta:
        ref_name = "ScanInput"


class ScanFailureSerializer(serializers.Serializer):
    """One thing a scan could not do, and where."""

    reason = serializers.CharField(help_text="What went wrong.")
    galleryId = serializers.CharField(required=False, help_text="The gallery concerned.")
    photoId = serializers.CharField(required=False, help_text="The photo concerned.")
    key = serializers.CharField(required=False, help_text="The object key concerned.")
    intent = serializers.CharField(
        required=False, help_text="The interrupted photo write (its record key) that could not be cleaned up."
    )

    class Meta:
        ref_name = "ScanFailure"


class ScanLeftSerializer(serializers.Serializer):
    """An object a scan saw and left as it is, and why."""

    key = serializers.CharField(help_text="The object's key in the bucket.")
    reason = serializers.CharField(
        help_text="Why it was left: e.g. an upload in flight is writing it, another scan or event is "
        "adopting it, it has the bytes of a photo of the gallery, or it is a rendition too young to judge."
    )

    class Meta:
        ref_name = "ScanLeft"


class ScanSummarySerializer(serializers.Serializer):
    """What a scan did (or, in a dry run, would do). Counts that do not apply to a scan are 0 and its lists
    empty (the galleries scan only scans, updates and fails)."""

    # scans.summary.ScanSummary.as_dict, field by field (tests/scans/test_scan_api_contract.py).

    scan = serializers.ChoiceField(
        choices=SCANS,
        help_text="Which scan ran: gallery_photos (the tables against the bucket) or galleries_metadata "
        "(each gallery's photoCount, cover and years against its photos).",
    )
    galleryId = serializers.CharField(
        allow_null=True, help_text="The gallery the scan was narrowed to, or null for all of them."
    )
    dryRun = serializers.BooleanField(
        help_text="True when nothing was changed: the counts say what would be."
    )
    scanned = serializers.IntegerField(
        help_text="Photos scan: originals listed in the bucket; galleries scan: galleries examined."
    )
    created = serializers.IntegerField(help_text="Photos adopted from originals that had no photo item.")
    updated = serializers.IntegerField(
        help_text="Photos scan: photos re-rendered (their original changed or renditions were missing); "
        "galleries scan: galleries whose photoCount, cover or years were repaired."
    )
    removed = serializers.IntegerField(
        help_text="Photo items removed: their original is gone, their delete had been interrupted, or "
        "their gallery no longer exists."
    )
    unchanged = serializers.IntegerField(help_text="Originals (or galleries) that needed nothing.")
    failed = serializers.IntegerField(help_text="How many things failed (all of them, even past the list).")
    failures = ScanFailureSerializer(
        many=True, help_text=f"What failed and where: the first {REPORTED_FAILURES} failures."
    )
    leftCount = serializers.IntegerField(
        help_text="Objects the scan saw and left as they are (all of them, even past the list)."
    )
    left = ScanLeftSerializer(
        many=True,
        help_text=f"The objects left as they are, by key with the reason: the first {REPORTED_FAILURES}. "
        "Nothing is skipped without being listed here.",
    )
    missingGalleries = serializers.ListField(
        child=serializers.CharField(),
        help_text="Gallery ids with objects in the bucket and no gallery (left alone: see "
        "`createMissingGalleries`).",
    )
    galleriesCreated = serializers.ListField(
        child=serializers.CharField(),
        help_text="Galleries made (private) for such objects, with `createMissingGalleries`.",
    )
    orphanObjectsRemoved = serializers.IntegerField(
        help_text="Rendition and download-copy objects deleted that no photo or gallery owns."
    )
    failedWritesCleaned = serializers.IntegerField(
        help_text="Photo writes that failed or were interrupted, whose objects and claims were cleaned up."
    )
    galleriesDeleted = serializers.ListField(
        child=serializers.CharField(), help_text="Galleries whose interrupted delete was finished."
    )
    orphanGalleries = serializers.ListField(
        child=serializers.CharField(),
        help_text="Gallery ids whose photo items had no gallery: those photos were purged.",
    )
    abandonedUploadsRemoved = serializers.IntegerField(
        help_text="Direct-upload objects deleted, never completed for a day."
    )
    duplicates = serializers.IntegerField(
        help_text="Originals not adopted because a photo of the gallery has the same bytes."
    )
    renditionsPlaced = serializers.IntegerField(
        help_text="Photos whose renditions were moved to where their gallery's visibility asks."
    )
    rerendered = serializers.IntegerField(
        help_text="Photos made again with the current renditions and placeholders (`rerender`)."
    )
    complete = serializers.BooleanField(
        help_text="False when the scan stopped at the request's deadline before finishing: run it again, "
        "with `resumeFrom` when it names a gallery."
    )
    resumeFrom = serializers.CharField(
        allow_null=True,
        help_text="When `complete` is false: the gallery to resume from (send it as `resumeFrom`), or null "
        "when the run stopped before the galleries (then run it again as it was). Null when complete.",
    )
    changed = serializers.BooleanField(
        help_text="Whether anything was (or, in a dry run, would be) changed: created, updated, removed, "
        "cleaned, placed or made."
    )
    message = serializers.CharField(help_text="The summary as one sentence for people.")

    class Meta:
        ref_name = "ScanSummary"
