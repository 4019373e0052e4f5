"""Photo validation, EXIF extraction and JPEG/WebP renditions (accepts JPEG, PNG, WebP and TIFF only)."""

from __future__ import annotations

import contextlib
import io
import math
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
    largest = targets[0][1]
    if swaps_axes:
        largest = largest[1], largest[0]
    try:
        if format_name == "JPEG":
            # JPEG can decode straight to 1/2, 1/4 or 1/8 scale in the DCT domain; draft picks the smallest
            # scale that is still at least `largest`, so no rendition is upscaled from it.
            image.draft("RGB" if image.mode != "CMYK" else None, largest)
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
    if "A" in mode or "a" in mode or image.has_transparency_data:
        target = "RGBA"
    elif mode == "1":
        target = "L"
    else:
        target = "RGB"
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
    return result


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
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", " ").strip()
    return value or None


def _number(value) -> float | None:
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


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
