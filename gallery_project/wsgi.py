"""WSGI entry point, used by gunicorn (`make run`), `runserver` (`make dev`) and any WSGI server.

On Lambda (Zappa runs this application: ``app_function``) API Gateway always sends a length; a server
that speaks HTTP/1.1 itself may receive a chunked request body, which Django cannot read: it reads
``CONTENT_LENGTH`` bytes, none without one, so the body would be lost (and under `runserver` the unread
chunks would be parsed as the next request on the connection). ``ChunkedBodies`` gives such a body the
length Django needs, reading at most one byte over the largest body the service accepts, so a body over
it is refused on its declared length, with the envelope, before anything parses it.
"""

import os
import re
import tempfile

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.core.wsgi import get_wsgi_application
from rest_framework.exceptions import APIException, UnsupportedMediaType

from core.http_errors import error_response

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gallery_project.settings")

COPY_BYTES = 64 * 1024


class LengthRequired(APIException):
    status_code = 411
    default_detail = "Send the request body with a Content-Length: this server cannot read a chunked body."
    default_code = "length_required"


def is_chunked(environ: dict) -> bool:
    codings = environ.get("HTTP_TRANSFER_ENCODING", "").lower().split(",")
    return "chunked" in (coding.strip() for coding in codings)


# The one route that takes a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE: a multipart photo upload
# (REST, or the guide's upload_photos action on /galleries).
_UPLOAD_PATH = re.compile(r"/api/galleries/[^/]+/photos/?|/galleries/?")


def body_limit(environ: dict) -> int:
    """The largest body Django would accept for this request: a multipart photo upload's on the upload
    routes, any other's (read into memory whole) everywhere else, so a chunked body to another route
    is never read past a megabyte."""
    multipart = environ.get("CONTENT_TYPE", "").lower().startswith("multipart/")
    upload_route = environ.get("REQUEST_METHOD") == "POST" and _UPLOAD_PATH.fullmatch(
        environ.get("PATH_INFO", "")
    )
    if multipart and upload_route:
        return settings.UPLOAD_MAX_REQUEST_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0


class ChunkedBodies:
    """WSGI middleware: a chunked request body, decoded by the server (gunicorn says so with
    ``wsgi.input_terminated``), is read into a spooled file (memory up to FILE_UPLOAD_MAX_MEMORY_SIZE,
    then a temporary file) up to its limit plus one byte, and handed on with ``CONTENT_LENGTH``; a body
    over the limit then answers 413 from the parsers and the rest is left unread (gunicorn reads it off the
    connection before the next request). A server that does not decode chunked bodies (`runserver`)
    answers 411 with the envelope and closes the connection."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if not is_chunked(environ) or "lambda.event" in environ:
            # On Lambda API Gateway hands over the whole body with its length, whatever the client sent.
            return self.application(environ, start_response)
        if environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            return self.application(environ, start_response)  # the server already gave it a length
        if not environ.get("wsgi.input_terminated"):
            # Also with a Content-Length beside chunked: this server would read that many bytes and
            # take the rest of the chunks for the next request.
            # An answer of unknown length (an iterator, not a list): `runserver` then closes the connection,
            # so the unread chunks are never taken for the next request (an application may not send
            # Connection itself).
            response = error_response(LengthRequired())
            start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
            return iter([response.content])
        # Closed when the answer is built (Django's is never a stream of the request body).
        with tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as body:
            remaining = body_limit(environ) + 1
            while remaining > 0 and (chunk := environ["wsgi.input"].read(min(COPY_BYTES, remaining))):
                body.write(chunk)
                remaining -= len(chunk)
            environ["CONTENT_LENGTH"] = str(body.tell())
            body.seek(0)
            environ["wsgi.input"] = body
            return self.application(environ, start_response)


class RequestBuildErrors:
    """WSGI middleware: Django builds the request object before any of its middleware runs, and with a
    ``charset`` in the Content-Type it reads the query string right then, so too many query fields or a
    charset that is no text encoding escaped as the server's own plain-text 500. Answered here with the
    envelope instead (415 for the charset, 400 for the fields), only when nothing was answered yet."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        started = False

        def tracked(status, headers, exc_info=None):
            nonlocal started
            started = True
            return start_response(status, headers, exc_info)

        try:
            return self.application(environ, tracked)
        except (TooManyFieldsSent, LookupError, UnicodeError) as exc:
            if started:
                raise
            refusal = (
                exc
                if isinstance(exc, TooManyFieldsSent)
                else UnsupportedMediaType(environ.get("CONTENT_TYPE", ""), "Send text as UTF-8 (or ASCII).")
            )
            response = error_response(refusal)
            start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
            return [response.content]


application = RequestBuildErrors(ChunkedBodies(get_wsgi_application()))
