"""Photo objects in S3: store, delete, list by prefix. Thin over django-storages and the S3 client."""

from collections.abc import Iterable, Iterator

from django.conf import settings

from gallery_project.aws import s3_client

_DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1000 keys


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


def _delete_batch(client, batch: list[dict]) -> int:
    response = client.delete_objects(Bucket=settings.BUCKET_NAME, Delete={"Objects": batch, "Quiet": True})
    errors = response.get("Errors") or []
    if errors:
        first = errors[0]
        raise RuntimeError(
            f"S3 refused to delete {len(errors)} objects, e.g. {first.get('Key')}: {first.get('Code')}"
        )
    return len(batch)


def objects_list(prefix: str) -> Iterator[dict]:
    """Stream the objects under a prefix (Key, Size, ETag), one listing page at a time."""
    paginator = s3_client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings.BUCKET_NAME, Prefix=prefix):
        yield from page.get("Contents", ())


def objects_delete_prefix(prefix: str) -> int:
    return objects_delete(item["Key"] for item in objects_list(prefix))
