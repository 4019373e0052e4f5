"""Rating writes: a visitor's rating and the photo's aggregates, and their cleanup."""

import random
import time
from dataclasses import dataclass

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from gallery_project.aws import transaction_connection
from gallery_project.clock import now_iso
from gallery_project.errors import Conflict
from photos.models import GalleryPhoto
from photos.selectors import photo_find, photo_get
from ratings.models import PhotoRating

RATING_VALUES = range(1, 6)
# A rating write that keeps losing to concurrent writers of the same photo gives up after this many
# tries (answering 409); the pauses between tries grow from a few milliseconds to about a quarter second.
RATING_WRITE_ATTEMPTS = 10
RETRY_PAUSE_SECONDS = 0.005
RETRY_PAUSE_MAX_SECONDS = 0.25


@dataclass(frozen=True)
class VisitorRating:
    """A visitor's rating of a photo (None when they have not rated it) next to the photo's aggregate."""

    photo: GalleryPhoto
    user_id: str
    rating: PhotoRating | None


@dataclass(frozen=True)
class RatingWritten:
    state: VisitorRating
    created: bool  # False when the visitor's earlier rating was replaced


def rating_set(*, photo_id: str, user_id: str, rating: int) -> RatingWritten:
    """Record a visitor's rating of a live photo, replacing their earlier one.

    One transaction puts the rating item and applies the difference to the photo's ratingCount,
    ratingSum and histogram (ADD). The put is conditioned on the rating read just before (or on there
    being none), so two writers cannot both apply a difference from the same old value; the photo update
    is conditioned on the photo being alive, so a deleted or deleting photo is never rated or recreated.
    A cancelled transaction starts again from fresh reads.
    """
    for attempt in range(RATING_WRITE_ATTEMPTS):
        photo = photo_find(photo_id=photo_id)  # 404 once the photo is gone or its delete has started
        if not _aggregate_ready(photo):
            _aggregate_initialise(photo)
        previous = _stored_rating(photo_id, user_id)
        written = PhotoRating(
            photo_id, user_id, rating=rating, rated_at=now_iso(), gallery_id=photo.gallery_id
        )
        try:
            _commit_rating(photo, written, previous)
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            _pause_before_retry(attempt)
            continue
        fresh = photo_get(gallery_id=photo.gallery_id, photo_id=photo_id, include_deleting=True)
        return RatingWritten(VisitorRating(fresh, user_id, written), created=previous is None)
    raise Conflict("Many visitors are rating this photo right now and the rating was not saved; try again.")


def _stored_rating(photo_id: str, user_id: str) -> PhotoRating | None:
    try:
        return PhotoRating.get(photo_id, user_id, consistent_read=True)
    except PhotoRating.DoesNotExist:
        return None


def _counted_value(rating: PhotoRating | None) -> int | None:
    """The stars a stored rating adds to the aggregate; None for no rating or a value older code allowed."""
    value = None if rating is None else rating.rating
    return int(value) if value in RATING_VALUES else None


def _photo_alive():
    return GalleryPhoto.photo_id.exists() & GalleryPhoto.deleting_at.does_not_exist()


def _commit_rating(photo: GalleryPhoto, written: PhotoRating, previous: PhotoRating | None) -> None:
    histogram = GalleryPhoto.rating_histogram
    new, old = int(written.rating), _counted_value(previous)
    if previous is None:
        rating_unchanged = PhotoRating.user_id.does_not_exist()
    else:
        rating_unchanged = PhotoRating.rating == previous.rating
    actions = []
    if new != old:
        actions += [histogram[str(new)].add(1), GalleryPhoto.rating_sum.add(new - (old or 0))]
        if old is None:
            actions.append(GalleryPhoto.rating_count.add(1))
        else:
            actions.append(histogram[str(old)].add(-1))
    with TransactWrite(connection=transaction_connection()) as transaction:
        transaction.save(written, condition=rating_unchanged)
        if actions:
            # A nested ADD needs the map to exist (DynamoDB refuses the path otherwise), hence the check.
            buckets_exist = histogram[str(new)].exists()
            transaction.update(photo, actions=actions, condition=_photo_alive() & buckets_exist)
        else:
            # Same stars again: only ratedAt moves, but the photo must still be alive.
            transaction.condition_check(
                GalleryPhoto, photo.gallery_id, photo.photo_id, condition=_photo_alive()
            )


def _pause_before_retry(attempt: int) -> None:
    # Full jitter: writers that collided once spread out instead of colliding again in step.
    ceiling = min(RETRY_PAUSE_MAX_SECONDS, RETRY_PAUSE_SECONDS * 2**attempt)
    time.sleep(random.uniform(0, ceiling))


def _aggregate_ready(photo: GalleryPhoto) -> bool:
    stored = photo.rating_histogram.as_dict() if photo.rating_histogram else {}
    return all(str(stars) in stored for stars in RATING_VALUES)


def _aggregate_initialise(photo: GalleryPhoto) -> None:
    """Give a photo from before ratings (no full histogram) an aggregate counted from its stored ratings.

    Rating writes need every histogram bucket, so none can land between the count and this update;
    the condition lets only one of several first raters initialise.
    """
    histogram = {str(stars): 0 for stars in RATING_VALUES}
    for stored in PhotoRating.query(photo.photo_id, consistent_read=True):
        stars = _counted_value(stored)
        if stars is not None:
            histogram[str(stars)] += 1
    not_ready = None
    for stars in RATING_VALUES:
        missing = GalleryPhoto.rating_histogram[str(stars)].does_not_exist()
        not_ready = missing if not_ready is None else not_ready | missing
    try:
        photo.update(
            actions=[
                GalleryPhoto.rating_count.set(sum(histogram.values())),
                GalleryPhoto.rating_sum.set(sum(int(stars) * n for stars, n in histogram.items())),
                GalleryPhoto.rating_histogram.set(histogram),
            ],
            condition=_photo_alive() & not_ready,
        )
    except UpdateError as exc:
        # Someone else initialised it, or the photo is going: the rating transaction sorts out which.
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


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
