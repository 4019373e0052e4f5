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
The generation is what makes an id's holding end: a token is valid only while the id's record names
its generation, so a client that takes an expired id gets a token the old holder's does not match.

A holding reaches only the ratings made since it began. The record keeps that moment (``since`` in its
data), and a write as U may replace or withdraw U's rating of a photo only when the rating's
``ratedAt`` is not older (``visitor_may_change``). So taking an id gives no power over what others rated
with it before: ratings from before visitor tokens existed, and those of an id whose holding lapsed.
(PhotoRatings is keyed photoId + userId with no index by userId, so "has this id rated anything?" has
no cheap answer; the rating's own ``ratedAt``, read before every write anyway, has it.)

Rules for a write as visitor U (``visitor_hold``, then ``visitor_may_change`` for the rating it changes):
- a token is sent: it must be signed for U and name the generation of U's record, else 403
  ``visitor_token_invalid``. A holding that lapsed (its record expired) is taken back by its token
  while the record still names that generation (nobody held U since), keeping its start. Once another
  client has held U, the old token opens nothing (403 ``visitor_token_invalid``); once DynamoDB has
  deleted the expired record (TTL, days after), nothing says who held U meanwhile, so the token takes
  U again as a holding that starts now;
- a token is sent and U's rating of the photo is older than the holding: 403 ``rating_predates_token``;
- no token: only a rating may take U, only when nobody holds it, and only to create: when U already
  rated this photo the answer is 403 ``visitor_token_required`` and the take is released, nothing
  changed. The same answer goes to a concurrent taker that lost, to any write without a token for a
  held U and to every withdrawal without one. The take is pending (``WRITE_LIFETIME``) until the
  rating's own transaction makes it held (``visitor_hold_in``), and a write that fails releases it; a
  take whose request died expires within minutes, so an id is never kept without its token having
  been handed out.

Lifetime: an id is held ``VISITOR_ID_DAYS`` (default 730) from its last write that found less than
half of that left (one conditional write then extends it). An id unused for that long becomes free
again, as expired records are absent, and its old ratings stay frozen: they stay counted, a client
taking the id without a token may rate photos the id has not rated and change only those, and only the
old token's holder can change them, by taking the id back while its record still names that token's
generation (nobody held it since and DynamoDB has not deleted it yet; as above).

Ratings from before this release belong to no holding, and no later holding reaches them: each stays
as it is, counted, and nobody can change or withdraw it (a newcomer taking the id by rating another
photo holds it only from then). A visitor who rated before tokens existed and wants to change their rating
starts again with a new id; the old rating stays beside the new one, and the cap on new visitor ids
per address per photo per day (``ratings.stuffing``) bounds how much starting again can add.

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

from core.clock import now_iso
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
SINCE = "since"  # in the record's data: when the holding began (ISO 8601, UTC, milliseconds)
TOKEN_SALT = "ratings.visitor-token"  # noqa: S105 (an HMAC key salt, not a secret)
_GENERATION = re.compile(r"[0-9a-f]{16}")
_TOKEN_MAX_LENGTH = 200  # a real one is 81 characters; longer ones are not worth an HMAC
_RELEASE_FAILURES: tuple[type[BaseException], ...] = (DomainError, *storage_errors())


class VisitorRefused(Forbidden):
    """A write as a visitor id this client may not make (403): without the id's token, with a wrong
    one, or changing a rating its holding does not reach."""

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
    """What a write may do as a visitor: the token its answer hands back, when the holding began (it
    reaches only ratings made since; None for a record written before holdings kept their start, which
    no release has), and, when this request took the id, the pending record (made held by the write's
    transaction, released if the write fails)."""

    user_id: str
    token: str
    since: datetime | None
    pending: ServiceRecord | None = None


@dataclass(frozen=True)
class NewVisitor:
    user_id: str
    token: str


def visitor_hold(*, user_id: str, token: str | None, may_take: bool) -> VisitorHold:
    """May this write act as ``user_id``? VisitorRefused if not (the module's docstring has the rules).

    ``may_take`` is True for a rating (which may take an id nobody holds), False for a withdrawal.
    What the holding may change is ``visitor_may_change``'s to say, once the write has read the rating.
    """
    if token:
        return _held_with_token(user_id, token)
    if not may_take:
        raise VisitorRefused(f"Withdrawing a rating needs the visitor's {HEADER}.", user_id=user_id)
    generation, since = secrets.token_hex(8), _now()
    record = record_take(
        KIND, user_id, owner=generation, status=PENDING, lifetime=WRITE_LIFETIME, data=_holding(since)
    )
    if record is None:
        raise VisitorRefused(user_id=user_id)
    return VisitorHold(user_id, visitor_token(user_id, generation), since, pending=record)


def visitor_may_change(hold: VisitorHold, *, rated_at: str | None) -> None:
    """May this write replace or withdraw the visitor's stored rating, made at ``rated_at``?
    VisitorRefused if not: a take without a token only creates, and a holding reaches only the ratings
    made since it began (not those from before visitor tokens, nor those of an earlier holding)."""
    if hold.pending is not None:
        raise VisitorRefused(
            "This visitor id rated this photo before this client held it, and without that holding's "
            f"{HEADER} its rating stays as it is: rate with a new visitor id.",
            user_id=hold.user_id,
        )
    if hold.since is None:
        return
    made = _moment(rated_at)
    if made is None or made < hold.since:
        raise VisitorRefused(
            f"This rating was made before this visitor id's {HEADER} was issued, so the token cannot "
            "change it: rate with a new visitor id.",
            user_id=hold.user_id,
            code="rating_predates_token",
        )


def _held_with_token(user_id: str, token: str) -> VisitorHold:
    generation = token_generation(user_id, token)
    if generation is None:
        raise _invalid(user_id)
    signed = visitor_token(user_id, generation)
    for _ in range(2):
        record = record_get(KIND, user_id, include_expired=True)
        if record is not None and not record.expired:
            if record.owner != generation:
                raise _invalid(user_id)  # taken by another client since this token's holding expired
            _extend(record)
            return VisitorHold(user_id, signed, _since(record))
        # The holding lapsed (or left no record): take the id back, over exactly what we read.
        if record is not None and record.owner == generation:
            since = _since(record)  # nobody held the id since: the holding goes on as it was
        elif record is None or record.status == PENDING:
            # No record (DynamoDB deleted it) or a take whose write never committed: nothing says
            # who held the id after this token's holding, so the holding starts again now.
            since = _now()
        else:
            raise _invalid(user_id)  # another client held the id after this token's holding
        taken = record_take(
            KIND,
            user_id,
            owner=generation,
            status=HELD,
            lifetime=visitor_lifetime(),
            data=_holding(since),
            replacing=record,
            over_expired=False,
        )
        if taken:
            return VisitorHold(user_id, signed, since)
        # taken between our read and our take: read again whose it is
    raise Conflict("Others are taking this visitor id right now; try again.")


def _invalid(user_id: str) -> VisitorRefused:
    return VisitorRefused(
        f"The {HEADER} does not belong to this visitor id.", user_id=user_id, code="visitor_token_invalid"
    )


def _now() -> datetime:
    """Now, to the millisecond, from the clock ratings' ``ratedAt`` is read from (``core.clock``)."""
    return datetime.fromisoformat(now_iso())


def _moment(text: str | None) -> datetime | None:
    """A stored ISO 8601 timestamp as an aware datetime (UTC when it names no zone); None if unreadable."""
    try:
        moment = datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _holding(since: datetime | None) -> dict:
    """The record's data: when the holding began."""
    if since is None:
        return {}
    return {SINCE: since.isoformat(timespec="milliseconds").replace("+00:00", "Z")}


def _since(record: ServiceRecord) -> datetime | None:
    return _moment(record.data.as_dict().get(SINCE))


def _extend(record: ServiceRecord) -> None:
    """Hold a used id for another lifetime once less than half of it is left (a write every year or
    so per active visitor, not one per rating). Not applied when the record changed meanwhile."""
    lifetime = visitor_lifetime()
    if record.expires_at - datetime.now(UTC) < lifetime / 2:
        data = _holding(_since(record))
        applied(lambda: record_update(record, status=HELD, lifetime=lifetime, data=data))


def visitor_hold_in(transaction: TransactWrite, hold: VisitorHold) -> None:
    """Make a pending take held, as one item of the write's transaction (it fails the whole if the
    record changed: a take that outlived its write). Nothing to add when the write took no id."""
    if hold.pending is not None:
        record_update_in(
            transaction, hold.pending, status=HELD, lifetime=visitor_lifetime(), data=_holding(hold.since)
        )


def visitor_let_go(hold: VisitorHold) -> None:
    """Release the record a failed write took (only that take: the release is conditioned on its
    generation), so the id is not held by a token nobody was given. That includes a write whose
    transaction committed before a later step failed: its rating stays, unchangeable like a rating
    from before tokens (the client's retry, without a token, is refused), and the id goes to the next
    writer of a new rating.

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
        data = _holding(_now())
        if record_take(KIND, user_id, owner=generation, status=HELD, lifetime=visitor_lifetime(), data=data):
            return NewVisitor(user_id, visitor_token(user_id, generation))
    raise Conflict("No fresh visitor id could be taken; try again.")
