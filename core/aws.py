"""AWS clients in one place: PynamoDB's sessions, the bucket's storage and a raw S3 client, made lazily.

Nothing here talks to AWS at import time: moto must be active first in tests, and Lambda cold starts
stay short. Endpoints and region come from the AWS SDK's own environment variables.

Every client is bounded in time: connect and read timeouts and a number of attempts from the settings
(``client_config``; PynamoDB's models take theirs through ``ClientLimits``), and the request's deadline
checked before each attempt (``core.deadline.attempt_check`` on every botocore session made here).
"""

import threading
from collections.abc import Iterable
from functools import cache
from urllib.parse import urlsplit

from botocore.config import Config
from botocore.session import get_session
from django.conf import settings
from django.core.files.storage import storages
from pynamodb.connection import Connection, base
from pynamodb.models import Model

from core.deadline import attempt_check
from core.signed_urls import windowed

_thread_local = threading.local()


def client_config(**options) -> Config:
    """botocore's Config with the service's time bounds (timeouts and attempts) and ``options``."""
    return Config(
        connect_timeout=settings.AWS_CONNECT_TIMEOUT_SECONDS,
        read_timeout=settings.AWS_READ_TIMEOUT_SECONDS,
        retries={"total_max_attempts": settings.AWS_MAX_ATTEMPTS, "mode": "standard"},
        **options,
    )


def pynamodb_limits() -> dict[str, float]:
    """The same bounds in PynamoDB's words (``max_retry_attempts`` counts retries after the first)."""
    return {
        "connect_timeout_seconds": settings.AWS_CONNECT_TIMEOUT_SECONDS,
        "read_timeout_seconds": settings.AWS_READ_TIMEOUT_SECONDS,
        "max_retry_attempts": settings.AWS_MAX_ATTEMPTS - 1,
    }


# Mixed into every PynamoDB model's ``Meta`` (PynamoDB makes each model's client from these).
ClientLimits = type("ClientLimits", (), pynamodb_limits())


def botocore_session():
    """A new botocore session whose clients check the request's deadline before each attempt."""
    session = get_session()
    session.register("before-send", attempt_check)
    return session


def _thread_botocore_session():
    """One botocore session per thread, shared by every PynamoDB model (sessions are not thread-safe)."""
    session = getattr(_thread_local, "botocore_session", None)
    if session is None:
        session = _thread_local.botocore_session = botocore_session()
    return session


def share_botocore_sessions() -> None:
    """PynamoDB gives each model its own session, and each session loads and parses the DynamoDB API
    model again (~70 ms a client on a cold start or in a new upload thread); sharing one per thread
    lets every client after the first reuse it."""
    base.get_session = _thread_botocore_session


def media_storage():
    """The django-storages S3 storage holding originals and renditions."""
    return storages["default"]


def is_aws_endpoint(url: str | None) -> bool:
    """Whether a client's endpoint is AWS's own (not a local emulator): what an emulator answers for a
    call it lacks means an error there."""
    host = urlsplit(url or "").hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


@cache
def s3_client():
    """A raw S3 client for what the storage API lacks: listings with ETags, batch deletes, signing."""
    import boto3  # third-party, lazy: requests that never touch S3 skip its import on a cold start

    client = boto3.session.Session(botocore_session=botocore_session()).client(
        "s3", config=client_config(signature_version="s3v4", max_pool_connections=32)
    )
    return windowed(client)  # signed GET URLs stay the same within a window (browsers cache them)


@cache
def service_client(service: str):
    """A raw client of another AWS service the operator's set-up configures (``logs``, ``sqs``,
    ``lambda``), bounded in time like the others; its endpoint comes from the SDK's environment too
    (``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS``...), else AWS's own."""
    import boto3  # third-party, lazy, as above

    return boto3.session.Session(botocore_session=botocore_session()).client(service, config=client_config())


@cache
def transaction_connection():
    """The PynamoDB connection that carries multi-item transactions (TransactWriteItems)."""
    return Connection(**pynamodb_limits())  # type: ignore[arg-type]


def reset_connections(models: Iterable[type[Model]]) -> None:
    """Forget cached clients, so the next call picks up changed endpoints and time bounds (tests switch
    backends and shorten timeouts)."""
    s3_client.cache_clear()
    service_client.cache_clear()
    transaction_connection.cache_clear()
    storages._storages.pop("default", None)  # type: ignore[attr-defined]  # Django caches backends here
    for model in models:
        for name, value in pynamodb_limits().items():
            setattr(model.Meta, name, value)
        model._connection = None
        for index in model._indexes.values():
            index._connection = None  # type: ignore[attr-defined]  # PynamoDB caches each index's client
