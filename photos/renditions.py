"""Which of a photo's renditions answers what: the guide's thumbnail and full size, and the set a page's
``srcset`` offers. Reads only keys and the item's rendition sizes (no Pillow)."""

from dataclasses import dataclass

from core import storage
from photos import keys
from photos.geometry import EDGES, RENDITION_FORMATS, fit

__all__ = ["EDGES", "fit"]  # the sizes, for callers that know renditions by this module

# The guide's thumbnailURL is the smallest JPEG rendition (400 px on the long edge), its fullSizeURL the
# largest JPEG of at most 1600 px: what they were before the larger sizes existed, so pages built on them
# look the same. Items from before the sizes were named by their edges say "thumb" and "web".
THUMBNAIL_EDGE = 400
FULL_SIZE_EDGE = 1600
# Made again by the photos scan's --rerender when this changes: raise it when the pipeline makes
# different files from the same original (new sizes, qualities, placeholders).
PIPELINE_VERSION = 2
_LEGACY_NAMES = {"thumb": THUMBNAIL_EDGE, "web": FULL_SIZE_EDGE}

FORMAT_OF_EXTENSION = {extension: name for name, (extension, _) in RENDITION_FORMATS.items()}
CONTENT_TYPES = dict(RENDITION_FORMATS.values())


@dataclass(frozen=True)
class StoredRendition:
    """One rendition object of a photo: its key, long edge, format, and (when the item recorded them) its
    pixels and bytes."""

    key: str
    long_edge: int
    format: str
    width: int | None = None
    height: int | None = None
    bytes: int | None = None


def renditions_version(formats) -> str:
    """What a photo's renditions were made as: the pipeline's version, the edges and the formats. The
    photos scan's --rerender makes again the photos whose item says otherwise."""
    return f"{PIPELINE_VERSION}:{','.join(map(str, EDGES))}:{','.join(formats)}"


def stored_renditions(rendition_keys, sizes=()) -> list[StoredRendition]:
    """A photo's renditions, smallest first, from its ``renditionKeys`` and its ``renditions`` sizes
    (matched by file name; a key moved by a visibility change keeps its file name)."""
    by_file = {}
    for size in sizes or ():
        size = size.as_dict() if hasattr(size, "as_dict") else dict(size)
        by_file[size.get("file")] = size
    found = []
    for key in rendition_keys or ():
        key = str(key)
        parts = keys.rendition_file(key)
        if parts is None or parts.extension not in FORMAT_OF_EXTENSION:
            continue
        edge = long_edge_of(key)
        if edge is None:
            continue
        size = by_file.get(key.rsplit("/", 1)[-1], {})
        found.append(
            StoredRendition(
                key=key,
                long_edge=edge,
                format=FORMAT_OF_EXTENSION[parts.extension],
                width=_integer(size.get("width")),
                height=_integer(size.get("height")),
                bytes=_integer(size.get("bytes")),
            )
        )
    found.sort(key=lambda rendition: (rendition.long_edge, rendition.format))
    return found


def thumbnail_key(rendition_keys) -> str | None:
    """The JPEG the guide's ``thumbnailURL`` names: the smallest one."""
    jpegs = [rendition for rendition in stored_renditions(rendition_keys) if rendition.format == "jpeg"]
    return jpegs[0].key if jpegs else None


def full_size_key(rendition_keys) -> str | None:
    """The JPEG the guide's ``fullSizeURL`` names: the largest of at most FULL_SIZE_EDGE (the smallest
    when every one is larger, which never happens: renditions are never upscaled)."""
    jpegs = [rendition for rendition in stored_renditions(rendition_keys) if rendition.format == "jpeg"]
    fitting = [rendition for rendition in jpegs if rendition.long_edge <= FULL_SIZE_EDGE]
    if fitting:
        return fitting[-1].key
    return jpegs[0].key if jpegs else None


def long_edge_of(key: str) -> int | None:
    """The long edge a rendition key's name stands for."""
    parts = keys.rendition_file(key)
    if parts is None:
        return None
    return _LEGACY_NAMES.get(parts.name) or (int(parts.name) if parts.name.isdigit() else None)


def stored_urls(rendition_keys) -> tuple[str | None, str | None]:
    """The guide's ``thumbnailURL`` and ``fullSizeURL`` as the item stores them (unsigned; answers make
    them again from the keys)."""
    thumbnail, full_size = thumbnail_key(rendition_keys), full_size_key(rendition_keys)
    return (
        storage.stored_url(thumbnail) if thumbnail else None,
        storage.stored_url(full_size) if full_size else None,
    )


def content_type_of(key: str) -> str:
    return CONTENT_TYPES.get(key.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def _integer(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
