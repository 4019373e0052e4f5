"""The stream aggregator: a hot photo's streamed ratings added to its aggregate, each exactly once.

Lambda hands PhotoRatings' stream over in batches (``scans.events.rating_changes``; ``make run``
delivers it itself), at least once, a batch possibly again after a failure, split in two, or with a
later record first on another shard. ``ratings.stream`` says which records are streamed ratings and what
each moves. For each photo of a batch, one transaction adds the sum of its changes to the photo item
(ADDs, so concurrent aggregators of two shards never overwrite each other) and takes one
``rating-event`` service record per change, named by the stream record's id: a change applied before
makes the transaction fail on its record, and it is left out of the next try. So a batch read again is
applied once, never twice, and a failure leaves the aggregate behind, never wrong. ``ratingOrder`` is
then set from the aggregate read again, as after a transactional rating.

A streamed put checks no photo (a check would put the photo item back in every rating): when the photo
is gone or its delete has begun, the aggregator removes the ratings it sees arrive (the photo's delete
removes the ones stored before).

Cost on AWS per streamed rating: the rating's PutItem (1 write unit under 1 KB), its record in the
aggregator's transaction (2), and the photo item's update shared by the up to ``CHANGES_PER_WRITE``
changes of one transaction.
"""

import logging
from collections.abc import Iterable
from datetime import timedelta

from pynamodb.exceptions import UpdateError

from core.conditional import TRANSACTION_CONFLICT
from core.errors import NotFound, aws_error_code, is_transient
from core.observability import RATING_STREAM_CHANGES, metric
from core.records import record_take_in
from core.transactions import Refused, transaction_run
from photos.models import GalleryPhoto
from photos.selectors import photo_after_write, photo_alive, photo_find, photo_get
from photos.services.order_keys import rating_order_refresh
from photos.services.rate import hot_until
from ratings import aggregate
from ratings.stream import RatingChange, streamed_changes, streamed_rating_drop

logger = logging.getLogger(__name__)

APPLIED_KIND = "rating-event"
# Longer than the stream keeps a record (24 hours): no record can come again once its mark has expired.
APPLIED_LIFETIME = timedelta(days=2)
# A transaction holds at most 100 items: the photo and one record per change.
CHANGES_PER_WRITE = 99
PHOTO_ITEM = 0
# A batch bringing at least this many of a photo's ratings keeps it hot: with Lambda's 1 s batching
# window, about that many ratings a second.
KEEP_HOT_CHANGES = 10


def rating_changes_apply(records: Iterable[dict]) -> list[str]:
    """Add the streamed ratings of a batch of stream records to their photos' aggregates.

    Returns the sequence numbers of the changes not applied (a photo's write failed: DynamoDB throttled
    or unavailable), for Lambda to deliver again from the lowest; the others are done, or were before.
    """
    by_photo: dict[str, list[RatingChange]] = {}
    seen: set[str] = set()
    for change in streamed_changes(records):
        if change.event_id not in seen:  # one record twice in an event would be one item twice in a write
            seen.add(change.event_id)
            by_photo.setdefault(change.photo_id, []).append(change)
    failed: list[str] = []
    for photo_id, changes in by_photo.items():
        try:
            _photo_apply(photo_id, changes)
        except Exception as error:
            # Throttled or unavailable is expected now and then (a warning); anything else is a fault
            # of ours, logged with its stack. Either way the changes come again.
            transient = is_transient(error)
            logger.log(
                logging.WARNING if transient else logging.ERROR,
                "rating stream: %d changes of photo %s not applied (%s); delivered again",
                len(changes),
                photo_id,
                type(error).__name__,
                exc_info=not transient,
            )
            failed += [change.sequence for change in changes]
    return failed


def _photo_apply(photo_id: str, changes: list[RatingChange]) -> None:
    photo = _photo_of(changes[0])
    if photo is None or photo.deleting_at is not None:
        _ratings_of_gone_photo_drop(photo_id, changes)
        return
    keep_hot = len(changes) >= KEEP_HOT_CHANGES
    for start in range(0, len(changes), CHANGES_PER_WRITE):
        if not _changes_add(photo, changes[start : start + CHANGES_PER_WRITE], keep_hot=keep_hot):
            _ratings_of_gone_photo_drop(photo_id, changes[start:])
            return
    _order_refresh(photo)


def _order_refresh(photo: GalleryPhoto) -> None:
    """Set ``ratingOrder`` from the aggregate as it now is. Throttled or unavailable, it is raised: the
    changes come again, are refused as applied, and this is tried again, so a hot photo's order never
    stays behind its last batch. Meeting another aggregator's transaction on the photo item (after
    ``core.conditional``'s tries) is left to that one: every write of the aggregate is followed by its own
    refresh, so failing the batch would only add writes to the item they share."""
    try:
        rating_order_refresh(photo=photo_after_write(photo=photo))
    except UpdateError as error:
        if aws_error_code(error) != TRANSACTION_CONFLICT:
            raise
        logger.info("rating stream: photo %s's order left to the aggregator writing it now", photo.photo_id)


def _photo_of(change: RatingChange) -> GalleryPhoto | None:
    """The photo item, its delete begun or not; None when there is none. A rating names its gallery."""
    try:
        if change.gallery_id:
            return photo_get(gallery_id=change.gallery_id, photo_id=change.photo_id, include_deleting=True)
        return photo_find(photo_id=change.photo_id)
    except NotFound:
        return None


def _changes_add(photo: GalleryPhoto, changes: list[RatingChange], *, keep_hot: bool) -> bool:
    """One transaction adding ``changes`` not applied before; False when the photo is gone or going.
    ``keep_hot``: the photo's ratings still come many at once, so it stays hot for another
    ``RATING_HOT_SECONDS`` from now (its raters would otherwise meet again, each time it cools, until
    one of them marks it again)."""
    pending = list(changes)
    while pending:
        total = aggregate.Change()
        for change in pending:
            total.add(new=change.new, old=change.old)
        batch = list(pending)

        def build(transaction, total=total, batch=batch):
            if total.empty:
                transaction.condition_check(
                    GalleryPhoto, photo.gallery_id, photo.photo_id, condition=photo_alive()
                )
            else:
                condition = photo_alive()
                buckets = total.applies_to(GalleryPhoto)
                if buckets is not None:
                    condition &= buckets
                actions = total.actions(GalleryPhoto)
                if keep_hot:
                    actions.append(GalleryPhoto.rating_hot_until.set(hot_until()))
                transaction.update(photo, actions=actions, condition=condition)
            for change in batch:
                record_take_in(
                    transaction,
                    APPLIED_KIND,
                    change.event_id,
                    owner="rating-stream",
                    status="applied",
                    lifetime=APPLIED_LIFETIME,
                )

        try:
            transaction_run(build)
            metric(RATING_STREAM_CHANGES, len(batch))
            return True
        except Refused as refused:
            if PHOTO_ITEM in refused.failed:
                return _photo_refused(photo)
            # These were applied by an earlier delivery: the others are tried again without them.
            pending = [change for i, change in enumerate(batch, start=1) if i not in refused.failed]
    return True


def _photo_refused(photo: GalleryPhoto) -> bool:
    """The photo's condition failed: gone or going (False), or an aggregate from before ratings with a
    bucket missing, which a streamed rating never meets (a hot photo was rated in transactions first)
    and is raised, so the batch comes again rather than being dropped."""
    try:
        current = photo_get(gallery_id=photo.gallery_id, photo_id=photo.photo_id)
    except NotFound:
        return False
    if not aggregate.is_ready(current):
        raise RuntimeError(f"photo {photo.photo_id} has no full rating histogram to add streamed ratings to")
    raise RuntimeError(f"photo {photo.photo_id}: the aggregate's condition failed; tried again")


def _ratings_of_gone_photo_drop(photo_id: str, changes: list[RatingChange]) -> None:
    dropped = sum(streamed_rating_drop(change) for change in changes)
    logger.info(
        "rating stream: photo %s is gone or going; %d of its streamed ratings removed", photo_id, dropped
    )
