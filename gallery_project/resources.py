"""Create the tables and the bucket the service needs, if they are missing (idempotent); tidy what an
older release left (``photos.legacy``)."""

import time

from django.conf import settings
from pynamodb.attributes import TTLAttribute
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

from core.aws import reset_connections
from core.errors import Unavailable
from core.records import ServiceRecord
from core.storage import bucket_ensure
from galleries.models import Gallery
from gallery_project.models import CuratorKey
from photos.keys import LIFECYCLE_RULES
from photos.legacy import legacy_claims_remove
from photos.models import GalleryPhoto, PhotoTag
from ratings.models import PhotoRating


def table_models() -> tuple[type[Model], ...]:
    """Every PynamoDB model the service owns, one per table, in creation order."""
    return (Gallery, GalleryPhoto, PhotoRating, CuratorKey, ServiceRecord, PhotoTag)


def connections_reset() -> None:
    """Forget every cached AWS client, so the next call picks up changed endpoints (tests switch backends)."""
    reset_connections(table_models())


def resources_ensure(*, create_bucket: bool = True) -> list[str]:
    """Create what is missing and return one line per resource saying what was done."""
    report = []
    if not ServiceRecord.exists() and GalleryPhoto.exists():
        # An upgrade from a release before ServiceRecords: its claims leave GalleryPhotos first (one scan
        # of that table, only now; if it fails, the records table is still missing and a rerun retries).
        removed = legacy_claims_remove()
        if removed:
            table = GalleryPhoto.Meta.table_name
            report.append(f"table {table}: removed {removed} scan claims an older release kept there")
    for model in table_models():
        name = model.Meta.table_name
        if model.exists():
            indexes = _global_indexes_ensure(model)
            changes = [f"added index {', '.join(indexes)}"] if indexes else []
            if _ttl_ensure(model):
                changes.append("turned on time to live")
            report.append(f"table {name}: exists" + "".join(f", {change}" for change in changes))
        else:
            model.create_table(wait=True)  # PynamoDB also turns on the TTL attribute, when one is declared
            report.append(f"table {name}: created")
    if create_bucket:
        report.append(bucket_ensure(settings.BUCKET_NAME, lifecycle_rules=LIFECYCLE_RULES))
    return report


def _ttl_ensure(model) -> bool:
    """Turn on DynamoDB's TTL for a model that declares a TTL attribute on a table made before it did."""
    if not any(isinstance(attribute, TTLAttribute) for attribute in model.get_attributes().values()):
        return False
    client = model._get_connection().connection.client
    described = client.describe_time_to_live(TableName=model.Meta.table_name)["TimeToLiveDescription"]
    if described.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}:
        return False
    model.update_ttl(ignore_update_ttl_errors=False)
    return True


def _global_indexes_ensure(model) -> list[str]:
    """Add global indexes a newer release declares to a table made by an older one (DynamoDB fills
    them from the existing items). Local indexes cannot be added after creation.

    DynamoDB takes one new index per UpdateTable, and the next only once the table is no longer being
    updated; each is waited for until it is ACTIVE (backfilled), since a query of an index still being
    built is refused: run this before deploying code that reads the new indexes. On a large table the
    backfill can outlast ``INDEX_WAIT_SECONDS``: the run then stops with a 503-style error, and a
    rerun waits for that index and adds the rest (safe to repeat)."""
    client = model._get_connection().connection.client
    table = client.describe_table(TableName=model.Meta.table_name)["Table"]
    existing = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
    missing = [
        index
        for index in model._indexes.values()
        if isinstance(index, GlobalSecondaryIndex) and index.Meta.index_name not in existing
    ]
    if missing:
        # One still being built by an earlier run (that stopped waiting) comes first: one at a time.
        for index in table.get("GlobalSecondaryIndexes", []):
            if index.get("IndexStatus") == "CREATING":
                _index_wait_active(client, model.Meta.table_name, index["IndexName"])
    added = []
    for index in missing:
        schema = index._get_schema()
        client.update_table(
            TableName=model.Meta.table_name,
            AttributeDefinitions=schema["attribute_definitions"],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": schema["index_name"],
                        # DynamoDB wants HASH before RANGE; the schema lists them in attribute order.
                        "KeySchema": sorted(schema["key_schema"], key=lambda key: key["KeyType"] != "HASH"),
                        "Projection": schema["projection"],
                    }
                }
            ],
        )
        added.append(schema["index_name"])
        # DynamoDB builds one new index of a table at a time: the next waits until this one is active.
        _index_wait_active(client, model.Meta.table_name, schema["index_name"])
    return added


INDEX_WAIT_SECONDS = 900
INDEX_POLL_SECONDS = 1.0


def _index_wait_active(client, table_name: str, index_name: str) -> None:
    """Wait until a new global index is ACTIVE (DynamoDB backfills it from the table's items first)."""
    waited = 0.0
    while waited < INDEX_WAIT_SECONDS:
        table = client.describe_table(TableName=table_name)["Table"]
        status = next(
            (
                index.get("IndexStatus")
                for index in table.get("GlobalSecondaryIndexes", [])
                if index["IndexName"] == index_name
            ),
            None,
        )
        if status in (None, "ACTIVE"):
            return
        time.sleep(INDEX_POLL_SECONDS)
        waited += INDEX_POLL_SECONDS
    raise Unavailable(
        f"Index {index_name} of {table_name} is still being built after {INDEX_WAIT_SECONDS} s; "
        "run ensure_resources again once it is active."
    )
