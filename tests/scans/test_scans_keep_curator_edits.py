"""Scans never undo a curator's edits (years removed, a chosen cover, a photo's title, description, tags
and alt text), and photos they adopt get the file name as title, as uploads do."""

import pytest
from django.conf import settings

from core.aws import s3_client
from galleries.models import Gallery
from photos.models import GalleryPhoto
from scans.galleries_scan import galleries_metadata_scan
from scans.object_events import object_created
from scans.photos_scan import gallery_photos_scan
from tests.factories import jpeg_bytes
from tests.photos.conftest import as_file


@pytest.fixture(autouse=True)
def on_moto(aws):
    """Every test here runs on moto (before the curator key is made)."""


def photo_items(gallery_id: str) -> list[GalleryPhoto]:
    return sorted(
        GalleryPhoto.query(gallery_id, consistent_read=True), key=lambda photo: int(photo.photo_number)
    )


def years(gallery_id: str) -> list[int]:
    return [int(year) for year in Gallery.get(gallery_id, consistent_read=True).years]


def both_scans(gallery_id: str) -> None:
    gallery_photos_scan(gallery_id=gallery_id)
    galleries_metadata_scan(gallery_id=gallery_id)
    gallery_photos_scan()
    galleries_metadata_scan()


def test_a_year_the_curator_removed_stays_removed_against_both_scans_and_events(
    curator, make_gallery, put_object
):
    gallery_id = make_gallery(years=(2018, 2019))
    assert curator.patch(f"/api/galleries/{gallery_id}", {"years": [2018]}, format="json").status_code == 200
    # Originals taken in the removed year arrive by a sync (the photos scan) and by an event.
    put_object(f"galleries/{gallery_id}/synced.jpg", jpeg_bytes(64, 48, taken="2019:05:01 10:00:00"))
    assert gallery_photos_scan(gallery_id=gallery_id).created == 1
    key = put_object(f"galleries/{gallery_id}/evented.jpg", jpeg_bytes(64, 48, taken="2019:06:01 10:00:00"))
    assert object_created(key) == "created"
    # A re-render (the original replaced under its key) reads the year again.
    put_object(f"galleries/{gallery_id}/synced.jpg", jpeg_bytes(80, 60, taken="2019:07:01 10:00:00"))
    assert gallery_photos_scan(gallery_id=gallery_id).updated == 1
    # The galleries scan recounts from the photos, whose years include 2019; it stays out.
    Gallery(gallery_id).update(actions=[Gallery.photo_count.set(9)])  # some drift for it to repair
    assert galleries_metadata_scan(gallery_id=gallery_id).updated == 1
    both_scans(gallery_id)
    assert years(gallery_id) == [2018]
    assert int(Gallery.get(gallery_id).photo_count) == 2


def test_scans_never_touch_a_photos_title_description_tags_or_alt_text(
    curator, make_gallery, put_object, upload_photo
):
    gallery_id = make_gallery()
    photo = upload_photo(gallery_id)
    edits = {
        "title": "Curated title",
        "description": "Written by the curator.",
        "tags": ["kept"],
        "altText": "A harbour at dusk",
    }
    url = f"/api/galleries/{gallery_id}/photos/{photo['photoId']}"
    assert curator.patch(url, edits, format="json").status_code == 200
    # The original is replaced under its key: the photos scan re-renders it, the galleries scan recounts,
    # an event for the key finds its photo.
    put_object(photo["s3Key"], jpeg_bytes(90, 60, taken="2020:02:02 10:00:00"))
    assert gallery_photos_scan(gallery_id=gallery_id).updated == 1
    assert object_created(photo["s3Key"]) == "exists"
    both_scans(gallery_id)
    [item] = photo_items(gallery_id)
    assert (item.width, item.height) == (90, 60)  # the scan did re-render it
    assert (item.title, item.description, list(item.tags), item.alt_text, item.edit_version()) == (
        "Curated title",
        "Written by the curator.",
        ["kept"],
        "A harbour at dusk",
        1,
    )
    answer = curator.get(url).json()
    assert {name: answer[name] for name in edits} == edits


def test_neither_scan_changes_a_chosen_cover(curator, make_gallery, put_object):
    gallery_id = make_gallery()
    for name in ("a", "b", "c"):
        put_object(f"galleries/{gallery_id}/{name}.jpg")
    gallery_photos_scan(gallery_id=gallery_id)
    first, second, third = photo_items(gallery_id)
    response = curator.patch(f"/api/galleries/{gallery_id}", {"coverPhotoId": third.photo_id}, format="json")
    assert response.status_code == 200
    # What the scans then meet: a new original (offered the cover), a replaced one (re-rendered, its
    # cover URL followed when it is the cover), drift to repair.
    put_object(f"galleries/{gallery_id}/d.jpg")
    put_object(third.s3_key, jpeg_bytes(70, 50))
    put_object(first.s3_key, jpeg_bytes(72, 50))
    summary = gallery_photos_scan(gallery_id=gallery_id)
    assert (summary.created, summary.updated) == (1, 2)
    Gallery(gallery_id).update(actions=[Gallery.photo_count.set(1)])
    assert galleries_metadata_scan(gallery_id=gallery_id).updated == 1
    both_scans(gallery_id)
    gallery = Gallery.get(gallery_id, consistent_read=True)
    cover = GalleryPhoto.get(gallery_id, third.photo_id)
    assert (gallery.cover_photo_id, gallery.cover_photo_number, gallery.cover_chosen) == (
        third.photo_id,
        3,
        True,
    )
    assert gallery.cover_photo_url == cover.full_size_url and int(gallery.photo_count) == 4
    # Once the chosen photo's original is gone, the photos scan deletes the photo, and the cover goes
    # back to the automatic rule.
    s3_client().delete_object(Bucket=settings.BUCKET_NAME, Key=third.s3_key)
    assert gallery_photos_scan(gallery_id=gallery_id).removed == 1
    gallery = Gallery.get(gallery_id, consistent_read=True)
    assert (gallery.cover_photo_id, gallery.cover_chosen) == (first.photo_id, None)
    assert second.photo_id != gallery.cover_photo_id


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Sunset at Nazaré.JPG", "Sunset at Nazaré"),
        ("IMG.0042.final.jpeg", "IMG.0042.final"),
        ("no-extension", "no-extension"),
        ("  spaced  .jpg", "spaced"),
        (f"{'long' * 60}.jpg", ("long" * 60)[:200]),
    ],
)
def test_an_adopted_photo_gets_its_file_name_as_title_as_an_upload_does(
    make_gallery, put_object, curator, name, title
):
    gallery_id = make_gallery()
    put_object(f"galleries/{gallery_id}/{name}")
    assert gallery_photos_scan(gallery_id=gallery_id).created == 1
    [scanned] = photo_items(gallery_id)
    assert scanned.title == title
    # An object-created event adopts the same way.
    other = make_gallery()
    assert object_created(put_object(f"galleries/{other}/{name}")) == "created"
    [evented] = photo_items(other)
    assert evented.title == title
    # And an upload of a file of that name gets the same title.
    uploaded = curator.post(
        f"/api/galleries/{gallery_id}/photos",
        {"photos": [as_file(name, jpeg_bytes(64, 48))]},
        format="multipart",
    )
    assert uploaded.status_code == 201, uploaded.content
    assert uploaded.json()["photos"][0]["title"] == title
