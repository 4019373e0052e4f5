"""Rating a photo: find the live photo, then ratings' transaction with the photo's "still alive" rule."""

import random
import time

from core.errors import Conflict
from galleries.selectors import gallery_get
from photos.selectors import photo_alive, photo_find, photo_get
from ratings import aggregate
from ratings.selectors import VisitorRating, rating_of
from ratings.services import RatingRaced, RatingWritten, aggregate_initialise, rating_commit
from ratings.stuffing import new_rater_count

# A rating write that keeps losing to concurrent writers of the same photo gives up after this many
# tries (answering 409); the pauses between tries grow from a few milliseconds to about a quarter second.
RATING_WRITE_ATTEMPTS = 10
RETRY_PAUSE_SECONDS = 0.005
RETRY_PAUSE_MAX_SECONDS = 0.25


def photo_rate(*, photo_id: str, user_id: str, rating: int, address: str | None = None) -> RatingWritten:
    """Record a visitor's rating of a live photo, replacing their earlier one.

    A visitor id new to the photo is counted against its client ``address``'s daily cap first
    (``ratings.stuffing``; 429 over it). Each try reads afresh (the photo, whose delete may have
    started; the visitor's earlier rating) and commits one transaction
    (``ratings.services.rating_commit``); a try that lost a race starts again.
    """
    counted = False  # a visitor id new to the photo is counted against its address once per request
    for attempt in range(RATING_WRITE_ATTEMPTS):
        photo = photo_find(photo_id=photo_id)  # NotFound once the photo is gone or its delete has started
        if attempt == 0:
            # NotFound once the gallery's delete began. A rating that read the gallery just before is
            # committed and then removed with the photo (marked before its ratings are purged): no
            # rating outlives its photo. (A condition on the gallery inside the transaction would make
            # every rating of a gallery conflict with every other one: DynamoDB conflicts on shared items.)
            gallery_get(gallery_id=photo.gallery_id)
        if not aggregate.is_ready(photo):
            aggregate_initialise(photo=photo, alive=photo_alive())
        previous = rating_of(photo_id=photo_id, user_id=user_id)
        if previous is None and address is not None and not counted:
            new_rater_count(address=address, photo_id=photo_id)
            counted = True
        try:
            written = rating_commit(
                photo=photo,
                user_id=user_id,
                stars=rating,
                previous=previous,
                alive=photo_alive(),
            )
        except RatingRaced:
            _pause_before_retry(attempt)
            continue
        fresh = photo_get(gallery_id=photo.gallery_id, photo_id=photo_id, include_deleting=True)
        return RatingWritten(VisitorRating(fresh, user_id, written), created=previous is None)
    raise Conflict("Many visitors are rating this photo right now and the rating was not saved; try again.")


def _pause_before_retry(attempt: int) -> None:
    # Full jitter: writers that collided once spread out instead of colliding again in step.
    ceiling = min(RETRY_PAUSE_MAX_SECONDS, RETRY_PAUSE_SECONDS * 2**attempt)
    time.sleep(random.uniform(0, ceiling))
