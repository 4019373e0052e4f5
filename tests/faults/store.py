"""The store a fault test works on: the service pointed at this worker's emulators, emptied around each test.

``store_open`` sets the environment ``make run`` writes to ``.local/env`` (endpoints, s3rver's key pair,
checksums only when required), forgets every cached client, creates the tables and the bucket and a
curator key. ``store_close`` brings stopped or frozen services back, empties every table and every
bucket, and forgets the clients again unless the next test is a fault test too, so a moto test that
follows in the same worker makes its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pytest
from django.core.cache import cache as django_cache
from rest_framework.test import APIClient

from devtools.local_services.env import local_env_defaults
from devtools.local_services.probes import local_aws_client
from gallery_project.curators import curator_key_create
from gallery_project.resources import connections_reset, resources_ensure, table_models
from tests.faults.injection import fault_exempt
from tests.faults.invariants import StoreSnapshot, assert_store_consistent, store_violations
from tests.faults.services import FaultServices

# What `make run` writes that matters to the clients (the bucket and table names stay the tests' own).
ENV_FROM_LOCAL_DEFAULTS = (
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REQUEST_CHECKSUM_CALCULATION",
    "AWS_RESPONSE_CHECKSUM_VALIDATION",
)
# tests.isolation sets a session token for moto; s3rver knows only its own key pair.
ENV_REMOVED = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL")
_BATCH_WRITE_LIMIT = 25


def store_environment(services: FaultServices) -> dict[str, str]:
    defaults = local_env_defaults()
    return {
        **{name: defaults[name] for name in ENV_FROM_LOCAL_DEFAULTS},
        "AWS_ENDPOINT_URL_DYNAMODB": services.dynamodb.endpoint_url,
        "AWS_ENDPOINT_URL_S3": services.s3.endpoint_url,
    }


@cache
def _admin_client(service: str, endpoint_url: str):
    return fault_exempt(local_aws_client(service, endpoint_url))


def store_wipe(services: FaultServices) -> None:
    """Delete every item of every table and every object, with our own clients (whatever state the
    service's clients are in). Items, not tables: recreating the five tables costs about half a second
    a test, emptying them a few calls; ``resources_ensure`` restores a table or index a test removed."""
    dynamodb = _admin_client("dynamodb", services.dynamodb.endpoint_url)
    for page in dynamodb.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            _table_empty(dynamodb, name)
    s3 = _admin_client("s3", services.s3.endpoint_url)
    for bucket in s3.list_buckets().get("Buckets", []):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"])
        # One by one: s3rver's DeleteObjects deletes a batch in parallel, and without the store lock
        # devtools preloads, siblings emptying one folder race (ENOENT, 500).
        for key in [item["Key"] for page in pages for item in page.get("Contents", ())]:
            s3.delete_object(Bucket=bucket["Name"], Key=key)
    for announced in services.s3_events.glob("*"):  # what the test's writes announced
        announced.unlink(missing_ok=True)


def _table_empty(dynamodb, name: str) -> None:
    key_names = [
        key["AttributeName"] for key in dynamodb.describe_table(TableName=name)["Table"]["KeySchema"]
    ]
    projection = ", ".join(f"#k{n}" for n in range(len(key_names)))
    names = {f"#k{n}": key_name for n, key_name in enumerate(key_names)}
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=name, ProjectionExpression=projection, ExpressionAttributeNames=names, ConsistentRead=True
    )
    keys = [item for page in pages for item in page.get("Items", ())]
    for start in range(0, len(keys), _BATCH_WRITE_LIMIT):
        requests = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + _BATCH_WRITE_LIMIT]]
        while requests:  # DynamoDB may hand some back unprocessed
            unprocessed = dynamodb.batch_write_item(RequestItems={name: requests}).get("UnprocessedItems", {})
            requests = unprocessed.get(name, [])


@dataclass
class FaultStore:
    """What a fault test gets: the services (to freeze or kill), a curator key, clients, the checker."""

    services: FaultServices
    curator_key: str
    keep_clients: bool = True  # False: the next test remakes every client (say, after patching one)

    def curator_api(self) -> APIClient:
        """A new APIClient with the curator key (one per thread when racing requests)."""
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {self.curator_key}")
        return api

    def anonymous_api(self) -> APIClient:
        return APIClient()

    def snapshot(self) -> StoreSnapshot:
        return StoreSnapshot.read()

    def violations(self) -> list[str]:
        return store_violations()

    def assert_consistent(self) -> None:
        assert_store_consistent()


@dataclass
class _WorkerState:
    """What the previous fault test of this worker left: an empty store, clients made for our services."""

    wiped: bool = False
    clients_for: FaultServices | None = None
    connections: tuple = ()


_state = _WorkerState()


def _model_connections() -> tuple:
    """The PynamoDB connections the models hold now (a test that called connections_reset changed them)."""
    return tuple(model._connection for model in table_models())


def store_open(services: FaultServices, monkeypatch: pytest.MonkeyPatch) -> FaultStore:
    services.ensure_running()
    if not _state.wiped:
        store_wipe(services)  # the first test of the worker, or a teardown that failed half-way
    _state.wiped = False
    for name in ENV_REMOVED:
        monkeypatch.delenv(name, raising=False)
    for name, value in store_environment(services).items():
        monkeypatch.setenv(name, value)
    if _state.clients_for is not services:
        connections_reset()
    resources_ensure()
    _state.clients_for, _state.connections = services, _model_connections()
    django_cache.clear()  # rating throttle counts
    key, _ = curator_key_create(label="faults")
    return FaultStore(services, key)


def store_close(store: FaultStore, *, next_test_is_ours: bool) -> None:
    """Undo what the test left (a frozen or killed service, items, objects).

    Every cached client is forgotten unless the next test is a fault test too and the clients are the
    ones ``store_open`` made (same endpoints, same settings): remaking them costs about 0.8 s a test.
    A test that changes how clients are made (timeouts...) calls ``connections_reset``, which is seen.
    """
    try:
        store.services.ensure_running()
        store_wipe(store.services)
        _state.wiped = True
    finally:
        if not (next_test_is_ours and store.keep_clients and _model_connections() == _state.connections):
            connections_reset()
            _state.clients_for, _state.connections = None, ()
        django_cache.clear()
