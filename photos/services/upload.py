"""Uploading photos: store the original and renditions, then the item, then the gallery follows.

``photo_record`` is the pipeline every new photo goes through after ``photos.prepare``: a multipart
upload, a direct-to-S3 upload (``photos.services.direct_upload``) and the photos scan's adoption of an
original already in the bucket; ``photos_upload`` runs it for a batch.

Order, per photo, so a failure never leaves a reader something half-made:
1. prepare the file in memory (``photos.prepare``; nothing written yet);
2. take photo numbers from the gallery (``galleries.derived.numbers_reserve``: a failure later leaves a
   gap in the numbers, never a duplicate; a gallery whose delete began gives none);
3. record the write's intent (``photos.intents``: the keys it is about to put), then put the original
   (or copy it from its upload key) and every rendition in S3;
4. one DynamoDB transaction (``core.transactions``: a request token, conflicts retried) writes the
   photo item, the gallery's ``photo_added`` change (count, and the cover if there is none) and the
   record of where the new photo lives (``photos.recent``: found by its id alone at once, before the
   byPhotoId index lists it), and deletes the intent; if it or step 3 fails, the objects already put
   are deleted and then the intent. When that cleanup fails, or the commit's outcome is unknown, the
   intent stays and the photos scan deletes the objects: no item ever points to a missing object, no
   object of a failed write is adopted;
5. the gallery follows the batch once: the lowest-numbered new photo is offered the cover and each new
   year is added (idempotent; the galleries scan repairs a miss).
"""

import functools
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from botocore.exceptions import ClientError
from django.conf import settings
from pynamodb.transactions import TransactWrite

from core import storage
from core.clock import now_iso
from core.deadline import carried
from core.errors import (
    Conflict,
    DomainError,
    Internal,
    NotFound,
    Unavailable,
    as_domain_error,
    aws_error_code,
    storage_errors,
)
from core.observability import PHOTOS_REFUSED, PHOTOS_STORED, metric
from core.transactions import Contended, Refused, transaction_run
from galleries import derived
from galleries.models import visibility_of
from galleries.selectors import gallery_get
from photos import content, intents, keys, ordering, recent, renditions, tags
from photos.models import GalleryPhoto
from photos.prepare import IncomingPhoto, PreparedPhoto, photo_prepare, photo_year, refusal_counts
from photos.selectors import photo_exists, photo_get
from photos.services.placement import photo_place
from ratings.aggregate import empty_histogram

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadFailure:
    index: int
    filename: str
    error: DomainError


@dataclass
class UploadResult:
    photos: list[GalleryPhoto] = field(default_factory=list)
    failures: list[UploadFailure] = field(default_factory=list)


CommitExtra = Callable[[TransactWrite, GalleryPhoto], None]


def photos_upload(
    *,
    gallery_id: str,
    files: list[IncomingPhoto],
    also_commit: Callable[[IncomingPhoto], CommitExtra | None] | None = None,
    keep_duplicate: bool = False,
) -> UploadResult:
    """Store every good file as a photo of the gallery; report the bad ones.

    Files are checked and rendered in parallel (one worker per core), then the good ones get a block
    of photo numbers in the order they were sent, then they are stored in parallel. ``also_commit``
    gives a file's own items for its commit (``photo_record``). A file whose bytes a photo of the gallery
    has already is answered by that photo (``duplicate_of`` set), not stored again, unless
    ``keep_duplicate``.
    """
    visibility = visibility_of(gallery_get(gallery_id=gallery_id))
    workers = max(1, min(settings.PHOTO_PROCESSING_WORKERS, len(files)))
    result = UploadResult()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="photo-upload") as pool:
        prepared = list(pool.map(carried(_prepare_outcome), files))
        good, same_as = _distinct(prepared, keep_duplicate=keep_duplicate)
        # A gallery deleted since the check above raises GalleryGone here, before anything is stored.
        numbers = derived.numbers_reserve(gallery_id=gallery_id, count=len(good)) if good else []

        def store(job):
            (index, prepared_photo), number = job
            incoming = files[index]
            try:
                return photo_record(
                    gallery_id=gallery_id,
                    number=number,
                    incoming=incoming,
                    prepared=prepared_photo,
                    follow=False,
                    also_commit=also_commit(incoming) if also_commit else None,
                    keep_duplicate=keep_duplicate,
                    visibility=visibility,
                )
            except DomainError as refused:  # e.g. the gallery was deleted meanwhile
                return refused
            except storage_errors() as error:
                # photo_record removed what it had written, or left it under its intent for the photos
                # scan to remove: never a photo. The other photos of the batch go on. Logged with its
                # stack as the error mapping logs a request's: a fault as an error, a busy or
                # unreachable AWS (this file's 503) as a warning.
                transient = isinstance(as_domain_error(error), Unavailable)
                logger.log(
                    logging.WARNING if transient else logging.ERROR,
                    "storing %s failed",
                    incoming.filename,
                    exc_info=error,
                )
                if transient:
                    return Unavailable(
                        "Storage did not answer; this photo was not kept. Retry it.",
                        code="storage_unavailable",
                    )
                return Internal(code="internal_error")

        outcomes = pool.map(carried(store), zip(good, numbers, strict=True))
        stored = dict(zip((index for index, _ in good), outcomes, strict=True))
    for index, first in same_as.items():  # the same bytes twice in one batch: answered by the first
        outcome = stored[first]
        stored[index] = (
            content.DuplicatePhoto(outcome.photo_id) if isinstance(outcome, GalleryPhoto) else outcome
        )
    for index, incoming in enumerate(files):
        outcome = stored.get(index, prepared[index])
        if isinstance(outcome, content.DuplicatePhoto):
            outcome = _duplicate_answer(gallery_id, outcome)
        if isinstance(outcome, DomainError):
            result.failures.append(UploadFailure(index, incoming.filename, outcome))
        else:
            result.photos.append(outcome)
    new = [photo for photo in result.photos if getattr(photo, "duplicate_of", None) is None]
    gallery_follow_new_photos(gallery_id=gallery_id, photos=new)
    return result


def _distinct(prepared: list, *, keep_duplicate: bool) -> tuple[list, dict[int, int]]:
    """The files to store (index, prepared), and for each later file with the same bytes as an earlier
    one of the batch, that earlier file's index (unless duplicates are kept)."""
    good: list[tuple[int, PreparedPhoto]] = []
    same_as: dict[int, int] = {}
    first_with: dict[str, int] = {}
    for index, item in enumerate(prepared):
        if isinstance(item, DomainError):
            continue
        if not keep_duplicate and item.sha256 in first_with:
            same_as[index] = first_with[item.sha256]
            continue
        first_with.setdefault(item.sha256, index)
        good.append((index, item))
    return good, same_as


def _duplicate_answer(gallery_id: str, duplicate: content.DuplicatePhoto) -> GalleryPhoto | DomainError:
    """The photo that has these bytes already, marked as the answer to a duplicate."""
    try:
        photo = photo_get(gallery_id=gallery_id, photo_id=duplicate.photo_id)
    except NotFound:  # being deleted right now: the same bytes may be uploaded again in a moment
        return Conflict(
            "A photo with the same bytes is being deleted; try again in a moment.", code="duplicate"
        )
    except storage_errors() as error:
        return as_domain_error(error)
    photo.duplicate_of = photo.photo_id  # type: ignore[attr-defined]  # an answer-only mark
    return photo


def _prepare_outcome(incoming: IncomingPhoto):
    try:
        return photo_prepare(incoming)
    except DomainError as refused:
        return refused


def outcome_counted[**P](record: Callable[P, GalleryPhoto]) -> Callable[P, GalleryPhoto]:
    """Count what became of a prepared file, once, in the step every door's new photo goes through
    (multipart, direct upload, a scan's or an event's adoption): stored, or refused by the code of what
    stopped it (the gallery gone, storage failing). Answered by a photo that has its bytes already, it is
    neither. A file the prepare step refused was counted there."""

    @functools.wraps(record)
    def counted(*args: P.args, **kwargs: P.kwargs) -> GalleryPhoto:
        try:
            photo = record(*args, **kwargs)
        except content.DuplicatePhoto:
            raise
        except Exception as failure:
            refused = as_domain_error(failure)
            incoming = kwargs.get("incoming")
            counted = incoming is None or getattr(incoming, "refusals_counted", True)
            if counted and refusal_counts(refused):
                metric(PHOTOS_REFUSED, 1, code=refused.code)
            raise
        metric(PHOTOS_STORED, 1)
        return photo

    return counted


@outcome_counted
def photo_record(
    *,
    gallery_id: str,
    incoming: IncomingPhoto,
    prepared: PreparedPhoto,
    number: int | None = None,
    original_key: str = "",
    original_etag: str | None = None,
    follow: bool = True,
    also_commit: CommitExtra | None = None,
    keep_duplicate: bool = False,
    visibility: str | None = None,
) -> GalleryPhoto:
    """Steps 2-5: number (unless reserved already), intent, objects, item + gallery change, cover and
    years.

    With ``original_key`` the original is already in the bucket under that key (a scan adopting it,
    passing S3's ETag) and is neither stored nor deleted on failure. ``follow=False`` leaves step 5 to
    the caller, which does it once for a batch (``gallery_follow_new_photos``). ``also_commit`` adds the
    caller's own items to the commit (a direct upload's claim becomes final with the photo).
    ``DuplicatePhoto`` when the gallery has a photo with the same bytes, unless ``keep_duplicate``.
    ``visibility`` is the gallery's (read here when not given): a private gallery's renditions go under
    the private prefix, and the photo keeps a copy of it (``photos.services.placement``).
    """
    processed = prepared.image
    if visibility is None:
        visibility = visibility_of(gallery_get(gallery_id=gallery_id))
    photo_id = uuid.uuid4().hex
    bytes_claim = None
    if not keep_duplicate:  # before a number: a duplicate costs none
        bytes_claim = content.content_claim(
            gallery_id=gallery_id,
            sha256=prepared.sha256,
            photo_exists=lambda other: photo_exists(gallery_id=gallery_id, photo_id=other),
        )
    try:
        if number is None:
            [number] = derived.numbers_reserve(gallery_id=gallery_id, count=1)
        if not original_key:
            number = _number_with_free_key(gallery_id, number, processed.extension)
    except BaseException:
        _release_quietly(bytes_claim)
        raise
    s3_key = original_key or keys.original_key(gallery_id, number, processed.extension)
    rendition_keys = renditions_plan(gallery_id, number, processed, private=visibility == "private")
    try:
        intent = intents.intent_open(
            gallery_id=gallery_id,
            number=number,
            photo_id=photo_id,
            objects=([] if original_key else [s3_key]) + list(rendition_keys.values()),
            adopts=original_key or None,
            claims=content.content_held(bytes_claim) if bytes_claim is not None else None,
        )
    except BaseException:
        _release_quietly(bytes_claim)
        raise
    written: list[str] = []
    try:
        if not original_key:
            written.append(s3_key)  # before the write: a failure after S3 took it must still remove it
            original_etag = _original_store(incoming, s3_key, processed.content_type)
        renditions_store(processed, rendition_keys, written)
        thumbnail_url, full_size_url = renditions.stored_urls(rendition_keys.values())
        photo = GalleryPhoto(
            gallery_id,
            photo_id,
            photo_number=number,
            title=incoming.title,
            description=incoming.description,
            alt_text=incoming.alt_text,
            tags=list(incoming.tags),
            s3_key=s3_key,
            thumbnail_url=thumbnail_url,
            full_size_url=full_size_url,
            original_url=storage.stored_url(s3_key),
            exif_data=processed.exif,
            uploaded_at=now_iso(),
            rendition_keys=list(rendition_keys.values()),
            renditions=rendition_sizes(processed, rendition_keys),
            thumbhash=processed.thumbhash,
            renditions_version=prepared.renditions_version or None,
            dominant_color=processed.dominant_color,
            original_size=prepared.size,
            original_etag=original_etag,
            content_type=processed.content_type,
            width=processed.width,
            height=processed.height,
            rating_histogram=empty_histogram(),
            original_sha256=prepared.sha256,
            visibility=visibility,
            taken_order=ordering.taken_order(processed.exif, number),
            rating_order=ordering.rating_order(0, 0, number),
        )
    except BaseException:
        _roll_back(intent, written, bytes_claim)
        raise
    _commit_or_roll_back(photo, intent, written, also_commit, bytes_claim)
    if follow:
        gallery_follow_new_photos(gallery_id=gallery_id, photos=[photo])
    return photo


def _original_store(incoming: IncomingPhoto, key: str, content_type: str) -> str:
    """Put the original under its key (a server-side copy for a direct upload); its S3 ETag."""
    if incoming.upload_key:
        return storage.object_copy(incoming.upload_key, key, content_type)
    storage.object_put(key, incoming.read(), content_type)
    head = storage.object_head(key)
    if head is None:  # S3 took the put and lost it at once: a storage failure like any other
        raise ClientError({"Error": {"Code": "NoSuchKey", "Message": f"{key} vanished"}}, "HeadObject")
    return head.etag


def _number_with_free_key(gallery_id: str, number: int, extension: str) -> int:
    """``number``, or a fresh one when an object already has its original's key (a file synced into the
    bucket under our naming, adopted by a scan as another number): an upload never overwrites it."""
    for _ in range(NUMBER_ATTEMPTS):
        if storage.object_head(keys.original_key(gallery_id, number, extension)) is None:
            return number
        [number] = derived.numbers_reserve(gallery_id=gallery_id, count=1)
    raise Internal(f"No free original key in gallery {gallery_id} after {NUMBER_ATTEMPTS} numbers.")


NUMBER_ATTEMPTS = 5


def renditions_plan(
    gallery_id: str, number: int, processed, *, private: bool = False
) -> dict[tuple[str, str], str]:
    """The key of every rendition of a photo, by (name, format), known before any is written: named by
    a digest of its bytes (a changed rendition is a new key), a private gallery's under the private
    prefix."""
    return {
        (rendition.name, rendition.format): keys.rendition_key(
            gallery_id,
            number,
            rendition.name,
            rendition.extension,
            keys.content_digest(rendition.data),
            private=private,
        )
        for rendition in processed.renditions
    }


def rendition_sizes(processed, plan: dict[tuple[str, str], str]) -> list[dict]:
    """What the photo item keeps of each rendition besides its key (``GalleryPhoto.renditions``)."""
    return [
        {
            "file": plan[(rendition.name, rendition.format)].rsplit("/", 1)[-1],
            "width": rendition.width,
            "height": rendition.height,
            "format": rendition.format,
            "bytes": len(rendition.data),
        }
        for rendition in processed.renditions
    ]


def renditions_store(processed, plan: dict[tuple[str, str], str], written: list[str]) -> None:
    """Store every rendition under its planned key, appending each key to ``written`` before its put
    (a put that fails after S3 took the bytes must still be cleaned up). A key never gets other bytes,
    so each is served to be cached for good (``keys.rendition_cache_control``)."""
    for rendition in processed.renditions:
        key = plan[(rendition.name, rendition.format)]
        written.append(key)
        storage.object_put(
            key, rendition.data, rendition.content_type, cache_control=keys.rendition_cache_control(key)
        )


def _commit_or_roll_back(
    photo: GalleryPhoto, intent: intents.Intent, written: list[str], also_commit, bytes_claim
) -> None:
    """Step 4, and what a failure of it means for the objects.

    Refused (the gallery's delete began, or a scan judged this write dead and took its intent): the
    photo was not committed, so its objects go. Any other failure: when a consistent read finds the item,
    the photo stands (the answer was lost). Otherwise, when DynamoDB answered with an error the commit is
    settled and the objects go; when it did not answer at all (a timeout, a dropped connection, the
    deadline) the transaction may still be in flight, and nothing is rolled back, since a commit landing
    later would leave its item pointing at deleted objects: the objects, the pending intent and the
    claims stay, and the photos scan deletes them once the intent is older than any request can live (a
    commit removes the intent, so an intent that outlives that time means no commit ever happened).
    """
    change = derived.photo_added(gallery_id=photo.gallery_id, cover=photo.as_cover())

    def build(transaction: TransactWrite) -> None:
        transaction.save(photo, condition=GalleryPhoto.photo_id.does_not_exist())
        transaction.update(change.gallery, actions=change.actions, condition=change.condition)
        intents.intent_close_in(transaction, intent)
        if bytes_claim is not None:
            content.content_final_in(transaction, bytes_claim, photo_id=photo.photo_id)
        if also_commit is not None:
            also_commit(transaction, photo)
        recent.recent_in(transaction, gallery_id=photo.gallery_id, photo_id=photo.photo_id)
        tags.tag_entries_in(transaction, photo)  # last: the items above keep their places in Refused

    try:
        transaction_run(build, token=photo.photo_id)
    except Refused as refused:
        _roll_back(intent, written, bytes_claim)
        if GALLERY_ITEM in refused.failed:
            raise derived.GalleryGone() from None
        raise Internal("This photo's write was taken over before it could be committed.") from None
    except BaseException as failure:
        if _committed(photo):
            logger.warning("photo %s committed although its commit call failed", photo.photo_id)
            return
        if _answered(failure):  # DynamoDB said no (an error answer): nothing is in flight any more
            _roll_back(intent, written, bytes_claim)
        raise  # no answer (a timeout, the deadline): objects, intent and claims stay for the photos scan


GALLERY_ITEM = 1  # the gallery's change is the second item of the commit


# DynamoDB's answer that an earlier send of the same commit (its token) is still running: not settled.
_STILL_RUNNING = "TransactionInProgressException"


def _answered(failure: BaseException) -> bool:
    """Whether DynamoDB answered the commit with an error (so it is settled), rather than not at all;
    ``Contended`` means every attempt was cancelled. "Still in progress" is no answer: that commit may
    yet land, so its objects must stay for the photos scan to judge."""
    if isinstance(failure, Contended):
        return True
    error = failure if isinstance(failure, ClientError) else getattr(failure, "cause", None)
    return isinstance(error, ClientError) and aws_error_code(error) != _STILL_RUNNING


def _committed(photo: GalleryPhoto) -> bool:
    """Whether the photo item exists (a consistent read); False when even that read fails."""
    try:
        return photo_exists(gallery_id=photo.gallery_id, photo_id=photo.photo_id)
    except Exception:
        logger.exception("cannot tell whether photo %s was committed; the photos scan will", photo.photo_id)
        return False


def gallery_follow_new_photos(*, gallery_id: str, photos: list[GalleryPhoto]) -> None:
    """Step 5 for stored photos, once per batch: the lowest-numbered photo is offered the cover (photos
    commit in any order, and each commit only sets a missing cover), and the years the photos were taken
    in are merged by the years rule. A failure here is logged, not raised: the photos are stored and
    counted, and the scans repair cover, years and placement."""
    if not photos:
        return
    years = {year for photo in photos if (year := photo_year(photo.exif())) is not None}
    first = min(photos, key=lambda photo: int(photo.photo_number))
    try:
        derived.cover_offer(gallery_id=gallery_id, cover=first.as_cover())
        derived.years_merge(gallery_id=gallery_id, years=years)
        # A visibility change that landed while these photos were being made did not see them: their
        # renditions follow it now (a change after this read lists them itself).
        visibility = visibility_of(gallery_get(gallery_id=gallery_id))
        for photo in photos:
            if photo.visibility != visibility:
                photo_place(photo=photo, visibility=visibility)
    except Exception:  # storage down, the deadline reached: the photos are committed all the same
        logger.exception("could not update cover/years/placement of gallery %s after new photos", gallery_id)


def _roll_back(intent: intents.Intent, written: list[str], bytes_claim=None) -> None:
    """Delete what this write put, then its intent; when S3 fails, mark the intent failed instead, and the
    photos scan deletes the objects (it never adopts them). The claim on its bytes is released either
    way. Never raises: the original failure is what the caller must see."""
    _release_quietly(bytes_claim)
    try:
        if written:
            storage.objects_delete(written)
    except Exception:
        logger.exception("could not remove the objects of a failed photo write: %s", written)
        _quietly(intents.intent_failed, intent)
        return
    _quietly(intents.intent_close, intent)


def _release_quietly(bytes_claim) -> None:
    if bytes_claim is None:
        return
    try:
        content.content_release(bytes_claim)
    except Exception:
        logger.exception("could not release a claim on a photo's bytes; it expires by itself")


def _quietly(step, intent: intents.Intent) -> None:
    try:
        step(intent)
    except Exception:
        logger.exception("could not update intent %s; the photos scan judges it", intent.record.record_key)
