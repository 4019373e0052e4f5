"""Keeping a photo's order keys (``photos.ordering``) in line with what they are made from.

``takenOrder`` is written with the photo's EXIF (upload, re-render); an item from before it gets it
from the photos scan (``order_keys_fill``). ``ratingOrder`` follows the rating aggregate: every rating
write sets it after its transaction (``rating_order_refresh``), on condition that the aggregate still has
the count and sum it was computed from. Of several concurrent raters the one whose read saw the final
aggregate is the one whose write applies (each earlier one's condition fails against a later count), so
the key settles on the last value; a rater that died between its transaction and this write leaves it
behind until the next rating of the photo or the photos scan, which refreshes every key that disagrees.
"""

import logging

from core.conditional import applied
from photos import ordering
from photos.models import GalleryPhoto
from photos.selectors import photo_alive
from ratings import aggregate

logger = logging.getLogger(__name__)


def rating_order_of(photo: GalleryPhoto) -> str:
    """The ``ratingOrder`` the photo's aggregate asks for (unrated while the aggregate is one no set of
    ratings has: a streamed change on its way, ``ratings.aggregate.is_possible``)."""
    count, total = aggregate.totals(photo)
    if not aggregate.is_possible(count, total):
        count, total = 0, 0
    return ordering.rating_order(count, total, int(photo.photo_number))


def rating_order_refresh(*, photo: GalleryPhoto) -> bool:
    """Set ``ratingOrder`` from the aggregate of ``photo`` (read consistently after the rating's
    transaction), unless it has it already; applied only while the aggregate still has that count and
    sum and the photo is live. True when the key is now the one ``photo`` asks for."""
    wanted = rating_order_of(photo)
    if photo.rating_order == wanted:
        return True
    count, total = aggregate.totals(photo)
    done = applied(
        lambda: photo.update(
            actions=[GalleryPhoto.rating_order.set(wanted)],
            condition=photo_alive() & aggregate.totals_are(GalleryPhoto, count=count, total=total),
        )
    )
    if not done:
        # A later rating changed the aggregate: its own refresh sets the key.
        logger.debug("photo %s: rating order left to a later rating", photo.photo_id)
    return done


def rating_order_follow(*, photo: GalleryPhoto) -> None:
    """``rating_order_refresh`` after a rating write: a failure is logged, never raised (the rating
    stands; the next rating of the photo or the photos scan sets the key)."""
    try:
        rating_order_refresh(photo=photo)
    except Exception:
        logger.exception("could not set the rating order of photo %s; the photos scan will", photo.photo_id)


def order_keys_fill(*, photo: GalleryPhoto, taken: bool, rating: bool) -> bool:
    """For the photos scan: one write giving an item the ``takenOrder`` its EXIF asks for (``taken``:
    an item from before the key; not if a re-render wrote it meanwhile) and the ``ratingOrder`` its
    aggregate asks for (``rating``: while the aggregate still has the totals ``photo`` was read with).
    ``photo`` needs its number, its date taken and its aggregate's totals. True when written; False
    when something changed meanwhile (the next scan looks again)."""
    actions: list = []
    condition = photo_alive()
    if taken:
        actions.append(
            GalleryPhoto.taken_order.set(ordering.taken_order(photo.exif(), int(photo.photo_number)))
        )
        condition &= GalleryPhoto.taken_order.does_not_exist()
    if rating:
        count, total = aggregate.totals(photo)
        actions.append(GalleryPhoto.rating_order.set(rating_order_of(photo)))
        condition &= aggregate.totals_are(GalleryPhoto, count=count, total=total)
    return bool(actions) and applied(lambda: photo.update(actions=actions, condition=condition))
