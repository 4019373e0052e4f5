"""AWS access in one place: the tables, the bucket's storage and a raw S3 client, all created lazily.

Nothing here talks to AWS at import time: moto must be active first in tests, and Lambda cold starts
stay short. Endpoints and region come from the AWS SDK's own environment variables.
"""

import threading
from functools import cache

_thread_local = threading.local()


def table_models() -> tuple:
    """Every PynamoDB model the service owns, in creation order."""
    from galleries.models import Gallery
    from gallery_project.models import CuratorKey
    from photos.models import GalleryPhoto
    from ratings.models import PhotoRating

    return (Gallery, GalleryPhoto, PhotoRating, CuratorKey)


def _thread_botocore_session():
    """One botocore session per thread, shared by every PynamoDB model (sessions are not thread-safe)."""
    session = getattr(_thread_local, "botocore_session", None)
    if session is None:
        from botocore.session import get_session

        session = _thread_local.botocore_session = get_session()
    return session


def share_botocore_sessions() -> None:
    """PynamoDB gives each model its own session, and each session loads and parses the DynamoDB API
    model again (~70 ms a client on a cold start or in a new upload thread); sharing one per thread
    lets every client after the first reuse it."""
    from pynamodb.connection import base

    base.get_session = _thread_botocore_session


def media_storage():
    """The django-storages S3 storage holding originals and renditions."""
    from django.core.files.storage import storages

    return storages["default"]


@cache
def s3_client():
    """A raw S3 client for what the storage API lacks: listings with ETags, batch deletes, signing."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        config=Config(
            signature_version="s3v4",
            retries={"max_attempts": 4, "mode": "standard"},
            max_pool_connections=32,
        ),
    )


@cache
def transaction_connection():
    """The PynamoDB connection that carries multi-item transactions (TransactWriteItems)."""
    from pynamodb.connection import Connection

    return Connection()


def reset_connections() -> None:
    """Forget cached clients, so the next call picks up changed endpoints (tests switch backends)."""
    from django.core.files.storage import storages

    s3_client.cache_clear()
    transaction_connection.cache_clear()
    storages._storages.pop("default", None)
    for model in table_models():
        model._connection = None
        for index in model._indexes.values():
            index._connection = None
