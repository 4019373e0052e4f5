"""The one prepare step of every photo, whatever door it came in by: check the file, decode it, render it.

Multipart uploads, direct-to-S3 uploads and the photos scan all call ``photo_prepare``; nothing is written
to S3 or DynamoDB here. A file that cannot become a photo raises a ``core.errors.Rejected`` (or its
``Unsupported``/``TooLarge`` kinds) whose code says why: ``photo_rejected`` makes them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from types import ModuleType
from typing import Any

from django.conf import settings

from core.errors import Rejected, TooLarge, Unsupported

# File name extensions that promise a format; a file whose content disagrees is refused.
_EXTENSION_FORMATS = {
    "jpg": "JPEG", "jpeg": "JPEG", "jpe": "JPEG", "png": "PNG", "webp": "WEBP", "tif": "TIFF", "tiff": "TIFF",
    "gif": "GIF", "bmp": "BMP", "heic": "HEIF", "heif": "HEIF",
}  # fmt: skip


# Why a file is refused as a photo, and the kind of refusal each reason is (the edges map kinds).
REJECTION_KINDS: dict[str, type[Rejected]] = {
    "empty": Rejected, "corrupt": Rejected, "extension_mismatch": Rejected, "upload_missing": Rejected,
    "not_an_image": Unsupported, "unsupported_format": Unsupported,
    "too_many_pixels": TooLarge, "too_large": TooLarge,
}  # fmt: skip


def photo_rejected(code: str, message: str) -> Rejected:
    """The refusal of a file, of the kind its reason is."""
    return REJECTION_KINDS.get(code, Rejected)(message, code=code)


@dataclass(frozen=True)
class IncomingPhoto:
    """One file to make a photo of, with the metadata that goes with it.

    ``read`` returns the whole file (called once to prepare, and once more to store request bytes).
    ``upload_key`` names an object already in the bucket that is copied, not re-sent, when stored.
    ``filename`` is the client's name for the file: its extension is a promise checked against the
    content; a key found in the bucket by a scan promises nothing and passes no name.
    """

    filename: str
    size: int | None  # None when only reading tells (checked again after reading either way)
    read: Callable[[], bytes]
    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    upload_key: str | None = None


@dataclass(frozen=True)
class PreparedPhoto:
    """A file that passed: its processed image (format, EXIF, renditions) and its size in bytes."""

    image: Any
    size: int


def load_imaging() -> ModuleType:
    """``photos.imaging``, imported on first use: with Pillow and its colour-management module it costs
    about 60 ms on a cold start (``python -X importtime -c "import photos.imaging"``: 59.6 ms; PIL.Image
    alone 33.5 ms, median of 15 fresh interpreters), which reads, ratings and deletes never need."""
    from photos import imaging as module  # lazy on purpose, see the docstring

    return module


def photo_prepare(incoming: IncomingPhoto) -> PreparedPhoto:
    """Check the file and make its renditions in memory."""
    if incoming.size is not None:
        size_check(incoming.size)  # before reading a byte, when the size is known up front
    data = incoming.read()
    size_check(len(data))
    imaging = load_imaging()
    try:
        processed = imaging.process_image(data, max_pixels=settings.PHOTO_MAX_PIXELS)
    except imaging.ImageError as error:
        raise photo_rejected(error.code, error.message) from None
    _check_extension(incoming.filename, processed.format)
    return PreparedPhoto(processed, len(data))


def photo_year(exif: dict) -> int | None:
    """The year a photo was taken, from the ``dateTimeOriginal`` its EXIF was read into; None when
    unknown (a plain parse: galleries' years need no Pillow)."""
    value = exif.get("dateTimeOriginal")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).year
    except ValueError:
        return None


def size_check(size: int) -> None:
    """Refuse an empty file or one over PHOTO_MAX_BYTES (before reading it, when the size is known)."""
    if size == 0:
        raise photo_rejected("empty", "The file is empty.")
    if size > settings.PHOTO_MAX_BYTES:
        limit_mb = settings.PHOTO_MAX_BYTES / (1024 * 1024)
        raise photo_rejected("too_large", f"The file is larger than the {limit_mb:g} MB limit.")


def _check_extension(filename: str, detected_format: str) -> None:
    extension = PurePosixPath(filename or "").suffix.lower().lstrip(".")
    promised = _EXTENSION_FORMATS.get(extension)
    if promised and promised != detected_format:
        raise photo_rejected(
            "extension_mismatch", f"The name ends in .{extension} but the file is a {detected_format} image."
        )
