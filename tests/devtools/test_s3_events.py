"""The courier of the local store's S3 events: each file handed to the handler once it is due, removed once
handled, tried again after a failure, and after the last attempt set aside with its error."""

import json

import pytest

from devtools.local_services import s3_events
from devtools.local_services.s3_events import ATTEMPTS, EventCourier


def event_file(folder, name: str, key: str):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": key}}}]})
    )
    return path


@pytest.fixture
def folders(tmp_path, monkeypatch):
    monkeypatch.setattr(s3_events, "RETRY_AFTER_SECONDS", (0.0, 0.0))  # every failed file due again at once
    return tmp_path / "pending", tmp_path / "failed"


def keys_of(events: list[dict]) -> list[str]:
    return [event["Records"][0]["s3"]["object"]["key"] for event in events]


def test_each_file_is_delivered_in_order_and_removed(folders):
    pending, failed = folders
    for number in (2, 1, 3):
        event_file(pending, f"000{number}", f"galleries/g/photo{number}.jpg")
    delivered: list[dict] = []
    courier = EventCourier(pending, failed, delivered.append, workers=1)
    assert courier.deliver_pending() == 3
    assert keys_of(delivered) == [f"galleries/g/photo{n}.jpg" for n in (1, 2, 3)]
    assert list(pending.iterdir()) == [] and not failed.exists()
    assert courier.deliver_pending() == 0


def test_a_failing_delivery_is_tried_again_then_set_aside_with_its_error(folders):
    pending, failed = folders
    path = event_file(pending, "0001", "galleries/g/a.jpg")
    calls = []

    def deliver(event):
        calls.append(event)
        raise RuntimeError("DynamoDB did not answer")

    courier = EventCourier(pending, failed, deliver)
    for attempt in range(1, ATTEMPTS + 1):
        assert courier.deliver_pending() == 0
        assert len(calls) == attempt
        assert path.exists() == (attempt < ATTEMPTS)
    assert (failed / "0001.json").exists()
    assert "RuntimeError: DynamoDB did not answer" in (failed / "0001.error.txt").read_text()
    assert courier.deliver_pending() == 0 and len(calls) == ATTEMPTS  # never again


def test_a_delivery_that_fails_once_succeeds_on_the_retry(folders):
    pending, failed = folders
    event_file(pending, "0001", "galleries/g/a.jpg")
    outcomes = iter([RuntimeError("throttled"), None])

    def deliver(event):
        outcome = next(outcomes)
        if outcome:
            raise outcome

    courier = EventCourier(pending, failed, deliver)
    assert courier.deliver_pending() == 0
    assert courier.deliver_pending() == 1
    assert list(pending.iterdir()) == [] and not failed.exists()


def test_a_file_not_yet_due_waits(folders, monkeypatch):
    pending, failed = folders
    monkeypatch.setattr(s3_events, "RETRY_AFTER_SECONDS", (3600.0, 3600.0))
    event_file(pending, "0001", "galleries/g/a.jpg")
    calls = []

    def deliver(event):
        calls.append(event)
        raise RuntimeError("S3 did not answer")

    courier = EventCourier(pending, failed, deliver)
    courier.deliver_pending()
    courier.deliver_pending()
    assert len(calls) == 1  # the retry is an hour away


def test_an_unreadable_file_is_set_aside_without_a_delivery(folders):
    pending, failed = folders
    pending.mkdir(parents=True)
    (pending / "0001.json").write_text("{not json")
    courier = EventCourier(pending, failed, lambda event: pytest.fail("delivered"))
    assert courier.deliver_pending() == 0
    assert (failed / "0001.json").exists() and "unreadable" in (failed / "0001.error.txt").read_text()
