"""Restoring a deleted gallery: its items from tables restored to a moment before the delete (DynamoDB
point-in-time recovery), its objects from the bucket's versions.

A gallery's delete (``photos.services.delete``) removes its items (the gallery, its photos, their ratings,
tag entries and the claims on their bytes) and deletes its objects; in a versioned bucket each deleted key
gets a delete marker and its last version stays, non-current, for as long as the bucket's lifecycle keeps
those. The operator restores the tables into new ones (``aws dynamodb restore-table-to-point-in-time``:
minutes to hours, and a choice of moment a person makes, so nothing here starts one); ``gallery_restore``
then copies the gallery's items back exactly as their owners wrote them and removes the delete markers
of the keys its photos list. It lives in scans: the one layer that sees galleries, photos and ratings
together, and the owner of the repairs that run last.

Order, and why:

1. Everything is read and judged before anything is written: the restored tables (present, ACTIVE), the
   live ones (no gallery item, no photo item of it), the bucket (versioned) and each key's versions. A
   dry run stops there; a refusal leaves everything as it was.
2. The gallery item goes back marked as being deleted (``deletingAt`` of now). A gallery whose delete
   began less than ``scans.leftovers.DELETE_STALE_AFTER`` ago is left alone by everyone: readers and
   listings see no gallery, uploads and ratings are refused, both scans pass it by. So no scan meets
   photo items whose objects are not back yet (it would delete them) nor objects with no gallery (it
   would sweep them). The mark is renewed while the restore runs.
3. Photo items, ratings, tag entries, then the claims on the photos' bytes (``photos.content``), so the
   same file uploaded again is still answered with its photo, and the records of where the photos live
   (``photos.recent``), so each is found by its id alone (its ratings) from the moment the restore
   answers, before the byPhotoId index lists it again. A photo's rating aggregate is set to what
   its restored ratings add up to (``ratings.aggregate``) when the two disagree (tables restored to
   different moments).
4. The delete markers above the newest version of every key a restored photo lists are removed: that
   version is current again, with its ETag and date (so the photos scan sees an unchanged original), and
   S3 sends no object-created event for it. Keys no restored photo lists (photos deleted before the
   restore point, renditions replaced since) stay deleted.
5. The mark is removed, on condition that it is still ours: the gallery is back.
6. The photos scan and the galleries scan of that gallery: renditions whose versions were lost are made
   again from the original, order keys and tag entries follow the photos, photoCount, cover and years
   follow the live photos.
7. Every key the gallery's photos list is checked to exist, and photoCount to be the live photos'.

A photo whose original has no version left (non-current versions expire) is not restored, with its
ratings: the photos scan would remove a photo item without its original anyway.

A restore that stops part-way (after step 2) leaves a gallery being deleted: after
``DELETE_STALE_AFTER`` the photos scan finishes that delete (or a curator's DELETE does at once), and the
restore can be run again (the versions it needs are still there, under one more delete marker each).
"""

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings

from core import records, storage
from core.aws import botocore_session, client_config
from core.clock import now_iso
from core.conditional import applied
from core.errors import Conflict, NotFound, Rejected, Unavailable, storage_errors
from core.storage import objects_list
from galleries.models import Gallery
from galleries.selectors import gallery_get
from photos import content, keys, recent
from photos.models import GalleryPhoto, PhotoTag
from photos.selectors import photos_of_gallery
from ratings import aggregate
from ratings.models import PhotoRating
from scans.galleries_scan import galleries_metadata_scan
from scans.leftovers import DELETE_STALE_AFTER
from scans.photos_scan import gallery_photos_scan

# The restore's mark is renewed well before a scan would take it for an interrupted delete.
MARK_RENEW_SECONDS = DELETE_STALE_AFTER.total_seconds() / 5
_BATCH_WRITE = 25  # DynamoDB BatchWriteItem takes at most 25 puts
_DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1000 keys
_UNPROCESSED_ATTEMPTS = 8

# The tables a restore reads from, by role; the live table of each role is its model's.
ROLES = {"galleries": Gallery, "photos": GalleryPhoto, "ratings": PhotoRating, "tags": PhotoTag}
DEFAULT_SUFFIX = "-restore"


@dataclass(frozen=True)
class RestoredTables:
    """The names of the tables the operator restored, one per role."""

    galleries: str
    photos: str
    ratings: str
    tags: str

    @classmethod
    def named(cls, suffix: str = DEFAULT_SUFFIX, **names: str | None) -> "RestoredTables":
        """Each role's table: the name given, else the live table's name followed by ``suffix``."""
        return cls(**{role: names.get(role) or f"{live_table(role)}{suffix}" for role in ROLES})

    def of(self, role: str) -> str:
        return getattr(self, role)


def live_table(role: str) -> str:
    return ROLES[role].Meta.table_name


@dataclass
class RestoreReport:
    """What a restore did (or, in a dry run, would do): one line per step, and the problems met."""

    gallery_id: str
    dry_run: bool
    say: Callable[[str], None] = field(default=lambda line: None, repr=False)
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    photos: int = 0
    ratings: int = 0
    tag_entries: int = 0
    claims: int = 0
    objects_undeleted: int = 0
    lost_photos: list[str] = field(default_factory=list)

    def step(self, line: str) -> None:
        self.lines.append(line)
        self.say(line)

    def problem(self, line: str) -> None:
        self.problems.append(line)
        self.step(f"PROBLEM: {line}")

    @property
    def summary(self) -> str:
        verb = "would restore" if self.dry_run else "restored"
        head = (
            f"Gallery {self.gallery_id}: {verb} {_count(self.photos, 'photo')}, "
            f"{_count(self.ratings, 'rating')}, {_count(self.tag_entries, 'tag entry', 'tag entries')}, "
            f"{_count(self.claims, 'claim on photo bytes', 'claims on photo bytes')}; "
            f"{'would undelete' if self.dry_run else 'undeleted'} {_count(self.objects_undeleted, 'object')}"
        )
        tail = f"; {_count(len(self.problems), 'problem')}." if self.problems else "."
        return head + tail + (" Dry run: nothing was written." if self.dry_run else "")


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"


# ---------------------------------------------------------------- the plan (reads only)


@dataclass
class _Photo:
    """One photo to restore: its item as restored (aggregate set from its ratings), its ratings and tag
    entries as restored, and its model view for the rules that read it."""

    item: dict
    photo: GalleryPhoto
    ratings: list[dict]
    entries: list[dict] = field(default_factory=list)

    @property
    def object_keys(self) -> list[str]:
        return [key for key in [self.photo.s3_key, *map(str, self.photo.rendition_keys or [])] if key]


@dataclass
class _KeyVersions:
    """A key's history in the bucket: its newest version (if any is left) and its delete markers."""

    newest: dict | None = None
    markers: list[dict] = field(default_factory=list)
    latest_is_marker: bool = False

    def markers_above_newest(self) -> list[dict]:
        """The delete markers that hide the newest version (made at or after it)."""
        if self.newest is None:
            return []
        return [marker for marker in self.markers if marker["LastModified"] >= self.newest["LastModified"]]


@dataclass
class _Plan:
    gallery_item: dict
    photos: list[_Photo]
    markers: list[dict]  # {"Key", "VersionId"} of the delete markers to remove
    missing_renditions: list[str]


def gallery_restore(
    *,
    gallery_id: str,
    tables: RestoredTables,
    dry_run: bool = False,
    say: Callable[[str], None] | None = None,
) -> RestoreReport:
    """Put a deleted gallery back from restored tables and the bucket's versions (see the module's
    docstring); ``say`` hears each step's line as it happens. Refusals (the gallery exists, a table is
    not restored yet, the bucket keeps no versions, the gallery is not in the restored table) raise a
    domain error before anything is written; problems met on the way are in the report."""
    report = RestoreReport(gallery_id=gallery_id, dry_run=dry_run, say=say or (lambda line: None))
    dynamodb = botocore_session().create_client("dynamodb", config=client_config())
    _tables_check(dynamodb, tables, report)
    _live_check(gallery_id, report)
    _versioning_check(report)
    plan = _plan(dynamodb, gallery_id, tables, report)
    if dry_run:
        for key in sorted({marker["Key"] for marker in plan.markers}):
            report.step(f"would undelete {key}")
        return report
    mark = _Mark.put(dynamodb, plan.gallery_item, report)
    _items_put(dynamodb, plan, mark, report)
    _claims_make(gallery_id, plan, report)
    _recent_make(gallery_id, plan, report)
    _markers_remove(plan.markers, mark, report)
    mark.remove()
    report.step(f"gallery {gallery_id}: open again (no longer marked as being deleted)")
    _repairs_run(gallery_id, report)
    _verify(gallery_id, report)
    names = " ".join(tables.of(role) for role in ROLES)
    report.step(
        f"the restored tables cost storage until deleted; once done with them: for table in {names}; "
        'do aws dynamodb delete-table --table-name "$table"; done'
    )
    return report


def _tables_check(dynamodb, tables: RestoredTables, report: RestoreReport) -> None:
    """Each restored table exists, is not a live table, and is ACTIVE with its restore finished."""
    live = {live_table(role) for role in ROLES}
    missing, busy = [], []
    for role in ROLES:
        name = tables.of(role)
        if name in live:
            raise Rejected(f"{name} is a live table; name the table restored from it.", code="live_table")
        try:
            described = dynamodb.describe_table(TableName=name)["Table"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            missing.append(role)
            continue
        restore = described.get("RestoreSummary") or {}
        if described.get("TableStatus") != "ACTIVE" or restore.get("RestoreInProgress"):
            busy.append(f"{name} is {described.get('TableStatus', 'not ready')}")
            continue
        moment = restore.get("RestoreDateTime")
        origin = f"restored to {_iso(moment)}" if moment else "not made by a restore"
        items = _count(int(described.get("ItemCount", 0)), "item")
        report.step(
            f"restored table {name} ({role}): ACTIVE, {origin}, about {items} (a count DynamoDB updates "
            "every few hours)"
        )
    if missing:
        commands = "; ".join(
            f"aws dynamodb restore-table-to-point-in-time --source-table-name {live_table(role)} "
            f"--target-table-name {tables.of(role)} --restore-date-time <a moment before the delete>"
            for role in missing
        )
        raise NotFound(f"Restore these tables first, then run this again: {commands}")
    if busy:
        raise Unavailable(f"Not restored yet: {', '.join(busy)}. Run this again once every one is ACTIVE.")


def _iso(moment) -> str:
    return moment.astimezone(UTC).isoformat() if isinstance(moment, datetime) else str(moment)


def _live_check(gallery_id: str, report: RestoreReport) -> None:
    """Nothing of the gallery is in the live tables: a restore only ever puts back a gallery that is gone
    (one whose delete is under way is finished first, so two writers never meet)."""
    try:
        live = gallery_get(gallery_id=gallery_id, include_deleting=True)
    except NotFound:
        live = None
    if live is not None and live.deleting_at is None:
        raise Conflict(f"Gallery {gallery_id} exists in {live_table('galleries')}: nothing to restore.")
    if live is not None:
        raise Conflict(
            f"Gallery {gallery_id} is being deleted (since {live.deleting_at}): let that delete finish "
            "(a DELETE of the gallery, or the photos scan of it once "
            f"{int(DELETE_STALE_AFTER.total_seconds() // 60)} minutes have passed), then run this again."
        )
    if next(iter(photos_of_gallery(gallery_id=gallery_id, fields=["photoId"])), None) is not None:
        raise Conflict(
            f"Photo items of gallery {gallery_id} are still in {live_table('photos')} (a delete being "
            "finished): run the photos scan, then run this again."
        )
    report.step(f"live tables: gallery {gallery_id} is gone, and so are its photo items")


def _versioning_check(report: RestoreReport) -> None:
    status = storage.bucket_versioning()
    if status not in ("Enabled", "Suspended"):
        raise Rejected(
            f"Bucket {settings.BUCKET_NAME} has never kept versions: deleted objects cannot be restored.",
            code="not_versioned",
        )
    report.step(f"bucket {settings.BUCKET_NAME}: versioning {status}")


def _plan(dynamodb, gallery_id: str, tables: RestoredTables, report: RestoreReport) -> _Plan:
    gallery_item = _restored_gallery(dynamodb, gallery_id, tables)
    gallery = Gallery.from_raw_data(gallery_item)
    photos: list[_Photo] = []
    skipped: list[str] = []
    for item in _query(dynamodb, tables.photos, GalleryPhoto.gallery_id.attr_name, gallery_id):
        photo = GalleryPhoto.from_raw_data(item)
        if photo.deleting_at is not None:
            skipped.append(photo.photo_id)  # its delete had begun at the restore point: it stays deleted
            continue
        ratings = list(_query(dynamodb, tables.ratings, PhotoRating.photo_id.attr_name, photo.photo_id))
        photos.append(_Photo(item, photo, ratings))
    report.step(
        f"restored gallery {gallery_id} {gallery.name!r}: {_count(len(photos), 'photo')}, "
        f"{_count(sum(len(each.ratings) for each in photos), 'rating')}"
        + (
            f"; {_count(len(skipped), 'photo')} being deleted at the restore point left out"
            if skipped
            else ""
        )
    )
    _aggregates_match(photos, report)
    _entries_attach(dynamodb, gallery_id, tables, photos)
    histories = _key_versions(gallery_id)
    markers, missing_renditions, kept = [], [], []
    for each in photos:
        original = histories.get(each.photo.s3_key) or _KeyVersions()
        if original.newest is None:
            report.problem(
                f"photo {each.photo.photo_id} ({each.photo.title!r}, {each.photo.s3_key}): no version of its "
                "original is left in the bucket; not restored, nor its ratings"
            )
            report.lost_photos.append(each.photo.photo_id)
            continue
        kept.append(each)
        for key in each.object_keys:
            history = histories.get(key) or _KeyVersions()
            if history.newest is None:
                missing_renditions.append(key)
            elif history.latest_is_marker:
                markers += [
                    {"Key": key, "VersionId": marker["VersionId"]}
                    for marker in history.markers_above_newest()
                ]
    wanted = {key for each in kept for key in each.object_keys}
    undeleted = {marker["Key"] for marker in markers}
    left = sorted(key for key, history in histories.items() if history.latest_is_marker and key not in wanted)
    report.photos = len(kept)
    report.ratings = sum(len(each.ratings) for each in kept)
    report.tag_entries = sum(len(each.entries) for each in kept)
    report.claims = len({each.photo.original_sha256 for each in kept if each.photo.original_sha256})
    report.objects_undeleted = len(undeleted)
    report.step(
        f"objects: {_count(len(undeleted), 'key')} to undelete, "
        f"{_count(len(wanted) - len(undeleted) - len(missing_renditions), 'key')} already there, "
        f"{_count(len(left), 'deleted key')} no restored photo lists left deleted"
    )
    for key in missing_renditions:
        report.step(f"rendition {key}: no version left; the photos scan makes it again from the original")
    return _Plan(gallery_item, kept, markers, missing_renditions)


def _restored_gallery(dynamodb, gallery_id: str, tables: RestoredTables) -> dict:
    key = {Gallery.gallery_id.attr_name: {"S": gallery_id}}
    item = dynamodb.get_item(TableName=tables.galleries, Key=key, ConsistentRead=True).get("Item")
    if item is None:
        raise NotFound(
            f"Gallery {gallery_id} is not in {tables.galleries}: a wrong id, or a gallery created after the "
            "moment the table was restored to."
        )
    deleting = item.get(Gallery.deleting_at.attr_name)
    if deleting is not None:
        raise Rejected(
            f"In {tables.galleries} gallery {gallery_id} is already being deleted (since {deleting['S']}): "
            "restore the tables to a moment before that.",
            code="restored_too_late",
        )
    return item


def _query(dynamodb, table: str, hash_name: str, value: str, index: str | None = None) -> Iterator[dict]:
    """Every item of one partition of a restored table (or of one of its indexes), raw."""
    arguments: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": hash_name},
        "ExpressionAttributeValues": {":v": {"S": value}},
    }
    if index is None:
        arguments["ConsistentRead"] = True
    else:
        arguments["IndexName"] = index
    for page in dynamodb.get_paginator("query").paginate(**arguments):
        yield from page.get("Items", ())


def _aggregates_match(photos: list[_Photo], report: RestoreReport) -> None:
    """Each photo's aggregate as its restored ratings add up to (``ratings.aggregate``'s rules): the same
    unless the tables were restored to different moments."""
    for each in photos:
        counts = aggregate.empty_histogram()
        for rating in each.ratings:
            stars = aggregate.counted_value(PhotoRating.from_raw_data(rating).rating)
            if stars is not None:
                counts[str(stars)] += 1
        count, total = sum(counts.values()), sum(int(stars) * n for stars, n in counts.items())
        if (count, total) == aggregate.totals(each.photo) and aggregate.histogram(each.photo) == counts:
            continue
        each.item[GalleryPhoto.rating_count.attr_name] = {"N": str(count)}
        each.item[GalleryPhoto.rating_sum.attr_name] = {"N": str(total)}
        each.item[GalleryPhoto.rating_histogram.attr_name] = {
            "M": {stars: {"N": str(n)} for stars, n in counts.items()}
        }
        (count_before, total_before), restored = (
            aggregate.totals(each.photo),
            _count(len(each.ratings), "rating"),
        )
        report.step(
            f"photo {each.photo.photo_id}: rating aggregate set from its {restored} "
            f"(count {count_before} -> {count}, sum {total_before} -> {total})"
        )


def _entries_attach(dynamodb, gallery_id: str, tables: RestoredTables, photos: list[_Photo]) -> None:
    """The tag entries of the restored photos, as restored (an entry of a photo not restored, or of an
    older upload time, is left out; the photos scan makes any that are missing)."""
    by_key = {PhotoTag.key_of(each.photo): each for each in photos}
    entries = _query(
        dynamodb,
        tables.tags,
        PhotoTag.gallery_id.attr_name,
        gallery_id,
        index=PhotoTag.by_gallery.Meta.index_name,
    )
    for entry in entries:
        owner = by_key.get(entry[PhotoTag.entry_key.attr_name]["S"])
        if owner is not None:
            owner.entries.append(entry)


def _key_versions(gallery_id: str) -> dict[str, _KeyVersions]:
    """The history of every key under the gallery's original and rendition prefixes (download copies
    are not restored: they are made again on a visitor's next download)."""
    histories: dict[str, _KeyVersions] = {}
    prefixes = [
        keys.gallery_prefix(gallery_id),
        keys.renditions_prefix(gallery_id),
        keys.renditions_prefix(gallery_id, private=True),
    ]
    for prefix in prefixes:
        for kind, entry in storage.object_versions_list(prefix):
            history = histories.setdefault(entry["Key"], _KeyVersions())
            if kind == "version":
                if history.newest is None or entry["LastModified"] > history.newest["LastModified"]:
                    history.newest = entry
            else:
                history.markers.append(entry)
                history.latest_is_marker = history.latest_is_marker or bool(entry.get("IsLatest"))
    return histories


# ---------------------------------------------------------------- the writes


class _Mark:
    """The gallery item's ``deletingAt`` while the restore runs: everyone leaves the gallery alone until
    it is removed; renewed before a scan could take it for an interrupted delete."""

    def __init__(self, gallery_id: str, value: str):
        self.gallery_id = gallery_id
        self.value = value
        self.renewed = time.monotonic()

    @classmethod
    def put(cls, dynamodb, gallery_item: dict, report: RestoreReport) -> "_Mark":
        """The restored gallery item, marked, written only where there is none (a gallery created or
        restored since the checks is never overwritten)."""
        gallery_id = gallery_item[Gallery.gallery_id.attr_name]["S"]
        value = now_iso()
        item = {**gallery_item, Gallery.deleting_at.attr_name: {"S": value}}
        try:
            dynamodb.put_item(
                TableName=live_table("galleries"),
                Item=item,
                ConditionExpression="attribute_not_exists(#id)",
                ExpressionAttributeNames={"#id": Gallery.gallery_id.attr_name},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise Conflict(
                    f"Gallery {gallery_id} appeared while the restore was being prepared."
                ) from None
            raise
        report.step(f"gallery {gallery_id}: item written, marked as being deleted while the restore runs")
        return cls(gallery_id, value)

    def renew(self) -> None:
        if time.monotonic() - self.renewed < MARK_RENEW_SECONDS:
            return
        value = now_iso()
        if not applied(
            lambda: Gallery(self.gallery_id).update(
                actions=[Gallery.deleting_at.set(value)], condition=Gallery.deleting_at == self.value
            )
        ):
            raise self._lost()
        self.value, self.renewed = value, time.monotonic()

    def remove(self) -> None:
        if not applied(
            lambda: Gallery(self.gallery_id).update(
                actions=[Gallery.deleting_at.remove()], condition=Gallery.deleting_at == self.value
            )
        ):
            raise self._lost()

    def _lost(self) -> Conflict:
        return Conflict(
            f"Gallery {self.gallery_id} was deleted while it was being restored (its mark changed): let "
            "that delete finish, then run this again."
        )


def _items_put(dynamodb, plan: _Plan, mark: _Mark, report: RestoreReport) -> None:
    """Photo items, then ratings, then tag entries, exactly as restored (an item from an older release
    keeps every attribute it had), but for a rating's stream mark."""
    # A rating put back is not a streamed rating for the aggregator (its stream record would add it a
    # second time): the restore owns the aggregate, counted from the ratings restored.
    streamed = PhotoRating.aggregated_by.attr_name
    groups = [
        ("photos", "photo items", [each.item for each in plan.photos]),
        (
            "ratings",
            "ratings",
            [
                {name: value for name, value in rating.items() if name != streamed}
                for each in plan.photos
                for rating in each.ratings
            ],
        ),
        ("tags", "tag entries", [entry for each in plan.photos for entry in each.entries]),
    ]
    for role, label, items in groups:
        table = live_table(role)
        for batch in _batches(items, _BATCH_WRITE):
            mark.renew()
            _batch_put(dynamodb, table, batch)
        report.step(f"{label}: {len(items)} written to {table}")


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _batch_put(dynamodb, table: str, items: list[dict]) -> None:
    requests = {table: [{"PutRequest": {"Item": item}} for item in items]}
    for attempt in range(_UNPROCESSED_ATTEMPTS):
        requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
        if not requests:
            return
        time.sleep(min(2.0, 0.05 * 2**attempt))  # throttled: DynamoDB hands back what it did not write
    raise Unavailable(f"{table} kept refusing writes (throttled); run the restore again later.")


def _claims_make(gallery_id: str, plan: _Plan, report: RestoreReport) -> None:
    """The claim on each restored photo's bytes, final and naming it, as its upload's commit left it (a
    duplicate kept on purpose shares the bytes but not the claim: the lowest number holds it)."""
    made = 0
    for each in sorted(plan.photos, key=lambda each: int(each.photo.photo_number)):
        sha256 = each.photo.original_sha256
        if not sha256:
            continue
        taken = records.record_take(
            content.KIND,
            content.content_id(gallery_id, sha256),
            owner=uuid.uuid4().hex,
            status=content.DONE,
            lifetime=content.HOLD,
            data={"galleryId": gallery_id, "sha256": sha256, "photoId": each.photo.photo_id},
        )
        made += taken is not None
    report.claims = made
    report.step(f"claims on photo bytes: {made} made")


def _recent_make(gallery_id: str, plan: _Plan, report: RestoreReport) -> None:
    """Where each restored photo lives, as its upload's commit recorded it (``photos.recent``). Only a
    convenience while the index catches up: a failure here is reported and the restore goes on (never
    left marked as being deleted, which the photos scan would finish)."""
    try:
        recent.recent_set(gallery_id=gallery_id, photo_ids=[each.photo.photo_id for each in plan.photos])
    except storage_errors() as error:
        report.problem(f"records of where restored photos live not made ({error}); the index finds them")
        return
    report.step(f"photos found by their ids at once: {_count(len(plan.photos), 'record')} made")


def _markers_remove(markers: list[dict], mark: _Mark, report: RestoreReport) -> None:
    failed = set()
    for batch in _batches(markers, _DELETE_BATCH):
        mark.renew()
        for error in storage.object_versions_delete(batch):
            failed.add(error.get("Key"))
            report.problem(f"{error.get('Key')}: delete marker not removed: {error.get('Message')}")
    report.objects_undeleted = len({marker["Key"] for marker in markers} - failed)
    report.step(f"objects: {_count(len(markers) - len(failed), 'delete marker')} removed")


# ---------------------------------------------------------------- after


def _repairs_run(gallery_id: str, report: RestoreReport) -> None:
    """The owners' repairs of that gallery: what the photos and the gallery derive is made to match."""
    photos = gallery_photos_scan(gallery_id=gallery_id)
    report.step(f"photos scan: {photos.message}")
    if photos.removed:
        report.problem(
            f"the photos scan removed {_count(photos.removed, 'photo')} it found without its original"
        )
    for failure in photos.failures:
        report.problem(f"photos scan: {failure.get('key') or failure.get('galleryId')}: {failure['reason']}")
    galleries = galleries_metadata_scan(gallery_id=gallery_id)
    report.step(f"galleries scan: {galleries.message}")
    for failure in galleries.failures:
        report.problem(f"galleries scan: {failure['reason']}")


def _verify(gallery_id: str, report: RestoreReport) -> None:
    """Every key the gallery's live photos list exists, and photoCount counts them."""
    listed: set[str] = set()
    live = 0
    for photo in photos_of_gallery(gallery_id=gallery_id):
        if photo.deleting_at is None:
            live += 1
            listed |= {key for key in [photo.s3_key, *map(str, photo.rendition_keys or [])] if key}
    present = {
        item["Key"]
        for prefix in (
            keys.gallery_prefix(gallery_id),
            keys.renditions_prefix(gallery_id),
            keys.renditions_prefix(gallery_id, private=True),
        )
        for item in objects_list(prefix)
    }
    for key in sorted(listed - present):
        report.problem(f"{key} is listed by a photo but is not in the bucket")
    count = int(gallery_get(gallery_id=gallery_id).photo_count or 0)
    if count != live:
        report.problem(f"photoCount is {count}, but the gallery has {_count(live, 'live photo')}")
    report.step(
        f"checked: {_count(live, 'live photo')}, {_count(len(listed & present), 'listed key')} present"
    )
