"""Gallery writes: create, update, and removing the gallery item once its photos are gone.

Deleting a gallery with its photos and ratings is orchestrated by ``photos.services.delete``, the layer
that sees all three; the rules for fields that follow photos are in ``galleries.derived``."""

import uuid
from collections.abc import Iterable

from core.clock import now_iso
from core.conditional import applied
from core.errors import Conflict, NotFound
from galleries.models import LIST_PARTITION, Gallery, country_key
from galleries.selectors import gallery_get

_EDITABLE = ("name", "continent", "country", "description", "years")


def gallery_create(
    *,
    name: str,
    continent: str,
    country: str,
    description: str = "",
    years: Iterable[int] = (),
    gallery_id: str | None = None,
) -> Gallery:
    """A new gallery; ``gallery_id`` adopts a given id (a scan finding objects under that prefix),
    and ``Conflict`` says that id exists already."""
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
        created_at=timestamp,
        updated_at=timestamp,
    )
    # The condition makes an id collision (a given id, or a vanishingly unlikely uuid) fail, not overwrite.
    if not applied(lambda: gallery.save(condition=Gallery.gallery_id.does_not_exist())):
        raise Conflict(f"Gallery {gallery.gallery_id} exists already.")
    return gallery


def gallery_update(*, gallery_id: str, **changes) -> Gallery:
    """Change the given fields; ``updatedAt`` moves only when a value really changes."""
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    gallery = gallery_get(gallery_id=gallery_id)
    actions = []
    for field, value in changes.items():
        current = getattr(gallery, field)
        if field == "years":
            value = sorted(set(value))
            current = sorted({int(year) for year in current or []})
        if value != current:
            actions.append(getattr(Gallery, field).set(value))
            if field == "country":
                actions.append(Gallery.country_key.set(country_key(value)))
    if not actions:
        return gallery
    actions.append(Gallery.updated_at.set(now_iso()))
    if not applied(lambda: gallery.update(actions=actions, condition=Gallery.gallery_id.exists())):
        raise NotFound(f"Gallery {gallery_id} does not exist.")
    return gallery


def gallery_item_delete(*, gallery: Gallery) -> None:
    """Remove the gallery item itself; callers delete its photos first (``photos.services.delete``)."""
    gallery.delete()
