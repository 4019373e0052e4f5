"""Rating photos through the API: storage, replacement, exact aggregates, validation, throttling, cleanup."""

import io
import itertools
import json
import logging
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from rest_framework.test import APIClient

from core import transactions
from photos import selectors as photo_selectors
from photos.models import GalleryPhoto
from photos.services import rate as services
from ratings import services as rating_services
from ratings.models import PhotoRating
from tests.aws_faults import cancel_transactions, fail_nth

EMPTY_HISTOGRAM = {str(stars): 0 for stars in range(1, 6)}


def stored_photo(photo_id: str) -> GalleryPhoto:
    [key] = GalleryPhoto.by_photo_id.query(photo_id)
    return GalleryPhoto.get(key.gallery_id, photo_id, consistent_read=True)


def recount(photo_id: str) -> tuple[int, int, dict]:
    """The aggregate as the PhotoRatings table says it should be."""
    histogram = dict(EMPTY_HISTOGRAM)
    for rating in PhotoRating.query(photo_id, consistent_read=True):
        histogram[str(int(rating.rating))] += 1
    return sum(histogram.values()), sum(int(s) * n for s, n in histogram.items()), histogram


def stored_aggregate(photo_id: str) -> tuple[int, int, dict]:
    photo = stored_photo(photo_id)
    histogram = {key: int(value) for key, value in photo.rating_histogram.as_dict().items()}
    return int(photo.rating_count), int(photo.rating_sum), histogram


def assert_envelope(response, status: int, field: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "details"} and body["error"]
    if field:
        assert field in body["details"], body


@pytest.fixture
def retries_printed():
    """The WriteRetries the requests print in their metric documents (``gallery.metrics``), summed by
    reason, as CloudWatch would count them."""
    stream, logger = io.StringIO(), logging.getLogger("gallery.metrics")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)

    def counted() -> Counter:
        documents = [json.loads(line) for line in stream.getvalue().splitlines()]
        return Counter(
            {doc["reason"]: sum(doc["WriteRetries"]) for doc in documents if "WriteRetries" in doc}
        )

    yield counted
    logger.removeHandler(handler)


@pytest.fixture
def ticking_clock(monkeypatch):
    """ratedAt values one second apart, so "ratedAt moves" is seen even within a millisecond."""
    seconds = itertools.count()

    def tick() -> str:
        return f"2024-05-01T12:00:{next(seconds):02d}.000Z"

    monkeypatch.setattr(rating_services, "now_iso", tick)


def test_rating_is_stored_with_the_guide_fields_and_counted(backend, photo_id, rate, client):
    response = rate(photo_id, "visitor-1", 4)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "photoId": photo_id,
        "userId": "visitor-1",
        "rating": 4,
        "ratedAt": body["ratedAt"],
        "averageRating": 4.0,
        "ratingCount": 1,
        "ratingHistogram": {**EMPTY_HISTOGRAM, "4": 1},
        "visitorToken": body["visitorToken"],
    }
    stored = PhotoRating.get(photo_id, "visitor-1")
    assert stored.attribute_values.keys() >= {"photo_id", "user_id", "rating", "rated_at", "gallery_id"}
    assert int(stored.rating) == 4 and stored.rated_at == body["ratedAt"] and body["ratedAt"].endswith("Z")
    rate(photo_id, "visitor-2", 1, via="guide")
    photo = stored_photo(photo_id)
    read = client.get(f"/api/galleries/{photo.gallery_id}/photos/{photo_id}").json()
    assert read["averageRating"] == 2.5 and read["ratingCount"] == 2
    assert read["ratingHistogram"] == {**EMPTY_HISTOGRAM, "1": 1, "4": 1}
    assert stored_aggregate(photo_id) == recount(photo_id) == (2, 5, read["ratingHistogram"])


def test_re_rating_replaces_moves_rated_at_and_never_counts_twice(backend, photo_id, rate, ticking_clock):
    first = rate(photo_id, "v1", 2).json()
    second = rate(photo_id, "v1", 5, via="guide")
    assert second.status_code == 200
    assert second.json()["rating"] == 5 and second.json()["ratedAt"] > first["ratedAt"]
    same_again = rate(photo_id, "v1", 5)
    assert same_again.status_code == 200 and same_again.json()["ratedAt"] > second.json()["ratedAt"]
    assert same_again.json()["ratingCount"] == 1 and same_again.json()["averageRating"] == 5.0
    assert stored_aggregate(photo_id) == recount(photo_id) == (1, 5, {**EMPTY_HISTOGRAM, "5": 1})
    assert [r.user_id for r in PhotoRating.query(photo_id)] == ["v1"]


def test_get_photo_rating_gives_the_visitors_rating_or_null_with_the_aggregate(aws, photo_id, rate, client):
    rate(photo_id, "v1", 3)
    rate(photo_id, "v2", 5)
    rated = client.get(f"/galleries?action=get_photo_rating&photoId={photo_id}&userId=v1").json()
    assert rated["rating"] == 3 and rated["ratedAt"] and rated["userId"] == "v1"
    assert rated["averageRating"] == 4.0 and rated["ratingCount"] == 2
    unrated = client.get(f"/api/photos/{photo_id}/ratings/nobody").json()
    assert unrated == {**rated, "userId": "nobody", "rating": None, "ratedAt": None}
    summary = client.get(f"/api/photos/{photo_id}/ratings/").json()
    assert summary == {
        "photoId": photo_id,
        "averageRating": 4.0,
        "ratingCount": 2,
        "ratingHistogram": {**EMPTY_HISTOGRAM, "3": 1, "5": 1},
    }


def test_an_unrated_photo_has_an_empty_aggregate(aws, photo_id, client):
    body = client.get(f"/api/photos/{photo_id}/ratings").json()
    assert body == {
        "photoId": photo_id,
        "averageRating": None,
        "ratingCount": 0,
        "ratingHistogram": EMPTY_HISTOGRAM,
    }


@pytest.mark.parametrize("rating", [0, 6, -1, 3.5, 5.0, "5", True, None, [5], {"stars": 5}])
def test_rating_must_be_a_whole_number_from_1_to_5(aws, photo_id, rate, rating):
    for via in ("rest", "guide"):
        assert_envelope(rate(photo_id, "v1", rating, via=via), 400, "rating")
    assert not list(PhotoRating.query(photo_id))


def test_rating_is_required(aws, photo_id, client):
    response = client.post(
        "/galleries?action=rate_photo", {"photoId": photo_id, "userId": "v1"}, format="json"
    )
    assert_envelope(response, 400, "rating")


@pytest.mark.parametrize("user_id", ["", "a" * 129, "a b", "<script>", "-leading-dash", "user/1", "é"])
def test_user_id_is_a_bounded_string_of_safe_characters(aws, photo_id, rate, client, user_id):
    assert_envelope(rate(photo_id, user_id, 4, via="guide"), 400, "userId")
    query = client.get("/galleries", {"action": "get_photo_rating", "photoId": photo_id, "userId": user_id})
    assert_envelope(query, 400, "userId")


def test_user_id_accepts_letters_digits_dots_dashes_and_underscores(aws, photo_id, rate):
    assert rate(photo_id, "User_42.anon-" + "x" * 115, 4).status_code == 201


def test_form_encoded_ratings_are_refused_with_415(aws, photo_id, client):
    url = f"/api/photos/{photo_id}/ratings/v1"
    assert_envelope(client.put(url, {"rating": "4"}, format="multipart"), 415)
    assert_envelope(client.put(url, "rating=4", content_type="application/x-www-form-urlencoded"), 415)
    guide_form = client.post(
        "/galleries?action=rate_photo", {"photoId": photo_id, "userId": "v1", "rating": 4}
    )
    assert_envelope(guide_form, 415)
    assert not list(PhotoRating.query(photo_id))


def test_a_body_that_is_not_an_object_is_400(aws, photo_id, client):
    assert_envelope(client.put(f"/api/photos/{photo_id}/ratings/v1", [4], format="json"), 400)


def test_body_ids_must_match_the_url(aws, photo_id, client):
    url = f"/api/photos/{photo_id}/ratings/v1"
    assert_envelope(client.put(url, {"rating": 4, "userId": "v2"}, format="json"), 400, "userId")
    assert (
        client.put(url, {"rating": 4, "userId": "v1", "photoId": photo_id}, format="json").status_code == 201
    )


def test_missing_photo_is_404_on_every_rating_route(aws, rate, client):
    assert_envelope(rate("no-such-photo", "v1", 4), 404)
    assert_envelope(rate("no-such-photo", "v1", 4, via="guide"), 404)
    assert_envelope(client.get("/galleries?action=get_photo_rating&photoId=no-such-photo&userId=v1"), 404)
    assert_envelope(client.get("/api/photos/no-such-photo/ratings"), 404)
    assert_envelope(client.get("/api/photos/no-such-photo/ratings/v1"), 404)


def test_a_photo_being_deleted_cannot_be_rated(backend, photo_id, rate, client):
    photo = stored_photo(photo_id)
    photo.update(actions=[GalleryPhoto.deleting_at.set("2024-05-01T00:00:00.000Z")])
    assert_envelope(rate(photo_id, "v1", 4), 404)
    assert_envelope(client.get(f"/api/photos/{photo_id}/ratings"), 404)
    assert not list(PhotoRating.query(photo_id, consistent_read=True))


def test_a_delete_starting_after_the_read_cancels_the_rating_transaction(
    backend, photo_id, rate, monkeypatch
):
    """The photo is read alive, then its delete starts: the transaction's condition refuses the write."""
    stale = stored_photo(photo_id)
    stale.update(actions=[GalleryPhoto.deleting_at.set("2024-05-01T00:00:00.000Z")])
    stale.deleting_at = None
    reads = iter([stale])
    real_find = photo_selectors.photo_find
    monkeypatch.setattr(
        photo_selectors, "photo_find", lambda **kwargs: next(reads, None) or real_find(**kwargs)
    )
    assert_envelope(rate(photo_id, "v1", 4), 404)
    assert not list(PhotoRating.query(photo_id, consistent_read=True))
    photo = stored_photo(photo_id)
    assert int(photo.rating_count) == 0 and photo.deleting_at is not None


def test_a_photo_without_a_histogram_gets_one_counted_from_its_stored_ratings(backend, photo_id, rate):
    """Photos adopted by older code lack ratingHistogram (a nested ADD would fail on DynamoDB)."""
    photo = stored_photo(photo_id)
    photo.update(
        actions=[
            GalleryPhoto.rating_histogram.remove(),
            GalleryPhoto.rating_count.remove(),
            GalleryPhoto.rating_sum.remove(),
        ]
    )
    PhotoRating(photo_id, "legacy-1", rating=2, rated_at="2020-01-01T00:00:00Z").save()
    PhotoRating(photo_id, "legacy-2", rating=5, rated_at="2020-01-01T00:00:00Z").save()
    assert rate(photo_id, "new", 4).status_code == 201
    assert rate(photo_id, "new", 3).status_code == 200
    assert rate(photo_id, "legacy-1", 3).status_code == 403  # ratings from before tokens stay as they are
    assert (
        stored_aggregate(photo_id)
        == recount(photo_id)
        == (3, 10, {**EMPTY_HISTOGRAM, "2": 1, "3": 1, "5": 1})
    )


def test_rating_writes_that_keep_colliding_give_up_with_409(aws, photo_id, rate, monkeypatch):
    # Another visitor's rating changed between our read and our write, every time (wire order: the
    # rating's put, the photo's update).
    cancel_transactions(monkeypatch, *[["ConditionalCheckFailed", "None"]] * 20)
    monkeypatch.setattr(services, "RETRY_PAUSE_SECONDS", 0)
    assert_envelope(rate(photo_id, "v1", 4), 409)


def test_a_transaction_conflict_is_retried_and_the_rating_lands(aws, photo_id, rate, monkeypatch):
    # Real DynamoDB cancels a transaction when another one is writing the photo item at that moment.
    tokens = cancel_transactions(monkeypatch, ["None", "TransactionConflict"])
    monkeypatch.setattr(transactions, "PAUSE_SECONDS", 0)
    assert rate(photo_id, "v1", 4).status_code == 201
    assert stored_aggregate(photo_id) == recount(photo_id) == (1, 4, {**EMPTY_HISTOGRAM, "4": 1})
    # Each deliberate attempt is a new request token; botocore's own retries reuse one.
    assert len(tokens) == 2 and len(set(tokens)) == 2


def test_a_rating_outlasts_conflicts_past_one_transactions_attempts(
    aws, photo_id, rate, monkeypatch, retries_printed
):
    # Many raters of one photo: every attempt of the first transaction met another rater's transaction
    # on the photo item (DynamoDB's TransactionConflict), and the next one's first attempt too.
    conflicts = transactions.ATTEMPTS + 1
    cancel_transactions(monkeypatch, *[["None", "TransactionConflict"]] * conflicts)
    monkeypatch.setattr(transactions, "PAUSE_SECONDS", 0)
    monkeypatch.setattr(services, "RETRY_PAUSE_SECONDS", 0)
    assert rate(photo_id, "v1", 4).status_code == 201
    assert stored_aggregate(photo_id) == recount(photo_id) == (1, 4, {**EMPTY_HISTOGRAM, "4": 1})
    # Each retry is counted where it is made (the metric a dashboard of hot photos watches): the last
    # attempt of the first transaction is not retried by it but by the rating, with fresh reads.
    assert retries_printed() == {"TransactionConflict": conflicts - 1, "Contended": 1}


def test_a_single_write_meeting_a_transaction_is_retried_and_counted(aws, photo_id, rate, retries_printed):
    # The rating's single writes (the count of new raters, the photo's ratingOrder) conflict with other
    # raters' transactions too: DynamoDB refuses a write to an item a transaction is writing.
    with fail_nth("UpdateItem", 1, code="TransactionConflictException"):
        assert rate(photo_id, "v1", 4).status_code == 201
    assert retries_printed() == {"TransactionConflict": 1}
    assert stored_aggregate(photo_id) == recount(photo_id) == (1, 4, {**EMPTY_HISTOGRAM, "4": 1})


def test_conflicts_that_never_clear_answer_503_with_retry_after(aws, photo_id, rate, monkeypatch):
    every_try = transactions.ATTEMPTS * services.RATING_WRITE_ATTEMPTS
    cancel_transactions(monkeypatch, *[["None", "TransactionConflict"]] * every_try)
    monkeypatch.setattr(transactions, "PAUSE_SECONDS", 0)
    monkeypatch.setattr(services, "RETRY_PAUSE_SECONDS", 0)
    response = rate(photo_id, "v1", 4)
    assert_envelope(response, 503)
    assert int(response["Retry-After"]) > 0
    assert stored_aggregate(photo_id) == recount(photo_id) == (0, 0, EMPTY_HISTOGRAM)
    # The visitor id the write took was let go: the client's retry (no token yet) takes it and lands.
    assert rate(photo_id, "v1", 4).status_code == 201


def test_a_rating_dynamodb_throttles_is_not_retried_harder_than_one_transaction(
    aws, photo_id, rate, monkeypatch, retries_printed
):
    """Throttling asks for less load: the transaction's own attempts, then 503; no fresh-read retries
    that would multiply the writes on a partition already over its limit."""
    tokens = cancel_transactions(monkeypatch, *[["None", "ThrottlingError"]] * transactions.ATTEMPTS * 2)
    monkeypatch.setattr(transactions, "PAUSE_SECONDS", 0)
    response = rate(photo_id, "v1", 4)
    assert_envelope(response, 503)
    assert len(tokens) == transactions.ATTEMPTS
    assert retries_printed() == {"ThrottlingError": transactions.ATTEMPTS - 1}
    assert stored_aggregate(photo_id) == recount(photo_id) == (0, 0, EMPTY_HISTOGRAM)


def test_a_rating_stops_trying_again_after_its_budget(aws, photo_id, rate, monkeypatch):
    # One transaction's attempts all conflict: with time left the rating would try again and land
    # (test_a_rating_outlasts_conflicts_past_one_transactions_attempts); with none it answers 503.
    cancel_transactions(monkeypatch, *[["None", "TransactionConflict"]] * transactions.ATTEMPTS)
    monkeypatch.setattr(transactions, "PAUSE_SECONDS", 0)
    monkeypatch.setattr(services, "RATING_RETRY_BUDGET_SECONDS", 0)
    response = rate(photo_id, "v1", 4)
    assert_envelope(response, 503)
    assert rate(photo_id, "v1", 4).status_code == 201  # the conflicts cleared: the client's retry lands


def test_rating_writes_are_throttled_per_client_address(aws, photo_id, rate, client, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "ratings": "3/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for stars in (1, 2, 3):
        assert rate(photo_id, "v1", stars).status_code in {200, 201}
    # A forged X-Forwarded-For does not open a new bucket: the address is REMOTE_ADDR (or sourceIp).
    forged = APIClient(HTTP_X_FORWARDED_FOR="203.0.113.9")
    throttled = rate(photo_id, "v1", 4, via="guide", api=forged)
    assert_envelope(throttled, 429)
    assert int(throttled["Retry-After"]) > 0 and throttled.json()["details"]["retryAfterSeconds"] > 0
    assert client.get(f"/api/photos/{photo_id}/ratings/v1").status_code == 200  # reads are not limited
    elsewhere = APIClient(REMOTE_ADDR="198.51.100.7")
    assert rate(photo_id, "v2", 4, api=elsewhere).status_code == 201


def test_on_lambda_the_throttle_counts_api_gateways_source_ip(aws, photo_id, rate, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "ratings": "1/min"},
    }

    def lambda_client(source_ip: str) -> APIClient:
        # Zappa puts the API Gateway event in the WSGI environ and REMOTE_ADDR from X-Forwarded-For.
        event = {"requestContext": {"identity": {"sourceIp": source_ip}}}
        return APIClient(REMOTE_ADDR="10.0.0.1", **{"lambda.event": event})

    assert rate(photo_id, "v1", 4, api=lambda_client("192.0.2.1")).status_code == 201
    assert rate(photo_id, "v1", 5, api=lambda_client("192.0.2.1")).status_code == 429
    assert rate(photo_id, "v2", 5, api=lambda_client("192.0.2.2")).status_code == 201


def test_rating_needs_no_curator_key_but_a_wrong_key_is_still_refused(aws, photo_id, rate):
    assert rate(photo_id, "v1", 4).status_code == 201
    wrong = APIClient(HTTP_AUTHORIZATION="Bearer not-a-key")
    assert_envelope(rate(photo_id, "v1", 4, api=wrong), 401)


def test_deleting_a_photo_removes_its_ratings(backend, gallery_id, upload, rate, curator, client):
    doomed, kept = (photo["photoId"] for photo in upload(gallery_id, 2))
    for photo in (doomed, kept):
        rate(photo, "v1", 4)
        rate(photo, "v2", 2, via="guide")
    assert curator.delete(f"/api/galleries/{gallery_id}/photos/{doomed}").status_code == 200
    assert not list(PhotoRating.query(doomed, consistent_read=True))
    assert len(list(PhotoRating.query(kept, consistent_read=True))) == 2
    assert_envelope(rate(doomed, "v3", 5), 404)
    assert_envelope(client.get(f"/api/photos/{doomed}/ratings"), 404)


def test_deleting_a_gallery_removes_its_photos_ratings(backend, gallery_id, upload, rate, curator):
    photo_ids = [photo["photoId"] for photo in upload(gallery_id, 2)]
    for photo in photo_ids:
        rate(photo, "v1", 5)
    assert curator.delete(f"/galleries?id={gallery_id}").status_code == 200
    assert not [r for photo in photo_ids for r in PhotoRating.query(photo, consistent_read=True)]


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["dynamodb_local"], indirect=True)
def test_concurrent_ratings_keep_the_aggregate_equal_to_a_recount(backend, photo_id, settings):
    """8 visitors' browsers rate one photo at once on the real engine: new ratings and re-ratings mixed."""
    settings.RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY = 1000  # the stuffing cap is tested on its own
    # Ids with their tokens, so any worker may rate as any visitor (who may write is tested on its own).
    visitors = [APIClient().post("/api/visitors").json() for _ in range(30)]

    def rate_25_times(worker: int) -> list[tuple[int, str]]:
        api, chooser = APIClient(REMOTE_ADDR=f"198.51.100.{worker}"), random.Random(worker)
        outcomes = []
        for _ in range(25):
            visitor = chooser.choice(visitors)
            url = f"/api/photos/{photo_id}/ratings/{visitor['userId']}"
            response = api.put(
                url,
                {"rating": chooser.randint(1, 5)},
                format="json",
                HTTP_X_VISITOR_TOKEN=visitor["visitorToken"],
            )
            outcomes.append((response.status_code, visitor["userId"]))
        return outcomes

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [outcome for batch in pool.map(rate_25_times, range(8)) for outcome in batch]
    statuses = [status for status, _ in outcomes]
    assert set(statuses) <= {200, 201}, statuses
    created = [user_id for status, user_id in outcomes if status == 201]
    assert len(created) == len(set(created))  # each visitor's first rating is created exactly once
    count, total, histogram = recount(photo_id)
    assert count == len(created) and statuses.count(200) == 200 - count
    assert stored_aggregate(photo_id) == (count, total, histogram)
