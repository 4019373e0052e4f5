"""Visitor ids: a ``userId`` belongs to the client that first wrote with it, proven by a signed token.

The guide's clients invent their own ``userId``; the first rating write with an id nobody holds takes
it (a conditional write of a ServiceRecords record of kind ``visitor``, id = the userId) and its answer
carries ``visitorToken``. From then on every write as that visitor (a re-rating, withdrawing the rating)
must send it as ``X-Visitor-Token``; ``POST /api/visitors`` hands out a fresh id already taken, with
its token, for clients that would rather not invent one.

The token is ``<generation>.<signature>``: ``generation`` is a random nonce chosen when the id is taken,
kept in the record as its owner; ``signature`` is an HMAC of the userId and the generation with the
service's secret key (``salted_hmac``, SHA-256; tokens signed with a key of ``SECRET_KEY_FALLBACKS`` are
accepted, and every rating answer hands back the token signed with the current key, so a rotation
with fallbacks loses nobody). Nothing secret is stored: without the key a generation signs nothing.
The generation is what makes an id's holding end: a token is valid only while the id's record names
its generation, so a client that takes an expired id gets a token the old holder's does not match.

Rules for a write as visitor U (``visitor_hold``):
- a token is sent: it must be signed for U and name the generation of U's record, else 403
  ``visitor_token_invalid``; with no live record (it expired) the token's holder takes U again;
- no token: only a rating may take U, and only when nobody holds it (a concurrent taker loses, 403
  ``visitor_token_required``, as does any write without a token for a held U and every withdrawal
  without one). The take is pending (``WRITE_LIFETIME``) until the rating's own transaction makes it
  held (``visitor_hold_in``), and a write that fails releases it; a take whose request died expires
  within minutes, so an id is never kept without its token having been handed out.

Lifetime: an id is held ``VISITOR_ID_DAYS`` (default 730) from its last write that found less than
half of that left (one conditional write then extends it). An id unused for that long becomes free
again, as expired records are absent: the next client to write with it takes it (its ratings stay).
Ids rated before visitor ids existed are free too: their first write after this release takes them.

A visitor who lost their token cannot prove the id is theirs, and nothing can (there is no account to
recover): they start again with a new id (``POST /api/visitors``, or the guide's call with a new
userId). Their old rating stays counted under the old id, which is theirs no more in practice; the
cap on new visitor ids per address per photo per day (``ratings.stuffing``) bounds how many ratings
starting again like this can add.
"""

import hmac
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils.crypto import salted_hmac
from pynamodb.transactions import TransactWrite

from core.conditional import applied
from core.errors import Conflict, DomainError, Forbidden, storage_errors
from core.records import (
    WRITE_LIFETIME,
    ServiceRecord,
    record_get,
    record_release,
    record_take,
    record_update,
    record_update_in,
)

logger = logging.getLogger("gallery.ratings")

KIND = "visitor"
HEADER = "X-Visitor-Token"
HELD = "held"
PENDING = "pending"  # taken by a write in flight, until its transaction makes it held
TOKEN_SALT = "ratings.visitor-token"  # noqa: S105 (an HMAC key salt, not a secret)
_GENERATION = re.compile(r"[0-9a-f]{16}")
_TOKEN_MAX_LENGTH = 200  # a real one is 81 characters; longer ones are not worth an HMAC
_RELEASE_FAILURES: tuple[type[BaseException], ...] = (DomainError, *storage_errors())


class VisitorRefused(Forbidden):
    """A write as a visitor id without that id's token (403)."""

    code = "visitor_token_required"
    default_message = f"This visitor id belongs to another client: send its {HEADER}."

    def __init__(self, message: str | None = None, *, user_id: str, code: str = "visitor_token_required"):
        # The code is in the details too: the envelope carries no code of its own.
        super().__init__(message, code=code, details={"userId": user_id, "reason": code})


def visitor_lifetime() -> timedelta:
    return timedelta(days=settings.VISITOR_ID_DAYS)


def _signature(user_id: str, generation: str, secret: str | bytes) -> str:
    value = f"{user_id}:{generation}"
    return salted_hmac(TOKEN_SALT, value, secret=secret, algorithm="sha256").hexdigest()


def visitor_token(user_id: str, generation: str) -> str:
    """The token of ``user_id``'s holding ``generation``, signed with the current secret key."""
    return f"{generation}.{_signature(user_id, generation, settings.SECRET_KEY)}"


def token_generation(user_id: str, token: str) -> str | None:
    """The generation a token names when it is signed for ``user_id`` (with the current key or a
    fallback); None for anything else."""
    generation, dot, signature = token.partition(".")
    if not dot or len(token) > _TOKEN_MAX_LENGTH or not _GENERATION.fullmatch(generation):
        return None
    given = signature.encode()
    for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
        if hmac.compare_digest(given, _signature(user_id, generation, secret).encode()):
            return generation
    return None


@dataclass(frozen=True)
class VisitorHold:
    """What a write may do as a visitor: the token its answer hands back and, when this request took
    the id, the pending record (made held by the write's transaction, released if the write fails)."""

    user_id: str
    token: str
    pending: ServiceRecord | None = None


@dataclass(frozen=True)
class NewVisitor:
    user_id: str
    token: str


def visitor_hold(*, user_id: str, token: str | None, may_take: bool) -> VisitorHold:
    """May this write act as ``user_id``? VisitorRefused if not (the module's docstring has the rules).

    ``may_take`` is True for a rating (which may take an id nobody holds), False for a withdrawal.
    """
    if token:
        return _held_with_token(user_id, token)
    if not may_take:
        raise VisitorRefused(f"Withdrawing a rating needs the visitor's {HEADER}.", user_id=user_id)
    generation = secrets.token_hex(8)
    record = record_take(KIND, user_id, owner=generation, status=PENDING, lifetime=WRITE_LIFETIME)
    if record is None:
        raise VisitorRefused(user_id=user_id)
    return VisitorHold(user_id, visitor_token(user_id, generation), pending=record)


def _held_with_token(user_id: str, token: str) -> VisitorHold:
    generation = token_generation(user_id, token)
    if generation is None:
        raise _invalid(user_id)
    for _ in range(2):
        record = record_get(KIND, user_id)
        if record is None:
            if record_take(KIND, user_id, owner=generation, status=HELD, lifetime=visitor_lifetime()):
                return VisitorHold(user_id, visitor_token(user_id, generation))
            continue  # taken between our read and our take: read again whose it is
        if record.owner != generation:
            raise _invalid(user_id)  # taken by another client since this token's holding expired
        _extend(record)
        return VisitorHold(user_id, visitor_token(user_id, generation))
    raise Conflict("Others are taking this visitor id right now; try again.")


def _invalid(user_id: str) -> VisitorRefused:
    return VisitorRefused(
        f"The {HEADER} does not belong to this visitor id.", user_id=user_id, code="visitor_token_invalid"
    )


def _extend(record: ServiceRecord) -> None:
    """Hold a used id for another lifetime once less than half of it is left (a write every year or
    so per active visitor, not one per rating). Not applied when the record changed meanwhile."""
    lifetime = visitor_lifetime()
    if record.expires_at - datetime.now(UTC) < lifetime / 2:
        applied(lambda: record_update(record, status=HELD, lifetime=lifetime, data={}))


def visitor_hold_in(transaction: TransactWrite, hold: VisitorHold) -> None:
    """Make a pending take held, as one item of the write's transaction (it fails the whole if the
    record changed: a take that outlived its write). Nothing to add when the write took no id."""
    if hold.pending is not None:
        record_update_in(transaction, hold.pending, status=HELD, lifetime=visitor_lifetime(), data={})


def visitor_let_go(hold: VisitorHold) -> None:
    """Release the record a failed write took (only that take: the release is conditioned on its
    generation), so the id is not held by a token nobody was given. That includes a write whose
    transaction committed before a later step failed: its rating stays, and the id goes to its next
    writer (most likely the same client retrying, who is then handed the token).

    Called while the write's own error is on its way to the client, so a failure here is logged, not
    raised: a pending take then expires by itself within ``WRITE_LIFETIME``.
    """
    if hold.pending is None:
        return
    try:
        record_release(hold.pending)
    except _RELEASE_FAILURES:
        logger.warning("visitor id %r not released; it frees itself when its record expires", hold.user_id)


def visitor_create() -> NewVisitor:
    """A fresh visitor id (32 hex digits), already held, and its token."""
    for _ in range(3):
        user_id, generation = uuid.uuid4().hex, secrets.token_hex(8)
        if record_take(KIND, user_id, owner=generation, status=HELD, lifetime=visitor_lifetime()):
            return NewVisitor(user_id, visitor_token(user_id, generation))
    raise Conflict("No fresh visitor id could be taken; try again.")
