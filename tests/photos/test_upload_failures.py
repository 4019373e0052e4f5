"""When S3 or DynamoDB fails at any step of an upload or delete, nothing half-made is left behind."""

import pytest
from django.conf import settings

from core.aws import s3_client
from galleries.models import Gallery
from photos.models import GalleryPhoto
from tests.aws_faults import fail_nth
from tests.factories import jpeg_bytes


def bucket_keys() -> set[str]:
    listing = s3_client().list_objects_v2(Bucket=settings.BUCKET_NAME)
    return {item["Key"] for item in listing.get("Contents", [])}


# Upload of one photo: UpdateItem (number), PutObject (original), HeadObject (its ETag), PutObject x4
# (renditions), TransactWriteItems (item + counts).
STEPS = [("UpdateItem", 1), ("HeadObject", 1)] + [("PutObject", n) for n in range(1, 6)]
STEPS += [("TransactWriteItems", 1)]


@pytest.mark.parametrize(("operation", "nth"), STEPS, ids=[f"{op}-{n}" for op, n in STEPS])
def test_a_failure_at_any_upload_step_leaves_no_item_and_no_object(aws, gallery_id, upload, operation, nth):
    with fail_nth(operation, nth) as seen:
        response = upload(gallery_id, {"one.jpg": jpeg_bytes()})
    assert seen["count"] >= nth, "the step under test was never reached"
    assert response.status_code == 503, response.content
    assert set(response.json()) == {"error", "details"}
    assert not list(GalleryPhoto.query(gallery_id))
    assert bucket_keys() == set()
    assert Gallery.get(gallery_id).photo_count == 0


@pytest.mark.parametrize(
    ("code", "status"),
    [("ServiceUnavailable", 503), ("ValidationException", 500)],
    ids=["throttled", "our-bug"],
)
def test_a_batch_nothing_of_which_was_stored_is_a_5xx_when_the_service_failed_any_file(
    aws, gallery_id, upload, code, status
):
    """One file is no photo (415), the other met a fault of the service: the answer is the service's
    fault (503 to try again, or 500), never a 400 that would tell the client its request was wrong."""
    with fail_nth("TransactWriteItems", 1, times=10, code=code):
        response = upload(gallery_id, {"notes.jpg": b"not a photo", "a.jpg": jpeg_bytes()})
    assert response.status_code == status, response.content
    assert sorted(f["status"] for f in response.json()["details"]["files"]) == sorted([415, status])
    assert response.json()["details"]["requestId"]
    assert ("Retry-After" in response) == (status == 503)


def test_a_failed_photo_in_a_batch_does_not_stop_the_others(aws, gallery_id, upload, settings):
    settings.PHOTO_PROCESSING_WORKERS = 1  # deterministic order of AWS calls
    with fail_nth("TransactWriteItems", 2):
        response = upload(gallery_id, {"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes(), "c.jpg": jpeg_bytes()})
    assert response.status_code == 207, response.content
    body = response.json()
    assert len(body["photos"]) == 2 and [e["status"] for e in body["errors"]] == [503]
    items = list(GalleryPhoto.query(gallery_id))
    assert len(items) == 2 == Gallery.get(gallery_id).photo_count
    expected = {item.s3_key for item in items} | {key for item in items for key in item.rendition_keys}
    assert bucket_keys() == expected


def test_a_delete_interrupted_by_s3_hides_the_photo_and_a_retry_finishes_it(
    aws, gallery_id, upload, curator, client
):
    [photo] = upload(gallery_id).json()["photos"]
    url = f"/api/galleries/{gallery_id}/photos/{photo['photoId']}"
    with fail_nth("DeleteObjects", 1):
        assert curator.delete(url).status_code == 503
    # Readers no longer see it, the count already dropped, but the item waits to be finished.
    assert client.get(url).status_code == 404
    assert client.get(f"/api/galleries/{gallery_id}").json()["photoCount"] == 0
    assert GalleryPhoto.get(gallery_id, photo["photoId"]).deleting_at is not None
    assert curator.delete(url).status_code == 200
    assert not list(GalleryPhoto.query(gallery_id))
    assert bucket_keys() == set()
    assert Gallery.get(gallery_id).photo_count == 0
