"""The photos scan: bring the GalleryPhotos table in line with the originals in the bucket.

``gallery_photos_scan`` is the one service behind ``POST /galleries?action=update_GalleryPhotos``,
``manage.py update_gallery_photos`` and the scheduled Lambda event. Per gallery it:

1. reads the gallery's photo items once (a Query; a compact index ``s3Key -> item``);
2. streams ``renditions/{id}/`` and removes rendition objects no item owns (a killed upload or scan);
3. streams ``galleries/{id}/`` one listing page at a time: an original with no item is adopted exactly
   as an upload would make it (``photo_record``), one whose size/ETag changed is re-rendered in place;
4. removes items whose original is gone (``photo_delete``, so count and cover move) and finishes
   interrupted deletes (``photo_purge``).

Memory is one listing page plus the index of one gallery's photo items; the listing is never held.

Two runs at once: before adopting an original a run takes a *claim*, an item in the gallery's partition
of GalleryPhotos keyed by a hash of the original's key and written with a condition, so only one run
adopts it. The claim stays, naming the adopted photo, while that photo lives (it is the only index from
a free-form key to its photo); it has no photoNumber, so the byPhotoNumber index and every reader skip it.
Objects younger than ``settings.SCAN_SETTLE_SECONDS`` are left for the next run: an upload in flight
puts its objects before its item, and must not be adopted or swept meanwhile.
"""

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath

from django.conf import settings
from pynamodb.exceptions import PutError

from galleries.models import Gallery
from gallery_project.aws import s3_client
from gallery_project.errors import NotFound, storage_errors
from gallery_project.validation import is_valid_id
from photos import keys
from photos.models import CLAIM_PREFIX, GalleryPhoto, OriginalClaim
from photos.objects import objects_delete, objects_list

logger = logging.getLogger(__name__)

# A claim on an original whose run died is taken over after this long.
CLAIM_LEASE_SECONDS = 900
LISTING_PAGE = 1000  # keys handled together: one S3 listing page
MAX_REPORTED_FAILURES = 100


# ---------------------------------------------------------------- the run summary (both scans)


@dataclass
class ScanSummary:
    """What a scan did (or, in a dry run, would do); ``as_dict`` is the API, command and Lambda output."""

    scan: str
    gallery_id: str | None = None
    dry_run: bool = False
    scanned: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    failures: list[dict] = field(default_factory=list)
    missing_galleries: list[str] = field(default_factory=list)
    galleries_created: list[str] = field(default_factory=list)
    orphan_objects_removed: int = 0

    def fail(self, reason: str, **where) -> None:
        self.failed += 1
        if len(self.failures) < MAX_REPORTED_FAILURES:
            self.failures.append({**where, "reason": reason})

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.updated
            or self.removed
            or self.orphan_objects_removed
            or self.galleries_created
        )

    @property
    def message(self) -> str:
        verb = "would be " if self.dry_run else ""
        parts = [
            f"{count} {verb}{label}"
            for count, label in (
                (self.created, "created"),
                (self.updated, "updated"),
                (self.removed, "removed"),
                (self.orphan_objects_removed, "orphan objects removed"),
                (len(self.galleries_created), "galleries created"),
            )
            if count
        ]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.missing_galleries:
            parts.append(f"{len(self.missing_galleries)} galleries missing")
        head = f"Scanned {self.scanned}: "
        return head + (", ".join(parts) if parts else "nothing to change") + "."

    def as_dict(self) -> dict:
        return {
            "scan": self.scan,
            "galleryId": self.gallery_id,
            "dryRun": self.dry_run,
            "scanned": self.scanned,
            "created": self.created,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "failures": self.failures,
            "missingGalleries": self.missing_galleries,
            "galleriesCreated": self.galleries_created,
            "orphanObjectsRemoved": self.orphan_objects_removed,
            "changed": self.changed,
            "message": self.message,
        }


Progress = Callable[[ScanSummary], None]


def no_progress(summary: ScanSummary) -> None:
    return None


# ---------------------------------------------------------------- claims on originals


def claim_id_for(original_key: str) -> str:
    return CLAIM_PREFIX + hashlib.sha256(original_key.encode()).hexdigest()[:40]


def _claim_take(gallery_id: str, original_key: str, owner: str, *, replacing=None) -> OriginalClaim | None:
    """The claim, if this run got it; None when another run holds it or has adopted the original."""
    now = int(time.time())
    claim = OriginalClaim(
        gallery_id,
        claim_id_for(original_key),
        s3_key=original_key,
        owner=owner,
        claimed_until=now + CLAIM_LEASE_SECONDS,
    )
    if replacing is None:
        condition = OriginalClaim.claim_id.does_not_exist()
    else:
        # Take over exactly the claim we judged dead or stale, not one written since.
        condition = OriginalClaim.owner == replacing.owner
        condition &= OriginalClaim.claimed_until == replacing.claimed_until
    try:
        claim.save(condition=condition)
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return claim


def _claim_release(claim: OriginalClaim) -> None:
    try:
        claim.delete(condition=OriginalClaim.owner == claim.owner)
    except Exception:
        logger.exception("could not release the claim on %s; it expires by itself", claim.s3_key)


# ---------------------------------------------------------------- the service


def gallery_photos_scan(
    *,
    gallery_id: str | None = None,
    dry_run: bool = False,
    create_missing_galleries: bool = False,
    progress: Progress | None = None,
) -> ScanSummary:
    """Reconcile every gallery (or one) with its objects in S3; see the module docstring."""
    from galleries.scans import gallery_create_for_prefix

    summary = ScanSummary(scan="gallery_photos", gallery_id=gallery_id, dry_run=dry_run)
    run = _PhotosRun(summary, dry_run=dry_run, progress=progress or no_progress)
    if gallery_id is not None:
        if not _galleries_existing([gallery_id]) and not _has_originals(gallery_id):
            raise NotFound(f"Gallery {gallery_id[:128]} does not exist and has no objects in the bucket.")
        prefix_batches: Iterable[list[str]] = [[gallery_id]]
    else:
        for gallery in Gallery.scan(attributes_to_get=["galleryId"]):
            run.scan_gallery(gallery.gallery_id)
        prefix_batches = _chunks(_gallery_prefix_ids(), 100)
    for prefix_ids in prefix_batches:
        existing = _galleries_existing(prefix_ids)
        for prefix_id in prefix_ids:
            if prefix_id in existing:
                if gallery_id is not None:
                    run.scan_gallery(prefix_id)
                continue
            if not _has_originals(prefix_id):
                continue
            # Objects under a prefix with no gallery item: reported, or adopted as a new gallery.
            if not create_missing_galleries:
                summary.missing_galleries.append(prefix_id)
                continue
            summary.galleries_created.append(prefix_id)
            if not dry_run:
                gallery_create_for_prefix(gallery_id=prefix_id)
                run.scan_gallery(prefix_id)
    return summary


def _galleries_existing(gallery_ids: list[str]) -> set[str]:
    valid = [gallery_id for gallery_id in gallery_ids if is_valid_id(gallery_id)]
    found = Gallery.batch_get(valid, consistent_read=True, attributes_to_get=["galleryId"]) if valid else ()
    return {gallery.gallery_id for gallery in found}


def _gallery_prefix_ids() -> Iterator[str]:
    """Gallery ids that have a prefix under ``galleries/``, streamed from a delimited listing."""
    paginator = s3_client().get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=settings.BUCKET_NAME, Prefix=keys.ORIGINALS_ROOT, Delimiter="/")
    for page in pages:
        for common in page.get("CommonPrefixes", ()):
            parsed = keys.parse_original_key(common["Prefix"] + "x")
            if parsed:
                yield parsed[0]


def _has_originals(gallery_id: str) -> bool:
    listing = s3_client().list_objects_v2(
        Bucket=settings.BUCKET_NAME, Prefix=keys.gallery_prefix(gallery_id), MaxKeys=1
    )
    return bool(listing.get("KeyCount"))


@dataclass(slots=True)
class _Known:
    """What the index keeps of one photo item: enough to match, compare and find it again."""

    photo_id: str
    number: int
    etag: str | None
    size: int | None
    deleting: bool


@dataclass(frozen=True)
class _Listed:
    key: str
    size: int
    etag: str
    settled: bool


class _PhotosRun:
    """One run's state across galleries: the summary, the claim owner token, the options."""

    def __init__(self, summary: ScanSummary, *, dry_run: bool, progress: Progress):
        self.summary = summary
        self.dry_run = dry_run
        self.progress = progress
        self.owner = uuid.uuid4().hex
        self.workers = max(1, settings.PHOTO_PROCESSING_WORKERS)

    def scan_gallery(self, gallery_id: str) -> None:
        index = self._load_index(gallery_id)
        claims = self._load_claims(gallery_id)
        self._sweep_orphan_renditions(gallery_id, {known.number for known in index.values()})
        listed_claims: set[str] = set()
        for page in _chunks(objects_list(keys.gallery_prefix(gallery_id)), LISTING_PAGE):
            jobs = []
            for item in page:
                listed = _listed(item)
                if keys.parse_original_key(listed.key) is None:
                    continue  # a "folder" marker or a nested key: never an original
                self.summary.scanned += 1
                claim_id = claim_id_for(listed.key)
                if claim_id in claims:
                    listed_claims.add(claim_id)
                known = index.get(listed.key)
                if known is not None and known.deleting:
                    continue  # an interrupted delete: finished with the removals below
                if known is not None:
                    del index[listed.key]
                    if _unchanged(known, listed):
                        self._count(None)
                    else:
                        jobs.append((self._rerender, gallery_id, listed, known))
                elif not listed.settled:
                    self._count(None)  # maybe an upload in flight: the next run looks again
                else:
                    jobs.append((self._adopt, gallery_id, listed, None))
            self._run_jobs(jobs)
        self._remove_gone(gallery_id, index)
        stale = [claim_id for claim_id in claims if claim_id not in listed_claims]
        if stale and not self.dry_run:
            with OriginalClaim.batch_write() as batch:
                for claim_id in stale:
                    batch.delete(OriginalClaim(gallery_id, claim_id))

    def _load_index(self, gallery_id: str) -> dict[str, _Known]:
        index = {}
        photos = GalleryPhoto.query(
            gallery_id,
            GalleryPhoto.photo_id < CLAIM_PREFIX,
            consistent_read=True,
            attributes_to_get=[
                "photoId",
                "photoNumber",
                "s3Key",
                "originalETag",
                "originalSize",
                "deletingAt",
            ],
        )
        for photo in photos:
            index[photo.s3_key] = _Known(
                photo.photo_id,
                int(photo.photo_number),
                photo.original_etag,
                None if photo.original_size is None else int(photo.original_size),
                photo.deleting_at is not None,
            )
        return index

    def _load_claims(self, gallery_id: str) -> set[str]:
        claims = OriginalClaim.query(
            gallery_id,
            OriginalClaim.claim_id.startswith(CLAIM_PREFIX),
            consistent_read=True,
            attributes_to_get=["photoId"],
        )
        return {claim.claim_id for claim in claims}

    def _sweep_orphan_renditions(self, gallery_id: str, owned_numbers: set[int]) -> None:
        """Rendition objects of numbers no item holds: left by a run or upload killed mid-way."""
        for page in _chunks(objects_list(keys.renditions_prefix(gallery_id)), LISTING_PAGE):
            orphans = [
                item["Key"]
                for item in page
                if _listed(item).settled and _rendition_number(item["Key"]) not in owned_numbers
            ]
            if orphans and not self.dry_run:
                objects_delete(orphans)
            self.summary.orphan_objects_removed += len(orphans)

    def _run_jobs(self, jobs: list) -> None:
        """Adoptions and re-renders of one listing page, in parallel (image work releases the GIL)."""
        if not jobs:
            return
        if self.dry_run:
            for job, *_ in jobs:
                self._count("created" if job == self._adopt else "updated")
            return
        with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs))) as pool:
            for outcome in pool.map(lambda job: job[0](*job[1:]), jobs):
                self._count(outcome)

    def _count(self, outcome) -> None:
        """Book one object's outcome: None, "created", "updated", or a failure (where, reason)."""
        if outcome is None:
            self.summary.unchanged += 1
        elif isinstance(outcome, tuple):
            where, reason = outcome
            self.summary.fail(reason, **where)
        else:
            setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)
        self.progress(self.summary)

    def _adopt(self, gallery_id: str, listed: _Listed, _known):
        """Make the photo an upload would make from an original already in the bucket."""
        from photos.services import PhotoRejected, photo_record

        where = {"galleryId": gallery_id, "key": listed.key}
        claim = self._claim(gallery_id, listed.key)
        if claim is None:
            return None  # another run adopts (or adopted) this original
        try:
            data, processed = _read_and_process(listed)
            photo = photo_record(
                gallery_id=gallery_id,
                data=data,
                processed=processed,
                title="",
                description="",
                tags=(),
                original_key=listed.key,
                original_etag=listed.etag,
            )
        except _Refused as refused:
            _claim_release(claim)
            return where, refused.reason
        except PhotoRejected as rejected:
            _claim_release(claim)
            return where, rejected.message
        except storage_errors() as error:
            _claim_release(claim)
            logger.exception("adopting %s failed", listed.key)
            return where, f"Storage failed: {error}"
        try:
            claim.update(actions=[OriginalClaim.adopted_photo_id.set(photo.photo_id)])
        except storage_errors():
            # The photo exists; the claim just stays "adopting" until its lease ends, which is safe.
            logger.exception("could not mark the claim on %s as adopted", listed.key)
        return "created"

    def _claim(self, gallery_id: str, original_key: str) -> OriginalClaim | None:
        claim = _claim_take(gallery_id, original_key, self.owner)
        if claim is not None:
            return claim
        try:
            current = OriginalClaim.get(gallery_id, claim_id_for(original_key), consistent_read=True)
        except OriginalClaim.DoesNotExist:
            return _claim_take(gallery_id, original_key, self.owner)  # released meanwhile: try once more
        if current.adopted_photo_id is not None:
            if _photo_exists(gallery_id, current.adopted_photo_id):
                return None
            # The adopted photo was deleted (e.g. through the API) and the file synced again.
            return _claim_take(gallery_id, original_key, self.owner, replacing=current)
        if current.claimed_until > time.time():
            return None
        # A run died holding the claim; it may have committed the photo before dying.
        if _photo_with_key_exists(gallery_id, original_key):
            return None
        return _claim_take(gallery_id, original_key, self.owner, replacing=current)

    def _rerender(self, gallery_id: str, listed: _Listed, known: _Known):
        """The original changed under the same key: redo renditions and EXIF, keep number and keys."""
        from photos.services import photo_rerender

        where = {"galleryId": gallery_id, "key": listed.key}
        try:
            data, processed = _read_and_process(listed)
            changed = photo_rerender(
                gallery_id=gallery_id,
                photo_id=known.photo_id,
                previous_etag=known.etag,
                data=data,
                processed=processed,
                original_etag=listed.etag,
            )
        except _Refused as refused:
            return where, refused.reason
        except storage_errors() as error:
            logger.exception("re-rendering %s failed", listed.key)
            return where, f"Storage failed: {error}"
        return "updated" if changed else None

    def _remove_gone(self, gallery_id: str, index: dict[str, _Known]) -> None:
        """Items left in the index: originals gone, or deletes that were interrupted."""
        from photos.services import photo_delete, photo_purge

        for original_key, known in index.items():
            where = {"galleryId": gallery_id, "key": original_key}
            if self.dry_run:
                self._count("removed")
                continue
            try:
                if known.deleting:
                    photo = GalleryPhoto.get(gallery_id, known.photo_id, consistent_read=True)
                    photo_purge(photo)
                else:
                    photo_delete(gallery_id=gallery_id, photo_id=known.photo_id)
                OriginalClaim(gallery_id, claim_id_for(original_key)).delete()
            except (GalleryPhoto.DoesNotExist, NotFound):
                self._count(None)  # another run or a curator removed it first
                continue
            except storage_errors() as error:
                self._count((where, f"Storage failed: {error}"))
                continue
            self._count("removed")


# ---------------------------------------------------------------- helpers


class _Refused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _read_and_process(listed: _Listed):
    """The original's bytes and its processed image; _Refused with a reason a person can act on."""
    from photos import imaging

    if listed.size > settings.PHOTO_MAX_BYTES:
        raise _Refused(f"The file is larger than the {settings.PHOTO_MAX_BYTES} byte limit.")
    data = s3_client().get_object(Bucket=settings.BUCKET_NAME, Key=listed.key)["Body"].read()
    try:
        processed = imaging.process_image(data, max_pixels=settings.PHOTO_MAX_PIXELS)
    except imaging.ImageError as error:
        raise _Refused(error.message) from None
    return data, processed


def _listed(item: dict) -> _Listed:
    modified = item.get("LastModified")
    settle_seconds = settings.SCAN_SETTLE_SECONDS
    age = (datetime.now(UTC) - modified).total_seconds() if modified else settle_seconds
    return _Listed(
        item["Key"], int(item.get("Size", 0)), item.get("ETag", "").strip('"'), age >= settle_seconds
    )


def _unchanged(known: _Known, listed: _Listed) -> bool:
    if known.size is not None and known.size != listed.size:
        return False
    if known.etag == listed.etag:
        return True
    # A multipart upload's ETag ("<md5 of parts>-<count>") cannot be compared with a whole-file MD5:
    # with equal sizes, trust the size rather than re-render every run.
    return known.size is not None and ("-" in (known.etag or "")) != ("-" in listed.etag)


def _rendition_number(key: str) -> int | None:
    stem = PurePosixPath(key).name
    if not stem.startswith("photo") or "-" not in stem:
        return None
    digits = stem[len("photo") : stem.index("-")]
    return int(digits) if digits.isdigit() else None


def _photo_exists(gallery_id: str, photo_id: str) -> bool:
    try:
        GalleryPhoto.get(gallery_id, photo_id, consistent_read=True, attributes_to_get=["photoId"])
    except GalleryPhoto.DoesNotExist:
        return False
    return True


def _photo_with_key_exists(gallery_id: str, original_key: str) -> bool:
    """Reads the gallery's partition; only used after a run died holding a claim (rare)."""
    matches = GalleryPhoto.query(
        gallery_id,
        GalleryPhoto.photo_id < CLAIM_PREFIX,
        filter_condition=GalleryPhoto.s3_key == original_key,
        consistent_read=True,
        attributes_to_get=["photoId"],
    )
    return any(True for _ in matches)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
