"""Where a photo's objects live in the bucket: the guide's original keys and our rendition keys."""

import re

from core.storage import PUBLIC_PREFIX

ORIGINALS_ROOT = "galleries/"
# Renditions of public and unlisted galleries: the one publicly served prefix (the CDN's).
RENDITIONS_ROOT = PUBLIC_PREFIX
# Renditions of private galleries are never under a publicly served prefix: only signed URLs reach them.
PRIVATE_RENDITIONS_ROOT = "private/renditions/"
# Copies of originals without their location, for visitors' downloads (signed URLs only).
DOWNLOADS_ROOT = "private/downloads/"
UPLOADS_ROOT = "uploads/"  # files a browser posted straight to S3, waiting to become photos

# galleries/{galleryId}/photo{N}.{ext}: the guide's shape for originals.
_ORIGINAL_KEY = re.compile(r"^galleries/(?P<gallery>[A-Za-z0-9][A-Za-z0-9._-]{0,127})/(?P<name>[^/]+)$")


def gallery_prefix(gallery_id: str) -> str:
    return f"{ORIGINALS_ROOT}{gallery_id}/"


def renditions_prefix(gallery_id: str, *, private: bool = False) -> str:
    return f"{PRIVATE_RENDITIONS_ROOT if private else RENDITIONS_ROOT}{gallery_id}/"


def downloads_prefix(gallery_id: str) -> str:
    return f"{DOWNLOADS_ROOT}{gallery_id}/"


def download_key(gallery_id: str, photo_id: str, sha256: str, extension: str) -> str:
    """The location-free copy of one original: named by its content, so a changed original gets a new
    copy and a stale one is never served."""
    return f"{downloads_prefix(gallery_id)}{photo_id}-{sha256[:16]}.{extension}"


def gallery_prefixes(gallery_id: str) -> list[str]:
    """Every prefix that holds objects of one gallery (a gallery's delete sweeps them all)."""
    return [
        gallery_prefix(gallery_id),
        renditions_prefix(gallery_id),
        renditions_prefix(gallery_id, private=True),
        downloads_prefix(gallery_id),
    ]


def uploads_prefix(gallery_id: str) -> str:
    return f"{UPLOADS_ROOT}{gallery_id}/"


def upload_key(gallery_id: str, upload_id: str) -> str:
    return f"{uploads_prefix(gallery_id)}{upload_id}"


def is_upload_key_of(key: str, gallery_id: str) -> bool:
    """Only keys this service hands out for this gallery: uploads/{galleryId}/{32 hex digits}."""
    return re.fullmatch(re.escape(uploads_prefix(gallery_id)) + r"[0-9a-f]{32}", key or "") is not None


def original_key(gallery_id: str, photo_number: int, extension: str) -> str:
    return f"{gallery_prefix(gallery_id)}photo{photo_number}.{extension}"


def rendition_key(
    gallery_id: str, photo_number: int, name: str, extension: str, *, private: bool = False
) -> str:
    return f"{renditions_prefix(gallery_id, private=private)}photo{photo_number}-{name}.{extension}"


def rendition_of(rendition_keys, name: str, extension: str) -> str | None:
    """The key of the rendition ``name`` in ``extension`` among a photo's rendition keys."""
    suffix = f"-{name}.{extension}"
    return next((str(key) for key in rendition_keys or [] if str(key).endswith(suffix)), None)


def is_private_rendition(key: str) -> bool:
    return key.startswith(PRIVATE_RENDITIONS_ROOT)


def rendition_moved(key: str, *, private: bool) -> str:
    """The same rendition's key under the other placement (public <-> private)."""
    if key.startswith(PRIVATE_RENDITIONS_ROOT):
        rest = key[len(PRIVATE_RENDITIONS_ROOT) :]
    elif key.startswith(RENDITIONS_ROOT):
        rest = key[len(RENDITIONS_ROOT) :]
    else:
        raise ValueError(f"not a rendition key: {key!r}")
    return f"{PRIVATE_RENDITIONS_ROOT if private else RENDITIONS_ROOT}{rest}"


def parse_original_key(key: str) -> tuple[str, str] | None:
    """(galleryId, file name) for a key that can hold an original, else None (renditions never match)."""
    match = _ORIGINAL_KEY.match(key)
    if not match:
        return None
    return match.group("gallery"), match.group("name")


_NUMBERED = re.compile(r"^photo(?P<number>[0-9]{1,12})[-.]")


def photo_number_of(key: str) -> int | None:
    """The photo number in a key this service wrote (``photo{N}.{ext}``, ``photo{N}-{name}.{ext}``)."""
    match = _NUMBERED.match(key.rsplit("/", 1)[-1])
    return int(match.group("number")) if match else None


def belongs_to_gallery(key: str, gallery_id: str) -> bool:
    """True only for keys inside this gallery's own prefixes (no '..' tricks, no other gallery)."""
    if ".." in key.split("/") or "//" in key:
        return False
    return any(key.startswith(prefix) for prefix in gallery_prefixes(gallery_id))


# Direct uploads nobody completed are removed after this many days (lifecycle rule and photos scan).
UPLOAD_EXPIRY_DAYS = 1

# The bucket's lifecycle rules (put by ensure_resources): upload objects nobody completed expire after a
# day (the photos scan removes them too, also locally), and multipart uploads a client abandoned are
# aborted, so their parts stop costing storage.
LIFECYCLE_RULES = [
    {
        "ID": "stale-uploads",
        "Status": "Enabled",
        "Filter": {"Prefix": UPLOADS_ROOT},
        "Expiration": {"Days": UPLOAD_EXPIRY_DAYS},
    },
    {
        "ID": "abort-incomplete-multipart-uploads",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    },
]
