"""Unexpected failures answer the envelope with a request id, never a stack trace or HTML."""

import json

from botocore.exceptions import EndpointConnectionError
from django.core.exceptions import (
    BadRequest,
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.test import RequestFactory

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
from core.http_errors import (
    csrf_failure,
    error_response,
    exception_handler,
    json_bad_request,
    json_forbidden,
    methods_only,
)
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


DJANGO_ERRORS = [
    (Http404(), 404),
    (RequestDataTooBig(), 413),
    (TooManyFieldsSent(), 400),
    (TooManyFilesSent(), 400),
    (DisallowedHost("Invalid HTTP_HOST header"), 400),
    (SuspiciousOperation(), 400),
    (BadRequest(), 400),
    (MultiPartParserError("Invalid boundary"), 400),
    (DjangoPermissionDenied(), 403),
]


def test_djangos_request_errors_answer_alike_inside_and_outside_drf():
    """One mapping: the DRF handler and Django's side (middleware, handlers, CSRF) give one answer."""
    for error, status in DJANGO_ERRORS:
        inside = exception_handler(error, {})
        outside = error_response(error)
        assert inside.status_code == outside.status_code == status, error
        assert json.loads(outside.content) == inside.data and set(inside.data) == {"error", "details"}


def test_djangos_handlers_answer_the_envelope_with_the_errors_status():
    request = RequestFactory().post("/anything")
    assert json_bad_request(request, RequestDataTooBig()).status_code == 413
    assert json_bad_request(request, TooManyFilesSent()).status_code == 400
    forbidden = json_forbidden(request, DjangoPermissionDenied())
    assert forbidden.status_code == 403 and set(json.loads(forbidden.content)) == {"error", "details"}
    refused = csrf_failure(request, reason="CSRF token missing.")
    body = json.loads(refused.content)
    assert refused.status_code == 403 and body["details"] == {"reason": "CSRF Failed: CSRF token missing."}


def test_methods_only_answers_other_methods_405_with_allow():
    view = methods_only("GET", "HEAD")(lambda request: JsonResponse({"ok": True}))
    assert view(RequestFactory().get("/")).status_code == 200
    refused = view(RequestFactory().generic("PROPFIND", "/"))
    assert refused.status_code == 405 and refused["Allow"] == "GET, HEAD"
    assert json.loads(refused.content)["error"] == "This method is not allowed here."
