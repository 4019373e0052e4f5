"""PhotoRatings' stream read as rating changes: which records of a batch move a photo's aggregate, by how
much, and who may undo a streamed rating.

A rating written as a plain put on a hot photo (``ratings.services.rating_put_streamed``) carries
``aggregatedBy = "stream"``: its move from the visitor's stars before (the record's old image) to after
(its new image) is the stream aggregator's to add (``photos.services.rating_stream``). No other record
is: a rating written in a transaction moved the aggregate itself, a withdrawal (always a transaction)
too, and ratings removed with their photo move nothing. The stream's view type must be
NEW_AND_OLD_IMAGES (``gallery_project.resources``).
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from core.conditional import applied
from ratings import aggregate
from ratings.models import PhotoRating

logger = logging.getLogger(__name__)

STREAMED = "stream"

_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class RatingChange:
    """One streamed rating's move of its photo's aggregate, named by its stream record."""

    event_id: str  # the record's id: the aggregator applies each once
    sequence: str  # the record's position in its shard (Lambda's item identifier of a failure)
    photo_id: str
    gallery_id: str | None
    user_id: str
    new: int | None  # counted stars after (None: a value older code allowed)
    old: int | None  # counted stars before (None: no rating, or one that never counted)
    rated_at: str  # of the rating written, so exactly it can be removed when its photo is gone


def streamed_changes(records: Iterable[dict]) -> list[RatingChange]:
    """The changes of a Lambda DynamoDB Streams batch (``event["Records"]``) the aggregator must add, in
    the batch's order; records it must not add are left out, and a record it cannot read is logged and
    left out (it names no rating: retrying it would only hold the stream back)."""
    changes = []
    for record in records:
        try:
            change = _change_of(record)
        except (KeyError, TypeError, ValueError):
            logger.error("rating stream: a record that is not a PhotoRatings change: %.300r", record)
            continue
        if change is not None:
            changes.append(change)
    return changes


def _change_of(record: dict) -> RatingChange | None:
    stream = record["dynamodb"]
    new_image = _image(stream.get("NewImage"))
    if new_image is None or new_image.get(PhotoRating.aggregated_by.attr_name) != STREAMED:
        return None
    old_image = _image(stream.get("OldImage")) or {}
    return RatingChange(
        event_id=str(record["eventID"]),
        sequence=str(stream["SequenceNumber"]),
        photo_id=str(new_image[PhotoRating.photo_id.attr_name]),
        gallery_id=new_image.get(PhotoRating.gallery_id.attr_name),
        user_id=str(new_image[PhotoRating.user_id.attr_name]),
        new=aggregate.counted_value(new_image.get(PhotoRating.rating.attr_name)),
        old=aggregate.counted_value(old_image.get(PhotoRating.rating.attr_name)),
        rated_at=str(new_image[PhotoRating.rated_at.attr_name]),
    )


def _image(raw: Any) -> dict | None:
    if raw is None:
        return None
    return {name: _deserializer.deserialize(value) for name, value in raw.items()}


def streamed_rating_drop(change: RatingChange) -> bool:
    """Delete the streamed rating ``change`` wrote, unless it has been written again since: for a rating
    whose photo was gone or going when it was put (a streamed put checks no photo). True when deleted."""
    rating = PhotoRating(change.photo_id, change.user_id)
    condition = (PhotoRating.rated_at == change.rated_at) & (PhotoRating.aggregated_by == STREAMED)
    return applied(lambda: rating.delete(condition=condition))
