"""Rating stuffing is bounded (issue 10, must-show 6): new visitor ids per client address per photo per
day are capped (429 with the envelope over it), and no raw address is stored."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from core.records import ServiceRecord
from ratings import stuffing
from tests.clock import clock_at

ADDRESS, OTHER = "203.0.113.7", "198.51.100.9"


@pytest.fixture(autouse=True)
def cap_of_two(settings):
    settings.RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY = 2
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "ratings": "1000/min",
        },
    }


@pytest.fixture
def rate_from(rate):
    """Rate from a client address (the conftest's ``rate``, which sends each visitor's token back)."""

    def _rate_from(photo_id: str, user_id: str, stars: int, *, address: str = ADDRESS, via: str = "rest"):
        return rate(photo_id, user_id, stars, via=via, api=APIClient(REMOTE_ADDR=address))

    return _rate_from


@pytest.mark.parametrize("via", ["rest", "guide"])
def test_new_visitor_ids_from_one_address_are_capped_per_photo_per_day(aws, photo_id, rate_from, via):
    assert rate_from(photo_id, "v1", 5, via=via).status_code in (200, 201)
    assert rate_from(photo_id, "v2", 5, via=via).status_code in (200, 201)
    refused = rate_from(photo_id, "v3", 5, via=via)
    assert refused.status_code == 429 and set(refused.json()) == {"error", "details"}
    assert int(refused["Retry-After"]) > 0
    assert rate_from(photo_id, "v1", 1, via=via).status_code == 200  # re-rating is not a new visitor
    assert rate_from(photo_id, "v3", 5, address=OTHER, via=via).status_code in (200, 201)  # another address


def test_the_cap_is_per_photo_and_the_address_is_never_stored(aws, gallery_id, upload, photo_id, rate_from):
    for user in ("v1", "v2"):
        assert rate_from(photo_id, user, 4).status_code == 201
    second = upload(gallery_id)[0]["photoId"]
    assert rate_from(second, "v3", 4).status_code == 201
    stored = json.dumps([record.attribute_values for record in ServiceRecord.scan()], default=str)
    assert ADDRESS not in stored and stuffing.address_hash(ADDRESS) in stored


def test_the_window_is_a_day(aws, photo_id, rate_from, monkeypatch):
    for user in ("v1", "v2"):
        rate_from(photo_id, user, 4)
    assert rate_from(photo_id, "v3", 4).status_code == 429
    clock_at(monkeypatch, stuffing, datetime.now(UTC) + timedelta(days=1, minutes=1))
    assert rate_from(photo_id, "v3", 4).status_code == 201
