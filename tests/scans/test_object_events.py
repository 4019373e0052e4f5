"""S3 ObjectCreated events: at least once and in any order, every mix of doors ends in exactly one photo."""

import hashlib
from urllib.parse import quote_plus

import pytest
from django.conf import settings

from core import records
from core.aws import s3_client
from core.records import ServiceRecord
from photos import intents
from photos.models import GalleryPhoto
from photos.services import direct_upload
from scans import events
from scans.object_events import TryLater, object_created
from scans.photos_scan import WRITING, gallery_photos_scan
from tests.aws_faults import fail_nth
from tests.factories import jpeg_bytes
from tests.photos.test_direct_uploads import post_to_slot, slots


def photo_items(gallery_id: str) -> list[GalleryPhoto]:
    return list(GalleryPhoto.query(gallery_id, consistent_read=True))


def uploads_left() -> set[str]:
    listing = s3_client().list_objects_v2(Bucket=settings.BUCKET_NAME, Prefix="uploads/")
    return {item["Key"] for item in listing.get("Contents", [])}


def notification(*keys: str) -> dict:
    return {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "b"}, "object": {"key": quote_plus(key)}},
            }
            for key in keys
        ]
    }


def test_the_same_event_twice_makes_one_photo(aws, make_gallery, put_object):
    gallery_id = make_gallery()
    key = put_object(f"galleries/{gallery_id}/IMG 0001.jpg")  # a space: keys arrive URL-encoded
    first = events.photo_object_created(notification(key))
    again = events.photo_object_created(notification(key))
    assert first["objects"] == [{"key": key, "outcome": "created"}]
    assert again["objects"] == [{"key": key, "outcome": "exists"}]
    assert len(photo_items(gallery_id)) == 1


def test_an_event_for_an_object_an_upload_made_adds_nothing(aws, make_gallery, upload_photo):
    gallery_id = make_gallery()
    photo = upload_photo(gallery_id)
    [item] = photo_items(gallery_id)
    # Our own upload's original and renditions raise events too.
    assert object_created(item.s3_key) == "exists"
    assert all(object_created(key) == "ignored" for key in item.rendition_keys)
    assert [p.photo_id for p in photo_items(gallery_id)] == [photo["photoId"]]


def test_an_event_racing_a_scan_makes_one_photo_in_either_order(aws, make_gallery, put_object):
    gallery_id = make_gallery()
    first = put_object(f"galleries/{gallery_id}/a.jpg")
    assert gallery_photos_scan(gallery_id=gallery_id).created == 1
    assert object_created(first) == "exists"
    second = put_object(f"galleries/{gallery_id}/b.jpg")
    assert object_created(second) == "created"
    assert gallery_photos_scan(gallery_id=gallery_id).created == 0
    assert len(photo_items(gallery_id)) == 2


def test_a_copy_of_a_photo_already_there_is_not_a_second_photo(aws, make_gallery, put_object):
    gallery_id = make_gallery()
    card = jpeg_bytes(64, 48)
    assert object_created(put_object(f"galleries/{gallery_id}/a.jpg", card)) == "created"
    assert object_created(put_object(f"galleries/{gallery_id}/copy-of-a.jpg", card)) == "duplicates"
    assert len(photo_items(gallery_id)) == 1


def test_a_direct_uploads_event_makes_its_photo_with_the_slots_metadata_and_a_completion_answers_it(
    aws, curator, make_gallery
):
    gallery_id = make_gallery()
    [slot] = slots(curator, gallery_id, "image/jpeg", title="Dunes at dusk", tags=["Sahara"])
    post_to_slot(slot, jpeg_bytes(64, 48))
    first = events.photo_object_created(notification(slot["uploadKey"]))
    assert first["objects"] == [{"key": slot["uploadKey"], "outcome": "created"}]
    [item] = photo_items(gallery_id)
    assert (item.title, item.tags) == ("Dunes at dusk", ["sahara"])
    upload = {"uploadKey": slot["uploadKey"]}
    completion = curator.post(
        f"/api/galleries/{gallery_id}/photos/from-uploads", {"uploads": [upload]}, format="json"
    )
    assert completion.status_code == 201
    assert [photo["photoId"] for photo in completion.json()["photos"]] == [item.photo_id]
    again = events.photo_object_created(notification(slot["uploadKey"]))  # delivered again, later
    assert again["objects"] == [{"key": slot["uploadKey"], "outcome": f"photo {item.photo_id}"}]
    assert len(photo_items(gallery_id)) == 1


def test_a_slot_of_an_older_release_is_left_to_its_completion(aws, curator, make_gallery):
    """No slot record (made before slots kept one, or expired): the completion carries the metadata."""
    gallery_id = make_gallery()
    [slot] = slots(curator, gallery_id, "image/jpeg")
    records.record_drop(direct_upload.SLOT_KIND, hashlib.sha256(slot["uploadKey"].encode()).hexdigest()[:40])
    post_to_slot(slot, jpeg_bytes(64, 48))
    assert object_created(slot["uploadKey"]) == "left to its completion"
    upload = {"uploadKey": slot["uploadKey"], "title": "Dunes at dusk", "tags": ["sahara"]}
    completion = curator.post(
        f"/api/galleries/{gallery_id}/photos/from-uploads", {"uploads": [upload]}, format="json"
    )
    assert completion.status_code == 201
    [photo] = completion.json()["photos"]
    assert (photo["title"], photo["tags"]) == ("Dunes at dusk", ["sahara"])
    assert object_created(slot["uploadKey"]) == f"photo {photo['photoId']}"
    assert len(photo_items(gallery_id)) == 1


@pytest.mark.parametrize(
    ("operation", "times"),
    [("GetObject", 1), ("TransactWriteItems", 10)],
    ids=["reading the upload", "the commit"],
)
def test_a_direct_uploads_event_that_meets_a_storage_failure_is_tried_again_and_makes_one_photo(
    aws, curator, make_gallery, operation, times
):
    gallery_id = make_gallery()
    [slot] = slots(curator, gallery_id, "image/jpeg", title="Dunes")
    post_to_slot(slot, jpeg_bytes(64, 48))
    with fail_nth(operation, 1, times=times, code="SlowDown"), pytest.raises(TryLater) as later:
        events.photo_object_created(notification(slot["uploadKey"]))
    assert [failure["key"] for failure in later.value.failures] == [slot["uploadKey"]]
    assert not photo_items(gallery_id)
    assert slot["uploadKey"] in uploads_left()  # kept for the next delivery, its claim released
    assert not [record for record in ServiceRecord.scan() if record.kind == "upload"]
    again = events.photo_object_created(notification(slot["uploadKey"]))
    assert again["objects"] == [{"key": slot["uploadKey"], "outcome": "created"}]
    [photo] = photo_items(gallery_id)
    assert photo.title == "Dunes" and not uploads_left()


def test_a_direct_upload_that_is_not_an_image_is_refused_not_retried(aws, curator, make_gallery):
    gallery_id = make_gallery()
    [slot] = slots(curator, gallery_id, "image/jpeg")
    post_to_slot(slot, b"not a photo")
    [answer] = events.photo_object_created(notification(slot["uploadKey"]))["objects"]
    assert answer["outcome"].startswith("refused: ") and not photo_items(gallery_id)
    assert not uploads_left()


def test_objects_of_no_gallery_and_other_keys_are_left_to_the_scan(aws, put_object):
    assert object_created(put_object("galleries/no-such-gallery/a.jpg")) == "no-gallery"
    assert object_created("renditions/x/photo1-thumb.jpg") == "ignored"
    assert object_created("uploads/x/not-a-slot") == "ignored"
    deleted = {
        "Records": [{"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "galleries/g/a.jpg"}}}]
    }
    assert events.photo_object_created(deleted) == {"objects": []}
    s3_client().delete_object(Bucket=settings.BUCKET_NAME, Key="galleries/no-such-gallery/a.jpg")


def test_a_failure_a_retry_may_get_past_raises_after_the_other_objects_and_the_retry_makes_one_each(
    aws, make_gallery, put_object
):
    """S3 failing while one object's photo is made: the other object still becomes a photo, the event
    raises so Lambda delivers it again, and the delivery again makes the missing photo, no second one."""
    gallery_id = make_gallery()
    first = put_object(f"galleries/{gallery_id}/a.jpg", jpeg_bytes(64, 48))
    second = put_object(f"galleries/{gallery_id}/b.jpg", jpeg_bytes(48, 64))
    with fail_nth("GetObject", 1, code="SlowDown"), pytest.raises(TryLater) as later:
        events.photo_object_created(notification(first, second))
    assert [failure["key"] for failure in later.value.failures] == [first]
    assert {p.s3_key for p in photo_items(gallery_id)} == {second}
    again = events.photo_object_created(notification(first, second))
    assert again["objects"] == [{"key": first, "outcome": "created"}, {"key": second, "outcome": "exists"}]
    assert len(photo_items(gallery_id)) == 2


def test_a_file_that_can_never_be_a_photo_is_not_retried(aws, make_gallery, put_object):
    gallery_id = make_gallery()
    key = put_object(f"galleries/{gallery_id}/notes.txt", b"not a photo")
    [answer] = events.photo_object_created(notification(key))["objects"]
    assert answer["outcome"].startswith("refused: ") and not photo_items(gallery_id)


def test_an_original_an_upload_is_writing_is_left_to_it(aws, make_gallery, put_object):
    gallery_id = make_gallery()
    key = f"galleries/{gallery_id}/photo4.jpg"
    intents.intent_open(gallery_id=gallery_id, number=4, photo_id="p4", objects=[key])
    put_object(key)
    assert object_created(key) == f"left: {WRITING}"
    assert not photo_items(gallery_id)


def test_a_direct_upload_whose_event_never_came_is_made_by_the_photos_scan(aws, curator, make_gallery):
    """The event lost (or failed three times): the scan makes the photo from its slot's metadata, once."""
    gallery_id = make_gallery()
    [slot] = slots(curator, gallery_id, "image/jpeg", title="Lost event", tags=["dunes"])
    post_to_slot(slot, jpeg_bytes(64, 48))
    summary = gallery_photos_scan(gallery_id=gallery_id)
    assert (summary.created, summary.left, summary.failed) == (1, [], 0), summary.as_dict()
    [photo] = photo_items(gallery_id)
    assert (photo.title, list(photo.tags)) == ("Lost event", ["dunes"])
    assert object_created(slot["uploadKey"]) == f"photo {photo.photo_id}"  # the event, late: the same
    assert gallery_photos_scan(gallery_id=gallery_id).created == 0 and len(photo_items(gallery_id)) == 1
