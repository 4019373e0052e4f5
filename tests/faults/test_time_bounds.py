"""Bounded time (issue 18, must-show 6): a frozen S3 or DynamoDB makes a request answer 503 with
Retry-After within its deadline, not hang; nothing inconsistent is left, and the service works again once
the frozen one continues.

The bounds are short here (1 s connect and read timeouts, 2 attempts, a 4 s request deadline, set through
the settings and applied to every client by ``connections_reset``) and only for the frozen part: the scans
and checks before and after run on the suite's generous bounds again. The answers must come within the
deadline plus a little work; MAX_ANSWER_SECONDS is generous for a loaded 2-core machine.
"""

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from core import storage
from gallery_project.resources import connections_reset
from photos import intents
from scans.photos_scan import gallery_photos_scan
from tests.faults.api import files_upload, gallery_create, jpeg, photo_rate
from tests.faults.injection import frozen, raced
from tests.faults.invariants import StoreSnapshot, assert_store_consistent, bucket_keys

SHORT_BOUNDS = {
    "AWS_CONNECT_TIMEOUT_SECONDS": 1,
    "AWS_READ_TIMEOUT_SECONDS": 1,
    "AWS_MAX_ATTEMPTS": 2,
    # No attempt starts with less than connect + read (2 s) left, so a 3 s deadline left the upload 1 s for
    # everything before its first put (gallery read, decode, renditions, claims, intent): on a loaded
    # 2-core machine that sometimes ran out before the put the test freezes S3 after (1 run in about 10
    # of the full suite). 4 s leaves 2 s of work; the answer is still bounded well under API Gateway's.
    "REQUEST_DEADLINE_SECONDS": 4,
}
MAX_ANSWER_SECONDS = 7.0  # the 4 s deadline (no attempt starts that could end after it) and slack
S3_ANSWER_POLL_SECONDS = 5.0
ENVELOPE = {"error", "details"}


@contextmanager
def short_bounds(store, settings) -> Iterator[None]:
    """SHORT_BOUNDS for the block, on every client (PynamoDB's models, S3, transactions); the suite's
    own bounds and clients again after it. The store remakes every client after the test too."""
    store.keep_clients = False
    before = {name: getattr(settings, name) for name in SHORT_BOUNDS}
    for name, value in SHORT_BOUNDS.items():
        setattr(settings, name, value)
    connections_reset()
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(settings, name, value)
        connections_reset()


def timed(call: Callable[[], object]) -> Callable[[], tuple[object, float]]:
    def run():
        started = time.monotonic()
        answer = call()
        return answer, time.monotonic() - started

    return run


def assert_unavailable(answer, elapsed: float) -> None:
    """A 503 in the envelope, with Retry-After, within the bound."""
    assert answer.status_code == 503, answer.content
    assert int(answer["Retry-After"]) > 0
    assert set(answer.json()) == ENVELOPE
    print(f"answered 503 after {elapsed:.2f} s")
    assert elapsed < MAX_ANSWER_SECONDS, f"answered after {elapsed:.1f} s"


# ---------------------------------------------------------------- S3 frozen during an upload


def test_an_upload_to_a_frozen_s3_answers_503_in_time_and_leaves_nothing_the_scan_cannot_finish(
    store, curator, settings, monkeypatch
):
    gallery_id = gallery_create(curator)
    real_put, puts = storage.object_put, []

    def put_then_freeze(key, data, content_type):
        # The original is stored; S3 hangs from the next call on (so the write has an object out),
        # whatever that call is: the original's HEAD, or a rendition's put.
        puts.append(key)
        stored = real_put(key, data, content_type)
        hung.enter_context(frozen(store.services.s3))
        return stored

    monkeypatch.setattr(storage, "object_put", put_then_freeze)
    with short_bounds(store, settings), contextlib.ExitStack() as hung:
        answer, elapsed = timed(lambda: files_upload(curator, gallery_id, {"stuck.jpg": jpeg()}))()
    monkeypatch.setattr(storage, "object_put", real_put)
    assert len(puts) == 1, puts
    assert_unavailable(answer, elapsed)
    assert [failure["status"] for failure in answer.json()["details"]["files"]] == [503]

    # Nothing was committed; what the frozen S3 may still write of the request it took in is named by
    # the write's intent (left pending when the rollback's own calls meet the deadline).
    assert not [photo for photo in StoreSnapshot.read().photos if photo["galleryId"] == gallery_id]
    [intent] = _photo_writes()
    assert intent["status"] in (intents.PENDING, intents.FAILED)
    named = set(intent["data"]["objects"])
    [original] = [key for key in named if key.startswith("galleries/")]
    _until_s3_answered(store.services.s3, original)
    assert_store_consistent()

    # Later: the writer is long dead (every pending intent is stale), and objects look settled.
    monkeypatch.setattr(intents, "STALE_AFTER", timedelta(0))
    summary = gallery_photos_scan()
    assert (summary.failed_writes_cleaned, summary.created, summary.failed) == (1, 0, 0)
    assert not named & bucket_keys() and _photo_writes() == []
    assert_store_consistent()

    # And S3 works again.
    assert files_upload(curator, gallery_id, {"after.jpg": jpeg()}).status_code == 201
    assert_store_consistent()


def _photo_writes() -> list[dict]:
    return [
        record
        for record in StoreSnapshot.read().records
        if str(record["recordKey"]).startswith(f"{intents.KIND}#")
    ]


def _until_s3_answered(s3, key: str) -> None:
    """Bounded polling: after SIGCONT, s3rver still handles the PutObject it took in while frozen (its
    client gave up on it; s3rver logs each request once answered). Wait until its log names the key, so
    the checks below see what the outage finally left, not a write still landing."""
    deadline = time.monotonic() + S3_ANSWER_POLL_SECONDS
    while time.monotonic() < deadline and key not in s3.log_path.read_text(errors="replace"):
        time.sleep(0.05)


# ---------------------------------------------------------------- DynamoDB frozen


def test_a_read_and_a_rating_with_dynamodb_frozen_answer_503_in_time_and_work_again_after(
    store, client, scene, settings
):
    gallery_url = f"/api/galleries/{scene.gallery_id}"
    visitor = store.anonymous_api()
    with short_bounds(store, settings):
        with frozen(store.services.dynamodb):
            (read, read_seconds), (rated, rated_seconds) = raced(
                timed(lambda: client.get(gallery_url)),
                timed(lambda: photo_rate(visitor, scene.photo_ids[1], "v2", 5)),
            )
        assert_unavailable(read, read_seconds)
        assert_unavailable(rated, rated_seconds)

        # DynamoDB continues: the same requests, on the same short bounds, work again.
        assert client.get(gallery_url).status_code == 200
        again = photo_rate(visitor, scene.photo_ids[1], "v2", 5)
        assert again.status_code in (200, 201), again.content
    assert_store_consistent()
