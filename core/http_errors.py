"""The HTTP edge of errors: one envelope, the DRF exception handler and Django's JSON fallbacks.

Every error the service answers looks like ``{"error": "<sentence>", "details": {...}}``. Services raise
the domain errors of ``core.errors``; views may raise DRF's exceptions or ``ApiError``; Django raises its
own request errors (too many fields or files, a body over its limit, a bad ``Host``) and answers CSRF
failures, unknown routes and methods itself. This module is the only place that turns any of them (and
anything unexpected) into a status and the envelope: inside DRF through ``exception_handler``, outside it
through ``error_response`` (the middleware, Django's handler400/403/404/500 and ``csrf_failure``).
"""

import logging
import sys
from collections.abc import Callable
from functools import wraps

from django.core.exceptions import (
    BadRequest,
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Internal,
    Mismatch,
    NotFound,
    PreconditionFailed,
    RateLimited,
    TooLarge,
    Unavailable,
    Unsupported,
    as_domain_error,
    storage_errors,
)

logger = logging.getLogger("gallery.errors")

# The status of each kind of domain error (the first class that matches); anything else a service
# refuses (Rejected, Mismatch, DomainError itself) is a 400.
_DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Forbidden: status.HTTP_403_FORBIDDEN,
    Conflict: status.HTTP_409_CONFLICT,
    PreconditionFailed: status.HTTP_412_PRECONDITION_FAILED,
    Unsupported: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    TooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    RateLimited: status.HTTP_429_TOO_MANY_REQUESTS,
    Internal: status.HTTP_500_INTERNAL_SERVER_ERROR,
    Mismatch: status.HTTP_400_BAD_REQUEST,
}


def status_for(error: DomainError) -> int:
    """The HTTP status that answers a domain error."""
    for klass, code in _DOMAIN_STATUS.items():
        if isinstance(error, klass):
            return code
    return status.HTTP_400_BAD_REQUEST


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class ApiError(exceptions.APIException):
    """A view's own answer: status, sentence and details, e.g. ``ApiError(400, "...", details={})``;
    ``wait`` (seconds) is answered as ``Retry-After``."""

    def __init__(
        self, status_code: int, message: str, *, details=None, code: str = "error", wait: int | None = None
    ):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.details = details or {}
        self.wait = wait


_SENTENCES = {
    exceptions.ValidationError: "The request is not valid; see details for each field.",
    exceptions.ParseError: "The request body could not be parsed.",
    exceptions.NotAuthenticated: "A curator key is required: send 'Authorization: Bearer <key>'.",
    exceptions.AuthenticationFailed: "The curator key is not valid.",
    exceptions.PermissionDenied: "You are not allowed to do this.",
    exceptions.MethodNotAllowed: "This method is not allowed here.",
    exceptions.UnsupportedMediaType: "This content type is not supported here.",
    exceptions.NotAcceptable: "No acceptable representation is available.",
    exceptions.Throttled: "Too many requests; slow down and try again later.",
}


def envelope(message: str, details=None) -> dict:
    return {"error": message, "details": details if details is not None else {}}


def _as_envelope(exc: exceptions.APIException) -> dict:
    if isinstance(exc, ApiError):
        return envelope(str(exc.detail), exc.details)
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return envelope(_SENTENCES[exceptions.ValidationError], fields)
    for klass, sentence in _SENTENCES.items():
        if isinstance(exc, klass):
            details: dict[str, object] = {"reason": str(exc.detail)} if str(exc.detail) != sentence else {}
            wait = getattr(exc, "wait", None)
            if isinstance(exc, exceptions.Throttled) and wait is not None:
                details["retryAfterSeconds"] = int(wait)
            return envelope(sentence, details)
    return envelope(str(exc.detail))


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error becomes the envelope; nothing answers an HTML page.

    Errors of the AWS clients are told apart once (``core.errors.is_transient``): throttled, timed out
    or unavailable answer 503 with ``Retry-After``; anything else (a ValidationException caused by our
    own bug, a missing table) answers 500 with the request id, logged with its stack, as does any other
    unexpected exception.
    """
    request = context.get("request") if context else None
    request_id = getattr(request, "request_id", "-")  # DRF's Request reads it from the HttpRequest
    if isinstance(exc, storage_errors()):
        error = as_domain_error(exc)
        logger.log(
            logging.WARNING if isinstance(error, Unavailable) else logging.ERROR,
            "AWS error %s (request %s)",
            type(exc).__name__,
            request_id,
            exc_info=exc,
        )
        return domain_error_response(error, request_id)
    if isinstance(exc, DomainError):
        if isinstance(exc, Internal):
            logger.error("internal error (request %s)", request_id, exc_info=exc)
        return domain_error_response(exc, request_id)
    exc = from_django(exc) or exc
    if isinstance(exc, exceptions.APIException):
        return Response(_as_envelope(exc), status=exc.status_code, headers=_headers_of(exc))

    logger.error("unhandled error (request %s)", request_id, exc_info=exc)
    return domain_error_response(Internal(), request_id)


def from_django(exc: BaseException) -> exceptions.APIException | None:
    """The API error that answers one of Django's request errors (None for anything else).

    Django raises these while it reads a request (its limits on fields, files and body size, a ``Host``
    it does not serve, a multipart body it cannot read); on its own it answers them with an HTML page,
    a technical one when DEBUG is on, or, for the limits, a 500 once they reach a view."""
    if isinstance(exc, Http404):
        return exceptions.NotFound(NotFound.default_message)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, TooManyFieldsSent):
        return exceptions.ValidationError({"non_field_errors": ["Too many fields in the request."]})
    if isinstance(exc, TooManyFilesSent):
        return exceptions.ValidationError({"non_field_errors": ["Too many files in the request."]})
    if isinstance(exc, DisallowedHost):
        return ApiError(400, "The Host header does not name a host this service answers.", code="bad_host")
    if isinstance(exc, SuspiciousOperation | BadRequest):
        return ApiError(400, "The request could not be understood.", code="bad_request")
    if isinstance(exc, MultiPartParserError | UnreadablePostError):
        return exceptions.ParseError(str(exc) or None)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return None


def _headers_of(exc: exceptions.APIException) -> dict[str, str]:
    headers = {}
    auth_header, wait = getattr(exc, "auth_header", None), getattr(exc, "wait", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    if wait:
        headers["Retry-After"] = str(int(wait))
    elif exc.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:  # e.g. every file of a batch
        headers["Retry-After"] = str(Unavailable.retry_after)
    return headers


def domain_error_response(error: DomainError, request_id: str = "-") -> Response:
    """The answer to a domain error: its status and envelope; ``Retry-After`` and the request id on
    the 503s and 500s, so a client knows when to retry and an operator finds the log line."""
    code = status_for(error)
    headers, details = {}, dict(error.details)
    if isinstance(error, Unavailable | RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if code >= 500:
        details.setdefault("requestId", request_id)
    return Response(envelope(error.message, details), status=code, headers=headers)


def error_response(exc: BaseException, *, headers: dict[str, str] | None = None) -> JsonResponse:
    """The answer to an error outside DRF (middleware, Django's handlers, plain views): the status and
    envelope ``exception_handler`` gives the same error inside it."""
    api_error = exc if isinstance(exc, exceptions.APIException) else from_django(exc)
    if api_error is None:
        api_error = ApiError(400, "The request could not be understood.", code="bad_request")
    response = JsonResponse(_as_envelope(api_error), status=api_error.status_code)
    for name, value in {**_headers_of(api_error), **(headers or {})}.items():
        response[name] = value
    return response


def methods_only(*methods: str) -> Callable:
    """A plain Django view that serves only these methods; any other answers 405 with the envelope and
    ``Allow``, as DRF's views do (Django's ``require_http_methods`` answers an empty HTML 405)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def only(request, *args, **kwargs):
            if request.method not in methods:
                return error_response(
                    exceptions.MethodNotAllowed(request.method), headers={"Allow": ", ".join(methods)}
                )
            return view(request, *args, **kwargs)

        return only

    return decorate


@csrf_exempt  # an unknown path is a 404 whatever the method: nothing here needs a CSRF token
def json_not_found(request, exception=None, *args, **kwargs):
    """Django's handler404 and the catch-all route: unknown URLs answer the envelope, not HTML."""
    return JsonResponse(envelope("No such endpoint.", {"path": request.path}), status=404)


def json_bad_request(request, exception=None, *args, **kwargs):
    """Django's handler400: its request errors (limits, SuspiciousOperation) with their own status."""
    return error_response(exception if exception is not None else BadRequest())


def json_forbidden(request, exception=None, *args, **kwargs):
    """Django's handler403 (a PermissionDenied raised outside DRF)."""
    return error_response(exceptions.PermissionDenied())


def csrf_failure(request, reason: str = "", *args, **kwargs):
    """``CSRF_FAILURE_VIEW``: a plain Django view's CSRF refusal answers like DRF's (a browser session's
    write without the page's token), in the envelope instead of Django's HTML page."""
    return error_response(exceptions.PermissionDenied(f"CSRF Failed: {reason}"))


def json_server_error(request, *args, **kwargs):
    """Django's handler500: an exception that escaped DRF (a plain view's, a middleware's: the sign-in
    page reading curator keys, a session saved as the answer leaves) answers as ``exception_handler``
    would answer it: 503 with ``Retry-After`` when AWS was throttled, timed out or unavailable, else
    500; the request id either way. Django calls it while handling the exception, which it has logged
    with its stack (``django.request``, with the request's ids)."""
    request_id = getattr(request, "request_id", "-")
    escaped = sys.exc_info()[1]
    error = as_domain_error(escaped) if isinstance(escaped, storage_errors()) else escaped
    if not isinstance(error, Unavailable):
        error = Internal()
    details = {**error.details, "requestId": request_id}
    response = JsonResponse(envelope(error.message, details), status=status_for(error))
    if isinstance(error, Unavailable):
        response["Retry-After"] = str(error.retry_after)
    return response
