"""Uploading photos: store the original and renditions, then the item, then the gallery follows.

``photo_record`` is the pipeline every new photo goes through after ``photos.prepare``: a multipart
upload, a direct-to-S3 upload (``photos.services.direct_upload``) and the photos scan's adoption of an
original already in the bucket; ``photos_upload`` runs it for a batch.

Order, per photo, so a failure never leaves a reader something half-made:
1. prepare the file in memory (``photos.prepare``; nothing written yet);
2. take photo numbers from the gallery (``galleries.derived.numbers_reserve``: a failure later leaves a
   gap in the numbers, never a duplicate);
3. put the original (or copy it from its upload key) and every rendition in S3;
4. one DynamoDB transaction writes the photo item and the gallery's ``photo_added`` change (count, and
   the cover if there is none); if it or step 3 fails, the objects already put are deleted again, so no
   orphan remains and no item points to a missing object;
5. the gallery follows the batch once: the lowest-numbered new photo is offered the cover and each new
   year is added (idempotent; the galleries scan repairs a miss).
"""

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from core import storage
from core.aws import transaction_connection
from core.clock import now_iso
from core.errors import DomainError, Unavailable, storage_errors
from galleries import derived
from galleries.selectors import gallery_get
from photos import keys
from photos.models import GalleryPhoto
from photos.prepare import IncomingPhoto, PreparedPhoto, photo_prepare, photo_year
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


def photos_upload(*, gallery_id: str, files: list[IncomingPhoto]) -> UploadResult:
    """Store every good file as a photo of the gallery; report the bad ones.

    Files are checked and rendered in parallel (one worker per core), then the good ones get a block
    of photo numbers in the order they were sent, then they are stored in parallel.
    """
    gallery_get(gallery_id=gallery_id)
    workers = max(1, min(settings.PHOTO_PROCESSING_WORKERS, len(files)))
    result = UploadResult()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="photo-upload") as pool:
        prepared = list(pool.map(_prepare_outcome, files))
        good = [(index, item) for index, item in enumerate(prepared) if not isinstance(item, DomainError)]
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
                )
            except DomainError as refused:  # e.g. the gallery was deleted meanwhile
                return refused
            except storage_errors():
                # photo_record removed what it had written; the other photos of the batch go on.
                logger.exception("storing %s failed", incoming.filename)
                return Unavailable(
                    "Storage did not answer; nothing of this photo was kept. Retry it.",
                    code="storage_unavailable",
                )

        outcomes = pool.map(store, zip(good, numbers, strict=True))
        stored = dict(zip((index for index, _ in good), outcomes, strict=True))
    for index, incoming in enumerate(files):
        outcome = stored.get(index, prepared[index])
        if isinstance(outcome, DomainError):
            result.failures.append(UploadFailure(index, incoming.filename, outcome))
        else:
            result.photos.append(outcome)
    gallery_follow_new_photos(gallery_id=gallery_id, photos=result.photos)
    return result


def _prepare_outcome(incoming: IncomingPhoto):
    try:
        return photo_prepare(incoming)
    except DomainError as refused:
        return refused


def photo_record(
    *,
    gallery_id: str,
    incoming: IncomingPhoto,
    prepared: PreparedPhoto,
    number: int | None = None,
    original_key: str = "",
    original_etag: str | None = None,
    follow: bool = True,
) -> GalleryPhoto:
    """Steps 2-5: number (unless reserved already), objects, item + gallery change, cover and years.

    With ``original_key`` the original is already in the bucket under that key (a scan adopting it,
    passing S3's ETag) and is neither stored nor deleted on failure. ``follow=False`` leaves step 5 to
    the caller, which does it once for a batch (``gallery_follow_new_photos``).
    """
    processed = prepared.image
    if number is None:
        [number] = derived.numbers_reserve(gallery_id=gallery_id, count=1)
    s3_key = original_key or keys.original_key(gallery_id, number, processed.extension)
    written: list[str] = []
    try:
        if not original_key:
            written.append(s3_key)  # before the write: a failure after S3 took it must still remove it
            original_etag = _original_store(incoming, s3_key, processed.content_type)
        urls = renditions_store(gallery_id, number, processed, written)
        photo = GalleryPhoto(
            gallery_id,
            uuid.uuid4().hex,
            photo_number=number,
            title=incoming.title,
            description=incoming.description,
            tags=list(incoming.tags),
            s3_key=s3_key,
            thumbnail_url=urls[("thumb", "jpeg")],
            full_size_url=urls[("web", "jpeg")],
            original_url=storage.stored_url(s3_key),
            exif_data=processed.exif,
            uploaded_at=now_iso(),
            rendition_keys=[key for key in written if key != s3_key],
            original_size=prepared.size,
            original_etag=original_etag,
            content_type=processed.content_type,
            width=processed.width,
            height=processed.height,
            rating_histogram=empty_histogram(),
        )
        _commit_new_photo(photo)
    except BaseException:
        _remove_quietly(written)
        raise
    if follow:
        gallery_follow_new_photos(gallery_id=gallery_id, photos=[photo])
    return photo


def _original_store(incoming: IncomingPhoto, key: str, content_type: str) -> str:
    """Put the original under its key (a server-side copy for a direct upload); its S3 ETag."""
    if incoming.upload_key:
        return storage.object_copy(incoming.upload_key, key, content_type)
    storage.object_put(key, incoming.read(), content_type)
    return storage.object_etag(key)


def renditions_store(gallery_id: str, number: int, processed, written: list[str]) -> dict:
    """Store every rendition, appending each key to ``written`` as soon as it exists (for cleanup);
    their stored URLs by (name, format)."""
    urls = {}
    for rendition in processed.renditions:
        key = keys.rendition_key(gallery_id, number, rendition.name, rendition.extension)
        storage.object_put(key, rendition.data, rendition.content_type)
        written.append(key)
        urls[(rendition.name, rendition.format)] = storage.stored_url(key)
    return urls


def _commit_new_photo(photo: GalleryPhoto) -> None:
    """The photo item and the gallery's count and cover change together, or not at all."""
    change = derived.photo_added(gallery_id=photo.gallery_id, cover=photo.as_cover())
    try:
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.save(photo, condition=GalleryPhoto.photo_id.does_not_exist())
            transaction.update(change.gallery, actions=change.actions, condition=change.condition)
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException":
            raise derived.GalleryGone() from None
        raise


def gallery_follow_new_photos(*, gallery_id: str, photos: list[GalleryPhoto]) -> None:
    """Step 5 for stored photos, one write per distinct need rather than per photo: the lowest-numbered
    photo is offered the cover (photos commit in any order, and each commit only sets a missing cover),
    and each new DateTimeOriginal year is added. A failure here is logged, not raised: the photos are
    stored and counted, and the galleries scan repairs cover and years."""
    if not photos:
        return
    years = {year for photo in photos if (year := photo_year(photo.exif())) is not None}
    first = min(photos, key=lambda photo: int(photo.photo_number))
    try:
        derived.cover_offer(
            gallery_id=gallery_id,
            cover=first.as_cover(),
        )
        for year in sorted(years):
            derived.year_add(gallery_id=gallery_id, year=year)
    except storage_errors():
        logger.exception("could not update cover/years of gallery %s after new photos", gallery_id)


def _remove_quietly(object_keys: list[str]) -> None:
    if not object_keys:
        return
    try:
        storage.objects_delete(object_keys)
    except Exception:
        # The original failure is what the caller must see; these keys are logged for the scan.
        logger.exception("could not remove objects of a failed photo: %s", object_keys)
