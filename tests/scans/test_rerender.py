"""The photos scan's --rerender: photos an older release made (two sizes named thumb and web, no sizes
recorded, no placeholders) gain the current renditions and placeholders, once, with progress."""

from django.conf import settings
from django.core.management import call_command

from core.aws import s3_client
from galleries.models import Gallery
from photos import keys
from photos.models import GalleryPhoto
from photos.prepare import IncomingPhoto, photo_prepare
from photos.renditions import EDGES
from photos.services.rerender import photo_rerender
from scans.photos_scan import gallery_photos_scan
from tests.factories import jpeg_bytes


def bucket_keys(prefix: str) -> set[str]:
    listing = s3_client().list_objects_v2(Bucket=settings.BUCKET_NAME, Prefix=prefix)
    return {item["Key"] for item in listing.get("Contents", [])}


def as_an_older_release_made_it(gallery_id: str, photo_id: str) -> list[str]:
    """Rewrite a photo as the release before responsive renditions left it: photo{N}-thumb/-web objects
    (400 and 1600 px), no sizes, placeholders or version on the item; the gallery's cover names the old
    web rendition. Returns the old keys."""
    photo = GalleryPhoto.get(gallery_id, photo_id)
    number = int(photo.photo_number)
    old_keys = []
    for name, edge in (("thumb", 400), ("web", 1600)):
        for extension in ("jpg", "webp"):
            source = keys.rendition_of(photo.rendition_keys, str(edge), extension)  # a 2000 px photo
            old = f"renditions/{gallery_id}/photo{number}-{name}.{extension}"
            s3_client().copy_object(
                Bucket=settings.BUCKET_NAME,
                Key=old,
                CopySource={"Bucket": settings.BUCKET_NAME, "Key": source},
            )
            old_keys.append(old)
    s3_client().delete_objects(
        Bucket=settings.BUCKET_NAME, Delete={"Objects": [{"Key": key} for key in photo.rendition_keys]}
    )
    base = f"https://{settings.BUCKET_NAME}.s3.{settings.AWS_REGION}.amazonaws.com"
    photo.update(
        actions=[
            GalleryPhoto.rendition_keys.set(old_keys),
            GalleryPhoto.thumbnail_url.set(f"{base}/{old_keys[0]}"),
            GalleryPhoto.full_size_url.set(f"{base}/{old_keys[2]}"),
            GalleryPhoto.renditions.remove(),
            GalleryPhoto.thumbhash.remove(),
            GalleryPhoto.dominant_color.remove(),
            GalleryPhoto.renditions_version.remove(),
        ]
    )
    Gallery.get(gallery_id).update(actions=[Gallery.cover_photo_url.set(f"{base}/{old_keys[2]}")])
    return old_keys


def test_rerender_gives_older_photos_the_current_renditions_once(backend, curator, client, put_object):
    gallery_id = curator.post(
        "/api/galleries", {"name": "Fjords", "continent": "Europe", "country": "Norway"}, format="json"
    ).json()["galleryId"]
    put_object(f"galleries/{gallery_id}/fjord.jpg", jpeg_bytes(2000, 1000))
    assert gallery_photos_scan(gallery_id=gallery_id).created == 1
    [photo] = GalleryPhoto.query(gallery_id)
    old_keys = as_an_older_release_made_it(gallery_id, photo.photo_id)
    before = client.get(f"/api/galleries/{gallery_id}/photos/{photo.photo_id}").json()
    assert before["thumbhash"] is None and {image["bytes"] for image in before["images"]} == {None}
    assert [image["width"] for image in before["images"]] == [400, 400, 1600, 1600]  # as they were made

    # Without --rerender the scan leaves them: nothing is missing or changed.
    assert gallery_photos_scan(gallery_id=gallery_id).changed is False
    dry = gallery_photos_scan(gallery_id=gallery_id, rerender=True, dry_run=True)
    assert dry.rerendered == 1 and bucket_keys(f"renditions/{gallery_id}/") == set(old_keys)

    seen = []
    summary = gallery_photos_scan(
        gallery_id=gallery_id, rerender=True, progress=lambda s: seen.append(s.rerendered)
    )
    assert (summary.rerendered, summary.failed, summary.created) == (1, 0, 0) and seen[-1] == 1
    assert "1 photos re-rendered with the current renditions" in summary.message
    after = client.get(f"/api/galleries/{gallery_id}/photos/{photo.photo_id}").json()
    assert after["photoId"] == photo.photo_id and after["photoNumber"] == photo.photo_number
    assert after["thumbhash"] and after["dominantColor"]
    assert sorted({image["width"] for image in after["images"]}) == [
        edge for edge in EDGES if edge < 2000
    ] + [2000]
    assert all(image["bytes"] for image in after["images"])
    item = GalleryPhoto.get(gallery_id, photo.photo_id)
    assert bucket_keys(f"renditions/{gallery_id}/") == set(item.rendition_keys)  # the old objects went
    cover = client.get(f"/api/galleries/{gallery_id}").json()["coverPhotoURL"]
    assert keys.rendition_of(item.rendition_keys, "1600", "jpg") in cover

    again = gallery_photos_scan(gallery_id=gallery_id, rerender=True)
    assert again.rerendered == 0 and again.changed is False


def test_the_command_takes_rerender(aws, curator, put_object, capsys):
    gallery_id = curator.post(
        "/api/galleries", {"name": "Capes", "continent": "Africa", "country": "South Africa"}, format="json"
    ).json()["galleryId"]
    put_object(f"galleries/{gallery_id}/cape.jpg", jpeg_bytes(640, 480))
    gallery_photos_scan(gallery_id=gallery_id)
    [photo] = GalleryPhoto.query(gallery_id)
    photo.update(actions=[GalleryPhoto.renditions_version.set("1:400,1600:jpeg,webp")])
    call_command("update_gallery_photos", "--gallery-id", gallery_id, "--rerender", "--json")
    assert '"rerendered": 1' in capsys.readouterr().out
    answer = curator.post(
        "/api/scans/gallery-photos", {"galleryId": gallery_id, "rerender": True}, format="json"
    )
    assert answer.status_code == 200 and answer.json()["rerendered"] == 0


def test_a_rerender_for_a_visibility_that_changed_since_is_refused(aws, curator, put_object):
    """A scan read the gallery as public, then the curator made it private and its renditions moved: the
    scan's re-render must not put them back under the public prefix (nor relabel the photo public)."""

    gallery_id = curator.post(
        "/api/galleries", {"name": "Quiet", "continent": "Asia", "country": "Japan"}, format="json"
    ).json()["galleryId"]
    put_object(f"galleries/{gallery_id}/shrine.jpg", jpeg_bytes(640, 480))
    gallery_photos_scan(gallery_id=gallery_id)
    [photo] = GalleryPhoto.query(gallery_id)
    made_private = curator.patch(f"/api/galleries/{gallery_id}", {"visibility": "private"}, format="json")
    assert made_private.status_code == 200
    moved = GalleryPhoto.get(gallery_id, photo.photo_id)
    data = jpeg_bytes(640, 480)
    prepared = photo_prepare(IncomingPhoto("shrine.jpg", len(data), lambda: data))

    assert not photo_rerender(
        gallery_id=gallery_id,
        photo_id=photo.photo_id,
        previous_etag=moved.original_etag,
        prepared=prepared,
        original_etag="changed",
        visibility="public",  # what the scan read before the change
    )
    assert bucket_keys(f"renditions/{gallery_id}/") == set()  # nothing public, not even strays
    after = GalleryPhoto.get(gallery_id, photo.photo_id)
    assert after.visibility == "private" and after.rendition_keys == moved.rendition_keys
    assert bucket_keys(f"private/renditions/{gallery_id}/") == set(after.rendition_keys)
