"""``Idempotency-Key``: a client's retry of a write gets the first answer instead of the work done twice.

A client that timed out behind API Gateway cannot know whether its upload, new gallery or rating was
done. Sent again with the same ``Idempotency-Key`` header (16 to 255 visible characters,
``KEY_MIN_LENGTH`` and ``KEY_MAX_LENGTH``; a random UUID per write is what clients should send), within
``LIFETIME`` (24 hours), the request answers what the first one did: the same status and the same
resources, read again now (fresh signed URLs, the current aggregate), with ``Idempotent-Replayed:
true``. Without the header nothing changes.

The record is a short-lived service record (``core.records``, kind ``idempotency``), keyed by a hash
of the caller, the method, the route with its query, and the key, so one client's key never answers
another's request. It stores the **result** (the ids and status the answer was built from, never a
body: where-issues-meet's rule) and a hash of what was sent (``fingerprint``), so the same key with a
different request is refused (422 ``idempotency_key_reused``) rather than answered with something else.

- The first request takes the record (in flight, for ``WRITE_LIFETIME``: a writer that died frees it),
  does the work, and on a 2xx answer keeps its result for ``LIFETIME`` (tried again on storage errors).
  A refusal or a failure releases the record: the retry does the work again, as it would with no key.
- What is left: a result that could not be kept at all (DynamoDB refusing four times in a row after the
  work) or a process that died between the work and the keep. The retry then does the work again after
  the lease: a new gallery meets the id derived from the key and is answered as a replay; a photo meets
  its bytes and is answered with ``duplicateOf`` (a second copy only with ``keepDuplicate``); a first
  rating sent without a token meets its own rating and is refused (403): its token is lost.
- The same key while the first is still in flight: 409 ``idempotency_key_in_flight``, try again.
- Keeping the result failing (DynamoDB throttled after the work was done) does not fail the answer: it
  is logged, and the record's short in-flight lifetime lets a retry do the work again.

Which record answers which replay (where-issues-meet): ``ClientRequestToken`` for DynamoDB's own
10-minute replays, intents and claims for crashes and races, this for a client's retry within 24 hours,
the original's SHA-256 for a blind retry without a key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from rest_framework.response import Response

from core.errors import is_transient, storage_errors
from core.http_errors import ApiError
from core.records import WRITE_LIFETIME, record_get, record_release, record_take, record_update
from core.throttling import client_address

logger = logging.getLogger(__name__)

KIND = "idempotency"
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
LIFETIME = timedelta(hours=24)
IN_FLIGHT = "in-flight"
DONE = "done"
# Visible ASCII characters, at least 16: a key stands for a write only its client knows of (a visitor's
# key guards the token its replay hands back), so a short guessable one is refused.
KEY_MIN_LENGTH, KEY_MAX_LENGTH = 16, 255
KEY_PATTERN = f"[!-~]{{{KEY_MIN_LENGTH},{KEY_MAX_LENGTH}}}"
_KEY = re.compile(KEY_PATTERN)
# Keeping the result is tried again while DynamoDB is throttled or unavailable (after botocore's own
# retries), so a done write is not left looking in flight.
KEEP_PAUSES_SECONDS = (0.05, 0.2, 0.8)
IN_FLIGHT_RETRY_SECONDS = 2


def _refused(status_code: int, code: str, message: str) -> ApiError:
    """A key's refusal, its code in ``details.code``. Statuses as the IETF's Idempotency-Key draft
    has them: 400 a malformed key, 422 a key reused for another request, 409 a key still in flight."""
    return ApiError(status_code, message, details={"code": code}, code=code)


def key_invalid() -> ApiError:
    return _refused(
        400,
        "idempotency_key_invalid",
        f"The {HEADER} header must be {KEY_MIN_LENGTH} to {KEY_MAX_LENGTH} visible ASCII characters (a "
        "random UUID, say).",
    )


def key_reused() -> ApiError:
    return _refused(
        422,
        "idempotency_key_reused",
        f"This {HEADER} was used for a different request (another body or route): use a new key for a "
        "new request.",
    )


def key_in_flight() -> ApiError:
    return ApiError(
        409,
        f"A request with this {HEADER} is still being answered: try again in a few seconds for its answer.",
        details={"code": "idempotency_key_in_flight"},
        code="idempotency_key_in_flight",
        wait=IN_FLIGHT_RETRY_SECONDS,
    )


def fingerprint_of(*parts: Any) -> str:
    """A hash of what a request asked for (its validated body, the files' digests, the token it sent):
    JSON with sorted keys, anything else as its string."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def file_digest(uploaded) -> str:
    """The SHA-256 of an uploaded file's bytes, read in chunks and rewound for the work after."""
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return digest.hexdigest()


def _record_id(request, caller: str, key: str) -> str:
    """The record's id: a hash of the caller, the method, the route (``path_info``: the same under the
    stage prefix and on a custom domain; a trailing slash or not) with its query, and the key."""
    query = sorted((name, value) for name, values in request.GET.lists() for value in values)
    scope = json.dumps([caller, request.method, request.path_info.rstrip("/"), query, key])
    return hashlib.sha256(scope.encode()).hexdigest()


def derived_id(record_id: str, fingerprint: str) -> str:
    """An id for what a keyed write creates, derived from its record and what it asked (keyed with the
    secret key, so it tells nothing of the key): a retry after a result that could not be kept meets
    the same id; another request under the key, once the key is free again, does not."""
    scope = f"{record_id}:{fingerprint}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), scope, hashlib.sha256).hexdigest()[:32]


def idempotent(
    request,
    *,
    fingerprint: Callable[[], str],
    work: Callable[[str | None], tuple[Response, dict]],
    replay: Callable[[dict, int], Response],
) -> Response:
    """Answer ``request`` with ``work(new_id)`` (its response and the result to keep), or, when it
    carries an ``Idempotency-Key`` already answered, with ``replay(result, status)``. The key is the
    caller's own (``caller_of``); ``fingerprint()`` is ``fingerprint_of`` what was asked (called only when
    the header is there: it may read the files). ``new_id`` is ``derived_id`` of the record when keyed
    (None without a key): a write that creates an id of its own may use it."""
    key = request.headers.get(HEADER)
    if key is None:
        return work(None)[0]
    if not _KEY.fullmatch(key):
        raise key_invalid()
    record_id = _record_id(request, caller_of(request), key)
    sent = fingerprint()
    taken = record_take(
        KIND,
        record_id,
        owner=uuid.uuid4().hex,
        status=IN_FLIGHT,
        lifetime=WRITE_LIFETIME,
        data={"fingerprint": sent},
    )
    if taken is None:  # answered before, or still in flight
        found = record_get(KIND, record_id)
        if found is None:
            raise key_in_flight()
        return _replayed(found, sent, replay)
    try:
        response, result = work(derived_id(record_id, sent))
    except BaseException:
        _let_go(taken)
        raise
    if 200 <= response.status_code < 300:
        _keep(taken, {"fingerprint": sent, "status": response.status_code, "result": result})
    else:
        _let_go(taken)
    return response


def _keep(record, data: dict) -> None:
    """Keep a done write's result, tried again while DynamoDB is throttled or unavailable. When it still
    cannot be kept the record stays in flight until its lease ends, then a retry does the work again: a
    new gallery meets its derived id and is answered, a photo its bytes (``duplicateOf``), unless
    ``keepDuplicate``."""
    for pause in (*KEEP_PAUSES_SECONDS, None):
        try:
            record_update(record, status=DONE, lifetime=LIFETIME, data=data)
            return
        except storage_errors() as error:
            if pause is None or not is_transient(error):
                logger.exception("keeping the answer of an %s failed; a retry does the work again", HEADER)
                return
            time.sleep(pause)


def _replayed(record, fingerprint: str, replay: Callable[[dict, int], Response]) -> Response:
    data = record.data.as_dict()
    if data.get("fingerprint") != fingerprint:
        raise key_reused()
    if record.status != DONE:
        raise key_in_flight()
    return replayed(replay(data["result"], int(data["status"])))


def replayed(response: Response) -> Response:
    """Mark an answer as the one an earlier request with the key got."""
    response[REPLAYED_HEADER] = "true"
    return response


def _let_go(record) -> None:
    try:
        record_release(record)
    except storage_errors():
        logger.exception("releasing an %s record failed; it expires by itself", HEADER)


def caller_of(request) -> str:
    """Who a write is from, for its key's scope: the curator's key id, else the client's address (a
    visitor's replay hands back a visitor token: only to the client that sent the first request)."""
    key_id = getattr(request.user, "key_id", None)
    return f"curator:{key_id}" if key_id else f"address:{client_address(request)}"
