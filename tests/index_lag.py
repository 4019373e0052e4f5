"""The byPhotoId index lagging behind its table, as a global secondary index on DynamoDB may (moto's and
DynamoDB Local's indexes are up to date at once, so nothing else would show the lag).

``with index_lag(seconds) as lag:`` watches every write of GalleryPhotos items that any botocore client
sends (PynamoDB's, a transaction's, a raw client's batch) and answers ``GalleryPhoto.by_photo_id.query``
with the index as it was ``seconds`` ago, for each photo id written since: a photo made within the lag
is not listed yet, a photo deleted within the lag is still listed, in the gallery it had. Ids not
written within the lag get the real index's answer. ``lag.catch_up()`` lets the index see every write
made so far; ``lag.stale`` counts the answers that differed from the table's (a test that relies on the
lag asserts it happened). Usable on moto and on DynamoDB Local alike; the patches end with the block.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import botocore.client
import pytest

from photos.models import GalleryPhoto


@dataclass(frozen=True)
class _Write:
    at: float
    present: bool  # the item exists after this write
    gallery_id: str


@dataclass
class IndexLag:
    seconds: float
    stale: int = 0
    _writes: dict[str, list[_Write]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def catch_up(self) -> None:
        """The index has taken every write made so far."""
        with self._lock:
            self._writes.clear()

    def noted(self, photo_id: str, gallery_id: str, *, present: bool) -> None:
        with self._lock:
            self._writes.setdefault(photo_id, []).append(_Write(time.monotonic(), present, gallery_id))

    def listed(self, photo_id: str) -> tuple[bool, str] | None:
        """What the index lists for the id as of ``seconds`` ago: (listed, gallery id), or None when no
        write of it is that recent (the real index is right)."""
        horizon = time.monotonic() - self.seconds
        with self._lock:
            writes = list(self._writes.get(photo_id, ()))
        if not writes or writes[-1].at <= horizon:
            return None
        seen = [write for write in writes if write.at <= horizon]
        if seen:
            return seen[-1].present, seen[-1].gallery_id
        first = writes[0]  # the state before the first write the index has not taken yet
        return not first.present, first.gallery_id


def _photo_writes(operation: str, params: dict) -> Iterator[tuple[str, str, bool]]:
    """(photo id, gallery id, exists after) for each GalleryPhotos item a call puts or deletes."""
    table = GalleryPhoto.Meta.table_name

    def ids(item: dict) -> tuple[str, str]:
        return item["photoId"]["S"], item["galleryId"]["S"]

    if operation in ("PutItem", "DeleteItem") and params.get("TableName") == table:
        item = params["Item"] if operation == "PutItem" else params["Key"]
        yield *ids(item), operation == "PutItem"
    elif operation == "BatchWriteItem":
        for request in params.get("RequestItems", {}).get(table, ()):
            if "PutRequest" in request:
                yield *ids(request["PutRequest"]["Item"]), True
            elif "DeleteRequest" in request:
                yield *ids(request["DeleteRequest"]["Key"]), False
    elif operation == "TransactWriteItems":
        for action in params.get("TransactItems", ()):
            if action.get("Put", {}).get("TableName") == table:
                yield *ids(action["Put"]["Item"]), True
            elif action.get("Delete", {}).get("TableName") == table:
                yield *ids(action["Delete"]["Key"]), False


@contextmanager
def index_lag(seconds: float) -> Iterator[IndexLag]:
    """The byPhotoId index ``seconds`` behind its table for the block (see the module's docstring)."""
    lag = IndexLag(seconds)
    previous_call = botocore.client.BaseClient._make_api_call
    index = GalleryPhoto.by_photo_id
    real_query = index.query

    def call(client, operation_name, params):
        answer = previous_call(client, operation_name, params)
        for photo_id, gallery_id, present in _photo_writes(operation_name, params):
            lag.noted(photo_id, gallery_id, present=present)
        return answer

    def query(hash_key, *args, **kwargs):
        found = list(real_query(hash_key, *args, **kwargs))
        listed = lag.listed(str(hash_key))
        if listed is None:
            return iter(found)
        present, gallery_id = listed
        answer = [GalleryPhoto(gallery_id, str(hash_key))] if present else []
        if [(photo.gallery_id, photo.photo_id) for photo in found] != [
            (photo.gallery_id, photo.photo_id) for photo in answer
        ]:
            with lag._lock:
                lag.stale += 1
        return iter(answer)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", call)
        patch.setattr(index, "query", query)
        yield lag
