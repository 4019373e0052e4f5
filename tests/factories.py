"""Factories that synthesize real photos with Pillow (JPEGs with EXIF, PNGs, broken files), pillow-heif
(HEIC with EXIF, turned, in tiles) and by hand where no encoder writes the kind (16-bit RGB PNG and TIFF,
12-bit and floating-point TIFF, YCCK JPEG)."""

import io
import itertools
import struct
import zlib
from pathlib import Path

import pillow_heif
from PIL import Image, ImageChops, ImageDraw

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
    image = picture(width, height, colour)
    exif = camera_exif(orientation=orientation, taken=taken, make=make, model=model, gps=gps)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def picture(width: int, height: int, colour: tuple[int, int, int] = (40, 90, 160)) -> Image.Image:
    """A red block top-left and a yellow disc bottom-right on ``colour``: any turn or mirror shows."""
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width // 3, height // 3), fill=(220, 30, 30))
    draw.ellipse((width // 2, height // 2, width - 1, height - 1), fill=(240, 220, 60))
    return image


def camera_exif(
    *,
    orientation: int | None = None,
    taken: str | None = "2023:07:14 21:30:00",
    make: str = "Canon",
    model: str = "EOS R5",
    gps: tuple[float, float] | None = None,
) -> Image.Exif:
    """EXIF as a camera writes it: make, model, a unique id, and the orientation, date and place asked for."""
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
    return exif


def heic_bytes(
    width: int = 640,
    height: int = 480,
    *,
    orientation: int | None = None,
    exif_orientation: int | None = None,
    taken: str | None = "2024:08:09 18:45:12",
    make: str = "Apple",
    model: str = "iPhone 15 Pro",
    gps: tuple[float, float] | None = None,
    tile_size: int = 0,
    brand: bytes = b"heic",
    more_images: int = 0,
    quality: int = 80,
) -> bytes:
    """A real HEIC (HEVC in HEIF, encoded by libheif's x265 through pillow-heif) of ``picture``, as an
    iPhone writes one: camera EXIF, and for ``orientation`` the stored pixels as the sensor saw them with
    an ``irot``/``imir`` transform that turns them upright AND the same EXIF Orientation tag.

    ``exif_orientation`` writes the EXIF tag alone, no transform (a converter that copied the tag).
    ``tile_size`` stores the image as a grid of tiles of that size (iPhones use 512). ``brand`` replaces
    the major brand (``mif1``: a plain HEIF). ``more_images`` adds other pictures after the primary one,
    as a burst does. ``width`` x ``height`` is the picture as it should be seen."""
    image = picture(width, height)
    if orientation:
        # What the sensor stored: the upright picture turned back by the inverse of the orientation.
        image = image.transpose(_INVERSE_OF_ORIENTATION[orientation]) if orientation != 1 else image
    exif = camera_exif(
        orientation=orientation or (1 if exif_orientation else None),
        taken=taken,
        make=make,
        model=model,
        gps=gps,
    )
    heif = pillow_heif.from_pillow(image)
    for index in range(more_images):
        heif.add_from_pillow(picture(width, height, colour=(30 + 40 * index, 160, 60)))
    out = io.BytesIO()
    heif.save(out, quality=quality, exif=exif.tobytes(), tile_size=tile_size)
    data = bytearray(out.getvalue())
    if exif_orientation:
        _exif_orientation_set(data, exif_orientation)
    if brand != b"heic":
        data[8:12] = brand
    return bytes(data)


def avif_bytes(
    width: int = 640, height: int = 480, *, orientation: int | None = None, **exif_fields
) -> bytes:
    """A real AVIF (Pillow's libavif encoder) of ``picture`` with camera EXIF; ``orientation`` is stored as
    ``irot``/``imir`` (and the stored pixels turned back), as libavif writes it."""
    image = picture(width, height)
    if orientation and orientation != 1:
        image = image.transpose(_INVERSE_OF_ORIENTATION[orientation])
    out = io.BytesIO()
    image.save(out, "AVIF", quality=70, exif=camera_exif(orientation=orientation, **exif_fields).tobytes())
    return out.getvalue()


# The transpose that undoes each EXIF orientation's turn: what a sensor stores for a photo to be shown
# upright after that orientation is applied.
_INVERSE_OF_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _exif_orientation_set(data: bytearray, orientation: int) -> None:
    """Rewrite the value of the (one) EXIF Orientation entry in a file's bytes, in place."""
    for order, entry in (
        ("<", b"\x12\x01\x03\x00\x01\x00\x00\x00"),
        (">", b"\x01\x12\x00\x03\x00\x00\x00\x01"),
    ):
        position = data.find(entry)
        if position != -1:
            data[position + 8 : position + 10] = struct.pack(order + "H", orientation)
            return
    raise ValueError("no EXIF Orientation entry to rewrite")


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
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def heic_claiming(width: int, height: int, *, tile_size: int = 0) -> bytes:
    """A small real HEIC (256 x 128) whose header claims ``width`` x ``height`` pixels: its ``ispe``
    property edited, and with ``tile_size`` (a grid) the grid's own output size too. What an "HEVC bomb"
    shows the service before a byte of it is decoded."""
    real = (256, 128)
    data = bytearray(heic_bytes(*real, tile_size=tile_size, taken=None))
    position = data.find(b"ispe")
    while position != -1:  # ispe: size, type, version and flags, then width and height (32 bits each)
        if struct.unpack_from(">II", data, position + 8) == real:
            struct.pack_into(">II", data, position + 8, width, height)
        position = data.find(b"ispe", position + 4)
    if tile_size:
        grid = data.find(b"idat") + 4  # ImageGrid: version, flags (0: 16-bit sizes), rows - 1, columns - 1
        assert data[grid + 1] == 0 and struct.unpack_from(">HH", data, grid + 4) == real
        struct.pack_into(">HH", data, grid + 4, width, height)
    return bytes(data)


def png16_bytes(width: int, height: int, samples: bytes, *, colour_type: int) -> bytes:
    """A PNG of 16-bit samples (big-endian, rows in order), which Pillow cannot write for RGB and RGBA:
    ``colour_type`` 0 grey, 2 RGB, 4 grey with alpha, 6 RGBA."""
    row_bytes = width * {0: 1, 2: 3, 4: 2, 6: 4}[colour_type] * 2
    rows = b"".join(b"\0" + samples[y * row_bytes : (y + 1) * row_bytes] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def tiff_bytes(
    pages: list[tuple[int, int, bytes]],
    *,
    bits: int,
    samples_per_pixel: int,
    photometric: int,
    sample_format: int = 1,
    extra_samples: int | None = None,
    big_endian: bool = False,
    extra_tags: tuple[tuple[int, int, int, int], ...] = (),
) -> bytes:
    """An uncompressed TIFF, one directory per page of (width, height, samples), written by hand for the
    layouts Pillow does not write: 16-bit RGB(A), 12-bit grey, floating point, 16-bit CMYK. ``photometric``
    1 grey, 2 RGB, 5 CMYK; ``sample_format`` 1 unsigned, 2 signed, 3 floating point; ``extra_samples`` 2
    for an unassociated alpha; ``extra_tags`` more (tag, type, count, value) entries of the first page."""
    order = ">" if big_endian else "<"
    out = bytearray((b"MM\x00*" if big_endian else b"II*\x00") + bytes(4))
    pointer = 4  # where the offset of the next directory goes
    for number, (width, height, samples) in enumerate(pages):
        strip = len(out)
        out += samples + bytes(len(samples) % 2)
        per_sample = len(out)
        out += struct.pack(order + "H" * samples_per_pixel, *[bits] * samples_per_pixel)
        formats = len(out)
        out += struct.pack(order + "H" * samples_per_pixel, *[sample_format] * samples_per_pixel)
        many = samples_per_pixel > 2  # up to two SHORTs sit in the entry itself
        entries = [
            (256, 4, 1, width), (257, 4, 1, height),
            (258, 3, samples_per_pixel, per_sample if many else bits),
            (259, 3, 1, 1), (262, 3, 1, photometric), (273, 4, 1, strip),
            (277, 3, 1, samples_per_pixel), (278, 4, 1, height), (279, 4, 1, len(samples)), (284, 3, 1, 1),
            (339, 3, samples_per_pixel, formats if many else sample_format),
        ]  # fmt: skip
        if extra_samples is not None:
            entries.append((338, 3, 1, extra_samples))
        if number == 0:
            entries.extend(extra_tags)
        struct.pack_into(order + "I", out, pointer, len(out))
        out += struct.pack(order + "H", len(entries))
        for tag, kind, count, value in sorted(entries):
            if kind == 3 and count <= 2:
                out += struct.pack(order + "HHIHH", tag, kind, count, value, value if count == 2 else 0)
            elif kind == 1 and count <= 4:
                out += struct.pack(order + "HHI", tag, kind, count) + value.to_bytes(4, "big")
            else:
                out += struct.pack(order + "HHII", tag, kind, count, value)
        pointer = len(out)
        out += bytes(4)
    return bytes(out)


def ycck_jpeg_bytes(cmyk: Image.Image) -> bytes:
    """A YCCK JPEG of a CMYK image, as Photoshop writes them: the inverted C, M and Y stored as YCbCr, K as
    it is, with an Adobe APP14 segment of transform 2. Pillow writes CMYK JPEGs inverted with transform 0,
    so it is handed what makes the stored samples right and the transform byte is then set."""
    cyan, magenta, yellow, black = cmyk.split()
    ycc = Image.merge("RGB", (cyan, magenta, yellow)).convert("YCbCr").split()
    out = io.BytesIO()
    stored = [ImageChops.invert(band) for band in ycc] + [black]  # Pillow inverts CMYK as it writes
    Image.merge("CMYK", stored).save(out, "JPEG", quality=95, subsampling=0)
    data = bytearray(out.getvalue())
    adobe = data.find(b"Adobe")  # "Adobe", version, flags0, flags1, then the transform byte
    assert adobe > 0 and data[adobe + 11] == 0
    data[adobe + 11] = 2
    return bytes(data)
