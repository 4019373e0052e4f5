"""Where a photo written a moment ago lives: its gallery, known strongly consistent by its id alone,
until the byPhotoId index surely lists it.

Rating routes name a photo by its id alone, and only the byPhotoId index maps that id to its gallery.
Reads of a global secondary index are eventually consistent: a write reaches it asynchronously, within
about a second as a rule and later in unusual conditions (AWS's words), so right after an upload
answers, the index may not list the new photo yet and its rating or read would answer 404. The index is
therefore only asked where to look (``photos.selectors.photo_find``); when it lists nothing, this record
answers for a photo written lately: a ``recent-photo`` record in the short-lived records table
(``core.records``), keyed by the photo id, naming the gallery, written in the very transaction that
makes the photo (``recent_in``; a restore writes them for the photos it puts back, ``recent_set``), read
strongly consistent, gone by TTL after ``LIFETIME``.

Either way the photo item itself is then read strongly consistent, and it alone decides what is
answered (live, being deleted, gone; its gallery's visibility is the gallery's own read): the record and
the index only say where the item is. So nothing has to keep them right: a photo id is made once and its
gallery never changes, a delete, a gallery's delete or a visibility move leaves the record as it is
(the item read says the photo is gone or hidden), scans and restores find nothing to repair, and a
record outliving its photo answers exactly what a missing photo answers. The gallery id it holds is
never answered to anyone.

Why this and not the others:
- a permanent pointer (photo id -> gallery id) would be a table of its own (domain entities keep their
  own tables): one more table to create, grant and restore, a backfill for every existing photo, and
  upkeep on each delete and restore, to cover a window of about a second;
- ids that carry their gallery would tell anyone holding a photo id the id of its gallery (a private
  gallery's too), change the guide's ids, and leave every existing photo behind;
- this record costs one more item in the photo's commit and one strongly consistent read for a photo
  the index does not list (a new one, or an id that names nothing), and nothing for any other.

``LIFETIME`` is a day: far past the index's lag in any condition AWS describes (an index without the
capacity to take its table's writes gets those writes throttled, rather than falling hours behind). An
index later than that would answer 404 for the photo until it caught up.
"""

from datetime import timedelta

from pynamodb.transactions import TransactWrite

from core import records

KIND = "recent-photo"
OWNER = "photos"
WRITTEN = "written"
LIFETIME = timedelta(days=1)


def recent_in(transaction: TransactWrite, *, gallery_id: str, photo_id: str) -> None:
    """Add the record of a new photo to the transaction that makes it."""
    records.record_set_in(
        transaction,
        KIND,
        photo_id,
        owner=OWNER,
        status=WRITTEN,
        lifetime=LIFETIME,
        data={"galleryId": gallery_id},
    )


def recent_set(*, gallery_id: str, photo_ids: list[str]) -> None:
    """Write the records of photos put back by other means than a commit (a restore's batch writes)."""
    records.records_set(
        KIND,
        {photo_id: {"galleryId": gallery_id} for photo_id in photo_ids},
        owner=OWNER,
        status=WRITTEN,
        lifetime=LIFETIME,
    )


def recent_gallery(*, photo_id: str) -> str | None:
    """The gallery of a photo written within ``LIFETIME`` (a strongly consistent read), else None."""
    record = records.record_get(KIND, photo_id)
    return None if record is None else str(record.data["galleryId"])
