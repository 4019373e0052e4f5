"""Gallery writes: create, update, delete (with the cascade to photos and ratings)."""

import uuid

from pynamodb.exceptions import UpdateError

from galleries.models import LIST_PARTITION, Gallery, country_key
from galleries.selectors import gallery_get
from gallery_project.clock import now_iso
from gallery_project.errors import NotFound

_EDITABLE = ("name", "continent", "country", "description", "years")


def gallery_create(
    *,
    name: str,
    continent: str,
    country: str,
    description: str = "",
    years: list[int] = (),
    gallery_id: str | None = None,
) -> Gallery:
    """A new gallery; ``gallery_id`` adopts a given id (a scan finding objects under that prefix),
    and the write fails with PutError if that id exists already."""
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
    # The condition makes a (vanishingly unlikely) id collision fail instead of overwriting.
    gallery.save(condition=Gallery.gallery_id.does_not_exist())
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
    try:
        gallery.update(actions=actions, condition=Gallery.gallery_id.exists())
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise NotFound(f"Gallery {gallery_id} does not exist.") from None
        raise
    return gallery


def gallery_delete(*, gallery_id: str) -> int:
    """Delete the gallery's photos (objects, items, ratings) first, then the gallery item.

    In that order a failure part-way leaves a gallery with fewer photos, never photos without a
    gallery, and repeating the request finishes the job. Returns how many photos were deleted.
    """
    gallery = gallery_get(gallery_id=gallery_id)
    from photos.services import photos_delete_for_gallery

    deleted_photos = photos_delete_for_gallery(gallery_id=gallery_id)
    gallery.delete()
    return deleted_photos
