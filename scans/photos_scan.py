"""The photos scan: bring the GalleryPhotos table in line with the originals in the bucket.

``gallery_photos_scan`` is the one service behind ``POST /galleries?action=update_GalleryPhotos``,
``manage.py update_gallery_photos`` and the scheduled Lambda event. Per gallery it:

1. reads the gallery's photo items once (a Query; a compact index ``s3Key -> item``);
2. streams ``renditions/{id}/`` and removes rendition objects no item owns (a killed upload or scan);
3. streams ``galleries/{id}/`` one listing page at a time: an original with no item goes through the
   uploads' own prepare step and is adopted exactly as an upload would make it (``photo_record``), one
   whose size/ETag changed is re-rendered in place (``photo_rerender``);
4. removes items whose original is gone (``photo_delete``, so count and cover move) and finishes
   interrupted deletes (``photo_purge``);
5. moves renditions not where the gallery's visibility asks, fills in order keys items lack (or whose
   rating key disagrees with the aggregate: ``photos.services.order_keys``), and makes the gallery's tag
   entries match its photos (``photos.tags``).

Memory is one listing page plus the index of one gallery's photo items; the listing is never held.

Two runs at once: before adopting an original a run takes a claim on it (``scans.claims``), so only one
run adopts it. No object is judged by its age: an upload in flight records its intent (``photos.intents``)
before it puts its first object, so an original an intent names is left to that upload, and every other
original is adopted at once (an object appears in a listing only once it is whole). A rendition no item
lists is removed only when it was written before any write still alive could have begun
(``_before_live_writes``: a re-render or move puts its new objects before its item lists them, and no
write lives longer than ``core.records.WRITE_LIFETIME``). Whatever a run leaves, it lists by key with
the reason (``ScanSummary.left``).
"""

import contextlib
import logging
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from core import records, storage
from core.deadline import carried, remaining
from core.errors import Conflict, DomainError, NotFound, Unavailable, storage_errors
from core.validation import is_valid_id
from galleries.models import visibility_of
from galleries.selectors import galleries_existing, gallery_get, gallery_ids
from galleries.services import gallery_create
from photos import intents, keys
from photos.content import DuplicatePhoto
from photos.models import GalleryPhoto
from photos.ordering import rating_order
from photos.prepare import IncomingPhoto, photo_prepare, rendition_formats, title_from_filename
from photos.renditions import renditions_version
from photos.selectors import (
    photo_exists,
    photo_get,
    photo_number_taken,
    photo_with_key_exists,
    photos_of_gallery,
)
from photos.services.delete import photo_delete, photo_purge
from photos.services.direct_upload import UploadEvent, photo_from_upload_event
from photos.services.order_keys import order_keys_fill
from photos.services.placement import photo_place
from photos.services.rerender import photo_rerender
from photos.services.upload import photo_record
from photos.tags import entries_differ, gallery_tag_entries, tag_entries_delete, tag_entries_repair
from ratings import aggregate
from scans import claims, leftovers
from scans.summary import Progress, ScanSummary, no_progress

logger = logging.getLogger(__name__)

LISTING_PAGE = 1000  # keys handled together: one S3 listing page
# A gallery made for objects found under an unknown prefix needs a continent (one of the seven) and a
# country before it is valid input; these placeholders say plainly that a curator must set them.
PLACEHOLDER_CONTINENT = "Europe"
PLACEHOLDER_COUNTRY = "Unknown"
PLACEHOLDER_DESCRIPTION = "Created by the photos scan for photos found in the bucket; set its place."


# ---------------------------------------------------------------- the service


def gallery_photos_scan(
    *,
    gallery_id: str | None = None,
    dry_run: bool = False,
    create_missing_galleries: bool = False,
    progress: Progress | None = None,
    resume_from: str | None = None,
    rerender: bool = False,
) -> ScanSummary:
    """Reconcile every gallery (or one) with its objects in S3; see the module docstring.

    Near the request's or event's deadline (``core.deadline``) the scan stops between two listing pages
    and says so: ``complete`` is False and ``resumeFrom`` names the gallery the next run starts at
    (``resume_from``; the passes over leftovers and galleries done before it are not repeated).

    ``rerender`` also makes again, from their originals, the photos whose renditions were made by an
    older pipeline (their ``renditionsVersion`` is not ``photos.renditions.renditions_version``: new
    sizes, formats or placeholders), same number, new keys for changed files; a photo made again is
    current, so a second run (or one resumed after its deadline) skips it.
    """
    summary = ScanSummary(scan="gallery_photos", gallery_id=gallery_id, dry_run=dry_run)
    run = _PhotosRun(summary, dry_run=dry_run, progress=progress or no_progress, rerender=rerender)
    try:
        _scan(
            run,
            gallery_id=gallery_id,
            create_missing_galleries=create_missing_galleries,
            resume_from=resume_from,
        )
    except _OutOfTime as stopped:
        summary.complete = False
        summary.resume_from = stopped.gallery_id
    return summary


class _OutOfTime(Exception):
    def __init__(self, gallery_id: str | None):
        self.gallery_id = gallery_id


# Stop when less than this is left: enough for one listing page of work and an answer.
STOP_MARGIN_SECONDS = 20.0


def _time_check(gallery_id: str | None) -> None:
    left = remaining()
    if left is not None and left < STOP_MARGIN_SECONDS:
        raise _OutOfTime(gallery_id)


def _scan(
    run: "_PhotosRun", *, gallery_id: str | None, create_missing_galleries: bool, resume_from: str | None
):
    summary, dry_run = run.summary, run.dry_run

    def stop() -> None:  # in the passes over leftovers: the next run does them again (they are idempotent)
        _time_check(None)

    if gallery_id is not None:
        if not galleries_existing(gallery_ids=[gallery_id]) and not _has_originals(gallery_id):
            raise NotFound(f"Gallery {gallery_id[:128]} does not exist and has no objects in the bucket.")
        run.named = leftovers.intents_finish(summary, gallery_id=gallery_id, dry_run=dry_run, time_check=stop)
        leftovers.abandoned_uploads_remove(summary, gallery_id=gallery_id, dry_run=dry_run, time_check=stop)
        prefix_batches: Iterable[list[str]] = [[gallery_id]]
    else:
        run.named = leftovers.intents_finish(summary, gallery_id=None, dry_run=dry_run, time_check=stop)
        if resume_from is None:
            leftovers.orphan_photos_remove(summary, dry_run=dry_run, time_check=stop)
            leftovers.orphan_renditions_remove(summary, named=run.named, dry_run=dry_run)
            leftovers.abandoned_uploads_remove(summary, gallery_id=None, dry_run=dry_run, time_check=stop)
        for each_id in gallery_ids(start_at=resume_from):
            _time_check(each_id)
            run.scan_gallery(each_id)
        prefix_batches = leftovers.pages(_gallery_prefix_ids(), 100)
    for prefix_ids in prefix_batches:
        existing = galleries_existing(gallery_ids=prefix_ids)
        for prefix_id in prefix_ids:
            if prefix_id in existing:
                if gallery_id is not None:
                    run.scan_gallery(prefix_id)
                continue
            _time_check(None)
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


def _gallery_prefix_ids() -> Iterator[str]:
    """Gallery ids that have a prefix under ``galleries/``, streamed from a delimited listing."""
    for prefix in storage.subprefixes_list(keys.ORIGINALS_ROOT):
        parsed = keys.parse_original_key(prefix + "x")
        if parsed:
            yield parsed[0]


def _has_originals(gallery_id: str) -> bool:
    return storage.prefix_has_objects(keys.gallery_prefix(gallery_id))


def gallery_create_for_prefix(*, gallery_id: str) -> None:
    """A gallery item for objects found under ``galleries/{gallery_id}/`` (id kept, name from the id),
    private: photos no curator has looked at are not published by a scan."""
    if not is_valid_id(gallery_id):
        raise NotFound(f"{gallery_id[:128]!r} cannot be a gallery id.")
    with contextlib.suppress(Conflict):  # a concurrent run made it first
        gallery_create(
            gallery_id=gallery_id,
            name=re.sub(r"[-_.]+", " ", gallery_id).strip().capitalize() or gallery_id,
            continent=PLACEHOLDER_CONTINENT,
            country=PLACEHOLDER_COUNTRY,
            description=PLACEHOLDER_DESCRIPTION,
            visibility="private",
        )


@dataclass(slots=True)
class _Known:
    """What the index keeps of one photo item: enough to match, compare, check and find it again."""

    photo_id: str
    number: int
    s3_key: str
    etag: str | None
    size: int | None
    deleting: bool
    renditions: tuple[str, ...]
    visibility: str | None
    # What the order keys and tag entries are made from, and the order keys as stored.
    tags: tuple[str, ...] = ()
    uploaded_at: str = ""
    taken: str | None = None  # the date taken, read only for an item that lacks its takenOrder
    taken_order: str | None = None
    rating_order: str | None = None
    rating_count: int = 0
    rating_sum: int = 0
    renditions_version: str | None = None  # what made its renditions (photos.renditions)


@dataclass(frozen=True)
class _Listed:
    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class Left:
    """An object a run saw and left as it is, and why (the summary lists it by key)."""

    reason: str


WRITING = "a photo write is under way for it (an upload in flight); that upload makes its photo"
UPLOAD_WAITING = (
    "a direct upload whose slot carried no metadata, waiting for the browser's completion (from-uploads); "
    "removed after a day"
)


class _PhotosRun:
    """One run's state across galleries: the summary, the claim owner token, the options."""

    def __init__(self, summary: ScanSummary, *, dry_run: bool, progress: Progress, rerender: bool = False):
        self.summary = summary
        # What photos made now are made as; with ``rerender``, older ones are made again.
        self.rerender_older_than = renditions_version(rendition_formats()) if rerender else None
        self.dry_run = dry_run
        self.progress = progress
        self.owner = claims.new_owner()
        self.workers = max(1, settings.PHOTO_PROCESSING_WORKERS)
        self.named: set[str] = set()  # keys live photo-write intents name: never adopted or swept
        # The gallery's visibility, read once per gallery (None: no gallery item): adoptions, re-renders
        # and the placement pass use it instead of reading the gallery per photo. A change during the
        # run is caught by the placement's own condition and the next run.
        self.visibility: str | None = None

    def scan_gallery(self, gallery_id: str) -> None:
        if leftovers.deletes_finish(self.summary, gallery_id=gallery_id, dry_run=self.dry_run):
            return
        try:
            self.visibility = visibility_of(gallery_get(gallery_id=gallery_id))
        except NotFound:
            self.visibility = None
        index_read_at = datetime.now(UTC)
        index = self._load_index(gallery_id)  # photo id -> what the item says
        by_key: dict[str, list[_Known]] = {}
        for known in index.values():
            by_key.setdefault(known.s3_key, []).append(known)
        present = self._sweep_orphan_renditions(gallery_id, index, index_read_at)
        unmatched = set(index)
        for page in leftovers.pages(storage.objects_list(keys.gallery_prefix(gallery_id)), LISTING_PAGE):
            _time_check(gallery_id)
            jobs: list[tuple] = []  # (method, gallery id, listed object, known item or None)
            for item in page:
                listed = _listed(item)
                if keys.parse_original_key(listed.key) is None:
                    continue  # a "folder" marker or a nested key: never an original
                self.summary.scanned += 1
                holders = by_key.get(listed.key, [])
                if not holders and listed.key in self.named:
                    self._count(Left(WRITING), key=listed.key)  # (a failed one was cleaned up above)
                    continue
                for known in holders:
                    if known.deleting:
                        continue  # an interrupted delete: finished with the removals below
                    unmatched.discard(known.photo_id)
                    if not _unchanged(known, listed):
                        jobs.append((self._rerender, gallery_id, listed, known))
                    elif not set(known.renditions) <= present:
                        jobs.append((self._rerender, gallery_id, listed, known))  # renditions lost
                    elif self.rerender_older_than not in (None, known.renditions_version):
                        jobs.append((self._remake, gallery_id, listed, known))
                    else:
                        self._count(None)
                if not holders:
                    jobs.append((self._adopt, gallery_id, listed, None))
            self._run_jobs(jobs)
        self._remove_gone(gallery_id, [index[photo_id] for photo_id in sorted(unmatched)])
        self._uploads_finish(gallery_id)
        self._place(gallery_id, index)
        self._order_keys_repair(gallery_id, index)
        self._tag_entries_repair(gallery_id, index)

    def _load_index(self, gallery_id: str) -> dict[str, _Known]:
        index = {}
        photos = photos_of_gallery(
            gallery_id=gallery_id,
            fields=[
                "photoId",
                "photoNumber",
                "s3Key",
                "originalETag",
                "originalSize",
                "deletingAt",
                "renditionKeys",
                "galleryVisibility",
                "tags",
                "uploadedAt",
                "exifData.dateTimeOriginal",  # one field of the EXIF: for a missing takenOrder
                "takenOrder",
                "ratingOrder",
                "ratingCount",
                "ratingSum",
                "renditionsVersion",
            ],
        )
        for photo in photos:
            count, total = aggregate.totals(photo)
            index[photo.photo_id] = _Known(
                photo.photo_id,
                int(photo.photo_number),
                photo.s3_key,
                photo.original_etag,
                None if photo.original_size is None else int(photo.original_size),
                photo.deleting_at is not None,
                tuple(str(key) for key in photo.rendition_keys or []),
                photo.visibility,
                tuple(str(tag) for tag in photo.tags or []),
                photo.uploaded_at,
                None if photo.taken_order else photo.exif().get("dateTimeOriginal"),
                photo.taken_order,
                photo.rating_order,
                count,
                total,
                photo.renditions_version,
            )
        return index

    def _sweep_orphan_renditions(
        self, gallery_id: str, index: dict[str, _Known], index_read_at: datetime
    ) -> set[str]:
        """Rendition objects no item owns and no write under way names, under both placements (public
        and private): those of numbers no item holds (looked up again before deleting: the index was
        read before the listing), and those of a held number that its item no longer lists (a move
        between placements, or a re-render, that died between its copy and its cleanup). Only objects
        written before any write alive when the index was read could have begun (a move's or re-render's
        new objects are listed by its item only once it commits: younger ones are left, and listed, for
        the next run). Returns the
        rendition keys present of numbers items hold, so items whose renditions are missing are
        re-rendered."""
        owned_numbers = {known.number for known in index.values()}
        listed_by_number: dict[int, set[str]] = {}
        for known in index.values():
            if known.renditions:  # items from before renditionKeys own their number's objects
                listed_by_number.setdefault(known.number, set()).update(known.renditions)
        present: set[str] = set()
        confirmed: dict[int | None, bool] = {}

        def _listed_by_index(key: str) -> bool:
            number = keys.photo_number_of(key)
            return number is not None and key in listed_by_number.get(number, ())

        def orphan(key: str) -> bool:
            number = keys.photo_number_of(key)
            if key in self.named:
                return False
            if number in owned_numbers:
                listed = listed_by_number.get(number)
                return listed is not None and key not in listed
            if number not in confirmed:
                confirmed[number] = number is None or (
                    intents.intent_of(gallery_id, number) is None
                    and not photo_number_taken(gallery_id=gallery_id, number=number)
                )
            return confirmed[number]

        for private in (False, True):
            prefix = keys.renditions_prefix(gallery_id, private=private)
            for page in leftovers.pages(storage.objects_list(prefix), LISTING_PAGE):
                present.update(
                    item["Key"] for item in page if keys.photo_number_of(item["Key"]) in owned_numbers
                )
                orphans = []
                for item in page:
                    if not _before_live_writes(item, index_read_at):
                        if not _listed_by_index(item["Key"]):
                            self.summary.leave(item["Key"], _WRITTEN_DURING_RUN)
                    elif orphan(item["Key"]):
                        orphans.append(item["Key"])
                if orphans and not self.dry_run:
                    storage.objects_delete(orphans)
                self.summary.orphan_objects_removed += len(orphans)
        return present

    def _uploads_finish(self, gallery_id: str) -> None:
        """Direct uploads whose event never made their photo (lost, or failed three times): made from their
        slot's metadata, through the same claim as the event and the completion (one photo whatever the
        mix). One whose slot carried no metadata is left to its completion, and listed; those older than
        a day are removed by ``leftovers.abandoned_uploads_remove``."""
        for page in leftovers.pages(storage.objects_list(keys.uploads_prefix(gallery_id)), LISTING_PAGE):
            for item in page:
                _time_check(gallery_id)
                if not leftovers.upload_waiting(item):
                    continue
                key = item["Key"]
                if self.dry_run:
                    self.summary.leave(key, "a direct upload not made into a photo yet (a run would try)")
                    continue
                self._count(self._upload_make(gallery_id, key), key=key)

    def _upload_make(self, gallery_id: str, key: str):
        where = {"galleryId": gallery_id, "key": key}
        try:
            answer = photo_from_upload_event(gallery_id=gallery_id, upload_key=key)
        except storage_errors() as error:
            return TryAgain((where, f"Storage failed: {error}"))
        except DomainError as error:
            answer = UploadEvent(error=error)
        if answer.error is not None:
            if isinstance(answer.error, Conflict):
                return Left("another request is making this upload into a photo right now")
            if isinstance(answer.error, Unavailable):
                return TryAgain((where, answer.error.message))
            return where, answer.error.message
        if answer.photo_id is None:
            return Left(UPLOAD_WAITING)
        return "created" if answer.made and not answer.duplicate else None

    def _place(self, gallery_id: str, index: dict[str, _Known]) -> None:
        """Photos whose renditions are not where the gallery's visibility asks (a visibility change
        that ran out of time, an upload that raced it): moved (``photos.services.placement``)."""
        visibility = self.visibility
        if visibility is None:
            return  # no gallery item (its photos are adopted or purged elsewhere)
        private = visibility == "private"
        for known in index.values():
            # An item from before renditionKeys has its renditions under the public prefix (there
            # were no private galleries then).
            misplaced = (
                any(keys.is_private_rendition(key) != private for key in known.renditions)
                if known.renditions
                else private
            )
            # A photo from before the copy existed (none) keeps none until its gallery's visibility
            # changes: no reader needs it, and writing it to every old photo would cost a write each.
            relabel = known.visibility is not None and known.visibility != visibility
            if known.deleting or not (misplaced or relabel):
                continue
            _time_check(gallery_id)
            if self.dry_run:
                self.summary.renditions_placed += misplaced
                continue
            try:
                photo = photo_get(gallery_id=gallery_id, photo_id=known.photo_id)
                if photo_place(photo=photo, visibility=visibility) == "moved":
                    self.summary.renditions_placed += 1
            except NotFound:
                continue  # deleted meanwhile
            except storage_errors() as error:
                logger.exception("placing the renditions of photo %s failed", known.photo_id)
                self.summary.fail(f"Storage failed: {error}", galleryId=gallery_id, photoId=known.photo_id)

    def _order_keys_repair(self, gallery_id: str, index: dict[str, _Known]) -> None:
        """Live photos whose order keys are missing (items from before them) or whose ``ratingOrder``
        disagrees with the aggregate (a rater that died before setting it): set, each on condition that
        what it is made from is unchanged (``photos.services.order_keys``). Safe to repeat."""
        for known in index.values():
            stale_rating = known.rating_order != rating_order(
                known.rating_count, known.rating_sum, known.number
            )
            if known.deleting or (known.taken_order is not None and not stale_rating):
                continue
            _time_check(gallery_id)
            if self.dry_run:
                continue
            # What the index read is all the writes need: each is conditioned on it still being so.
            photo = GalleryPhoto(
                gallery_id,
                known.photo_id,
                photo_number=known.number,
                exif_data={"dateTimeOriginal": known.taken} if known.taken else {},
                rating_count=known.rating_count,
                rating_sum=known.rating_sum,
                rating_order=known.rating_order,
            )
            if order_keys_fill(photo=photo, taken=known.taken_order is None, rating=stale_rating):
                logger.info("photo %s: order keys filled in", known.photo_id)

    def _tag_entries_repair(self, gallery_id: str, index: dict[str, _Known]) -> None:
        """The gallery's tag entries (``photos.tags``) made exactly what its live photos' tags and its
        visibility ask for: missing or stale ones put, those of tags a photo no longer has and of photos
        gone or being deleted removed. Each photo's repair checks in its transaction that the photo still
        has the tags read and the gallery the visibility read (a change meanwhile: the next run)."""
        visibility = self.visibility
        if visibility is None:
            return  # no gallery item: its photos are adopted or purged elsewhere
        listed: dict[str, list] = {}
        for entry in gallery_tag_entries(gallery_id=gallery_id):
            listed.setdefault(entry.photo_id, []).append(entry)
        strays = []
        for photo_id, entries in listed.items():
            known = index.get(photo_id)
            if known is not None and not known.deleting:
                continue
            # Not in the index read before: a photo committed since keeps its entries.
            if known is None and photo_exists(gallery_id=gallery_id, photo_id=photo_id):
                continue
            strays += entries
        if strays and not self.dry_run:
            tag_entries_delete(strays)
        for known in index.values():
            if known.deleting:
                continue
            photo = GalleryPhoto(
                gallery_id,
                known.photo_id,
                tags=list(known.tags),
                uploaded_at=known.uploaded_at,
                visibility=known.visibility,
            )
            entries = listed.get(known.photo_id, [])
            if not entries_differ(photo, visibility, entries):
                continue
            _time_check(gallery_id)
            if not self.dry_run and tag_entries_repair(photo=photo, visibility=visibility, listed=entries):
                logger.info("photo %s: tag entries repaired", known.photo_id)

    def _run_jobs(self, jobs: list) -> None:
        """Adoptions and re-renders of one listing page, in parallel (image work releases the GIL)."""
        if not jobs:
            return
        if self.dry_run:
            would = {self._adopt: "created", self._remake: "rerendered"}
            for job, *_ in jobs:
                self._count(would.get(job, "updated"))
            return
        with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs))) as pool:
            for job, outcome in zip(jobs, pool.map(carried(_run_job), jobs), strict=True):
                self._count(outcome, key=job[2].key)

    def _count(self, outcome, key: str | None = None) -> None:
        """Book one object's outcome: None, "created", "updated", "rerendered", ``Left`` (with its key),
        or a failure (where, reason)."""
        if outcome is None:
            self.summary.unchanged += 1
        elif isinstance(outcome, Left):
            self.summary.unchanged += 1
            self.summary.leave(key or "", outcome.reason)
        elif isinstance(outcome, tuple):
            where, reason = outcome
            self.summary.fail(reason, **where)
        else:
            setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)
        self.progress(self.summary)

    def _adopt(self, gallery_id: str, listed: _Listed, _known):
        # A scan meets a refused file every run: not an upload refused each time (PhotosRefused).
        return original_adopt(
            gallery_id, listed, owner=self.owner, visibility=self.visibility, refusals_counted=False
        )

    def _rerender(self, gallery_id: str, listed: _Listed, known: _Known):
        """The original changed under the same key, or renditions of the item are missing: make the
        renditions and EXIF again from the original, keep number and keys."""
        where = {"galleryId": gallery_id, "key": listed.key}
        try:
            changed = photo_rerender(
                gallery_id=gallery_id,
                photo_id=known.photo_id,
                previous_etag=known.etag,
                prepared=photo_prepare(_incoming(listed, refusals_counted=False)),
                original_etag=listed.etag,
                visibility=self.visibility,
            )
        except DomainError as refused:
            return where, refused.message
        except storage_errors() as error:
            logger.exception("re-rendering %s failed", listed.key)
            return where, f"Storage failed: {error}"
        return "updated" if changed else None

    def _remake(self, gallery_id: str, listed: _Listed, known: _Known):
        """A photo whose renditions an older pipeline made (``rerender``): made again from its unchanged
        original; None when something else changed it meanwhile (the next run looks again)."""
        outcome = self._rerender(gallery_id, listed, known)
        return "rerendered" if outcome == "updated" else outcome

    def _remove_gone(self, gallery_id: str, gone: list[_Known]) -> None:
        """Items whose original was not listed (gone), or whose delete was interrupted."""
        for known in gone:
            original_key = known.s3_key
            where = {"galleryId": gallery_id, "key": original_key}
            if self.dry_run:
                self._count("removed")
                continue
            try:
                if known.deleting:
                    photo_purge(
                        photo_get(gallery_id=gallery_id, photo_id=known.photo_id, include_deleting=True)
                    )
                else:
                    photo_delete(gallery_id=gallery_id, photo_id=known.photo_id)
                if not any(other.s3_key == original_key for other in gone if other is not known):
                    claims.claim_drop(original_key=original_key)
            except NotFound:
                self._count(None)  # another run or a curator removed it first
                continue
            except storage_errors() as error:
                self._count((where, f"Storage failed: {error}"))
                continue
            self._count("removed")


def _run_job(job: tuple):
    method, *arguments = job
    return method(*arguments)


def original_adopt(
    gallery_id: str,
    listed: "_Listed",
    *,
    owner: str,
    visibility: str | None = None,
    refusals_counted: bool = True,
):
    """Make the photo an upload would make from an original already in the bucket, exactly once: not
    while a photo write names it (its intent), not when a photo holds it, not twice (a claim), not when
    a photo of the gallery has its bytes. ``visibility`` is the gallery's when the caller read it (else
    read here). Returns "created", None (a photo holds it), "duplicates", ``Left`` (why it stays as it
    is), or a failure (where, reason) for the summary; ``TryAgain`` is such a failure that a later
    attempt may get past."""
    where = {"galleryId": gallery_id, "key": listed.key}
    number = keys.photo_number_of(listed.key)
    if number is not None and intents.intent_of(gallery_id, number) is not None:
        return Left(WRITING)  # (or a write that failed: the photos scan cleans it up)
    claim = claims.claim_take(gallery_id=gallery_id, original_key=listed.key, owner=owner)
    if claim is None:
        return None  # a photo holds this original
    if isinstance(claim, claims.Taken):
        return Left(claim.reason)
    if photo_with_key_exists(gallery_id=gallery_id, original_key=listed.key):
        # Committed after the caller read the gallery's items (the intent read above came first, and a
        # commit removes the intent and writes the item at once).
        _release_quietly(claim)
        return None
    incoming = _incoming(listed, refusals_counted=refusals_counted)
    try:
        photo = photo_record(
            gallery_id=gallery_id,
            incoming=incoming,
            prepared=photo_prepare(incoming),
            original_key=listed.key,
            original_etag=listed.etag,
            visibility=visibility,
        )
    except DuplicatePhoto as duplicate:
        try:
            claims.claim_duplicate(claim, photo_id=duplicate.photo_id)  # skipped by later runs for a while
        except storage_errors():
            _release_quietly(claim)
        return "duplicates"  # a photo of the gallery has these bytes: never adopted twice
    except Unavailable as busy:  # throttled, timed out, the decode budget busy: a later attempt may do it
        _release_quietly(claim)
        return TryAgain((where, busy.message))
    except DomainError as refused:
        _release_quietly(claim)
        return where, refused.message
    except storage_errors() as error:
        _release_quietly(claim)
        logger.exception("adopting %s failed", listed.key)
        return TryAgain((where, f"Storage failed: {error}"))
    try:
        claims.claim_adopted(claim, photo_id=photo.photo_id)
    except storage_errors():
        # The photo exists; the claim just stays "adopting" until its lease ends, which is safe.
        logger.exception("could not mark the claim on %s as adopted", listed.key)
    return "created"


class TryAgain(tuple):
    """A failure (where, reason) that a later attempt at the same adoption may get past: S3 or DynamoDB
    failed or throttled, or the process's decode budget stayed busy."""


def listed_object(key: str) -> "_Listed | None":
    """An object as a listing would show it (size, ETag), from a HEAD; None when it is gone."""
    head = storage.object_head(key)
    if head is None:
        return None
    return _Listed(key, head.size, head.etag)


# ---------------------------------------------------------------- helpers


def _incoming(listed: _Listed, *, refusals_counted: bool = True) -> IncomingPhoto:
    """An original in the bucket as the prepare step takes it: its key's name is no client's promise
    about its format, so no file name is passed (an upload's extension check does not apply); the name
    is its title, as an upload's file name is (a re-render writes no title, so a curator's stays)."""

    def read() -> bytes:
        opened = storage.object_open(listed.key)
        if opened is None:
            raise NotFound(f"{listed.key} disappeared during the scan.")
        return opened.read()

    return IncomingPhoto(
        filename="",
        size=listed.size,
        read=read,
        title=title_from_filename(listed.key),
        refusals_counted=refusals_counted,
    )


def _release_quietly(claim) -> None:
    try:
        claims.claim_release(claim)
    except Exception:
        logger.exception("could not release the claim on %s; it expires by itself", claim.record_key)


def _listed(item: dict) -> _Listed:
    return _Listed(item["Key"], int(item.get("Size", 0)), item.get("ETag", "").strip('"'))


_WRITTEN_DURING_RUN = (
    "a rendition no photo lists yet, written less than "
    f"{int(records.WRITE_LIFETIME.total_seconds() // 60)} minutes before this run read the photos: a "
    "re-render or move still at work may list it; the next run judges it"
)


def _before_live_writes(item: dict, moment: datetime) -> bool:
    """Whether the listed object was written before any write still alive at ``moment`` began (no write
    lives longer than ``WRITE_LIFETIME``), so no write in flight can still list it."""
    modified = item.get("LastModified")
    return modified is None or modified <= moment - records.WRITE_LIFETIME


def _unchanged(known: _Known, listed: _Listed) -> bool:
    if known.size is not None and known.size != listed.size:
        return False
    if known.etag == listed.etag:
        return True
    # A multipart upload's ETag ("<md5 of parts>-<count>") cannot be compared with a whole-file MD5:
    # with equal sizes, trust the size rather than re-render every run.
    return known.size is not None and ("-" in (known.etag or "")) != ("-" in listed.etag)
