"""Photo writes: upload (store, render, record), delete, and the cascade when a gallery goes.

Upload order, per photo, so a failure never leaves a reader something half-made:
1. check and process the file in memory (nothing written yet);
2. take the next photoNumber with an atomic ADD on the gallery (a failure later leaves a gap in the
   numbers, never a duplicate);
3. put the original and every rendition in S3;
4. one DynamoDB transaction writes the photo item and bumps the gallery's photoCount (and cover);
   if it or step 3 fails, the objects already put are deleted again, so no orphan remains and no
   item points to a missing object;
5. add the photo's year to the gallery's years (idempotent; the galleries scan repairs a miss).

Delete order: one transaction marks the item as deleting (readers stop seeing it) and takes it off
the gallery's count and cover; then the objects and ratings go; then the item. A failure part-way
leaves an invisible item that a repeated delete, a gallery delete or the photos scan finishes.
"""

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.conf import settings
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from galleries.models import Gallery
from galleries.selectors import gallery_get
from gallery_project.aws import media_storage, s3_client, transaction_connection
from gallery_project.clock import now_iso
from gallery_project.errors import ApiError, storage_errors
from photos import keys
from photos.media import stored_url
from photos.models import CLAIM_PREFIX, GalleryPhoto, OriginalClaim
from photos.objects import objects_delete, objects_delete_prefix
from photos.selectors import photo_first_live, photo_get
from ratings.services import ratings_delete_for_photo

logger = logging.getLogger(__name__)

# File name extensions that promise a format; a file whose content disagrees is refused.
_EXTENSION_FORMATS = {
    "jpg": "JPEG", "jpeg": "JPEG", "jpe": "JPEG", "png": "PNG", "webp": "WEBP", "tif": "TIFF", "tiff": "TIFF",
    "gif": "GIF", "bmp": "BMP", "heic": "HEIF", "heif": "HEIF",
}  # fmt: skip

# HTTP status for each way a file can be refused.
_REJECTION_STATUS = {
    "empty": 400, "not_an_image": 415, "unsupported_format": 415, "corrupt": 400,
    "too_many_pixels": 413, "too_large": 413, "extension_mismatch": 400, "gallery_gone": 404,
    "storage_unavailable": 503, "upload_missing": 400,
}  # fmt: skip


# Every histogram key exists from the start, so ratings can ADD to a nested key.
EMPTY_RATING_HISTOGRAM = {str(stars): 0 for stars in range(1, 6)}


@dataclass(frozen=True)
class IncomingPhoto:
    """One file of an upload with the metadata that goes with it."""

    filename: str
    size: int | None  # None when only reading tells (checked again after reading either way)
    read: Callable[[], bytes]
    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhotoRejected(Exception):
    code: str
    message: str

    @property
    def status(self) -> int:
        return _REJECTION_STATUS.get(self.code, 400)


@dataclass(frozen=True)
class UploadFailure:
    index: int
    filename: str
    code: str
    message: str
    status: int


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
        good = [(index, item) for index, item in enumerate(prepared) if not isinstance(item, PhotoRejected)]
        numbers = _reserve_photo_numbers(gallery_id, len(good)) if good else []

        def store(job):
            (index, processed), number = job
            incoming = files[index]
            try:
                return photo_record(
                    gallery_id=gallery_id,
                    number=number,
                    data=incoming.read(),
                    processed=processed,
                    title=incoming.title,
                    description=incoming.description,
                    tags=incoming.tags,
                    follow_in_gallery=False,  # once for the whole batch, below
                )
            except PhotoRejected as rejected:
                return rejected
            except storage_errors():
                # photo_record removed what it had written; the other photos of the batch go on.
                logger.exception("storing %s failed", incoming.filename)
                return PhotoRejected(
                    "storage_unavailable", "Storage did not answer; nothing of this photo was kept. Retry it."
                )

        outcomes = pool.map(store, zip(good, numbers, strict=True))
        stored = dict(zip((index for index, _ in good), outcomes, strict=True))
    for index, incoming in enumerate(files):
        outcome = stored.get(index, prepared[index])
        if isinstance(outcome, PhotoRejected):
            result.failures.append(
                UploadFailure(index, incoming.filename, outcome.code, outcome.message, outcome.status)
            )
        else:
            result.photos.append(outcome)
    gallery_follow_new_photos(gallery_id=gallery_id, photos=result.photos)
    return result


def _prepare_outcome(incoming: IncomingPhoto):
    try:
        return photo_prepare(incoming)
    except PhotoRejected as rejected:
        return rejected


def photo_prepare(incoming: IncomingPhoto):
    """Step 1: check the file and make its renditions in memory; nothing is written."""
    from photos import imaging  # Pillow stays off the import path of requests that do not need it

    if incoming.size is not None:
        _check_size(incoming.size)  # before reading a byte, when the size is known up front
    data = incoming.read()
    _check_size(len(data))
    try:
        processed = imaging.process_image(data, max_pixels=settings.PHOTO_MAX_PIXELS)
    except imaging.ImageError as error:
        raise PhotoRejected(error.code, error.message) from None
    _check_extension(incoming.filename, processed.format)
    return processed


def photo_record(
    *,
    gallery_id: str,
    number: int | None = None,
    data: bytes,
    processed,
    title: str,
    description: str,
    tags,
    original_key: str = "",
    original_etag: str | None = None,
    follow_in_gallery: bool = True,
) -> GalleryPhoto:
    """Steps 2-5: number (unless reserved already), objects, item + counts, cover and years.

    With ``original_key`` the original is already in the bucket under that key (a scan adopting it,
    passing S3's ETag) and is neither uploaded nor deleted on failure. ``follow_in_gallery=False``
    leaves step 5 to the caller, which does it once for a batch (``gallery_follow_new_photos``).
    """
    if number is None:
        [number] = _reserve_photo_numbers(gallery_id, 1)
    s3_key = original_key or keys.original_key(gallery_id, number, processed.extension)
    written: list[str] = []
    try:
        if not original_key:
            object_put(s3_key, data, processed.content_type)
            written.append(s3_key)
            original_etag = object_etag(s3_key)
        urls = {}
        _put_renditions(gallery_id, number, processed, written, urls)
        photo = GalleryPhoto(
            gallery_id,
            uuid.uuid4().hex,
            photo_number=number,
            title=title,
            description=description,
            tags=list(tags),
            s3_key=s3_key,
            thumbnail_url=urls[("thumb", "jpeg")],
            full_size_url=urls[("web", "jpeg")],
            original_url=stored_url(s3_key),
            exif_data=processed.exif,
            uploaded_at=now_iso(),
            rendition_keys=[key for key in written if key != s3_key],
            original_size=len(data),
            original_etag=original_etag,
            content_type=processed.content_type,
            width=processed.width,
            height=processed.height,
            rating_histogram=EMPTY_RATING_HISTOGRAM,
        )
        _commit_new_photo(photo)
    except BaseException:
        _remove_quietly(written)
        raise
    if follow_in_gallery:
        gallery_follow_new_photos(gallery_id=gallery_id, photos=[photo])
    return photo


def gallery_follow_new_photos(*, gallery_id: str, photos: list[GalleryPhoto]) -> None:
    """Step 5 for stored photos, one write per distinct need rather than per photo: the lowest-numbered
    photo claims the cover (photos commit in any order, and each commit only sets a missing cover),
    and each new DateTimeOriginal year is added. A failure here is logged, not raised: the photos are
    stored and counted, and the galleries scan repairs cover and years."""
    from photos import imaging

    if not photos:
        return
    years = {imaging.exif_year(_exif_dict(photo)) for photo in photos} - {None}
    try:
        _claim_cover_if_lower(min(photos, key=lambda photo: int(photo.photo_number)))
        for year in sorted(years):
            gallery_add_year(gallery_id=gallery_id, year=year)
    except storage_errors():
        logger.exception("could not update cover/years of gallery %s after new photos", gallery_id)


def _exif_dict(photo: GalleryPhoto) -> dict:
    exif = photo.exif_data
    return exif.as_dict() if hasattr(exif, "as_dict") else dict(exif or {})


def object_put(key: str, data: bytes, content_type: str) -> None:
    """Store bytes under a key through django-storages."""
    from django.core.files.base import ContentFile

    content = ContentFile(data)
    content.content_type = content_type
    media_storage().save(key, content)


def object_etag(key: str) -> str:
    """The ETag S3 reports for an object, which is what a scan's listing compares against (an MD5 we
    computed would differ for multipart and KMS-encrypted objects)."""
    return s3_client().head_object(Bucket=settings.BUCKET_NAME, Key=key)["ETag"].strip('"')


def _put_renditions(gallery_id: str, number: int, processed, written: list[str], urls: dict) -> None:
    """Store every rendition, appending each key to ``written`` as soon as it exists (for cleanup)."""
    for rendition in processed.renditions:
        key = keys.rendition_key(gallery_id, number, rendition.name, rendition.extension)
        object_put(key, rendition.data, rendition.content_type)
        written.append(key)
        urls[(rendition.name, rendition.format)] = stored_url(key)


def _check_size(size: int) -> None:
    if size == 0:
        raise PhotoRejected("empty", "The file is empty.")
    if size > settings.PHOTO_MAX_BYTES:
        limit_mb = settings.PHOTO_MAX_BYTES / (1024 * 1024)
        raise PhotoRejected("too_large", f"The file is larger than the {limit_mb:g} MB limit.")


def _check_extension(filename: str, detected_format: str) -> None:
    extension = PurePosixPath(filename or "").suffix.lower().lstrip(".")
    promised = _EXTENSION_FORMATS.get(extension)
    if promised and promised != detected_format:
        raise PhotoRejected(
            "extension_mismatch", f"The name ends in .{extension} but the file is a {detected_format} image."
        )


def _reserve_photo_numbers(gallery_id: str, count: int) -> list[int]:
    """``count`` consecutive photo numbers no other upload can get (one atomic ADD)."""
    gallery = Gallery(gallery_id)
    try:
        gallery.update(actions=[Gallery.last_photo_number.add(count)], condition=Gallery.gallery_id.exists())
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise PhotoRejected("gallery_gone", "The gallery was deleted during the upload.") from None
        raise
    last = int(gallery.last_photo_number)
    return list(range(last - count + 1, last + 1))


def _commit_new_photo(photo: GalleryPhoto) -> None:
    """The photo item and the gallery's count and cover change together, or not at all."""
    gallery = Gallery(photo.gallery_id)
    try:
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.save(photo, condition=GalleryPhoto.photo_id.does_not_exist())
            transaction.update(
                gallery,
                actions=[
                    Gallery.photo_count.add(1),
                    Gallery.cover_photo_url.set(Gallery.cover_photo_url | photo.full_size_url),
                    Gallery.cover_photo_id.set(Gallery.cover_photo_id | photo.photo_id),
                    Gallery.cover_photo_number.set(Gallery.cover_photo_number | photo.photo_number),
                    Gallery.updated_at.set(now_iso()),
                ],
                condition=Gallery.gallery_id.exists(),
            )
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException":
            raise PhotoRejected("gallery_gone", "The gallery was deleted during the upload.") from None
        raise


def _claim_cover_if_lower(photo: GalleryPhoto) -> None:
    """Make this photo the cover if the current cover has a higher number (or none)."""
    try:
        Gallery(photo.gallery_id).update(
            actions=[
                Gallery.cover_photo_url.set(photo.full_size_url),
                Gallery.cover_photo_id.set(photo.photo_id),
                Gallery.cover_photo_number.set(photo.photo_number),
            ],
            condition=Gallery.gallery_id.exists() & (Gallery.cover_photo_number > photo.photo_number),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def gallery_add_year(*, gallery_id: str, year: int) -> bool:
    """Add a year to the gallery's years unless it is there already; True when it was added."""
    try:
        Gallery(gallery_id).update(
            actions=[Gallery.years.set(Gallery.years.append([year])), Gallery.updated_at.set(now_iso())],
            condition=Gallery.gallery_id.exists() & ~Gallery.years.contains(year),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _remove_quietly(object_keys: list[str]) -> None:
    if not object_keys:
        return
    try:
        objects_delete(object_keys)
    except Exception:
        # The original failure is what the caller must see; these keys are logged for the scan.
        logger.exception("could not remove objects of a failed photo: %s", object_keys)


def photo_delete(
    *, gallery_id: str, photo_id: str, expected_s3_key: str | None = None, expected_number: int | None = None
) -> GalleryPhoto:
    """Delete a photo, its objects and its ratings, and take it off the gallery's count and cover.

    The keys deleted are the ones stored on the item; a client's ``s3Key`` or ``photoNumber`` is only
    compared with them, and a mismatch refuses the request.
    """
    photo = photo_get(gallery_id=gallery_id, photo_id=photo_id, include_deleting=True)
    mismatches = {}
    if expected_s3_key is not None and expected_s3_key != photo.s3_key:
        mismatches["s3Key"] = ["Does not match the stored key of this photo."]
    if expected_number is not None and expected_number != int(photo.photo_number):
        mismatches["photoNumber"] = ["Does not match the stored number of this photo."]
    if mismatches:
        raise ApiError(400, "The photo in the request does not match the stored photo.", details=mismatches)
    if photo.deleting_at is None:
        _mark_deleting(photo)
    photo_purge(photo)
    return photo


def _mark_deleting(photo: GalleryPhoto, attempts: int = 3) -> None:
    for _ in range(attempts):
        gallery = gallery_get(gallery_id=photo.gallery_id)
        actions = [Gallery.photo_count.add(-1), Gallery.updated_at.set(now_iso())]
        condition = Gallery.gallery_id.exists()
        if gallery.cover_photo_id == photo.photo_id:
            successor = photo_first_live(gallery_id=photo.gallery_id, excluding=photo.photo_id)
            if successor is None:
                actions += [
                    Gallery.cover_photo_url.remove(),
                    Gallery.cover_photo_id.remove(),
                    Gallery.cover_photo_number.remove(),
                ]
            else:
                actions += [
                    Gallery.cover_photo_url.set(successor.full_size_url),
                    Gallery.cover_photo_id.set(successor.photo_id),
                    Gallery.cover_photo_number.set(successor.photo_number),
                ]
            condition &= Gallery.cover_photo_id == photo.photo_id
        else:
            condition &= Gallery.cover_photo_id.does_not_exist() | (Gallery.cover_photo_id != photo.photo_id)
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.update(
                    photo,
                    actions=[GalleryPhoto.deleting_at.set(now_iso())],
                    condition=GalleryPhoto.deleting_at.does_not_exist() & GalleryPhoto.photo_id.exists(),
                )
                transaction.update(gallery, actions=actions, condition=condition)
            return
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            # Someone else moved the cover or started this delete meanwhile: look again.
            current = photo_get(gallery_id=photo.gallery_id, photo_id=photo.photo_id, include_deleting=True)
            if current.deleting_at is not None:
                return
    raise ApiError(409, "The gallery kept changing while this photo was being deleted; try again.")


def photo_purge(photo: GalleryPhoto) -> None:
    """Remove a photo's objects (only inside its gallery's prefixes) and ratings, then its item."""
    own_keys = [key for key in [photo.s3_key, *(photo.rendition_keys or [])] if key]
    objects_delete([key for key in own_keys if keys.belongs_to_gallery(key, photo.gallery_id)])
    ratings_delete_for_photo(photo_id=photo.photo_id)
    photo.delete()


def photos_delete_for_gallery(*, gallery_id: str) -> int:
    """Delete every photo of a gallery (objects, ratings, items); returns how many.

    A last sweep of the gallery's prefixes removes objects no item pointed to.
    """
    deleted = 0
    for photo in GalleryPhoto.query(gallery_id, GalleryPhoto.photo_id < CLAIM_PREFIX, consistent_read=True):
        if photo.deleting_at is None:
            # Hidden first, so a rating committed meanwhile is refused instead of left behind.
            photo.update(actions=[GalleryPhoto.deleting_at.set(now_iso())])
        photo_purge(photo)
        deleted += 1
    with OriginalClaim.batch_write() as batch:
        for claim in OriginalClaim.query(gallery_id, OriginalClaim.claim_id.startswith(CLAIM_PREFIX)):
            batch.delete(claim)
    objects_delete_prefix(keys.gallery_prefix(gallery_id))
    objects_delete_prefix(keys.renditions_prefix(gallery_id))
    objects_delete_prefix(keys.uploads_prefix(gallery_id))
    return deleted


def photo_rerender(
    *,
    gallery_id: str,
    photo_id: str,
    previous_etag: str | None,
    data: bytes,
    processed,
    original_etag: str,
) -> bool:
    """New renditions and metadata for a photo whose original changed; same number and keys.

    Renditions are overwritten first, then the item changes on condition that nobody re-rendered it
    meanwhile (its ETag is still the one we saw); False when that condition failed.
    """
    from photos import imaging

    photo = GalleryPhoto.get(gallery_id, photo_id, consistent_read=True)
    rendition_keys, urls = [], {}
    _put_renditions(gallery_id, int(photo.photo_number), processed, rendition_keys, urls)
    if previous_etag is None:
        condition = GalleryPhoto.original_etag.does_not_exist()
    else:
        condition = GalleryPhoto.original_etag == previous_etag
    condition &= GalleryPhoto.deleting_at.does_not_exist()
    try:
        photo.update(
            actions=[
                GalleryPhoto.exif_data.set(processed.exif),
                GalleryPhoto.width.set(processed.width),
                GalleryPhoto.height.set(processed.height),
                GalleryPhoto.content_type.set(processed.content_type),
                GalleryPhoto.original_etag.set(original_etag),
                GalleryPhoto.original_size.set(len(data)),
                GalleryPhoto.thumbnail_url.set(urls[("thumb", "jpeg")]),
                GalleryPhoto.full_size_url.set(urls[("web", "jpeg")]),
                GalleryPhoto.rendition_keys.set(rendition_keys),
            ],
            condition=condition,
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    dropped = [key for key in photo.rendition_keys or [] if key not in rendition_keys]
    if dropped:
        objects_delete(key for key in dropped if keys.belongs_to_gallery(key, gallery_id))
    year = imaging.exif_year(processed.exif)
    if year is not None:
        gallery_add_year(gallery_id=gallery_id, year=year)
    return True
