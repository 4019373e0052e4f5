"""Rating reads: a visitor's stored rating of a photo, and what a visitor's rating answers."""

from dataclasses import dataclass
from typing import Any

from ratings.models import PhotoRating


@dataclass(frozen=True)
class VisitorRating:
    """A visitor's rating of a photo (None when they have not rated it) next to the photo's aggregate."""

    photo: Any
    user_id: str
    rating: PhotoRating | None


def rating_of(*, photo_id: str, user_id: str) -> PhotoRating | None:
    """The visitor's rating of the photo, or None when they have not rated it."""
    try:
        return PhotoRating.get(photo_id, user_id, consistent_read=True)
    except PhotoRating.DoesNotExist:
        return None
