"""Factories that synthesize real photos with Pillow (JPEGs with EXIF, PNGs, broken files)."""

import io
import itertools
from pathlib import Path

from PIL import Image, ImageDraw

_SHOTS = itertools.count(1)
SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "exif"


def jpeg_bytes(
    width: int = 640,
    height: int = 480,
    *,
    orientation: int | None = None,
    taken: str | None = "2023:07:14 21:30:00",
    make: str = "Canon",
    model: str = "EOS R5",
    gps: tuple[float, float] | None = None,
    quality: int = 85,
    colour: tuple[int, int, int] = (40, 90, 160),
) -> bytes:
    """A real JPEG with a recognisable picture (a red block top-left on ``colour``) and the EXIF asked
    for."""
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width // 3, height // 3), fill=(220, 30, 30))
    draw.ellipse((width // 2, height // 2, width - 1, height - 1), fill=(240, 220, 60))
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    # Every call makes a different file, as every shot of a camera is: the service notices the same
    # bytes twice in a gallery (photos.content), so tests that mean two photos need two files.
    exif[0xA420] = f"{next(_SHOTS):032x}"  # ImageUniqueID
    if orientation:
        exif[0x0112] = orientation
    exif_ifd = exif.get_ifd(0x8769)
    if taken:
        exif_ifd[0x9003] = taken
    if gps:
        lat, lon = gps
        exif.get_ifd(0x8825).update(
            {1: "N" if lat >= 0 else "S", 2: _dms(abs(lat)), 3: "E" if lon >= 0 else "W", 4: _dms(abs(lon))}
        )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 2)
    return (float(degrees), float(minutes), seconds)


def png_bytes(width: int = 300, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 200, 10, 128)).save(out, "PNG")
    return out.getvalue()


def gif_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("P", (20, 20)).save(out, "GIF")
    return out.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg_bytes(800, 600)
    return data[: len(data) // 2]


def bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A PNG whose header claims width x height pixels (1.6 gigapixels by default) in a few hundred bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
