"""Nothing lost, nothing twice, nothing left dangling (issue 18), against the suite's own DynamoDB Local and
s3rver: deletes racing uploads and ratings, S3 failing mid-batch and during the rollback, a server killed
between its objects and its commit, transaction conflicts, direct uploads completed twice at once, a scan
racing an upload, lost renditions and two curators' edits of one version.

Each case injects its fault, checks the answer and the state it is about, then every invariant of the
whole store (``assert_store_consistent``). The moto-tier cases of the same behaviour are in
``tests/photos/test_durability.py`` and ``tests/galleries/test_conditional_requests.py``.
"""

import os
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from core import transactions
from core.records import ServiceRecord
from galleries.models import Gallery
from photos import intents
from photos.models import GalleryPhoto
from ratings.models import PhotoRating
from scans.photos_scan import gallery_photos_scan
from tests.clock import clock_at
from tests.faults.api import (
    files_upload,
    gallery_create,
    jpeg,
    photo_rate,
    slot_post,
    upload_slots,
    uploads_complete,
)
from tests.faults.injection import failing_calls, held_calls, raced
from tests.faults.invariants import StoreSnapshot, assert_store_consistent, reader, table_items

ROOT = Path(__file__).resolve().parents[2]
ENVELOPE = {"error", "details"}
CONFLICT = {
    "CancellationReasons": [
        {"Code": "None", "Message": "None"},
        {"Code": "None", "Message": "None"},
        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
    ]
}


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch):
    """Conflicts retried at once: the cases count attempts, not seconds."""
    monkeypatch.setattr(transactions, "PAUSE_SECONDS", 0)


# ---------------------------------------------------------------- reading the store (the checker's clients)


def photos_of(gallery_id: str) -> list[dict]:
    return [photo for photo in table_items(GalleryPhoto.Meta.table_name) if photo["galleryId"] == gallery_id]


def gallery_item(gallery_id: str) -> dict | None:
    found = [item for item in table_items(Gallery.Meta.table_name) if item["galleryId"] == gallery_id]
    return found[0] if found else None


def objects_of(gallery_id: str) -> set[str]:
    """Every object in the gallery's prefixes (originals, renditions, uploads)."""
    prefixes = tuple(f"{root}/{gallery_id}/" for root in ("galleries", "renditions", "uploads"))
    return {key for key in StoreSnapshot.read().objects if key.startswith(prefixes)}


def photo_writes() -> list[dict]:
    """The photo-write intents on record, raw."""
    return [
        record
        for record in table_items(ServiceRecord.Meta.table_name)
        if str(record["recordKey"]).startswith(f"{intents.KIND}#")
    ]


def ratings_of(photo_ids: list[str]) -> list[dict]:
    return [rating for rating in table_items(PhotoRating.Meta.table_name) if rating["photoId"] in photo_ids]


def failed_files(response) -> list[dict]:
    body = response.json()
    return body["errors"] if "errors" in body else body["details"]["files"]


def past_staleness(monkeypatch) -> None:
    """Move the intents' clock past STALE_AFTER: a pending write is now one whose writer died."""
    later = datetime.now(UTC) + intents.STALE_AFTER + timedelta(seconds=1)
    clock_at(monkeypatch, intents, later)


def wait_parked(held, pending, timeout: float = 20.0) -> None:
    """Bounded polling until the request in ``pending`` waits at its held call; fails at once, with its
    answer, if the request ended without getting there."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            held.wait_reached(timeout=0.1)
            return
        except AssertionError:
            if pending.done():
                answer = pending.result()
                raise AssertionError(
                    f"the request ended before its commit: {answer.status_code} {answer.content}"
                ) from None
            if time.monotonic() > deadline:
                raise


# ---------------------------------------------------------------- 1. a gallery deleted during an upload


def test_a_gallery_deleted_while_an_upload_waits_at_its_commit_refuses_the_photo_and_keeps_nothing(
    store, curator, scene
):
    gallery_id = scene.gallery_id
    uploader = store.curator_api()
    with held_calls("dynamodb", "TransactWriteItems") as commit, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(files_upload, uploader, gallery_id, {"late.jpg": jpeg()})
        wait_parked(commit, pending)  # its objects are in S3, its commit not sent
        deleted = curator.delete(f"/api/galleries/{gallery_id}")
        assert deleted.status_code == 200, deleted.content
        assert deleted.json()["photosDeleted"] == 2
        commit.release()
        response = pending.result(timeout=30)

    assert response.status_code == 404, response.content
    assert set(response.json()) == ENVELOPE
    assert [failure["code"] for failure in failed_files(response)] == ["gallery_gone"]
    assert gallery_item(gallery_id) is None
    assert photos_of(gallery_id) == [] and objects_of(gallery_id) == set()
    assert photo_writes() == [] and ratings_of(scene.photo_ids) == []
    assert_store_consistent()


# ---------------------------------------------------------------- 2. ratings racing a gallery delete


def test_ratings_racing_a_gallery_delete_are_either_kept_before_it_or_refused_and_none_remains(
    store, curator, scene
):
    visitors = [store.anonymous_api() for _ in range(6)]
    ratings = [
        (lambda visitor=visitor, n=n: photo_rate(visitor, scene.photo_ids[n % 2], f"racer{n}", 1 + n % 5))
        for n, visitor in enumerate(visitors)
    ]
    deleted, *rated = raced(lambda: curator.delete(f"/api/galleries/{scene.gallery_id}"), *ratings)

    assert not isinstance(deleted, BaseException), deleted
    assert deleted.status_code == 200, deleted.content
    for answer in rated:
        assert not isinstance(answer, BaseException), answer
        assert answer.status_code in (200, 201, 404), answer.content
        if answer.status_code == 404:
            assert set(answer.json()) == ENVELOPE
    assert gallery_item(scene.gallery_id) is None and photos_of(scene.gallery_id) == []
    assert ratings_of(scene.photo_ids) == []
    assert_store_consistent()


# ---------------------------------------------------------------- 3. S3 failing mid-batch, and the rollback


def test_s3_failing_mid_batch_and_in_the_rollback_leaves_a_failed_intent_the_scan_cleans(
    store, curator, settings
):
    gallery_id = gallery_create(curator)
    files = {"first.jpg": jpeg(), "second.jpg": jpeg()}

    def second_photos_renditions(params: dict) -> bool:  # photo numbers follow the order files are sent
        return params["Key"].startswith(f"renditions/{gallery_id}/photo2-")

    with (
        failing_calls(
            "s3", "PutObject", "ServiceUnavailable", http_status=503, after=1, when=second_photos_renditions
        ) as puts,
        failing_calls("s3", "DeleteObjects", "InternalError", times=None) as deletes,
    ):
        response = files_upload(curator, gallery_id, files)
    assert (puts.failed, deletes.failed) == (1, 1)

    # Only the second photo's puts fail, so the first is stored: 207, the second answered 503.
    assert response.status_code == 207, response.content
    [failure] = failed_files(response)
    assert (failure["filename"], failure["status"]) == ("second.jpg", 503)
    assert [photo["title"] for photo in response.json()["photos"]] == ["first"]
    [intent] = photo_writes()
    assert intent["status"] == intents.FAILED
    first_keys = {key for photo in photos_of(gallery_id) for key in [photo["s3Key"], *photo["renditionKeys"]]}
    left = objects_of(gallery_id) - first_keys
    # The original and the first rendition of the second photo were put; the intent names them.
    assert len(left) == 2 and left <= set(intent["data"]["objects"])
    assert_store_consistent()

    summary = gallery_photos_scan()
    assert (summary.failed_writes_cleaned, summary.created, summary.failed) == (1, 0, 0)
    assert objects_of(gallery_id) == first_keys and photo_writes() == []

    retried = files_upload(curator, gallery_id, {"second.jpg": files["second.jpg"]})  # the same bytes
    assert retried.status_code == 201, retried.content
    titles = sorted(photo["title"] for photo in photos_of(gallery_id))
    assert titles == ["first", "second"]
    assert_store_consistent()


# ---------------------------------------------------------------- 4. a server killed before its commit

# A process of its own runs a real upload request and parks it just before its commit is sent; the test
# kills it there with SIGKILL: no rollback, no `finally`, nothing of the process survives but what it
# wrote. The environment (endpoints, key pair, table and bucket names) is the store's, inherited.
CRASHING_UPLOAD = """
import sys
import time

import django

django.setup()

import botocore.client
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

gallery_id, curator_key, image_path = sys.argv[1:4]
send = botocore.client.BaseClient._make_api_call


def parked_before_the_commit(client, operation, params):
    if operation == "TransactWriteItems":
        print("at-commit", flush=True)
        time.sleep(120)  # killed here
    return send(client, operation, params)


botocore.client.BaseClient._make_api_call = parked_before_the_commit
api = APIClient()
api.credentials(HTTP_AUTHORIZATION="Bearer " + curator_key)
with open(image_path, "rb") as image:
    photo = SimpleUploadedFile("crash.jpg", image.read(), content_type="image/jpeg")
response = api.post(f"/api/galleries/{gallery_id}/photos", {"photos": [photo]}, format="multipart")
print("answered", response.status_code, flush=True)
"""
MARK_TIMEOUT_SECONDS = 30.0


def _wait_for_line(process: subprocess.Popen, expected: str, timeout: float) -> list[str]:
    """Lines the process printed until ``expected`` (bounded by ``timeout``; the last line is it)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            line = process.stdout.readline().strip()
            lines.append(line)
            if line == expected:
                return lines
    return lines


def test_a_server_killed_between_its_objects_and_its_commit_leaves_a_pending_intent_the_scan_finishes(
    store, curator, settings, monkeypatch, tmp_path
):
    gallery_id = gallery_create(curator)
    image = tmp_path / "crash.jpg"
    image.write_bytes(jpeg())
    errors = tmp_path / "stderr.txt"
    environment = {"DJANGO_SETTINGS_MODULE": "gallery_project.settings", **os.environ}
    with open(errors, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", CRASHING_UPLOAD, gallery_id, store.curator_key, str(image)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            lines = _wait_for_line(process, "at-commit", MARK_TIMEOUT_SECONDS)
            assert lines[-1:] == ["at-commit"], f"{lines}\n{errors.read_text()}"
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
            process.stdout.close()
    assert process.returncode == -signal.SIGKILL

    [intent] = photo_writes()
    assert intent["status"] == intents.PENDING
    written = objects_of(gallery_id)
    assert written and written == set(intent["data"]["objects"])  # the original and every rendition
    assert photos_of(gallery_id) == []
    assert_store_consistent()  # a pending write's objects are allowed

    # While the writer may still be alive, the scan neither adopts nor sweeps its objects.
    early = gallery_photos_scan()
    assert (early.created, early.orphan_objects_removed, early.failed_writes_cleaned) == (0, 0, 0)
    assert objects_of(gallery_id) == written

    past_staleness(monkeypatch)
    summary = gallery_photos_scan()
    assert (summary.failed_writes_cleaned, summary.created, summary.failed) == (1, 0, 0)
    assert objects_of(gallery_id) == set() and photo_writes() == [] and photos_of(gallery_id) == []
    assert gallery_item(gallery_id)["photoCount"] == 0
    assert_store_consistent()


# ---------------------------------------------------------------- 5. conflicts on the commit


def test_a_transaction_conflict_on_the_commit_is_retried_and_the_photo_made_once(store, curator):
    gallery_id = gallery_create(curator)
    with failing_calls(
        "dynamodb", "TransactWriteItems", "TransactionCanceledException", http_status=400, response=CONFLICT
    ) as commits:
        response = files_upload(curator, gallery_id, {"one.jpg": jpeg()})
    assert (commits.seen, commits.failed) == (2, 1)
    assert response.status_code == 201, response.content
    [photo] = photos_of(gallery_id)
    assert photo["photoId"] == response.json()["photos"][0]["photoId"]
    assert photo_writes() == []
    assert_store_consistent()


def test_a_conflict_that_never_clears_answers_503_with_retry_after_and_keeps_nothing(store, curator):
    gallery_id = gallery_create(curator)
    with failing_calls(
        "dynamodb",
        "TransactWriteItems",
        "TransactionCanceledException",
        http_status=400,
        response=CONFLICT,
        times=None,
    ) as commits:
        response = files_upload(curator, gallery_id, {"one.jpg": jpeg()})
    assert commits.failed == transactions.ATTEMPTS
    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) > 0 and set(response.json()) == ENVELOPE
    assert [failure["code"] for failure in failed_files(response)] == ["busy"]
    assert photos_of(gallery_id) == [] and objects_of(gallery_id) == set() and photo_writes() == []
    assert gallery_item(gallery_id)["photoCount"] == 0
    assert_store_consistent()


# ---------------------------------------------------------------- 6. direct uploads


def test_two_completions_of_one_upload_at_once_make_one_photo(store, curator):
    gallery_id = gallery_create(curator)
    [slot] = upload_slots(curator, gallery_id)
    assert slot_post(slot, jpeg()) in (200, 201, 204)
    apis = [store.curator_api(), store.curator_api()]
    answers = raced(*[(lambda api=api: uploads_complete(api, gallery_id, slot["uploadKey"])) for api in apis])

    [photo] = photos_of(gallery_id)
    for answer in answers:
        assert not isinstance(answer, BaseException), answer
        assert answer.status_code in (201, 409), answer.content
        if answer.status_code == 201:
            assert [made["photoId"] for made in answer.json()["photos"]] == [photo["photoId"]]
        else:
            assert set(answer.json()) == ENVELOPE
    assert 201 in {answer.status_code for answer in answers}
    assert slot["uploadKey"] not in objects_of(gallery_id)
    assert photo_writes() == []
    assert_store_consistent()


def test_dynamodb_failing_during_a_completion_keeps_the_upload_for_the_retry(store, curator):
    gallery_id = gallery_create(curator)
    [slot] = upload_slots(curator, gallery_id)
    assert slot_post(slot, jpeg()) in (200, 201, 204)
    with failing_calls("dynamodb", "TransactWriteItems", "ServiceUnavailable", times=None) as commits:
        failed = uploads_complete(curator, gallery_id, slot["uploadKey"])
    assert commits.failed >= 1
    assert failed.status_code == 503, failed.content
    assert int(failed["Retry-After"]) > 0 and set(failed.json()) == ENVELOPE
    assert objects_of(gallery_id) == {slot["uploadKey"]}  # only the upload: the rollback removed the rest
    assert photos_of(gallery_id) == [] and photo_writes() == []
    assert_store_consistent()

    retried = uploads_complete(curator, gallery_id, slot["uploadKey"])
    assert retried.status_code == 201, retried.content
    [photo] = photos_of(gallery_id)
    assert retried.json()["photos"][0]["photoId"] == photo["photoId"]
    assert slot["uploadKey"] not in objects_of(gallery_id)
    assert_store_consistent()


# ---------------------------------------------------------------- 7. a scan racing a slow upload


def test_a_scan_while_an_upload_waits_at_its_commit_adopts_and_sweeps_nothing_of_it(store, curator, settings):
    gallery_id = gallery_create(curator)
    uploader = store.curator_api()
    with held_calls("dynamodb", "TransactWriteItems") as commit, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(files_upload, uploader, gallery_id, {"slow.jpg": jpeg()})
        wait_parked(commit, pending)
        in_flight = objects_of(gallery_id)
        summary = gallery_photos_scan()
        assert objects_of(gallery_id) == in_flight
        commit.release()
        response = pending.result(timeout=30)

    assert in_flight  # the original and its renditions were in S3 while the scan ran
    assert (summary.created, summary.removed, summary.orphan_objects_removed) == (0, 0, 0)
    assert (summary.failed_writes_cleaned, summary.failed) == (0, 0)
    assert response.status_code == 201, response.content
    [photo] = photos_of(gallery_id)
    assert {photo["s3Key"], *photo["renditionKeys"]} == in_flight == objects_of(gallery_id)
    assert photo_writes() == []
    assert_store_consistent()


# ---------------------------------------------------------------- 8. renditions lost


def test_renditions_deleted_behind_the_services_back_are_made_again_by_the_scan(store, scene):
    [photo] = [photo for photo in photos_of(scene.gallery_id) if photo["photoId"] == scene.photo_ids[0]]
    lost = list(photo["renditionKeys"])
    for key in lost:
        reader("s3").delete_object(Bucket=django_settings.BUCKET_NAME, Key=key)
    assert not set(lost) & objects_of(scene.gallery_id)

    summary = gallery_photos_scan()
    assert (summary.updated, summary.created, summary.removed, summary.failed) == (1, 0, 0, 0)
    [again] = [photo for photo in photos_of(scene.gallery_id) if photo["photoId"] == scene.photo_ids[0]]
    assert set(again["renditionKeys"]) <= objects_of(scene.gallery_id)
    assert again["ratingCount"] == 1  # the photo kept its rating
    assert_store_consistent()


# ---------------------------------------------------------------- 9. two curators, one version


def test_two_curators_editing_the_same_version_at_once_one_wins_the_other_gets_412(store, client, scene):
    url = f"/api/galleries/{scene.gallery_id}"
    before = gallery_item(scene.gallery_id)
    tag = client.get(url)["ETag"]
    edits = [{"name": "Northern lights"}, {"description": "Fjords at dawn."}]
    apis = [store.curator_api(), store.curator_api()]
    answers = raced(
        *[
            (lambda api=api, edit=edit: api.put(url, edit, format="json", HTTP_IF_MATCH=tag))
            for api, edit in zip(apis, edits, strict=True)
        ]
    )

    for answer in answers:
        assert not isinstance(answer, BaseException), answer
    assert sorted(answer.status_code for answer in answers) == [200, 412], [a.content for a in answers]
    [winner] = [edit for edit, answer in zip(edits, answers, strict=True) if answer.status_code == 200]
    [loser] = [answer for answer in answers if answer.status_code == 412]
    assert set(loser.json()) == ENVELOPE
    stored = gallery_item(scene.gallery_id)
    expected = {"name": before["name"], "description": before["description"], **winner}
    assert {"name": stored["name"], "description": stored["description"]} == expected
    assert stored["version"] == before["version"] + 1
    assert_store_consistent()


def test_the_same_file_uploaded_twice_at_once_and_retried_blind_is_one_photo(store, curator):
    """Must-show 10 on the emulators: two identical uploads raced (a double click, a client retrying a
    request whose answer it lost while the first is still at work), then a blind retry later."""
    gallery_id = gallery_create(curator)
    card = jpeg()
    apis = [store.curator_api(), store.curator_api()]
    answers = raced(*[(lambda api=api: files_upload(api, gallery_id, {"card.jpg": card})) for api in apis])
    [photo] = photos_of(gallery_id)
    for answer in answers:
        assert not isinstance(answer, BaseException), answer
        assert answer.status_code in (201, 409), answer.content  # 409: identical upload in flight
        if answer.status_code == 201:
            assert answer.json()["photos"][0]["photoId"] == photo["photoId"]
    retry = files_upload(curator, gallery_id, {"card.jpg": card})
    assert retry.status_code == 201 and retry.json()["photos"][0]["duplicateOf"] == photo["photoId"]
    assert len(photos_of(gallery_id)) == 1
    assert_store_consistent()
