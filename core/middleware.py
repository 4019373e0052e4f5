"""Request ids (every request gets one, echoed in `X-Request-Id`, in error answers and on every log line),
one log line and the metrics of each request, requests refused before any work (a bad ``Host``, a
malformed ``Content-Length``, a charset this service does not read) and deadlines."""

import codecs
import logging
import re
import time
import uuid

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.utils.http import parse_header_parameters
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from whitenoise.middleware import WhiteNoiseFileResponse  # type: ignore[import-untyped]  # no py.typed

from core.deadline import within
from core.http_errors import error_response
from core.observability import API_5XX, API_LATENCY_MS, MILLISECONDS, log_context, metric, metrics_recorded
from core.parsers import declared_length

_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The guide's single endpoint names its operation in ``?action=``: the one query parameter logged.
_ACTION_PARAMETER = re.compile(r"(?:^|&)action=([A-Za-z_]{1,40})(?:&|$)")

logger = logging.getLogger(__name__)
requests_logger = logging.getLogger("gallery.requests")
security_logger = logging.getLogger("django.security.DisallowedHost")


def lambda_request_ids(environ) -> tuple[str | None, str | None]:
    """API Gateway's id of a request (``requestContext.requestId``) and Lambda's (``aws_request_id``),
    from the event and context Zappa puts in the WSGI environ; None for each one absent (not on Lambda)."""
    event, context = environ.get("lambda.event"), environ.get("lambda.context")
    request_context = event.get("requestContext") if isinstance(event, dict) else None
    gateway = request_context.get("requestId") if isinstance(request_context, dict) else None
    function = getattr(context, "aws_request_id", None)
    return (
        gateway if isinstance(gateway, str) and _SAFE_ID.fullmatch(gateway) else None,
        function if isinstance(function, str) and _SAFE_ID.fullmatch(function) else None,
    )


class RequestIdMiddleware:
    """Every request gets one id: API Gateway's on Lambda (the id its own logs and answers carry), else
    Lambda's, else a safe ``X-Request-Id`` the client sent, else a new one. It is answered in
    ``X-Request-Id``, named in 5xx answers and their error logs (``request.request_id``) and on every log
    line of the request, with Lambda's id beside it (``core.observability.log_context``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        gateway_id, function_id = lambda_request_ids(request.META)
        incoming = request.headers.get("X-Request-Id", "")
        request.request_id = (
            gateway_id or function_id or (incoming if _SAFE_ID.fullmatch(incoming) else uuid.uuid4().hex)
        )
        with log_context(request_id=request.request_id, function_request_id=function_id):
            response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response


class RequestLogMiddleware:
    """One log line per request on ``gallery.requests``: method, route (the URL pattern, never the path
    with its ids), view, status, duration and the curator key's id when a key or session authenticated
    it; never a header, cookie, body or query string (the guide's ``action`` aside). Then the request's
    metrics are printed: what its work recorded, and ``ApiLatencyMs`` and ``Api5xx`` for every answer but
    a static file's. Placed right after RequestIdMiddleware, so the line carries the request's ids; a
    failure to log or print is itself logged, never the request's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        with metrics_recorded():
            response = self.get_response(request)
            try:
                request_logged(request, response, (time.perf_counter() - started) * 1000)
                # This line says it, with the request's ids: Django's own "Internal Server Error" line
                # comes after every middleware, outside them (the error mapping logged the stack).
                response._has_been_logged = True
            except Exception:
                logger.exception("could not log request %s", getattr(request, "request_id", "-"))
        return response


def request_logged(request, response, duration_ms: float) -> None:
    """The request's line, and the metrics every answer records."""
    match = request.resolver_match
    status = response.status_code
    static = isinstance(response, WhiteNoiseFileResponse)
    duration_ms = round(duration_ms, 1)
    if not static:
        metric(API_LATENCY_MS, duration_ms, MILLISECONDS)
        metric(API_5XX, int(status >= 500))
    route = match.route if match is not None else None
    fields = {
        "method": request.method,
        "route": route,
        "view": match.view_name if match is not None else None,
        "action": _action_of(request),
        "static": static or None,
        "status": status,
        "duration_ms": duration_ms,
        "curator_key_id": curator_key_id(request),
    }
    requests_logger.log(
        logging.WARNING if status >= 500 else logging.INFO,
        "%s %s %s in %.0f ms",
        request.method,
        route or "-",
        status,
        duration_ms,
        extra={key: value for key, value in fields.items() if value is not None},
    )


def curator_key_id(request) -> str | None:
    """The id of the curator key that authenticated the request (DRF sets the user on Django's request),
    never the key; None for a visitor."""
    user = getattr(request, "user", None)
    return getattr(user, "key_id", None) if getattr(user, "is_curator", False) else None


def _action_of(request) -> str | None:
    """The guide's ``?action=``, read from the raw query string (``request.GET`` may refuse to parse)."""
    found = _ACTION_PARAMETER.search(request.META.get("QUERY_STRING", ""))
    return found.group(1) if found else None


class MalformedRequestMiddleware:
    """Refuses with the envelope (400) what Django would otherwise answer with a page of its own, before
    anything reads the request: a ``Host`` not in ALLOWED_HOSTS (Django's DisallowedHost, which with
    DEBUG on answers its technical page with the settings) and a ``Content-Length`` that is not a
    number. Placed after RequestIdMiddleware and RequestLogMiddleware, so the refusal still carries its
    request id and has its line."""

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
