"""Rating reads: a visitor's rating of a photo with the photo's aggregate."""

from photos.models import GalleryPhoto
from photos.selectors import photo_find
from ratings.models import PhotoRating
from ratings.services import VisitorRating


def rating_get(*, photo_id: str, user_id: str) -> VisitorRating:
    """The visitor's rating (None if they have not rated) and the aggregate of a live photo; 404 if none."""
    photo = photo_find(photo_id=photo_id)
    try:
        rating = PhotoRating.get(photo_id, user_id, consistent_read=True)
    except PhotoRating.DoesNotExist:
        rating = None
    return VisitorRating(photo, user_id, rating)


def rating_summary(*, photo_id: str) -> GalleryPhoto:
    """A live photo, read for its aggregate (ratingCount, ratingSum, ratingHistogram); 404 if none."""
    return photo_find(photo_id=photo_id)
