"""Photos too large for API Gateway go straight to S3 through presigned POST forms, then become photos:
by S3's event with the slot's metadata, by the browser's completion, or both, always one photo."""

import base64
import hashlib
import json
import threading
from datetime import timedelta

import botocore.client
import pytest
import requests

from core import records
from core.aws import s3_client
from photos import imaging
from photos.models import GalleryPhoto, PhotoTag
from photos.serializers import ACCEPTED_CONTENT_TYPES, MAX_TAGS
from photos.services import direct_upload
from scans.object_events import object_created
from tests.factories import jpeg_bytes


def post_to_slot(slot: dict, data: bytes, content_type: str = "image/jpeg") -> int:
    """What a browser does with a slot: a multipart POST of the form fields and the file to S3."""
    files = {"file": ("photo", data, content_type)}
    response = requests.post(slot["url"], data=slot["fields"], files=files, timeout=30)
    return response.status_code


def slots(curator, gallery_id: str, *content_types: str, keep_duplicate: bool = False, **metadata):
    """Slots for files of these types, each with ``metadata`` (title, description, tags, altText...)."""
    files = [{"filename": f"f{n}", "contentType": ct, **metadata} for n, ct in enumerate(content_types)]
    body = {"files": files, **({"keepDuplicate": True} if keep_duplicate else {})}
    response = curator.post(f"/api/galleries/{gallery_id}/uploads", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["uploads"]


def complete(curator, gallery_id: str, *uploads: dict):
    """The browser's completion: make photos of these uploads (uploadKey and metadata each)."""
    body = {"uploads": list(uploads)}
    return curator.post(f"/api/galleries/{gallery_id}/photos/from-uploads", body, format="json")


def photo_items(gallery_id: str) -> list[GalleryPhoto]:
    return list(GalleryPhoto.query(gallery_id, consistent_read=True))


def record_kinds() -> set[tuple[str, str]]:
    return {(record.kind, record.status) for record in records.ServiceRecord.scan()}


def described(photo: GalleryPhoto) -> tuple:
    return (photo.title, photo.description, list(photo.tags or []), photo.alt_text)


def tag_entries(gallery_id: str) -> set[tuple[str, str]]:
    return {(entry.tag, entry.photo_id) for entry in PhotoTag.scan() if entry.gallery_id == gallery_id}


DUNES = {
    "filename": "IMG_0042.JPG",
    "title": "Dunes at dusk",
    "description": "Erg Chebbi,\r\nafter the wind",
    "tags": ["Sahara", "sand", "sahara"],
    "altText": "Orange dunes under a pale sky",
}


def bucket_keys(settings) -> set[str]:
    listing = s3_client().list_objects_v2(Bucket=settings.BUCKET_NAME)
    return {item["Key"] for item in listing.get("Contents", [])}


def test_a_photo_posted_to_a_slot_becomes_a_photo_and_the_upload_object_goes(
    aws, curator, gallery_id, settings
):
    [slot] = slots(curator, gallery_id, "image/jpeg")
    assert (
        slot["uploadKey"].startswith(f"uploads/{gallery_id}/")
        and slot["maxBytes"] == settings.PHOTO_MAX_BYTES
    )
    original = jpeg_bytes(1800, 1200, taken="2019:03:03 10:00:00")
    assert post_to_slot(slot, original) in (200, 201, 204)
    body = {"uploads": [{"uploadKey": slot["uploadKey"], "filename": "IMG_0042.JPG", "tags": ["Dunes"]}]}
    response = curator.post(f"/api/galleries/{gallery_id}/photos/from-uploads", body, format="json")
    assert response.status_code == 201, response.content
    [photo] = response.json()["photos"]
    assert photo["title"] == "IMG_0042" and photo["tags"] == ["dunes"] and photo["photoNumber"] == 1
    assert s3_client().get_object(Bucket=settings.BUCKET_NAME, Key=photo["s3Key"])["Body"].read() == original
    assert not any(key.startswith("uploads/") for key in bucket_keys(settings))


def test_the_size_limit_is_in_the_s3_policy_and_checked_again_after(aws, curator, gallery_id, settings):
    settings.PHOTO_MAX_BYTES = 5_000
    [slot] = slots(curator, gallery_id, "image/jpeg")
    # S3 enforces the signed policy's range; moto does not, so the policy itself is checked here...
    policy = json.loads(base64.b64decode(slot["fields"]["policy"]))
    assert ["content-length-range", 1, 5_000] in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    # ...and the service refuses an oversized object anyway.
    post_to_slot(slot, jpeg_bytes(900, 600, quality=95))
    body = {"uploads": [{"uploadKey": slot["uploadKey"]}]}
    response = curator.post(f"/api/galleries/{gallery_id}/photos/from-uploads", body, format="json")
    assert response.status_code == 413 and response.json()["details"]["files"][0]["code"] == "too_large"
    assert not any(key.startswith("uploads/") for key in bucket_keys(settings))


def test_missing_bad_and_foreign_uploads_are_refused(aws, curator, gallery_id, settings):
    good, empty_slot, bad = slots(curator, gallery_id, "image/jpeg", "image/jpeg", "image/jpeg")
    post_to_slot(good, jpeg_bytes())
    post_to_slot(bad, b"not an image at all")
    uploads = [{"uploadKey": slot["uploadKey"]} for slot in (good, empty_slot, bad)]
    response = curator.post(
        f"/api/galleries/{gallery_id}/photos/from-uploads", {"uploads": uploads}, format="json"
    )
    assert response.status_code == 207, response.content
    assert [(e["index"], e["code"]) for e in response.json()["errors"]] == [
        (1, "upload_missing"),
        (2, "not_an_image"),
    ]
    assert not any(key.startswith("uploads/") for key in bucket_keys(settings))
    foreign = {"uploads": [{"uploadKey": "galleries/other/photo1.jpg"}]}
    refused = curator.post(f"/api/galleries/{gallery_id}/photos/from-uploads", foreign, format="json")
    assert refused.status_code == 400 and "uploads" in refused.json()["details"]


def test_slots_need_a_curator_and_an_accepted_content_type(aws, client, curator, gallery_id):
    body = {"files": [{"contentType": "image/jpeg"}]}
    assert client.post(f"/api/galleries/{gallery_id}/uploads", body, format="json").status_code == 401
    gif = {"files": [{"contentType": "image/gif"}]}
    assert curator.post(f"/api/galleries/{gallery_id}/uploads", gif, format="json").status_code == 400
    assert curator.post("/api/galleries/missing/uploads", body, format="json").status_code == 404


def test_accepted_content_types_match_the_imaging_formats():
    assert set(ACCEPTED_CONTENT_TYPES) == set(imaging.STORED_TYPES)


def test_each_upload_object_is_read_from_s3_once_and_copied_not_sent_again(
    aws, curator, gallery_id, settings, monkeypatch
):
    import botocore.client

    uploads = slots(curator, gallery_id, "image/jpeg", "image/jpeg")
    for slot in uploads:
        assert post_to_slot(slot, jpeg_bytes(64, 48)) == 204
    calls = []
    real_call = botocore.client.BaseClient._make_api_call

    def recording(client, operation, params):
        calls.append((operation, params.get("Key"), params.get("CopySource", {}).get("Key")))
        return real_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    body = {"uploads": [{"uploadKey": slot["uploadKey"]} for slot in uploads]}
    response = curator.post(f"/api/galleries/{gallery_id}/photos/from-uploads", body, format="json")
    assert response.status_code == 201, response.content
    for slot in uploads:
        key = slot["uploadKey"]
        touching = [operation for operation, target, source in calls if key in (target, source)]
        assert sorted(touching) == ["CopyObject", "GetObject"], touching  # one read, one server-side copy
    originals = {photo["s3Key"] for photo in response.json()["photos"]}
    assert not any(operation == "PutObject" and target in originals for operation, target, _ in calls)
    for key in originals:  # the copy carries the detected type, not the one the browser declared
        assert s3_client().head_object(Bucket=settings.BUCKET_NAME, Key=key)["ContentType"] == "image/jpeg"


# ---------------------------------------------------------------- S3's event makes the photo


def test_a_slot_with_metadata_and_the_event_alone_make_the_photo(aws, curator, gallery_id, settings):
    [slot] = slots(curator, gallery_id, "image/jpeg", **DUNES)
    assert post_to_slot(slot, jpeg_bytes(64, 48)) == 204
    assert object_created(slot["uploadKey"]) == "created"  # no completion call
    [photo] = photo_items(gallery_id)
    assert described(photo) == (
        "Dunes at dusk",
        "Erg Chebbi,\nafter the wind",
        ["sahara", "sand"],
        "Orange dunes under a pale sky",
    )
    assert tag_entries(gallery_id) == {("sahara", photo.photo_id), ("sand", photo.photo_id)}
    assert not any(key.startswith("uploads/") for key in bucket_keys(settings))
    kinds = record_kinds()  # the slot's record went with its upload; the claim answers from now on
    assert ("upload", "done") in kinds and not any(kind == "upload-slot" for kind, _ in kinds)
    listed = curator.get(f"/api/galleries/{gallery_id}/photos").json()["results"]
    assert [(p["title"], p["photoNumber"]) for p in listed] == [("Dunes at dusk", 1)]


def test_a_slot_without_metadata_gets_the_file_names_title_and_the_event_twice_makes_one_photo(
    aws, curator, gallery_id
):
    [slot] = slots(curator, gallery_id, "image/jpeg", filename="IMG_0007.jpg")
    post_to_slot(slot, jpeg_bytes(64, 48))
    assert object_created(slot["uploadKey"]) == "created"
    [photo] = photo_items(gallery_id)
    assert object_created(slot["uploadKey"]) == f"photo {photo.photo_id}"
    assert described(photo) == ("IMG_0007", "", [], "")
    assert len(photo_items(gallery_id)) == 1


def test_event_then_completion_with_the_same_metadata_changes_nothing(aws, curator, gallery_id):
    [slot] = slots(curator, gallery_id, "image/jpeg", **DUNES)
    post_to_slot(slot, jpeg_bytes(64, 48))
    assert object_created(slot["uploadKey"]) == "created"
    [made] = photo_items(gallery_id)
    answer = complete(curator, gallery_id, {"uploadKey": slot["uploadKey"], **DUNES})
    assert answer.status_code == 201, answer.content
    assert [p["photoId"] for p in answer.json()["photos"]] == [made.photo_id]
    [photo] = photo_items(gallery_id)
    assert described(photo) == described(made) and photo.version == made.version  # not edited


def test_event_then_completion_with_other_metadata_applies_it_once(aws, curator, gallery_id):
    """Today's browser flow sends the metadata only with the completion: the event made the photo with
    the slot's (the file name's title), the completion's metadata is applied as an edit, once."""
    [slot] = slots(curator, gallery_id, "image/jpeg", filename="IMG_0042.JPG", tags=["draft"])
    post_to_slot(slot, jpeg_bytes(64, 48))
    assert object_created(slot["uploadKey"]) == "created"
    [made] = photo_items(gallery_id)
    assert described(made) == ("IMG_0042", "", ["draft"], "")
    sent = {"uploadKey": slot["uploadKey"], "title": "Dunes at dusk", "tags": ["Sahara"], "altText": "Dunes"}
    answer = complete(curator, gallery_id, sent)
    assert answer.status_code == 201, answer.content
    [answered] = answer.json()["photos"]
    assert (answered["photoId"], answered["title"], answered["tags"]) == (
        made.photo_id,
        "Dunes at dusk",
        ["sahara"],
    )
    [photo] = photo_items(gallery_id)
    assert described(photo) == ("Dunes at dusk", "", ["sahara"], "Dunes")  # description: the slot's
    assert tag_entries(gallery_id) == {("sahara", made.photo_id)}  # the edit's tag entries, as PATCH's
    # A curator edits the title; the same completion again (a retry) changes nothing.
    edit = curator.patch(
        f"/api/galleries/{gallery_id}/photos/{made.photo_id}", {"title": "Mine"}, format="json"
    )
    assert edit.status_code == 200, edit.content
    version = photo_items(gallery_id)[0].version
    again = complete(curator, gallery_id, sent)
    assert again.status_code == 201 and again.json()["photos"][0]["title"] == "Mine"
    [photo] = photo_items(gallery_id)
    assert (photo.title, photo.version) == ("Mine", version)
    # A completion that says something new wins again, for what it sends.
    newer = complete(curator, gallery_id, {**sent, "description": "After the wind"})
    assert newer.status_code == 201
    assert described(photo_items(gallery_id)[0]) == ("Mine", "After the wind", ["sahara"], "Dunes")
    assert len(photo_items(gallery_id)) == 1


def test_completion_then_event_make_one_photo_with_the_completions_metadata_over_the_slots(
    aws, curator, gallery_id, settings
):
    [slot] = slots(curator, gallery_id, "image/jpeg", **DUNES)
    post_to_slot(slot, jpeg_bytes(64, 48))
    answer = complete(
        curator, gallery_id, {"uploadKey": slot["uploadKey"], "title": "Erg Chebbi", "tags": []}
    )
    assert answer.status_code == 201, answer.content
    [photo] = photo_items(gallery_id)
    assert described(photo) == ("Erg Chebbi", "Erg Chebbi,\nafter the wind", [], DUNES["altText"])
    assert object_created(slot["uploadKey"]) == f"photo {photo.photo_id}"
    assert [p.photo_id for p in photo_items(gallery_id)] == [photo.photo_id]
    assert not any(key.startswith("uploads/") for key in bucket_keys(settings))


def test_completion_and_event_at_the_same_time_end_in_one_photo(aws, curator, gallery_id):
    uploads = slots(curator, gallery_id, "image/jpeg", "image/jpeg", "image/jpeg", **DUNES)
    for slot in uploads:
        post_to_slot(slot, jpeg_bytes(64, 48))
    for slot in uploads:
        start = threading.Barrier(2)
        outcomes: list[str] = []

        def event(key=slot["uploadKey"], start=start, outcomes=outcomes):
            start.wait()
            outcomes.append(object_created(key))

        thread = threading.Thread(target=event)
        thread.start()
        start.wait()
        answer = complete(curator, gallery_id, {"uploadKey": slot["uploadKey"], "title": "Dunes at dusk"})
        thread.join()
        assert answer.status_code == 201, answer.content
        [photo] = answer.json()["photos"]
        assert outcomes in (["created"], [f"photo {photo['photoId']}"]), outcomes
    # Whichever came first, the photo has the slot's metadata under the completion's.
    expected = ("Dunes at dusk", "Erg Chebbi,\nafter the wind", ["sahara", "sand"], DUNES["altText"])
    assert [described(photo) for photo in photo_items(gallery_id)] == [expected] * 3


@pytest.fixture
def held_reads(monkeypatch):
    """S3 reads of upload objects wait until ``released`` is set: an event caught while at work."""
    released, reading = threading.Event(), threading.Event()
    previous = botocore.client.BaseClient._make_api_call

    def call(client, operation, params):
        if operation == "GetObject" and str(params.get("Key", "")).startswith("uploads/"):
            reading.set()
            released.wait(30)
        return previous(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    return reading, released


def test_a_completion_sent_while_the_event_is_at_work_waits_and_answers_its_photo(
    aws, curator, gallery_id, held_reads
):
    reading, released = held_reads
    [slot] = slots(curator, gallery_id, "image/jpeg", filename="IMG_0042.JPG")
    post_to_slot(slot, jpeg_bytes(64, 48))
    outcomes: list[str] = []
    thread = threading.Thread(target=lambda: outcomes.append(object_created(slot["uploadKey"])))
    thread.start()
    assert reading.wait(10)  # the event holds the claim and reads the upload
    threading.Timer(0.5, released.set).start()
    answer = complete(curator, gallery_id, {"uploadKey": slot["uploadKey"], "title": "Dunes"})
    thread.join()
    assert outcomes == ["created"]
    assert answer.status_code == 201, answer.content
    [photo] = photo_items(gallery_id)
    assert answer.json()["photos"][0]["photoId"] == photo.photo_id and photo.title == "Dunes"


def test_past_the_wait_a_completion_is_told_the_upload_is_busy(
    aws, curator, gallery_id, held_reads, monkeypatch
):
    monkeypatch.setattr(direct_upload, "BUSY_WAIT", timedelta(seconds=0.3))
    reading, released = held_reads
    [slot] = slots(curator, gallery_id, "image/jpeg")
    post_to_slot(slot, jpeg_bytes(64, 48))
    outcomes: list[str] = []
    thread = threading.Thread(target=lambda: outcomes.append(object_created(slot["uploadKey"])))
    thread.start()
    assert reading.wait(10)
    busy = complete(curator, gallery_id, {"uploadKey": slot["uploadKey"]})
    released.set()
    thread.join()
    assert busy.status_code == 409 and busy.json()["details"]["files"][0]["code"] == "upload_busy"
    assert outcomes == ["created"] and len(photo_items(gallery_id)) == 1
    assert complete(curator, gallery_id, {"uploadKey": slot["uploadKey"]}).status_code == 201


def test_a_completion_waits_only_for_an_event_not_for_another_completion(aws, curator, gallery_id):
    [slot] = slots(curator, gallery_id, "image/jpeg")
    post_to_slot(slot, jpeg_bytes(64, 48))
    claim_id = hashlib.sha256(slot["uploadKey"].encode()).hexdigest()[:40]
    held = records.record_take(
        "upload", claim_id, owner="other", status="claimed", lifetime=timedelta(minutes=5),
        data={"by": "event"},
    )  # fmt: skip
    assert held is not None
    threading.Timer(0.5, records.record_release, args=[held]).start()  # an event that failed and let go
    answer = complete(curator, gallery_id, {"uploadKey": slot["uploadKey"]})
    assert answer.status_code == 201, answer.content  # waited, then made the photo itself
    [other] = slots(curator, gallery_id, "image/jpeg")
    post_to_slot(other, jpeg_bytes(48, 64))
    other_id = hashlib.sha256(other["uploadKey"].encode()).hexdigest()[:40]
    records.record_take(
        "upload", other_id, owner="other", status="claimed", lifetime=timedelta(minutes=5),
        data={"by": "completion"},
    )  # fmt: skip
    busy = complete(curator, gallery_id, {"uploadKey": other["uploadKey"]})
    assert busy.status_code == 409  # at once: that client is told to ask again


def test_the_slots_metadata_is_checked_and_cleaned_as_a_completions(aws, curator, gallery_id):
    too_many = {"files": [{"contentType": "image/jpeg", "tags": [f"t{n}" for n in range(MAX_TAGS + 1)]}]}
    refused = curator.post(f"/api/galleries/{gallery_id}/uploads", too_many, format="json")
    assert refused.status_code == 400
    assert refused.json()["details"]["files"]["0"]["tags"] == [f"At most {MAX_TAGS} tags per photo."]
    long_title = {"files": [{"contentType": "image/jpeg", "title": "t" * 201}]}
    assert curator.post(f"/api/galleries/{gallery_id}/uploads", long_title, format="json").status_code == 400
    [slot] = slots(curator, gallery_id, "image/jpeg", title="\x1b[31m<b>Dunes</b>\x9b\n", tags=["Sand\x1b"])
    post_to_slot(slot, jpeg_bytes(64, 48))
    assert object_created(slot["uploadKey"]) == "created"
    [photo] = photo_items(gallery_id)
    assert (photo.title, photo.tags) == ("[31m<b>Dunes</b>", ["sand"])


def test_a_file_that_is_not_an_image_is_refused_by_the_event_and_the_completion_answers_the_same(
    aws, curator, gallery_id, settings
):
    [slot] = slots(curator, gallery_id, "image/jpeg", title="Notes")
    post_to_slot(slot, b"not an image at all")
    assert object_created(slot["uploadKey"]).startswith("refused: ")  # no retry asked for
    assert not photo_items(gallery_id) and slot["uploadKey"] not in bucket_keys(settings)
    answer = complete(curator, gallery_id, {"uploadKey": slot["uploadKey"]})
    [refusal] = answer.json()["details"]["files"]
    assert (answer.status_code, refusal["code"]) == (415, "not_an_image")
    assert object_created(slot["uploadKey"]).startswith("refused: ")  # delivered again: the same answer
    assert not photo_items(gallery_id)


def test_keep_duplicate_goes_with_the_slots(aws, curator, gallery_id, upload):
    card = jpeg_bytes(64, 48)
    first = upload(gallery_id, {"a.jpg": card}).json()["photos"][0]
    [same] = slots(curator, gallery_id, "image/jpeg")
    post_to_slot(same, card)
    assert object_created(same["uploadKey"]) == "duplicates"
    answer = complete(curator, gallery_id, {"uploadKey": same["uploadKey"], "title": "Not applied"})
    assert answer.json()["photos"][0]["duplicateOf"] == first["photoId"]  # the first photo, unchanged
    assert [p.title for p in photo_items(gallery_id)] == ["a"]
    [kept] = slots(curator, gallery_id, "image/jpeg", keep_duplicate=True)
    post_to_slot(kept, card)
    assert object_created(kept["uploadKey"]) == "created" and len(photo_items(gallery_id)) == 2


def test_a_slot_whose_name_and_type_promise_different_formats_is_refused_before_any_upload(
    aws, curator, gallery_id
):
    """The event makes the photo from the slot alone: a .png name for an image/jpeg file would be refused
    then, for good. Refused at once instead, and nothing is recorded."""
    files = [{"filename": "dunes.png", "contentType": "image/jpeg"}]
    response = curator.post(f"/api/galleries/{gallery_id}/uploads", {"files": files}, format="json")
    assert response.status_code == 400, response.content
    assert "dunes.png" in json.dumps(response.json())
    files = [
        {"filename": "dunes.JPG", "contentType": "image/jpeg"},
        {"filename": "notes", "contentType": "image/png"},
    ]
    assert (
        curator.post(f"/api/galleries/{gallery_id}/uploads", {"files": files}, format="json").status_code
        == 201
    )
