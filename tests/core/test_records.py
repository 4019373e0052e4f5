"""Short-lived records: one taker wins, an expired record is absent, an owner's changes are its own."""

from datetime import UTC, datetime, timedelta

import pytest

from core import records
from core.records import ServiceRecord

MINUTE = timedelta(minutes=1)


@pytest.fixture
def take():
    def _take(owner, *, lifetime=MINUTE, replacing=None):
        return records.record_take(
            "test", "r1", owner=owner, status="held", lifetime=lifetime, replacing=replacing
        )

    return _take


def test_only_one_of_two_takers_gets_a_record(backend, take):
    first, second = take("a"), take("b")
    assert first is not None and second is None
    stored = records.record_get("test", "r1")
    assert (stored.record_key, stored.kind, stored.owner, stored.status) == ("test#r1", "test", "a", "held")


def test_an_expired_record_is_absent_and_can_be_taken_again(backend, take):
    take("a", lifetime=-MINUTE)  # expired at once (DynamoDB deletes expired items lazily, or never locally)
    assert records.record_get("test", "r1") is None
    assert records.record_get("test", "r1", include_expired=True).owner == "a"
    assert take("b") is not None
    assert records.record_get("test", "r1").owner == "b"


def test_a_takeover_replaces_exactly_the_record_judged(backend, take):
    judged = take("a", lifetime=-MINUTE)
    take("b")  # someone else took it since it was judged
    assert take("c", replacing=judged) is None
    assert records.record_get("test", "r1").owner == "b"


def test_only_the_owner_releases_or_updates_its_record(backend, take):
    mine = take("a")
    stranger = ServiceRecord("test#r1", owner="b")
    assert records.record_release(stranger) is False
    records.record_update(mine, status="done", lifetime=MINUTE, data={"photoId": "p1"})
    stored = records.record_get("test", "r1")
    assert (stored.status, stored.data.as_dict()) == ("done", {"photoId": "p1"})
    assert stored.expires_at > datetime.now(UTC)
    assert records.record_release(mine) is True
    assert records.record_get("test", "r1", include_expired=True) is None
