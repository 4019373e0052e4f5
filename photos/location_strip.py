"""Copies of a photo's original with the location taken out, for downloads from galleries that hide it.

What goes: the EXIF GPS pointer (tag 0x8825) of every IFD in the main chain, with the GPS IFD and every
value it points to overwritten with zeros, so the coordinates are not left behind as orphan bytes; and
every XMP packet, because XMP can repeat the location (``exif:GPSLatitude``): JPEG APP1 XMP and extended
XMP segments, PNG text chunks keyed ``XML:com.adobe.xmp``, the WebP ``XMP `` chunk (and its VP8X flag), and
the XMP tag 700 of a TIFF structure (removed like the GPS pointer, its bytes zeroed). Everything else
(make, model, dates, orientation, ICC profile, pixels) stays as it was.

Nothing is decoded or re-encoded: the containers are walked by hand and only metadata bytes change, so
the image data is the photographer's own, bit for bit, and the work is cheap enough for a request. A TIFF
structure keeps its length (entries are removed by shifting the table up and zeroing what is freed), so
every offset in it stays valid. Whatever cannot be read with certainty raises ``StripRefused``: no copy
is better than a copy that might still carry the location.
"""

import struct
import zlib


class StripRefused(Exception):
    """The file's metadata could not be read with certainty; no copy is made (fail closed)."""


GPS_TAG = 0x8825
XMP_TAG = 700
# Bytes per value of each TIFF field type (BYTE, ASCII, SHORT, LONG, RATIONAL, ... IFD).
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
EXIF_PREFIX = b"Exif\0\0"
JPEG_XMP_PREFIXES = (b"http://ns.adobe.com/xap/1.0/\0", b"http://ns.adobe.com/xmp/extension/\0")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEYWORDS = (b"XML:com.adobe.xmp", b"Raw profile type xmp")
# ImageMagick's hex-encoded EXIF in a PNG text chunk: Pillow reads GPS from it, so it is refused
# rather than parsed (rare, and a third encoding to get right).
PNG_RAW_EXIF_KEYWORDS = (b"Raw profile type exif", b"Raw profile type APP1")
WEBP_XMP_FLAG = 0x04  # in the first byte of the VP8X chunk


def without_location(data: bytes, content_type: str) -> bytes:
    """A copy of ``data`` without GPS or XMP, image bytes untouched; ``data`` itself if it has neither."""
    strippers = {"image/jpeg": _jpeg, "image/png": _png, "image/webp": _webp, "image/tiff": _strip_tiff}
    if content_type not in strippers:
        raise StripRefused(f"No location stripping for {content_type!r}.")
    return strippers[content_type](data)


def _unpack(fmt: str, buffer: bytes, offset: int) -> tuple:
    """struct.unpack_from that refuses, instead of failing otherwise, when the bytes are not there."""
    if offset < 0 or offset + struct.calcsize(fmt) > len(buffer):
        raise StripRefused("An offset or length points outside the file.")
    return struct.unpack_from(fmt, buffer, offset)


def _replace(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """``data`` with each (start, end) range, in order and not overlapping, replaced by its bytes."""
    if not edits:
        return data
    pieces, position = [], 0
    for start, end, replacement in edits:
        pieces += [data[position:start], replacement]
        position = end
    pieces.append(data[position:])
    return b"".join(pieces)


def _jpeg(data: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise StripRefused("Not a JPEG: no start-of-image marker.")
    edits, position = [], 2
    while True:
        (ff, marker) = _unpack("BB", data, position)
        if ff != 0xFF:
            raise StripRefused("A JPEG marker was expected.")
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == 0xD9:  # end of image
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        (length,) = _unpack(">H", data, position + 2)
        end = position + 2 + length
        if length < 2 or end > len(data):
            raise StripRefused("A JPEG segment runs past the end of the file.")
        body = data[position + 4 : end]
        if marker == 0xE1 and body.startswith(EXIF_PREFIX):
            tiff = body[len(EXIF_PREFIX) :]
            stripped = _strip_tiff(tiff)
            if stripped != tiff:
                edits.append((end - len(tiff), end, stripped))
        elif marker == 0xE1 and body.startswith(JPEG_XMP_PREFIXES):
            edits.append((position, end, b""))
        position = _entropy_end(data, end) if marker == 0xDA else end
    # Bytes after the end of the image (multi-picture files, gain maps, vendor trailers) can hold
    # another image with its own EXIF and XMP; they are refused rather than copied unread.
    if position + 2 != len(data):
        raise StripRefused("The JPEG has data after its end-of-image marker.")
    return _replace(data, edits)


def _entropy_end(data: bytes, position: int) -> int:
    """Where the compressed data of a scan ends: the first marker that is not a stuffed 0xFF or a restart."""
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            raise StripRefused("The JPEG ends inside its image data.")
        following = data[position + 1]
        if following != 0x00 and not 0xD0 <= following <= 0xD7:
            return position
        position += 2


def _png(data: bytes) -> bytes:
    if not data.startswith(PNG_SIGNATURE):
        raise StripRefused("Not a PNG: no signature.")
    edits, position, kind = [], len(PNG_SIGNATURE), b""
    while kind != b"IEND":
        length, kind = _unpack(">I4s", data, position)
        end = position + 12 + length
        body = data[position + 8 : end - 4]
        (crc,) = _unpack(">I", data, end - 4)
        if zlib.crc32(kind + body) != crc:
            raise StripRefused(f"The PNG {kind!r} chunk is damaged (CRC mismatch).")
        if kind == b"eXIf":
            stripped = _strip_exif_payload(body)
            if stripped != body:
                edits.append((position + 8, end, stripped + struct.pack(">I", zlib.crc32(kind + stripped))))
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            keyword = body.split(b"\0", 1)[0]
            if keyword in PNG_XMP_KEYWORDS:
                edits.append((position, end, b""))
            elif keyword in PNG_RAW_EXIF_KEYWORDS:
                raise StripRefused("The PNG carries EXIF as hex text, which is not read here.")
        position = end
    if position != len(data):
        raise StripRefused("The PNG has data after its end chunk.")
    return _replace(data, edits)


def _webp(data: bytes) -> bytes:
    (riff, riff_size, webp) = _unpack("<4sI4s", data, 0)
    if riff != b"RIFF" or webp != b"WEBP" or riff_size + 8 != len(data):
        raise StripRefused("Not a WebP, or its RIFF size does not match the file.")
    edits, position, xmp_dropped = [], 12, False
    while position < len(data):
        kind, size = _unpack("<4sI", data, position)
        end = position + 8 + size + size % 2  # chunks are padded to an even length
        if end > len(data):
            raise StripRefused(f"The WebP {kind!r} chunk runs past the end of the file.")
        if kind == b"EXIF":
            body = data[position + 8 : position + 8 + size]
            stripped = _strip_exif_payload(body)
            if stripped != body:
                edits.append((position + 8, position + 8 + size, stripped))
        elif kind == b"XMP ":
            edits.append((position, end, b""))
            xmp_dropped = True
        position = end
    if not edits:
        return data
    result = bytearray(_replace(data, edits))
    result[4:8] = struct.pack("<I", len(result) - 8)
    # VP8X, when present, is the first chunk (so no edit has moved it) and its first byte holds the flags.
    if xmp_dropped and data[12:16] == b"VP8X" and _unpack("<I", data, 16)[0] >= 10:
        result[20] &= ~WEBP_XMP_FLAG & 0xFF
    return bytes(result)


def _strip_exif_payload(payload: bytes) -> bytes:
    """PNG and WebP EXIF should be a bare TIFF structure, but writers (Pillow among them) may prefix it."""
    skip = len(EXIF_PREFIX) if payload.startswith(EXIF_PREFIX) else 0
    return payload[:skip] + _strip_tiff(payload[skip:])


def _strip_tiff(block: bytes) -> bytes:
    """The TIFF structure with GPS and XMP removed from each IFD of the main chain, at the same length."""
    order = {b"II": "<", b"MM": ">"}.get(block[:2])
    if order is None or _unpack(order + "H", block, 2) != (42,):
        raise StripRefused("Not a TIFF structure (or a BigTIFF, which is not read here).")
    result = bytearray(block)
    # Bytes that must survive (header, IFD tables, values kept) and bytes to zero; a range to zero that
    # overlaps one to keep means the offsets are not what they claim (a loop, a shared value): refuse.
    kept: list[tuple[int, int]] = [(0, 8)]
    zeroed: list[tuple[int, int]] = []
    seen: set[int] = set()
    (offset,) = _unpack(order + "I", block, 4)
    while offset:
        if offset in seen:
            raise StripRefused("The TIFF IFD chain loops.")
        seen.add(offset)
        entries, next_offset = _ifd(block, order, offset)
        table_end = offset + 2 + 12 * len(entries) + 4
        kept.append((offset, table_end))
        remaining = []
        for entry in entries:
            (tag,) = _unpack(order + "H", entry, 0)
            if tag == GPS_TAG:
                zeroed += _gps_ranges(block, order, entry)
            elif tag == XMP_TAG:
                zeroed += _value_range(block, order, entry)
            else:
                remaining.append(entry)
                kept += _value_range(block, order, entry)
        if len(remaining) < len(entries):
            table = struct.pack(order + "H", len(remaining)) + b"".join(remaining)
            table += struct.pack(order + "I", next_offset)
            result[offset:table_end] = table.ljust(table_end - offset, b"\0")
        offset = next_offset
    for start, end in zeroed:
        if any(start < kept_end and kept_start < end for kept_start, kept_end in kept):
            raise StripRefused("Location data overlaps other metadata in the TIFF structure.")
        result[start:end] = bytes(end - start)
    return bytes(result)


def _ifd(block: bytes, order: str, offset: int) -> tuple[list[bytes], int]:
    """The 12-byte entries of the IFD at ``offset`` and the offset of the next IFD (0 for none)."""
    (count,) = _unpack(order + "H", block, offset)
    (next_offset,) = _unpack(order + "I", block, offset + 2 + 12 * count)
    entries = [block[offset + 2 + 12 * i : offset + 14 + 12 * i] for i in range(count)]
    return entries, next_offset


def _value_range(block: bytes, order: str, entry: bytes) -> list[tuple[int, int]]:
    """Where the entry's value lies, if it does not fit in the entry's own 4 bytes (else nothing)."""
    _tag, kind, count, value_offset = _unpack(order + "HHII", entry, 0)
    if kind not in TYPE_SIZES:
        raise StripRefused(f"Unknown TIFF field type {kind}.")
    size = TYPE_SIZES[kind] * count
    if size <= 4:
        return []
    if value_offset + size > len(block):
        raise StripRefused("A TIFF value lies outside the structure.")
    return [(value_offset, value_offset + size)]


def _gps_ranges(block: bytes, order: str, pointer_entry: bytes) -> list[tuple[int, int]]:
    """The GPS IFD's table and every value outside it: all that is zeroed to leave no coordinates."""
    _tag, kind, count, gps_offset = _unpack(order + "HHII", pointer_entry, 0)
    if kind not in (4, 13) or count != 1:
        raise StripRefused("The GPS pointer is not a single offset.")
    entries, _next_offset = _ifd(block, order, gps_offset)
    ranges = [(gps_offset, gps_offset + 2 + 12 * len(entries) + 4)]
    for entry in entries:
        ranges += _value_range(block, order, entry)
    return ranges
