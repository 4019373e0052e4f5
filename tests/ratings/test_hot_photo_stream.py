"""A hot photo's ratings through PhotoRatings' stream: plain puts, added to the aggregate by the stream
aggregator exactly once, whatever Lambda redelivers, in whatever mix with transactional ratings."""

from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from zappa.handler import LambdaHandler

from core import transactions
from core.records import ServiceRecord
from devtools.local_services.rating_stream import StreamCourier
from gallery_project.resources import STREAM_FILTER_PATTERN, stream_arn, zappa_stream_event
from photos import selectors as photo_selectors
from photos.models import GalleryPhoto
from photos.services import rate as services
from photos.services import rating_stream
from photos.services.order_keys import rating_order_of
from ratings.models import PhotoRating
from ratings.stream import STREAMED, streamed_changes
from scans.events import rating_changes
from tests.aws_faults import cancel_transactions, fail_nth
from tests.ratings.test_ratings_api import (
    EMPTY_HISTOGRAM,
    assert_envelope,
    recount,
    stored_aggregate,
    stored_photo,
)

FAR_FUTURE = "2999-01-01T00:00:00.000Z"


@pytest.fixture
def streaming(settings):
    settings.RATING_STREAM_AGGREGATION = True


@pytest.fixture
def delivered():
    """Every event the stream courier handed to the aggregator, and what it answered."""
    return []


@pytest.fixture
def drain(backend, delivered):
    """Deliver what PhotoRatings' stream holds to the aggregator's Lambda entry point, as the event
    source mapping does; returns how many records were delivered."""

    def deliver(event):
        answer = rating_changes(event, None)
        delivered.append((event, answer))
        return answer

    courier = StreamCourier(django_settings.PHOTO_RATINGS_TABLE, deliver, retry_first_seconds=0)
    return courier.deliver_pending


def make_hot(photo_id: str, until: str = FAR_FUTURE) -> None:
    photo = stored_photo(photo_id)
    photo.update(actions=[GalleryPhoto.rating_hot_until.set(until)])


def test_a_hot_photos_ratings_are_puts_added_from_the_stream(streaming, drain, photo_id, rate):
    make_hot(photo_id)
    answers = [rate(photo_id, f"v{n}", stars) for n, stars in enumerate([5, 4, 4, 2], start=1)]
    assert [answer.status_code for answer in answers] == [201] * 4
    # Each answer has the visitor's rating and the aggregate as last applied: none of them yet.
    assert answers[-1].json()["rating"] == 2
    assert answers[-1].json()["ratingCount"] == 0
    stored = {r.user_id: r for r in PhotoRating.query(photo_id, consistent_read=True)}
    assert {r.aggregated_by for r in stored.values()} == {STREAMED}
    assert stored_aggregate(photo_id) == (0, 0, EMPTY_HISTOGRAM)

    assert rate(photo_id, "v2", 1).status_code == 200  # a re-rating, streamed too
    assert drain() >= 5
    assert (
        stored_aggregate(photo_id)
        == recount(photo_id)
        == (4, 12, {**EMPTY_HISTOGRAM, "5": 1, "4": 1, "2": 1, "1": 1})
    )
    photo = stored_photo(photo_id)
    assert photo.rating_order == rating_order_of(photo)
    assert drain() == 0  # nothing delivered twice
    caches[services.HOT_PHOTOS_CACHE].clear()  # a moment later: the process reads the hot photo again
    assert rate(photo_id, "v1", 5).json()["ratingCount"] == 4  # the next answer has them


def test_a_batch_delivered_again_split_or_reordered_is_applied_once(
    streaming, drain, delivered, photo_id, rate
):
    make_hot(photo_id)
    for n, stars in enumerate([3, 5, 1, 4, 4], start=1):
        assert rate(photo_id, f"v{n}", stars).status_code == 201
    assert rate(photo_id, "v3", 2).status_code == 200
    drain()
    expected = recount(photo_id)
    assert (
        stored_aggregate(photo_id) == expected == (5, 18, {**EMPTY_HISTOGRAM, "3": 1, "5": 1, "2": 1, "4": 2})
    )
    records = [record for event, _ in delivered for record in event["Records"]]
    # Lambda after a failure: the whole batch again, halves of it (bisect), a later record first.
    for again in (records, records[: len(records) // 2], records[len(records) // 2 :], records[::-1]):
        assert rating_changes({"Records": again}, None) == {"batchItemFailures": []}
        assert stored_aggregate(photo_id) == expected
    applied_marks = [r for r in ServiceRecord.scan() if r.kind == rating_stream.APPLIED_KIND]
    assert len(applied_marks) == 6


def test_streamed_and_transactional_ratings_add_up_in_any_order(streaming, drain, photo_id, rate, withdraw):
    # Transactional ratings first, as a photo's are before it is hot.
    for n, stars in enumerate([5, 5, 3], start=1):
        assert rate(photo_id, f"v{n}", stars).status_code == 201
    make_hot(photo_id)
    assert rate(photo_id, "v1", 1).status_code == 200  # streamed re-rating of a transactional rating
    assert rate(photo_id, "v4", 4).status_code == 201  # streamed new rating
    assert rate(photo_id, "v5", 2).status_code == 201
    # The photo cools down before the stream is delivered: what follows are transactions again.
    make_hot(photo_id, until="2000-01-01T00:00:00.000Z")
    caches[
        services.HOT_PHOTOS_CACHE
    ].clear()  # as a second later: the process's copy of the hot photo has expired
    assert rate(photo_id, "v4", 3).status_code == 200  # transactional re-rating of a streamed rating
    response = withdraw(photo_id, "v5")  # a withdrawal of a streamed rating not yet added
    assert response.status_code == 200, response.content
    # The withdrawal came first: its bucket is answered as 0, never below, until the stream catches up.
    assert min(response.json()["ratingHistogram"].values()) >= 0
    drain()
    assert (
        stored_aggregate(photo_id)
        == recount(photo_id)
        == (4, 12, {**EMPTY_HISTOGRAM, "5": 1, "3": 2, "1": 1})
    )
    photo = stored_photo(photo_id)
    assert photo.rating_order == rating_order_of(photo)


def test_conflicts_make_a_photo_hot_and_its_rating_lands_through_the_stream(
    streaming, drain, photo_id, rate, monkeypatch, caplog
):
    cancel_transactions(monkeypatch, *[["None", "TransactionConflict"]] * transactions.ATTEMPTS)
    monkeypatch.setattr(transactions, "PAUSE_SECONDS", 0)
    response = rate(photo_id, "v1", 4)
    assert response.status_code == 201, response.content
    photo = stored_photo(photo_id)
    assert photo.rating_hot_until is not None and services.is_streamed(photo)
    assert PhotoRating.get(photo_id, "v1").aggregated_by == STREAMED
    drain()
    assert stored_aggregate(photo_id) == recount(photo_id) == (1, 4, {**EMPTY_HISTOGRAM, "4": 1})


def test_without_the_stream_a_contended_photo_stays_transactional(backend, photo_id, rate, monkeypatch):
    assert not django_settings.RATING_STREAM_AGGREGATION  # off unless the stream reaches the service
    make_hot(photo_id)
    cancel_transactions(monkeypatch, *[["None", "TransactionConflict"]] * transactions.ATTEMPTS)
    monkeypatch.setattr(transactions, "PAUSE_SECONDS", 0)
    assert rate(photo_id, "v1", 4).status_code == 201
    assert PhotoRating.get(photo_id, "v1").aggregated_by is None
    assert stored_aggregate(photo_id) == recount(photo_id) == (1, 4, {**EMPTY_HISTOGRAM, "4": 1})


def test_a_streamed_rating_of_a_photo_deleted_meanwhile_is_removed(
    streaming, drain, gallery_id, upload, curator, rate
):
    kept, doomed = (photo["photoId"] for photo in upload(gallery_id, 2))
    make_hot(kept)
    make_hot(doomed)
    assert rate(kept, "v1", 5).status_code == 201
    assert rate(doomed, "v1", 4).status_code == 201
    response = curator.delete(f"/api/galleries/{gallery_id}/photos/{doomed}")
    assert response.status_code == 200, response.content
    # A put that read the photo before its delete began and landed after its ratings were purged.
    PhotoRating(
        doomed,
        "v2",
        rating=3,
        rated_at="2026-01-01T00:00:00.000Z",
        gallery_id=gallery_id,
        aggregated_by=STREAMED,
    ).save()
    drain()
    assert list(PhotoRating.query(doomed, consistent_read=True)) == []
    with pytest.raises(GalleryPhoto.DoesNotExist):  # never made again by the aggregate's write
        GalleryPhoto.get(gallery_id, doomed, consistent_read=True)
    assert stored_aggregate(kept) == recount(kept) == (1, 5, {**EMPTY_HISTOGRAM, "5": 1})


def test_a_write_that_fails_is_delivered_again_and_applied_once(
    streaming, drain, delivered, photo_id, rate, monkeypatch
):
    make_hot(photo_id)
    assert rate(photo_id, "v1", 4).status_code == 201
    assert rate(photo_id, "v2", 2).status_code == 201
    # DynamoDB throttles the aggregator's transaction through every attempt.
    cancel_transactions(monkeypatch, *[["ThrottlingError"] + ["None"] * 2] * transactions.ATTEMPTS)
    monkeypatch.setattr(transactions, "PAUSE_SECONDS", 0)
    drain()
    (event, answer), *_ = delivered
    sequences = [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
    assert {failure["itemIdentifier"] for failure in answer["batchItemFailures"]} == set(sequences)
    assert stored_aggregate(photo_id) == (0, 0, EMPTY_HISTOGRAM)  # behind, never wrong
    drain()  # delivered again from the failed record, as Lambda does
    assert stored_aggregate(photo_id) == recount(photo_id) == (2, 6, {**EMPTY_HISTOGRAM, "4": 1, "2": 1})


def test_a_hot_photo_is_read_once_a_moment_for_its_visitors(
    streaming, settings, drain, gallery_id, photo_id, rate, curator, monkeypatch
):
    settings.RATING_HOT_READ_SECONDS = 60
    settings.RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY = 100  # seven new visitors from one address
    make_hot(photo_id)
    reads = []
    real = photo_selectors.photo_readable
    monkeypatch.setattr(services, "photo_readable", lambda **kw: reads.append(kw) or real(**kw))
    for n in range(1, 6):
        assert rate(photo_id, f"v{n}", 4).status_code == 201
    assert len(reads) == 1  # the others were served the photo this process read a moment ago
    # What that costs, and for how long: the gallery made private is still rated until the copy expires.
    response = curator.patch(f"/api/galleries/{gallery_id}", {"visibility": "private"}, format="json")
    assert response.status_code == 200, response.content
    assert rate(photo_id, "v6", 4).status_code == 201
    caches[services.HOT_PHOTOS_CACHE].clear()  # the moment has passed
    assert_envelope(rate(photo_id, "v7", 4), 404)
    drain()
    assert stored_aggregate(photo_id) == recount(photo_id) == (6, 24, {**EMPTY_HISTOGRAM, "4": 6})


def test_more_changes_of_one_photo_than_one_write_holds_are_applied_once(
    streaming, drain, delivered, gallery_id, photo_id
):
    make_hot(photo_id)
    for n in range(150):  # more than one transaction's 99 changes, delivered in batches of 100
        PhotoRating(
            photo_id,
            f"u{n}",
            rating=1 + n % 5,
            rated_at="2026-01-01T00:00:00.000Z",
            gallery_id=gallery_id,
            aggregated_by=STREAMED,
        ).save()
    drain()
    expected = recount(photo_id)
    assert stored_aggregate(photo_id) == expected and expected[0] == 150
    records = [record for event, _ in delivered for record in event["Records"]]
    assert len(records) == 150
    for again in (records[:130], records, records[40:], records + records[:5]):
        assert rating_changes({"Records": again}, None) == {"batchItemFailures": []}
        assert stored_aggregate(photo_id) == expected


def test_zappas_handler_routes_the_stream_to_the_aggregator_by_the_events_entry(
    streaming, backend, photo_id, rate
):
    """What the stage's events entry (printed by ensure_resources) makes Zappa's handler do with a batch of
    the stream: Lambda's handler finds the function by the records' eventSourceARN alone."""
    make_hot(photo_id)
    assert rate(photo_id, "v1", 3).status_code == 201
    events: list[dict] = []
    StreamCourier(
        django_settings.PHOTO_RATINGS_TABLE, lambda event: events.append(event) or {"batchItemFailures": []}
    ).deliver_pending()
    [event] = events
    entry = zappa_stream_event(stream_arn(PhotoRating))
    # AWS_EVENT_MAPPING as `zappa update` writes it into the package from the stage's events (zappa/cli.py).
    handler = SimpleNamespace(
        settings=SimpleNamespace(AWS_EVENT_MAPPING={entry["event_source"]["arn"]: [entry["function"]]})
    )
    [function] = LambdaHandler.get_function_for_aws_event(handler, event["Records"][0])
    answer = LambdaHandler.run_function(LambdaHandler.import_module_and_get_function(function), event, None)
    assert answer == {"batchItemFailures": []}
    assert stored_aggregate(photo_id) == recount(photo_id) == (1, 3, {**EMPTY_HISTOGRAM, "3": 1})
    # Without the entry the handler finds nothing, and Lambda would count the batch as done: the mapping
    # stays off until `zappa update` has the entry (gallery_project.resources).
    nothing = SimpleNamespace(settings=SimpleNamespace(AWS_EVENT_MAPPING={}))
    assert LambdaHandler.get_function_for_aws_event(nothing, event["Records"][0]) == []


@pytest.mark.parametrize(
    ("code", "done"),
    [("TransactionConflictException", True), ("ProvisionedThroughputExceededException", False)],
)
def test_the_order_refresh_after_a_batch_fails_the_batch_only_when_dynamodb_refused_it(
    streaming, drain, delivered, photo_id, rate, code, done
):
    """Meeting another aggregator's transaction, the refresh is left to that one (its own refresh follows);
    throttled, the batch comes again and the order is set then."""
    make_hot(photo_id)
    assert rate(photo_id, "v1", 5).status_code == 201
    with fail_nth("UpdateItem", 1, times=10, code=code):  # the refresh and its retries, nothing else
        drain()
    (_, answer), *_ = delivered
    assert bool(answer["batchItemFailures"]) is not done
    assert stored_aggregate(photo_id) == recount(photo_id) == (1, 5, {**EMPTY_HISTOGRAM, "5": 1})
    drain()
    photo = stored_photo(photo_id)
    if done:
        # Left to the writer it met; here there is none, so the order waits for the photo's next batch.
        assert photo.rating_order != rating_order_of(photo)
    else:
        assert photo.rating_order == rating_order_of(photo)  # set when the batch came again


def matches(pattern, value) -> bool:
    """Lambda's event filtering for the one shape the mapping's pattern has: nested keys, a list of values."""
    if isinstance(pattern, list):
        return value in pattern
    return isinstance(value, dict) and all(
        key in value and matches(p, value[key]) for key, p in pattern.items()
    )


def test_the_mappings_filter_lets_through_exactly_the_records_the_aggregator_adds(
    streaming, backend, photo_id, rate, withdraw
):
    assert rate(photo_id, "v1", 4).status_code == 201  # a transaction
    make_hot(photo_id)
    assert rate(photo_id, "v2", 5).status_code == 201  # streamed
    assert rate(photo_id, "v1", 2).status_code == 200  # streamed, over a transactional rating
    assert withdraw(photo_id, "v2").status_code == 200  # a transaction removing a streamed rating
    events: list[dict] = []
    StreamCourier(
        django_settings.PHOTO_RATINGS_TABLE, lambda event: events.append(event) or {"batchItemFailures": []}
    ).deliver_pending()
    records = [record for event in events for record in event["Records"]]
    assert len(records) == 4
    passed = [record for record in records if matches(STREAM_FILTER_PATTERN, record)]
    assert [record["eventID"] for record in passed] == [
        change.event_id for change in streamed_changes(records)
    ]
    assert len(passed) == 2
