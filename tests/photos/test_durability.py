"""Nothing lost, nothing twice, nothing left dangling (issue 18), on moto: final gallery deletes, photo-write
intents, commits that are safe to repeat and tell the truth, direct uploads claimed once.

The same cases against real emulators, with services stopped and frozen, are in ``tests/faults/``.
"""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ConnectionClosedError
from django.conf import settings
from pynamodb.exceptions import TransactWriteError

from core import records, transactions
from core.aws import s3_client
from galleries.models import Gallery
from galleries.services import gallery_delete_begin
from photos import content, intents
from photos.models import GalleryPhoto
from photos.services import direct_upload
from ratings.models import PhotoRating
from scans import leftovers, photos_scan
from scans.photos_scan import gallery_photos_scan
from tests.aws_faults import cancel_transactions, fail_nth
from tests.clock import clock_at
from tests.factories import jpeg_bytes
from tests.photos.test_direct_uploads import post_to_slot, slots


def bucket_keys() -> set[str]:
    listing = s3_client().list_objects_v2(Bucket=settings.BUCKET_NAME)
    return {item["Key"] for item in listing.get("Contents", [])}


def live_intents() -> list[intents.Intent]:
    return intents.intents_all()


def photo_items(gallery_id: str) -> list[GalleryPhoto]:
    return list(GalleryPhoto.query(gallery_id, consistent_read=True))


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch):
    monkeypatch.setattr(transactions, "PAUSE_SECONDS", 0)


# ---------------------------------------------------------------- 1. a gallery delete is final


def test_once_a_gallery_delete_begins_nothing_new_is_accepted_and_it_reads_as_gone(
    aws, curator, client, gallery_id, upload
):
    [photo] = upload(gallery_id).json()["photos"]
    [slot] = slots(curator, gallery_id, "image/jpeg")
    assert post_to_slot(slot, jpeg_bytes()) in (200, 204)
    gallery_delete_begin(gallery_id=gallery_id)  # a delete that began (and is still under way)

    refused = upload(gallery_id)
    assert refused.status_code == 404 and set(refused.json()) == {"error", "details"}
    completion = curator.post(
        f"/api/galleries/{gallery_id}/photos/from-uploads",
        {"uploads": [{"uploadKey": slot["uploadKey"]}]},
        format="json",
    )
    assert completion.status_code == 404
    rating = client.put(f"/api/photos/{photo['photoId']}/ratings/v1", {"rating": 5}, format="json")
    assert rating.status_code == 404 and set(rating.json()) == {"error", "details"}
    assert client.get(f"/api/galleries/{gallery_id}").status_code == 404
    assert gallery_id not in {g["galleryId"] for g in client.get("/api/galleries").json()["results"]}
    assert not list(PhotoRating.query(photo["photoId"]))
    assert Gallery.get(gallery_id).photo_count == 1  # nothing counted while refusing

    # The repeated request finishes the delete: nothing of the gallery remains.
    assert curator.delete(f"/api/galleries/{gallery_id}").status_code in (200, 204)
    assert not photo_items(gallery_id) and bucket_keys() == set()
    assert not Gallery.count(gallery_id)


def test_a_commit_that_meets_a_gallery_delete_removes_its_objects_and_answers_gone(
    aws, gallery_id, upload, monkeypatch
):
    # The gallery's condition fails inside the photo's transaction (wire order: intent delete, photo
    # put, gallery update).
    cancel_transactions(monkeypatch, ["None", "None", "ConditionalCheckFailed"])
    response = upload(gallery_id)
    assert response.status_code == 404
    assert response.json()["details"]["files"][0]["code"] == "gallery_gone"
    assert bucket_keys() == set() and not photo_items(gallery_id) and not live_intents()


def test_the_photos_scan_purges_photos_whose_gallery_item_is_gone(aws, curator, gallery_id, upload):
    photo_id = upload(gallery_id).json()["photos"][0]["photoId"]
    PhotoRating(photo_id, "v1", rating=4, rated_at="2024-01-01T00:00:00Z", gallery_id=gallery_id).save()
    Gallery(gallery_id).delete()  # as an older release could leave it
    summary = gallery_photos_scan()
    assert summary.orphan_galleries == [gallery_id]
    assert not photo_items(gallery_id) and not list(PhotoRating.query(photo_id))
    assert bucket_keys() == set()


def test_the_photos_scan_finishes_an_interrupted_gallery_delete(aws, gallery_id, upload):
    upload(gallery_id)
    long_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    Gallery(gallery_id).update(actions=[Gallery.deleting_at.set(long_ago)])
    summary = gallery_photos_scan()
    assert summary.galleries_deleted == [gallery_id]
    assert not photo_items(gallery_id) and bucket_keys() == set() and not Gallery.count(gallery_id)


# ---------------------------------------------------------------- 2. every photo write has an intent


def test_a_failed_rollback_leaves_a_failed_intent_that_the_scan_cleans_and_never_adopts(
    aws, curator, gallery_id, upload
):
    # The third rendition put fails, then the rollback's delete fails too: S3 is down.
    with fail_nth("PutObject", 3), fail_nth("DeleteObjects", 1):
        response = upload(gallery_id, {"one.jpg": jpeg_bytes()})
    assert response.status_code == 503
    [intent] = live_intents()
    assert intent.record.status == intents.FAILED
    assert bucket_keys() and bucket_keys() <= set(intent.objects)  # the objects it named stayed

    summary = gallery_photos_scan(gallery_id=gallery_id)
    assert (summary.created, summary.failed_writes_cleaned) == (0, 1)  # deleted, not adopted
    assert bucket_keys() == set() and not live_intents() and not photo_items(gallery_id)

    # The client's retry makes the photo, once.
    assert upload(gallery_id, {"one.jpg": jpeg_bytes()}).status_code == 201
    assert len(photo_items(gallery_id)) == 1


def test_a_write_in_flight_is_neither_adopted_nor_swept_and_a_dead_one_is_cleaned_after_a_while(
    aws, gallery_id, monkeypatch, settings
):
    intent = intents.intent_open(
        gallery_id=gallery_id,
        number=7,
        photo_id="p" * 32,
        objects=[f"galleries/{gallery_id}/photo7.jpg", f"renditions/{gallery_id}/photo7-thumb.jpg"],
    )
    for key in intent.objects:
        s3_client().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=jpeg_bytes())
    summary = gallery_photos_scan()
    assert (summary.created, summary.orphan_objects_removed, summary.failed_writes_cleaned) == (0, 0, 0)
    assert bucket_keys() == set(intent.objects)

    later = datetime.now(UTC) + intents.STALE_AFTER + timedelta(seconds=1)
    clock_at(monkeypatch, intents, later)
    summary = gallery_photos_scan()
    assert (summary.created, summary.failed_writes_cleaned) == (0, 1)
    assert bucket_keys() == set() and not live_intents()


def test_a_committed_photo_leaves_no_intent(aws, gallery_id, upload):
    assert upload(gallery_id, {"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes()}).status_code == 201
    assert not live_intents()


# ---------------------------------------------------------------- 3. commits repeatable and honest


def test_a_transaction_conflict_on_the_commit_is_retried_with_a_new_token(
    aws, gallery_id, upload, monkeypatch
):
    tokens = cancel_transactions(monkeypatch, ["None", "None", "TransactionConflict"])
    assert upload(gallery_id).status_code == 201
    [photo] = photo_items(gallery_id)
    # Each attempt sends "<photo id>-<attempt>": botocore's own retries inside one attempt reuse it.
    assert tokens == [f"{photo.photo_id}-0", f"{photo.photo_id}-1"]
    assert Gallery.get(gallery_id).photo_count == 1


def test_conflicts_that_never_clear_answer_503_and_keep_nothing(aws, gallery_id, upload, monkeypatch):
    cancel_transactions(monkeypatch, *[["None", "None", "TransactionConflict"]] * transactions.ATTEMPTS)
    response = upload(gallery_id)
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert bucket_keys() == set() and not photo_items(gallery_id) and not live_intents()


def test_a_photo_delete_outlasts_raters_keeping_its_item_busy(aws, curator, gallery_id, upload, monkeypatch):
    """Raters of a hot photo keep its item in transactions: the delete's mark (what stops them) looks
    again after a run of conflicts, as raters do, instead of answering 503 at the first run."""
    [photo] = upload(gallery_id).json()["photos"]
    cancel_transactions(monkeypatch, *[["None", "TransactionConflict"]] * (transactions.ATTEMPTS + 1))
    deleted = curator.delete(f"/api/galleries/{gallery_id}/photos/{photo['photoId']}")
    assert deleted.status_code in (200, 204), deleted.content
    assert not photo_items(gallery_id) and Gallery.get(gallery_id).photo_count == 0


def test_another_cancellation_reason_is_our_fault_a_500_that_keeps_nothing(
    aws, gallery_id, upload, monkeypatch
):
    cancel_transactions(monkeypatch, ["None", "ValidationError", "None"])
    response = upload(gallery_id)
    assert response.status_code == 500
    assert bucket_keys() == set() and not photo_items(gallery_id)


def test_a_commit_whose_answer_was_lost_is_kept_not_rolled_back(aws, gallery_id, upload, monkeypatch):
    """DynamoDB committed, then the connection dropped: the item exists, so its objects must stay."""

    class CommittedThenLost(transactions.Transaction):
        def _commit(self):
            super()._commit()
            raise TransactWriteError("lost", cause=ConnectionClosedError(endpoint_url="http://dynamodb"))

    monkeypatch.setattr(transactions, "Transaction", CommittedThenLost)
    assert upload(gallery_id).status_code == 201
    [photo] = photo_items(gallery_id)
    assert {photo.s3_key, *photo.rendition_keys} == bucket_keys()


# ---------------------------------------------------------------- 4. direct uploads claimed once


def _complete(curator, gallery_id, upload_key):
    return curator.post(
        f"/api/galleries/{gallery_id}/photos/from-uploads",
        {"uploads": [{"uploadKey": upload_key, "filename": "card.jpg"}]},
        format="json",
    )


def test_a_second_completion_answers_the_first_photo_not_a_second_one(aws, curator, gallery_id):
    [slot] = slots(curator, gallery_id, "image/jpeg")
    post_to_slot(slot, jpeg_bytes())
    first = _complete(curator, gallery_id, slot["uploadKey"])
    again = _complete(curator, gallery_id, slot["uploadKey"])
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["photos"][0]["photoId"] == again.json()["photos"][0]["photoId"]
    assert len(photo_items(gallery_id)) == 1
    assert not any(key.startswith("uploads/") for key in bucket_keys())


def test_a_completion_under_way_answers_409_for_the_other(aws, curator, gallery_id):
    [slot] = slots(curator, gallery_id, "image/jpeg")
    post_to_slot(slot, jpeg_bytes())
    claim_id = hashlib.sha256(slot["uploadKey"].encode()).hexdigest()[:40]
    records.record_take("upload", claim_id, owner="other", status="claimed", lifetime=timedelta(minutes=5))
    busy = _complete(curator, gallery_id, slot["uploadKey"])
    assert busy.status_code == 409 and set(busy.json()) == {"error", "details"}
    assert not photo_items(gallery_id)
    assert slot["uploadKey"] in bucket_keys()  # the other completion still needs it


def test_after_a_storage_failure_the_upload_stays_and_the_retry_makes_the_photo(aws, curator, gallery_id):
    [slot] = slots(curator, gallery_id, "image/jpeg")
    post_to_slot(slot, jpeg_bytes())
    with fail_nth("TransactWriteItems", 1, times=10):
        failed = _complete(curator, gallery_id, slot["uploadKey"])
    assert failed.status_code == 503
    assert slot["uploadKey"] in bucket_keys()
    retried = _complete(curator, gallery_id, slot["uploadKey"])
    assert retried.status_code == 201 and len(photo_items(gallery_id)) == 1
    assert slot["uploadKey"] not in bucket_keys()


def test_uploads_never_completed_are_removed_by_the_scan_after_a_day(aws, curator, gallery_id, monkeypatch):
    [slot] = slots(curator, gallery_id, "image/jpeg")
    post_to_slot(slot, jpeg_bytes())
    # A slot of a release before slot records: its photo waits for the browser's completion (with a
    # record, the scan would make it: tests/scans/test_object_events.py).
    records.record_drop(direct_upload.SLOT_KIND, direct_upload._claim_id(slot["uploadKey"]))
    waiting = gallery_photos_scan()
    assert waiting.abandoned_uploads_removed == 0
    assert waiting.left == [{"key": slot["uploadKey"], "reason": photos_scan.UPLOAD_WAITING}]
    monkeypatch.setattr(leftovers, "UPLOAD_ABANDONED_AFTER", timedelta(seconds=-1))
    assert gallery_photos_scan().abandoned_uploads_removed == 1
    assert slot["uploadKey"] not in bucket_keys()


# ---------------------------------------------------------------- 10. the same photo twice is noticed


def test_the_same_bytes_again_answer_the_first_photo_not_a_second_one(aws, curator, gallery_id, upload):
    card = jpeg_bytes()
    first = upload(gallery_id, {"a.jpg": card}).json()["photos"][0]
    again = upload(gallery_id, {"retry-after-a-lost-answer.jpg": card})
    assert again.status_code == 201
    [answer] = again.json()["photos"]
    assert answer["photoId"] == first["photoId"] and answer["duplicateOf"] == first["photoId"]
    assert len(photo_items(gallery_id)) == 1 and Gallery.get(gallery_id).photo_count == 1
    assert "duplicateOf" not in first  # only a duplicate's answer says so
    [item] = photo_items(gallery_id)
    assert item.original_sha256 == hashlib.sha256(card).hexdigest()

    # Twice in one batch: stored once, the second answered by the first.
    twins = upload(gallery_id, {"x.jpg": (other := jpeg_bytes()), "y.jpg": other}).json()["photos"]
    assert twins[1]["duplicateOf"] == twins[0]["photoId"] and len(photo_items(gallery_id)) == 2

    # A curator who means it keeps the duplicate.
    kept = upload(gallery_id, {"a-again.jpg": card}, keepDuplicate="true").json()["photos"][0]
    assert "duplicateOf" not in kept and len(photo_items(gallery_id)) == 3


def test_an_identical_upload_in_flight_is_refused_not_doubled(aws, gallery_id, upload):
    card = jpeg_bytes()
    claim = records.record_take(
        "content",
        f"{gallery_id}/{hashlib.sha256(card).hexdigest()}",
        owner="another-request",
        status="pending",
        lifetime=timedelta(minutes=5),
    )
    assert claim is not None
    response = upload(gallery_id, {"a.jpg": card})
    assert (
        response.status_code == 409
        and response.json()["details"]["files"][0]["code"] == "duplicate_in_flight"
    )
    assert not photo_items(gallery_id) and bucket_keys() == set() and not live_intents()


def test_a_deleted_photos_bytes_may_come_again(aws, curator, gallery_id, upload):
    card = jpeg_bytes()
    first = upload(gallery_id, {"a.jpg": card}).json()["photos"][0]
    assert curator.delete(f"/api/galleries/{gallery_id}/photos/{first['photoId']}").status_code in (200, 204)
    again = upload(gallery_id, {"a.jpg": card}).json()["photos"][0]
    assert "duplicateOf" not in again and again["photoId"] != first["photoId"]


def test_a_direct_upload_of_the_same_bytes_answers_the_photo_and_the_scan_never_adopts_a_copy(
    aws, curator, gallery_id, upload, settings
):
    card = jpeg_bytes()
    first = upload(gallery_id, {"a.jpg": card}).json()["photos"][0]
    [slot] = slots(curator, gallery_id, "image/jpeg")
    post_to_slot(slot, card)
    completion = _complete(curator, gallery_id, slot["uploadKey"])
    assert completion.status_code == 201 and completion.json()["photos"][0]["duplicateOf"] == first["photoId"]
    assert slot["uploadKey"] not in bucket_keys() and len(photo_items(gallery_id)) == 1

    s3_client().put_object(Bucket=settings.BUCKET_NAME, Key=f"galleries/{gallery_id}/IMG_0001.JPG", Body=card)
    summary = gallery_photos_scan(gallery_id=gallery_id)
    assert (summary.created, summary.duplicates) == (0, 1) and len(photo_items(gallery_id)) == 1
    numbers_before = Gallery.get(gallery_id).last_photo_number
    again = gallery_photos_scan(gallery_id=gallery_id)  # not read, decoded and numbered again each run
    assert (again.created, again.duplicates) == (0, 0)
    assert Gallery.get(gallery_id).last_photo_number == numbers_before


def test_an_upload_never_overwrites_an_original_a_scan_adopted_under_our_naming(
    aws, gallery_id, upload, settings
):
    """A restored backup put galleries/G/photo2.jpg into an empty gallery; a scan adopted it as photo 1.
    The next upload's number is 2, but that key is taken: it gets the next free number instead."""
    restored = jpeg_bytes()
    key = f"galleries/{gallery_id}/photo2.jpg"
    s3_client().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=restored)
    assert gallery_photos_scan(gallery_id=gallery_id).created == 1
    new = upload(gallery_id).json()["photos"][0]
    assert new["s3Key"] != key and new["photoNumber"] == 3
    assert s3_client().get_object(Bucket=settings.BUCKET_NAME, Key=key)["Body"].read() == restored


def test_after_a_write_that_kept_its_bytes_claim_the_scan_frees_them_for_the_retry(
    aws, gallery_id, upload, monkeypatch
):
    """S3 down and the claim's release lost too: the 503 said "retry it", and after the scan's cleanup the
    retry of the same file makes the photo (not 409 for the claim's whole lease)."""
    card = jpeg_bytes()
    monkeypatch.setattr(content, "content_release", lambda claim: (_ for _ in ()).throw(ConnectionError()))
    with fail_nth("PutObject", 2), fail_nth("DeleteObjects", 1):
        assert upload(gallery_id, {"a.jpg": card}).status_code == 503
    monkeypatch.undo()
    assert upload(gallery_id, {"a.jpg": card}).status_code == 409  # the dead write still holds the bytes

    later = datetime.now(UTC) + intents.STALE_AFTER + timedelta(seconds=1)
    clock_at(monkeypatch, intents, later)
    assert gallery_photos_scan(gallery_id=gallery_id).failed_writes_cleaned == 1
    monkeypatch.undo()
    retried = upload(gallery_id, {"a.jpg": card})
    assert retried.status_code == 201 and "duplicateOf" not in retried.json()["photos"][0]


def test_a_commit_that_got_no_answer_keeps_everything_for_the_scan(aws, gallery_id, upload, monkeypatch):
    """No answer (a timeout): the transaction may still land, so nothing is rolled back; the item is not
    there, the scan deletes the objects once the intent is older than any request can live."""

    class NoAnswer(transactions.Transaction):
        def _commit(self):
            raise TransactWriteError("timed out", cause=ConnectionClosedError(endpoint_url="http://dynamodb"))

    monkeypatch.setattr(transactions, "Transaction", NoAnswer)
    assert upload(gallery_id).status_code == 503
    monkeypatch.undo()
    [intent] = live_intents()
    assert intent.record.status == intents.PENDING and bucket_keys() == set(intent.objects)
    assert gallery_photos_scan(gallery_id=gallery_id).failed_writes_cleaned == 0  # it may still land
    later = datetime.now(UTC) + intents.STALE_AFTER + timedelta(seconds=1)
    clock_at(monkeypatch, intents, later)
    assert gallery_photos_scan(gallery_id=gallery_id).failed_writes_cleaned == 1
    assert bucket_keys() == set() and not photo_items(gallery_id)


def test_deleting_a_kept_duplicate_leaves_the_first_photos_claim(aws, curator, gallery_id, upload):
    card = jpeg_bytes()
    first = upload(gallery_id, {"a.jpg": card}).json()["photos"][0]
    kept = upload(gallery_id, {"a.jpg": card}, keepDuplicate="true").json()["photos"][0]
    assert curator.delete(f"/api/galleries/{gallery_id}/photos/{kept['photoId']}").status_code in (200, 204)
    again = upload(gallery_id, {"a.jpg": card}).json()["photos"][0]
    assert again["duplicateOf"] == first["photoId"]


def test_a_single_write_meeting_a_transaction_on_its_item_is_tried_again(aws, gallery_id, upload):
    with fail_nth("UpdateItem", 1, code="TransactionConflictException") as seen:
        response = upload(gallery_id)
    assert seen["count"] >= 2 and response.status_code == 201
