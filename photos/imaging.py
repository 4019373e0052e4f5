"""Photo validation, EXIF extraction and JPEG/WebP renditions (accepts JPEG, PNG, WebP and TIFF only).

``decode_plan`` and ``peak_bytes`` say, from a file's header alone, how many bytes ``process_image`` will
hold at its peak (the decode, its conversions and the resize's intermediates), so a caller can refuse or
queue a file before a byte of it is decoded.

The EXIF summary is bounded (``EXIF_TEXT_MAX_CHARS`` per text, control characters removed,
``EXIF_MAX_BYTES`` in all, ``exif_capped``), so whatever a file carries, the photo item stays small.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import math
import re
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from PIL import ExifTags, Image, ImageCms, ImageFile

SUPPORTED_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "TIFF": ("tif", "image/tiff"),
}

# ISO-BMFF brands of HEIC/HEIF/AVIF files; Pillow cannot read HEIC at all, so they are recognised here
# to tell the person "wrong format" rather than "not an image".
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}

_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Measured at 24 MP (bench/imaging.py): BICUBIC from the draft decode costs 0.5 dB PSNR after JPEG
# encoding, Lanczos costs 0.1 dB; a thumbnail made from the web rendition's pixels is as good as one made
# from the decode, and reducing_gap=2 (an integer box reduce first) makes it 20% cheaper at equal quality.
_RESAMPLE = Image.Resampling.LANCZOS
_REDUCING_GAP = 2.0
# EXIF text is whatever the file says. Each text value is cut to EXIF_TEXT_MAX_CHARS: the longest Make,
# Model or LensModel of real cameras is about 60 characters (19 in shared/samples/exif), so 256 keeps every
# real one whole while a forged 300 KB `Make` (one PNG eXIf chunk) becomes 256 characters, at most 1 KiB of
# UTF-8. The summary as a whole is capped at EXIF_MAX_BYTES of compact UTF-8 JSON, which counts at least
# what DynamoDB counts for the map (JSON's quotes and separators outweigh DynamoDB's byte per element):
# today's fields (three texts, numbers, a date, GPS) reach about 3.5 KiB at worst, so the cap binds only
# when more text fields are read; then the least important fields are dropped (_EXIF_FIELD_RANK).
# A photo item at its largest (title 200, description 5,000 and 30 tags of 50 characters, 4 bytes each
# in UTF-8: 27 KiB; EXIF 8 KiB; keys and URLs about 2 KiB) stays under 40 KiB, a tenth of DynamoDB's
# 400 KB item limit.
EXIF_TEXT_MAX_CHARS = 256
EXIF_MAX_BYTES = 8 * 1024
# How much of a text value is read at all before cleaning: room for the padding and controls that
# cleaning removes, and no more, so a huge value costs no more work than a long one.
_EXIF_TEXT_READ_CHARS = 4 * EXIF_TEXT_MAX_CHARS
# Controls that separate words (NUL padding, tabs, line breaks, NEL) become a space; every other C0
# control, DEL and the C1 controls (0x80-0x9F: Pillow decodes EXIF ASCII as Latin-1, so a byte 0x9B is
# the 8-bit CSI that starts a terminal escape) are removed. What is left of an escape ("[31m") is inert
# text; markup ("<script>") stays text too: the API answers JSON, and whoever renders it as HTML escapes.
_EXIF_SEPARATORS = re.compile(r"[\x00\t\n\x0b\x0c\r\x85]+")
_EXIF_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Most important first; when the summary is over EXIF_MAX_BYTES, fields are dropped from the end of this
# list, fields it does not name before any it names. The layout fields (orientation, width, height) are
# never dropped: renditions and pages need them, and they are a few bytes.
_EXIF_KEPT_ALWAYS = ("orientation", "width", "height")
_EXIF_FIELD_RANK = (
    *_EXIF_KEPT_ALWAYS,
    "dateTimeOriginal",  # the galleries' years
    "gps",  # the location, shown as the gallery allows
    "make",
    "model",
    "lensModel",
    "exposureTime",
    "fNumber",
    "iso",
    "focalLength",
    "focalLength35mm",
)

# libwebp method 0 encodes in a third of the time of method 4 (its default) for about 0.4 dB less at
# the same size; methods 1-2 are slower than 0 and no better. Public so benchmarks encode alike.
WEBP_METHOD = 0


class ImageError(Exception):
    """A file that cannot become a photo: `.code` is a machine code, `.message` a sentence for a person."""

    code: str  # "empty", "not_an_image", "unsupported_format", "corrupt" or "too_many_pixels"
    message: str

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RenditionSpec:
    name: str
    long_edge: int


DEFAULT_RENDITIONS = (RenditionSpec("thumb", 400), RenditionSpec("web", 1600))


@dataclass(frozen=True)
class Rendition:
    name: str
    format: str
    extension: str
    content_type: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class ProcessedImage:
    format: str
    extension: str
    content_type: str
    width: int
    height: int
    exif: dict
    renditions: tuple[Rendition, ...]


def probe(data: bytes, *, max_pixels: int = 89_478_485) -> tuple[str, int, int]:
    """Header-only check: (PIL format, width, height). Raises ImageError. Never decodes pixels."""
    image = _open(data, max_pixels=max_pixels)
    return _format(image), image.width, image.height


def read_exif(data: bytes) -> dict:
    """EXIF as the exif dict below, without decoding pixels (~1 ms)."""
    image = _open(data, max_pixels=None)
    return _exif_dict(image)


def process_image(
    data: bytes,
    *,
    renditions=DEFAULT_RENDITIONS,
    max_pixels: int = 89_478_485,
    jpeg_quality: int = 85,
    webp_quality: int = 80,
) -> ProcessedImage:
    """Validate, read EXIF, decode ONCE, make every rendition from that one decode."""
    image = _open(data, max_pixels=max_pixels)
    format_name = _format(image)
    _reject_truncated(format_name, data)
    if format_name == "PNG":
        # Pillow's PNG getexif() decodes the pixels (an eXIf chunk may follow them) and _exif_dict ignores
        # its errors, so a PNG with broken pixel data became a blank photo: decode it here, where a failure
        # refuses the file. The load() below then has nothing left to do.
        _load(image)
    exif = _exif_dict(image)
    orientation = exif.get("orientation", 1)
    swaps_axes = orientation in (5, 6, 7, 8)
    icc_profile = image.info.get("icc_profile") or None
    oriented_size = exif["width"], exif["height"]

    # Sizes in the file's own (unrotated) axes, largest first, so each rendition can come from the last.
    targets = sorted(
        ((spec, _fit(oriented_size, spec.long_edge)) for spec in renditions),
        key=lambda item: item[1][0] * item[1][1],
        reverse=True,
    )
    if not targets:
        raise ValueError("process_image needs at least one RenditionSpec")
    try:
        _draft(image, format_name, _largest_target(image.size, renditions))
        image.load()
        source, icc_profile = _working_mode(image, icc_profile)
        del image  # each pass below replaces `source` with a smaller image, so the decode is freed early
        source.info = {}  # renditions carry no EXIF/XMP: nothing from the original's info reaches a save
        made: list[Rendition] = []
        for spec, size in targets:
            stored_size = (size[1], size[0]) if swaps_axes else size
            if source.size != stored_size:
                source = source.resize(stored_size, _RESAMPLE, reducing_gap=_REDUCING_GAP)
            upright = (
                source.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation]) if orientation != 1 else source
            )
            made.extend(_encode(spec.name, upright, icc_profile, jpeg_quality, webp_quality))
    except MemoryError as error:
        raise _too_many_pixels() from error
    except Exception as error:
        # Pillow and its codecs raise many types (OSError, ValueError, SyntaxError, struct.error...).
        raise ImageError("corrupt", "The image file is damaged or incomplete.") from error
    order = {spec.name: index for index, spec in enumerate(renditions)}
    made.sort(key=lambda rendition: (order[rendition.name], rendition.format != "jpeg"))

    extension, content_type = SUPPORTED_FORMATS[format_name]
    return ProcessedImage(
        format=format_name,
        extension=extension,
        content_type=content_type,
        width=oriented_size[0],
        height=oriented_size[1],
        exif=exif,
        renditions=tuple(made),
    )


# ---------------------------------------------------------------- memory: what a decode holds at its peak
#
# Measured with Pillow 13.0 at 24-100 MP (bench/memory.py prints the rule next to each file's peak RSS):
# the peak is the decode plus whatever is alive next to it, and Pillow keeps more than the file's samples.
# - Pillow stores 1 byte per pixel for 1, L and P, 2 for the 16-bit greys (I;16...), and 4 for every other
#   mode: RGB is padded to 32 bits, LA to four bands.
# - Bit depth: 16-bit RGB, RGBA and LA PNGs (and 16-bit RGB TIFFs) are unpacked to 8 bits per sample as
#   they decode (rawmodes "RGB;16B", "RGBA;16B", "LA;16B"), so they open as RGB or RGBA and cost what their
#   8-bit twins cost; only 16-bit grey stays 16-bit, and ``_working_mode`` scales it through two float
#   images (convert("F") and point()): 2 + 4 + 4 = 10 bytes per pixel.
# - Alpha: Pillow resizes RGBA through a premultiplied RGBa copy of the whole image, so an RGBA file holds
#   8 bytes per pixel while its first rendition is made; the 9,999 x 10,000 16-bit RGBA PNG of the issue
#   took 836-839 MiB above the process's resting size (4 + 4 bytes per pixel, the reduce, the resample).
# - Codecs: a progressive JPEG keeps every DCT coefficient of the full-size image while it decodes, even in
#   draft mode (2 bytes per coefficient: 3 bytes per pixel at 4:2:0, 6 at 4:4:4); Pillow's WebP decoder
#   (libwebp's animation decoder) keeps two full RGBA canvases for as long as the file is open and hands
#   the frame over as one more copy: 16 bytes per pixel at the peak. PNG and TIFF codecs hold a few rows.

_PREMULTIPLIED_MODES = ("LA", "RGBA")  # Image.resize makes a premultiplied (La/RGBa) copy of these
# Encoding the largest rendition holds, per pixel of it and besides it: the upright copy, the opaque RGB
# copy JPEG needs of an RGBA one, the RGB copy WebP needs of an L one, and libwebp's buffers, of which its
# lossless alpha coder is the largest (29 bytes per pixel alone). Measured on noise at 1600 x 1600 with
# EXIF orientation 6: L 12.1, RGB 11.5, RGBA 38.4 (bench/memory.py --calibrate).
_ENCODE_BYTES_PER_PIXEL = {"L": 13, "RGB": 12, "RGBA": 40}
_WEBP_CANVASES = 2  # libwebp's WebPAnimDecoder: the current canvas and the disposed previous one
# libwebp decodes a WebP's alpha plane (1 byte per pixel) through its lossless decoder's buffers: a
# 6000 x 4000 RGBA WebP peaked at 19.4 bytes per pixel against 16 for an RGB one.
_WEBP_ALPHA_DECODE_BYTES_PER_PIXEL = 4

# glibc serves an allocation below its mmap threshold from the arena of the thread that asks and keeps it
# there once freed, and the threshold grows by itself up to 32 MiB, past Pillow's 16 MiB image blocks. So
# the worker thread that decoded a 454 MiB image kept it, and the next decode, on the other worker, took
# 454 MiB more: four 100 MP PNGs decoded one at a time by two workers peaked at 977 MiB, not 525, and a
# decode budget bounded nothing. A fixed threshold of half a block maps every block on its own, and
# freeing it returns it (525 MiB; a 24 MP JPEG then takes ~40% more page faults, ~2% of its CPU time).
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h


def free_large_allocations_promptly() -> bool:
    """Have glibc map each allocation of half an image block or more on its own, so that freeing it hands
    it back to the system whichever thread freed it; False where the C library has no ``mallopt``."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, TypeError):
        return False  # not glibc (macOS, Windows): their allocators are not tuned here
    return bool(mallopt(_M_MMAP_THRESHOLD, Image.core.get_block_size() // 2))


free_large_allocations_promptly()  # once, when Pillow is first loaded


@dataclass(frozen=True)
class DecodePlan:
    """What ``process_image`` will decode, read from a file's header (``decode_plan``).

    ``mode`` and ``size`` are what Pillow decodes into (a JPEG's after its draft scale), ``target`` the
    largest rendition in the file's own axes, ``transparency`` whether a palette or grey file carries
    transparency (it then becomes RGBA). ``codec_bytes`` is what the codec holds besides Pillow's image
    while decoding; ``codec_kept_bytes`` what it still holds afterwards, as long as the file is open.
    """

    format: str
    mode: str
    size: tuple[int, int]
    target: tuple[int, int]
    transparency: bool = False
    codec_bytes: int = 0
    codec_kept_bytes: int = 0


def stored_bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow keeps per pixel of an image in ``mode``."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def working_mode(mode: str, *, transparency: bool = False) -> str:
    """The mode renditions are made from (L, RGB or RGBA) for a decode in ``mode``."""
    if mode in ("L", "RGB", "RGBA"):
        return mode
    if mode == "CMYK":
        return "RGB"
    if mode.startswith("I;16") or mode in ("I", "F"):
        return "L"
    if "A" in mode or "a" in mode or transparency:
        return "RGBA"
    if mode == "1":
        return "L"
    return "RGB"


def conversion_bytes_per_pixel(mode: str, *, transparency: bool = False) -> int:
    """Bytes per pixel that turning a decode in ``mode`` into its working mode holds next to the decode."""
    working = working_mode(mode, transparency=transparency)
    if working == mode:
        return 0
    if mode.startswith("I;16") or mode in ("I", "F"):
        return 2 * stored_bytes_per_pixel("F")  # convert("F"), then point() makes a second float image
    return stored_bytes_per_pixel(working)


def held_bytes_per_pixel(mode: str, *, transparency: bool = False) -> int:
    """Bytes per decoded pixel held at once before the first rendition exists: the decode with its
    conversion to the working mode, or (the decode dropped) the working image with Pillow's premultiplied
    copy when it has alpha. L 1, RGB 4, RGBA 8, P 5 (8 with transparency), I;16 10, CMYK 8."""
    working = working_mode(mode, transparency=transparency)
    converting = stored_bytes_per_pixel(mode) + conversion_bytes_per_pixel(mode, transparency=transparency)
    copies = 2 if working in _PREMULTIPLIED_MODES else 1
    return max(converting, copies * stored_bytes_per_pixel(working))


def peak_bytes(plan: DecodePlan) -> int:
    """The most bytes ``process_image`` holds at once for a file of this plan (images and codec buffers;
    not the file's own bytes nor the encoded renditions), the largest of its phases:
    decoding, converting to the working mode, the first resize, and encoding the largest rendition."""
    width, height = plan.size
    pixels = width * height
    decoded = pixels * stored_bytes_per_pixel(plan.mode)
    working = working_mode(plan.mode, transparency=plan.transparency)
    per_working_pixel = stored_bytes_per_pixel(working)
    converting = pixels * conversion_bytes_per_pixel(plan.mode, transparency=plan.transparency)
    # Once converted, the decode (with what its codec kept) is dropped; otherwise it is the working image.
    source = pixels * per_working_pixel + (0 if converting else plan.codec_kept_bytes)
    phases = [decoded + plan.codec_bytes, decoded + plan.codec_kept_bytes + converting]
    target_pixels = plan.target[0] * plan.target[1]
    if plan.size != plan.target:
        phases.append(source + _resize_bytes(plan.size, plan.target, working))
        rendition = target_pixels * per_working_pixel
    else:
        rendition = source  # the working image is the largest rendition
    phases.append(rendition + target_pixels * _encode_bytes_per_pixel(working))
    return max(phases)


def decode_plan(data: bytes, *, renditions=DEFAULT_RENDITIONS, max_pixels: int = 89_478_485) -> DecodePlan:
    """What ``process_image`` will decode for this file, from its header only (0.1-0.3 ms; nothing is
    decoded). Raises ImageError as ``process_image`` would for a file that is not a supported image."""
    if not renditions:
        raise ValueError("decode_plan needs at least one RenditionSpec")
    image = _open(data, max_pixels=max_pixels)
    try:
        format_name = _format(image)
        target = _largest_target(image.size, renditions)
        full_size = image.size
        codec_bytes = codec_kept_bytes = 0
        if format_name == "JPEG" and image.info.get("progressive"):
            codec_bytes = _jpeg_coefficient_bytes(full_size, getattr(image, "layer", []))
        elif format_name == "WEBP":
            pixels = full_size[0] * full_size[1]
            codec_kept_bytes = _WEBP_CANVASES * 4 * pixels
            codec_bytes = codec_kept_bytes + 4 * pixels  # the frame, handed to Pillow as one bytes object
            if image.mode == "RGBA":
                codec_bytes += _WEBP_ALPHA_DECODE_BYTES_PER_PIXEL * pixels
        try:
            _draft(image, format_name, target)
        except Exception as error:
            raise ImageError("corrupt", "The image file is damaged and could not be read.") from error
        return DecodePlan(
            format=format_name,
            mode=image.mode,
            size=image.size,
            target=target,
            transparency=image.has_transparency_data,
            codec_bytes=codec_bytes,
            codec_kept_bytes=codec_kept_bytes,
        )
    finally:
        image.close()


def _resize_bytes(size: tuple[int, int], target: tuple[int, int], working: str) -> int:
    """What the first resize (``Image.resize`` with our reducing gap) holds besides its source image."""
    per_pixel = stored_bytes_per_pixel(working)
    width, height = size
    premultiplied = width * height * 4 if working in _PREMULTIPLIED_MODES else 0
    factor_x = int(width / target[0] / _REDUCING_GAP) or 1
    factor_y = int(height / target[1] / _REDUCING_GAP) or 1
    reduced = 0
    if factor_x > 1 or factor_y > 1:  # Image.reduce first: a box-averaged copy
        width, height = -(-width // factor_x), -(-height // factor_y)
        reduced = width * height * per_pixel
    # The resample runs horizontally into a (target width x source height) image, then vertically.
    horizontal = target[0] * height * per_pixel if target[0] != width else 0
    return premultiplied + reduced + horizontal + target[0] * target[1] * per_pixel


def _encode_bytes_per_pixel(working: str) -> int:
    """Bytes per pixel of the largest rendition that ``_encode`` and the upright copy hold next to it."""
    return _ENCODE_BYTES_PER_PIXEL.get(working, max(_ENCODE_BYTES_PER_PIXEL.values()))


def _jpeg_coefficient_bytes(size: tuple[int, int], components: list[tuple[int, int, int, int]]) -> int:
    """libjpeg's whole-image coefficient buffer for a multi-scan (progressive) JPEG: 64 two-byte
    coefficients per 8x8 block of every component, at each component's own sampling."""
    width, height = size
    if not components:
        return 3 * 128 * -(-width // 8) * -(-height // 8)  # as if three full-resolution components
    max_h = max(h for _, h, _, _ in components) or 1
    max_v = max(v for _, _, v, _ in components) or 1
    total = 0
    for _, h, v, _ in components:
        blocks_wide = -(-width * h // (max_h * 8))
        blocks_high = -(-height * v // (max_v * 8))
        total += blocks_wide * blocks_high * 128
    return total


def _largest_target(size: tuple[int, int], renditions) -> tuple[int, int]:
    """The largest rendition's size in the file's own axes (``_fit`` does not care which edge is long)."""
    return _fit(size, max(spec.long_edge for spec in renditions))


def _draft(image: ImageFile.ImageFile, format_name: str, size: tuple[int, int]) -> None:
    """Set up the decode ``process_image`` does: JPEG can decode straight to 1/2, 1/4 or 1/8 scale in the
    DCT domain; draft picks the smallest scale that is still at least ``size``, so no rendition is
    upscaled from it. Other formats decode at full size."""
    if format_name == "JPEG":
        image.draft("RGB" if image.mode != "CMYK" else None, size)


def _load(image: ImageFile.ImageFile) -> None:
    try:
        image.load()
    except MemoryError as error:
        raise _too_many_pixels() from error
    except Exception as error:
        raise ImageError("corrupt", "The image file is damaged or incomplete.") from error


def _too_many_pixels() -> ImageError:
    return ImageError("too_many_pixels", "The image has too many pixels to process.")


def _open(data: bytes, *, max_pixels: int | None) -> ImageFile.ImageFile:
    """Open lazily (header only) and check format and pixel count; raises ImageError."""
    if not data:
        raise ImageError("empty", "The file is empty.")
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        raise ImageError(
            "unsupported_format", "HEIC/HEIF/AVIF files are not supported; use JPEG, PNG or WebP."
        )
    try:
        # Pillow warns above Image.MAX_IMAGE_PIXELS; our own max_pixels decides instead (checked below).
        # Its UserWarnings ("Corrupt EXIF data") concern metadata we treat as optional anyway.
        # catch_warnings restores the filters afterwards, so nothing leaks to the caller.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise _too_many_pixels() from error
    except Image.UnidentifiedImageError as error:
        raise ImageError("not_an_image", "The file is not an image.") from error
    except Exception as error:
        raise ImageError("corrupt", "The image file is damaged and could not be read.") from error
    if image.format not in SUPPORTED_FORMATS:
        image.close()
        raise ImageError(
            "unsupported_format", f"{image.format} images are not supported; use JPEG, PNG or WebP."
        )
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError("corrupt", "The image file says it has no pixels.")
    if max_pixels is not None and width * height > max_pixels:
        raise _too_many_pixels()
    return image


def _format(image: Image.Image) -> str:
    """The format ``_open`` accepted: always a key of SUPPORTED_FORMATS."""
    if image.format is None or image.format not in SUPPORTED_FORMATS:  # _open refused these already
        raise ImageError("unsupported_format", f"{image.format} images are not supported.")
    return image.format


def _reject_truncated(format_name: str, data: bytes) -> None:
    """Structural end-of-file checks, so a cut-off upload is refused even if LOAD_TRUNCATED_IMAGES is set."""
    complete = True
    if format_name == "JPEG":
        complete = _jpeg_has_end(data)
    elif format_name == "PNG":
        complete = data.rfind(b"IEND") > 8
    elif format_name == "WEBP":
        complete = len(data) >= int.from_bytes(data[4:8], "little") + 8
    if not complete:
        raise ImageError("corrupt", "The image file is incomplete (it may have been cut off during upload).")


def _jpeg_has_end(data: bytes) -> bool:
    """True when an end-of-image marker follows the first scan (not just the EXIF thumbnail's)."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return False
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xD9:
            return False
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if marker == 0xDA:
            # Entropy-coded data escapes 0xFF as 0xFF00, so 0xFFD9 can only be the real end marker.
            return data.find(b"\xff\xd9", position + 2 + length) != -1
        position += 2 + length
    return False


def _working_mode(image: Image.Image, icc_profile: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Bring any decoded mode to L, RGB or RGBA; returns the ICC profile that fits the result (or None)."""
    mode = image.mode
    if mode in ("L", "RGB", "RGBA"):
        return image, _icc_matching(icc_profile, mode)
    if mode == "CMYK":
        if icc_profile is not None and _icc_space(icc_profile) == b"CMYK":
            try:
                source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
                srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
                converted = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
                if converted is not None:  # None only for inPlace=True
                    return converted, srgb.tobytes()
            except (ImageCms.PyCMSError, OSError):
                pass
        return image.convert("RGB"), None
    if mode.startswith("I;16") or mode in ("I", "F"):
        # High bit depth: scale to 8 bits rather than let convert() clip everything above 255.
        as_float = image.convert("F")
        extrema = cast(tuple[float, float], as_float.getextrema())  # one band: (low, high)
        top = 65535.0 if mode.startswith("I;16") else max(extrema[1], 255.0)
        as_float = as_float.point(lambda value: value * (255.0 / top))
        return as_float.convert("L"), _icc_matching(icc_profile, "L")
    target = working_mode(mode, transparency=image.has_transparency_data)
    converted = image.convert(target)
    return converted, _icc_matching(icc_profile, target)


def _icc_space(icc_profile: bytes | None) -> bytes | None:
    return icc_profile[16:20] if icc_profile and len(icc_profile) >= 20 else None


def _icc_matching(icc_profile: bytes | None, mode: str) -> bytes | None:
    # A profile describes one colour space; attaching a CMYK or grey profile to RGB pixels would be wrong.
    expected = b"GRAY" if mode == "L" else b"RGB "
    return icc_profile if _icc_space(icc_profile) == expected else None


def _encode(
    name: str, image: Image.Image, icc_profile: bytes | None, jpeg_quality: int, webp_quality: int
) -> list[Rendition]:
    width, height = image.size
    icc = {"icc_profile": icc_profile} if icc_profile else {}

    opaque = image
    if image.mode == "RGBA":
        opaque = Image.new("RGB", image.size, (255, 255, 255))
        opaque.paste(image, mask=image.getchannel("A"))
    jpeg = io.BytesIO()
    # Baseline, not progressive: a progressive (or optimize=True) encode buffers the whole image and
    # Pillow holds the GIL through it, ~58 ms per 1600 px rendition that no other thread can overlap;
    # baseline streams in ~10 ms with the GIL released, for files ~8% larger (measured, 12 MP source).
    opaque.save(jpeg, "JPEG", quality=jpeg_quality, **icc)

    webp = io.BytesIO()
    webp_source = image if image.mode in ("RGB", "RGBA") else image.convert("RGB")
    webp_source.save(webp, "WEBP", quality=webp_quality, method=WEBP_METHOD, **icc)
    return [
        Rendition(name, "jpeg", "jpg", "image/jpeg", width, height, jpeg.getvalue()),
        Rendition(name, "webp", "webp", "image/webp", width, height, webp.getvalue()),
    ]


def _fit(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """Scale `size` so its long edge is `long_edge`, keeping the aspect ratio; never enlarges."""
    width, height = size
    if max(width, height) <= long_edge:
        return width, height
    if width >= height:
        return long_edge, max(1, round(height * long_edge / width))
    return max(1, round(width * long_edge / height)), long_edge


def _exif_dict(image: Image.Image) -> dict:
    """The JSON-ready EXIF summary of an opened (not decoded) image; unreadable tags are left out."""
    result: dict = {}
    # A damaged EXIF block costs the photo its remaining metadata, not its acceptance; Pillow's
    # "Corrupt EXIF data" warnings say the same thing, so they are silenced here.
    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore", UserWarning)
        if exif := image.getexif():
            _copy_exif_fields(exif, result)
    orientation = result.get("orientation", 1)
    width, height = image.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    result["width"] = width
    result["height"] = height
    return exif_capped(result)


def exif_size(exif: dict) -> int:
    """The bytes an EXIF summary takes, as compact UTF-8 JSON (at least what DynamoDB counts for it)."""
    return len(json.dumps(exif, ensure_ascii=False, separators=(",", ":")).encode())


def exif_capped(exif: dict, *, max_bytes: int = EXIF_MAX_BYTES) -> dict:
    """``exif`` within ``max_bytes`` (``exif_size``): the least important fields dropped until it fits
    (fields ``_EXIF_FIELD_RANK`` does not name first, then from the end of it); the layout fields stay."""
    capped = dict(exif)
    rank = {field: index for index, field in enumerate(_EXIF_FIELD_RANK)}
    droppable = sorted(
        (field for field in capped if field not in _EXIF_KEPT_ALWAYS),
        key=lambda field: rank.get(field, len(rank)),
    )
    while droppable and exif_size(capped) > max_bytes:
        del capped[droppable.pop()]
    return capped


def _copy_exif_fields(exif: Image.Exif, result: dict) -> None:
    for key, tag in (("make", ExifTags.Base.Make), ("model", ExifTags.Base.Model)):
        if text := _text(exif.get(tag)):
            result[key] = text
    orientation = _integer(exif.get(ExifTags.Base.Orientation))
    if orientation is not None and 1 <= orientation <= 8:
        result["orientation"] = orientation

    details = _sub_ifd(exif, ExifTags.IFD.Exif)
    if text := _text(details.get(ExifTags.Base.LensModel)):
        result["lensModel"] = text
    if (exposure := _exposure(details.get(ExifTags.Base.ExposureTime))) is not None:
        result["exposureTime"] = exposure
    if (f_number := _number(details.get(ExifTags.Base.FNumber))) is not None and f_number > 0:
        result["fNumber"] = round(f_number, 2)
    if (iso := _integer(details.get(ExifTags.Base.ISOSpeedRatings))) is not None and iso > 0:
        result["iso"] = iso
    if (focal := _number(details.get(ExifTags.Base.FocalLength))) is not None and focal > 0:
        result["focalLength"] = round(focal, 2)
    if (focal35 := _integer(details.get(ExifTags.Base.FocalLengthIn35mmFilm))) is not None and focal35 > 0:
        result["focalLength35mm"] = focal35
    if taken := _date_time(details.get(ExifTags.Base.DateTimeOriginal)):
        result["dateTimeOriginal"] = taken

    if gps := _gps(_sub_ifd(exif, ExifTags.IFD.GPSInfo)):
        result["gps"] = gps


def _sub_ifd(exif: Image.Exif, tag: int) -> dict:
    try:
        return exif.get_ifd(tag) or {}
    except Exception:
        return {}


def _text(value) -> str | None:
    """An EXIF text as one clean line of at most EXIF_TEXT_MAX_CHARS characters; None when empty."""
    if isinstance(value, bytes):
        value = value[: 4 * _EXIF_TEXT_READ_CHARS].decode("utf-8", "replace")  # up to 4 bytes a character
    if not isinstance(value, str):
        return None
    value = _EXIF_SEPARATORS.sub(" ", value[:_EXIF_TEXT_READ_CHARS])
    value = _EXIF_CONTROLS.sub("", value).strip()[:EXIF_TEXT_MAX_CHARS].rstrip()
    return value or None


def _number(value) -> float | None:
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    # A forged tag can declare any double; no camera value is near this, and DynamoDB refuses numbers
    # over 38 digits (the photo could never be stored).
    return number if math.isfinite(number) and abs(number) <= EXIF_NUMBER_MAX else None


EXIF_NUMBER_MAX = 1e9


def _integer(value) -> int | None:
    number = _number(value)
    return round(number) if number is not None else None


def _exposure(value) -> str | None:
    seconds = _number(value)
    if seconds is None or seconds <= 0:
        return None
    if seconds < 1:
        denominator = 1 / seconds
        # Shutter speeds under a second read as fractions ("1/250"); 0.6 s is not 1/2, so stay decimal.
        if abs(denominator - round(denominator)) <= 0.02 * denominator:
            return f"1/{round(denominator)}"
    return f"{seconds:.2f}".rstrip("0").rstrip(".")


def _date_time(value) -> str | None:
    text = _text(value)
    if not text:
        return None
    # EXIF says "YYYY:MM:DD HH:MM:SS"; some writers use dashes in the date.
    try:
        return datetime.strptime(text[:19].replace("-", ":", 2), "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def _gps(gps: dict) -> dict:
    result = {}
    for key, value_tag, ref_tag, negative_ref, limit in (
        ("latitude", ExifTags.GPS.GPSLatitude, ExifTags.GPS.GPSLatitudeRef, "S", 90),
        ("longitude", ExifTags.GPS.GPSLongitude, ExifTags.GPS.GPSLongitudeRef, "W", 180),
    ):
        degrees = _degrees(gps.get(value_tag))
        if degrees is None or degrees > limit:
            continue
        if (_text(gps.get(ref_tag)) or "").upper().startswith(negative_ref):
            degrees = -degrees
        result[key] = round(degrees, 7)
    altitude = _number(gps.get(ExifTags.GPS.GPSAltitude))
    if altitude is not None:
        below_sea_level = gps.get(ExifTags.GPS.GPSAltitudeRef) in (1, b"\x01")
        result["altitude"] = round(-altitude if below_sea_level else altitude, 2)
    return result


def _degrees(value) -> float | None:
    if not isinstance(value, tuple | list) or not value:
        return None
    parts = [_number(part) for part in value[:3]]
    if any(part is None or part < 0 for part in parts):
        return None
    return sum(part / 60**index for index, part in enumerate(parts))
