"""S3 ObjectCreated events: at least once and in any order, every mix of doors ends in exactly one photo."""

from urllib.parse import quote_plus

from django.conf import settings

from core.aws import s3_client
from photos.models import GalleryPhoto
from scans import events
from scans.object_events import object_created
from scans.photos_scan import gallery_photos_scan
from tests.factories import jpeg_bytes
from tests.photos.test_direct_uploads import post_to_slot, slots


def photo_items(gallery_id: str) -> list[GalleryPhoto]:
    return list(GalleryPhoto.query(gallery_id, consistent_read=True))


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


def test_a_direct_upload_is_left_to_the_browsers_completion_which_carries_its_metadata(
    aws, curator, make_gallery
):
    gallery_id = make_gallery()
    [slot] = slots(curator, gallery_id, "image/jpeg")
    post_to_slot(slot, jpeg_bytes(64, 48))
    assert object_created(slot["uploadKey"]) == "left to its completion"  # the event comes first
    upload = {"uploadKey": slot["uploadKey"], "title": "Dunes at dusk", "tags": ["sahara"]}
    completion = curator.post(
        f"/api/galleries/{gallery_id}/photos/from-uploads", {"uploads": [upload]}, format="json"
    )
    assert completion.status_code == 201
    [photo] = completion.json()["photos"]
    assert (photo["title"], photo["tags"]) == ("Dunes at dusk", ["sahara"])
    assert object_created(slot["uploadKey"]) == f"photo {photo['photoId']}"  # delivered again, later
    assert len(photo_items(gallery_id)) == 1


def test_objects_of_no_gallery_and_other_keys_are_left_to_the_scan(aws, put_object):
    assert object_created(put_object("galleries/no-such-gallery/a.jpg")) == "no-gallery"
    assert object_created("renditions/x/photo1-thumb.jpg") == "ignored"
    assert object_created("uploads/x/not-a-slot") == "ignored"
    deleted = {
        "Records": [{"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "galleries/g/a.jpg"}}}]
    }
    assert events.photo_object_created(deleted) == {"objects": []}
    s3_client().delete_object(Bucket=settings.BUCKET_NAME, Key="galleries/no-such-gallery/a.jpg")
