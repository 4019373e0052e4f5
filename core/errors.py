"""The one error envelope: error classes, the DRF exception handler and the JSON fallbacks for Django.

Every error the service answers looks like ``{"error": "<sentence>", "details": {...}}``. Raise one of
the ``APIException`` subclasses below (or DRF's own) from services and views; this module turns it,
and anything unexpected, into the envelope.
"""

import logging

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger("gallery.errors")


class NotFound(exceptions.NotFound):
    default_detail = "The requested resource does not exist."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A storage service did not answer; nothing was changed. Try again shortly."
    default_code = "storage_unavailable"


class ApiError(exceptions.APIException):
    """An error with its own sentence and structured details, e.g. ``ApiError(400, "...", details={})``."""

    def __init__(self, status_code: int, message: str, *, details=None, code: str = "error"):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.details = details or {}


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
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return envelope(_SENTENCES[exceptions.ValidationError], details)
    for klass, sentence in _SENTENCES.items():
        if isinstance(exc, klass):
            details = {"reason": str(exc.detail)} if str(exc.detail) != sentence else {}
            if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
                details["retryAfterSeconds"] = int(exc.wait)
            return envelope(sentence, details)
    return envelope(str(exc.detail))


def storage_errors() -> tuple[type[BaseException], ...]:
    """Errors from DynamoDB/S3 clients that mean "the backing service failed", imported lazily."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    return (PynamoDBException, BotoCoreError, ClientError)


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error becomes the envelope; nothing answers an HTML page."""
    if isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, TooManyFieldsSent):
        exc = exceptions.ValidationError({"non_field_errors": ["Too many fields in the request."]})

    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return Response(_as_envelope(exc), status=exc.status_code, headers=headers)

    request = context.get("request") if context else None
    request_id = getattr(request, "request_id", "-")  # DRF's Request reads it from the HttpRequest
    if isinstance(exc, storage_errors()):
        logger.exception("storage error (request %s)", request_id)
        body = _as_envelope(ServiceUnavailable())
        body["details"] = {"requestId": request_id}
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    logger.exception("unhandled error (request %s)", request_id)
    return Response(
        envelope("Something went wrong on our side; the error was logged.", {"requestId": request_id}),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def json_not_found(request, exception=None, *args, **kwargs):
    """Django's handler404 and the catch-all route: unknown URLs answer the envelope, not HTML."""
    return JsonResponse(envelope("No such endpoint.", {"path": request.path}), status=404)


def json_bad_request(request, exception=None, *args, **kwargs):
    return JsonResponse(envelope("The request could not be understood."), status=400)


def json_server_error(request, *args, **kwargs):
    request_id = getattr(request, "request_id", "-")
    return JsonResponse(
        envelope("Something went wrong on our side; the error was logged.", {"requestId": request_id}),
        status=500,
    )
