"""A visitor's rating is theirs alone (issue 10, must-show 5, and the ratings half of must-shows 1 and 8).

The first write with a new ``userId`` takes it and answers ``visitorToken``; later writes (re-rating,
``DELETE /api/photos/{photoId}/ratings/{userId}``) need it as ``X-Visitor-Token``, else 403 with the
envelope and nothing changed. ``POST /api/visitors`` hands out an id with its token. A private gallery's
photo has no ratings anyone but curators can reach: 404, as for a photo that does not exist.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from core import clock, transactions
from core.records import ServiceRecord, record_drop, record_get, record_key
from photos.models import GalleryPhoto
from photos.services import rate as rate_services
from ratings import aggregate, visitors
from ratings.models import PhotoRating
from tests.aws_faults import aws_calls, cancel_transactions, fail_nth
from tests.ratings.test_ratings_api import (
    EMPTY_HISTOGRAM,
    assert_envelope,
    recount,
    stored_aggregate,
    stored_photo,
)

VIAS = ["rest", "guide"]
ANOTHER_HOLDING = "rating_of_another_holding"  # a rating no holding made, or another holding than the token's


def assert_refused(response, reason: str, user_id: str):
    """403 with the envelope, saying why and for which visitor id."""
    assert_envelope(response, 403)
    assert response.json()["details"] == {"userId": user_id, "reason": reason}


def stored_rating(photo_id: str, user_id: str) -> tuple[int, str] | None:
    try:
        rating = PhotoRating.get(photo_id, user_id, consistent_read=True)
    except PhotoRating.DoesNotExist:
        return None
    return int(rating.rating), rating.rated_at


def a_wrong_token(token: str) -> str:
    """The same token with its last signature digit changed."""
    return token[:-1] + ("0" if token[-1] != "0" else "1")


def visitor_record(user_id: str) -> ServiceRecord | None:
    return record_get(visitors.KIND, user_id)


def records_expire_at(user_id: str, moment: datetime) -> None:
    ServiceRecord(record_key(visitors.KIND, user_id)).update(actions=[ServiceRecord.expires_at.set(moment)])


def holding_lapses(user_id: str) -> None:
    """The id's record expires (unused for VISITOR_ID_DAYS); DynamoDB has not deleted it yet."""
    records_expire_at(user_id, datetime.now(UTC) - timedelta(seconds=1))


def ttl_deletes(user_id: str) -> None:
    """DynamoDB's TTL deletes the id's expired record (days after it expired)."""
    record_drop(visitors.KIND, user_id)


def stored_record(user_id: str) -> tuple[str, str, datetime] | None:
    """The id's record as stored, expired or not: (owner, status, expiresAt)."""
    record = record_get(visitors.KIND, user_id, include_expired=True)
    return None if record is None else (record.owner, record.status, record.expires_at)


def generation_of(token: str) -> str:
    return token.partition(".")[0]


def host_clock_ahead(monkeypatch, by: timedelta) -> None:
    """The host serving the next requests reads a clock ``by`` ahead of the others' (``core.clock``, which
    ratings' ratedAt is read from)."""

    class Ahead(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + by

    monkeypatch.setattr(clock, "datetime", Ahead)


# ---------------------------------------------------------------- re-rating


@pytest.mark.parametrize("via", VIAS)
def test_the_first_rating_answers_a_token_that_every_later_rating_needs(backend, photo_id, rate, via):
    first = rate(photo_id, "v1", 4, via=via)
    assert first.status_code == 201, first.content
    token = first.json()["visitorToken"]
    assert token and first.json()["rating"] == 4
    before = (stored_rating(photo_id, "v1"), stored_aggregate(photo_id))

    assert_refused(rate(photo_id, "v1", 1, via=via, token=None), "visitor_token_required", "v1")
    assert_refused(
        rate(photo_id, "v1", 1, via=via, token=a_wrong_token(token)), "visitor_token_invalid", "v1"
    )
    assert_refused(rate(photo_id, "v1", 1, via=via, token="not-a-token"), "visitor_token_invalid", "v1")
    assert (stored_rating(photo_id, "v1"), stored_aggregate(photo_id)) == before

    again = rate(photo_id, "v1", 1, via=via, token=token)
    assert again.status_code == 200, again.content
    assert again.json()["rating"] == 1 and again.json()["visitorToken"] == token
    assert stored_rating(photo_id, "v1")[0] == 1
    assert stored_aggregate(photo_id) == recount(photo_id) == (1, 1, {**EMPTY_HISTOGRAM, "1": 1})


@pytest.mark.parametrize("via", VIAS)
def test_a_token_of_another_visitor_id_is_refused(backend, photo_id, rate, visitor_tokens, via):
    rate(photo_id, "v1", 4, via=via)
    rate(photo_id, "v2", 2, via=via)
    before = stored_aggregate(photo_id)
    refused = rate(photo_id, "v1", 5, via=via, token=visitor_tokens["v2"])
    assert_refused(refused, "visitor_token_invalid", "v1")
    assert stored_rating(photo_id, "v1")[0] == 4 and stored_aggregate(photo_id) == before


def test_the_token_works_for_the_visitor_on_every_photo(aws, gallery_id, upload, rate, visitor_tokens):
    first, second = (photo["photoId"] for photo in upload(gallery_id, 2))
    assert rate(first, "v1", 4).status_code == 201
    assert_refused(rate(second, "v1", 4, token=None), "visitor_token_required", "v1")
    assert rate(second, "v1", 4).status_code == 201  # the token the first answer gave


# ---------------------------------------------------------------- withdrawing


def test_withdrawing_needs_the_token_and_takes_the_rating_out_of_the_aggregate(
    backend, photo_id, rate, withdraw, visitor_tokens, client
):
    rate(photo_id, "v1", 4)
    rate(photo_id, "v2", 2, via="guide")
    before = (stored_rating(photo_id, "v1"), stored_aggregate(photo_id))
    assert before[1] == (2, 6, {**EMPTY_HISTOGRAM, "2": 1, "4": 1})

    assert_refused(withdraw(photo_id, "v1", token=None), "visitor_token_required", "v1")
    token = visitor_tokens["v1"]
    assert_refused(withdraw(photo_id, "v1", token=a_wrong_token(token)), "visitor_token_invalid", "v1")
    assert_refused(withdraw(photo_id, "v1", token=visitor_tokens["v2"]), "visitor_token_invalid", "v1")
    assert (stored_rating(photo_id, "v1"), stored_aggregate(photo_id)) == before

    withdrawn = withdraw(photo_id, "v1")
    assert withdrawn.status_code == 200, withdrawn.content
    assert withdrawn.json() == client.get(f"/api/photos/{photo_id}/ratings/v1").json()
    assert withdrawn.json() == {
        "photoId": photo_id,
        "userId": "v1",
        "rating": None,
        "ratedAt": None,
        "averageRating": 2.0,
        "ratingCount": 1,
        "ratingHistogram": {**EMPTY_HISTOGRAM, "2": 1},
    }
    assert stored_rating(photo_id, "v1") is None
    assert stored_aggregate(photo_id) == recount(photo_id) == (1, 2, {**EMPTY_HISTOGRAM, "2": 1})
    assert_envelope(withdraw(photo_id, "v1"), 404)
    assert stored_aggregate(photo_id) == (1, 2, {**EMPTY_HISTOGRAM, "2": 1})

    # The id stays the visitor's: they may rate again, with their token only.
    assert_refused(rate(photo_id, "v1", 5, token=None), "visitor_token_required", "v1")
    assert rate(photo_id, "v1", 5).status_code == 201
    assert stored_aggregate(photo_id) == recount(photo_id) == (2, 7, {**EMPTY_HISTOGRAM, "2": 1, "5": 1})


def test_withdrawing_what_was_never_rated_is_404_and_a_missing_photo_404_too(aws, photo_id, rate, withdraw):
    rate(photo_id, "v1", 4)
    assert_envelope(withdraw("no-such-photo", "v1"), 404)
    withdraw(photo_id, "v1")
    assert_envelope(withdraw(photo_id, "v1"), 404)
    assert_envelope(withdraw(photo_id, "v1", token=None), 403)  # no token: refused before looking


def test_the_last_rating_withdrawn_leaves_an_empty_aggregate(aws, photo_id, rate, withdraw):
    rate(photo_id, "v1", 3)
    assert withdraw(photo_id, "v1").json()["averageRating"] is None
    assert stored_aggregate(photo_id) == recount(photo_id) == (0, 0, EMPTY_HISTOGRAM)


def test_a_withdrawal_racing_a_re_rating_reads_again(aws, photo_id, rate, withdraw, monkeypatch):
    # The re-rating landed between our read and our delete (wire order: the rating's delete, the photo's
    # update): the delete's condition on the stars read refuses, and the next try reads the new stars.
    rate(photo_id, "v1", 3)
    cancel_transactions(monkeypatch, ["ConditionalCheckFailed", "None"])
    assert withdraw(photo_id, "v1").status_code == 200
    assert stored_aggregate(photo_id) == recount(photo_id) == (0, 0, EMPTY_HISTOGRAM)


# ---------------------------------------------------------------- POST /api/visitors


@pytest.mark.parametrize("via", VIAS)
def test_post_api_visitors_gives_an_id_that_is_already_held(backend, photo_id, rate, client, via):
    response = client.post("/api/visitors")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"userId", "visitorToken"}
    user_id = body["userId"]
    assert len(user_id) == 32 and set(user_id) <= set("0123456789abcdef")
    assert client.post("/api/visitors").json()["userId"] != user_id

    assert_refused(rate(photo_id, user_id, 5, via=via, token=None), "visitor_token_required", user_id)
    assert stored_rating(photo_id, user_id) is None
    rated = rate(photo_id, user_id, 5, via=via, token=body["visitorToken"])
    assert rated.status_code == 201 and rated.json()["visitorToken"] == body["visitorToken"]


def test_post_api_visitors_is_throttled_like_rating_writes(aws, client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "ratings": "2/min"},
    }
    assert [client.post("/api/visitors").status_code for _ in range(2)] == [201, 201]
    assert_envelope(client.post("/api/visitors"), 429)


# ---------------------------------------------------------------- what is stored


def test_tokens_are_never_stored(backend, photo_id, rate, visitor_tokens, client):
    issued = client.post("/api/visitors").json()
    rate(photo_id, "v1", 4)
    rate(photo_id, issued["userId"], 3, token=issued["visitorToken"])
    stored = json.dumps([record.attribute_values for record in ServiceRecord.scan()], default=str)
    for token in (visitor_tokens["v1"], issued["visitorToken"]):
        signature = token.partition(".")[2]
        assert token not in stored and signature not in stored
    for user_id in ("v1", issued["userId"]):
        record = visitor_record(user_id)
        assert record is not None and record.status == visitors.HELD
    ratings = json.dumps([r.attribute_values for r in PhotoRating.scan()], default=str)
    assert visitor_tokens["v1"].partition(".")[2] not in ratings


# ---------------------------------------------------------------- races and failures


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["dynamodb_local"], indirect=True)
@pytest.mark.parametrize("via", VIAS)
def test_concurrent_first_ratings_of_one_new_id_one_gets_the_token(backend, photo_id, via):
    """Browsers racing to take one new id on the real engine: one is answered the token, the others 403."""
    racers = 4
    start = threading.Barrier(racers)

    def first_rating(n: int):
        api = APIClient(REMOTE_ADDR=f"198.51.100.{n}")
        start.wait()
        if via == "rest":
            return api.put(f"/api/photos/{photo_id}/ratings/newcomer", {"rating": 1 + n}, format="json")
        body = {"photoId": photo_id, "userId": "newcomer", "rating": 1 + n}
        return api.post("/galleries?action=rate_photo", body, format="json")

    with ThreadPoolExecutor(max_workers=racers) as pool:
        answers = list(pool.map(first_rating, range(racers)))
    won = [answer for answer in answers if answer.status_code in (200, 201)]
    assert len(won) == 1, [answer.status_code for answer in answers]
    assert won[0].status_code == 201 and won[0].json()["visitorToken"]
    for answer in answers:
        if answer is not won[0]:
            assert_refused(answer, "visitor_token_required", "newcomer")
    assert stored_rating(photo_id, "newcomer")[0] == won[0].json()["rating"]
    assert stored_aggregate(photo_id) == recount(photo_id)
    assert stored_aggregate(photo_id)[0] == 1


def test_a_first_rating_that_fails_releases_the_id(aws, photo_id, rate, monkeypatch):
    """The rating was not saved and no token handed out: the id is not kept from its next writer."""
    every_try = transactions.ATTEMPTS * rate_services.RATING_WRITE_ATTEMPTS
    cancel_transactions(monkeypatch, *[["None", "TransactionConflict", "None"]] * every_try)
    monkeypatch.setattr(transactions, "PAUSE_SECONDS", 0)
    monkeypatch.setattr(rate_services, "RETRY_PAUSE_SECONDS", 0)
    assert_envelope(rate(photo_id, "v1", 4), 503)
    assert visitor_record("v1") is None and stored_rating(photo_id, "v1") is None
    assert rate(photo_id, "v1", 4, api=APIClient(REMOTE_ADDR="198.51.100.7")).status_code == 201


def test_a_take_lost_before_its_transaction_is_refused_not_retried(aws, photo_id, rate, monkeypatch):
    # Wire order: the rating's put, the photo's update, the visitor record's update (pending -> held).
    cancel_transactions(monkeypatch, ["None", "None", "ConditionalCheckFailed"])
    assert_refused(rate(photo_id, "v1", 4), "visitor_token_required", "v1")
    assert stored_rating(photo_id, "v1") is None
    assert stored_aggregate(photo_id) == (0, 0, EMPTY_HISTOGRAM)


def test_a_first_rating_over_the_stuffing_cap_releases_the_id(aws, photo_id, rate, settings):
    settings.RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY = 0
    assert_envelope(rate(photo_id, "v1", 4), 429)
    assert visitor_record("v1") is None


def test_a_release_that_fails_keeps_the_writes_own_answer_and_the_take_expires(aws, photo_id, rate, settings):
    settings.RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY = 0
    with fail_nth("DeleteItem", 1, times=10):
        assert_envelope(rate(photo_id, "v1", 4), 429)
    record = ServiceRecord.get(record_key(visitors.KIND, "v1"), consistent_read=True)
    assert record.status == visitors.PENDING
    assert record.expires_at - datetime.now(UTC) <= timedelta(minutes=15)


def test_a_missing_or_hidden_photo_takes_no_id(aws, rate):
    assert_envelope(rate("no-such-photo", "v1", 4), 404)
    assert visitor_record("v1") is None


def test_a_take_that_outlived_its_write_is_pending_and_expires_within_minutes(aws):
    """A write that died between taking an id and its transaction leaves a pending record that frees
    the id within minutes, not a held one that would keep it from everyone for years."""
    hold = visitors.visitor_hold(user_id="v1", token=None, creating=True)
    record = visitor_record("v1")
    assert record is not None and record.status == visitors.PENDING
    assert record.expires_at - datetime.now(UTC) <= timedelta(minutes=15)
    assert hold.token and visitors.token_generation("v1", hold.token) == record.owner


# ---------------------------------------------------------------- lifetime and keys


def test_an_expired_ids_ratings_stay_frozen_and_its_old_token_stops_once_another_client_holds_it(
    aws, gallery_id, upload, rate, withdraw, visitor_tokens
):
    first, second = (photo["photoId"] for photo in upload(gallery_id, 2))
    rate(first, "v1", 4)
    old_token = visitor_tokens["v1"]
    holding_lapses("v1")  # unused for VISITOR_ID_DAYS
    ttl_deletes("v1")  # and days later DynamoDB deleted the record: the id is free again
    newcomer = APIClient(REMOTE_ADDR="198.51.100.7")
    before = (stored_rating(first, "v1"), stored_aggregate(first))

    # Without a token the id is taken only to create: its rating of the first photo is out of reach.
    assert_refused(rate(first, "v1", 2, token=None, api=newcomer), "visitor_token_required", "v1")
    taken = rate(second, "v1", 2, token=None, api=newcomer)
    assert taken.status_code == 201 and taken.json()["visitorToken"] != old_token
    new_token = taken.json()["visitorToken"]
    # ...and the token it got does not reach what the id rated in another holding.
    assert_refused(rate(first, "v1", 5, token=new_token, api=newcomer), ANOTHER_HOLDING, "v1")
    assert_refused(withdraw(first, "v1", token=new_token, api=newcomer), ANOTHER_HOLDING, "v1")
    assert rate(second, "v1", 3, token=new_token, api=newcomer).status_code == 200

    # The old token opens nothing while another client holds the id, nor once that holding lapsed while
    # its record is there (its holder may still come back with its token).
    assert_refused(rate(first, "v1", 5, token=old_token), "visitor_token_invalid", "v1")
    holding_lapses("v1")
    assert_refused(rate(first, "v1", 5, token=old_token), "visitor_token_invalid", "v1")
    assert_refused(withdraw(second, "v1", token=old_token), "visitor_token_invalid", "v1")
    assert (stored_rating(first, "v1"), stored_aggregate(first)) == before
    assert stored_rating(second, "v1")[0] == 3

    # Once DynamoDB deleted that record too, the old token takes the id back: its own rating is its own
    # again, the newcomer's is not (each rating names the holding that made it).
    ttl_deletes("v1")
    assert_refused(rate(second, "v1", 5, token=old_token), ANOTHER_HOLDING, "v1")
    assert rate(first, "v1", 5, token=old_token).status_code == 200
    assert_refused(rate(second, "v1", 1, token=new_token, api=newcomer), "visitor_token_invalid", "v1")
    assert stored_rating(second, "v1")[0] == 3


def test_the_holder_of_an_expired_id_takes_it_back_with_its_token(backend, photo_id, rate, visitor_tokens):
    rate(photo_id, "v1", 4)
    owner = stored_record("v1")[0]
    holding_lapses("v1")
    assert rate(photo_id, "v1", 5).status_code == 200  # the remembered (old) token: its own rating
    assert stored_record("v1")[:2] == (owner, visitors.HELD)
    assert visitor_record("v1") is not None  # held for another lifetime
    assert_refused(rate(photo_id, "v1", 1, token=None), "visitor_token_required", "v1")


def test_a_refused_token_less_attempt_leaves_an_expired_holding_to_its_token(
    backend, gallery_id, upload, rate, visitor_tokens, monkeypatch
):
    """Review 2, bug 1: the holding lapsed and DynamoDB has not deleted its record yet. A token-less
    rating of a photo the id rated is refused before anything is taken (it used to take the record
    over, be refused, and release it: the holder's token then found no record and lost its ratings);
    and no token-less write takes over the expired record of a holding at all, so the holder's token
    still reaches its rating."""
    first, second = (photo["photoId"] for photo in upload(gallery_id, 2))
    rate(first, "v1", 4)
    holding_lapses("v1")
    kept = stored_record("v1")
    before = (stored_rating(first, "v1"), stored_aggregate(first))
    newcomer = APIClient(REMOTE_ADDR="198.51.100.7")
    record_writes = [
        aws_calls(monkeypatch, operation, table=settings.SERVICE_RECORDS_TABLE)
        for operation in ("PutItem", "DeleteItem", "UpdateItem")
    ]

    assert_refused(rate(first, "v1", 1, token=None, api=newcomer), "visitor_token_required", "v1")
    assert record_writes == [[], [], []]  # refused before taking anything
    assert_refused(rate(second, "v1", 1, token=None, api=newcomer), "visitor_token_required", "v1")
    assert stored_record("v1") == kept and stored_rating(second, "v1") is None
    assert (stored_rating(first, "v1"), stored_aggregate(first)) == before

    assert rate(first, "v1", 5).status_code == 200  # the holder's token, on its own rating
    assert stored_rating(first, "v1")[0] == 5
    assert stored_record("v1")[:2] == kept[:2]


@pytest.mark.parametrize("left", ["no record", "a dead take"])
def test_an_old_token_with_no_trace_of_its_holding_takes_the_id_back_with_its_own_ratings(
    backend, gallery_id, upload, rate, withdraw, visitor_tokens, left
):
    """DynamoDB deleted the expired record (TTL), maybe followed by a token-less take that never
    committed: the token takes the id back as the same holding, so its ratings are still its own."""
    first, second = (photo["photoId"] for photo in upload(gallery_id, 2))
    rate(first, "v1", 4)
    holding_lapses("v1")
    ttl_deletes("v1")
    if left == "a dead take":
        visitors.visitor_hold(user_id="v1", token=None, creating=True)  # its request died here
        assert stored_record("v1")[1] == visitors.PENDING
        holding_lapses("v1")
    assert rate(first, "v1", 5).status_code == 200
    assert withdraw(first, "v1").status_code == 200
    assert rate(second, "v1", 3).status_code == 201
    assert rate(second, "v1", 2).status_code == 200
    assert stored_rating(first, "v1") is None and stored_rating(second, "v1")[0] == 2
    assert visitor_record("v1").status == visitors.HELD
    assert stored_record("v1")[0] == generation_of(visitor_tokens["v1"])


def test_a_host_clock_ahead_of_the_others_never_locks_a_visitor_out_of_their_fresh_rating(
    backend, photo_id, rate, withdraw, visitor_tokens, monkeypatch
):
    """Review 2, bug 2: the host that took the id read a clock minutes ahead of the host serving the
    next write. A holding used to reach only ratings whose ratedAt was not older than its start, so the
    rating that next host stored was refused for good; a rating now names its holding instead."""
    with monkeypatch.context() as issuing_host:
        host_clock_ahead(issuing_host, timedelta(minutes=5))
        assert rate(photo_id, "v1", 4).status_code == 201
    assert rate(photo_id, "v1", 2).status_code == 200  # a host whose clock is right
    assert rate(photo_id, "v1", 3).status_code == 200
    stored = PhotoRating.get(photo_id, "v1", consistent_read=True)
    assert stored.visitor_generation == generation_of(visitor_tokens["v1"])
    assert withdraw(photo_id, "v1").status_code == 200
    with monkeypatch.context() as host_behind:
        host_clock_ahead(host_behind, -timedelta(minutes=5))
        assert rate(photo_id, "v1", 1).status_code == 201
    assert rate(photo_id, "v1", 5).status_code == 200
    assert stored_aggregate(photo_id) == recount(photo_id) == (1, 5, {**EMPTY_HISTOGRAM, "5": 1})


def test_an_id_in_use_is_held_again_once_half_its_lifetime_is_gone(aws, photo_id, rate, settings):
    settings.VISITOR_ID_DAYS = 730
    rate(photo_id, "v1", 4)
    expires = visitor_record("v1").expires_at
    assert timedelta(days=729) < expires - datetime.now(UTC) <= timedelta(days=730)
    rate(photo_id, "v1", 5)
    assert visitor_record("v1").expires_at == expires  # more than half left: no write
    records_expire_at("v1", datetime.now(UTC) + timedelta(days=300))
    rate(photo_id, "v1", 3)
    assert visitor_record("v1").expires_at - datetime.now(UTC) > timedelta(days=729)


# ---------------------------------------------------------------- ratings from before visitor tokens


def legacy_rating(photo_id: str, user_id: str, stars: int, rated_at: str = "2020-01-01T00:00:00Z") -> None:
    """A rating as a release before visitor tokens left it: the item and its share of the aggregate,
    no visitor record."""
    PhotoRating(photo_id, user_id, rating=stars, rated_at=rated_at).save()
    stored_photo(photo_id).update(actions=aggregate.change_actions(GalleryPhoto, new=stars, old=None))


@pytest.mark.parametrize("via", VIAS)
def test_a_rating_from_before_visitor_tokens_cannot_be_changed_or_withdrawn_by_a_newcomer(
    backend, photo_id, rate, withdraw, visitor_tokens, via
):
    legacy_rating(photo_id, "legacy-1", 2)
    rate(photo_id, "v2", 5)
    before = (stored_rating(photo_id, "legacy-1"), stored_aggregate(photo_id))
    assert before[1] == recount(photo_id) == (2, 7, {**EMPTY_HISTOGRAM, "2": 1, "5": 1})

    assert_refused(rate(photo_id, "legacy-1", 5, via=via, token=None), "visitor_token_required", "legacy-1")
    assert visitor_record("legacy-1") is None  # the take was released: the id is as it was
    assert_refused(rate(photo_id, "legacy-1", 4, via=via, token=None), "visitor_token_required", "legacy-1")
    assert_refused(withdraw(photo_id, "legacy-1", token=None), "visitor_token_required", "legacy-1")
    token = visitor_tokens["v2"]
    assert_refused(rate(photo_id, "legacy-1", 5, via=via, token=token), "visitor_token_invalid", "legacy-1")
    assert_refused(withdraw(photo_id, "legacy-1", token=token), "visitor_token_invalid", "legacy-1")
    assert (stored_rating(photo_id, "legacy-1"), stored_aggregate(photo_id)) == before
    assert visitor_record("legacy-1") is None


def test_a_newcomer_taking_an_id_on_another_photo_gets_no_power_over_its_older_ratings(
    backend, gallery_id, upload, rate, withdraw, visitor_tokens
):
    old_photo, new_photo = (photo["photoId"] for photo in upload(gallery_id, 2))
    legacy_rating(old_photo, "legacy-1", 2)
    before = (stored_rating(old_photo, "legacy-1"), stored_aggregate(old_photo))

    taken = rate(new_photo, "legacy-1", 4, token=None)  # creating is allowed: the id never rated it
    assert taken.status_code == 201 and taken.json()["visitorToken"]
    assert_refused(rate(old_photo, "legacy-1", 5), ANOTHER_HOLDING, "legacy-1")
    assert_refused(withdraw(old_photo, "legacy-1"), ANOTHER_HOLDING, "legacy-1")
    assert (stored_rating(old_photo, "legacy-1"), stored_aggregate(old_photo)) == before

    # What the holding rated itself is its own.
    assert rate(new_photo, "legacy-1", 1).status_code == 200
    assert withdraw(new_photo, "legacy-1").status_code == 200
    assert stored_aggregate(new_photo) == recount(new_photo) == (0, 0, EMPTY_HISTOGRAM)
    assert rate(new_photo, "legacy-1", 3).status_code == 201


@pytest.mark.parametrize("rated_at", ["2020-01-01T00:00:00Z", "2999-01-01T00:00:00.000Z", "yesterday", ""])
def test_a_rating_that_names_no_holding_is_frozen_whatever_its_ratedat(
    aws, gallery_id, upload, rate, rated_at
):
    """Time decides nothing: a rating from before visitor tokens stays frozen even when its ratedAt is
    later than the holding (a clock ahead, or unreadable)."""
    old_photo, new_photo = (photo["photoId"] for photo in upload(gallery_id, 2))
    legacy_rating(old_photo, "legacy-1", 2, rated_at=rated_at)
    assert rate(new_photo, "legacy-1", 4, token=None).status_code == 201
    assert_refused(rate(old_photo, "legacy-1", 5), ANOTHER_HOLDING, "legacy-1")
    assert stored_rating(old_photo, "legacy-1") == (2, rated_at)


def test_a_holding_from_before_holdings_kept_their_start_does_not_reach_ratings_without_a_generation(
    backend, gallery_id, upload, rate, withdraw, visitor_tokens
):
    """Review 2, point 4: the first token release kept no ``since`` in the record and no generation on
    the rating; such a record once gave its token every rating of the id. Now a rating that names no
    holding is out of every token's reach, and the record's data plays no part."""
    mine, earlier = (photo["photoId"] for photo in upload(gallery_id, 2))
    rate(mine, "v1", 4)
    ServiceRecord(record_key(visitors.KIND, "v1")).update(actions=[ServiceRecord.data.set({})])
    legacy_rating(earlier, "v1", 2, rated_at="2999-01-01T00:00:00.000Z")
    before = (stored_rating(earlier, "v1"), stored_aggregate(earlier))
    assert_refused(rate(earlier, "v1", 5), ANOTHER_HOLDING, "v1")
    assert_refused(withdraw(earlier, "v1"), ANOTHER_HOLDING, "v1")
    assert (stored_rating(earlier, "v1"), stored_aggregate(earlier)) == before
    assert rate(mine, "v1", 1).status_code == 200  # what this holding rated is its own


def test_a_token_signed_with_a_fallback_key_works_and_comes_back_signed_with_the_new_key(
    aws, photo_id, rate, visitor_tokens, settings
):
    rate(photo_id, "v1", 4)
    old_token = visitor_tokens["v1"]
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-for-the-rotation-test"
    answer = rate(photo_id, "v1", 5, token=old_token)
    assert answer.status_code == 200
    new_token = answer.json()["visitorToken"]
    assert new_token != old_token and new_token.partition(".")[0] == old_token.partition(".")[0]
    settings.SECRET_KEY_FALLBACKS = []
    assert_refused(rate(photo_id, "v1", 1, token=old_token), "visitor_token_invalid", "v1")
    assert rate(photo_id, "v1", 1, token=new_token).status_code == 200


def test_a_lost_token_means_a_new_id_and_new_ids_are_capped_per_address(
    aws, photo_id, rate, client, settings
):
    """Starting again after losing a token is a new visitor id: the stuffing cap bounds it."""
    settings.RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY = 2
    rate(photo_id, "v1", 5)
    for n in range(2):
        issued = client.post("/api/visitors").json()
        answer = rate(photo_id, issued["userId"], 5, token=issued["visitorToken"])
        assert answer.status_code == (201 if n == 0 else 429)
    assert stored_aggregate(photo_id)[0] == 2


# ---------------------------------------------------------------- private galleries


@pytest.fixture
def private_photo_id(curator, upload):
    body = {"name": "Nests", "continent": "Europe", "country": "Norway", "years": [2024]}
    created = curator.post("/api/galleries", {**body, "visibility": "private"}, format="json")
    assert created.status_code == 201 and created.json()["visibility"] == "private", created.content
    return upload(created.json()["galleryId"])[0]["photoId"]


def assert_like_a_missing_photo(response, photo_id: str):
    assert_envelope(response, 404)
    assert response.json() == {"error": f"Photo {photo_id!r} does not exist.", "details": {}}


def test_a_private_gallerys_ratings_are_404_to_visitors_as_if_the_photo_did_not_exist(
    backend, private_photo_id, rate, withdraw, client, curator
):
    photo_id = private_photo_id
    rated = rate(photo_id, "c1", 4, api=curator)  # curators rate and read as before
    assert rated.status_code == 201, rated.content
    before = (stored_rating(photo_id, "c1"), stored_aggregate(photo_id))

    for via in VIAS:
        assert_like_a_missing_photo(rate(photo_id, "v1", 5, via=via), photo_id)
        assert_like_a_missing_photo(rate(photo_id, "c1", 1, via=via), photo_id)  # even with the token
    assert_like_a_missing_photo(client.get(f"/api/photos/{photo_id}/ratings/c1"), photo_id)
    guide_read = client.get(f"/galleries?action=get_photo_rating&photoId={photo_id}&userId=c1")
    assert_like_a_missing_photo(guide_read, photo_id)
    assert_like_a_missing_photo(client.get(f"/api/photos/{photo_id}/ratings"), photo_id)
    assert_like_a_missing_photo(withdraw(photo_id, "c1"), photo_id)
    assert_like_a_missing_photo(withdraw(photo_id, "c1", token=None), photo_id)
    assert_like_a_missing_photo(client.get("/api/photos/no-such-photo/ratings"), "no-such-photo")
    assert (stored_rating(photo_id, "c1"), stored_aggregate(photo_id)) == before
    assert visitor_record("v1") is None

    summary = curator.get(f"/api/photos/{photo_id}/ratings")
    assert summary.status_code == 200 and summary.json()["ratingCount"] == 1
    assert curator.get(f"/api/photos/{photo_id}/ratings/c1").json()["rating"] == 4
    assert withdraw(photo_id, "c1", api=curator).status_code == 200
    assert stored_aggregate(photo_id) == recount(photo_id) == (0, 0, EMPTY_HISTOGRAM)


def test_a_private_gallerys_photo_being_deleted_is_404_without_naming_the_gallery(
    backend, curator, private_photo_id, rate, withdraw, client
):
    """Review 2, bug 3: a photo whose delete has begun is still in the byPhotoId index; finding it read
    its item and answered "... does not exist in gallery '<id>'", naming a private gallery."""
    photo_id = private_photo_id
    rate(photo_id, "c1", 4, api=curator)
    photo = stored_photo(photo_id)
    photo.update(actions=[GalleryPhoto.deleting_at.set("2024-05-01T12:00:00.000Z")])
    answers = [
        client.get(f"/api/photos/{photo_id}/ratings"),
        client.get(f"/api/photos/{photo_id}/ratings/c1"),
        client.get(f"/galleries?action=get_photo_rating&photoId={photo_id}&userId=c1"),
        rate(photo_id, "v1", 5),
        rate(photo_id, "v1", 5, via="guide"),
        withdraw(photo_id, "c1"),
        curator.get(f"/api/photos/{photo_id}/ratings"),  # gone for curators too, and said the same way
    ]
    for answer in answers:
        assert_like_a_missing_photo(answer, photo_id)
        assert photo.gallery_id not in answer.content.decode()
    assert visitor_record("v1") is None


def test_an_unlisted_gallerys_photos_are_rated_like_public_ones(aws, curator, upload, rate):
    body = {"name": "Shared", "continent": "Europe", "country": "Norway", "visibility": "unlisted"}
    gallery_id = curator.post("/api/galleries", body, format="json").json()["galleryId"]
    photo_id = upload(gallery_id)[0]["photoId"]
    assert rate(photo_id, "v1", 4).status_code == 201


# ---------------------------------------------------------------- browsers


def test_browsers_may_send_the_token_header(aws, client):
    preflight = client.options(
        "/api/photos/p1/ratings/v1",
        HTTP_ORIGIN="https://photos.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="DELETE",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, x-visitor-token",
    )
    assert preflight.status_code == 200
    assert "x-visitor-token" in preflight["Access-Control-Allow-Headers"].lower()
    assert "DELETE" in preflight["Access-Control-Allow-Methods"]
