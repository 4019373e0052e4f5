"""gunicorn's configuration for `make run` (`gunicorn -c python:devtools.local_services.gunicorn_config`).

One worker process with 8 threads, for a laptop:
- one process keeps every per-process bound as configured: the decode budget of photos
  (PHOTO_DECODE_BUDGET_BYTES, about 800 MB, reserved per process: two workers would allow twice the
  memory) and the rating throttles, counted in the process's local-memory cache (two workers would let
  each client through twice as often). On Lambda too, one process holds each of these.
- the local store's object-created events are delivered from a thread of that worker (post_worker_init,
  below), as S3 invokes the function on AWS, and so are the PhotoRatings stream's records, as Lambda's
  event source mapping does.
- threads, because a request mostly waits on DynamoDB Local and s3rver: 8 serve a browser's parallel
  asset and API requests and a few scripts at once; an upload already spreads its photos over every
  core by itself (PHOTO_PROCESSING_WORKERS threads; Pillow releases the GIL).

A request gunicorn cannot read as HTTP (bad framing such as Content-Length with Transfer-Encoding, an
oversized request line or header) never reaches Django: gunicorn answers it itself, with an HTML page. Its
writer is replaced here by one that answers the service's envelope, so every error of `make run` is one.
"""

import json

from gunicorn import util

from devtools.local_services import rating_stream, s3_events
from devtools.local_services.config import LocalDirs, project_root

workers = 1
threads = 8
# Trust no client's X-Forwarded-* (gunicorn trusts loopback by default, and every local client is on
# loopback): a request claiming HTTPS would otherwise be treated as secure.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
# An idle kept-alive connection stays open this long (gunicorn's default is 2 s): a client's pool keeps
# idle sockets longer (Node's fetch 4 s, browsers more), and a request sent on a socket the server is
# closing at that moment fails without an answer ("fetch failed": seen in the JS client's tests).
keepalive = 75
# Ctrl-C lets requests in flight finish for this long (a request's deadline is 22 s).
graceful_timeout = 25
# No access log: every request's JSON line (gallery.requests) says it, without the query string, where a
# token may be (gunicorn's access line would print it).
accesslog = None
# No control socket in the home directory (gunicorn 27 makes one by default): two checkouts, or a test's
# server beside `make run`, would share it.
control_socket_disable = True

SENTENCES = {
    400: "The request is not valid HTTP.",
    403: "The request is forbidden.",
    414: "The request line is too long.",
    417: "The request's expectation cannot be met.",
    431: "The request's headers are too large.",
    501: "The request's transfer coding is not supported.",
}


def write_envelope(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `util.write_error`, answering the {"error", "details"} envelope instead of HTML."""
    sentence = SENTENCES.get(status_int, "The server could not answer the request.")
    body = json.dumps({"error": sentence, "details": {"server": mesg} if mesg else {}}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = write_envelope


def post_worker_init(worker) -> None:
    """The local store's object-created events, delivered by this worker as Lambda gets them on AWS
    (devtools/local_services/s3_events.py): a file put into the local bucket appears as a photo. And the
    PhotoRatings stream's records, delivered as Lambda's event source mapping does
    (devtools/local_services/rating_stream.py), when the service streams hot photos' ratings
    (RATING_STREAM_AGGREGATION, on in `make run`'s environment); a server without it (a test's, a bench
    pass's) does not poll the stream, and what it holds is delivered by the next server with it."""
    from django.conf import settings  # Django is set up in the worker by now

    dirs = LocalDirs(project_root())
    s3_events.courier_for_the_api(dirs.s3_events_pending, dirs.s3_events_failed).start()
    if settings.RATING_STREAM_AGGREGATION:
        rating_stream.courier_for_the_api(dirs.rating_stream_checkpoint).start()
