"""Rating a photo: find the live photo the visitor may see, check who may write as the visitor, then
ratings' transaction with the photo's "still alive" rule; withdrawing a rating the same way.

Every rating route (rate, withdraw, a visitor's rating, the summary) finds the photo with
``photos.selectors.photo_readable``: a photo of a private gallery answers 404 to anyone but curators,
exactly like a photo that does not exist, and no 404 names the photo's gallery. Who may write as a
visitor id, and which of its stored ratings that holding may change, is ``ratings.visitors``' rule; it
is checked once the photo is found, so a missing or hidden photo is 404 whatever token is sent.

After a rating's transaction the photo is read again (consistently) for the answer, and its sort key of
the average (``ratingOrder``) is set from that read (``photos.services.order_keys``): conditioned on the
aggregate being unchanged since, so the last of concurrent raters sets it; a failure is only logged.
"""

import logging
import random
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import caches

from core.clock import iso, now_iso
from core.conditional import applied
from core.errors import Conflict, NotFound
from core.observability import HOT_PHOTOS, WRITE_RETRIES, metric
from core.transactions import Contended
from photos.models import GalleryPhoto
from photos.selectors import photo_after_write, photo_alive, photo_find, photo_readable
from photos.services.order_keys import rating_order_follow
from ratings import aggregate
from ratings.models import PhotoRating
from ratings.selectors import VisitorRating, rating_of
from ratings.services import (
    RatingRaced,
    RatingWritten,
    aggregate_initialise,
    rating_commit,
    rating_put_streamed,
    rating_withdraw,
)
from ratings.stuffing import new_rater_count
from ratings.visitors import VisitorHold, visitor_hold, visitor_let_go

logger = logging.getLogger(__name__)

# A rating write that keeps losing to concurrent writers of the same photo gives up after this many
# tries; the pauses between tries grow from a few milliseconds to about a quarter second. A try is lost
# when the visitor's rating changed since it was read (RatingRaced: the answer is then 409) or when
# DynamoDB cancelled every attempt of its transaction because other raters' transactions held the photo
# item (Contended, after core.transactions' own attempts: 503). On a photo many visitors rate at once the
# second is the common one: one transaction's attempts pause 0.3 s in all on average, less than a turn
# takes when a dozen raters queue for the item (bench/ratings.py, docs/scale.md).
RATING_WRITE_ATTEMPTS = 10
RETRY_PAUSE_SECONDS = 0.005
RETRY_PAUSE_MAX_SECONDS = 0.25
# A rating stops trying again after this long (its last try may end later), well within the request's
# deadline: under a storm a rater holds its function for seconds at most, not for the deadline.
RATING_RETRY_BUDGET_SECONDS = 3.0


def photo_rate(
    *,
    photo_id: str,
    user_id: str,
    rating: int,
    visitor_token: str | None = None,
    curator: bool = False,
    address: str | None = None,
) -> RatingWritten:
    """Record a visitor's rating of a live photo, replacing their earlier one.

    ``visitor_token`` proves the id is the caller's (``ratings.visitors``; 403 without it for a held
    id, and the answer hands back the token either way). Without a token a write may only create: the
    visitor's rating of the photo is read first, and when there is one the write is 403 before it takes
    or writes anything; a holding changes only the ratings it wrote. A visitor id new to the photo is
    counted against its client ``address``'s daily cap (``ratings.stuffing``; 429 over it). Each try
    reads afresh (the photo, whose delete may have started; the visitor's earlier rating) and commits
    one transaction (``ratings.services.rating_commit``); a try that lost a race, or whose transaction
    DynamoDB kept cancelling while other raters' transactions held the photo item, starts again. A
    write that fails releases the visitor id it took.
    """
    photo = _rated_photo(photo_id=photo_id, curator=curator)
    previous = rating_of(photo_id=photo.photo_id, user_id=user_id)
    hold = visitor_hold(user_id=user_id, token=visitor_token, creating=previous is None)
    try:
        written = _rate(photo, rating, hold, address, previous)
    except Exception:
        visitor_let_go(hold)
        raise
    return written


def _rate(
    photo: GalleryPhoto, rating: int, hold: VisitorHold, address: str | None, previous: PhotoRating | None
) -> RatingWritten:
    """The tries of a rating write; the first uses the photo and the earlier rating the caller read."""
    photo_id, user_id = photo.photo_id, hold.user_id
    counted = False  # a visitor id new to the photo is counted against its address once per request
    lost: Exception | None = None
    started = time.monotonic()
    for attempt in range(RATING_WRITE_ATTEMPTS):
        if attempt:
            photo = photo_find(photo_id=photo_id)
            previous = rating_of(photo_id=photo_id, user_id=user_id)
        if not aggregate.is_ready(photo):
            aggregate_initialise(photo=photo, alive=photo_alive())
        if previous is None and address is not None and not counted:
            new_rater_count(address=address, photo_id=photo_id)
            counted = True
        streamed = is_streamed(photo)
        try:
            if streamed:
                written = rating_put_streamed(
                    photo=photo, user_id=user_id, stars=rating, previous=previous, hold=hold
                )
            else:
                written = rating_commit(
                    photo=photo,
                    user_id=user_id,
                    stars=rating,
                    previous=previous,
                    alive=photo_alive(),
                    hold=hold,
                )
        except (RatingRaced, Contended) as error:
            lost = error
            if not _worth_another_try(error, started):
                break
            if not streamed and _turned_hot(photo, error):
                continue  # the next try reads the photo again and puts its rating for the stream
            _pause_before_retry(attempt, error)
            continue
        if streamed:
            # The aggregate as last applied: this rating joins it within about a second.
            current = photo
        else:
            current = photo_after_write(photo=photo)
            rating_order_follow(photo=current)
        state = VisitorRating(current, user_id, written)
        return RatingWritten(state, created=previous is None, visitor_token=hold.token)
    if isinstance(lost, Contended):
        raise lost
    raise Conflict("Many visitors are rating this photo right now and the rating was not saved; try again.")


def photo_rating_withdraw(
    *, photo_id: str, user_id: str, visitor_token: str | None, curator: bool = False
) -> VisitorRating:
    """Withdraw a visitor's rating with its token: one transaction deletes it and takes its stars out
    of the photo's aggregate (``ratings.services.rating_withdraw``); NotFound when there is none, 403
    without a token (before looking) or when the rating is not the token's holding's.

    Answers what a read of that rating then answers (no rating, the new aggregate).
    """
    photo = photo_readable(photo_id=photo_id, curator=curator)
    hold = visitor_hold(user_id=user_id, token=visitor_token, creating=False)
    lost: Exception | None = None
    started = time.monotonic()
    for attempt in range(RATING_WRITE_ATTEMPTS):
        if attempt:
            photo = photo_find(photo_id=photo_id)
        if not aggregate.is_ready(photo):
            aggregate_initialise(photo=photo, alive=photo_alive())
        previous = rating_of(photo_id=photo_id, user_id=user_id)
        if previous is None:
            raise NotFound(f"Visitor {user_id!r} has not rated photo {photo_id!r}.")
        try:
            rating_withdraw(photo=photo, previous=previous, alive=photo_alive(), hold=hold)
        except (RatingRaced, Contended) as error:
            lost = error
            if not _worth_another_try(error, started):
                break
            _pause_before_retry(attempt, error)
            continue
        current = photo_after_write(photo=photo)
        rating_order_follow(photo=current)
        return VisitorRating(current, user_id, None)
    if isinstance(lost, Contended):
        raise lost
    raise Conflict(
        "Many visitors are rating this photo right now and the rating was not withdrawn; try again."
    )


# The hot photos this process read lately, as a visitor may rate them (the photo item and its gallery's
# visibility checked), kept RATING_HOT_READ_SECONDS in a local-memory cache of their own (settings.CACHES:
# at most a few hundred photos; their own, so they never crowd out the throttles' counts). At thousands of
# ratings a second on one photo, its three reads per rating (the byPhotoId entry, the photo item, the
# gallery item) would pass one partition's 3,000 read units a second; kept here, each function instance
# reads them about once a second. What that costs: for up to that long after a photo's gallery is made
# private or the photo is deleted, a visitor may still rate it (the answer shows what they saw a moment
# before; the aggregator removes a deleted photo's streamed ratings). Only hot photos, only for visitors.
HOT_PHOTOS_CACHE = "hot-photos"


def _rated_photo(*, photo_id: str, curator: bool) -> GalleryPhoto:
    """The photo a rating is for, as ``photo_readable`` finds it, or as this process read it a moment ago
    when it is hot and the rater a visitor (``HOT_PHOTOS_CACHE``)."""
    kept_photos = caches[HOT_PHOTOS_CACHE]
    if not curator:
        kept = kept_photos.get(photo_id)
        if kept is not None and is_streamed(kept):
            return kept
    photo = photo_readable(photo_id=photo_id, curator=curator)
    if not curator and is_streamed(photo) and settings.RATING_HOT_READ_SECONDS > 0:
        kept_photos.set(photo_id, photo, timeout=settings.RATING_HOT_READ_SECONDS)
    return photo


def is_streamed(photo: GalleryPhoto) -> bool:
    """Whether a rating of ``photo`` is put for the stream aggregator instead of a transaction: the
    photo is hot (``_turned_hot``) and the stream reaches the service (``RATING_STREAM_AGGREGATION``)."""
    return (
        settings.RATING_STREAM_AGGREGATION
        and photo.rating_hot_until is not None
        and photo.rating_hot_until > now_iso()
        and aggregate.is_ready(photo)
    )


def _turned_hot(photo: GalleryPhoto, error: Exception) -> bool:
    """A transaction that ran out of attempts on other raters' transactions makes its photo hot for
    ``RATING_HOT_SECONDS``: its ratings then stop writing the photo item, so they stop meeting. True
    when this write made it so (or found it so), so the try that lost is made again at once."""
    if not (settings.RATING_STREAM_AGGREGATION and isinstance(error, Contended) and error.conflicts_only):
        return False
    until = hot_until()
    try:
        # Not applied when the photo is going (its next read says so) or another rater set it later.
        marked = applied(
            lambda: photo.update(
                actions=[GalleryPhoto.rating_hot_until.set(until)],
                condition=photo_alive() & _not_hot_until(until),
            )
        )
    except Exception:  # the photo item is busy: this rating goes on as a transaction
        logger.warning("photo %s: could not mark it hot", photo.photo_id, exc_info=True)
        return False
    if marked:
        metric(HOT_PHOTOS, 1)
        logger.info("photo %s: hot until %s; its ratings go through the stream", photo.photo_id, until)
    return True


def hot_until() -> str:
    """Until when a photo marked hot now stays hot (ISO time, as ``ratingHotUntil`` stores it)."""
    return iso(datetime.now(UTC) + timedelta(seconds=settings.RATING_HOT_SECONDS))


def _not_hot_until(until: str):
    hot = GalleryPhoto.rating_hot_until
    return hot.does_not_exist() | (hot < until)


def _worth_another_try(error: Exception, started: float) -> bool:
    """Whether a lost try is tried again with fresh reads: a race with another rating, or a transaction
    that met only other writers' transactions, within the retry budget. Throttling is not retried
    harder (each try would add load where DynamoDB asked for less): its 503 tells the client to wait."""
    if isinstance(error, Contended) and not error.conflicts_only:
        return False
    return time.monotonic() - started < RATING_RETRY_BUDGET_SECONDS


def _pause_before_retry(attempt: int, error: Exception) -> None:
    if attempt == RATING_WRITE_ATTEMPTS - 1:
        return  # no try follows: the caller answers at once
    metric(WRITE_RETRIES, 1, reason=type(error).__name__)
    # Full jitter: writers that collided once spread out instead of colliding again in step.
    ceiling = min(RETRY_PAUSE_MAX_SECONDS, RETRY_PAUSE_SECONDS * 2**attempt)
    time.sleep(random.uniform(0, ceiling))
