"""``Idempotency-Key`` on the writes a client retries after a timeout: uploads (multipart and from
uploads), gallery creation and rating. A replay answers the first answer (status, ids, refusals) built
again from the store, never a stored body; a different request under the same key, a key still in flight
and a malformed key are refused; a failed first request leaves the key free; a key lives 24 hours."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from core import idempotency, records
from core.errors import Unavailable
from core.records import ServiceRecord
from galleries import services as gallery_services
from galleries.models import Gallery
from gallery_project.curators import curator_key_create
from photos.models import GalleryPhoto
from ratings.models import PhotoRating
from tests.clock import clock_at
from tests.factories import jpeg_bytes
from tests.photos.test_direct_uploads import post_to_slot, slots

LISBON = {"name": "Lisbon", "continent": "Europe", "country": "Portugal", "years": [2019]}
PORTO = {**LISBON, "name": "Porto"}


def keyed(name: str) -> dict:
    """A key as a client makes one: at least 16 characters (``name`` padded), one per write."""
    return {"HTTP_IDEMPOTENCY_KEY": f"{name}-0123456789abcdef"}


def idempotency_records() -> list[ServiceRecord]:
    return [record for record in ServiceRecord.scan() if record.kind == idempotency.KIND]


def gallery_of(curator) -> str:
    created = curator.post("/api/galleries", LISBON, format="json")
    assert created.status_code == 201, created.content
    return created.json()["galleryId"]


def upload(curator, gallery_id: str, data: bytes, key: str | None, **fields):
    payload = {"photos": [SimpleUploadedFile("tram.jpg", data, content_type="image/jpeg")], **fields}
    headers = keyed(key) if key else {}
    return curator.post(f"/api/galleries/{gallery_id}/photos", payload, format="multipart", **headers)


# ---------------------------------------------------------------- gallery creation


def test_a_gallery_created_again_with_its_key_is_answered_not_made_twice(aws, curator):
    first = curator.post("/api/galleries", LISBON, format="json", **keyed("k-1"))
    again = curator.post("/api/galleries", LISBON, format="json", **keyed("k-1"))
    assert first.status_code == again.status_code == 201
    assert again.json()["galleryId"] == first.json()["galleryId"] and again["ETag"] == first["ETag"]
    assert again[idempotency.REPLAYED_HEADER] == "true" and idempotency.REPLAYED_HEADER not in first
    assert len(list(Gallery.scan())) == 1
    # What is kept is the result, never the answer's body.
    [record] = idempotency_records()
    assert record.status == idempotency.DONE
    assert record.data.as_dict()["result"] == {"galleryId": first.json()["galleryId"]}
    # Without a key, the same request is another gallery (the guide's behaviour).
    assert curator.post("/api/galleries", LISBON, format="json").status_code == 201
    assert len(list(Gallery.scan())) == 2


def test_a_replay_shows_the_resource_as_it_is_now(aws, curator):
    first = curator.post("/api/galleries", LISBON, format="json", **keyed("k-2")).json()
    renamed = curator.patch(f"/api/galleries/{first['galleryId']}", {"name": "Lisboa"}, format="json")
    assert renamed.status_code == 200
    again = curator.post("/api/galleries", LISBON, format="json", **keyed("k-2"))
    assert again.status_code == 201 and again.json()["name"] == "Lisboa"


def test_the_same_key_for_another_request_is_refused_and_changes_nothing(aws, curator):
    curator.post("/api/galleries", LISBON, format="json", **keyed("k-3"))
    other = curator.post("/api/galleries", {**LISBON, "name": "Porto"}, format="json", **keyed("k-3"))
    assert other.status_code == 422 and set(other.json()) == {"error", "details"}
    assert "different request" in other.json()["error"]
    assert [gallery.name for gallery in Gallery.scan()] == ["Lisbon"]


@pytest.mark.parametrize(
    "key", ["", "short-key-15-ch", "x" * 256, "has space in a long key", "naïve-0123456789abcdef"]
)
def test_a_malformed_key_is_a_400_before_anything_is_done(aws, curator, key):
    answer = curator.post("/api/galleries", LISBON, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert answer.status_code == 400 and "Idempotency-Key" in answer.json()["error"]
    assert "16 to 255 visible ASCII characters" in answer.json()["error"]  # the rule it applies
    assert list(Gallery.scan()) == []


def test_a_key_is_scoped_to_its_curator(aws, curator):
    other_key, _ = curator_key_create(label="other")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key}")
    mine = curator.post("/api/galleries", LISBON, format="json", **keyed("shared")).json()
    theirs = other.post("/api/galleries", LISBON, format="json", **keyed("shared")).json()
    assert mine["galleryId"] != theirs["galleryId"] and len(list(Gallery.scan())) == 2


def test_a_request_whose_key_is_in_flight_is_told_to_try_again(aws, curator, monkeypatch):
    """The client's retry arrives while its first request is still at work (API Gateway gave up on it)."""
    create = gallery_services.gallery_create
    seen = {}

    def slow_create(**fields):
        seen["retry"] = curator.post("/api/galleries", LISBON, format="json", **keyed("k-4"))
        return create(**fields)

    monkeypatch.setattr(gallery_services, "gallery_create", slow_create)
    first = curator.post("/api/galleries", LISBON, format="json", **keyed("k-4"))
    assert first.status_code == 201
    assert seen["retry"].status_code == 409
    assert seen["retry"].json()["details"]["code"] == "idempotency_key_in_flight"
    assert len(list(Gallery.scan())) == 1


def test_a_failed_first_request_leaves_the_key_free_for_the_retry(aws, curator, monkeypatch):
    def unavailable(**fields):
        raise Unavailable()

    with monkeypatch.context() as patched:
        patched.setattr(gallery_services, "gallery_create", unavailable)
        failed = curator.post("/api/galleries", LISBON, format="json", **keyed("k-5"))
    assert failed.status_code == 503 and idempotency_records() == []
    retried = curator.post("/api/galleries", LISBON, format="json", **keyed("k-5"))
    assert retried.status_code == 201 and idempotency.REPLAYED_HEADER not in retried


def test_a_key_answers_for_24_hours_then_is_free(aws, curator, monkeypatch):
    first = curator.post("/api/galleries", LISBON, format="json", **keyed("k-6")).json()
    clock_at(monkeypatch, records, datetime.now(UTC) + timedelta(hours=23, minutes=59))
    again = curator.post("/api/galleries", LISBON, format="json", **keyed("k-6"))
    assert again.json()["galleryId"] == first["galleryId"]
    assert curator.post("/api/galleries", PORTO, format="json", **keyed("k-6")).status_code == 422
    # After a day the key remembers no request: another one under it is done.
    clock_at(monkeypatch, records, datetime.now(UTC) + timedelta(hours=24, minutes=1))
    later = curator.post("/api/galleries", PORTO, format="json", **keyed("k-6"))
    assert later.status_code == 201 and later.json()["name"] == "Porto"


# ---------------------------------------------------------------- uploads


def test_an_upload_retried_with_its_key_stores_the_photo_once_even_keeping_duplicates(aws, curator):
    """keepDuplicate stores the same bytes again on purpose: only the key tells a retry from a second copy."""
    gallery_id = gallery_of(curator)
    data = jpeg_bytes(64, 48)
    first = upload(curator, gallery_id, data, "u-1", keepDuplicate="true")
    again = upload(curator, gallery_id, data, "u-1", keepDuplicate="true")
    assert first.status_code == again.status_code == 201
    [photo] = first.json()["photos"]
    [replayed] = again.json()["photos"]
    assert replayed["photoId"] == photo["photoId"] and replayed["photoNumber"] == 1
    assert len(list(GalleryPhoto.query(gallery_id))) == 1
    assert Gallery.get(gallery_id).photo_count == 1
    # Without the key the same request is a second copy, as keepDuplicate asks.
    assert upload(curator, gallery_id, data, None, keepDuplicate="true").status_code == 201
    assert len(list(GalleryPhoto.query(gallery_id))) == 2


def test_an_upload_replay_keeps_its_refusals_and_says_which_photo_was_a_duplicate(aws, curator):
    gallery_id = gallery_of(curator)
    data = jpeg_bytes(64, 48)
    assert upload(curator, gallery_id, data, None).status_code == 201
    files = [
        SimpleUploadedFile("again.jpg", data, content_type="image/jpeg"),
        SimpleUploadedFile("notes.jpg", b"not a photo", content_type="image/jpeg"),
    ]
    first = curator.post(
        f"/api/galleries/{gallery_id}/photos", {"photos": files}, format="multipart", **keyed("u-2")
    )
    for part in files:
        part.seek(0)
    again = curator.post(
        f"/api/galleries/{gallery_id}/photos", {"photos": files}, format="multipart", **keyed("u-2")
    )
    assert first.status_code == again.status_code == 207
    assert again.json()["errors"] == first.json()["errors"]
    assert [photo.get("duplicateOf") for photo in again.json()["photos"]] == [
        photo.get("duplicateOf") for photo in first.json()["photos"]
    ]
    assert again.json()["photos"][0]["duplicateOf"]


def test_an_upload_replay_naming_one_photo_twice_reads_it_once_and_answers_it_twice(aws, curator):
    """The same bytes sent twice, both duplicates of a stored photo: the answer names that photo twice,
    and the replay reads it in one batch (DynamoDB refuses a key twice in one)."""
    gallery_id = gallery_of(curator)
    data = jpeg_bytes(64, 48)
    assert upload(curator, gallery_id, data, None).status_code == 201
    answers = []
    for _ in range(2):
        files = [SimpleUploadedFile(f"copy{n}.jpg", data, content_type="image/jpeg") for n in range(2)]
        answers.append(
            curator.post(
                f"/api/galleries/{gallery_id}/photos",
                {"photos": files},
                format="multipart",
                **keyed("u-twice"),
            )
        )
    first, again = answers
    assert again[idempotency.REPLAYED_HEADER] == "true"
    assert again.status_code == first.status_code
    ids = [photo["photoId"] for photo in again.json()["photos"]]
    assert (
        ids == [photo["photoId"] for photo in first.json()["photos"]] and len(set(ids)) == 1 and len(ids) == 2
    )


def test_the_same_key_with_another_file_is_refused(aws, curator):
    gallery_id = gallery_of(curator)
    assert upload(curator, gallery_id, jpeg_bytes(64, 48), "u-3").status_code == 201
    other = upload(curator, gallery_id, jpeg_bytes(80, 60), "u-3")
    assert other.status_code == 422 and other.json()["details"]["code"] == "idempotency_key_reused"
    assert len(list(GalleryPhoto.query(gallery_id))) == 1


def test_a_completion_retried_with_its_key_answers_the_same_photo(aws, curator):
    gallery_id = gallery_of(curator)
    [slot] = slots(curator, gallery_id, "image/jpeg")
    assert post_to_slot(slot, jpeg_bytes(64, 48)) == 204
    body = {"uploads": [{"uploadKey": slot["uploadKey"], "filename": "big.jpg", "title": "Big"}]}
    path = f"/api/galleries/{gallery_id}/photos/from-uploads"
    first = curator.post(path, body, format="json", **keyed("c-1"))
    again = curator.post(path, body, format="json", **keyed("c-1"))
    assert first.status_code == again.status_code == 201
    assert again[idempotency.REPLAYED_HEADER] == "true"
    assert again.json()["photos"][0]["photoId"] == first.json()["photos"][0]["photoId"]
    assert len(list(GalleryPhoto.query(gallery_id))) == 1


# ---------------------------------------------------------------- ratings


def test_a_first_rating_retried_with_its_key_gets_its_answer_and_token_back(aws, curator):
    """Without a key, a retry of a first rating (sent without a token) meets the rating it made and is
    refused: the visitor lost the token with the answer. With a key the retry gets both."""
    gallery_id = gallery_of(curator)
    [photo] = upload(curator, gallery_id, jpeg_bytes(64, 48), None).json()["photos"]
    visitor = APIClient()
    path = f"/api/photos/{photo['photoId']}/ratings/v1"
    first = visitor.put(path, {"rating": 4}, format="json", **keyed("r-1"))
    again = visitor.put(path, {"rating": 4}, format="json", **keyed("r-1"))
    assert first.status_code == again.status_code == 201
    assert again.json()["visitorToken"] == first.json()["visitorToken"]
    assert again.json()["rating"] == 4 and again.json()["ratingCount"] == 1
    assert [rating.rating for rating in PhotoRating.query(photo["photoId"])] == [4]
    assert visitor.put(path, {"rating": 4}, format="json").status_code == 403  # the keyless retry
    # Another rating under the same key is refused; another client with the key gets nothing of it.
    other = visitor.put(path, {"rating": 5}, format="json", **keyed("r-1"))
    assert other.status_code == 422
    elsewhere = APIClient(REMOTE_ADDR="203.0.113.9").put(path, {"rating": 4}, format="json", **keyed("r-1"))
    assert elsewhere.status_code == 403 and "visitorToken" not in elsewhere.json()
    # Nor does one that claims the visitor's address in a header no proxy of ours wrote.
    forged = APIClient(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1")
    answer = forged.put(path, {"rating": 4}, format="json", **keyed("r-1"))
    assert answer.status_code == 403 and "visitorToken" not in answer.json()
    # The token works: the visitor changes the rating.
    token = again.json()["visitorToken"]
    changed = visitor.put(path, {"rating": 2}, format="json", HTTP_X_VISITOR_TOKEN=token)
    assert changed.status_code == 200 and changed.json()["ratingCount"] == 1


def test_a_result_kept_only_on_a_later_try_still_answers_the_retry(aws, curator, monkeypatch):
    monkeypatch.setattr(idempotency, "KEEP_PAUSES_SECONDS", (0, 0, 0))
    update = idempotency.record_update
    failures = {"left": 2}

    def flaky(*args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise Unavailable() from None
        return update(*args, **kwargs)

    monkeypatch.setattr(idempotency, "record_update", flaky)
    monkeypatch.setattr(idempotency, "storage_errors", lambda: (Unavailable,))
    first = curator.post("/api/galleries", LISBON, format="json", **keyed("keep-1"))
    again = curator.post("/api/galleries", LISBON, format="json", **keyed("keep-1"))
    assert again[idempotency.REPLAYED_HEADER] == "true"
    assert again.json()["galleryId"] == first.json()["galleryId"] and len(list(Gallery.scan())) == 1


def test_a_gallery_whose_result_could_not_be_kept_is_answered_not_made_again(aws, curator, monkeypatch):
    """DynamoDB refused every try to keep the result: the retry waits out the lease (409 with
    Retry-After meanwhile), then does the work again and meets the gallery the key's id named."""
    monkeypatch.setattr(idempotency, "KEEP_PAUSES_SECONDS", (0, 0, 0))

    def refused(*args, **kwargs):
        raise Unavailable()

    monkeypatch.setattr(idempotency, "storage_errors", lambda: (Unavailable,))
    with monkeypatch.context() as patched:
        patched.setattr(idempotency, "record_update", refused)
        first = curator.post("/api/galleries", LISBON, format="json", **keyed("keep-2"))
    assert first.status_code == 201
    waiting = curator.post("/api/galleries", LISBON, format="json", **keyed("keep-2"))
    assert waiting.status_code == 409 and int(waiting["Retry-After"]) > 0
    clock_at(monkeypatch, records, datetime.now(UTC) + records.WRITE_LIFETIME + timedelta(seconds=1))
    later = curator.post("/api/galleries", LISBON, format="json", **keyed("keep-2"))
    assert later.status_code == 201 and later.json()["galleryId"] == first.json()["galleryId"]
    assert len(list(Gallery.scan())) == 1


def test_the_guide_route_and_a_trailing_slash_are_the_same_write_under_one_key(aws, curator):
    guide = curator.post("/galleries", LISBON, format="json", **keyed("guide-1"))
    again = curator.post("/galleries", LISBON, format="json", **keyed("guide-1"))
    assert guide.status_code == again.status_code == 201
    assert again.json()["galleryId"] == guide.json()["galleryId"]
    rest = curator.post("/api/galleries", LISBON, format="json", **keyed("slash-1"))
    slashed = curator.post("/api/galleries/", LISBON, format="json", **keyed("slash-1"))
    assert slashed.json()["galleryId"] == rest.json()["galleryId"]
    assert len(list(Gallery.scan())) == 2
