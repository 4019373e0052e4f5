"""Rating writes: a visitor's rating or its withdrawal with the aggregate change each makes, and
removing a photo's ratings.

Finding the photo and who may write as a visitor (``ratings.visitors.visitor_hold``) are the caller's
part (``photos.services.rate`` composes these with the photo's own "still alive" condition); this module
owns the PhotoRatings items and how they move the aggregate, and asks ``ratings.visitors`` whether the
holding may change the stored rating it read (``visitor_may_change``: only the holding that wrote it).
Every rating written keeps the generation of the holding that wrote it (``visitorGeneration``).
"""

from dataclasses import dataclass
from typing import Any

from pynamodb.expressions.condition import Condition

from core.clock import now_iso
from core.conditional import applied
from core.observability import RATING_WRITES, metric
from core.transactions import Refused, transaction_run
from ratings import aggregate
from ratings.models import PhotoRating
from ratings.selectors import VisitorRating
from ratings.stream import STREAMED
from ratings.visitors import VisitorHold, VisitorRefused, visitor_hold_in, visitor_may_change


@dataclass(frozen=True)
class RatingWritten:
    state: VisitorRating
    created: bool  # False when the visitor's earlier rating was replaced
    visitor_token: str | None = None  # the visitor's token, handed back with every rating


class RatingRaced(Exception):
    """Another writer changed this rating or the photo between our read and our write: read again."""


def rating_commit(
    *,
    photo: Any,
    user_id: str,
    stars: int,
    previous: PhotoRating | None,
    alive,
    hold: VisitorHold,
) -> PhotoRating:
    """One transaction: put the visitor's rating and apply the difference to the photo's aggregate.

    ``previous`` (the rating read just before, or none) must be one ``hold`` may change
    (VisitorRefused, nothing written: a take without a token only creates, a holding reaches only the
    ratings it wrote). The put is conditioned on it (its stars and its holding), so two writers cannot
    both apply a difference from the same old value; the photo update carries the caller's ``alive``
    condition, so a deleted or deleting photo is never rated or recreated. RatingRaced when either
    failed. A visitor id this write took (``hold.pending``) becomes held in the same transaction
    (VisitorRefused if that take was lost meanwhile). Concurrent transactions on the photo item are
    retried by ``core.transactions``.
    """
    written, rating_unchanged = _rating_to_write(photo, user_id, stars, previous, hold)
    model = type(photo)
    actions = aggregate.change_actions(
        model, new=stars, old=aggregate.counted_value(previous and previous.rating)
    )

    def build(transaction):
        transaction.save(written, condition=rating_unchanged)
        if actions:
            transaction.update(
                photo, actions=actions, condition=alive & aggregate.bucket_exists(model, stars)
            )
        else:
            # Same stars again: only ratedAt moves, but the photo must still be alive.
            transaction.condition_check(model, photo.gallery_id, photo.photo_id, condition=alive)
        visitor_hold_in(transaction, hold)  # the third item when the write took the id

    _rating_transaction(build, user_id=user_id, visitor_item=2)
    metric(RATING_WRITES, 1)
    return written


def rating_put_streamed(
    *, photo: Any, user_id: str, stars: int, previous: PhotoRating | None, hold: VisitorHold
) -> PhotoRating:
    """A hot photo's rating: the visitor's rating item alone, marked for the stream aggregator
    (``ratings.stream``), which adds its move to the photo's aggregate about a second later.

    The same rules as ``rating_commit`` for who may write it and for the rating read just before
    (RatingRaced when it changed, VisitorRefused for a take lost), but no write to the photo item, so
    raters of one photo never meet: one conditional PutItem, or a transaction with the visitor's record
    when this write takes the visitor id. The photo's "still alive" rule moves to the aggregator, which
    removes a rating whose photo was gone or going when it was put.
    """
    written, rating_unchanged = _rating_to_write(photo, user_id, stars, previous, hold, streamed=True)
    if hold.pending is None:
        if not applied(lambda: written.save(condition=rating_unchanged)):
            raise RatingRaced()
    else:

        def build(transaction):
            transaction.save(written, condition=rating_unchanged)
            visitor_hold_in(transaction, hold)  # the second item

        _rating_transaction(build, user_id=user_id, visitor_item=1)
    metric(RATING_WRITES, 1)
    return written


def _rating_to_write(
    photo: Any, user_id: str, stars: int, previous: PhotoRating | None, hold: VisitorHold, *, streamed=False
) -> tuple[PhotoRating, Condition]:
    """The rating item a write puts, and the condition it is put on: the stored rating is still the one
    read (none, or ``previous``), which ``hold`` must be allowed to change (VisitorRefused before
    anything is written)."""
    if previous is not None:
        visitor_may_change(hold, generation=previous.visitor_generation)
    written = PhotoRating(
        photo.photo_id,
        user_id,
        rating=stars,
        rated_at=now_iso(),
        gallery_id=photo.gallery_id,
        visitor_generation=hold.generation,
        aggregated_by=STREAMED if streamed else None,
    )
    condition = PhotoRating.user_id.does_not_exist() if previous is None else _unchanged(previous, hold)
    return written, condition


def _rating_transaction(build, *, user_id: str, visitor_item: int) -> None:
    """Commit a rating's transaction; a failed condition is the visitor's take lost (the record at
    ``visitor_item``, the position ``build`` added it at: ``core.transactions`` names items only by that
    order; VisitorRefused) or the rating changed since it was read (RatingRaced)."""
    try:
        transaction_run(build)
    except Refused as refused:
        if visitor_item in refused.failed:
            raise VisitorRefused(user_id=user_id) from None
        raise RatingRaced() from None


def rating_withdraw(*, photo: Any, previous: PhotoRating, alive, hold: VisitorHold) -> None:
    """One transaction: delete the visitor's rating and take its stars out of the photo's aggregate.

    ``previous`` must be a rating ``hold`` may change (VisitorRefused, nothing written). The delete is
    conditioned on the stars and the holding read just before (a re-rating in between would make the
    subtraction wrong), the photo update on ``alive``; RatingRaced when either failed.
    """
    visitor_may_change(hold, generation=previous.visitor_generation)
    model = type(photo)
    old = aggregate.counted_value(previous.rating)

    def build(transaction):
        transaction.delete(previous, condition=_unchanged(previous, hold))
        if old is None:
            # A value older code allowed never counted: nothing to subtract, but the photo must be alive.
            transaction.condition_check(model, photo.gallery_id, photo.photo_id, condition=alive)
        else:
            transaction.update(
                photo,
                actions=aggregate.change_actions(model, new=None, old=old),
                condition=alive & aggregate.bucket_exists(model, old),
            )

    try:
        transaction_run(build)
    except Refused:
        raise RatingRaced() from None


def _unchanged(previous: PhotoRating, hold: VisitorHold) -> Condition:
    """The stored rating is still the one read: its stars, written by this holding (``visitor_may_change``
    checked the read one)."""
    return (PhotoRating.rating == previous.rating) & (PhotoRating.visitor_generation == hold.generation)


def aggregate_initialise(*, photo: Any, alive) -> None:
    """Give a photo from before ratings (no full histogram) an aggregate counted from its stored ratings.

    Rating writes need every histogram bucket, so none can land between the count and this update;
    the condition lets only one of several first raters initialise.
    """
    model = type(photo)
    counts = dict.fromkeys(aggregate.empty_histogram(), 0)
    for stored in PhotoRating.query(photo.photo_id, consistent_read=True):
        stars = aggregate.counted_value(stored.rating)
        if stars is not None:
            counts[str(stars)] += 1
    # Not applied when someone else initialised it or the photo is going: the rating transaction sorts
    # out which.
    applied(
        lambda: photo.update(
            actions=aggregate.initial_actions(model, counts), condition=alive & aggregate.not_ready(model)
        )
    )


def ratings_delete_for_photo(*, photo_id: str) -> int:
    """Delete every rating of a photo; returns how many.

    Callers first stop new ratings (the photo's deletingAt, which the rating transaction checks); the
    consistent read then sees every rating committed before that.
    """
    deleted = 0
    with PhotoRating.batch_write() as batch:
        for rating in PhotoRating.query(
            photo_id, consistent_read=True, attributes_to_get=["photoId", "userId"]
        ):
            batch.delete(rating)
            deleted += 1
    return deleted
