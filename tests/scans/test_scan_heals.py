"""Scans heal: items indexed by photo id, renditions checked and made again, a deadline that stops a
scan cleanly and says where the next run resumes."""

import pytest
from django.conf import settings

from core import deadline
from core.aws import s3_client
from galleries.models import Gallery
from photos.models import GalleryPhoto
from scans import events, photos_scan
from scans.photos_scan import gallery_photos_scan


def photo_items(gallery_id: str) -> list[GalleryPhoto]:
    return sorted(GalleryPhoto.query(gallery_id, consistent_read=True), key=lambda p: int(p.photo_number))


def bucket_keys() -> set[str]:
    listing = s3_client().list_objects_v2(Bucket=settings.BUCKET_NAME)
    return {item["Key"] for item in listing.get("Contents", [])}


def twin_of_the_only_photo(gallery_id: str, *, with_renditions: bool) -> tuple[GalleryPhoto, GalleryPhoto]:
    """A second item holding the same original, as an older release's scan could leave (the next number,
    and copies of the renditions under it when asked)."""
    [first] = photo_items(gallery_id)
    number = int(first.photo_number) + 1
    renditions = [
        key.replace(f"photo{first.photo_number}-", f"photo{number}-") for key in first.rendition_keys
    ]
    twin = GalleryPhoto(
        gallery_id,
        "twin" + first.photo_id[4:],
        photo_number=number,
        s3_key=first.s3_key,
        rendition_keys=renditions if with_renditions else [],
        original_etag=first.original_etag,
        original_size=first.original_size,
        uploaded_at=first.uploaded_at,
    )
    for source, target in zip(first.rendition_keys, twin.rendition_keys, strict=False):
        bucket = settings.BUCKET_NAME
        s3_client().copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source})
    twin.save()
    Gallery(gallery_id).update(actions=[Gallery.photo_count.set(2), Gallery.last_photo_number.set(number)])
    return first, twin


def test_missing_renditions_are_made_again_from_the_original(aws, make_gallery, upload_photo):
    gallery_id = make_gallery()
    photo = upload_photo(gallery_id)
    [item] = photo_items(gallery_id)
    lost = [key for key in item.rendition_keys if key.endswith(".jpg")][:2]
    s3_client().delete_objects(
        Bucket=settings.BUCKET_NAME, Delete={"Objects": [{"Key": key} for key in lost]}
    )

    summary = gallery_photos_scan(gallery_id=gallery_id)
    assert (summary.updated, summary.created, summary.removed) == (1, 0, 0)
    assert set(item.rendition_keys) <= bucket_keys()
    [again] = photo_items(gallery_id)
    assert again.photo_id == photo["photoId"] and again.photo_number == item.photo_number
    assert gallery_photos_scan(gallery_id=gallery_id).updated == 0  # healed: nothing more to do


def test_two_items_sharing_an_original_both_keep_their_renditions(aws, make_gallery, upload_photo):
    """An older release's scan could adopt an upload's original as a second item: indexed by key, one
    of the two lost its renditions at every scan. Indexed by photo id, no referenced object is deleted."""
    gallery_id = make_gallery()
    upload_photo(gallery_id)
    first, twin = twin_of_the_only_photo(gallery_id, with_renditions=True)

    for _ in range(2):
        summary = gallery_photos_scan(gallery_id=gallery_id)
        assert (summary.removed, summary.orphan_objects_removed, summary.failed) == (0, 0, 0)
    present = bucket_keys()
    assert set(first.rendition_keys) <= present and set(twin.rendition_keys) <= present


def test_a_scan_that_reaches_its_deadline_stops_cleanly_and_says_where_to_resume(
    aws, make_gallery, put_object, monkeypatch
):
    galleries = [make_gallery(name=f"G{n}") for n in range(3)]
    for gallery_id in galleries:
        put_object(f"galleries/{gallery_id}/a.jpg")
    # Time runs out after the first gallery: the margin is reached as soon as one was scanned.
    scanned: list[str] = []
    real_scan_gallery = photos_scan._PhotosRun.scan_gallery

    def scan_gallery(self, gallery_id):
        scanned.append(gallery_id)
        real_scan_gallery(self, gallery_id)
        monkeypatch.setattr(photos_scan, "STOP_MARGIN_SECONDS", 10**6)

    monkeypatch.setattr(photos_scan._PhotosRun, "scan_gallery", scan_gallery)
    with deadline.within(60):
        first = gallery_photos_scan()
    assert first.complete is False and first.resume_from is not None
    assert first.as_dict()["complete"] is False and first.resume_from in first.message
    assert len(scanned) == 1 and first.created == 1

    monkeypatch.setattr(photos_scan, "STOP_MARGIN_SECONDS", 20.0)
    rest = gallery_photos_scan(resume_from=first.resume_from)
    assert rest.complete is True and rest.resume_from is None
    assert first.created + rest.created == 3
    assert all(len(photo_items(gallery_id)) == 1 for gallery_id in galleries)


@pytest.mark.parametrize("door", ["api", "event"])
def test_resume_from_is_taken_by_every_door(aws, curator, make_gallery, put_object, door):
    gallery_id = make_gallery()
    put_object(f"galleries/{gallery_id}/a.jpg")
    if door == "api":
        response = curator.post(
            "/galleries?action=update_GalleryPhotos", {"resumeFrom": gallery_id}, format="json"
        )
        body = response.json()
    else:
        body = events.update_gallery_photos({"resumeFrom": gallery_id})
    assert body["complete"] is True and body["created"] == 1


def test_deleting_one_of_two_items_sharing_an_original_keeps_it_for_the_other(
    aws, curator, make_gallery, upload_photo
):
    gallery_id = make_gallery()
    upload_photo(gallery_id)
    first, twin = twin_of_the_only_photo(gallery_id, with_renditions=False)
    assert curator.delete(f"/api/galleries/{gallery_id}/photos/{twin.photo_id}").status_code in (200, 204)
    assert first.s3_key in bucket_keys()
    assert [p.photo_id for p in photo_items(gallery_id)] == [first.photo_id]


def test_a_scan_out_of_time_in_its_passes_over_leftovers_says_run_it_again(
    aws, make_gallery, put_object, monkeypatch
):
    gallery_id = make_gallery()
    put_object(f"uploads/{gallery_id}/{'0' * 32}")  # something for the passes over leftovers to look at
    monkeypatch.setattr(photos_scan, "STOP_MARGIN_SECONDS", 10**6)  # no time left from the start
    with deadline.within(60):
        summary = gallery_photos_scan()
    assert (summary.complete, summary.resume_from, summary.scanned) == (False, None, 0)
    assert "run it again" in summary.message
