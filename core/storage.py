"""Every S3 read and write of the service goes through here: objects, listings, deletes, URLs, the bucket.

Objects are written through django-storages (``STORAGES["default"]``); what its API lacks (ETags,
server-side copies, listings, batch deletes, presigned forms and URLs) uses the raw client of
``core.aws``. Callers name keys; the key layout belongs to the app that owns the objects.
"""

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.base import ContentFile

from core.aws import is_aws_endpoint, media_storage, s3_client

_DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1000 keys
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _MISSING


# ---------------------------------------------------------------- objects


def object_put(key: str, data: bytes, content_type: str, *, cache_control: str | None = None) -> None:
    """Store bytes under a key through django-storages, served with ``content_type`` (and
    ``cache_control`` when given)."""
    content = ContentFile(data)
    content.content_type = content_type  # type: ignore[attr-defined]  # django-storages reads it
    if cache_control:
        content.cache_control = cache_control  # type: ignore[attr-defined]  # core.media_storage reads it
    media_storage().save(key, content)


@dataclass(frozen=True)
class ObjectHead:
    """What a HEAD tells of an object besides its bytes: its size, its ETag (what a scan's listing
    compares against: an MD5 we computed would differ for multipart and KMS-encrypted objects) and the
    headers S3 serves with it."""

    size: int
    etag: str
    content_type: str | None
    content_disposition: str | None
    cache_control: str | None
    metadata: dict[str, str]  # user metadata, x-amz-meta-* without the prefix


def object_head(key: str) -> ObjectHead | None:
    """An object's size, ETag, headers and user metadata (one HEAD), or None when there is none."""
    try:
        head = s3_client().head_object(Bucket=settings.BUCKET_NAME, Key=key)
    except ClientError as error:
        if _is_missing(error):
            return None
        raise
    return ObjectHead(
        size=int(head["ContentLength"]),
        etag=head["ETag"].strip('"'),
        content_type=head.get("ContentType"),
        content_disposition=head.get("ContentDisposition"),
        cache_control=head.get("CacheControl"),
        metadata=dict(head.get("Metadata") or {}),
    )


def object_copy(source: str, target: str, content_type: str, *, cache_control: str | None = None) -> str:
    """Copy an object inside the bucket (no bytes through us) with a new content type (and
    ``cache_control`` when given: a copy keeps none of the source's headers); its ETag."""
    headers = {"CacheControl": cache_control} if cache_control else {}
    response = s3_client().copy_object(
        Bucket=settings.BUCKET_NAME,
        Key=target,
        CopySource={"Bucket": settings.BUCKET_NAME, "Key": source},
        ContentType=content_type,
        MetadataDirective="REPLACE",
        **headers,
    )
    return response["CopyObjectResult"]["ETag"].strip('"')


def object_copy_if_present(
    source: str, target: str, content_type: str, *, cache_control: str | None = None
) -> bool:
    """``object_copy``, False instead of an error when the source is gone (someone moved it first)."""
    try:
        object_copy(source, target, content_type, cache_control=cache_control)
    except ClientError as error:
        if _is_missing(error):
            return False
        raise
    return True


class _Body(Protocol):
    def read(self) -> bytes: ...
    def close(self) -> None: ...


@dataclass
class OpenedObject:
    """An object whose size is known and whose bytes are read only when asked (one GET in all)."""

    size: int
    _body: _Body

    def read(self) -> bytes:
        return self._body.read()

    def close(self) -> None:
        self._body.close()


def object_open(key: str) -> OpenedObject | None:
    """Start reading an object: its size at once, its bytes on ``read()``; None when there is none."""
    try:
        response = s3_client().get_object(Bucket=settings.BUCKET_NAME, Key=key)
    except ClientError as error:
        if _is_missing(error):
            return None
        raise
    return OpenedObject(int(response["ContentLength"]), response["Body"])


def objects_delete(keys: Iterable[str]) -> int:
    """Delete keys in batches; a key that is already gone counts as deleted (deletes are idempotent)."""
    client, deleted, batch = s3_client(), 0, []
    for key in keys:
        batch.append({"Key": key})
        if len(batch) == _DELETE_BATCH:
            deleted += _delete_batch(client, batch)
            batch = []
    if batch:
        deleted += _delete_batch(client, batch)
    return deleted


# ---- versions (the bucket keeps them: an operator's restore reads and removes delete markers)


def bucket_versioning() -> str | None:
    """The bucket's versioning: "Enabled", "Suspended", or None when it never kept versions."""
    return s3_client().get_bucket_versioning(Bucket=settings.BUCKET_NAME).get("Status")


def object_versions_list(prefix: str) -> Iterator[tuple[str, dict]]:
    """Every version and delete marker under a prefix, as ("version" or "marker", its listing entry:
    Key, VersionId, IsLatest, LastModified...), one listing page at a time."""
    paginator = s3_client().get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=settings.BUCKET_NAME, Prefix=prefix):
        for version in page.get("Versions", ()):
            yield "version", version
        for marker in page.get("DeleteMarkers", ()):
            yield "marker", marker


def object_versions_delete(versions: list[dict]) -> list[dict]:
    """Delete these versions (``{"Key", "VersionId"}``; a delete marker's undeletes its object), in
    batches; the ones S3 refused, each with its Key and Message."""
    client = s3_client()
    refused: list[dict] = []
    for start in range(0, len(versions), _DELETE_BATCH):
        batch = versions[start : start + _DELETE_BATCH]
        response = client.delete_objects(
            Bucket=settings.BUCKET_NAME, Delete={"Objects": batch, "Quiet": True}
        )
        refused += response.get("Errors") or []
    return refused


def _delete_batch(client, batch: list[dict]) -> int:
    response = client.delete_objects(Bucket=settings.BUCKET_NAME, Delete={"Objects": batch, "Quiet": True})
    errors = response.get("Errors") or []
    if errors:
        # As a client error with the first key's code, so the one classification decides: SlowDown or
        # InternalError is "try again" (503), AccessDenied is our fault (500).
        first = errors[0]
        message = (
            f"S3 refused to delete {len(errors)} objects, e.g. {first.get('Key')}: {first.get('Message')}"
        )
        raise ClientError(
            {"Error": {"Code": first.get("Code", "InternalError"), "Message": message}}, "DeleteObjects"
        )
    return len(batch)


def objects_list(prefix: str) -> Iterator[dict]:
    """Stream the objects under a prefix (Key, Size, ETag, LastModified), one listing page at a time."""
    paginator = s3_client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings.BUCKET_NAME, Prefix=prefix):
        yield from page.get("Contents", ())


def objects_delete_prefix(prefix: str) -> int:
    return objects_delete(item["Key"] for item in objects_list(prefix))


def prefix_has_objects(prefix: str) -> bool:
    listing = s3_client().list_objects_v2(Bucket=settings.BUCKET_NAME, Prefix=prefix, MaxKeys=1)
    return bool(listing.get("KeyCount"))


def subprefixes_list(prefix: str) -> Iterator[str]:
    """The "folders" right under a prefix (``galleries/a/``, ``galleries/b/``...), streamed."""
    paginator = s3_client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings.BUCKET_NAME, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", ()):
            yield common["Prefix"]


# ---------------------------------------------------------------- browser uploads


def presigned_post(key: str, *, content_type: str, max_bytes: int, expires_in: int) -> dict:
    """A form a browser posts one file with, straight to S3; S3 itself enforces type and size."""
    return s3_client().generate_presigned_post(
        Bucket=settings.BUCKET_NAME,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=expires_in,
    )


def upload_origin() -> str:
    """The origin a browser posts upload forms to (``presigned_post``'s URL; signed here, no call made),
    for a page's Content-Security-Policy."""
    form = presigned_post("origin", content_type="image/jpeg", max_bytes=1, expires_in=60)
    return url_origin(form["url"]) or ""  # boto signs an absolute URL


def url_origin(url: str) -> str | None:
    """A URL's origin (``scheme://host[:port]``), as a Content-Security-Policy names it; None for a
    relative URL."""
    part = urlsplit(url)
    return f"{part.scheme}://{part.netloc}" if part.netloc else None


# ---------------------------------------------------------------- URLs


# The one prefix the bucket serves to the public (the bucket policy in docs/deploy.md, behind the CDN):
# renditions of galleries visitors may see. Every other object (originals, renditions of private
# galleries, download copies) is only ever reached through a short-lived signed URL.
PUBLIC_PREFIX = "renditions/"


def is_public_key(key: str) -> bool:
    return key.startswith(PUBLIC_PREFIX) and ".." not in key.split("/")


def stored_url(key: str) -> str:
    """The URL kept in DynamoDB: the public/CDN base for publicly served keys when configured, else the
    canonical S3 URL (which only a signature opens)."""
    if settings.MEDIA_PUBLIC_BASE_URL and is_public_key(key):
        return f"{settings.MEDIA_PUBLIC_BASE_URL}/{key}"
    return f"https://{settings.BUCKET_NAME}.s3.{settings.AWS_REGION}.amazonaws.com/{key}"


def readable_url(key: str | None, stored: str | None) -> str | None:
    """The URL to hand a reader: the public one for a publicly served key when there is a public base,
    else a short-lived signed one (always for keys outside ``PUBLIC_PREFIX``)."""
    if not key:
        return stored
    if settings.MEDIA_PUBLIC_BASE_URL and is_public_key(key):
        return stored_url(key)
    return signed_url(key)


def signed_url(key: str, *, seconds: int | None = None, filename: str | None = None) -> str:
    """A short-lived GET URL of one object; ``filename`` makes the browser save it under that name."""
    params = {"Bucket": settings.BUCKET_NAME, "Key": key}
    if filename:
        params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
    return s3_client().generate_presigned_url(
        "get_object", Params=params, ExpiresIn=seconds or settings.MEDIA_SIGNED_URL_SECONDS
    )


def image_origins() -> list[str]:
    """The origins a page may load renditions from: the public base (when there is one) and the bucket's
    signed URLs (signed here, no call made). A page that adds photos while open needs them before its
    first photo exists."""
    urls = [signed_url("origin"), settings.MEDIA_PUBLIC_BASE_URL]
    return sorted({origin for url in urls if url and (origin := url_origin(url))})


def key_from_stored_url(url: str | None) -> str | None:
    """Recover a rendition's object key from a URL made by ``stored_url``, whatever base it was made
    with: a URL stored before ``MEDIA_PUBLIC_BASE_URL`` changed (or a CDN was turned on or off) still
    names its object, so every answer follows the new base at once, with no migration. Keys stored URLs
    name are renditions (``PUBLIC_PREFIX``, or the same under ``private/``): found from the right, so a
    base whose own path holds such a word does not mislead it."""
    if not url:
        return None
    for base in (settings.MEDIA_PUBLIC_BASE_URL, stored_url("").rstrip("/")):
        if base and url.startswith(base + "/"):
            return url[len(base) + 1 :]
    # renditions/{galleryId}/{file}, or private/renditions/{galleryId}/{file}: the path's last parts.
    parts = urlsplit(url).path.split("/")
    if len(parts) < 4 or parts[-3] + "/" != PUBLIC_PREFIX or not parts[-2] or not parts[-1]:
        return None
    private = parts[-4] == "private"
    return "/".join(parts[-4 if private else -3 :])


# ---------------------------------------------------------------- the bucket

# The one CORS rule the service owns on the bucket (found by this ID; rules of other IDs are kept).
CORS_RULE_ID = "browser-uploads-and-reads"
# How long a browser may reuse a preflight's answer (browsers cap it lower: Chrome at 2 hours).
CORS_MAX_AGE_SECONDS = 3600


def bucket_cors_rules(origins: Sequence[str]) -> list[dict]:
    """The bucket's CORS rules for pages on ``origins`` (``["*"]``: any page), in S3's own shape
    (``PutBucketCors``'s ``CORSRules``); none when there is no origin. Pure: ``bucket_ensure`` puts it on
    the bucket on AWS, and the local S3 is configured from the same rule.

    - ``POST``: a page posts a file straight to S3 with a presigned form (``presigned_post``). The form
      itself is a simple request, but a page that watches the upload's progress makes the browser ask
      first (a preflight), and without ``Access-Control-Allow-Origin`` on S3's answer the page cannot read
      whether it worked.
    - ``GET``, ``HEAD``: a page that reads renditions or originals with ``fetch`` (drawing on a canvas,
      caching them) rather than an ``<img>``. ``PUT`` is not allowed: no URL for it is ever signed.
    - Headers a page may send: ``Range`` (part of an original), ``If-None-Match``/``If-Modified-Since``
      (revalidating a copy it keeps), ``Content-Type`` (a form whose type a client sets explicitly).
      Signatures travel in the form or the query string, never in ``x-amz-*`` headers.
    - Headers a page may read: ``ETag`` (what S3 stored, to compare or revalidate) and
      ``x-amz-version-id`` (which version an upload made, the bucket being versioned).
    """
    if not origins:
        return []
    return [
        {
            "ID": CORS_RULE_ID,
            "AllowedOrigins": list(origins),
            "AllowedMethods": ["GET", "HEAD", "POST"],
            "AllowedHeaders": ["Content-Type", "Range", "If-None-Match", "If-Modified-Since"],
            "ExposeHeaders": ["ETag", "x-amz-version-id"],
            "MaxAgeSeconds": CORS_MAX_AGE_SECONDS,
        }
    ]


def cors_origins() -> list[str]:
    """The origins whose pages may call the service, as django-cors-headers is configured: ``["*"]`` when
    every origin may (``CORS_ALLOW_ALL_ORIGINS``), else ``CORS_ALLOWED_ORIGINS``."""
    if settings.CORS_ALLOW_ALL_ORIGINS:
        return ["*"]
    return list(settings.CORS_ALLOWED_ORIGINS)


def bucket_ensure(
    bucket: str,
    *,
    lifecycle_rules: Sequence[dict] = (),
    cors_rules: Sequence[dict] | None = None,
    versioning: bool = False,
) -> str:
    """Create the bucket when it is missing, then bring what is asked to the wanted state: the given
    lifecycle rules (each replaces the rule of the same ID; other rules are kept), the CORS rules (same,
    with ``CORS_RULE_ID`` removed when there are none), versioning turned on. One line saying what was
    done, a clause per setting: "in place" when it already was, and which settings this S3 cannot hold
    (the local s3rver implements CORS only)."""
    client = s3_client()
    try:
        client.head_bucket(Bucket=bucket)
        clauses = [f"bucket {bucket}: exists"]
    except ClientError as exc:
        if not _is_missing(exc):
            raise
        region = client.meta.region_name
        if region and region != "us-east-1":
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        else:
            client.create_bucket(Bucket=bucket)
        clauses = [f"bucket {bucket}: created"]
    if lifecycle_rules:
        clauses.append(_lifecycle_ensure(client, bucket, list(lifecycle_rules)))
    if cors_rules is not None:
        clauses.append(_cors_ensure(client, bucket, list(cors_rules)))
    if versioning:
        clauses.append(_versioning_ensure(client, bucket))
    return ", ".join(clauses)


def _cannot_hold(setting: str, error: ClientError, *, note: str = "") -> str:
    code = error.response.get("Error", {}).get("Code") or error.response.get("ResponseMetadata", {}).get(
        "HTTPStatusCode"
    )
    return f"{setting}: this S3 cannot hold it (it answers {code}{note})"


_LIFECYCLE_LOCALLY = "; locally the photos scan removes stale uploads"


def _lifecycle_ensure(client, bucket: str, rules: list[dict]) -> str:
    try:
        current = client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            current = []
        elif _not_implemented(exc):
            return _cannot_hold("lifecycle rules", exc, note=_LIFECYCLE_LOCALLY)
        else:
            raise
    ours = {rule["ID"] for rule in rules}
    wanted = [rule for rule in current if rule.get("ID") not in ours] + rules
    if [rule for rule in current if rule.get("ID") in ours] == rules:
        return "lifecycle rules in place"
    try:
        client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": wanted})
    except ClientError as exc:
        if _not_implemented(exc):
            return _cannot_hold("lifecycle rules", exc, note=_LIFECYCLE_LOCALLY)
        raise
    return f"lifecycle rules set ({', '.join(sorted(ours))})"


def _cors_comparable(rules: list[dict]) -> list[dict]:
    """Rules as S3 compares them: the order of rules matters (the first that matches applies), the
    order of origins, methods and headers inside one does not."""
    return [
        {key: sorted(value) if isinstance(value, list) else value for key, value in rule.items()}
        for rule in rules
    ]


def _cors_ensure(client, bucket: str, rules: list[dict]) -> str:
    try:
        current = client.get_bucket_cors(Bucket=bucket).get("CORSRules", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchCORSConfiguration":
            current = []
        elif _not_implemented(exc):
            return _cannot_hold("CORS", exc)
        else:
            raise
    ours = {CORS_RULE_ID} | {rule["ID"] for rule in rules}
    # Ours first: S3 applies the first rule that matches a request's origin and method.
    wanted = rules + [rule for rule in current if rule.get("ID") not in ours]
    if _cors_comparable(current) == _cors_comparable(wanted):
        return "CORS rule in place" if rules else "no CORS rule (no origins configured)"
    try:
        if wanted:
            client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": wanted})
        else:  # S3 takes no empty configuration
            client.delete_bucket_cors(Bucket=bucket)
    except ClientError as exc:
        if _not_implemented(exc):
            return _cannot_hold("CORS", exc)
        raise
    if not rules:
        return "CORS rule removed (no origins configured)"
    origins = sorted({origin for rule in rules for origin in rule["AllowedOrigins"]})
    return f"CORS rule set for {', '.join(origins)}"


def _versioning_ensure(client, bucket: str) -> str:
    """Turn versioning on (it is never turned off here: once on, S3 can only suspend it). The local
    s3rver knows no ?versioning: it lists the bucket for a GET of it (an answer with no status, as for a
    bucket never versioned) and takes a PUT of it for a CreateBucket, answering BucketAlreadyExists (or
    BucketAlreadyOwnedByYou), which no real PutBucketVersioning answers. Not read back after the PUT: S3
    may take minutes to show a bucket's first versioning change."""
    try:
        status = client.get_bucket_versioning(Bucket=bucket).get("Status")
        if status == "Enabled":
            return "versioning in place"
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if _not_implemented(exc) or code in {"BucketAlreadyExists", "BucketAlreadyOwnedByYou"}:
            return _cannot_hold("versioning", exc)
        raise
    return "versioning turned on" + (" (it was suspended)" if status == "Suspended" else "")


# ---------------------------------------------------------------- what the privacy audit reads

# What an S3 answers for a request it does not implement (the local s3rver: 501 NotImplemented, or 405
# MethodNotAllowed for a subresource it knows by name only). The setting then cannot be judged there.
_NOT_IMPLEMENTED = {"NotImplemented", "MethodNotAllowed", "501", "405"}


class NotImplementedHere(Exception):
    """This S3 does not implement the read (the local emulator): what it would show cannot be judged."""


def _not_implemented(error: ClientError) -> bool:
    """Whether an emulator answered that it does not implement the call. Never on AWS's own S3, where
    405 and 501 mean something else (405: credentials of another account) and must not pass as "this S3
    cannot hold it"."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    unknown = error.response.get("Error", {}).get("Code") in _NOT_IMPLEMENTED or status in {405, 501}
    return unknown and not _on_aws()


def _on_aws() -> bool:
    return is_aws_endpoint(s3_client().meta.endpoint_url)


def _bucket_read(operation: str, absent: str | None = None) -> dict | None:
    """One GetBucket* call on the bucket: its answer, None when S3 says the setting is not set (the
    ``absent`` error code), ``NotImplementedHere`` when this S3 does not implement it."""
    try:
        return getattr(s3_client(), operation)(Bucket=settings.BUCKET_NAME)
    except ClientError as error:
        if absent is not None and error.response.get("Error", {}).get("Code") == absent:
            return None
        if _not_implemented(error):
            raise NotImplementedHere(operation) from error
        raise


def bucket_policy() -> dict | None:
    """The bucket policy as a document, or None when the bucket has none."""
    answer = _bucket_read("get_bucket_policy", "NoSuchBucketPolicy")
    if answer is None:
        return None
    if "Policy" not in answer:
        raise NotImplementedHere("get_bucket_policy")
    return json.loads(answer["Policy"])


def bucket_public_access_block() -> dict[str, bool] | None:
    """The bucket's Block Public Access flags (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy,
    RestrictPublicBuckets), or None when the bucket has no such configuration."""
    answer = _bucket_read("get_public_access_block", "NoSuchPublicAccessBlockConfiguration")
    if answer is None:
        return None
    if "PublicAccessBlockConfiguration" not in answer:
        raise NotImplementedHere("get_public_access_block")
    return dict(answer["PublicAccessBlockConfiguration"])


def bucket_object_ownership() -> str | None:
    """The bucket's Object Ownership (``BucketOwnerEnforced`` turns ACLs off), or None when none is set."""
    answer = _bucket_read("get_bucket_ownership_controls", "OwnershipControlsNotFoundError")
    if answer is None:
        return None
    rules = answer.get("OwnershipControls", {}).get("Rules")
    if not rules:
        # Real S3 always names a rule; an S3 that answers without one (s3rver lists the bucket instead)
        # did not understand the question.
        raise NotImplementedHere("get_bucket_ownership_controls")
    return rules[0].get("ObjectOwnership")


def bucket_acl_grants() -> list[dict]:
    """The grants of the bucket's ACL (``Grantee`` with Type/URI/ID, ``Permission``)."""
    answer = _bucket_read("get_bucket_acl") or {}
    return list(answer.get("Grants") or ())


def object_acl_grants(key: str) -> list[dict] | None:
    """The grants of an object's ACL, or None when there is no such object."""
    try:
        answer = s3_client().get_object_acl(Bucket=settings.BUCKET_NAME, Key=key)
    except ClientError as error:
        if _is_missing(error):
            return None
        if _not_implemented(error):
            raise NotImplementedHere("get_object_acl") from error
        raise
    return list(answer.get("Grants") or ())


def object_range(key: str, *, length: int, start: int = 0) -> bytes | None:
    """Up to ``length`` bytes of an object from ``start`` (a Range GET: the rest is never sent); empty
    past the end, None when there is no such object."""
    try:
        response = s3_client().get_object(
            Bucket=settings.BUCKET_NAME, Key=key, Range=f"bytes={start}-{start + length - 1}"
        )
    except ClientError as error:
        if _is_missing(error):
            return None
        if error.response.get("Error", {}).get("Code") == "InvalidRange":  # an empty object, or past its end
            return b""
        raise
    with contextlib.closing(response["Body"]) as body:
        # An S3 that ignores Range sends the whole object: keep only what was asked for.
        return body.read(length)
