"""Who may fetch a photo's original, and what they get.

The original keeps everything the camera wrote (exact GPS, serial numbers), so it is the curators':
they get a short-lived signed URL of it. Visitors get one only when the gallery sets
``allowOriginalDownload``, and then, unless the gallery shows exact locations, of a copy without the
location (``photos.location_strip``: GPS and XMP removed, the image data untouched). The copy is made
on the first download and named by the original's content, so a changed original gets a new copy; the
stored original is never modified. A file whose metadata cannot be read with certainty is not offered
(fail closed).
"""

from core import storage
from core.errors import NotFound
from galleries.models import Gallery, downloads_allowed, location_privacy_of
from photos import keys
from photos.location_strip import StripRefused, without_location
from photos.models import GalleryPhoto

# Download links are handed out per request and live minutes, not the hour of image URLs.
DOWNLOAD_URL_SECONDS = 300


def original_download_url(*, gallery: Gallery, photo: GalleryPhoto, curator: bool) -> str:
    """A short-lived signed URL of what this viewer may download of the photo's original; NotFound
    when they may not (the same answer as for a photo without one)."""
    filename = photo.s3_key.rsplit("/", 1)[-1]
    if curator or (downloads_allowed(gallery) and location_privacy_of(gallery) == "exact"):
        return storage.signed_url(photo.s3_key, seconds=DOWNLOAD_URL_SECONDS, filename=filename)
    if not downloads_allowed(gallery):
        raise NotFound("This photo's original is not offered for download.", code="original_not_offered")
    return storage.signed_url(_copy_without_location(photo), seconds=DOWNLOAD_URL_SECONDS, filename=filename)


def _copy_without_location(photo: GalleryPhoto) -> str:
    """The key of the original's location-free copy, made now if there is none yet."""
    extension = photo.s3_key.rsplit(".", 1)[-1].lower()
    content = photo.original_sha256 or photo.original_etag or photo.photo_id
    key = keys.download_key(photo.gallery_id, photo.photo_id, content, extension)
    if storage.object_head(key) is not None:
        return key
    opened = storage.object_open(photo.s3_key)
    if opened is None:
        raise NotFound("This photo's original is missing; a scan will repair the photo.")
    try:
        data = opened.read()
    finally:
        opened.close()
    content_type = photo.content_type or "application/octet-stream"
    try:
        stripped = without_location(data, content_type)
    except StripRefused:
        raise NotFound(
            "This photo's original cannot be offered without its location.", code="original_not_offered"
        ) from None
    storage.object_put(key, stripped, content_type)
    return key
