"""AWS clients in one place: PynamoDB's sessions, the bucket's storage and a raw S3 client, made lazily.

Nothing here talks to AWS at import time: moto must be active first in tests, and Lambda cold starts
stay short. Endpoints and region come from the AWS SDK's own environment variables.
"""

import threading
from collections.abc import Iterable
from functools import cache

from botocore.config import Config
from botocore.session import get_session
from django.core.files.storage import storages
from pynamodb.connection import Connection, base
from pynamodb.models import Model

_thread_local = threading.local()


def _thread_botocore_session():
    """One botocore session per thread, shared by every PynamoDB model (sessions are not thread-safe)."""
    session = getattr(_thread_local, "botocore_session", None)
    if session is None:
        session = _thread_local.botocore_session = get_session()
    return session


def share_botocore_sessions() -> None:
    """PynamoDB gives each model its own session, and each session loads and parses the DynamoDB API
    model again (~70 ms a client on a cold start or in a new upload thread); sharing one per thread
    lets every client after the first reuse it."""
    base.get_session = _thread_botocore_session


def media_storage():
    """The django-storages S3 storage holding originals and renditions."""
    return storages["default"]


@cache
def s3_client():
    """A raw S3 client for what the storage API lacks: listings with ETags, batch deletes, signing."""
    import boto3  # third-party, lazy: requests that never touch S3 skip its import on a cold start

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
    return Connection()


def reset_connections(models: Iterable[type[Model]]) -> None:
    """Forget cached clients, so the next call picks up changed endpoints (tests switch backends)."""
    s3_client.cache_clear()
    transaction_connection.cache_clear()
    storages._storages.pop("default", None)  # type: ignore[attr-defined]  # Django caches backends here
    for model in models:
        model._connection = None
        for index in model._indexes.values():
            index._connection = None  # type: ignore[attr-defined]  # PynamoDB caches each index's client
