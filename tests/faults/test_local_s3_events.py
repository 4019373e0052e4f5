"""`make run`'s S3 events, end to end on real emulators: s3rver (started by devtools' own command line)
writes an event file for each object put into the local bucket, and the courier hands it to the handler
S3 calls on AWS, so a photo copied into a gallery's folder appears within seconds, exactly once."""

import json
import time
from urllib.parse import quote_plus

from django.conf import settings

from devtools.local_services.probes import local_aws_client
from devtools.local_services.s3_events import EventCourier
from photos.models import GalleryPhoto
from scans.events import photo_object_created
from tests.factories import jpeg_bytes

WITHIN_SECONDS = 10.0


def courier_of(store, tmp_path, deliver=photo_object_created) -> EventCourier:
    return EventCourier(store.services.s3_events, tmp_path / "failed", deliver)


def deliver_until(courier: EventCourier, done, timeout: float = WITHIN_SECONDS) -> float:
    """Run the courier's passes until ``done()``; the seconds it took."""
    started = time.monotonic()
    while not done():
        assert time.monotonic() - started < timeout, "the events were not delivered in time"
        courier.deliver_pending()
        time.sleep(0.05)
    return time.monotonic() - started


def photos_of(gallery_id: str) -> list[GalleryPhoto]:
    return list(GalleryPhoto.query(gallery_id, consistent_read=True))


def test_photos_copied_into_the_local_bucket_appear_by_themselves_exactly_once(store, curator, tmp_path):
    body = {"name": "Card", "continent": "Europe", "country": "Portugal"}
    gallery_id = curator.post("/api/galleries", body, format="json").json()["galleryId"]
    s3 = local_aws_client("s3", store.services.s3.endpoint_url)
    card = [f"galleries/{gallery_id}/DSC_{n:04d} copy.jpg" for n in range(4)]  # a space: keys are encoded
    for number, key in enumerate(card):
        s3.put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=jpeg_bytes(96 + number, 64))
    courier = courier_of(store, tmp_path)
    took = deliver_until(courier, lambda: len(photos_of(gallery_id)) == len(card))
    assert sorted(photo.s3_key for photo in photos_of(gallery_id)) == sorted(card)
    # Every event delivered again (at least once): no second photo of any of them.
    for number, key in enumerate(card):
        event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": quote_plus(key)}}}]}
        (store.services.s3_events / f"9{number}.json").write_text(json.dumps(event))
    deliver_until(courier, lambda: not list(store.services.s3_events.glob("*.json")))
    assert len(photos_of(gallery_id)) == len(card)
    assert not (tmp_path / "failed").exists()
    print(f"{len(card)} photos copied into the local bucket appeared in {took:.1f} s")


def test_an_event_whose_delivery_keeps_failing_is_set_aside_and_the_scan_still_finds_the_photo(
    store, curator, tmp_path, monkeypatch
):
    monkeypatch.setattr("devtools.local_services.s3_events.RETRY_AFTER_SECONDS", (0.0, 0.0))
    body = {"name": "Card", "continent": "Europe", "country": "Portugal"}
    gallery_id = curator.post("/api/galleries", body, format="json").json()["galleryId"]
    key = f"galleries/{gallery_id}/IMG_0001.jpg"
    local_aws_client("s3", store.services.s3.endpoint_url).put_object(
        Bucket=settings.BUCKET_NAME, Key=key, Body=jpeg_bytes(64, 48)
    )

    def failing(event):
        raise RuntimeError("DynamoDB Local did not answer")

    courier = courier_of(store, tmp_path, deliver=failing)
    failed = tmp_path / "failed"
    deliver_until(courier, lambda: failed.exists() and any(failed.glob("*.json")))
    assert photos_of(gallery_id) == []
    assert "DynamoDB Local did not answer" in next(failed.glob("*.error.txt")).read_text()
    summary = curator.post(f"/galleries?action=update_GalleryPhotos&id={gallery_id}", format="json").json()
    assert summary["created"] == 1 and [photo.s3_key for photo in photos_of(gallery_id)] == [key]
