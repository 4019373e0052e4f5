"""A curator's edit of a photo: its title, description, tags and alt text.

One conditional UpdateItem: the photo is alive (``photos.selectors.photo_alive``: never recreated, never
edited once its delete began) and its edit version is still the one read. The version (``version``,
+1 on each edit that changes a field; the first part of the photo's ETag) is the state an If-Match
names. A version number, rather than a condition comparing every attribute the ETag digests: a digest
cannot be a DynamoDB condition, the attributes behind it include ratings and renditions that visitors
and scans change all the time (a curator's edit would keep failing on a popular photo, though neither
touches what the curator edits), and a map like the EXIF compared whole is fragile. Only the edited
fields and the version are written, so ratings, re-renders and moves that land meanwhile are kept.

Without If-Match the edit applies to the current photo: read again when another edit landed between
the read and the write, like a gallery's edit (``galleries.services.gallery_update``).
"""

from typing import Any

from pynamodb.expressions.condition import Condition

from core.conditional import applied
from core.errors import Conflict, PreconditionFailed
from core.transactions import Refused, transaction_run
from photos import tags
from photos.models import GalleryPhoto
from photos.selectors import photo_alive, photo_get

EDITABLE = ("title", "description", "tags", "alt_text")
EDIT_ATTEMPTS = 5


def photo_edit(
    *, gallery_id: str, photo_id: str, expected_version: int | None = None, **changes: Any
) -> GalleryPhoto:
    """Change the given fields of a live photo (already cleaned: ``photos.serializers``); the version
    moves only when a value really changes. ``expected_version`` (a client's If-Match) applies the edit
    only to that version: PreconditionFailed otherwise. NotFound for a photo that does not exist or
    whose delete began (also when that happens between the read and the write)."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    for _ in range(EDIT_ATTEMPTS):
        photo = photo_get(gallery_id=gallery_id, photo_id=photo_id)
        if expected_version is not None and photo.edit_version() != expected_version:
            raise PreconditionFailed(details={"version": photo.edit_version()})
        actions = [
            getattr(GalleryPhoto, field).set(value)
            for field, value in changes.items()
            if value != _current(photo, field)
        ]
        if not actions:
            return photo
        if "tags" in changes and changes["tags"] != _current(photo, "tags"):
            if _tags_applied_to(photo, actions, changes["tags"]):
                return photo_get(gallery_id=gallery_id, photo_id=photo_id)
            continue
        # PynamoDB's update answers the whole item as written: the photo as a read would now find it.
        if _applied_to(photo, actions):
            return photo
    raise Conflict("The photo kept changing while it was being edited; try again.")


def _applied_to(photo: GalleryPhoto, actions: list) -> bool:
    """The edit, with the version moved, on condition that the photo is live and still at the version
    it was read at."""
    condition = photo_alive() & _version_is(photo.version)
    return applied(lambda: photo.update(actions=[*actions, GalleryPhoto.version.add(1)], condition=condition))


def _tags_applied_to(photo: GalleryPhoto, actions: list, new_tags: list[str]) -> bool:
    """``_applied_to`` for an edit that changes the tags: the item and its tag entries in one
    transaction, the item still at its version with the tags and visibility copy read (so the entries
    never disagree with it)."""
    after = GalleryPhoto()
    after.deserialize(photo.serialize())
    after.tags = list(new_tags)

    def build(transaction) -> None:
        condition = photo_alive() & _version_is(photo.version) & tags.entries_unchanged(photo)
        transaction.update(photo, actions=[*actions, GalleryPhoto.version.add(1)], condition=condition)
        tags.tag_entries_replace(transaction, after, previous_tags=photo.tags or [])

    try:
        transaction_run(build)
    except Refused:
        return False
    return True


def _current(photo: GalleryPhoto, field: str) -> Any:
    value = getattr(photo, field)
    return list(value or []) if field == "tags" else value


def _version_is(version) -> Condition:
    """The photo's edit version is still ``version`` (None or 0: never edited)."""
    if not version:
        return GalleryPhoto.version.does_not_exist() | (GalleryPhoto.version == 0)
    return GalleryPhoto.version == int(version)
