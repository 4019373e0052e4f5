"""Request ids (every request gets one, echoed in `X-Request-Id` and in error logs), requests refused
before any work (a bad ``Host``, a malformed ``Content-Length``, a charset this service does not read)
and deadlines."""

import codecs
import logging
import re
import uuid

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.utils.http import parse_header_parameters
from rest_framework.exceptions import ParseError, UnsupportedMediaType

from core.deadline import within
from core.http_errors import error_response
from core.parsers import declared_length

_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

security_logger = logging.getLogger("django.security.DisallowedHost")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        request.request_id = incoming if _SAFE_ID.fullmatch(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response


class MalformedRequestMiddleware:
    """Refuses with the envelope (400) what Django would otherwise answer with a page of its own, before
    anything reads the request: a ``Host`` not in ALLOWED_HOSTS (Django's DisallowedHost, which with
    DEBUG on answers its technical page with the settings) and a ``Content-Length`` that is not a
    number. Placed right after RequestIdMiddleware, so the refusal still carries its request id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            request.get_host()
        except DisallowedHost as exc:
            # Logged like Django logs it (an operator who moved the service to a new domain looks here).
            security_logger.warning("%s (request %s)", exc, getattr(request, "request_id", "-"))
            return error_response(exc)
        try:
            declared_length(request.META)
        except ParseError as exc:
            return error_response(exc)
        content_type = request.META.get("CONTENT_TYPE", "")
        if not charset_readable(content_type):
            # A body in a charset this service does not read (idna, rot13, base64...) would fail deep
            # inside a parser; refused here, before anything parses it.
            return error_response(UnsupportedMediaType(content_type, "Send text as UTF-8 (or ASCII)."))
        return self.get_response(request)


READABLE_CHARSETS = {"utf-8", "ascii", "latin-1", "iso8859-1"}


def charset_readable(content_type: str) -> bool:
    """Whether a Content-Type names no charset, or one of the text encodings this service reads."""
    _, params = parse_header_parameters(content_type)
    charset = params.get("charset")
    if charset is None:
        return True
    try:
        return codecs.lookup(charset).name in READABLE_CHARSETS
    except LookupError:
        return False


class DeadlineMiddleware:
    """Every request has REQUEST_DEADLINE_SECONDS: no AWS call starts that could end after it
    (``core.deadline``), so a hung S3 or DynamoDB answers 503 in time rather than API Gateway's 504."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with within(settings.REQUEST_DEADLINE_SECONDS):
            return self.get_response(request)
