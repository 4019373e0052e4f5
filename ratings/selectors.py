"""Rating reads: a visitor's stored rating of a photo."""

from ratings.models import PhotoRating


def rating_of(*, photo_id: str, user_id: str) -> PhotoRating | None:
    """The visitor's rating of the photo, or None when they have not rated it."""
    try:
        return PhotoRating.get(photo_id, user_id, consistent_read=True)
    except PhotoRating.DoesNotExist:
        return None
