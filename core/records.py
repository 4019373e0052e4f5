"""Short-lived service records: one table for every kind, keyed ``kind#id``, expiring by itself.

Kinds today: scan claims (``scans.claims``), photo-write intents (``photos.intents``), direct-upload
claims (``photos.services.direct_upload``), claims on a photo's bytes (``photos.content``), where a
photo written lately lives (``photos.recent``), the rating-stream records already added to an aggregate
(``photos.services.rating_stream``); idempotency results, sessions and rate counters join
them as later issues add them. Domain entities
(galleries, photos, ratings, curator keys) keep their own tables, and no intent or pending state ever
lives in theirs. A claim on a photo's bytes lives as long as its photo: "short-lived" means "of a
write", not "of a few minutes"; the records a scan enumerates are in a sparse index of their own.

A record has an owner (who may change it), a status, and ``expiresAt`` (DynamoDB's TTL attribute).
DynamoDB deletes expired items lazily (up to days later; the local emulator never does), so every read
and every conditional take here treats an expired record as absent.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from django.conf import settings
from pynamodb.attributes import MapAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from core.aws import ClientLimits
from core.conditional import applied

# Longer than any write can live (a request's 29 s, a Lambda invocation's 300 s, a commit in flight):
# a record of a write older than this belongs to a writer that died. Leases and staleness use it.
WRITE_LIFETIME = timedelta(minutes=15)


class RecordsListed(GlobalSecondaryIndex):
    """A sparse index of the records a scan must enumerate (``listed=True`` when taken: photo-write
    intents), so finding them never reads the many others (a claim per photo's bytes, sessions...)."""

    class Meta:
        index_name = "byListedKind"
        projection = AllProjection()
        billing_mode = "PAY_PER_REQUEST"

    listed_kind = UnicodeAttribute(hash_key=True, attr_name="listedKind")
    record_key = UnicodeAttribute(range_key=True, attr_name="recordKey")


class ServiceRecord(Model):
    class Meta(ClientLimits):
        table_name = settings.SERVICE_RECORDS_TABLE
        billing_mode = "PAY_PER_REQUEST"

    record_key = UnicodeAttribute(hash_key=True, attr_name="recordKey")  # "<kind>#<id>"
    kind = UnicodeAttribute()
    owner = UnicodeAttribute()
    status = UnicodeAttribute()
    expires_at = TTLAttribute(attr_name="expiresAt")
    data: MapAttribute = MapAttribute(default=dict)  # what the kind needs to remember (ids, keys)
    listed_kind = UnicodeAttribute(null=True, attr_name="listedKind")  # the kind, when listed (see above)
    counter = NumberAttribute(null=True, attr_name="count")  # a counter's value (``record_count_up``)

    by_listed_kind = RecordsListed()

    @property
    def expired(self) -> bool:
        return self.expires_at <= datetime.now(UTC)


def record_key(kind: str, record_id: str) -> str:
    return f"{kind}#{record_id}"


def record_get(kind: str, record_id: str, *, include_expired: bool = False) -> ServiceRecord | None:
    """The live record, or None when there is none or it has expired (``include_expired`` returns an
    expired one too, for a taker that must judge what its dead holder may have done)."""
    try:
        record = ServiceRecord.get(record_key(kind, record_id), consistent_read=True)
    except ServiceRecord.DoesNotExist:
        return None
    return record if include_expired or not record.expired else None


def record_take(
    kind: str,
    record_id: str,
    *,
    owner: str,
    status: str,
    lifetime: timedelta,
    data: dict | None = None,
    replacing: ServiceRecord | None = None,
    over_expired: bool = True,
    listed: bool = False,
) -> ServiceRecord | None:
    """Write the record if nobody holds it (none, or expired), or exactly over ``replacing``.

    Returns the record, or None when someone else holds it. The condition makes two takers race safely:
    one write wins, the other learns it lost. ``over_expired=False`` takes only a record that does not
    exist, for a kind whose expired records must be judged before being taken over. ``listed`` puts the
    record in the index ``records_of_kind`` reads.
    """
    now = datetime.now(UTC)
    record = _record(kind, record_id, owner=owner, status=status, expires_at=now + lifetime, data=data)
    record.listed_kind = kind if listed else None
    if replacing is None:
        condition = _free(now) if over_expired else ServiceRecord.record_key.does_not_exist()
    else:
        # Take over exactly the record we judged, not one written since.
        condition = (ServiceRecord.owner == replacing.owner) & (
            ServiceRecord.expires_at == replacing.expires_at
        )
    return record if applied(lambda: record.save(condition=condition)) else None


def _record(
    kind: str, record_id: str, *, owner: str, status: str, expires_at: datetime, data: dict | None = None
) -> ServiceRecord:
    return ServiceRecord(
        record_key(kind, record_id),
        kind=kind,
        owner=owner,
        status=status,
        expires_at=expires_at,
        data=data or {},
    )


def _free(now: datetime):
    """The condition that nobody holds the record: there is none, or it has expired (as absent)."""
    return ServiceRecord.record_key.does_not_exist() | (ServiceRecord.expires_at <= now)


def _moved(status: str, lifetime: timedelta, data: dict) -> list:
    return [
        ServiceRecord.status.set(status),
        ServiceRecord.expires_at.set(datetime.now(UTC) + lifetime),
        ServiceRecord.data.set(data),
    ]


def record_update(record: ServiceRecord, *, status: str, lifetime: timedelta, data: dict) -> None:
    """Move a record its owner holds to a new status, lifetime and data."""
    record.update(actions=_moved(status, lifetime, data), condition=ServiceRecord.owner == record.owner)


def record_release(record: ServiceRecord) -> bool:
    """Delete a record its owner holds; False when someone else has taken it meanwhile."""
    return applied(lambda: record.delete(condition=ServiceRecord.owner == record.owner))


def record_drop_if(kind: str, record_id: str, *, data_key: str, value: str) -> bool:
    """Delete a record only when ``data[data_key]`` is ``value`` (it is about the subject that is gone)."""
    record = ServiceRecord(record_key(kind, record_id))
    return applied(lambda: record.delete(condition=ServiceRecord.data[data_key] == value))


def record_drop(kind: str, record_id: str) -> None:
    """Delete a record whoever holds it (its subject is gone); tried again while a transaction holds it."""
    applied(ServiceRecord(record_key(kind, record_id)).delete)


def record_update_in(
    transaction: TransactWrite, record: ServiceRecord, *, status: str, lifetime: timedelta, data: dict
) -> None:
    """``record_update`` as one item of a larger transaction (it fails the whole if the owner changed)."""
    transaction.update(
        record, actions=_moved(status, lifetime, data), condition=ServiceRecord.owner == record.owner
    )


def record_set_in(
    transaction: TransactWrite,
    kind: str,
    record_id: str,
    *,
    owner: str,
    status: str,
    lifetime: timedelta,
    data: dict,
) -> None:
    """Write a record as one item of a larger transaction, whatever was there: for a record that only
    states a fact of that transaction's write (the same write states the same fact), never a claim. An
    update that creates the item, so the transaction's puts keep their places."""
    transaction.update(
        ServiceRecord(record_key(kind, record_id)),
        actions=[
            ServiceRecord.kind.set(kind),
            ServiceRecord.owner.set(owner),
            *_moved(status, lifetime, data),
        ],
    )


def records_set(kind: str, entries: dict[str, dict], *, owner: str, status: str, lifetime: timedelta) -> None:
    """Write many records of a kind, whatever was there (``entries``: record id -> data), in batches."""
    expires_at = datetime.now(UTC) + lifetime
    with ServiceRecord.batch_write() as batch:
        for record_id, data in entries.items():
            batch.save(_record(kind, record_id, owner=owner, status=status, expires_at=expires_at, data=data))


def record_take_in(
    transaction: TransactWrite, kind: str, record_id: str, *, owner: str, status: str, lifetime: timedelta
) -> None:
    """``record_take`` as one item of a larger transaction: the whole is refused when someone holds the
    record (for a record that says "this was done once": a second doer's transaction fails on it)."""
    now = datetime.now(UTC)
    record = _record(kind, record_id, owner=owner, status=status, expires_at=now + lifetime)
    transaction.save(record, condition=_free(now))


def record_release_in(transaction: TransactWrite, record: ServiceRecord) -> None:
    """``record_release`` as one item of a larger transaction (it fails the whole if the owner changed)."""
    transaction.delete(record, condition=ServiceRecord.owner == record.owner)


def records_of_kind(kind: str) -> Iterator[ServiceRecord]:
    """Every live record of a kind taken with ``listed=True`` (a query of the sparse index: eventually
    consistent, so a record taken a moment ago may be missing; readers that must not miss one read it
    by its key with ``record_get``)."""
    for record in ServiceRecord.by_listed_kind.query(kind):
        if not record.expired:
            yield record


def record_count_up(kind: str, record_id: str, *, limit: int, lifetime: timedelta) -> bool:
    """Count one more in a counter that lives ``lifetime`` from its first count; False (nothing counted)
    once it has reached ``limit``. Two conditional writes at most, safe under concurrency: the first
    count of a window creates it, later ones add to it while below the limit."""
    now = datetime.now(UTC)
    record = ServiceRecord(record_key(kind, record_id))
    started = applied(
        lambda: record.update(
            actions=[
                ServiceRecord.kind.set(kind),
                ServiceRecord.owner.set("counter"),
                ServiceRecord.status.set("counting"),
                ServiceRecord.expires_at.set(now + lifetime),
                ServiceRecord.counter.set(1),
            ],
            condition=ServiceRecord.counter.does_not_exist() | (ServiceRecord.expires_at <= now),
        )
    )
    if started:
        return limit >= 1
    return applied(
        lambda: record.update(
            actions=[ServiceRecord.counter.add(1)],
            condition=(ServiceRecord.counter < limit) & (ServiceRecord.expires_at > now),
        )
    )
