"""Where a photo's objects live in the bucket: the guide's original keys and our rendition keys."""

import re

ORIGINALS_ROOT = "galleries/"
RENDITIONS_ROOT = "renditions/"
UPLOADS_ROOT = "uploads/"  # files a browser posted straight to S3, waiting to become photos

# galleries/{galleryId}/photo{N}.{ext}: the guide's shape for originals.
_ORIGINAL_KEY = re.compile(r"^galleries/(?P<gallery>[A-Za-z0-9][A-Za-z0-9._-]{0,127})/(?P<name>[^/]+)$")


def gallery_prefix(gallery_id: str) -> str:
    return f"{ORIGINALS_ROOT}{gallery_id}/"


def renditions_prefix(gallery_id: str) -> str:
    return f"{RENDITIONS_ROOT}{gallery_id}/"


def uploads_prefix(gallery_id: str) -> str:
    return f"{UPLOADS_ROOT}{gallery_id}/"


def upload_key(gallery_id: str, upload_id: str) -> str:
    return f"{uploads_prefix(gallery_id)}{upload_id}"


def is_upload_key_of(key: str, gallery_id: str) -> bool:
    """Only keys this service hands out for this gallery: uploads/{galleryId}/{32 hex digits}."""
    return re.fullmatch(re.escape(uploads_prefix(gallery_id)) + r"[0-9a-f]{32}", key or "") is not None


def original_key(gallery_id: str, photo_number: int, extension: str) -> str:
    return f"{gallery_prefix(gallery_id)}photo{photo_number}.{extension}"


def rendition_key(gallery_id: str, photo_number: int, name: str, extension: str) -> str:
    return f"{renditions_prefix(gallery_id)}photo{photo_number}-{name}.{extension}"


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
    return key.startswith(gallery_prefix(gallery_id)) or key.startswith(renditions_prefix(gallery_id))


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
