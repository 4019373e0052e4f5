"""Rating writes: a visitor's rating and the photo's aggregates, and their cleanup."""

from ratings.models import PhotoRating


def ratings_delete_for_photo(*, photo_id: str) -> int:
    """Delete every rating of a photo; returns how many."""
    deleted = 0
    with PhotoRating.batch_write() as batch:
        for rating in PhotoRating.query(photo_id, attributes_to_get=["photoId", "userId"]):
            batch.delete(rating)
            deleted += 1
    return deleted
