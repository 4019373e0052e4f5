"""Public URLs of stored objects: stable URLs are stored; a private bucket's URLs are signed on read."""

from django.conf import settings

from gallery_project.aws import s3_client


def stored_url(key: str) -> str:
    """The URL kept in DynamoDB: the public/CDN base when configured, else the canonical S3 URL."""
    if settings.MEDIA_PUBLIC_BASE_URL:
        return f"{settings.MEDIA_PUBLIC_BASE_URL}/{key}"
    return f"https://{settings.BUCKET_NAME}.s3.{settings.AWS_REGION}.amazonaws.com/{key}"


def readable_url(key: str | None, stored: str | None) -> str | None:
    """The URL to hand a reader: the stored one when public, else a short-lived signed one."""
    if not key:
        return stored
    if settings.MEDIA_PUBLIC_BASE_URL:
        return stored or stored_url(key)
    return s3_client().generate_presigned_url(
        "get_object",
        Params={"Bucket": settings.BUCKET_NAME, "Key": key},
        ExpiresIn=settings.MEDIA_SIGNED_URL_SECONDS,
    )


def key_from_stored_url(url: str | None) -> str | None:
    """Recover the object key from a URL made by ``stored_url`` (for signing covers on read)."""
    if not url:
        return None
    for base in (settings.MEDIA_PUBLIC_BASE_URL, stored_url("").rstrip("/")):
        if base and url.startswith(base + "/"):
            return url[len(base) + 1 :]
    return None
