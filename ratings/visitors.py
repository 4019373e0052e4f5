"""Visitor ids: a ``userId`` belongs to the client that first wrote with it, proven by a signed token.

The guide's clients invent their own ``userId``; the first rating write with an id nobody holds takes
it (a conditional write of a ServiceRecords record of kind ``visitor``, id = the userId) and its answer
carries ``visitorToken``. From then on every write as that visitor (a re-rating, withdrawing the rating)
must send it as ``X-Visitor-Token``; ``POST /api/visitors`` hands out a fresh id already taken, with
its token, for clients that would rather not invent one. Rating answers (``PUT`` and the guide's
``rate_photo``) carry the token; reads and withdrawals do not (their caller has it or needs none).

The token is ``<generation>.<signature>``: ``generation`` is a random nonce chosen when the id is taken,
kept in the record as its owner; ``signature`` is an HMAC of the userId and the generation with the
service's secret key (``salted_hmac``, SHA-256; tokens signed with a key of ``SECRET_KEY_FALLBACKS`` are
accepted, and every rating answer hands back the token signed with the current key, so a rotation
with fallbacks loses nobody). Nothing secret is stored: without the key a generation signs nothing.
The generation tells holdings apart: a token is valid while the id's record names its generation (or,
once nothing holds the id, takes it back: below), a client that takes a free id gets a generation the
old holder's token does not name, and every rating names the generation of the holding that wrote it.

A holding reaches only the ratings it wrote. Every rating a holder writes keeps the holding's generation
(``visitorGeneration`` on the PhotoRating), and a write as U may replace or withdraw U's rating of a
photo only when the rating names the generation of the token sent (``visitor_may_change``). This is
identity, not time: no timestamps are compared, so hosts whose clocks disagree agree on it, and a
holding its token takes back (below) keeps its ratings. Nothing else is reachable: a rating that names
no holding (written before the service kept the generation: before visitor tokens, and under the first
releases with tokens) and a rating of another holding of the same id.

Rules for a write as visitor U (``visitor_hold``, then ``visitor_may_change`` for the rating it changes):
- a token is sent: it must be signed for U and name the generation of U's record, else 403
  ``visitor_token_invalid``. A holding that lapsed (its record expired) is taken back by its token, as
  the same holding, while its expired record is still there (nobody held U since) or once nothing holds
  U: DynamoDB has deleted the expired record (TTL, days after), or left the expired take of a write
  that never committed. While U's record names another holding, even an expired one (its holder may
  come back), the token opens nothing (403 ``visitor_token_invalid``);
- a token is sent and U's rating of the photo names another holding, or none: 403
  ``rating_of_another_holding``;
- no token: only a rating may take U, only to create, and only when nothing holds U. The caller reads
  U's rating of the photo first, and when there is one the answer is 403 ``visitor_token_required``
  before anything is taken or written. The same answer goes to a concurrent taker that lost, to a
  write without a token for an id whose record names a holding (live, or expired but not yet deleted)
  and to every withdrawal without one. The take is pending (``WRITE_LIFETIME``) until the rating's own
  transaction makes it held (``visitor_hold_in``), and a write that fails releases it; a take whose
  request died expires within minutes, so an id is never kept without its token having been handed out.

Why a token-less take never replaces a holding's expired record: the take comes before the write knows
it will land (the rating may appear meanwhile, the cap on new ids may refuse it, its transaction may
fail), and a write that fails releases what it took. Taken over no record, or over the expired take of
a write that never committed (whose token nobody was given), that release leaves the id as it found
it; taken over a holding's record, it would erase the only trace of whose the id was, so a refused
request would decide who may take it next. The cost is a short wait: an id unused for its lifetime is
free to newcomers once DynamoDB has deleted its record (usually within a few days of expiring; DynamoDB
Local never deletes), and until then its holder takes it back with the token.

Lifetime: an id is held ``VISITOR_ID_DAYS`` (default 730) from its last write that found less than
half of that left (one conditional write then extends it). An id unused for that long lapses and, once
DynamoDB has deleted its record, is free again: its old ratings stay counted and frozen to everyone but
the old token; a client taking the id without a token may rate photos the id has not rated and change
only those; the old token, whenever nobody else holds the id, takes it back with its own ratings.

Ratings that name no holding stay as they are, counted, and nobody can change or withdraw them (a
newcomer taking the id by rating another photo reaches only what it rates itself). A visitor whose
rating names no holding and who wants to change it starts again with a new id; the old rating stays
beside the new one, and the cap on new visitor ids per address per photo per day (``ratings.stuffing``)
bounds how much starting again can add.

A visitor who lost their token cannot prove the id is theirs, and nothing can (there is no account to
recover): they start again with a new id (``POST /api/visitors``, or the guide's call with a new
userId), with the same outcome: their old rating stays counted under the old id, unchangeable in
practice, and the same cap bounds how many ratings starting again like this can add.
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
# Why a write was refused (403), in the envelope's details as "reason":
TOKEN_REQUIRED = "visitor_token_required"  # noqa: S105 (a reason code, not a secret)
TOKEN_INVALID = "visitor_token_invalid"  # noqa: S105 (a reason code, not a secret)
ANOTHER_HOLDING = "rating_of_another_holding"  # the rating names another holding of the id, or none
_GENERATION = re.compile(r"[0-9a-f]{16}")
_TOKEN_MAX_LENGTH = 200  # a real one is 81 characters; longer ones are not worth an HMAC
_RELEASE_FAILURES: tuple[type[BaseException], ...] = (DomainError, *storage_errors())


class VisitorRefused(Forbidden):
    """A write as a visitor id this client may not make (403): without the id's token, with a wrong
    one, or changing a rating its holding did not write."""

    code = TOKEN_REQUIRED
    default_message = f"This visitor id belongs to another client: send its {HEADER}."

    def __init__(self, message: str | None = None, *, user_id: str, code: str = TOKEN_REQUIRED):
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
    """What a write may do as a visitor: the token its answer hands back, the holding's generation
    (every rating the write stores keeps it, and the write may change only ratings that name it), and,
    when this request took the id, the pending record (made held by the write's transaction, released
    if the write fails)."""

    user_id: str
    token: str
    generation: str
    pending: ServiceRecord | None = None


@dataclass(frozen=True)
class NewVisitor:
    user_id: str
    token: str


def visitor_hold(*, user_id: str, token: str | None, creating: bool) -> VisitorHold:
    """May this write act as ``user_id``? VisitorRefused if not (the module's docstring has the rules).

    ``creating`` is True only for a rating of a photo the visitor has not rated (the caller read it just
    before): without a token nothing else may take the id, and the refusal comes before anything is
    written. Which stored ratings the holding may change is ``visitor_may_change``'s to say.
    """
    if token:
        return _held_with_token(user_id, token)
    if not creating:
        raise VisitorRefused(
            f"Changing or withdrawing a visitor's rating needs the id's {HEADER}.", user_id=user_id
        )
    return _taken_without_token(user_id)


def visitor_may_change(hold: VisitorHold, *, generation: str | None) -> None:
    """May this write replace or withdraw the visitor's stored rating, written by the holding
    ``generation`` (None: a rating that names no holding)? VisitorRefused if not: a take without a
    token only creates, and a holding reaches only the ratings it wrote."""
    if hold.pending is not None:
        # The caller read no rating, yet one is there now: a take without a token only creates.
        raise VisitorRefused(
            f"Changing or withdrawing a visitor's rating needs the id's {HEADER}.", user_id=hold.user_id
        )
    if generation is None or generation != hold.generation:
        raise VisitorRefused(
            f"This rating was not made with this visitor id's {HEADER} (it is from before visitor tokens, "
            "or from another holding of the id), so the token cannot change it: rate with a new visitor id.",
            user_id=hold.user_id,
            code=ANOTHER_HOLDING,
        )


def _taken_without_token(user_id: str) -> VisitorHold:
    """Take an id nothing holds, pending, for a write that creates a rating: over no record, or over the
    expired take of a write that never committed; never over a holding's record, even an expired one
    (the module's docstring says why). Over exactly what we read, so a concurrent taker loses."""
    record = record_get(KIND, user_id, include_expired=True)
    if record is not None and not (record.expired and record.status == PENDING):
        raise VisitorRefused(user_id=user_id)
    generation = secrets.token_hex(8)
    taken = record_take(
        KIND,
        user_id,
        owner=generation,
        status=PENDING,
        lifetime=WRITE_LIFETIME,
        replacing=record,
        over_expired=False,
    )
    if taken is None:
        raise VisitorRefused(user_id=user_id)  # another client took the id between our read and our take
    return VisitorHold(user_id, visitor_token(user_id, generation), generation, pending=taken)


def _held_with_token(user_id: str, token: str) -> VisitorHold:
    generation = token_generation(user_id, token)
    if generation is None:
        raise _invalid(user_id)
    hold = VisitorHold(user_id, visitor_token(user_id, generation), generation)
    for _ in range(2):
        record = record_get(KIND, user_id, include_expired=True)
        if record is not None and not record.expired:
            if record.owner != generation:
                raise _invalid(user_id)  # held by another client
            _extend(record)
            return hold
        if record is not None and record.owner != generation and record.status != PENDING:
            raise _invalid(user_id)  # another client held the id after this token's holding
        # The holding lapsed: its own expired record, no record (DynamoDB deleted it) or the expired
        # take of a write that never committed. Take the id back as the same holding, over exactly what
        # we read: its ratings name this generation, so they are its own again.
        taken = record_take(
            KIND,
            user_id,
            owner=generation,
            status=HELD,
            lifetime=visitor_lifetime(),
            replacing=record,
            over_expired=False,
        )
        if taken:
            return hold
        # taken between our read and our take: read again whose it is
    raise Conflict("Others are taking this visitor id right now; try again.")


def _invalid(user_id: str) -> VisitorRefused:
    return VisitorRefused(
        f"The {HEADER} does not belong to this visitor id.", user_id=user_id, code=TOKEN_INVALID
    )


def _extend(record: ServiceRecord) -> None:
    """Hold a used id for another lifetime once less than half of it is left (a write every year or
    so per active visitor, not one per rating). Not applied when the record changed meanwhile. (The
    data a record of an earlier release kept, its holding's start, goes: nothing reads it.)"""
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
    transaction committed before a later step failed: its rating stays, naming a holding whose token
    nobody was given, so nobody can change it (the client's retry, without a token, is refused), and
    the id goes to the next writer of a new rating.

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
