"""Photo validation, EXIF extraction, responsive renditions and placeholders (accepts JPEG, PNG, WebP,
TIFF, HEIC/HEIF and AVIF).

``process_image`` decodes a file once and makes every rendition of ``rendition_specs`` (long edges 400, 800,
1600 and 2560, never upscaled) in JPEG and WebP, AVIF when asked, each size from the next larger one, plus a
ThumbHash and a dominant colour from the smallest size's pixels.

``decode_plan`` and ``peak_bytes`` say, from a file's header alone, how many bytes ``process_image`` will
hold at its peak (the decode, its conversions and the resize's intermediates), so a caller can refuse or
queue a file before a byte of it is decoded.

Renditions of a wide-gamut original (Display P3, Adobe RGB: any RGB profile that is not sRGB) are converted
to sRGB and carry the sRGB profile; sRGB and untagged originals are not transformed (``_to_srgb``).

The EXIF summary is bounded (``EXIF_TEXT_MAX_CHARS`` per text, control characters removed,
``EXIF_MAX_BYTES`` in all, ``exif_capped``), so whatever a file carries, the photo item stays small.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import functools
import io
import json
import math
import re
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from PIL import ExifTags, Image, ImageChops, ImageCms, ImageFile, ImageMath
from pillow_heif import register_heif_opener

from photos.geometry import DEFAULT_FORMATS, EDGES, RENDITION_FORMATS, fit

# Pillow reads AVIF itself (libavif); HEIC/HEIF needs libheif, which pillow-heif registers as an opener of
# format "HEIF". Only the primary image is read: thumbnails, depth maps and auxiliary images (an iPhone's
# HDR gain map, portrait mattes) are never opened. Registering here, with this module, keeps libheif off
# every request that decodes no photo; it adds about 16 ms to this module's import, pillow_heif's own
# 14 ms with libheif's shared objects (``python -X importtime -c "import photos.imaging"``, medians of 15
# fresh interpreters taken in turn on one machine: 82 ms, against 67 ms without pillow-heif).
register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

SUPPORTED_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "TIFF": ("tif", "image/tiff"),
    "HEIF": ("heic", "image/heic"),  # HEVC in HEIF: an iPhone's photos; "image/heif" by brand, below
    "AVIF": ("avif", "image/avif"),
}
# An original is stored as it came, under the extension and content type of its own kind: for HEIF files
# that is the file's brand as libheif names it (major brand heic/heix: "image/heic"; mif1: "image/heif";
# their sequence brands store as their still kind, since a photo is made of the primary image).
_HEIF_STORED_AS = {
    "image/heic": ("heic", "image/heic"),
    "image/heic-sequence": ("heic", "image/heic"),
    "image/heif": ("heif", "image/heif"),
    "image/heif-sequence": ("heif", "image/heif"),
}
# Every content type an original is stored with, and its extension.
STORED_TYPES: dict[str, str] = {
    content_type: extension
    for extension, content_type in (*SUPPORTED_FORMATS.values(), *_HEIF_STORED_AS.values())
}

# ISO-BMFF brands of HEIC/HEIF/AVIF files: a file of these brands that no opener could read is a damaged
# one of the formats we take ("corrupt"), not "not an image".
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

# How each size is resampled from the one before it, by its long edge: (filter, reducing_gap). Measured on
# the 24 MP photo of bench/imaging.py (PSNR of the JPEG against a Lanczos resize of the full decode; each
# choice at least as good as libvips' lanczos3 chain): for 2560 and 1600, BICUBIC costs 0.2 and 0.6 dB
# against Lanczos and 25-40% less time (at 12 MP, where the decode is full size, 140 ms a photo); the
# 800 from the 1600 is a halving, which reducing_gap=1 does as a box reduce (0.4 dB, half the time); the
# 400 keeps a plain Lanczos (a box reduce there cost 1 dB for 7 ms).
_RESAMPLING = (
    (1600, Image.Resampling.BICUBIC, 2.0),
    (800, Image.Resampling.LANCZOS, 1.0),
    (0, Image.Resampling.LANCZOS, 2.0),
)
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

# Long edges of the renditions (photos.geometry): 400 for grids, 800 and 1600 for pages on 1x and 2x
# screens, 2560 for a full-screen view on a 4K or 5K screen.
RENDITION_EDGES = EDGES
# The formats (RENDITION_FORMATS, DEFAULT_FORMATS) are photos.geometry's too.

# libwebp method 0 encodes in a third of the time of method 4 (its default) for about 0.4 dB less at
# the same size; methods 1-2 are slower than 0 and no better. Public so benchmarks encode alike.
WEBP_METHOD = 0
# AVIF (libaom through libavif), measured on a 1600 px rendition of the 24 MP photo of bench/imaging.py
# (--avif-sweep; PSNR against a full-resolution resize): quality 67 is the lowest as faithful as the WebP
# q80 twin (+0.3 dB, 84% of its bytes; 65 was -0.9 dB at 74%, the steps are coarse). Speed 9 makes the
# same bytes at the same PSNR as 8 in a fifth of the time (0.3 s against 1.4 s; 6 takes 2.5 s); 10 is no
# faster. One thread: a Lambda of 512 MB has under a third of a vCPU, and the photos of a batch already
# run on their own threads.
AVIF_QUALITY = 67
AVIF_SPEED = 9
AVIF_THREADS = 1


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
    name: str  # str(long_edge): "400", "800"...
    long_edge: int


@dataclass(frozen=True)
class Rendition:
    name: str
    format: str  # "jpeg", "webp" or "avif"
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
    renditions: tuple[Rendition, ...]  # by long edge ascending, then in the order of the formats asked
    thumbhash: str  # the ThumbHash bytes in standard base64
    dominant_color: str  # "#rrggbb"


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
    edges: tuple[int, ...] = RENDITION_EDGES,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    max_pixels: int = 89_478_485,
    jpeg_quality: int = 85,
    webp_quality: int = 80,
    avif_quality: int = AVIF_QUALITY,
) -> ProcessedImage:
    """Validate, read EXIF, decode ONCE, make every rendition (``rendition_specs``) in every format from that
    one decode, each size from the next larger one, and the placeholders from the smallest size's pixels."""
    formats = _checked_formats(formats)
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
    extension, content_type = _stored_as(image)
    icc_profile = image.info.get("icc_profile") or _nclx_profile(image.info.get("nclx_profile"))
    oriented_size = exif["width"], exif["height"]
    specs = rendition_specs(*oriented_size, edges)
    qualities = {"jpeg": jpeg_quality, "webp": webp_quality, "avif": avif_quality}

    made: list[Rendition] = []
    try:
        target = fit(image.size, specs[-1].long_edge)  # the largest rendition, in the file's own axes
        _draft(image, format_name, target)
        image.load()
        current, icc_profile = _working_mode(image, icc_profile)
        del image  # from here on one image is alive at a time (two while the next is made from it)
        current.info = {}  # renditions carry no EXIF/XMP: nothing from the original's info reaches a save
        if current.size != target:
            current = _resized(current, target)
        icc_profile = _to_srgb(current, icc_profile)
        if orientation != 1:  # turned once, at the largest size; every smaller size is made upright
            current = current.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation])
        for spec in reversed(specs):  # largest first: each size is made from the one before it
            size = fit(oriented_size, spec.long_edge)
            if current.size != size:
                current = _resized(current, size)
            made[:0] = _encode(spec.name, current, icc_profile, formats, qualities)
        hash_bytes, colour = placeholders(current)
    except MemoryError as error:
        raise _too_many_pixels() from error
    except Exception as error:
        # Pillow and its codecs raise many types (OSError, ValueError, SyntaxError, struct.error...).
        raise ImageError("corrupt", "The image file is damaged or incomplete.") from error

    return ProcessedImage(
        format=format_name,
        extension=extension,
        content_type=content_type,
        width=oriented_size[0],
        height=oriented_size[1],
        exif=exif,
        renditions=tuple(made),
        thumbhash=base64.b64encode(hash_bytes).decode("ascii"),
        dominant_color=colour,
    )


def rendition_specs(
    width: int, height: int, edges: tuple[int, ...] = RENDITION_EDGES
) -> tuple[RenditionSpec, ...]:
    """The renditions of a ``width`` x ``height`` photo, smallest first: every long edge of ``edges`` up to
    the photo's own (never upscaled), and the photo's own long edge too when it is below the largest of
    ``edges``, so a screen that wants more than the largest size below it still gets every pixel there
    is. A 1000 px original gets 400, 800 and 1000; an 800 px one 400 and 800; a 300 px one 300 alone; a
    2560 px one all four (its own size is a size of ``edges``, not an upscale)."""
    if not edges:
        raise ValueError("at least one rendition edge is needed")
    long_edge = max(width, height)
    sizes = {edge for edge in edges if edge <= long_edge}
    if long_edge < max(edges):
        sizes.add(long_edge)
    return tuple(RenditionSpec(str(edge), edge) for edge in sorted(sizes))


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
# Encoding the largest rendition holds, per pixel of it and besides it: the upright copy while it is made,
# the opaque RGB copy JPEG needs of an RGBA one, the RGB copy WebP needs of an L one, and libwebp's
# buffers, of which its lossless alpha coder is the largest (29 bytes per pixel alone). Measured on noise
# with EXIF orientation 6 (bench/memory.py --calibrate): at 1600 x 1600, L 12.1, RGB 11.5, RGBA 38.4; at
# 2560 x 2560, L 11.9, RGB 8.8, RGBA 30.6.
_ENCODE_BYTES_PER_PIXEL = {"L": 13, "RGB": 12, "RGBA": 40}
# With AVIF twins, libaom's encoder (one thread, speed AVIF_SPEED) holds the most once JPEG and WebP are
# done: measured at 2560 x 2560 (noise, turned) L 19.6, RGB 27.0, RGBA 31.2 (WebP's alpha coder stays the
# larger there); RGB at 2560 x 1706 26.3, at 1200 x 800 28.6, at 400 x 266 21.7.
_AVIF_ENCODE_BYTES_PER_PIXEL = {"L": 22, "RGB": 30, "RGBA": 40}
_WEBP_CANVASES = 2  # libwebp's WebPAnimDecoder: the current canvas and the disposed previous one
# libwebp decodes a WebP's alpha plane (1 byte per pixel) through its lossless decoder's buffers: a
# 6000 x 4000 RGBA WebP peaked at 19.4 bytes per pixel against 16 for an RGB one.
_WEBP_ALPHA_DECODE_BYTES_PER_PIXEL = 4
# HEIC/HEIF and AVIF, measured in fresh processes (peak RSS above the resting size while one file is opened
# and loaded; Pillow's own 4 bytes per pixel included; pillow-heif 1.8.1 with libheif 1.23.6 and libde265
# 1.1.3, Pillow 13.0's AVIF plugin):
# - libheif decodes the HEVC stream into its YCbCr planes, converts them to interleaved 8-bit RGB(A), and
#   pillow-heif copies that into Pillow's image; nothing is kept once it is loaded. 12 MP 4:2:0 7.6-7.8
#   bytes per pixel (as a grid of 512 px tiles, as iPhones write it, 8.1), 24 MP 7.9 (grid 8.1-8.2);
#   12 MP 4:4:4 9.6, RGBA 4:2:0 8.6, 10-bit 4:2:0 7.8; one decode thread or four alike. Counted: a copy
#   of the file (the coded stream it hands the HEVC decoder), the planes (a byte a sample, two above 8
#   bits; chroma and depth from the header) and the interleaved copy: 4.5 bytes per pixel at 4:2:0 and 6
#   at 4:4:4 besides Pillow's image and the file.
# - libavif keeps its decoded YUV image for as long as the file is open and hands the frame to Pillow as
#   one more interleaved copy: 12 MP 4:2:0 9.0-9.3 (2.0-2.3 still held after the load), 24 MP 8.9-9.2
#   (1.9-2.2), 12 MP 4:4:4 10.5 (3.5), RGBA 11.4 (3.4). Counted: a copy of the file, the planes and a
#   byte a pixel of the decoder's own, held until the file is closed, and the frame. Pillow does not say
#   an AVIF's chroma or depth: they are read from its av1C box; without one, 4:4:4 above 8 bits.
# The whole of process_image then peaked at (rule in brackets, bytes per pixel): HEIC 12 MP 4:2:0
# 8.5-8.8 (9.2), grid 8.3-8.4 (9.2), 4:4:4 9.6 (10.1), RGBA 13.8 (17.7), 10-bit 8.5 (10.0); 24 MP 7.8 (9.1),
# grid 7.7-8.2 (9.1); AVIF 12 MP 10.4 (10.7), 4:4:4 12.1 (12.2), RGBA 15.9 (17.7); 24 MP 9.2 (9.5).
_CHROMA_SAMPLES_PER_PIXEL = {420: 1.5, 422: 2.0, 444: 3.0}
_AVIF_DECODER_BYTES_PER_PIXEL = 1
# After a HEIF load, 0.6-0.9 bytes per pixel more than Pillow's image stay resident (12 MP; 0.3 at 24 MP):
# libheif's smaller buffers (the chroma planes, a few MiB each) come from the heap, below the mmap
# threshold, and glibc keeps them for reuse. The first resize runs next to them: counted as kept.
_HEIF_LEFT_BYTES_PER_PIXEL = 1

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
    ``formats`` are the renditions' formats (AVIF's encoder holds the most).
    """

    format: str
    mode: str
    size: tuple[int, int]
    target: tuple[int, int]
    transparency: bool = False
    codec_bytes: int = 0
    codec_kept_bytes: int = 0
    formats: tuple[str, ...] = DEFAULT_FORMATS


def stored_bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow keeps per pixel of an image in ``mode``."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


# Pillow's modes with an alpha band ("LAB" has an A band that is a colour axis, not alpha).
_ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")


def working_mode(mode: str, *, transparency: bool = False) -> str:
    """The mode renditions are made from (L, RGB or RGBA) for a decode in ``mode``; ``transparency`` is a
    palette's or a colour key's (PNG tRNS: optimisers turn RGBA with all-or-nothing alpha into it)."""
    if transparency and (mode in ("L", "RGB") or mode.startswith("I;16")):
        return "RGBA"
    if mode in ("L", "RGB", "RGBA"):
        return mode
    if mode == "CMYK":
        return "RGB"
    if mode.startswith("I;16") or mode in ("I", "F"):
        return "L"
    if mode in _ALPHA_MODES or transparency:
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
        scaled = 2 * stored_bytes_per_pixel("F")  # convert("F"), then point() makes a second float image
        if working == "RGBA":  # a colour key: a copy without it, its 32-bit mask, the RGBA
            return scaled + stored_bytes_per_pixel(mode) + 4 + stored_bytes_per_pixel("RGBA")
        return scaled
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
    phases.append(rendition + target_pixels * _encode_bytes_per_pixel(working, plan.formats))
    return max(phases)


def decode_plan(
    data: bytes,
    *,
    edges: tuple[int, ...] = RENDITION_EDGES,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    max_pixels: int = 89_478_485,
) -> DecodePlan:
    """What ``process_image`` will decode for this file, from its header only (0.1-0.3 ms; nothing is
    decoded). Raises ImageError as ``process_image`` would for a file that is not a supported image."""
    if not edges:
        raise ValueError("decode_plan needs at least one rendition edge")
    formats = _checked_formats(formats)
    image = _open(data, max_pixels=max_pixels)
    try:
        format_name = _format(image)
        target = fit(image.size, max(edges))  # the largest rendition, in the file's own axes
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
        elif format_name in ("HEIF", "AVIF"):
            codec_bytes, codec_kept_bytes = _heif_family_codec_bytes(image, format_name, data)
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
            formats=formats,
        )
    finally:
        image.close()


def _heif_family_codec_bytes(image: ImageFile.ImageFile, format_name: str, data: bytes) -> tuple[int, int]:
    """(held while decoding, held afterwards while open) by libheif or libavif for an opened HEIF or AVIF
    image, besides Pillow's own image (see the measurements above ``_CHROMA_SAMPLES_PER_PIXEL``)."""
    pixels = image.width * image.height
    bands = len(image.getbands())  # of the interleaved 8-bit copy handed to Pillow
    alpha = 1 if bands in (2, 4) else 0
    if format_name == "HEIF":
        # pillow-heif reads the coded image's chroma (420, 422, 444; none for a grey one) and bit depth
        # from the header; whatever it does not say counts as the most.
        chroma, bit_depth = image.info.get("chroma"), image.info.get("bit_depth")
        samples = 1.0 if bands <= 2 and chroma is None else 3.0
        if isinstance(chroma, int):
            samples = _CHROMA_SAMPLES_PER_PIXEL.get(chroma, samples)
        per_sample = 1 if isinstance(bit_depth, int) and bit_depth <= 8 else 2
        planes = (samples + alpha) * per_sample
        return len(data) + math.ceil(pixels * (planes + bands)), pixels * _HEIF_LEFT_BYTES_PER_PIXEL
    samples, per_sample = _av1_layout(data)
    planes = (samples + alpha) * per_sample
    kept = len(data) + math.ceil(pixels * (planes + _AVIF_DECODER_BYTES_PER_PIXEL))
    return kept + pixels * bands, kept


def _av1_layout(data: bytes) -> tuple[float, int]:
    """(YUV samples per pixel, bytes per sample) of an AVIF's colour image, from the av1C boxes among its
    item properties (meta > iprp > ipco): the largest of those in colour (a monochrome one is an alpha
    plane's, or a grey photo's when no other is), or 4:4:4 at two bytes a sample when none says."""
    colour, grey = [], []
    for start, end in _boxes_at(data, (b"meta", b"iprp", b"ipco", b"av1C")):
        if end - start < 3:
            continue
        flags = data[start + 2]  # seq_tier_0, high_bitdepth, twelve_bit, monochrome, subsampling x, y
        per_sample = 2 if flags & 0x40 else 1
        if flags & 0x10:
            grey.append((1.0, per_sample))
            continue
        subsampled_x, subsampled_y = flags & 0x08, flags & 0x04
        colour.append((1.5 if subsampled_x and subsampled_y else 2.0 if subsampled_x else 3.0, per_sample))
    return max(colour or grey, key=lambda layout: layout[0] * layout[1], default=(3.0, 2))


def _boxes_at(data: bytes, path: tuple[bytes, ...]) -> Iterator[tuple[int, int]]:
    """(payload start, end) of every box at ``path`` (types from the top level down; ``meta`` is a full
    box, its children start after its version and flags)."""
    spans = [(0, len(data))]
    for kind in path:
        found = []
        for start, end in spans:
            for box_kind, payload, box_end in _boxes(data, start, end):
                if box_kind == kind:
                    found.append((payload + 4 if kind == b"meta" else payload, min(box_end, end)))
        spans = found
    yield from spans


def _resize_bytes(size: tuple[int, int], target: tuple[int, int], working: str) -> int:
    """What the first resize (``Image.resize`` with our reducing gap) holds besides its source image."""
    per_pixel = stored_bytes_per_pixel(working)
    width, height = size
    premultiplied = width * height * 4 if working in _PREMULTIPLIED_MODES else 0
    _, reducing_gap = _resampling(max(target))
    factor_x = int(width / target[0] / reducing_gap) or 1
    factor_y = int(height / target[1] / reducing_gap) or 1
    reduced = 0
    if factor_x > 1 or factor_y > 1:  # Image.reduce first: a box-averaged copy
        width, height = -(-width // factor_x), -(-height // factor_y)
        reduced = width * height * per_pixel
    # The resample runs horizontally into a (target width x source height) image, then vertically.
    horizontal = target[0] * height * per_pixel if target[0] != width else 0
    return premultiplied + reduced + horizontal + target[0] * target[1] * per_pixel


def _encode_bytes_per_pixel(working: str, formats: tuple[str, ...] = DEFAULT_FORMATS) -> int:
    """Bytes per pixel of the largest rendition that its encoders (one after the other) hold next to it."""
    table = _AVIF_ENCODE_BYTES_PER_PIXEL if "avif" in formats else _ENCODE_BYTES_PER_PIXEL
    return table.get(working, max(table.values()))


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
        if _is_heif_family(data):  # libheif and libavif refuse a damaged or cut file as they open it
            raise ImageError("corrupt", "The HEIC/HEIF/AVIF file is damaged or incomplete.") from error
        named = _unreadable_kind(data)
        if named is not None:
            raise ImageError("unsupported_format", named) from error
        raise ImageError("not_an_image", "The file is not an image.") from error
    except Exception as error:
        raise ImageError("corrupt", "The image file is damaged and could not be read.") from error
    if image.format not in SUPPORTED_FORMATS:
        image.close()
        raise ImageError(
            "unsupported_format", f"{image.format} images are not supported; use {_ACCEPTED_NAMES}."
        )
    if image.format == "TIFF" and _is_camera_raw(image, data):
        image.close()
        raise ImageError("unsupported_format", _CAMERA_RAW)
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError("corrupt", "The image file says it has no pixels.")
    if max_pixels is not None and width * height > max_pixels:
        raise _too_many_pixels()
    return image


_ACCEPTED_NAMES = "JPEG, PNG, WebP, TIFF, HEIC or AVIF"


_CAMERA_RAW = (
    "Camera raw files (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2) are not supported; upload a JPEG, HEIC or "
    "TIFF made from it."
)

# TIFF tags read from a file's first directory.
_TIFF_NEW_SUBFILE_TYPE = 254  # bit 0: "a reduced-resolution version of another image" (a thumbnail)
_TIFF_BITS_PER_SAMPLE = 258
_TIFF_SAMPLES_PER_PIXEL = 277
_TIFF_SAMPLE_FORMAT = 339  # 1 unsigned integer, 2 signed integer, 3 floating point
_TIFF_DNG_VERSION = 50706
_TIFF_SAMPLE_KINDS = {1: "integer", 2: "signed integer", 3: "floating-point"}
_TIFF_LAYOUT_TAGS = (_TIFF_BITS_PER_SAMPLE, _TIFF_SAMPLES_PER_PIXEL, _TIFF_SAMPLE_FORMAT)
_TIFF_ENTRIES_MAX = 1_000  # far more than any real directory holds (a few dozen)


def _is_camera_raw(image: ImageFile.ImageFile, data: bytes) -> bool:
    """Whether a file Pillow opened as TIFF is a camera's raw file. Those are built on TIFF, and Pillow
    opens their first directory: a DNG's or NEF's is a thumbnail (NewSubfileType says so), a CR2's a
    preview. A photo made of it would be the thumbnail, so the file is refused instead."""
    tags = getattr(image, "tag_v2", {})
    subfile_type = tags.get(_TIFF_NEW_SUBFILE_TYPE, 0)
    thumbnail = isinstance(subfile_type, int) and subfile_type & 1
    return bool(_TIFF_DNG_VERSION in tags or data[8:10] == b"CR" or thumbnail)


def _unreadable_kind(data: bytes) -> str | None:
    """A sentence naming a kind of file that no opener reads but that a photographer may well upload, so
    the refusal says what it is rather than "not an image"; None for anything else."""
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return (
            f"This TIFF's pixels ({_tiff_layout(data)}) cannot be read; save it as 8- or 16-bit RGB (with or "
            "without alpha), 8- or 16-bit greyscale, or 8-bit CMYK."
        )
    raw_signatures = (b"FUJIFILMCCD-RAW", b"IIRO", b"IIRS", b"MMOR", b"IIU\x00")  # RAF, ORF, RW2
    if data[4:12] == b"ftypcrx " or data.startswith(raw_signatures):  # CR3 is ISO-BMFF of brand crx
        return _CAMERA_RAW
    if data.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return f"JPEG XL images are not supported; use {_ACCEPTED_NAMES}."
    return None


def _tiff_layout(data: bytes) -> str:
    """What a TIFF's first directory says a pixel is ("3 samples of 32-bit floating-point"), read with
    struct since Pillow refused the file; "a layout this service does not know" when it says no more."""
    order = "<" if data[:2] == b"II" else ">"
    found: dict[int, int] = {}
    try:
        (directory,) = struct.unpack_from(order + "I", data, 4)
        (count,) = struct.unpack_from(order + "H", data, directory)
        for index in range(min(count, _TIFF_ENTRIES_MAX)):
            tag, kind, number, value = struct.unpack_from(order + "HHI4s", data, directory + 2 + 12 * index)
            if tag in _TIFF_LAYOUT_TAGS and kind == 3 and tag not in found:
                # SHORT values: up to two sit in the entry itself; more are at the offset it holds (read
                # in place: a copy of the rest of the file per entry made a crafted file cost seconds).
                if number <= 2:
                    (found[tag],) = struct.unpack_from(order + "H", value)
                else:
                    (offset,) = struct.unpack(order + "I", value)
                    (found[tag],) = struct.unpack_from(order + "H", data, offset)
                if len(found) == len(_TIFF_LAYOUT_TAGS):
                    break
    except struct.error:
        pass
    if _TIFF_BITS_PER_SAMPLE not in found:
        return "a layout this service does not know"
    samples = found.get(_TIFF_SAMPLES_PER_PIXEL, 1)
    kind = _TIFF_SAMPLE_KINDS.get(found.get(_TIFF_SAMPLE_FORMAT, 1), "unknown")
    return f"{samples} sample{'s' if samples != 1 else ''} of {found[_TIFF_BITS_PER_SAMPLE]}-bit {kind}"


def _is_heif_family(data: bytes) -> bool:
    """Whether the file says it is HEIC, HEIF or AVIF (ISO-BMFF with one of their major brands)."""
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def _stored_as(image: ImageFile.ImageFile) -> tuple[str, str]:
    """(extension, content type) the original of an opened image is stored with."""
    extension, content_type = SUPPORTED_FORMATS[_format(image)]
    if image.format == "HEIF":
        mimetype = image.get_format_mimetype() or ""
        extension, content_type = _HEIF_STORED_AS.get(mimetype, (extension, content_type))
    return extension, content_type


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
    elif format_name in ("HEIF", "AVIF"):
        # libheif decodes a grid photo whose last tiles are cut off without a word (they come out grey).
        complete = _boxes_complete(data)
    if not complete:
        raise ImageError("corrupt", "The image file is incomplete (it may have been cut off during upload).")


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """The ISO-BMFF boxes between ``start`` and ``end`` (the file's end by default), in order, as (type,
    payload start, box end); a box that runs past ``end`` is yielded as it claims, for the caller to judge.
    Stops at a box that cannot be a box (a size under its header's), and after ``_BOXES_MAX``: a file of
    millions of empty boxes costs no more than a real one."""
    end = len(data) if end is None else end
    position = start
    for _ in range(_BOXES_MAX):
        if position + 8 > end:
            return
        size = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        header = 8
        if size == 1:  # a 64-bit size follows the type
            if position + 16 > end:
                return
            size, header = int.from_bytes(data[position + 8 : position + 16], "big"), 16
        elif size == 0:  # the last box: it runs to the end
            size = end - position
        if size < header:
            return
        yield kind, position + header, position + size
        position += size


# More boxes at one level than libheif takes items in a whole file (1,000, its security limit); real
# photos have a handful at the top (ftyp, meta, mdat) and a few dozen item properties.
_BOXES_MAX = 1_000


def _boxes_complete(data: bytes) -> bool:
    """True when every top-level box of an ISO-BMFF file (HEIF, AVIF) ends within the file."""
    last_end = 0
    for _, _, box_end in _boxes(data):
        if box_end > len(data):
            return False
        last_end = box_end
    return len(data) - last_end < 8  # what is left could not even hold a box header: padding at most


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
    keyed = mode in ("L", "RGB") or mode.startswith("I;16")
    if keyed and image.has_transparency_data:  # a colour key: pixels of that value are transparent
        return _colour_keyed(image), _icc_matching(icc_profile, "RGBA")
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
        top = _white_level(image, extrema[1])
        as_float = as_float.point(lambda value: value * (255.0 / top))
        return as_float.convert("L"), _icc_matching(icc_profile, "L")
    target = working_mode(mode, transparency=image.has_transparency_data)
    converted = image.convert(target)
    return converted, _icc_matching(icc_profile, target)


def _colour_keyed(image: Image.Image) -> Image.Image:
    """RGBA of an L, RGB or 16-bit grey image with a colour key (``info["transparency"]``): transparent
    where a pixel has the key's value, opaque elsewhere. A 16-bit grey's key is a 16-bit value, compared
    before the grey is scaled to 8 bits."""
    if not image.mode.startswith("I;16"):
        return image.convert("RGBA")  # Pillow applies the key as it adds the alpha band
    key = image.info["transparency"]
    alpha = ImageMath.lambda_eval(lambda names: (names["grey"] != key) * 255, grey=image.convert("I"))
    grey, _ = _working_mode(_without_key(image), None)
    rgba = grey.convert("RGBA")
    rgba.putalpha(alpha.convert("L"))
    return rgba


def _without_key(image: Image.Image) -> Image.Image:
    plain = image.copy()
    plain.info.pop("transparency", None)
    return plain


def _white_level(image: Image.Image, brightest: float) -> float:
    """The sample value that is white in a grey image of more than 8 bits: 2**bits - 1 for 16-bit samples
    and for a TIFF's 12-bit ones (Pillow holds those, little-endian only, as 16-bit values as they come, so
    4095 is a 12-bit white); 1.0 for floating-point samples within 0..1, as scientific and HDR tools write
    them; otherwise (32-bit integers, floats beyond 1) the brightest sample, so nothing clips."""
    if image.mode.startswith("I;16"):
        bits = getattr(image, "tag_v2", {}).get(_TIFF_BITS_PER_SAMPLE, (16,))
        depth = bits[0] if isinstance(bits, tuple) and bits else 16
        return float((1 << depth) - 1) if 8 < depth <= 16 else 65535.0
    if image.mode == "F" and 0.0 < brightest <= 1.0:
        return 1.0
    return max(brightest, 255.0)


def _icc_space(icc_profile: bytes | None) -> bytes | None:
    return icc_profile[16:20] if icc_profile and len(icc_profile) >= 20 else None


def _icc_matching(icc_profile: bytes | None, mode: str) -> bytes | None:
    # A profile describes one colour space; attaching a CMYK or grey profile to RGB pixels would be wrong.
    expected = b"GRAY" if mode == "L" else b"RGB "
    return icc_profile if _icc_space(icc_profile) == expected else None


# ---------------------------------------------------------------- colour: wide gamut to sRGB
#
# A browser that ignores the embedded profile shows every pixel as sRGB, so a Display P3 (iPhone) or Adobe
# RGB (camera) rendition that merely carried its profile looked dull there. Renditions of any RGB profile
# that is not sRGB are therefore converted to sRGB and carry the sRGB profile; sRGB and untagged files are
# left as they are. The conversion runs once, in place, on the largest rendition after the first resize
# (resizing in the source space first is within a rounding step for photos): it adds no image next to the
# ones ``peak_bytes`` counts (peak RSS of a 24 MP P3 JPEG is that of an sRGB one), and costs 80-110 ms at
# the 2560 px size against ~770 ms on the full 24 MP decode (littleCMS runs ~20 ns a pixel either way).
# Relative colorimetric: colours inside sRGB keep their exact values and only those outside are clipped;
# the matrix profiles cameras and phones embed have no perceptual tables, so a perceptual request would
# fall back to colorimetric anyway, and asking for it by name keeps the outcome the same for every profile.

SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()

# H.273 colour primaries 12 (SMPTE EG 432-1) are Display P3's: what an iPhone HEIC's nclx box says when the
# file carries no ICC profile, with transfer characteristics 13 (the sRGB curve). Any other pair (primaries 1,
# BT.709, are sRGB's; PQ or HLG curves are HDR, which this profile does not describe) is left as it is.
_NCLX_DISPLAY_P3 = 12
_NCLX_SRGB_CURVE = 13


@functools.lru_cache(maxsize=16)
def _srgb_transform(icc_profile: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """The transform from ``icc_profile`` to sRGB for ``mode`` images, or None when it would change
    nothing (an sRGB profile, whatever its maker or version: tested on ramps of every primary and grey)."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
    srgb = ImageCms.ImageCmsProfile(io.BytesIO(SRGB_PROFILE))
    intent = ImageCms.Intent.RELATIVE_COLORIMETRIC
    transform = ImageCms.buildTransform(source, srgb, mode, mode, renderingIntent=intent)
    ramps = Image.new("RGB", (256, 7))
    ramps.putdata(
        [
            (value * red, value * green, value * blue)
            for red, green, blue in (
                (1, 0, 0),
                (0, 1, 0),
                (0, 0, 1),
                (1, 1, 0),
                (0, 1, 1),
                (1, 0, 1),
                (1, 1, 1),
            )
            for value in range(256)
        ]
    )
    probe_transform = (
        transform
        if mode == "RGB"
        else ImageCms.buildTransform(source, srgb, "RGB", "RGB", renderingIntent=intent)
    )
    converted = ImageCms.applyTransform(ramps, probe_transform)
    assert converted is not None  # None only for inPlace=True
    difference = cast(list[tuple[int, int]], ImageChops.difference(ramps, converted).getextrema())
    if max(high for _, high in difference) <= 1:
        return None
    return transform


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> bytes | None:
    """Convert ``image`` (L, RGB or RGBA) in place to sRGB when its RGB profile is not sRGB; returns the
    profile its renditions embed. Grey images and untagged ones are left alone; a profile littleCMS cannot
    read is kept as it was, unconverted, as before."""
    if image.mode not in ("RGB", "RGBA") or _icc_space(icc_profile) != b"RGB ":
        return icc_profile
    assert icc_profile is not None
    try:
        transform = _srgb_transform(icc_profile, image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return icc_profile
    if transform is None:
        return icc_profile
    ImageCms.applyTransform(image, transform, inPlace=True)
    return SRGB_PROFILE


def _nclx_profile(nclx: object) -> bytes | None:
    """The ICC profile an nclx colour box (HEIF) stands for, when it is Display P3; None otherwise."""
    if (
        isinstance(nclx, dict)
        and nclx.get("color_primaries") == _NCLX_DISPLAY_P3
        and nclx.get("transfer_characteristics") == _NCLX_SRGB_CURVE
    ):
        return DISPLAY_P3_PROFILE
    return None


def matrix_profile(
    description: str,
    primaries: tuple[tuple[float, float], tuple[float, float], tuple[float, float]],
    white: tuple[float, float],
    curve: bytes,
) -> bytes:
    """A minimal ICC v2 RGB display profile: primaries and white as CIE xy, colorants adapted to the D50
    connection space (Bradford), the same tone ``curve`` (a curv or para tag's bytes) on every channel."""

    def xyz(x: float, y: float) -> tuple[float, float, float]:
        return x / y, 1.0, (1.0 - x - y) / y

    columns = [xyz(*primary) for primary in primaries]
    white_xyz = xyz(*white)
    matrix = [[columns[c][r] for c in range(3)] for r in range(3)]
    scales = _solve(matrix, white_xyz)
    rgb_to_xyz = [[matrix[r][c] * scales[c] for c in range(3)] for r in range(3)]
    bradford = [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
    d50 = (0.9642, 1.0, 0.8249)
    source_cone = [sum(bradford[r][c] * white_xyz[c] for c in range(3)) for r in range(3)]
    target_cone = [sum(bradford[r][c] * d50[c] for c in range(3)) for r in range(3)]
    inverse = [_solve(bradford, tuple(1.0 if r == c else 0.0 for r in range(3))) for c in range(3)]
    inverse_bradford = [[inverse[c][r] for c in range(3)] for r in range(3)]
    scaled = [[bradford[r][c] * target_cone[r] / source_cone[r] for c in range(3)] for r in range(3)]
    adapt = [
        [sum(inverse_bradford[r][k] * scaled[k][c] for k in range(3)) for c in range(3)] for r in range(3)
    ]
    adapted = [[sum(adapt[r][k] * rgb_to_xyz[k][c] for k in range(3)) for c in range(3)] for r in range(3)]

    def s15(value: float) -> bytes:
        return round(value * 65536).to_bytes(4, "big", signed=True)

    def xyz_tag(values) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(s15(value) for value in values)

    text = description.encode("ascii") + b"\0"
    desc = b"desc\0\0\0\0" + len(text).to_bytes(4, "big") + text + b"\0" * 12 + b"\0" * 67
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz_tag(d50)),
        (b"rXYZ", xyz_tag([adapted[r][0] for r in range(3)])),
        (b"gXYZ", xyz_tag([adapted[r][1] for r in range(3)])),
        (b"bXYZ", xyz_tag([adapted[r][2] for r in range(3)])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text\0\0\0\0No copyright, use freely\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        padded = data + b"\0" * (-len(data) % 4)
        table += signature + (offset + len(body)).to_bytes(4, "big") + len(data).to_bytes(4, "big")
        body += padded
    size = offset + len(body)
    header = (
        size.to_bytes(4, "big")
        + b"\0\0\0\0"
        + bytes((2, 0x10, 0, 0))
        + b"mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 24
        + b"\0" * 8
        + (0).to_bytes(4, "big")
        + s15(d50[0])
        + s15(d50[1])
        + s15(d50[2])
    )
    header += b"\0" * (128 - len(header))
    return header + len(tags).to_bytes(4, "big") + table + body


def _solve(matrix: list[list[float]], vector: tuple[float, ...]) -> list[float]:
    """x with ``matrix`` x = ``vector`` (3x3, Cramer's rule)."""

    def det(m: list[list[float]]) -> float:
        return (
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        )

    whole = det(matrix)
    return [
        det([[vector[r] if c == column else matrix[r][c] for c in range(3)] for r in range(3)]) / whole
        for column in range(3)
    ]


# The sRGB tone curve as an ICC parametric curve (function type 3: gamma 2.4, linear below 0.04045).
SRGB_CURVE = b"para\0\0\0\0\0\x03\0\0" + b"".join(
    round(value * 65536).to_bytes(4, "big", signed=True)
    for value in (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
)
DISPLAY_P3_PROFILE = matrix_profile(
    "Display P3", ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)), (0.3127, 0.3290), SRGB_CURVE
)


def _checked_formats(formats: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [name for name in formats if name not in RENDITION_FORMATS]
    if unknown or not formats or len(set(formats)) != len(formats):
        raise ValueError(f"formats must be distinct names of {sorted(RENDITION_FORMATS)}, not {formats}")
    return tuple(formats)


def _encode(
    name: str,
    image: Image.Image,
    icc_profile: bytes | None,
    formats: tuple[str, ...],
    qualities: dict[str, int],
) -> list[Rendition]:
    """One rendition per format of ``image`` (L, RGB or RGBA, upright), in the order of ``formats``."""
    width, height = image.size
    icc = {"icc_profile": icc_profile} if icc_profile else {}
    made = []
    for format_name in formats:
        out = io.BytesIO()
        if format_name == "jpeg":
            opaque = image
            if image.mode == "RGBA":
                opaque = Image.new("RGB", image.size, (255, 255, 255))
                opaque.paste(image, mask=image.getchannel("A"))
            # Baseline, not progressive: a progressive (or optimize=True) encode buffers the whole image and
            # Pillow holds the GIL through it, ~58 ms per 1600 px rendition that no other thread can
            # overlap; baseline streams in ~10 ms with the GIL released, for files ~8% larger (measured,
            # 12 MP source).
            opaque.save(out, "JPEG", quality=qualities["jpeg"], **icc)
            del opaque
        elif format_name == "webp":
            webp_source = image if image.mode in ("RGB", "RGBA") else image.convert("RGB")
            webp_source.save(out, "WEBP", quality=qualities["webp"], method=WEBP_METHOD, **icc)
            del webp_source
        else:
            image.save(
                out,
                "AVIF",
                quality=qualities["avif"],
                speed=AVIF_SPEED,
                max_threads=AVIF_THREADS,
                **icc,
            )
        extension, content_type = RENDITION_FORMATS[format_name]
        made.append(Rendition(name, format_name, extension, content_type, width, height, out.getvalue()))
    return made


# ---------------------------------------------------------------- placeholders
#
# Both come from the smallest rendition's pixels, scaled to at most THUMBHASH_MAX_EDGE: no second decode,
# and 4.5 ms of CPU a photo on their own (the ThumbHash 3.1, the dominant colour 1.0, the box resize 0.4;
# bench/imaging.py, timed in the process that just made the renditions, says 8-12 ms).

THUMBHASH_MAX_EDGE = 100  # the ThumbHash format's own limit; its coefficients need no more


def placeholders(image: Image.Image) -> tuple[bytes, str]:
    """(ThumbHash, dominant colour "#rrggbb") of an upright L, RGB or RGBA image of any size."""
    small = image
    size = fit(image.size, THUMBHASH_MAX_EDGE)
    if image.size != size:
        # BOX: each placeholder pixel the plain average of the pixels it covers, no ringing.
        small = image.resize(size, Image.Resampling.BOX)
    small = small.convert("RGBA") if "A" in small.mode else small.convert("RGB")
    return thumbhash(small), dominant_color(small)


def thumbhash(image: Image.Image) -> bytes:
    """The ThumbHash (https://evanw.github.io/thumbhash/) of an image of at most 100 x 100 pixels.

    The format is the reference encoder's, bit for bit: average colour, then the DCT of luminance (L),
    yellow-blue (P), red-green (Q) and alpha (A) channels, each pixel's colour first composited over the
    average colour by its alpha. The reference sums every coefficient over every pixel, O(w*h*nx*ny)
    (72 ms at 100 x 100 in pure Python); here the DCT is separable (rows first, one ``math.sumprod`` per
    row and frequency, then columns) and linear, so it runs on the 8-bit bands themselves and the channels
    are combined from their coefficients: about 3 ms. The sums are in another order than the reference's,
    so a coefficient that lands within about 1e-12 of a rounding boundary (only where it is exactly a tie
    in theory: a flat or mirror-symmetric picture) may round the other way. Rounding is JavaScript's
    ``Math.round`` (half up), as the format's reference implementation does."""
    width, height = image.size
    if not (0 < width <= THUMBHASH_MAX_EDGE and 0 < height <= THUMBHASH_MAX_EDGE):
        raise ValueError(f"{width}x{height} does not fit in {THUMBHASH_MAX_EDGE}x{THUMBHASH_MAX_EDGE}")
    pixels = width * height
    rgba = image.convert("RGBA") if image.mode != "RGBA" else image
    bands = rgba.split()
    red, green, blue, alpha = (band.tobytes() for band in bands)
    has_alpha = alpha.count(255) != pixels

    luminance_limit = 5 if has_alpha else 7  # fewer luminance terms when alpha needs room
    lx = max(1, _js_round(luminance_limit * width / max(width, height)))
    ly = max(1, _js_round(luminance_limit * height / max(width, height)))
    luminance_terms = _triangle(max(3, lx), max(3, ly))
    colour_terms = _triangle(3, 3)  # within luminance_terms: both sizes are at least 3
    alpha_terms = _triangle(5, 5) if has_alpha else ()
    wanted = sorted(set(luminance_terms) | set(alpha_terms))

    if not has_alpha:
        r_sums, g_sums, b_sums = (_dct(band, width, height, wanted) for band in (red, green, blue))
        # r = R / 255 for every pixel, so L = (R + G + B) / 765, P = (R + G - 2B) / 510, Q = (R - G) / 255.
        l_of = {term: (r_sums[term] + g_sums[term] + b_sums[term]) / 765 for term in luminance_terms}
        p_of = {term: (r_sums[term] + g_sums[term] - 2 * b_sums[term]) / 510 for term in colour_terms}
        q_of = {term: (r_sums[term] - g_sums[term]) / 255 for term in colour_terms}
        a_of: dict[tuple[int, int], float] = {}
    else:
        # r = avg_r * (1 - A/255) + A*R / 65025, the average colour weighted by alpha.
        products = [
            memoryview(
                ImageMath.lambda_eval(lambda args: args["a"] * args["c"], a=bands[3], c=band).tobytes()
            ).cast("i")
            for band in bands[:3]
        ]
        a_sums = _dct(alpha, width, height, wanted)
        ar_sums, ag_sums, ab_sums = (_dct(band, width, height, wanted) for band in products)
        total_alpha = a_sums[(0, 0)] * 255  # the sums are already divided by the pixel count
        avg = [sums[(0, 0)] / total_alpha if total_alpha else 0.0 for sums in (ar_sums, ag_sums, ab_sums)]

        ones = {term: _dct_of_ones(width, height, term) for term in wanted}

        def composited(term, weight, own):
            return weight * (ones[term] - a_sums[term] / 255) + own

        l_weight, p_weight, q_weight = sum(avg) / 3, (avg[0] + avg[1]) / 2 - avg[2], avg[0] - avg[1]
        l_of = {
            t: composited(t, l_weight, (ar_sums[t] + ag_sums[t] + ab_sums[t]) / 195075)
            for t in luminance_terms
        }
        p_of = {
            t: composited(t, p_weight, (ar_sums[t] + ag_sums[t] - 2 * ab_sums[t]) / 130050)
            for t in colour_terms
        }
        q_of = {t: composited(t, q_weight, (ar_sums[t] - ag_sums[t]) / 65025) for t in colour_terms}
        a_of = {term: a_sums[term] / 255 for term in alpha_terms}

    l_dc, l_ac, l_scale = _normalized(l_of, luminance_terms)
    p_dc, p_ac, p_scale = _normalized(p_of, colour_terms)
    q_dc, q_ac, q_scale = _normalized(q_of, colour_terms)
    landscape = width > height
    header24 = (
        _js_round(63 * l_dc)
        | _js_round(31.5 + 31.5 * p_dc) << 6
        | _js_round(31.5 + 31.5 * q_dc) << 12
        | _js_round(31 * l_scale) << 18
        | has_alpha << 23
    )
    header16 = (
        (ly if landscape else lx)
        | _js_round(63 * p_scale) << 3
        | _js_round(63 * q_scale) << 9
        | landscape << 15
    )
    packed = bytearray(header24.to_bytes(3, "little") + header16.to_bytes(2, "little"))
    factors = l_ac + p_ac + q_ac
    if has_alpha:
        a_dc, a_ac, a_scale = _normalized(a_of, alpha_terms)
        packed.append(_js_round(15 * a_dc) | _js_round(15 * a_scale) << 4)
        factors += a_ac
    nibbles = [_js_round(15 * factor) for factor in factors]
    nibbles += [0] * (len(nibbles) % 2)
    packed += bytes(low | high << 4 for low, high in zip(nibbles[::2], nibbles[1::2], strict=True))
    return bytes(packed)


def _js_round(value: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round() sends them to the even neighbour)."""
    return math.floor(value + 0.5)


@functools.cache
def _triangle(nx: int, ny: int) -> tuple[tuple[int, int], ...]:
    """The (cx, cy) terms ThumbHash keeps of an nx x ny DCT, in its order: row by row, a triangle."""
    return tuple((cx, cy) for cy in range(ny) for cx in range(nx) if cx * ny < nx * (ny - cy))


@functools.cache
def _cosines(length: int, count: int) -> tuple[tuple[float, ...], ...]:
    return tuple(
        tuple(math.cos(math.pi / length * k * (i + 0.5)) for i in range(length)) for k in range(count)
    )


def _dct(values, width: int, height: int, terms) -> dict[tuple[int, int], float]:
    """sum(values[x, y] * cos(pi/w * cx * (x + 0.5)) * cos(pi/h * cy * (y + 0.5))) / (w * h) for each
    (cx, cy) of ``terms``: rows first (one sumprod per row and cx), then columns."""
    cos_x = _cosines(width, 1 + max(cx for cx, _ in terms))
    cos_y = _cosines(height, 1 + max(cy for _, cy in terms))
    rows = [values[start : start + width] for start in range(0, width * height, width)]
    by_row = [[math.sumprod(row, weights) for row in rows] for weights in cos_x]
    pixels = width * height
    return {(cx, cy): math.sumprod(by_row[cx], cos_y[cy]) / pixels for cx, cy in terms}


def _dct_of_ones(width: int, height: int, term: tuple[int, int]) -> float:
    """``_dct`` of an image of ones: 0 but at (0, 0), unless the image is narrower than the term's period."""
    cx, cy = term
    return math.fsum(_cosines(width, cx + 1)[cx]) * math.fsum(_cosines(height, cy + 1)[cy]) / (width * height)


def _normalized(coefficients: dict[tuple[int, int], float], terms) -> tuple[float, list[float], float]:
    """(DC, the AC terms mapped to 0..1 by their largest magnitude, that magnitude): what ThumbHash stores."""
    dc = coefficients[terms[0]]
    ac = [coefficients[term] for term in terms[1:]]
    scale = max((abs(value) for value in ac), default=0.0)
    if scale:
        ac = [0.5 + 0.5 / scale * value for value in ac]
    return dc, ac, scale


# Dominant colour, the colour a photographer would name for the picture, e.g. as the background a page
# shows before the image: median cut to 8 colours, then colours within a CIE76 distance of 20 of each
# other are one group (single linkage: a sky's gradient, lit to shadowed, stays one colour), and the group
# that covers the most pixels answers its pixel-weighted mean. Colours of under 5% of the pixels take no
# part: median cut makes such small boxes of the pixels where two regions meet, and their mean lies
# between the two, close enough to both to join a grey wall with the face in front of it.
# Why not simpler: a plain mean mixes the subject with its surroundings into a colour that is in neither
# (a red car on grass under a blue sky averages to a grey); the most populous bin of a fixed grid (16
# levels a channel) splits a gradient into many small bins and so picks a flat object over a larger sky;
# the most populous median-cut colour alone splits the largest region when it varies (a sunset's orange
# lost to a smaller black). Checked on synthetic scenes of known shares (tests) and the sample photos;
# 1-2 ms on 100 px.
_DOMINANT_COLOURS = 8
_DOMINANT_JOIN_DISTANCE = 20.0
_DOMINANT_MIN_SHARE = 0.05


def dominant_color(image: Image.Image) -> str:
    """The colour covering most of a small RGB or RGBA image, as "#rrggbb" (see above); pixels under half
    opaque do not count, unless all are."""
    rgb = image.convert("RGB")
    quantized = rgb.quantize(_DOMINANT_COLOURS, method=Image.Quantize.MEDIANCUT)
    mask = None
    if image.mode == "RGBA":
        mask = image.getchannel("A").point(lambda value: 255 if value >= 128 else 0)
        if not mask.getbbox():
            mask = None
    counts = quantized.histogram(mask)
    palette = quantized.getpalette() or []
    least = _DOMINANT_MIN_SHARE * sum(counts)
    colours = [
        (count, tuple(palette[3 * index : 3 * index + 3]))
        for index, count in enumerate(counts)
        if count and count >= least
    ]
    labs = [_lab(colour) for _, colour in colours]
    group = list(range(len(colours)))

    def root(index: int) -> int:
        while group[index] != index:
            index = group[index]
        return index

    for first in range(len(colours)):
        for second in range(first + 1, len(colours)):
            if math.dist(labs[first], labs[second]) <= _DOMINANT_JOIN_DISTANCE:
                group[root(second)] = root(first)
    members: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
    for index, entry in enumerate(colours):
        members.setdefault(root(index), []).append(entry)
    largest = max(members.values(), key=lambda entries: sum(count for count, _ in entries))
    total = sum(count for count, _ in largest)
    mean = [round(sum(count * colour[band] for count, colour in largest) / total) for band in range(3)]
    return "#{:02x}{:02x}{:02x}".format(*mean)


def _lab(colour: tuple[int, ...]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour, for distances that match what the eye sees."""

    def linear(value: int) -> float:
        value_01 = value / 255
        return value_01 / 12.92 if value_01 <= 0.04045 else ((value_01 + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(value) for value in colour[:3])
    x = (0.4124 * red + 0.3576 * green + 0.1805 * blue) / 0.95047
    y = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    z = (0.0193 * red + 0.1192 * green + 0.9505 * blue) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def _resampling(long_edge: int) -> tuple[Image.Resampling, float]:
    """The filter and reducing gap that make a rendition of this long edge (``_RESAMPLING``)."""
    return next((kind, gap) for smallest, kind, gap in _RESAMPLING if long_edge >= smallest)


def _resized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    resample, reducing_gap = _resampling(max(size))
    return image.resize(size, resample, reducing_gap=reducing_gap)


def _exif_dict(image: Image.Image) -> dict:
    """The JSON-ready EXIF summary of an opened (not decoded) image; unreadable tags are left out."""
    result: dict = {}
    # A damaged EXIF block costs the photo its remaining metadata, not its acceptance; Pillow's
    # "Corrupt EXIF data" warnings say the same thing, so they are silenced here.
    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore", UserWarning)
        if exif := image.getexif():
            _copy_exif_fields(exif, result)
    if image.format == "HEIF":
        # libheif hands over the pixels already turned by the file's own transforms (irot, imir), and
        # HEIF makes those, not EXIF, the rule: an iPhone writes both, alike, so turning by the EXIF tag
        # as well would turn the photo twice. Its size is the displayed one; nothing is left to turn.
        result.pop("orientation", None)
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
