"""Where a photo's objects live in the bucket: the guide's original keys and our rendition keys."""

import hashlib
import re
from dataclasses import dataclass

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
    gallery_id: str, photo_number: int, name: str, extension: str, digest: str, *, private: bool = False
) -> str:
    """``photo{N}-{name}-{digest}.{ext}``: ``digest`` is a digest of the rendition's bytes
    (``content_digest``), so a rendition whose content changes gets a new key and a URL that was cached
    forever is never served stale."""
    prefix = renditions_prefix(gallery_id, private=private)
    return f"{prefix}photo{photo_number}-{name}-{digest}.{extension}"


DIGEST_CHARS = 12  # 48 bits of SHA-256: no two renditions of one photo and name ever meet


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:DIGEST_CHARS]


# photo{N}-{name}-{digest}.{ext}, or photo{N}-{name}.{ext} as written before renditions were digested.
_RENDITION_FILE = re.compile(
    rf"^photo(?P<number>[0-9]{{1,12}})-(?P<name>[a-z0-9]+)(?:-(?P<digest>[0-9a-f]{{{DIGEST_CHARS}}}))?"
    r"\.(?P<extension>[a-z0-9]+)$"
)


@dataclass(frozen=True)
class RenditionFile:
    """What a rendition key says of its object: the photo number, the rendition's name, the digest of its
    bytes (empty for keys written before digests) and its extension."""

    number: int
    name: str
    digest: str
    extension: str


def rendition_file(key: str) -> RenditionFile | None:
    """The parts of a rendition key (None for any other key)."""
    match = _RENDITION_FILE.match(key.rsplit("/", 1)[-1])
    if not match:
        return None
    return RenditionFile(int(match["number"]), match["name"], match["digest"] or "", match["extension"])


def rendition_of(rendition_keys, name: str, extension: str) -> str | None:
    """The key of the rendition ``name`` in ``extension`` among a photo's rendition keys."""
    for key in rendition_keys or []:
        parts = rendition_file(str(key))
        if parts is not None and parts.name == name and parts.extension == extension:
            return str(key)
    return None


# Renditions are never rewritten under a key (a new content is a new key): caches keep them for a year.
# Those of private galleries only in the browser that opened them (a signed URL), never in a shared cache.
PUBLIC_RENDITION_CACHE = "public, max-age=31536000, immutable"
PRIVATE_RENDITION_CACHE = "private, max-age=31536000, immutable"


def rendition_cache_control(key: str) -> str:
    return PRIVATE_RENDITION_CACHE if is_private_rendition(key) else PUBLIC_RENDITION_CACHE


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

# The bucket keeps versions (ensure_resources turns versioning on): a deleted or overwritten object stays
# restorable for this many days as a non-current version, e.g. the photos of a gallery deleted by mistake.
NONCURRENT_VERSION_DAYS = 30

# The bucket's lifecycle rules (put by ensure_resources): upload objects nobody completed expire after a
# day (the photos scan removes them too, also locally); multipart uploads a client abandoned are
# aborted, so their parts stop costing storage; non-current versions expire after
# NONCURRENT_VERSION_DAYS, and a delete marker left with no versions behind it goes too. An upload
# object's old versions (it was completed, so copied into its gallery and deleted, or it expired) hold
# nothing worth restoring: they go after a day (where two rules expire the same version, S3 honours the
# shorter).
LIFECYCLE_RULES = [
    {
        "ID": "stale-uploads",
        "Status": "Enabled",
        "Filter": {"Prefix": UPLOADS_ROOT},
        "Expiration": {"Days": UPLOAD_EXPIRY_DAYS},
        "NoncurrentVersionExpiration": {"NoncurrentDays": UPLOAD_EXPIRY_DAYS},
    },
    {
        "ID": "abort-incomplete-multipart-uploads",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    },
    {
        "ID": "noncurrent-versions",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_VERSION_DAYS},
        "Expiration": {"ExpiredObjectDeleteMarker": True},
    },
]
