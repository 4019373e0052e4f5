"""The privacy audit: does the bucket keep private what is private? It reads, judges and writes nothing.

What it judges (docs/deploy.md, "Keeping originals private"), as findings (``manage.py audit_privacy``
exits non-zero on one):

- the bucket policy: a statement that lets anyone (``Principal: "*"``) read objects outside the one
  publicly served prefix (``core.storage.PUBLIC_PREFIX``, ``renditions/``) or list the bucket; a
  CloudFront statement (origin access control, or a legacy origin access identity) that reaches beyond
  ``renditions/*`` or may list the bucket, since the CDN serves whatever it can read to anyone;
- ACLs: the bucket's, or any object's outside ``renditions/``, granting READ or FULL_CONTROL to
  AllUsers or AuthenticatedUsers (not read when Object Ownership is BucketOwnerEnforced: ACLs are off);
- renditions (public and private) carrying EXIF, GPS or XMP, or user metadata naming a location;
- visitors' download copies (``private/downloads/``) that still carry GPS (EXIF or XMP);
- renditions of a private gallery under the public prefix.

Warnings (reported; alone they do not fail the run): Block Public Access missing or not all on, Object
Ownership other than BucketOwnerEnforced, a CloudFront statement without a source condition, renditions
of no gallery under the public prefix, an object whose metadata could not be read, and every check the S3
at hand answers it does not implement (501 NotImplemented or 405 MethodNotAllowed: the local s3rver holds
no policy, public access block, ownership or bucket ACL): the audit says what it could not judge and
still succeeds there. On AWS, S3 answers 405 to a bucket policy read by an identity outside the bucket
owner's account: run the audit with the owner account's credentials. Any other error (AccessDenied for a
permission missing) ends the run.

Objects are streamed from the listing, one at a time: a rendition (public or private) costs a Range GET
of its first 64 KiB (metadata sits at the start of a JPEG; a WebP's chunks are walked by their headers, a
PNG's trailing chunks read from its last 64 KiB, a header longer than the first read fetched again) and
a HEAD; a download copy the same Range GETs; every object outside ``renditions/`` an ACL read when ACLs
are on; each gallery with renditions under ``renditions/`` one read of its item (its visibility).
Pillow only parses headers here: no pixel is decoded.
"""

import io
import re
import warnings
from dataclasses import dataclass, field

from django.conf import settings
from PIL import ExifTags, Image

from core import storage
from core.errors import NotFound, Rejected
from core.validation import is_valid_id
from galleries.models import visibility_of
from galleries.selectors import gallery_get
from photos import keys

# How much of an object is read to find its metadata: the EXIF of a JPEG sits before its pixels and is
# at most one 64 KiB segment. Headers longer than that (EXIF plus a large XMP or ICC profile) are read
# again whole when the object is small, else up to LONG_HEADER_BYTES.
HEAD_BYTES = 64 * 1024
WHOLE_READ_BYTES = 8 * 1024 * 1024
LONG_HEADER_BYTES = 1024 * 1024
# A WebP's chunks are walked by their headers (one Range GET each past the first 64 KiB); a still image
# has a handful, an animation one per frame.
WEBP_MAX_CHUNKS = 64
# Findings listed per kind; beyond that they are counted (a bucket-wide mistake would list every object).
LISTED_PER_KIND = 100

BLOCK_PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)
_PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers (any AWS account)",
}
_READ_PERMISSIONS = {"READ", "FULL_CONTROL"}
_OBJECT_READS = ("s3:GetObject", "s3:GetObjectVersion")
_LISTINGS = ("s3:ListBucket", "s3:ListBucketVersions")
_CLOUDFRONT_SERVICE = "cloudfront.amazonaws.com"
_ORIGIN_ACCESS_IDENTITY = "CloudFront Origin Access Identity"
# XMP repeats the location as text (exif:GPSLatitude, exif:GPSLongitude, exif:GPSAltitude...).
_XMP_GPS = re.compile(rb"GPS(?:Latitude|Longitude|Altitude|Coordinates)")
# User metadata (x-amz-meta-*) that names a location, in its name or its value.
_LOCATION_WORDS = re.compile(
    r"gps|locat|latitude|longitude|(?:^|[^a-z])(?:lat|lon|lng|geo)(?:[^a-z]|$)", re.I
)

# The parts of the bucket the walk counts, with their names in a report (one, many).
AREAS = {
    "renditions": ("public rendition", "public renditions"),
    "privateRenditions": ("private rendition", "private renditions"),
    "downloads": ("download copy", "download copies"),
    "originals": ("original", "originals"),
    "uploads": ("upload", "uploads"),
    "other": ("other object", "other objects"),
}


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or, as a warning, worth a look): its kind, the key or setting, and why."""

    kind: str
    why: str
    key: str | None = None
    setting: str | None = None

    @property
    def where(self) -> str:
        return self.key or self.setting or "bucket"

    def as_dict(self) -> dict:
        where = {"key": self.key} if self.key is not None else {"setting": self.setting or "bucket"}
        return {"kind": self.kind, **where, "why": self.why}


@dataclass
class PrivacyAudit:
    """What the audit found; ``as_dict`` is the command's ``--json``."""

    bucket: str
    gallery_id: str | None = None
    findings: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AREAS, 0))
    acls_read: int = 0
    # Findings of a kind past LISTED_PER_KIND, and warnings past as many: counted, not listed.
    not_listed: dict[str, int] = field(default_factory=dict)
    warnings_not_listed: int = 0

    @property
    def finding_count(self) -> int:
        return len(self.findings) + sum(self.not_listed.values())

    def find(self, kind: str, why: str, *, key: str | None = None, setting: str | None = None) -> None:
        if sum(finding.kind == kind for finding in self.findings) >= LISTED_PER_KIND:
            self.not_listed[kind] = self.not_listed.get(kind, 0) + 1
            return
        self.findings.append(Finding(kind, why, key=key, setting=setting))

    def warn(self, kind: str, why: str, *, key: str | None = None, setting: str | None = None) -> None:
        if len(self.warnings) >= LISTED_PER_KIND:
            self.warnings_not_listed += 1
            return
        self.warnings.append(Finding(kind, why, key=key, setting=setting))

    def as_dict(self) -> dict:
        return {
            "bucket": self.bucket,
            "galleryId": self.gallery_id,
            "clean": not self.finding_count,
            "findingCount": self.finding_count,
            "findings": [finding.as_dict() for finding in self.findings],
            "findingsNotListed": dict(self.not_listed),
            "warnings": [warning.as_dict() for warning in self.warnings],
            "warningsNotListed": self.warnings_not_listed,
            "notes": list(self.notes),
            "checked": {**self.checked, "objectAcls": self.acls_read},
        }


def privacy_audit(*, gallery_id: str | None = None) -> PrivacyAudit:
    """Judge the bucket's settings, then every object (only ``gallery_id``'s when given)."""
    if gallery_id is not None and not is_valid_id(gallery_id):
        raise Rejected(f"{gallery_id[:128]!r} cannot be a gallery id.", code="invalid_gallery_id")
    audit = PrivacyAudit(bucket=settings.BUCKET_NAME, gallery_id=gallery_id)
    _policy_judge(audit)
    _public_access_block_judge(audit)
    acls_on = _object_ownership_judge(audit)
    if acls_on:
        _bucket_acl_judge(audit)
    walk = _ObjectWalk(audit, acls_on=acls_on)
    prefixes = [""] if gallery_id is None else _gallery_prefixes(gallery_id)
    for prefix in prefixes:
        for item in storage.objects_list(prefix):
            walk.judge(item["Key"], int(item.get("Size") or 0))
    return audit


def _gallery_prefixes(gallery_id: str) -> list[str]:
    return [*keys.gallery_prefixes(gallery_id), keys.uploads_prefix(gallery_id)]


def _not_judged(
    audit: PrivacyAudit,
    setting: str,
    what: str,
    *,
    meanwhile: str = "not judged",
    advice: str = "run the audit against the real bucket to judge it",
) -> None:
    """A check the S3 at hand cannot answer (the local emulator): said, not failed."""
    audit.warn(
        "not-judged",
        f"this S3 answers that it does not implement {what} (as the local emulator does): {meanwhile}; "
        f"{advice}",
        setting=setting,
    )


# ---------------------------------------------------------------- the bucket policy


def _policy_judge(audit: PrivacyAudit) -> None:
    try:
        policy = storage.bucket_policy()
    except storage.NotImplementedHere:
        # AWS answers the same 405 MethodNotAllowed to an identity outside the bucket owner's account.
        _not_judged(
            audit,
            "bucket policy",
            "bucket policies",
            advice="run the audit against the real bucket, with credentials of the bucket owner's account "
            "(AWS answers another account's the same way), to judge it",
        )
        return
    if policy is None:
        audit.notes.append(
            "The bucket has no policy: nothing is served by it (a CDN in front of renditions/ needs the "
            "CloudFront statement of docs/deploy.md)."
        )
        return
    for index, statement in enumerate(_as_list(policy.get("Statement"))):
        if isinstance(statement, dict) and statement.get("Effect") == "Allow":
            _statement_judge(audit, statement, f"bucket policy statement {statement.get('Sid') or index}")


def _statement_judge(audit: PrivacyAudit, statement: dict, setting: str) -> None:
    anyone, cloudfront = _principal_of(statement)
    if not (anyone or cloudfront):
        return  # named accounts and roles: not the public
    bucket = audit.bucket
    beyond = _reach_beyond_public(statement, bucket) if _allows_any(statement, _OBJECT_READS) else []
    lists = _allows_any(statement, _LISTINGS) and _covers_bucket(statement, bucket)
    blocks = (statement.get("Condition") or {}).values()
    conditions = sorted({key for block in blocks if isinstance(block, dict) for key in block})
    conditioned = f" (conditions on {', '.join(conditions)}: check they narrow it)" if conditions else ""
    only = f"arn:aws:s3:::{bucket}/{storage.PUBLIC_PREFIX}*"
    if anyone:
        if beyond:
            audit.find(
                "public-policy",
                f"lets anyone read {', '.join(beyond)}{conditioned}: only {only} may be public, and through "
                "the CDN (docs/deploy.md)",
                setting=setting,
            )
        if lists:
            audit.find(
                "public-listing",
                f"lets anyone list the bucket{conditioned}: the keys name every gallery, private ones too",
                setting=setting,
            )
        return
    if beyond:
        audit.find(
            "cdn-policy-too-wide",
            f"lets CloudFront read {', '.join(beyond)}: the CDN serves anything it can read to whoever asks "
            f"for its path; grant it {only} only",
            setting=setting,
        )
    if lists:
        audit.find(
            "cdn-policy-too-wide",
            "lets CloudFront list the bucket: a request for the distribution's root then answers every key",
            setting=setting,
        )
    sourced = any(key.lower() in {"aws:sourcearn", "aws:sourceaccount"} for key in conditions)
    if cloudfront == "origin access control" and not sourced:
        audit.warn(
            "cdn-policy-unconditioned",
            "no AWS:SourceArn (or AWS:SourceAccount) condition: any CloudFront distribution, of any "
            "account, may read through it; add the condition of docs/deploy.md",
            setting=setting,
        )


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principal_of(statement: dict) -> tuple[bool, str | None]:
    """Whether an Allow statement is for anyone, and which way CloudFront it names ("origin access
    control": the service principal; "origin access identity": the legacy identity), if it does."""
    if "NotPrincipal" in statement:
        return True, None  # allow everyone but the named: public
    principal = statement.get("Principal")
    if principal == "*":
        return True, None
    if not isinstance(principal, dict):
        return False, None
    accounts = [str(value) for value in _as_list(principal.get("AWS"))]
    if _CLOUDFRONT_SERVICE in _as_list(principal.get("Service")):
        return "*" in accounts, "origin access control"
    if any(_ORIGIN_ACCESS_IDENTITY in account for account in accounts):
        return "*" in accounts, "origin access identity"
    return "*" in accounts, None


def _wildcard(pattern: str) -> re.Pattern:
    """An IAM pattern (``*`` any run of characters, ``?`` one) as a regular expression."""
    return re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), re.IGNORECASE | re.DOTALL)


def _allows_any(statement: dict, actions: tuple[str, ...]) -> bool:
    if "NotAction" in statement:  # Allow with NotAction: every action but those named
        excluded = [_wildcard(str(pattern)) for pattern in _as_list(statement["NotAction"])]
        return any(not any(pattern.fullmatch(action) for pattern in excluded) for action in actions)
    patterns = [_wildcard(str(pattern)) for pattern in _as_list(statement.get("Action"))]
    return any(pattern.fullmatch(action) for pattern in patterns for action in actions)


def _s3_path(resource: str) -> str | None:
    """``bucket/key-pattern`` of an S3 ARN (``*`` for ``*``); None for another service's resource."""
    if resource == "*":
        return "*"
    match = re.fullmatch(r"arn:[^:]*:s3:::(.*)", resource, re.DOTALL)
    return match.group(1) if match else None


def _reach_beyond_public(statement: dict, bucket: str) -> list[str]:
    """The statement's resources that can name an object of this bucket outside the public prefix."""
    if "NotResource" in statement:  # Allow with NotResource: everything but those named
        return ["everything but " + ", ".join(map(str, _as_list(statement["NotResource"])))]
    ours, beyond = f"{bucket}/", []
    for resource in map(str, _as_list(statement.get("Resource"))):
        path = _s3_path(resource)
        if path is None:
            continue
        literal = re.split(r"[*?]", path, maxsplit=1)[0]  # what every key it matches starts with
        if literal.startswith(ours + storage.PUBLIC_PREFIX):
            continue
        if literal.startswith(ours) or (literal != path and ours.startswith(literal)):
            beyond.append(resource)
    return beyond


def _covers_bucket(statement: dict, bucket: str) -> bool:
    if "NotResource" in statement:
        return True
    paths = [_s3_path(str(resource)) for resource in _as_list(statement.get("Resource"))]
    return any(path is not None and _wildcard(path).fullmatch(bucket) for path in paths)


# ---------------------------------------------------------------- the bucket's other settings


def _public_access_block_judge(audit: PrivacyAudit) -> None:
    setting = "Block Public Access"
    try:
        block = storage.bucket_public_access_block()
    except storage.NotImplementedHere:
        _not_judged(audit, setting, "Block Public Access")
        return
    if block is None:
        audit.warn(
            "public-access-block",
            "not set on the bucket: nothing stops a public ACL or policy from taking effect (an "
            "account-wide block may still apply); turn all four settings on (docs/deploy.md)",
            setting=setting,
        )
        return
    off = [flag for flag in BLOCK_PUBLIC_ACCESS_FLAGS if not block.get(flag)]
    if off:
        audit.warn(
            "public-access-block",
            f"{', '.join(off)} off: turn all four settings on (docs/deploy.md)",
            setting=setting,
        )


def _object_ownership_judge(audit: PrivacyAudit) -> bool:
    """Whether ACLs are in force (and so worth reading)."""
    setting = "Object Ownership"
    try:
        ownership = storage.bucket_object_ownership()
    except storage.NotImplementedHere:
        _not_judged(audit, setting, "Object Ownership", meanwhile="each object's ACL is read instead")
        return True
    if ownership == "BucketOwnerEnforced":
        audit.notes.append("Object Ownership is BucketOwnerEnforced: ACLs are off, so no ACL was read.")
        return False
    audit.warn(
        "object-ownership",
        f"{ownership or 'not set'}: ACLs are in force, so every object's ACL was read; set "
        "BucketOwnerEnforced (docs/deploy.md)",
        setting=setting,
    )
    return True


def _public_grants(grants: list[dict]) -> list[str]:
    return [
        f"{_PUBLIC_GROUPS[grant['Grantee'].get('URI')]} {grant.get('Permission')}"
        for grant in grants
        if grant.get("Grantee", {}).get("URI") in _PUBLIC_GROUPS
        and grant.get("Permission") in _READ_PERMISSIONS
    ]


def _bucket_acl_judge(audit: PrivacyAudit) -> None:
    try:
        grants = storage.bucket_acl_grants()
    except storage.NotImplementedHere:
        _not_judged(audit, "bucket ACL", "bucket ACLs")
        return
    for grant in _public_grants(grants):
        audit.find(
            "public-listing",
            f"the bucket's ACL grants {grant}: anyone may list the keys, which name every gallery",
            setting="bucket ACL",
        )


# ---------------------------------------------------------------- the objects


def _area_of(key: str) -> str:
    for area, root in (
        ("renditions", keys.RENDITIONS_ROOT),
        ("privateRenditions", keys.PRIVATE_RENDITIONS_ROOT),
        ("downloads", keys.DOWNLOADS_ROOT),
        ("originals", keys.ORIGINALS_ROOT),
        ("uploads", keys.UPLOADS_ROOT),
    ):
        if key.startswith(root):
            return area
    return "other"


class _ObjectWalk:
    """The per-object rules, applied as the listing streams by."""

    def __init__(self, audit: PrivacyAudit, *, acls_on: bool):
        self.audit = audit
        self.acls_on = acls_on
        # The listing comes in key order, so a gallery's public renditions come together: only the
        # current gallery's visibility is kept (one read per gallery).
        self.gallery_id: str | None = None
        self.visibility: str | None = None

    def judge(self, key: str, size: int) -> None:
        area = _area_of(key)
        self.audit.checked[area] += 1
        if area == "renditions":
            self._placement_judge(key)
        if area in ("renditions", "privateRenditions"):
            self._rendition_judge(key, size, public=area == "renditions")
        elif area == "downloads":
            self._download_judge(key, size)
        if area != "renditions" and self.acls_on:
            self._acl_judge(key)

    def _placement_judge(self, key: str) -> None:
        gallery_id = key[len(keys.RENDITIONS_ROOT) :].split("/", 1)[0]
        if gallery_id != self.gallery_id:
            self.gallery_id = gallery_id
            try:
                self.visibility = visibility_of(gallery_get(gallery_id=gallery_id, include_deleting=True))
            except NotFound:
                self.visibility = None
                self.audit.warn(
                    "renditions-of-no-gallery",
                    f"{keys.renditions_prefix(gallery_id)} is served publicly but no gallery {gallery_id} "
                    "exists: the full photos scan (manage.py update_gallery_photos without --gallery-id, "
                    "scheduled every 6 hours) deletes the renditions of galleries that do not exist",
                    key=keys.renditions_prefix(gallery_id),
                )
        if self.visibility == "private":
            self.audit.find(
                "private-rendition-public",
                f"gallery {gallery_id} is private, yet this rendition is under the publicly served "
                f"{storage.PUBLIC_PREFIX}: run the photos scan for the gallery, manage.py "
                f"update_gallery_photos --gallery-id {gallery_id} (it moves the gallery's renditions to "
                f"{keys.PRIVATE_RENDITIONS_ROOT} and deletes copies no photo owns), then invalidate the "
                f"CDN's cached copies: aws cloudfront create-invalidation --distribution-id <id> --paths "
                f'"/{keys.renditions_prefix(gallery_id)}*"',
                key=key,
            )

    def _rendition_judge(self, key: str, size: int, *, public: bool) -> None:
        found = self._metadata_of(key, size)
        if found is not None and found.kinds:
            served = "publicly served" if public else "served by signed URLs"
            self.audit.find(
                "rendition-metadata",
                f"carries {', '.join(found.kinds)} ({served}): renditions are made without metadata, so this "
                "one was not made by the service or was changed since; re-render it",
                key=key,
            )
        head = storage.object_head(key)
        metadata = head.metadata if head else {}
        named = [name for name, value in metadata.items() if _names_location(name, value)]
        if named:
            self.audit.find(
                "rendition-user-metadata",
                f"user metadata {', '.join('x-amz-meta-' + name for name in sorted(named))} names a location "
                "and is sent with every copy of the rendition",
                key=key,
            )

    def _download_judge(self, key: str, size: int) -> None:
        found = self._metadata_of(key, size)
        if found is not None and found.gps:
            self.audit.find(
                "download-location",
                f"a visitor's download copy still carries its location ({', '.join(found.gps)}): copies are "
                "made without GPS (photos.location_strip); delete it, the next download makes it again",
                key=key,
            )

    def _acl_judge(self, key: str) -> None:
        try:
            grants = storage.object_acl_grants(key)
        except storage.NotImplementedHere:
            self.acls_on = False
            _not_judged(self.audit, "object ACLs", "object ACLs")
            return
        self.audit.acls_read += 1
        public = _public_grants(grants or [])
        if public:
            self.audit.find(
                "public-acl",
                f"its ACL grants {', '.join(public)}: anyone may fetch it straight from S3, outside "
                f"{storage.PUBLIC_PREFIX}; remove the grant (put-object-acl --acl private) and set Object "
                "Ownership to BucketOwnerEnforced",
                key=key,
            )

    def _metadata_of(self, key: str, size: int) -> "_Metadata | None":
        """What metadata the object carries; None when it is gone or could not be read (a warning)."""
        try:
            return _metadata_read(key, size)
        except _Unreadable as error:
            self.audit.warn("not-judged", f"its metadata could not be read: {error}", key=key)
            return None


def _names_location(name: str, value: str) -> bool:
    return bool(_LOCATION_WORDS.search(name) or _LOCATION_WORDS.search(value))


# ---------------------------------------------------------------- metadata inside an image file


class _Unreadable(Exception):
    """The object's metadata could not be read with the bytes at hand."""


@dataclass
class _Metadata:
    exif: bool = False  # an EXIF block with at least one tag
    xmp: bool = False
    gps: list[str] = field(default_factory=list)  # where a location was seen: "EXIF GPS", "XMP GPS"

    @property
    def kinds(self) -> list[str]:
        present = {"EXIF": self.exif, "GPS": bool(self.gps), "XMP": self.xmp}
        return [name for name, carried in present.items() if carried]

    def exif_add(self, exif: Image.Exif) -> None:
        if len(exif):
            self.exif = True
        if ExifTags.IFD.GPSInfo in exif and "EXIF GPS" not in self.gps:
            self.gps.append("EXIF GPS")

    def xmp_add(self, packet: bytes) -> None:
        self.xmp = True
        self.text_add(packet)

    def text_add(self, data: bytes) -> None:
        if _XMP_GPS.search(data) and "XMP GPS" not in self.gps:
            self.gps.append("XMP GPS")


def _metadata_read(key: str, size: int) -> _Metadata | None:
    if size == 0:
        return _Metadata()  # nothing to read (and s3rver never answers a Range GET of an empty object)
    window = storage.object_range(key, length=HEAD_BYTES)
    if window is None:
        return None  # deleted since the listing
    if window[:4] == b"RIFF" and window[8:12] == b"WEBP":
        return _webp_metadata(key, window, size)
    try:
        found, format_name = _pillow_metadata(window)
    except _Unreadable:
        if size <= len(window):
            raise
        # A header longer than the first read (a large XMP or ICC profile before a JPEG's pixels).
        longer = size if size <= WHOLE_READ_BYTES else LONG_HEADER_BYTES
        window = storage.object_range(key, length=longer) or b""
        found, format_name = _pillow_metadata(window)
    if format_name == "PNG" and size > len(window):
        tail_start = max(len(window), size - HEAD_BYTES)
        _png_tail_add(found, storage.object_range(key, start=tail_start, length=HEAD_BYTES))
    return found


def _pillow_metadata(data: bytes) -> tuple[_Metadata, str | None]:
    """Metadata of the start of an image file, read by Pillow from its headers (nothing is decoded)."""
    found = _Metadata()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data", DecompressionBombWarning: headers only
            image = Image.open(io.BytesIO(data))
            # The base class's getexif reads what the headers hold; PNG's own would decode the pixels
            # (looking for an eXIf chunk after them: _png_tail_add reads those).
            found.exif_add(Image.Image.getexif(image))
    except Exception as error:  # Pillow raises many kinds for a header it cannot read
        raise _Unreadable(f"{type(error).__name__}: {error}") from None
    for name in ("xmp", "XML:com.adobe.xmp"):
        packet = image.info.get(name)
        if packet:
            found.xmp_add(packet if isinstance(packet, bytes) else str(packet).encode())
    found.text_add(data)  # a location repeated as text anywhere in the header (extended XMP too)
    return found, image.format


def _png_tail_add(found: _Metadata, tail: bytes | None) -> None:
    """A PNG's chunks after its pixels (the last 64 KiB): eXIf and XMP may follow the image data."""
    if not tail:
        return
    position = tail.find(b"eXIf")
    if position >= 4:
        length = int.from_bytes(tail[position - 4 : position], "big")
        found.exif_add(_exif_of(tail[position + 4 : position + 4 + length]))
    if b"XML:com.adobe.xmp" in tail:
        found.xmp_add(tail)


def _exif_of(payload: bytes) -> Image.Exif:
    exif = Image.Exif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exif.load(payload)
    except Exception as error:
        raise _Unreadable(f"an EXIF block that cannot be read ({type(error).__name__})") from None
    return exif


def _webp_metadata(key: str, window: bytes, size: int) -> _Metadata:
    """A WebP's EXIF and XMP chunks, found by walking its chunk headers (they follow the image data,
    so they are past the first read of any but a small file; Pillow cannot open a cut WebP)."""
    found = _Metadata()
    end = min(size, 8 + int.from_bytes(window[4:8], "little"))
    offset, chunks = 12, 0
    while offset + 8 <= end:
        chunks += 1
        if chunks > WEBP_MAX_CHUNKS:
            raise _Unreadable(f"a WebP of more than {WEBP_MAX_CHUNKS} chunks (an animation?)")
        header = _bytes_at(key, window, offset, 8)
        kind, length = header[:4], int.from_bytes(header[4:8], "little")
        if kind in (b"EXIF", b"XMP "):
            payload = _bytes_at(key, window, offset + 8, min(length, LONG_HEADER_BYTES))
            if kind == b"EXIF":
                found.exif_add(_exif_of(payload))
                found.exif = True  # an EXIF chunk, even an empty or unreadable one, is metadata served
            else:
                found.xmp_add(payload)
        offset += 8 + length + (length & 1)
    return found


def _bytes_at(key: str, window: bytes, start: int, length: int) -> bytes:
    if start + length <= len(window):
        return window[start : start + length]
    data = storage.object_range(key, start=start, length=length) or b""
    if len(data) < length:
        raise _Unreadable("the file ends inside a chunk")
    return data
