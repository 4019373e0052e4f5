"""Unexpected failures answer the envelope with a request id, never a stack trace or HTML."""

from botocore.exceptions import EndpointConnectionError

from core.errors import (
    Conflict,
    DomainError,
    Mismatch,
    NotFound,
    Rejected,
    TooLarge,
    Unavailable,
    Unsupported,
)
from core.http_errors import exception_handler
from galleries import selectors


def test_unexpected_exception_is_a_500_envelope_with_request_id(aws, client, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "gallery_get", explode)
    response = client.get("/api/galleries/abc", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 500
    body = response.json()
    assert body["details"] == {"requestId": "req-123"} and "secret" not in response.content.decode()
    assert response["X-Request-Id"] == "req-123"


def test_storage_outage_is_a_503_envelope(aws, client, monkeypatch):
    def unreachable(**kwargs):
        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    monkeypatch.setattr(selectors, "gallery_get", unreachable)
    response = client.get("/api/galleries/abc")
    assert response.status_code == 503 and set(response.json()) == {"error", "details"}


def test_domain_errors_are_mapped_to_their_status_in_one_place():
    cases = [
        (NotFound("Gallery x does not exist."), 404),
        (Conflict("Try again."), 409),
        (Mismatch("Does not match.", details={"s3Key": ["Does not match."]}), 400),
        (Unsupported("Not an image.", code="not_an_image"), 415),
        (TooLarge("Too large.", code="too_large"), 413),
        (Unavailable("Storage did not answer.", code="storage_unavailable"), 503),
        (Rejected("Empty.", code="empty"), 400),
        (DomainError("Anything else a service refuses."), 400),
    ]
    for error, status in cases:
        response = exception_handler(error, {})
        # A 5xx names the request (for the logs) and a 503 says when to retry; others answer as raised.
        details = {**error.details, "requestId": "-"} if status >= 500 else error.details
        assert (response.status_code, response.data) == (status, {"error": error.message, "details": details})
        assert response.has_header("Retry-After") is (status == 503)
