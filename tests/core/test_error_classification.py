"""Honest 5xx: one classification of AWS errors, in the error mapping (a test per class).

Throttled, timed out or unavailable answer 503 with ``Retry-After``; a request AWS refuses as invalid
(our own bug) or any other unexpected error answers 500 with the envelope and the request id, logged
with its stack.
"""

import logging

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from pynamodb.exceptions import GetError, PutError

from core.errors import DeadlineReached, Internal, Unavailable, as_domain_error, is_transient
from galleries import selectors


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetItem",
    )


TRANSIENT = {
    "DynamoDB throttled": client_error("ProvisionedThroughputExceededException"),
    "throttled (generic)": client_error("ThrottlingException"),
    "S3 slow down": client_error("SlowDown", 503),
    "service unavailable": client_error("ServiceUnavailable", 503),
    "AWS internal error": client_error("InternalServerError", 500),
    "an unknown code with a 5xx": client_error("SomethingNew", 502),
    "read timeout": ReadTimeoutError(endpoint_url="http://s3"),
    "connect timeout": ConnectTimeoutError(endpoint_url="http://s3"),
    "no connection": EndpointConnectionError(endpoint_url="http://dynamodb"),
    "PynamoDB wrapping a throttle": GetError(
        "Failed", cause=client_error("ProvisionedThroughputExceededException")
    ),
    "PynamoDB wrapping a timeout": PutError("Failed", cause=ReadTimeoutError(endpoint_url="http://d")),
}
PERMANENT = {
    "validation (our bug)": client_error("ValidationException"),
    "missing table": client_error("ResourceNotFoundException"),
    "access denied": client_error("AccessDenied", 403),
    "PynamoDB wrapping a validation": PutError("Failed", cause=client_error("ValidationException")),
    "no credentials": NoCredentialsError(),
}


@pytest.mark.parametrize("name", TRANSIENT)
def test_throttled_timed_out_or_unavailable_is_transient(name):
    error = TRANSIENT[name]
    assert is_transient(error) and isinstance(as_domain_error(error), Unavailable)


@pytest.mark.parametrize("name", PERMANENT)
def test_an_invalid_request_or_another_fault_is_not(name):
    error = PERMANENT[name]
    assert not is_transient(error) and isinstance(as_domain_error(error), Internal)


def _failing_gallery_read(monkeypatch, error):
    def fail(**kwargs):
        raise error

    monkeypatch.setattr(selectors, "gallery_get", fail)


@pytest.mark.parametrize(
    "error", [TRANSIENT["DynamoDB throttled"], TRANSIENT["read timeout"], DeadlineReached()]
)
def test_transient_answers_503_with_retry_after(aws, client, monkeypatch, error):
    _failing_gallery_read(monkeypatch, error)
    response = client.get("/api/galleries/abc", HTTP_X_REQUEST_ID="req-503")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.json()["details"]["requestId"] == "req-503"


@pytest.mark.parametrize(
    "error", [PERMANENT["validation (our bug)"], PERMANENT["missing table"], KeyError("x")]
)
def test_invalid_or_unexpected_answers_500_logged_with_its_stack(aws, client, monkeypatch, caplog, error):
    _failing_gallery_read(monkeypatch, error)
    with caplog.at_level(logging.ERROR, logger="gallery.errors"):
        response = client.get("/api/galleries/abc", HTTP_X_REQUEST_ID="req-500")
    assert response.status_code == 500 and not response.has_header("Retry-After")
    assert response.json() == {
        "error": "Something went wrong on our side; the error was logged.",
        "details": {"requestId": "req-500"},
    }
    [record] = [r for r in caplog.records if r.name == "gallery.errors"]
    assert "req-500" in record.getMessage() and record.exc_info is not None
