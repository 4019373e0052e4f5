"""boto3 clients for the local stand-ins, and readiness checks that make a real API call."""

from __future__ import annotations

from collections.abc import Callable

import boto3
from botocore.config import Config

from devtools.local_services.config import (
    LOCAL_ACCESS_KEY_ID,
    LOCAL_REGION,
    LOCAL_SECRET_ACCESS_KEY,
    loopback_url,
)
from devtools.local_services.processes import port_accepts_connections


def local_aws_client(service_name: str, endpoint_url: str, config: Config | None = None):
    """A boto3 client for a local stand-in that ignores the caller's AWS environment and fails fast.

    ``config`` is merged over those defaults (e.g. a larger connection pool for many threads).
    """
    defaults = Config(
        connect_timeout=1,
        read_timeout=5,
        retries={"total_max_attempts": 1},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        service_name,
        endpoint_url=endpoint_url,
        region_name=LOCAL_REGION,
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
        aws_session_token=None,
        config=defaults if config is None else defaults.merge(config),
    )


def api_probe(service_name: str, port: int, call: str) -> Callable[[], bool]:
    """A readiness check: the port accepts a connection, then a real API call succeeds."""
    client = local_aws_client(service_name, loopback_url(port))

    def answers() -> bool:
        if not port_accepts_connections(port):
            return False
        try:
            getattr(client, call)()
        except Exception:  # any failure just means "not ready yet"; the caller's timeout reports it
            return False
        return True

    return answers


def dynamodb_answers(port: int) -> Callable[[], bool]:
    return api_probe("dynamodb", port, "list_tables")


def s3_answers(port: int) -> Callable[[], bool]:
    return api_probe("s3", port, "list_buckets")
