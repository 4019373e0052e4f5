"""Shared fixtures: AWS backends (moto, or DynamoDB Local for the integration tier), keys, clients."""

import pytest
from django.core.cache import caches
from moto import mock_aws
from rest_framework.test import APIClient

from devtools.local_services.emulators import DynamoDBLocal
from gallery_project.curators import curator_key_create
from gallery_project.resources import connections_reset, resources_ensure, table_models
from tests.moto_serial import serialize_dynamodb_backend

BACKENDS = ["moto", pytest.param("dynamodb_local", marks=pytest.mark.integration)]

serialize_dynamodb_backend()


@pytest.fixture(scope="session")
def dynamodb_local():
    """One in-memory DynamoDB Local for the whole session, started and stopped by the tests."""
    server = DynamoDBLocal(in_memory=True).start()
    yield server
    server.stop()


_clients_made_for = {"backend": None}


def _use_backend(request, monkeypatch, backend: str):
    if backend == "dynamodb_local":
        server = request.getfixturevalue("dynamodb_local")
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.endpoint_url)
    # Clients are costly to make (~0.15 s each); moto intercepts existing ones, so they are only
    # remade when the DynamoDB endpoint changes.
    if _clients_made_for["backend"] != backend:
        connections_reset()
        _clients_made_for["backend"] = backend
    resources_ensure()


@pytest.fixture
def aws(request, monkeypatch):
    """moto for S3 and DynamoDB, with fresh tables and bucket."""
    with mock_aws():
        _use_backend(request, monkeypatch, "moto")
        yield "moto"


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Runs a test twice: on moto, and (marked integration) on DynamoDB Local with S3 on moto."""
    with mock_aws():
        _use_backend(request, monkeypatch, request.param)
        yield request.param
        if request.param == "dynamodb_local":
            for model in table_models():
                model.delete_table()


@pytest.fixture(autouse=True)
def fresh_caches():
    """Throttle counts and hot photos live in process-wide caches; each test starts with none."""
    for each in caches.all():
        each.clear()
    yield
    for each in caches.all():
        each.clear()


@pytest.fixture
def curator_key(request):
    """A valid curator key on whichever backend the test uses."""
    key, _ = curator_key_create(label="tests")
    return key


@pytest.fixture
def client():
    return APIClient()


@pytest.fixture
def curator(curator_key):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {curator_key}")
    return api


def pytest_collection_modifyitems(items):
    """Run every DynamoDB Local case after the moto ones, so clients switch endpoints once, not per test."""

    def on_dynamodb_local(item) -> bool:
        callspec = getattr(item, "callspec", None)
        return callspec is not None and callspec.params.get("backend") == "dynamodb_local"

    items.sort(key=on_dynamodb_local)
