"""Gallery writes: create, update, and removing the gallery item once its photos are gone.

Deleting a gallery with its photos and ratings is orchestrated by ``photos.services.delete``, the layer
that sees all three; the rules for fields that follow photos are in ``galleries.derived``."""

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from pynamodb.transactions import TransactWrite

from core.clock import now_iso
from core.conditional import applied
from core.errors import Conflict, NotFound, PreconditionFailed
from core.observability import GALLERIES_CREATED, metric
from core.transactions import Refused, transaction_run
from galleries.derived import CoverChoice, cover_actions, gallery_open, touched, version_is
from galleries.models import (
    LIST_PARTITION,
    LOCATION_PRIVACY_DEFAULT,
    Gallery,
    country_key,
    location_privacy_of,
    public_partition_for,
    visibility_of,
)
from galleries.selectors import gallery_get

_EDITABLE = (
    "name",
    "continent",
    "country",
    "description",
    "years",
    "location_privacy",
    "visibility",
    "allow_original_download",
)


def gallery_create(
    *,
    name: str,
    continent: str,
    country: str,
    description: str = "",
    years: Iterable[int] = (),
    gallery_id: str | None = None,
    location_privacy: str = LOCATION_PRIVACY_DEFAULT,
    visibility: str | None = None,
    allow_original_download: bool = False,
) -> Gallery:
    """A new gallery; ``gallery_id`` adopts a given id (a scan finding objects under that prefix),
    and ``Conflict`` says that id exists already. Without a ``visibility`` it gets
    ``GALLERY_DEFAULT_VISIBILITY`` (public unless the operator says otherwise: the guide's calls)."""
    timestamp = now_iso()
    gallery = Gallery(
        gallery_id or uuid.uuid4().hex,
        name=name,
        continent=continent,
        country=country,
        country_key=country_key(country),
        list_partition=LIST_PARTITION,
        description=description,
        years=sorted(set(years)),
        photo_count=0,
        version=1,
        location_privacy=location_privacy,
        visibility=visibility or settings.GALLERY_DEFAULT_VISIBILITY,
        public_partition=public_partition_for(visibility or settings.GALLERY_DEFAULT_VISIBILITY),
        allow_original_download=allow_original_download,
        created_at=timestamp,
        updated_at=timestamp,
    )
    # The condition makes an id collision (a given id, or a vanishingly unlikely uuid) fail, not overwrite.
    if not applied(lambda: gallery.save(condition=Gallery.gallery_id.does_not_exist())):
        raise Conflict(f"Gallery {gallery.gallery_id} exists already.")
    metric(GALLERIES_CREATED, 1)
    return gallery


UPDATE_ATTEMPTS = 5


def gallery_update(
    *,
    gallery_id: str,
    expected_version: int | None = None,
    cover: Callable[[Gallery], CoverChoice] | None = None,
    **changes,
) -> Gallery:
    """Change the given fields; ``updatedAt`` and the version move only when a value really changes.

    ``expected_version`` (a client's If-Match) makes the write conditional on the stored version:
    PreconditionFailed when someone else wrote since. Without it the edit is applied to the latest
    version (read again when a photo changed the gallery meanwhile). Years the curator takes out are
    remembered as removed (photos and scans never add them back); years put back are no longer removed.

    ``cover`` picks the curator's cover for the gallery as read (the photos layer reads its photos: a
    chosen one, or the first for the automatic rule), asked again on every attempt; when it changes
    the cover, the edit and the check that its photo is still live are one transaction, so a photo
    deleted at the same moment never becomes the cover: the next attempt's pick finds it gone.
    """
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    for _ in range(UPDATE_ATTEMPTS):
        gallery = gallery_get(gallery_id=gallery_id)
        if expected_version is not None and int(gallery.version or 0) != expected_version:
            raise PreconditionFailed(details={"version": int(gallery.version or 0)})
        actions = _changes(gallery, changes)
        check = None
        if cover is not None:
            choice = cover(gallery)
            if chosen := cover_actions(gallery, choice):
                actions += chosen
                check = choice.still_live
        if not actions:
            return gallery
        # Conditional on the version read: the changes (years removed above all) were computed from it.
        if _applied_to(gallery, [*actions, *touched()], check=check):
            return gallery if check is None else gallery_get(gallery_id=gallery_id)
    raise Conflict("The gallery kept changing while it was being edited; try again.")


def _applied_to(
    gallery: Gallery, actions: list, *, check: Callable[[TransactWrite], None] | None = None
) -> bool:
    """The edit, on condition that the gallery is open and still at the version it was read at (and
    that ``check``, another item's condition, holds: then one transaction)."""
    condition = gallery_open() & version_is(gallery.version)
    if check is None:
        return applied(lambda: gallery.update(actions=actions, condition=condition))

    def build(transaction: TransactWrite) -> None:
        transaction.update(gallery, actions=actions, condition=condition)
        check(transaction)

    try:
        transaction_run(build)
    except Refused:
        return False  # the gallery moved on, or the cover's photo is no longer live: read again
    return True


# Settings whose stored value may be missing on galleries from before them: compared as they read.
_CURRENT = {
    "location_privacy": location_privacy_of,
    "visibility": visibility_of,
    "allow_original_download": lambda gallery: bool(gallery.allow_original_download),
}


def _changes(gallery: Gallery, changes: dict) -> list:
    actions = []
    for field, value in changes.items():
        current: Any = _CURRENT[field](gallery) if field in _CURRENT else getattr(gallery, field)
        if field == "years":
            value = sorted(set(value))
            current = sorted({int(year) for year in current or []})
            before = sorted({int(year) for year in gallery.years_removed or []})
            removed = sorted((set(before) | (set(current) - set(value))) - set(value))
            if removed != before:
                actions.append(Gallery.years_removed.set(removed))
        if value != current:
            actions.append(getattr(Gallery, field).set(value))
            if field == "country":
                actions.append(Gallery.country_key.set(country_key(value)))
            if field == "visibility":
                listed = public_partition_for(value)
                partition = Gallery.public_partition
                actions.append(partition.set(listed) if listed else partition.remove())
    return actions


def gallery_delete_begin(*, gallery_id: str) -> Gallery:
    """Mark the gallery as being deleted (one conditional write): from now on it takes nothing new and
    reads as gone. A gallery already marked is returned as it is, so a repeated delete finishes the job.
    """
    gallery = gallery_get(gallery_id=gallery_id, include_deleting=True)
    if gallery.deleting_at is None:
        started = now_iso()
        begun = applied(
            lambda: gallery.update(
                actions=[Gallery.deleting_at.set(started)], condition=Gallery.gallery_id.exists()
            )
        )
        if not begun:
            raise NotFound(f"Gallery {gallery_id} does not exist.")
    return gallery


def gallery_item_delete(*, gallery: Gallery) -> None:
    """Remove the gallery item itself, once its delete began and its photos are gone
    (``photos.services.delete``)."""
    # Not applied when a concurrent delete removed it first: the outcome is the same.
    applied(lambda: gallery.delete(condition=Gallery.deleting_at.exists()))
