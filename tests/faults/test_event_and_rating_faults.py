"""Faults at the steps the durability cases did not reach, on the suite's own DynamoDB Local and s3rver:
S3's object-created event (the handler Lambda runs: DynamoDB throttled at its commit, S3 failing to hand
over the original, a direct upload's event), ratings (a transaction cancelled by a conflict, once or for
good; DynamoDB throttled) and the visitor-id records a rating writes. After each: the answer says what
happened (TryLater for Lambda to deliver again; 503 with Retry-After), nothing is left dangling (no
rendition without its photo, no rating without its aggregate, no visitor id held by a token nobody was
given), every aggregate equals a recount, and the retry completes, once. And the stream aggregator of a
hot photo's ratings meeting DynamoDB failing, or its answer lost: behind, never wrong, then applied once.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import pytest
from django.conf import settings

from core import records, transactions
from core.records import WRITE_LIFETIME
from devtools.local_services.probes import local_aws_client
from devtools.local_services.rating_stream import StreamCourier
from photos.models import GalleryPhoto
from photos.services import rate as rating_service
from ratings import visitors
from ratings.models import PhotoRating
from scans.events import photo_object_created, rating_changes
from scans.object_events import TryLater
from tests.clock import clock_at
from tests.faults.api import gallery_create, jpeg, photo_rate, slot_post, upload_slots, uploads_complete
from tests.faults.injection import failing_calls
from tests.faults.invariants import StoreSnapshot, table_items

THROTTLED = "ProvisionedThroughputExceededException"
CONFLICT = {
    "CancellationReasons": [
        {"Code": "None", "Message": "None"},
        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
    ]
}


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch):
    """Conflicts retried at once: the cases count attempts, not seconds."""
    monkeypatch.setattr(transactions, "PAUSE_SECONDS", 0)
    monkeypatch.setattr(rating_service, "RETRY_PAUSE_SECONDS", 0)


def event_of(*keys: str) -> dict:
    """An S3 ObjectCreated notification as S3 sends it to the function (keys URL-encoded)."""
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": settings.BUCKET_NAME}, "object": {"key": quote_plus(key)}},
            }
            for key in keys
        ]
    }


def original_put(store, key: str) -> None:
    """A photographer's file copied into the bucket (not through the API)."""
    s3 = local_aws_client("s3", store.services.s3.endpoint_url)
    s3.put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=jpeg(), ContentType="image/jpeg")


def photos_in(gallery_id: str) -> list[dict]:
    return [photo for photo in StoreSnapshot.read().photos if photo["galleryId"] == gallery_id]


def only_waiting(store, *keys: str) -> None:
    """The store is consistent but for these originals, whose photo the event's next delivery (or the
    scan) makes: no rendition, item or intent of the failed attempt is left."""
    waiting = {
        f"[object-orphan] {key}: no photo item references it and no live photo-write names it" for key in keys
    }
    assert set(store.violations()) == waiting
    assert set(keys) <= StoreSnapshot.read().objects, "an original was lost"


# ---------------------------------------------------------------- S3's event


@pytest.mark.parametrize(
    ("service", "operation", "code"),
    [
        ("dynamodb", "TransactWriteItems", THROTTLED),
        ("dynamodb", "TransactWriteItems", "InternalServerError"),
        ("s3", "GetObject", "SlowDown"),
        ("s3", "PutObject", "ServiceUnavailable"),
    ],
)
def test_an_event_meeting_a_failure_is_delivered_again_and_makes_one_photo(
    store, curator, service, operation, code
):
    gallery_id = gallery_create(curator)
    keys = [f"galleries/{gallery_id}/DSC_{n}.jpg" for n in range(2)]
    for key in keys:
        original_put(store, key)
    event = event_of(*keys)
    failing = failing_calls(service, operation, code, times=None)
    with failing as calls, pytest.raises(TryLater) as later:
        photo_object_created(event)
    assert calls.failed >= 2  # each object was tried, and failed
    assert sorted(failure["key"] for failure in later.value.failures) == keys
    assert photos_in(gallery_id) == []
    only_waiting(store, *keys)

    # Lambda's next delivery makes both; any delivery after that makes nothing more.
    delivered = photo_object_created(event)
    assert [outcome["key"] for outcome in delivered["objects"]] == keys
    assert sorted(photo["s3Key"] for photo in photos_in(gallery_id)) == keys
    photo_object_created(event)
    assert len(photos_in(gallery_id)) == 2
    store.assert_consistent()


def test_an_event_failing_for_one_object_makes_the_others_and_retries_only_what_failed(store, curator):
    gallery_id = gallery_create(curator)
    keys = [f"galleries/{gallery_id}/IMG_{n}.jpg" for n in range(3)]
    for key in keys:
        original_put(store, key)
    second = keys[1]
    failing = failing_calls("s3", "GetObject", "SlowDown", times=None, when=lambda p: p.get("Key") == second)
    with failing, pytest.raises(TryLater) as later:
        photo_object_created(event_of(*keys))
    assert [failure["key"] for failure in later.value.failures] == [second]
    assert sorted(photo["s3Key"] for photo in photos_in(gallery_id)) == [keys[0], keys[2]]
    only_waiting(store, second)
    photo_object_created(event_of(*keys))
    assert sorted(photo["s3Key"] for photo in photos_in(gallery_id)) == keys
    store.assert_consistent()


def test_a_direct_uploads_event_failing_at_its_commit_keeps_the_upload_and_the_retry_makes_one_photo(
    store, curator
):
    gallery_id = gallery_create(curator)
    [slot] = upload_slots(curator, gallery_id)
    assert slot_post(slot, jpeg()) == 204
    with failing_calls("dynamodb", "TransactWriteItems", THROTTLED, times=None), pytest.raises(TryLater):
        photo_object_created(event_of(slot["uploadKey"]))
    assert photos_in(gallery_id) == []
    assert slot["uploadKey"] in StoreSnapshot.read().objects  # the photographer's file waits for the retry
    store.assert_consistent()

    photo_object_created(event_of(slot["uploadKey"]))
    [photo] = photos_in(gallery_id)
    # The completion a browser sends after the event answers that photo; it makes no second one.
    completed = uploads_complete(curator, gallery_id, slot["uploadKey"])
    assert completed.status_code == 201, completed.content
    assert [answer["photoId"] for answer in completed.json()["photos"]] == [photo["photoId"]]
    assert len(photos_in(gallery_id)) == 1
    store.assert_consistent()


# ---------------------------------------------------------------- ratings


def rating_rows(photo_id: str) -> list[dict]:
    return [row for row in table_items(PhotoRating.Meta.table_name) if row["photoId"] == photo_id]


def test_a_rating_cancelled_by_conflicts_is_retried_and_counted_once(store, scene, client):
    photo_id = scene.photo_ids[1]
    with failing_calls(
        "dynamodb", "TransactWriteItems", "TransactionCanceledException", times=2, http_status=400,
        response=CONFLICT,
    ) as conflicts:  # fmt: skip
        answer = photo_rate(client, photo_id, "v2", 5)
    assert answer.status_code == 201, answer.content
    assert conflicts.failed == 2 and conflicts.seen == 3
    assert [row["rating"] for row in rating_rows(photo_id)] == [5]
    store.assert_consistent()  # the aggregate equals a recount


@pytest.mark.parametrize(
    ("code", "http_status", "response"),
    [
        ("TransactionCanceledException", 400, CONFLICT),  # a conflict that never clears
        (THROTTLED, 400, None),
        ("ThrottlingException", 400, None),
        ("InternalServerError", 500, None),
    ],
)
def test_a_rating_dynamodb_keeps_refusing_is_a_503_that_changes_nothing_and_the_retry_completes(
    store, scene, client, code, http_status, response
):
    photo_id = scene.photo_ids[0]  # rated 4 by v1
    before = StoreSnapshot.read()
    with failing_calls(
        "dynamodb", "TransactWriteItems", code, times=None, http_status=http_status, response=response
    ):
        answer = photo_rate(client, photo_id, "v2", 2)
    assert answer.status_code == 503, answer.content
    assert int(answer["Retry-After"]) > 0 and set(answer.json()) >= {"error", "details"}
    after = StoreSnapshot.read()
    assert after.photos == before.photos and after.ratings == before.ratings
    # The id the failed write took was let go: the retry, still without a token, takes it and rates.
    retried = photo_rate(client, photo_id, "v2", 2)
    assert retried.status_code == 201, retried.content
    assert sorted(row["rating"] for row in rating_rows(photo_id)) == [2, 4]
    store.assert_consistent()


# ---------------------------------------------------------------- the visitor-id records


def visitor_records() -> list[dict]:
    return [
        record
        for record in table_items(settings.SERVICE_RECORDS_TABLE)
        if str(record["recordKey"]).startswith(f"{visitors.KIND}#")
    ]


@pytest.mark.parametrize("operation", ["PutItem", "GetItem"])
def test_a_visitor_record_dynamodb_refuses_is_a_503_before_any_rating_and_the_retry_completes(
    store, scene, client, operation
):
    photo_id = scene.photo_ids[1]
    kind_key = f"{visitors.KIND}#v3"

    def about_v3(params: dict) -> bool:
        return kind_key in str(params.get("Key", params))

    with failing_calls("dynamodb", operation, THROTTLED, times=None, when=about_v3) as failing:
        answer = photo_rate(client, photo_id, "v3", 3)
    assert failing.failed >= 1
    assert answer.status_code == 503, answer.content
    assert rating_rows(photo_id) == [] and not [r for r in visitor_records() if kind_key in r["recordKey"]]
    retried = photo_rate(client, photo_id, "v3", 3)
    assert retried.status_code == 201, retried.content
    token = retried.json().get("visitorToken") or retried["X-Visitor-Token"]
    assert token
    store.assert_consistent()


def test_a_rating_whose_commit_and_release_both_fail_leaves_a_take_that_expires_not_a_held_id(
    store, scene, client, monkeypatch
):
    """The worst order: the rating's transaction fails, then so does letting the id go. The pending take
    is not a holding (no token was handed out), and once its lifetime is over the id is free again."""
    photo_id = scene.photo_ids[1]
    with (
        failing_calls("dynamodb", "TransactWriteItems", THROTTLED, times=None),
        failing_calls("dynamodb", "DeleteItem", THROTTLED, times=None),
        failing_calls("dynamodb", "UpdateItem", THROTTLED, times=None),
    ):
        answer = photo_rate(client, photo_id, "v4", 1)
    assert answer.status_code == 503, answer.content
    [take] = [record for record in visitor_records() if record["recordKey"].endswith("#v4")]
    assert take["status"] == visitors.PENDING and rating_rows(photo_id) == []
    store.assert_consistent()
    # Until the take's lifetime is over, the id is taken; after it, a new write without a token takes it.
    assert photo_rate(client, photo_id, "v4", 1).status_code == 403
    clock_at(monkeypatch, records, datetime.now(UTC) + WRITE_LIFETIME + timedelta(seconds=5))
    retried = photo_rate(client, photo_id, "v4", 1)
    assert retried.status_code == 201, retried.content
    assert [row["rating"] for row in rating_rows(photo_id)] == [1]
    store.assert_consistent()


# ---------------------------------------------------------------- a hot photo's stream


def stream_courier(deliver) -> StreamCourier:
    return StreamCourier(
        settings.PHOTO_RATINGS_TABLE, deliver, retry_first_seconds=0.0, retry_max_seconds=0.0
    )


def photo_row(photo_id: str) -> dict:
    [row] = [photo for photo in StoreSnapshot.read().photos if photo["photoId"] == photo_id]
    return row


def aggregate_of(row: dict) -> tuple:
    return row.get("ratingCount"), row.get("ratingSum"), row.get("ratingHistogram"), row.get("ratingOrder")


@pytest.fixture
def hot_photo(store, scene, settings):
    """The scene's second photo, hot, with the stream reaching the service."""
    settings.RATING_STREAM_AGGREGATION = True
    photo_id = scene.photo_ids[1]
    [photo] = [p for p in GalleryPhoto.query(scene.gallery_id) if p.photo_id == photo_id]
    photo.update(actions=[GalleryPhoto.rating_hot_until.set("2999-01-01T00:00:00.000Z")])
    return photo_id


@pytest.mark.parametrize(
    ("code", "http_status"), [(THROTTLED, 400), ("ThrottlingException", 400), ("InternalServerError", 500)]
)
def test_the_stream_aggregator_meeting_dynamodb_failing_leaves_the_aggregate_behind_then_applies_once(
    store, hot_photo, client, code, http_status
):
    assert photo_rate(client, hot_photo, "v2", 5).status_code == 201
    assert photo_rate(client, hot_photo, "v3", 2).status_code == 201
    before = aggregate_of(photo_row(hot_photo))
    answers: list[dict] = []

    def deliver(event):
        answers.append(rating_changes(event, None))
        return answers[-1]

    with failing_calls("dynamodb", "TransactWriteItems", code, times=None, http_status=http_status):
        stream_courier(deliver).deliver_pending()
    assert answers and all(answer["batchItemFailures"] for answer in answers)
    # Behind, never wrong: the aggregate is as before the two ratings, and only it disagrees.
    assert aggregate_of(photo_row(hot_photo)) == before
    assert [v.split(":")[0] for v in store.violations()] == [
        f"[rating-aggregate] photo {hot_photo} (gallery {photo_row(hot_photo)['galleryId']})"
    ]
    stream = stream_courier(deliver)
    assert stream.deliver_pending() >= 2
    store.assert_consistent()
    after = aggregate_of(photo_row(hot_photo))
    assert after != before
    stream_courier(deliver).deliver_pending()  # everything delivered again: applied once
    assert aggregate_of(photo_row(hot_photo)) == after
    store.assert_consistent()


def test_a_batch_applied_whose_answer_was_lost_is_applied_once_when_delivered_again(store, hot_photo, client):
    """Lambda timed out after the aggregator's write: the batch comes again, every record refused as done."""
    assert photo_rate(client, hot_photo, "v2", 5).status_code == 201
    delivered: list[dict] = []

    def applied_then_lost(event):
        rating_changes(event, None)
        delivered.append(event)
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in event["Records"]
            ]
        }

    stream = stream_courier(applied_then_lost)
    stream.deliver_pending()
    once = aggregate_of(photo_row(hot_photo))
    store.assert_consistent()
    stream.deliver = lambda event: rating_changes(event, None)
    assert stream.deliver_pending() >= 1
    assert aggregate_of(photo_row(hot_photo)) == once
    store.assert_consistent()
