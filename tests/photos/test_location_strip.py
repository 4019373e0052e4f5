"""Location stripping: GPS and XMP leave a copy of the original, image bytes unchanged; doubt refuses."""

import io
import random
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from photos.location_strip import StripRefused, without_location

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "exif" / "cameras"
GPS_SAMPLE = SAMPLES / "Nikon_COOLPIX_P6000_gps.jpg"
PLAIN_SAMPLE = SAMPLES / "Canon_PowerShot_S40.jpg"  # EXIF without a GPS pointer, and no XMP
GPS_IFD = 0x8825
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""'
    b' xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.2057N"'
    b' exif:GPSLongitude="0,7.65W"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "TIFF": "image/tiff"}


def synthesized(image_format: str, *, location: bool = True, endian: str = ">") -> bytes:
    """A 32x24 noise image with make, model, orientation, date, an ICC profile and, if asked, GPS and XMP."""
    image = Image.frombytes("RGB", (32, 24), random.Random(7).randbytes(32 * 24 * 3))
    exif = Image.Exif()
    exif.endian = endian
    exif.update({0x010F: "Canon", 0x0110: "Canon EOS 40D", 0x0112: 6, 0x0132: "2024:05:01 10:00:00"})
    if location:
        gps = {1: "N", 2: (51.0, 30.0, 12.34), 3: "W", 4: (0.0, 7.0, 39.0), 6: 35.5}
        exif.get_ifd(GPS_IFD).update(gps)
    options: dict = {"icc_profile": ICC, "exif": exif.tobytes()}
    if image_format == "JPEG" and location:
        options["xmp"] = XMP
    elif image_format == "PNG" and location:
        options["pnginfo"] = PngImagePlugin.PngInfo()
        options["pnginfo"].add_itxt("XML:com.adobe.xmp", XMP.decode())
    elif image_format == "WEBP":
        options["lossless"] = True
        if location:
            options["xmp"] = XMP
    elif image_format == "TIFF":
        # Pillow's TIFF writer takes XMP only as tag 700 of the EXIF it is given.
        tiff_exif = Image.Exif()
        tiff_exif.load(options["exif"])
        if location:
            tiff_exif[700] = XMP
        options["exif"] = tiff_exif
    out = io.BytesIO()
    image.save(out, image_format, **options)
    return out.getvalue()


def webp_with_prefixed_exif(data: bytes) -> bytes:
    """The same WebP with "Exif\\0\\0" before the TIFF structure in its EXIF chunk, as some writers do."""
    at = data.index(b"EXIF")
    (size,) = struct.unpack("<I", data[at + 4 : at + 8])
    payload = b"Exif\0\0" + data[at + 8 : at + 8 + size]
    chunk = b"EXIF" + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)
    rebuilt = data[:at] + chunk + data[at + 8 + size + size % 2 :]
    return rebuilt[:4] + struct.pack("<I", len(rebuilt) - 8) + rebuilt[8:]


CASES = {
    "jpeg": lambda: ("image/jpeg", synthesized("JPEG")),
    "jpeg-little-endian": lambda: ("image/jpeg", synthesized("JPEG", endian="<")),
    "jpeg-nikon-sample": lambda: ("image/jpeg", GPS_SAMPLE.read_bytes()),
    "png": lambda: ("image/png", synthesized("PNG")),
    "webp": lambda: ("image/webp", synthesized("WEBP")),
    "webp-prefixed-exif": lambda: ("image/webp", webp_with_prefixed_exif(synthesized("WEBP"))),
    "tiff": lambda: ("image/tiff", synthesized("TIFF")),
}


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()  # PNG text chunks after the image data are read on load
    return image


def coordinate_bytes(data: bytes) -> list[bytes]:
    """The latitude and longitude rationals as stored, in either byte order (24 bytes each)."""
    gps = opened(data).getexif().get_ifd(GPS_IFD)
    packed = []
    for order in "<>":
        for axis in (2, 4):
            numbers = [n for r in gps[axis] for n in (r.numerator, r.denominator)]
            packed.append(struct.pack(order + "6I", *numbers))
    return packed


def scan_start(data: bytes) -> int:
    """Where a JPEG's first start-of-scan marker is, walking the segments (an EXIF thumbnail has one too)."""
    position = 2
    while data[position + 1] != 0xDA:
        position += 2 + struct.unpack(">H", data[position + 2 : position + 4])[0]
    return position


@pytest.mark.parametrize("case", CASES)
def test_gps_and_xmp_are_gone(case):
    content_type, original = CASES[case]()
    assert opened(original).getexif().get_ifd(GPS_IFD)
    stripped = without_location(original, content_type)
    image = opened(stripped)
    assert image.getexif().get_ifd(GPS_IFD) == {}
    assert not image.info.get("xmp")
    assert b"GPSLatitude" not in stripped
    assert b"http://ns.adobe.com/xap/1.0/" not in stripped


@pytest.mark.parametrize("case", CASES)
def test_coordinate_bytes_are_not_left_behind(case):
    content_type, original = CASES[case]()
    coordinates = coordinate_bytes(original)
    assert any(packed in original for packed in coordinates)
    stripped = without_location(original, content_type)
    assert not any(packed in stripped for packed in coordinates)


@pytest.mark.parametrize("case", CASES)
def test_everything_else_is_unchanged(case):
    content_type, original = CASES[case]()
    stripped = without_location(original, content_type)
    before, after = opened(original), opened(stripped)
    assert after.tobytes() == before.tobytes()
    assert after.info.get("icc_profile") == before.info.get("icc_profile")
    kept_tags = {tag: value for tag, value in before.getexif().items() if tag not in (GPS_IFD, 700)}
    assert dict(after.getexif()) == kept_tags
    assert after.getexif()[0x010F] in ("Canon", "NIKON")
    assert after.getexif().get_ifd(0x8769) == before.getexif().get_ifd(0x8769)


@pytest.mark.parametrize("case", ["jpeg", "jpeg-little-endian", "jpeg-nikon-sample"])
def test_jpeg_scan_data_is_byte_identical(case):
    content_type, original = CASES[case]()
    stripped = without_location(original, content_type)
    assert stripped[scan_start(stripped) :] == original[scan_start(original) :]


@pytest.mark.parametrize("case", ["webp", "webp-prefixed-exif"])
def test_webp_riff_size_and_flags_follow_the_dropped_xmp(case):
    content_type, original = CASES[case]()
    stripped = without_location(original, content_type)
    assert struct.unpack("<I", stripped[4:8])[0] == len(stripped) - 8
    assert stripped[12:16] == b"VP8X"
    assert original[20] & 0x04 and not stripped[20] & 0x04  # XMP flag cleared
    assert stripped[20] == original[20] & ~0x04  # ICC and EXIF flags kept


def png_chunks(data: bytes) -> list[tuple[bytes, bytes, int]]:
    """Each chunk of a PNG as (type, body, stored CRC)."""
    chunks, position = [], 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        chunks.append((kind, body, crc))
        position += 12 + length
    return chunks


def test_png_chunks_keep_valid_crcs():
    chunks = png_chunks(without_location(synthesized("PNG"), "image/png"))
    assert all(zlib.crc32(kind + body) == crc for kind, body, crc in chunks)
    kinds = [kind for kind, _body, _crc in chunks]
    assert b"eXIf" in kinds
    assert b"iTXt" not in kinds


def png_with_chunk(kind: bytes, body: bytes) -> bytes:
    """The synthesized PNG with one more chunk right after IHDR."""
    data = synthesized("PNG")
    chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    after_ihdr = 8 + 25  # the signature, then IHDR: length, type, 13 bytes, CRC
    return data[:after_ihdr] + chunk + data[after_ihdr:]


def test_png_with_a_damaged_chunk_is_refused():
    data = bytearray(synthesized("PNG"))
    data[-20] ^= 0xFF  # inside IDAT, whose CRC no longer matches
    with pytest.raises(StripRefused):
        without_location(bytes(data), "image/png")


def test_png_with_exif_as_hex_text_is_refused():
    """ImageMagick writes EXIF as a hex "Raw profile" text chunk, and Pillow reads GPS from it."""
    data = png_with_chunk(b"zTXt", b"Raw profile type exif\0\0" + zlib.compress(b"exif 100 4578..."))
    with pytest.raises(StripRefused):
        without_location(data, "image/png")


def test_png_xmp_in_a_latin1_text_chunk_is_dropped_too():
    data = png_with_chunk(b"tEXt", b"XML:com.adobe.xmp\0" + XMP)
    stripped = without_location(data, "image/png")
    assert b"GPSLatitude" not in stripped
    assert opened(stripped).tobytes() == opened(data).tobytes()


def test_tiff_xmp_tag_is_removed_and_the_length_kept():
    original = synthesized("TIFF")
    stripped = without_location(original, "image/tiff")
    assert 700 in opened(original).tag_v2
    assert 700 not in opened(stripped).tag_v2
    assert len(stripped) == len(original)


PLAIN_CASES = {
    "jpeg": lambda: ("image/jpeg", synthesized("JPEG", location=False)),
    "jpeg-canon-sample": lambda: ("image/jpeg", PLAIN_SAMPLE.read_bytes()),
    "png": lambda: ("image/png", synthesized("PNG", location=False)),
    "webp": lambda: ("image/webp", synthesized("WEBP", location=False)),
    "tiff": lambda: ("image/tiff", synthesized("TIFF", location=False)),
}


@pytest.mark.parametrize("case", PLAIN_CASES)
def test_a_file_without_location_comes_back_byte_identical(case):
    content_type, original = PLAIN_CASES[case]()
    assert without_location(original, content_type) == original


def jpeg_with_exif(tiff: bytes) -> bytes:
    """A valid JPEG with an APP1 Exif segment holding ``tiff`` as is, however broken."""
    plain = synthesized("JPEG", location=False)
    segment = b"Exif\0\0" + tiff
    return plain[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + plain[2:]


def tiff_block(ifd0_entries: list[tuple[int, int, int, int]], tail: bytes = b"", next_ifd: int = 0) -> bytes:
    """A little-endian TIFF structure: IFD0 at 8 with entries (tag, type, count, value), then ``tail``."""
    table = struct.pack("<H", len(ifd0_entries))
    table += b"".join(struct.pack("<HHII", *entry) for entry in ifd0_entries)
    return b"II*\0" + struct.pack("<I", 8) + table + struct.pack("<I", next_ifd) + tail


# IFD0 at 8 with one entry ends at 26, so a GPS IFD put right after it starts at 26.
WELL_FORMED_GPS_IFD = struct.pack("<HHHII", 1, 1, 2, 2, 0x4E) + bytes(4)  # GPSLatitudeRef "N"
BROKEN_EXIF = {
    "ifd0-offset-past-the-end": b"II*\0" + struct.pack("<I", 10_000),
    "truncated-ifd0": tiff_block([(0x010F, 2, 6, 100)])[:20],
    "gps-pointer-past-the-end": tiff_block([(GPS_IFD, 4, 1, 10_000)]),
    "gps-pointer-loops-to-ifd0": tiff_block([(GPS_IFD, 4, 1, 8)]),
    "gps-pointer-into-the-header": tiff_block([(GPS_IFD, 4, 1, 0)]),
    "gps-pointer-is-not-one-long": tiff_block([(GPS_IFD, 3, 2, 26)], WELL_FORMED_GPS_IFD),
    "gps-value-past-the-end": tiff_block(
        [(GPS_IFD, 4, 1, 26)], struct.pack("<HHHII", 1, 2, 5, 3, 10_000) + b"\0" * 4
    ),
    "gps-value-unknown-type": tiff_block(
        [(GPS_IFD, 4, 1, 26)], struct.pack("<HHHII", 1, 2, 99, 1, 0) + b"\0" * 4
    ),
    "ifd-chain-loops": tiff_block([(0x010F, 2, 4, 0)], next_ifd=8),
    "big-endian-gps-pointer-past-the-end": b"MM\0*"
    + struct.pack(">IHHHII", 8, 1, GPS_IFD, 4, 1, 999)
    + bytes(4),
    "not-a-tiff": b"XX*\0" + bytes(20),
    "bigtiff": b"II+\0" + bytes(20),
}


@pytest.mark.parametrize("name", BROKEN_EXIF)
def test_broken_exif_is_refused(name):
    with pytest.raises(StripRefused):
        without_location(jpeg_with_exif(BROKEN_EXIF[name]), "image/jpeg")


def test_the_hand_built_exif_is_stripped_when_well_formed():
    """The broken cases above differ from this one only in what they break."""
    latitude = struct.pack("<6I", 51, 1, 30, 1, 1234, 100)
    gps_ifd = struct.pack("<HHHII", 1, 2, 5, 3, 44) + struct.pack("<I", 0) + latitude
    data = jpeg_with_exif(tiff_block([(GPS_IFD, 4, 1, 26)], gps_ifd))
    assert opened(data).getexif().get_ifd(GPS_IFD)
    stripped = without_location(data, "image/jpeg")
    assert opened(stripped).getexif().get_ifd(GPS_IFD) == {}
    assert latitude not in stripped
    assert len(stripped) == len(data)


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_truncated_files_are_refused(image_format):
    data = synthesized(image_format)
    for length in range(0, len(data), 7):
        with pytest.raises(StripRefused):
            without_location(data[:length], CONTENT_TYPES[image_format])


@pytest.mark.parametrize("content_type", [*CONTENT_TYPES.values()])
def test_garbage_is_refused(content_type):
    garbage = random.Random(3).randbytes(500)
    for data in (b"", garbage, garbage[:3]):
        with pytest.raises(StripRefused):
            without_location(data, content_type)


def test_data_after_the_jpeg_end_is_refused():
    """A second image after the end (multi-picture files, gain maps) could carry its own location."""
    with pytest.raises(StripRefused):
        without_location(synthesized("JPEG") + synthesized("JPEG"), "image/jpeg")


def test_an_unsupported_content_type_is_refused():
    with pytest.raises(StripRefused):
        without_location(synthesized("JPEG"), "image/gif")


def gps_pillow_reads(data: bytes) -> dict:
    """The GPS IFD as Pillow reads it; nothing when Pillow cannot read the damaged file at all."""
    try:
        return dict(opened(data).getexif().get_ifd(GPS_IFD))
    except Exception:
        return {}


@pytest.mark.parametrize("case", ["jpeg", "jpeg-nikon-sample"])
def test_random_byte_flips_give_a_copy_or_a_refusal(case):
    """300 single-byte changes in the metadata: never another exception, and no GPS that Pillow can read."""
    content_type, original = CASES[case]()
    chooser = random.Random(2024)
    metadata_end = scan_start(original) + 16
    for _ in range(300):
        damaged = bytearray(original)
        damaged[chooser.randrange(metadata_end)] ^= chooser.randrange(1, 256)
        try:
            stripped = without_location(bytes(damaged), content_type)
        except StripRefused:
            continue
        gps = gps_pillow_reads(stripped)
        assert not {tag: value for tag, value in gps.items() if tag in (2, 4) and value}
