"""The one prepare step of every photo, whatever door it came in by: check the file, decode it, render it.

Multipart uploads, direct-to-S3 uploads and the photos scan all call ``photo_prepare``; nothing is written
to S3 or DynamoDB here. A file that cannot become a photo raises a ``core.errors.Rejected`` (or its
``Unsupported``/``TooLarge`` kinds) whose code says why: ``photo_rejected`` makes them.

Bounded memory: before a file is decoded, the bytes its decode will hold at the peak are read from its
header (``photos.imaging.decode_plan`` and ``peak_bytes``) and reserved from ``decode_budget``, one budget
for the whole process (PHOTO_DECODE_BUDGET_BYTES, derived from the function's memory), released once its
renditions are made. One that fits waits for the decodes running in other threads, at most
REQUEST_DEADLINE_SECONDS, then is refused as ``Unavailable`` (503 ``decode_busy``). One that needs more
than the whole budget decodes alone (PHOTO_DECODE_ALONE_BYTES: the function's memory less what the
process holds at rest), counting the files the process holds (its own, and those other threads read):
it waits until no other decode runs, and none starts nor any file is read beside it. A file that could
never fit alone is refused (413 ``decode_too_large``).
"""

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from types import ModuleType
from typing import Any

from django.conf import settings

from core.deadline import attempt_seconds, remaining
from core.errors import DomainError, Internal, Rejected, TooLarge, Unavailable, Unsupported
from core.observability import MILLISECONDS, PHOTOS_REFUSED, RENDER_MS, metric
from core.validation import clean_text
from photos import renditions
from photos.geometry import DEFAULT_FORMATS

# A photo's title: one line of at most this many characters (the serializers check what clients send).
MAX_TITLE_LENGTH = 200

# File name extensions that promise a format; a file whose content disagrees is refused.
_EXTENSION_FORMATS = {
    "jpg": "JPEG", "jpeg": "JPEG", "jpe": "JPEG", "png": "PNG", "webp": "WEBP", "tif": "TIFF", "tiff": "TIFF",
    "gif": "GIF", "bmp": "BMP", "heic": "HEIF", "heif": "HEIF", "hif": "HEIF", "avif": "AVIF",
}  # fmt: skip


# Why a file is refused as a photo, and the kind of refusal each reason is (the edges map kinds).
REJECTION_KINDS: dict[str, type[Rejected]] = {
    "empty": Rejected, "corrupt": Rejected, "extension_mismatch": Rejected, "upload_missing": Rejected,
    "not_an_image": Unsupported, "unsupported_format": Unsupported,
    "too_many_pixels": TooLarge, "too_large": TooLarge, "decode_too_large": TooLarge,
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
    alt_text: str = ""
    # False for a photos scan's adoption or re-render: it meets the same refused file every run, so its
    # refusals are no uploads refused (PhotosRefused); an upload's, a direct upload's and an event's are.
    refusals_counted: bool = True


def title_from_filename(filename: str | None) -> str:
    """The title of a photo none was given for, whatever door it came in by (an upload, a direct upload,
    an original a scan adopts): its file name without folders and extension, cleaned like a title.
    Photographers' file names are meaningful."""
    stem = (filename or "").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return clean_text(stem[:MAX_TITLE_LENGTH], one_line=True).strip()


@dataclass(frozen=True)
class PreparedPhoto:
    """A file that passed: its processed image (format, EXIF, renditions), its size in bytes and the
    SHA-256 of its bytes (hex; the same photo twice is noticed, ``photos.content``)."""

    image: Any
    size: int
    sha256: str = ""
    renditions_version: str = ""  # photos.renditions.renditions_version of what was made


def load_imaging() -> ModuleType:
    """``photos.imaging``, imported on first use: with Pillow, its colour-management module and
    pillow-heif (HEIC) it costs about 80 ms on a cold start (``python -X importtime -c "import
    photos.imaging"``: 82 ms, median of 15 fresh interpreters, of which pillow-heif with libheif 16 ms;
    PIL.Image alone 33.5 ms; ctypes, for its allocator setting, about 5 ms), which reads, ratings and
    deletes never need."""
    from photos import imaging as module  # lazy on purpose, see the docstring

    return module


class DecodeBudget:
    """Bytes of decoding that the threads of this process may hold at once.

    ``held(nbytes)`` reserves before a decode and releases afterwards, whatever happens inside. A
    reservation waits its turn, first come first served, so a large file is not passed forever by small
    ones, and for at most ``timeout`` seconds. One over the shared capacity but within ``alone`` runs
    alone: its turn comes when nothing is held and no file is being read, and it runs only if it fits in
    ``alone`` together with the files the process holds (``file_read``: its own and other threads'),
    else it is busy at once (waiting could not help: those files are held by decodes in line behind it);
    while it runs, nothing else fits beside it and no file is read. One over the shared capacity that
    could never fit alone is refused at once. Nothing else is awaited while holding, so waits end.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held = 0
        self._queue: deque[object] = deque()
        self._file_bytes = 0  # files read by prepare steps and not yet done with
        self._reads = 0  # files being read (their size not known yet)
        self._solo = False  # a decode running alone
        self._solos_waiting = 0  # decodes waiting to run alone
        self.high_water = 0  # the most bytes ever held at once (bench and tests read it)

    @contextmanager
    def file_read(self, read: Callable[[], bytes], *, timeout: float) -> Iterator[bytes]:
        """``read()``'s bytes, counted as held by this process until the block ends. The read waits while a
        decode runs alone or waits to (at most ``timeout`` seconds), so no file that came after it grows
        the process beside it or takes the room it waits for."""
        with self._changed:
            idle = lambda: not self._solo and self._solos_waiting == 0  # noqa: E731
            if not self._changed.wait_for(idle, timeout=max(0.0, timeout)):
                raise _decode_busy()
            self._reads += 1
        size = 0
        try:
            data = read()
            size = len(data)
        finally:
            with self._changed:
                self._reads -= 1
                self._file_bytes += size
                self._changed.notify_all()
        try:
            yield data
        finally:
            with self._changed:
                self._file_bytes -= size
                self._changed.notify_all()

    @property
    def held_bytes(self) -> int:
        return self._held

    @property
    def waiting(self) -> int:
        """Reservations waiting for room."""
        return len(self._queue)

    @contextmanager
    def held(
        self, nbytes: int, *, capacity: int, timeout: float, alone: int = 0, own_bytes: int = 0
    ) -> Iterator[None]:
        """Hold ``nbytes`` of the ``capacity`` for the block (or, over it, up to ``alone`` bytes with the
        files held, ``own_bytes`` of which are this decode's own). Raises TooLarge (``decode_too_large``)
        when ``nbytes`` could never fit, Unavailable (``decode_busy``) when no room came within ``timeout``
        or the files other threads hold leave no room to decode alone."""
        limit = max(capacity, alone - own_bytes)
        if nbytes > limit:
            raise photo_rejected(
                "decode_too_large",
                f"Decoding this image would take about {_mib(nbytes)} of memory; "
                f"photos are decoded within {_mib(limit)}. Send it with fewer pixels.",
            )
        solo = nbytes > capacity
        turn = object()
        with self._changed:
            self._queue.append(turn)
            self._solos_waiting += solo
            try:
                fits = self._changed.wait_for(
                    lambda: (
                        self._queue[0] is turn
                        and (self._held == self._reads == 0 if solo else self._held + nbytes <= capacity)
                    ),
                    timeout=max(0.0, timeout),
                )
                if fits and solo and nbytes + self._file_bytes > alone:
                    fits = False  # other threads' files: they go first, this one is tried again later
            finally:
                self._queue.remove(turn)
                self._solos_waiting -= solo
                self._changed.notify_all()  # the next in line may fit now, or be first
            if not fits:
                raise _decode_busy()
            self._held += nbytes
            self._solo = solo
            self.high_water = max(self.high_water, self._held)
        try:
            yield
        finally:
            with self._changed:
                self._held -= nbytes
                self._solo = self._solo and not solo
                self._changed.notify_all()


def _decode_busy() -> Unavailable:
    return Unavailable(
        "The server is busy decoding other photos; this one was not processed. Try again.", code="decode_busy"
    )


decode_budget = DecodeBudget()  # one per process: every thread's decodes share it


def photo_prepare(incoming: IncomingPhoto) -> PreparedPhoto:
    """Check the file and make its renditions in memory, within the process's decode budget. Every door's
    refusal of a file is counted here, by its code (a refusal after this step, by ``photo_record``)."""
    try:
        return _prepared(incoming)
    except DomainError as refused:
        if incoming.refusals_counted and refusal_counts(refused):
            metric(PHOTOS_REFUSED, 1, code=refused.code)
        raise


def refusal_counts(error: DomainError) -> bool:
    """Whether a failure is the file's refusal (its content, its size, its gallery), not a moment's
    trouble that a retry gets past (storage failing or throttled, the decode budget busy): only those
    count as uploads refused."""
    return not isinstance(error, Unavailable | Internal)


def _prepared(incoming: IncomingPhoto) -> PreparedPhoto:
    if incoming.size is not None:
        size_check(incoming.size)  # before reading a byte, when the size is known up front
    with decode_budget.file_read(incoming.read, timeout=_wait_allowed()) as data:
        size_check(len(data))
        imaging = load_imaging()
        try:
            formats = rendition_formats()
            plan = imaging.decode_plan(
                data, edges=renditions.EDGES, formats=formats, max_pixels=settings.PHOTO_MAX_PIXELS
            )
            _check_extension(incoming.filename, plan.format)  # from the header: a lie costs no decode
            with decode_budget.held(
                imaging.peak_bytes(plan),
                capacity=settings.PHOTO_DECODE_BUDGET_BYTES,
                alone=settings.PHOTO_DECODE_ALONE_BYTES,
                own_bytes=len(data),
                timeout=_wait_allowed(),
            ):
                rendering = time.perf_counter()
                processed = imaging.process_image(
                    data, edges=renditions.EDGES, formats=formats, max_pixels=settings.PHOTO_MAX_PIXELS
                )
                metric(RENDER_MS, round((time.perf_counter() - rendering) * 1000, 1), MILLISECONDS)
        except imaging.ImageError as error:
            raise photo_rejected(error.code, error.message) from None
        return PreparedPhoto(
            processed, len(data), hashlib.sha256(data).hexdigest(), renditions.renditions_version(formats)
        )


def rendition_formats() -> tuple[str, ...]:
    """The formats every rendition is made in: JPEG and WebP, and AVIF when PHOTO_AVIF_RENDITIONS."""
    return (*DEFAULT_FORMATS, "avif") if settings.PHOTO_AVIF_RENDITIONS else DEFAULT_FORMATS


def _wait_allowed() -> float:
    """How long a decode may wait for room: what is left of the request's time, less what storing the
    photo will need afterwards (one AWS attempt); the whole deadline when none is set."""
    left = remaining()
    if left is None:
        return settings.REQUEST_DEADLINE_SECONDS
    return max(0.0, left - attempt_seconds())


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


def _mib(nbytes: int) -> str:
    return f"{nbytes / (1024 * 1024):,.0f} MiB"


# The content types a direct upload's slot takes, and the format each promises (as _EXTENSION_FORMATS).
CONTENT_TYPE_FORMATS = {
    "image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/tiff": "TIFF",
    "image/heic": "HEIF", "image/heif": "HEIF", "image/avif": "AVIF",
}  # fmt: skip


def name_and_type_agree(filename: str, content_type: str) -> bool:
    """Whether a file's name and its declared type promise the same format (a name that promises none
    agrees with any type): a slot whose two disagree would make a photo refused for its name."""
    extension = PurePosixPath(filename or "").suffix.lower().lstrip(".")
    promised = _EXTENSION_FORMATS.get(extension)
    return promised is None or promised == CONTENT_TYPE_FORMATS.get(content_type, promised)


def _check_extension(filename: str, detected_format: str) -> None:
    extension = PurePosixPath(filename or "").suffix.lower().lstrip(".")
    promised = _EXTENSION_FORMATS.get(extension)
    if promised and promised != detected_format:
        raise photo_rejected(
            "extension_mismatch", f"The name ends in .{extension} but the file is a {detected_format} image."
        )
