"""The rating aggregate a photo item carries: how a rating changes it and what it derives.

Ratings own this aggregate; it lives on the photo item (``ratingCount``, ``ratingSum``,
``ratingHistogram``) so a photo's read answers it without touching PhotoRatings. The photo model declares
the attributes and a new photo is written with ``empty_histogram()``; everything else about them is here:
the stars that count, the ADD actions of a rating, a re-rating or a withdrawal, the initialisation of
items from before ratings, the derived average and histogram every answer shows, and the condition a
write of something derived from the aggregate carries (``totals_are``: it still has the totals used).
"""

from dataclasses import dataclass, field
from typing import Any

RATING_VALUES = range(1, 6)


def empty_histogram() -> dict[str, int]:
    """Every bucket exists from the start, so a rating can ADD to a nested key."""
    return {str(stars): 0 for stars in RATING_VALUES}


def counted_value(value: Any) -> int | None:
    """The stars a stored rating adds to the aggregate; None for no rating or a value older code allowed."""
    return int(value) if value in RATING_VALUES else None


def stored_histogram(item: Any) -> dict:
    return item.rating_histogram.as_dict() if item.rating_histogram else {}


def histogram(item: Any) -> dict[str, int]:
    """The histogram as answered: every bucket, missing ones as 0. A bucket is below 0 only for the
    moment a withdrawal is applied before the streamed rating it withdraws (``Change``): answered as 0."""
    stored = stored_histogram(item)
    return {str(stars): max(0, int(stored.get(str(stars), 0))) for stars in RATING_VALUES}


def average(item: Any) -> float | None:
    """The mean of the counted stars, to two decimals; None before the first rating, and for the moment
    an aggregate is caught between a withdrawal and the streamed rating it withdraws (``Change``: a
    count and sum no set of ratings has)."""
    count, total = totals(item)
    return round(float(total) / count, 2) if is_possible(count, total) else None


def is_possible(count: int, total: int) -> bool:
    """Whether some ratings have this count and sum: at least one, each of 1 to 5 stars."""
    return count > 0 and min(RATING_VALUES) * count <= total <= max(RATING_VALUES) * count


def totals(item: Any) -> tuple[int, int]:
    """The count of counted ratings and the sum of their stars (0 and 0 before the first)."""
    return int(item.rating_count or 0), int(item.rating_sum or 0)


def totals_are(model: Any, *, count: int, total: int):
    """The condition that the aggregate still has this count and sum: what is derived from them (a sort
    key of the average) is written only while it is true. An item from before ratings has neither
    attribute, which is a count and a sum of 0."""
    same_count = model.rating_count == count
    if count == 0:
        same_count = model.rating_count.does_not_exist() | same_count
    same_sum = model.rating_sum == total
    if total == 0:
        same_sum = model.rating_sum.does_not_exist() | same_sum
    return same_count & same_sum


def is_ready(item: Any) -> bool:
    """True when every histogram bucket exists (items written before ratings have none)."""
    stored = stored_histogram(item)
    return all(str(stars) in stored for stars in RATING_VALUES)


def change_actions(model: Any, *, new: int | None, old: int | None) -> list:
    """The ADD actions that move the aggregate from a visitor's ``old`` stars to ``new``; None is no
    rating (``old=None``: a first rating, ``new=None``: a withdrawal)."""
    if new == old:
        return []
    buckets = model.rating_histogram
    actions = [model.rating_sum.add((new or 0) - (old or 0))]
    if new is not None:
        actions.append(buckets[str(new)].add(1))
    if old is not None:
        actions.append(buckets[str(old)].add(-1))
    if old is None:
        actions.append(model.rating_count.add(1))
    elif new is None:
        actions.append(model.rating_count.add(-1))
    return actions


@dataclass
class Change:
    """The sum of several ratings' moves of the aggregate (each from a visitor's old stars to new ones),
    applied in one write: what the stream aggregator adds for a batch of a photo's ratings. Moves
    commute, so the batch's order does not matter, and a withdrawal applied before the streamed rating
    it withdraws only leaves a bucket below 0 until that rating's move is added."""

    count: int = 0
    total: int = 0
    buckets: dict[str, int] = field(default_factory=dict)

    def add(self, *, new: int | None, old: int | None) -> None:
        if new == old:
            return
        self.total += (new or 0) - (old or 0)
        self.count += (new is not None) - (old is not None)
        for stars, step in ((new, 1), (old, -1)):
            if stars is not None:
                self.buckets[str(stars)] = self.buckets.get(str(stars), 0) + step

    @property
    def empty(self) -> bool:
        return not self.count and not self.total and not any(self.buckets.values())

    def actions(self, model: Any) -> list:
        """The ADD actions of this change (none for a change that cancels out)."""
        actions = []
        if self.count:
            actions.append(model.rating_count.add(self.count))
        if self.total:
            actions.append(model.rating_sum.add(self.total))
        actions += [
            model.rating_histogram[stars].add(step) for stars, step in sorted(self.buckets.items()) if step
        ]
        return actions

    def applies_to(self, model: Any):
        """The condition the change's write carries: every bucket it adds to exists (``is_ready``)."""
        condition = None
        for stars, step in sorted(self.buckets.items()):
            if step:
                exists = bucket_exists(model, int(stars))
                condition = exists if condition is None else condition & exists
        return condition


def bucket_exists(model: Any, stars: int):
    """DynamoDB refuses an ADD to a nested key whose map is missing: the change is conditioned on it."""
    return model.rating_histogram[str(stars)].exists()


def initial_actions(model: Any, counts: dict[str, int]) -> list:
    """Set the aggregate of an item from before ratings to what its stored ratings add up to."""
    return [
        model.rating_count.set(sum(counts.values())),
        model.rating_sum.set(sum(int(stars) * n for stars, n in counts.items())),
        model.rating_histogram.set(counts),
    ]


def not_ready(model: Any):
    """The condition that some bucket is missing (only one of several first raters initialises)."""
    condition = None
    for stars in RATING_VALUES:
        missing = model.rating_histogram[str(stars)].does_not_exist()
        condition = missing if condition is None else condition | missing
    return condition
