"""``Idempotency-Key``: a client's retry of a write gets the first answer instead of the work done twice.

A client that timed out behind API Gateway cannot know whether its upload, new gallery or rating was
done. Sent again with the same ``Idempotency-Key`` header (any 1-255 visible characters; a random UUID
per write is what clients should send), within ``LIFETIME`` (24 hours), the request answers what the
first one did: the same status and the same resources, read again now (fresh signed URLs, the current
aggregate), with ``Idempotent-Replayed: true``. Without the header nothing changes.

The record is a short-lived service record (``core.records``, kind ``idempotency``), keyed by a hash
of the caller, the method, the route with its query, and the key, so one client's key never answers
another's request. It stores the **result** (the ids and status the answer was built from, never a
body: where-issues-meet's rule) and a hash of what was sent (``fingerprint``), so the same key with a
different request is refused (422 ``idempotency_key_reused``) rather than answered with something else.

- The first request takes the record (in flight, for ``WRITE_LIFETIME``: a writer that died frees it),
  does the work, and on a 2xx answer keeps its result for ``LIFETIME``. A refusal or a failure releases
  the record: the retry does the work again, as it would with no key (every write is safe to repeat:
  the photo's bytes, the rating's put, the gallery's id are the lower layers of that rule).
- The same key while the first is still in flight: 409 ``idempotency_key_in_flight``, try again.
- Keeping the result failing (DynamoDB throttled after the work was done) does not fail the answer: it
  is logged, and the record's short in-flight lifetime lets a retry do the work again.

Which record answers which replay (where-issues-meet): ``ClientRequestToken`` for DynamoDB's own
10-minute replays, intents and claims for crashes and races, this for a client's retry within 24 hours,
the original's SHA-256 for a blind retry without a key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from rest_framework.response import Response

from core.errors import storage_errors
from core.http_errors import ApiError
from core.records import WRITE_LIFETIME, record_get, record_release, record_take, record_update

logger = logging.getLogger(__name__)

KIND = "idempotency"
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
LIFETIME = timedelta(hours=24)
IN_FLIGHT = "in-flight"
DONE = "done"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def _refused(status_code: int, code: str, message: str) -> ApiError:
    """A key's refusal, its code in ``details.code``. Statuses as the IETF's Idempotency-Key draft
    has them: 400 a malformed key, 422 a key reused for another request, 409 a key still in flight."""
    return ApiError(status_code, message, details={"code": code}, code=code)


def key_invalid() -> ApiError:
    return _refused(
        400,
        "idempotency_key_invalid",
        f"The {HEADER} header must be 1 to 255 visible ASCII characters (a UUID, say).",
    )


def key_reused() -> ApiError:
    return _refused(
        422,
        "idempotency_key_reused",
        f"This {HEADER} was used for a different request (another body or route): use a new key for a "
        "new request.",
    )


def key_in_flight() -> ApiError:
    return _refused(
        409,
        "idempotency_key_in_flight",
        f"A request with this {HEADER} is still being answered: try again in a few seconds for its answer.",
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
    query = sorted((name, value) for name, values in request.GET.lists() for value in values)
    scope = json.dumps([caller, request.method, request.path_info, query, key])
    return hashlib.sha256(scope.encode()).hexdigest()


def idempotent(
    request,
    *,
    caller: str,
    fingerprint: Callable[[], str],
    work: Callable[[], tuple[Response, dict]],
    replay: Callable[[dict, int], Response],
) -> Response:
    """Answer ``request`` with ``work()`` (its response and the result to keep), or, when it carries an
    ``Idempotency-Key`` already answered, with ``replay(result, status)``. ``caller`` names who asks
    (a curator key's id, a visitor id); ``fingerprint()`` is ``fingerprint_of`` what was asked (called
    only when the header is there: it may read the files)."""
    key = request.headers.get(HEADER)
    if key is None:
        return work()[0]
    if not _KEY.fullmatch(key):
        raise key_invalid()
    record_id = _record_id(request, caller, key)
    sent = fingerprint()
    found = record_get(KIND, record_id)
    if found is not None:
        return _replayed(found, sent, replay)
    taken = record_take(
        KIND,
        record_id,
        owner=uuid.uuid4().hex,
        status=IN_FLIGHT,
        lifetime=WRITE_LIFETIME,
        data={"fingerprint": sent},
    )
    if taken is None:  # another request with the key took it between our read and our take
        found = record_get(KIND, record_id)
        if found is None:
            raise key_in_flight()
        return _replayed(found, sent, replay)
    try:
        response, result = work()
    except BaseException:
        _let_go(taken)
        raise
    if 200 <= response.status_code < 300:
        data = {"fingerprint": sent, "status": response.status_code, "result": result}
        try:
            record_update(taken, status=DONE, lifetime=LIFETIME, data=data)
        except storage_errors():
            logger.exception("keeping the answer of an %s failed; a retry does the work again", HEADER)
    else:
        _let_go(taken)
    return response


def _replayed(record, fingerprint: str, replay: Callable[[dict, int], Response]) -> Response:
    data = record.data.as_dict() if hasattr(record.data, "as_dict") else dict(record.data)
    if data.get("fingerprint") != fingerprint:
        raise key_reused()
    if record.status != DONE:
        raise key_in_flight()
    response = replay(data["result"], int(data["status"]))
    response[REPLAYED_HEADER] = "true"
    return response


def _let_go(record) -> None:
    try:
        record_release(record)
    except storage_errors():
        logger.exception("releasing an %s record failed; it expires by itself", HEADER)


def caller_of(request) -> str:
    """Who a write is from, for its key's scope: the curator's key id, else anyone (a visitor's write is
    scoped by its route, which names the visitor id, and by the token it sends: in its fingerprint)."""
    key_id = getattr(request.user, "key_id", None)
    return f"curator:{key_id}" if key_id else "anyone"
