"""The local courier of the PhotoRatings stream: every change of a rating handed over once, in order, in
Lambda's event shape; the records a delivery reports failed (and the ones after them) handed over again,
the ones before them never; a delivery that raises, its whole batch again; a new courier going on from the
checkpoint file where the last one stopped. On moto, and once on DynamoDB Local's own stream."""

import json
import logging
import time
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from devtools.local_services.rating_stream import StreamCourier, lambda_record
from gallery_project import resources
from gallery_project.resources import TABLE_STREAMS, stream_arn
from ratings.models import PhotoRating
from tests.tables import table_made_again

TABLE = PhotoRating.Meta.table_name


class Recorder:
    """A ``deliver`` that keeps every event it is given and answers what the test asks for."""

    def __init__(self):
        self.events: list[dict] = []
        # Popped one per call: an exception is raised, a callable answers for the event; none left: success.
        self.answers: list = []

    def __call__(self, event: dict):
        self.events.append(json.loads(json.dumps(event)))  # what Lambda sends is JSON
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer(event) if callable(answer) else answer

    @property
    def records(self) -> list[dict]:
        return [record for event in self.events for record in event["Records"]]


def courier(recorder, checkpoint=None, batch_size=100) -> StreamCourier:
    return StreamCourier(
        TABLE, recorder, checkpoint, batch_size=batch_size, retry_first_seconds=0.0, retry_max_seconds=0.0
    )


def rate(photo: str, user: str, stars: int) -> None:
    PhotoRating(photo, user, rating=stars, rated_at="2025-01-01T00:00:00Z").save()


def seen(records: list[dict]) -> list[tuple]:
    """(event name, photo, user, old rating, new rating) of each record."""

    def stars(image):
        return int(image["rating"]["N"]) if image else None

    return [
        (
            record["eventName"],
            record["dynamodb"]["Keys"]["photoId"]["S"],
            record["dynamodb"]["Keys"]["userId"]["S"],
            stars(record["dynamodb"].get("OldImage")),
            stars(record["dynamodb"].get("NewImage")),
        )
        for record in records
    ]


def sequence_numbers(records: list[dict]) -> list[str]:
    return [record["dynamodb"]["SequenceNumber"] for record in records]


def test_the_ratings_table_has_a_stream_with_old_and_new_images(aws):
    assert TABLE_STREAMS[PhotoRating] == "NEW_AND_OLD_IMAGES"
    assert stream_arn(PhotoRating) is not None


def test_every_change_is_delivered_once_in_order_in_lambdas_shape(aws):
    recorder = Recorder()
    stream = courier(recorder)
    rate("p1", "v1", 4)
    rate("p1", "v2", 5)
    rate("p1", "v1", 2)  # a re-rating: old and new
    PhotoRating.get("p1", "v2").delete()  # a withdrawal: old only
    assert stream.deliver_pending() == 4
    assert seen(recorder.records) == [
        ("INSERT", "p1", "v1", None, 4),
        ("INSERT", "p1", "v2", None, 5),
        ("MODIFY", "p1", "v1", 4, 2),
        ("REMOVE", "p1", "v2", 5, None),
    ]
    arn = stream_arn(PhotoRating)
    for record in recorder.records:
        assert record["eventSourceARN"] == arn and record["eventSource"] == "aws:dynamodb"
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert {"eventID", "eventVersion", "awsRegion"} <= set(record)
        assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], float)
    numbers = sequence_numbers(recorder.records)
    assert numbers == sorted(numbers, key=int)

    assert stream.deliver_pending() == 0  # nothing twice across passes
    rate("p2", "v1", 3)
    assert stream.deliver_pending() == 1
    assert seen(recorder.records[4:]) == [("INSERT", "p2", "v1", None, 3)]


def test_batches_are_at_most_batch_size(aws):
    recorder = Recorder()
    for number in range(5):
        rate("p1", f"v{number}", 1)
    assert courier(recorder, batch_size=2).deliver_pending() == 5
    assert [len(event["Records"]) for event in recorder.events] == [2, 2, 1]


def test_a_reported_failure_is_delivered_again_from_the_failed_record(aws, caplog):
    recorder = Recorder()
    stream = courier(recorder)
    for number in range(4):
        rate("p1", f"v{number}", number + 1)
    # The fourth and the third record fail (in no order): Lambda goes on from the lowest one.
    recorder.answers = [
        lambda event: {
            "batchItemFailures": [
                {"itemIdentifier": number} for number in reversed(sequence_numbers(event["Records"])[2:])
            ]
        }
    ]
    with caplog.at_level(logging.WARNING, logger="devtools.local_services.rating_stream"):
        assert stream.deliver_pending() == 2
    numbers = sequence_numbers(recorder.events[0]["Records"])
    said = f"records {numbers[2]}, {numbers[3]} failed; delivering again from sequence number {numbers[2]}"
    assert said in caplog.text
    assert stream.deliver_pending() == 2
    assert sequence_numbers(recorder.events[1]["Records"]) == numbers[2:]
    assert stream.deliver_pending() == 0 and len(recorder.events) == 2


def test_a_delivery_that_raises_gets_the_same_batch_again(aws, caplog):
    recorder = Recorder()
    stream = courier(recorder)
    rate("p1", "v1", 4)
    rate("p1", "v2", 5)
    recorder.answers = [RuntimeError("DynamoDB did not answer"), RuntimeError("still not")]
    with caplog.at_level(logging.WARNING, logger="devtools.local_services.rating_stream"):
        assert stream.deliver_pending() == 0
        assert stream.deliver_pending() == 0
    first = sequence_numbers(recorder.events[0]["Records"])
    assert f"from sequence number {first[0]} failed (RuntimeError: DynamoDB did not answer)" in caplog.text
    assert stream.deliver_pending() == 2
    assert [sequence_numbers(event["Records"]) for event in recorder.events] == [first, first, first]
    assert stream.deliver_pending() == 0


def test_a_read_the_emulator_calls_trimmed_is_tried_again_at_the_next_pass(aws, caplog):
    """DynamoDB Local answered GetRecords with TrimmedDataAccessException once for a stream just turned on
    for a table with data (seen with `make run`): the pass ends there, the next one reads afresh."""
    recorder = Recorder()
    stream = courier(recorder)
    rate("p1", "v1", 4)
    real = stream.streams.get_records
    refusals = [
        ClientError(
            {"Error": {"Code": "TrimmedDataAccessException", "Message": "past the oldest"}}, "GetRecords"
        )
    ]

    def get_records(**params):
        if refusals:
            raise refusals.pop()
        return real(**params)

    stream.streams.get_records = get_records
    with caplog.at_level(logging.WARNING, logger="devtools.local_services.rating_stream"):
        assert stream.deliver_pending() == 0
    assert "reading it again at the next pass" in caplog.text
    assert stream.deliver_pending() == 1
    assert seen(recorder.records) == [("INSERT", "p1", "v1", None, 4)]


def test_a_failing_shard_waits_longer_each_time_up_to_a_bound(aws, monkeypatch):
    recorder = Recorder()
    stream = StreamCourier(TABLE, recorder, retry_first_seconds=0.5, retry_max_seconds=2.0)
    rate("p1", "v1", 4)
    recorder.answers = [RuntimeError("no")] * 5
    pauses = []
    for _ in range(5):
        stream._not_before.clear()  # due now: the pause it would wait is what is checked
        stream.deliver_pending()
        [shard] = stream._failures
        pauses.append(stream._pause(shard))
    assert pauses == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert stream.deliver_pending() == 0 and len(recorder.events) == 5  # waiting: not tried at once


def test_an_answer_naming_a_record_not_in_the_batch_fails_the_whole_batch(aws):
    recorder = Recorder()
    stream = courier(recorder)
    rate("p1", "v1", 4)
    rate("p1", "v2", 5)
    recorder.answers = [{"batchItemFailures": [{"itemIdentifier": ""}]}]
    assert stream.deliver_pending() == 0
    assert stream.deliver_pending() == 2
    assert sequence_numbers(recorder.events[0]["Records"]) == sequence_numbers(recorder.events[1]["Records"])


def test_a_new_courier_goes_on_from_the_checkpoint_file(aws, tmp_path):
    checkpoint = tmp_path / ".local" / "rating-stream" / "checkpoint.json"
    first = Recorder()
    rate("p1", "v1", 4)
    rate("p1", "v2", 5)
    assert courier(first, checkpoint).deliver_pending() == 2
    saved = json.loads(checkpoint.read_text())
    assert saved["streamArn"] == stream_arn(PhotoRating)
    rate("p1", "v1", 1)

    second = Recorder()
    assert courier(second, checkpoint).deliver_pending() == 1
    assert seen(second.records) == [("MODIFY", "p1", "v1", 4, 1)]

    # Without a file, a courier starts from the oldest record.
    third = Recorder()
    assert courier(third).deliver_pending() == 3


def test_a_table_without_a_stream_delivers_nothing_and_says_so_once(aws, caplog):
    # Made again as before the stream was wanted (moto cannot turn a stream off and keep writing).
    table_made_again(PhotoRating)
    recorder = Recorder()
    stream = courier(recorder)
    rate("p1", "v1", 4)
    with caplog.at_level(logging.WARNING, logger="devtools.local_services.rating_stream"):
        assert stream.deliver_pending() == 0
        assert stream.deliver_pending() == 0
    assert caplog.text.count(f"table {TABLE} has no stream") == 1
    resources.resources_ensure(create_bucket=False)  # turns it on: the next pass finds it
    rate("p1", "v2", 5)
    assert stream.deliver_pending() == 1 and seen(recorder.records) == [("INSERT", "p1", "v2", None, 5)]


def test_the_thread_delivers_what_comes_while_it_runs(aws):
    recorder = Recorder()
    stop = courier(recorder).start()
    try:
        rate("p1", "v1", 4)
        deadline = time.monotonic() + 10
        while not recorder.records and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
    assert seen(recorder.records) == [("INSERT", "p1", "v1", None, 4)]


def test_binary_values_and_times_are_made_json_as_lambda_sends_them():
    record = {
        "eventID": "e1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2025, 1, 1, tzinfo=UTC),
            "Keys": {"photoId": {"S": "p1"}},
            "NewImage": {
                "photoId": {"S": "p1"},
                "blob": {"B": b"\x00\x01"},
                "m": {"M": {"b": {"BS": [b"a"]}}},
            },
            "SequenceNumber": "1",
            "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    shaped = lambda_record(record, "arn:stream")
    assert json.loads(json.dumps(shaped)) == shaped
    assert shaped["eventSourceARN"] == "arn:stream"
    assert shaped["dynamodb"]["ApproximateCreationDateTime"] == 1735689600.0
    assert shaped["dynamodb"]["NewImage"]["blob"] == {"B": "AAE="}
    assert shaped["dynamodb"]["NewImage"]["m"] == {"M": {"b": {"BS": ["YQ=="]}}}


def test_the_emulators_own_stream_reaches_the_courier(backend, tmp_path):
    """On DynamoDB Local (`make run`'s default; the integration case) as on moto: the stream
    ensure_resources turned on is read at the tables' endpoint, delivered, and gone on with from the file."""
    checkpoint = tmp_path / "checkpoint.json"
    recorder = Recorder()
    stream = StreamCourier(TABLE, recorder, checkpoint, batch_size=2)
    tables_endpoint = PhotoRating._get_connection().connection.client.meta.endpoint_url
    if backend == "dynamodb_local":
        assert stream.streams.meta.endpoint_url == tables_endpoint
    rate("p1", "v1", 4)
    rate("p1", "v1", 2)
    rate("p1", "v2", 5)
    PhotoRating.get("p1", "v1").delete()
    assert stream.deliver_pending() == 4
    assert seen(recorder.records) == [
        ("INSERT", "p1", "v1", None, 4),
        ("MODIFY", "p1", "v1", 4, 2),
        ("INSERT", "p1", "v2", None, 5),
        ("REMOVE", "p1", "v1", 2, None),
    ]
    assert [len(event["Records"]) for event in recorder.events] == [2, 2]
    assert {record["eventSourceARN"] for record in recorder.records} == {stream_arn(PhotoRating)}
    rate("p2", "v1", 3)
    again = Recorder()
    assert StreamCourier(TABLE, again, checkpoint).deliver_pending() == 1
    assert seen(again.records) == [("INSERT", "p2", "v1", None, 3)]
