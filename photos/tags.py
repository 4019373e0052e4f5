"""A photo's tag entries (the PhotoTags table): one per tag of each photo, for the search of photos by
tag across galleries.

An entry holds the photo's copy of its gallery's visibility; entries of public galleries' photos also
carry ``publicTag``, which puts them in the sparse index visitors' searches read (``publicByTag``), so
a visitor's search never reads an entry of a private or unlisted gallery. The entries follow the photo
item: they are written in the same transaction as each change of the photo's tags or visibility copy,
by the pieces this module hands out:

- ``tag_entries_in``: a new photo's commit;
- ``tag_entries_replace``: an edit of its tags;
- ``tag_visibility_set``: a placement's write of the photo's new visibility copy;
- ``tag_entries_remove``: a photo's purge (after its delete began, before its item goes);

and ``entries_unchanged`` is the condition the photo's own write in those transactions carries, so a
concurrent edit or move cannot leave entries that disagree with the item. The photos scan compares a
gallery's entries with its photos and repairs what a crash left (``tag_entries_repair``,
``tag_entries_delete``); every write here is a put or delete of whole entries, safe to repeat.
"""

from collections.abc import Iterable, Iterator

from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from core.transactions import Refused, transaction_run
from galleries import derived
from galleries.models import VISIBILITY_OF_OLD_GALLERIES, Gallery
from photos.models import GalleryPhoto, PhotoTag
from photos.selectors import photo_alive

PUBLIC = "public"
# A transaction holds at most 100 items; a repair's two checks leave this many for entries (a photo has
# at most 30 tags, so only entries a crash left behind can need a second run).
_REPAIR_ENTRIES_MAX = 98


def entries_of(photo: GalleryPhoto, visibility: str | None = None) -> list[PhotoTag]:
    """The entries the photo should have: one per tag, with ``visibility`` (by default the photo's copy;
    a photo from before the copy belongs to a gallery whose visibility never changed since: the old
    galleries' default)."""
    copied = visibility or photo.visibility or VISIBILITY_OF_OLD_GALLERIES
    key = PhotoTag.key_of(photo)
    return [
        PhotoTag(
            str(tag),
            key,
            gallery_id=photo.gallery_id,
            photo_id=photo.photo_id,
            visibility=copied,
            public_tag=str(tag) if copied == PUBLIC else None,
        )
        for tag in photo.tags or []
    ]


def entries_unchanged(photo: GalleryPhoto) -> Condition:
    """The condition the photo's own write carries in a transaction with its entries: the item still has
    the tags and the visibility copy ``photo`` was read with (entries made from a stale read would
    otherwise survive a concurrent edit or move)."""
    tags = list(photo.tags or [])
    same_tags = GalleryPhoto.tags == tags
    if not tags:
        same_tags = GalleryPhoto.tags.does_not_exist() | same_tags
    same_copy = (
        GalleryPhoto.visibility.does_not_exist()
        if photo.visibility is None
        else GalleryPhoto.visibility == photo.visibility
    )
    return same_tags & same_copy


def tag_entries_in(transaction: TransactWrite, photo: GalleryPhoto) -> None:
    """Add a new photo's entries to its commit (the photo item as it is being written)."""
    for entry in entries_of(photo):
        transaction.save(entry)


def tag_entries_replace(
    transaction: TransactWrite, photo: GalleryPhoto, *, previous_tags: Iterable[str]
) -> None:
    """Add an edit of the photo's tags to the transaction that writes it: ``photo`` as it will be (its
    new tags), ``previous_tags`` as they were read. Entries of tags it no longer has are deleted; every
    current one is put again (a tag kept is rewritten: at most 30 puts, and a missing entry is back)."""
    current = {str(tag) for tag in photo.tags or []}
    key = PhotoTag.key_of(photo)
    for tag in {str(tag) for tag in previous_tags} - current:
        transaction.delete(PhotoTag(tag, key))
    tag_entries_in(transaction, photo)


def tag_visibility_set(transaction: TransactWrite, photo: GalleryPhoto, visibility: str) -> None:
    """Add the photo's new copy of its gallery's visibility to the transaction that writes it on the
    photo (a placement's write): its entries are put again with it (into or out of the public index)."""
    for entry in entries_of(photo, visibility):
        transaction.save(entry)


def tag_entries_remove(*, photo: GalleryPhoto) -> None:
    """Delete the photo's entries: those of its tags and any other the gallery's index lists for it (an
    edit that died part-way). For a photo whose delete began (searches skip it already), before its item
    is deleted, so a failure leaves the item for a repeated delete or the scan to finish."""
    key = PhotoTag.key_of(photo)
    tags = {str(tag) for tag in photo.tags or []}
    tags |= {entry.tag for entry in PhotoTag.by_gallery.query(photo.gallery_id, PhotoTag.entry_key == key)}
    tag_entries_delete(PhotoTag(tag, key) for tag in sorted(tags))


def tag_entries_delete(entries: Iterable[PhotoTag]) -> int:
    """Delete these entries (by key); returns how many were named."""
    deleted = 0
    with PhotoTag.batch_write() as batch:
        for entry in entries:
            batch.delete(entry)
            deleted += 1
    return deleted


def gallery_tag_entries(*, gallery_id: str) -> Iterator[PhotoTag]:
    """Every entry of a gallery's photos (the gallery index: moments behind the latest writes)."""
    return PhotoTag.by_gallery.query(gallery_id)


def entries_differ(photo: GalleryPhoto, visibility: str, listed: list[PhotoTag]) -> bool:
    """Whether the entries listed for the photo are not exactly the ones it should have."""
    expected = {_fields(entry) for entry in entries_of(photo, visibility)}
    return expected != {_fields(entry) for entry in listed}


def tag_entries_repair(*, photo: GalleryPhoto, visibility: str, listed: list[PhotoTag]) -> bool:
    """Make the photo's entries exactly the ones its tags and its gallery's ``visibility`` ask for, given
    the ``listed`` ones: missing or different ones put, others deleted, in one transaction checking that
    the photo is live with the tags read and the gallery still has ``visibility``. False when a check
    failed (an edit, a delete or a visibility change meanwhile: the next run looks again)."""
    expected = entries_of(photo, visibility)
    present = {_fields(entry) for entry in listed}
    puts = [entry for entry in expected if _fields(entry) not in present]
    kept = {entry.tag for entry in expected}
    deletes = [
        entry for entry in listed if entry.tag not in kept or entry.entry_key != PhotoTag.key_of(photo)
    ]
    deletes = deletes[: max(0, _REPAIR_ENTRIES_MAX - len(puts))]  # the rest on the next run
    if not puts and not deletes:
        return True
    tags = list(photo.tags or [])
    same_tags = GalleryPhoto.tags == tags
    if not tags:
        same_tags = GalleryPhoto.tags.does_not_exist() | same_tags

    def build(transaction) -> None:
        transaction.condition_check(
            GalleryPhoto, photo.gallery_id, photo.photo_id, condition=photo_alive() & same_tags
        )
        transaction.condition_check(Gallery, photo.gallery_id, condition=derived.visibility_is(visibility))
        for entry in puts:
            transaction.save(entry)
        for entry in deletes:
            transaction.delete(PhotoTag(entry.tag, entry.entry_key))

    try:
        transaction_run(build)
    except Refused:
        return False
    return True


def _fields(entry: PhotoTag) -> tuple:
    return (entry.tag, entry.entry_key, entry.gallery_id, entry.photo_id, entry.visibility, entry.public_tag)
