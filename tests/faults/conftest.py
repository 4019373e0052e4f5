"""Fixtures of the fault suite: every test here is integration-tier and runs on this worker's own services.

``fault_services`` (session): the worker's DynamoDB Local and s3rver (``tests.faults.services``).
``store`` (every test, autouse): the service pointed at them with fresh tables, bucket and curator key;
emptied again after the test; every cached client is forgotten before a test of another folder
(``tests.faults.store``).
``curator`` / ``client``: APIClients with the curator key / anonymous, on that store.
``scene``: a consistent store made through the API (a gallery, two photos, one rating).
"""

from collections.abc import Iterator
from pathlib import Path

import botocore.client
import pytest

from tests.faults.api import Scene, scene_create
from tests.faults.services import FaultServices
from tests.faults.store import FaultStore, store_close, store_open

HERE = Path(__file__).resolve().parent


def _is_ours(item) -> bool:
    return item is not None and HERE in Path(item.path).resolve().parents


def pytest_itemcollected(item):
    """Mark every test of this folder integration (a new module cannot forget it)."""
    if _is_ours(item):
        item.add_marker(pytest.mark.integration)


_next_test = {"is_ours": False}


def pytest_runtest_protocol(item, nextitem):
    """Note whether the test after this one is a fault test too (the store keeps its clients for it)."""
    _next_test["is_ours"] = _is_ours(nextitem)


@pytest.fixture(scope="session")
def fault_services(tmp_path_factory):
    """This worker's own DynamoDB Local and s3rver, started once (about 5 s, DynamoDB Local's JVM); their
    logs are in the session's temporary folder (fault-services*/dynamodb.log, s3.log)."""
    services = FaultServices(tmp_path_factory.mktemp("fault-services")).start()
    yield services
    services.close()


@pytest.fixture(autouse=True)
def store(fault_services, monkeypatch) -> Iterator[FaultStore]:
    make_api_call = botocore.client.BaseClient._make_api_call
    opened = store_open(fault_services, monkeypatch)
    yield opened
    leaked = botocore.client.BaseClient._make_api_call is not make_api_call
    botocore.client.BaseClient._make_api_call = make_api_call
    store_close(opened, next_test_is_ours=_next_test["is_ours"])
    assert not leaked, "the test left botocore's _make_api_call patched (use injection's context managers)"


@pytest.fixture
def curator_key(store) -> str:
    return store.curator_key


@pytest.fixture
def curator(store):
    return store.curator_api()


@pytest.fixture
def client(store):
    return store.anonymous_api()


@pytest.fixture
def scene(curator, client) -> Scene:
    """A consistent store made through the API: a gallery with two photos, the first rated once."""
    return scene_create(curator, client)
