"""Uploading, reading and deleting photos through the API, with S3 and DynamoDB checked directly."""

import json
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from core.aws import s3_client
from galleries.models import Gallery
from photos import keys
from photos.models import GalleryPhoto
from ratings.models import PhotoRating
from tests.aws_faults import aws_calls
from tests.factories import SAMPLES, bomb_png, gif_bytes, jpeg_bytes, png_bytes, truncated_jpeg

GUIDE_FIELDS = {
    "photoId", "photoNumber", "title", "description", "tags", "s3Key",
    "thumbnailURL", "fullSizeURL", "exifData", "uploadedAt",
}  # fmt: skip


def bucket_keys() -> set[str]:
    listing = s3_client().list_objects_v2(Bucket=settings.BUCKET_NAME)
    return {item["Key"] for item in listing.get("Contents", [])}


def object_bytes(key: str) -> bytes:
    return s3_client().get_object(Bucket=settings.BUCKET_NAME, Key=key)["Body"].read()


def test_upload_stores_original_untouched_renditions_and_metadata(aws, gallery_id, upload, client):
    original = jpeg_bytes(2400, 1600, taken="2021:05:01 10:00:00", gps=(48.8584, 2.2945))
    response = upload(
        gallery_id,
        {"eiffel.jpg": original},
        titles="Tower",
        descriptions="At dusk",
        tags=json.dumps([["Paris", "night"]]),
    )
    assert response.status_code == 201, response.content
    [photo] = response.json()["photos"]
    assert set(photo) >= GUIDE_FIELDS
    assert photo["photoNumber"] == 1 and photo["title"] == "Tower" and photo["description"] == "At dusk"
    assert photo["tags"] == ["paris", "night"]
    assert photo["s3Key"] == f"galleries/{gallery_id}/photo1.jpg"
    assert object_bytes(photo["s3Key"]) == original
    rendition = re.compile(rf"renditions/{gallery_id}/photo1-(400|800|1600|2400)-[0-9a-f]{{12}}\.(jpg|webp)")
    assert re.fullmatch(rf"https://media\.example\.test/{rendition.pattern}", photo["thumbnailURL"])
    assert "-400-" in photo["thumbnailURL"] and "-1600-" in photo["fullSizeURL"]
    # 2400 px: 400, 800, 1600 and its own size (below 2560), never enlarged; JPEG and WebP each.
    renditions = bucket_keys() - {photo["s3Key"]}
    assert len(renditions) == 8 and all(rendition.fullmatch(key) for key in renditions)
    assert {key.split("-")[1] for key in renditions} == {"400", "800", "1600", "2400"}
    exif = photo["exifData"]
    assert exif["make"] == "Canon" and exif["dateTimeOriginal"] == "2021-05-01T10:00:00"
    assert exif["gps"]["latitude"] == pytest.approx(48.8584, abs=1e-3)
    gallery = client.get(f"/api/galleries/{gallery_id}").json()
    assert gallery["photoCount"] == 1 and gallery["coverPhotoURL"] == photo["fullSizeURL"]
    assert gallery["years"] == [2021, 2022]
    assert [p["photoId"] for p in gallery["photos"]["results"]] == [photo["photoId"]]


def test_renditions_have_no_exif_and_are_never_upscaled(aws, gallery_id, upload):
    import io

    from PIL import Image

    response = upload(gallery_id, {"small.jpg": jpeg_bytes(1000, 500, gps=(1.0, 2.0))})
    [photo] = response.json()["photos"]
    item = GalleryPhoto.get(gallery_id, photo["photoId"])
    web = Image.open(io.BytesIO(object_bytes(keys.rendition_of(item.rendition_keys, "1000", "jpg"))))
    thumb = Image.open(io.BytesIO(object_bytes(keys.rendition_of(item.rendition_keys, "400", "webp"))))
    assert web.size == (1000, 500) and thumb.size == (400, 200)
    assert keys.rendition_of(item.rendition_keys, "1600", "jpg") is None  # never enlarged
    assert not web.getexif() and "exif" not in web.info
    assert photo["width"] == 1000 and photo["height"] == 500


def test_titles_descriptions_and_tags_accept_repeated_fields(aws, gallery_id, upload):
    files = {"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes(), "c.jpg": jpeg_bytes()}
    response = upload(
        gallery_id,
        files,
        titles=["First", "Second"],
        descriptions=json.dumps(["d1", "d2", "d3"]),
        tags=['["x", "y"]', "p, q ,p", "[]"],
    )
    assert response.status_code == 201, response.content
    photos = response.json()["photos"]
    assert [p["title"] for p in photos] == ["First", "Second", "c"]
    assert [p["description"] for p in photos] == ["d1", "d2", "d3"]
    assert [p["tags"] for p in photos] == [["x", "y"], ["p", "q"], []]
    assert [p["photoNumber"] for p in photos] == [1, 2, 3]


def test_thirty_tags_sent_loosely_pass_and_sixty_one_entries_are_refused_unread(aws, gallery_id, upload):
    # Blanks and repeats are dropped, so 60 entries may hold 30 tags; one entry more is refused before
    # any is read, whatever it holds.
    loose = ", ".join(f"Tag{n}, tag{n} " for n in range(30))
    response = upload(gallery_id, {"a.jpg": jpeg_bytes()}, tags=loose)
    assert response.status_code == 201, response.content
    assert response.json()["photos"][0]["tags"] == [f"tag{n}" for n in range(30)]
    response = upload(gallery_id, {"b.jpg": jpeg_bytes()}, tags=loose + ", ")
    assert response.status_code == 400
    assert response.json()["details"]["tags"] == ["At most 30 tags per photo."]


def test_a_title_of_control_characters_only_falls_back_to_the_file_name(aws, gallery_id, upload):
    response = upload(gallery_id, {"IMG_\x1b7.jpg": jpeg_bytes()}, titles="\x1b\x07\x9b")
    assert response.status_code == 201, response.content
    assert response.json()["photos"][0]["title"] == "IMG_7"


def test_more_titles_than_photos_is_400(aws, gallery_id, upload):
    response = upload(gallery_id, {"a.jpg": jpeg_bytes()}, titles=["one", "two"])
    assert response.status_code == 400 and "titles" in response.json()["details"]
    assert bucket_keys() == set()


BAD_FILES = [
    ("notes.jpg", b"this is a text file, not a photo", 415, "not_an_image"),
    ("broken.jpg", truncated_jpeg(), 400, "corrupt"),
    ("empty.jpg", b"", 400, "empty"),
    ("bomb.png", bomb_png(), 413, "too_many_pixels"),
    ("anim.gif", gif_bytes(), 415, "unsupported_format"),
    ("really-a-png.jpg", png_bytes(), 400, "extension_mismatch"),
]


@pytest.mark.parametrize(("name", "data", "status", "code"), BAD_FILES, ids=[f[3] for f in BAD_FILES])
def test_each_bad_file_is_refused_with_the_envelope_naming_it(
    aws, gallery_id, upload, name, data, status, code
):
    response = upload(gallery_id, {name: data})
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "details"} and name in body["error"]
    [failure] = body["details"]["files"]
    assert failure["filename"] == name and failure["code"] == code
    assert bucket_keys() == set()
    assert Gallery.get(gallery_id).photo_count == 0


def test_file_over_the_size_limit_is_413(aws, gallery_id, upload, settings):
    settings.PHOTO_MAX_BYTES = 10_000
    response = upload(gallery_id, {"big.jpg": jpeg_bytes(1200, 900, quality=95)})
    assert response.status_code == 413
    assert response.json()["details"]["files"][0]["code"] == "too_large"


def test_mixed_batch_stores_the_good_and_reports_the_bad_with_207(aws, gallery_id, upload):
    files = {"good1.jpg": jpeg_bytes(), "bad.jpg": b"nope", "good2.png": png_bytes()}
    response = upload(gallery_id, files)
    assert response.status_code == 207, response.content
    body = response.json()
    assert [p["title"] for p in body["photos"]] == ["good1", "good2"]
    assert [(e["index"], e["filename"], e["status"]) for e in body["errors"]] == [(1, "bad.jpg", 415)]
    assert Gallery.get(gallery_id).photo_count == 2


def test_upload_needs_a_curator_and_an_existing_gallery(aws, gallery_id, client, upload):
    response = client.post(f"/api/galleries/{gallery_id}/photos", {}, format="multipart")
    assert response.status_code == 401
    assert upload("no-such-gallery").status_code == 404
    assert upload(gallery_id, {}).status_code == 400


def test_upload_must_be_multipart(aws, gallery_id, curator):
    response = curator.post(f"/api/galleries/{gallery_id}/photos", {"photos": []}, format="json")
    assert response.status_code == 415 and set(response.json()) == {"error", "details"}


def test_photos_list_in_number_order_with_pagination_and_tag_filter(backend, gallery_id, upload, client):
    files = {f"p{n}.jpg": jpeg_bytes(120, 90) for n in range(7)}
    tags = json.dumps([["sea"] if n % 2 else ["city"] for n in range(7)])
    assert upload(gallery_id, files, tags=tags).status_code == 201
    numbers, url = [], f"/api/galleries/{gallery_id}/photos?page_size=3"
    while url:
        body = client.get(url).json()
        numbers += [photo["photoNumber"] for photo in body["results"]]
        url = body["next"]
    assert numbers == list(range(1, 8))
    sea = client.get(f"/api/galleries/{gallery_id}/photos?tag=SEA").json()["results"]
    assert [photo["photoNumber"] for photo in sea] == [2, 4, 6]
    one = sea[0]
    assert client.get(f"/api/galleries/{gallery_id}/photos/{one['photoId']}").json() == one
    assert client.get(f"/api/galleries/{gallery_id}/photos/missing").status_code == 404


def test_delete_photo_removes_objects_ratings_and_moves_count_and_cover(backend, gallery_id, upload, curator):

    photos = upload(gallery_id, {"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes()}).json()["photos"]
    first, second = photos
    PhotoRating(first["photoId"], "visitor-1", rating=5, rated_at="2024-01-01T00:00:00Z").save()
    body = {"photoId": first["photoId"], "photoNumber": 1, "s3Key": first["s3Key"]}
    response = curator.post(f"/galleries?action=delete_photo&id={gallery_id}", body, format="json")
    assert response.status_code == 200, response.content
    assert not any(key.startswith(f"galleries/{gallery_id}/photo1.") for key in bucket_keys())
    assert not any("/photo1-" in key for key in bucket_keys())
    assert not list(PhotoRating.query(first["photoId"]))
    gallery = Gallery.get(gallery_id)
    assert gallery.photo_count == 1 and gallery.cover_photo_url == second["fullSizeURL"]
    curator.delete(f"/api/galleries/{gallery_id}/photos/{second['photoId']}")
    gallery = Gallery.get(gallery_id)
    assert gallery.photo_count == 0 and gallery.cover_photo_url is None
    # Numbers are never reused.
    assert upload(gallery_id).json()["photos"][0]["photoNumber"] == 3


@pytest.mark.parametrize(
    "body",
    [
        {"s3Key": "galleries/other-gallery/photo1.jpg"},
        {"s3Key": "../../secrets.txt"},
        {"photoNumber": 2},
    ],
)
def test_delete_photo_refuses_a_body_that_does_not_match_the_stored_photo(
    aws, gallery_id, upload, curator, body
):
    [photo] = upload(gallery_id).json()["photos"]
    response = curator.post(
        f"/galleries?action=delete_photo&id={gallery_id}",
        {"photoId": photo["photoId"], **body},
        format="json",
    )
    assert response.status_code == 400 and set(response.json()) == {"error", "details"}
    assert photo["s3Key"] in bucket_keys()
    assert GalleryPhoto.get(gallery_id, photo["photoId"]).deleting_at is None


def test_delete_photo_of_another_gallery_is_404(aws, gallery_id, upload, curator):
    other = curator.post(
        "/api/galleries", {"name": "Other", "continent": "Asia", "country": "Japan"}, format="json"
    ).json()["galleryId"]
    [photo] = upload(other).json()["photos"]
    response = curator.post(
        f"/galleries?action=delete_photo&id={gallery_id}", {"photoId": photo["photoId"]}, format="json"
    )
    assert response.status_code == 404
    assert photo["s3Key"] in bucket_keys()


def test_deleting_a_gallery_leaves_nothing_behind(backend, gallery_id, upload, curator):

    photos = upload(gallery_id, {"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes()}).json()["photos"]
    for photo in photos:
        PhotoRating(photo["photoId"], "v", rating=4, rated_at="2024-01-01T00:00:00Z").save()
    # A stray object nobody recorded is swept too.
    s3_client().put_object(Bucket=settings.BUCKET_NAME, Key=f"galleries/{gallery_id}/stray.jpg", Body=b"x")
    response = curator.delete(f"/galleries?id={gallery_id}")
    assert response.status_code == 200 and response.json()["photosDeleted"] == 2
    assert bucket_keys() == set()
    assert not list(GalleryPhoto.query(gallery_id))
    assert not [r for photo in photos for r in PhotoRating.query(photo["photoId"])]


def test_private_bucket_urls_are_stored_plain_and_signed_on_read(aws, gallery_id, upload, client, settings):
    settings.MEDIA_PUBLIC_BASE_URL = ""
    [photo] = upload(gallery_id).json()["photos"]
    stored = GalleryPhoto.get(gallery_id, photo["photoId"])
    assert "Signature" not in stored.thumbnail_url and "X-Amz" not in stored.thumbnail_url
    read = client.get(f"/api/galleries/{gallery_id}/photos/{photo['photoId']}").json()
    assert "X-Amz-Signature" in read["thumbnailURL"] and "X-Amz-Signature" in read["fullSizeURL"]
    assert "X-Amz-Signature" in client.get(f"/api/galleries/{gallery_id}").json()["coverPhotoURL"]


def test_orientation_samples_come_out_upright(aws, gallery_id, upload):
    import io

    from PIL import Image

    files = {path.name: path.read_bytes() for path in sorted((SAMPLES / "orientation").glob("*.jpg"))}
    photos = upload(gallery_id, files).json()["photos"]
    assert len(photos) == 16
    for photo in photos:
        key = photo["thumbnailURL"].split("https://media.example.test/", 1)[1]
        width, height = Image.open(io.BytesIO(object_bytes(key))).size
        assert (width > height) == photo["title"].startswith("landscape"), photo["title"]


def _normalised(response, gallery_id: str):
    """Status and body with the gallery's id and per-photo volatile values replaced by placeholders."""
    text = response.content.decode().replace(gallery_id, "{gallery}")
    body = json.loads(text)
    for photo in body.get("photos", []) if isinstance(body, dict) else []:
        photo.update(photoId="{photo}", uploadedAt="{time}")
        if photo.get("originalURL"):  # signed per answer: its key is what must agree
            photo["originalURL"] = photo["originalURL"].split("?", 1)[0]
    if isinstance(body, dict) and "photoId" in body:
        body["photoId"] = "{photo}"
    return response.status_code, body


@pytest.mark.parametrize(
    "files",
    [
        {"a.jpg": jpeg_bytes(), "b.png": png_bytes()},
        {"bad.jpg": b"nope"},
        {"a.jpg": jpeg_bytes(), "x.jpg": b""},
    ],
    ids=["good", "bad", "mixed"],
)
def test_upload_guide_route_and_rest_twin_answer_alike(aws, curator, upload, files):
    def new_gallery():
        body = {"name": "Twin", "continent": "Asia", "country": "Japan"}
        return curator.post("/api/galleries", body, format="json").json()["galleryId"]

    guide_gallery, rest_gallery = new_gallery(), new_gallery()
    fields = {"titles": json.dumps(["T"] * len(files)), "tags": json.dumps([["t"]] * len(files))}
    guide = upload(guide_gallery, files, via="guide", **fields)
    rest = upload(rest_gallery, files, via="rest", **fields)
    assert _normalised(guide, guide_gallery) == _normalised(rest, rest_gallery)


def test_delete_photo_guide_route_and_rest_twin_answer_alike(aws, curator, upload):
    def photo_in_new_gallery():
        body = {"name": "Twin", "continent": "Asia", "country": "Japan"}
        gallery = curator.post("/api/galleries", body, format="json").json()["galleryId"]
        return gallery, upload(gallery).json()["photos"][0]

    guide_gallery, guide_photo = photo_in_new_gallery()
    rest_gallery, rest_photo = photo_in_new_gallery()
    guide = curator.post(
        f"/galleries?action=delete_photo&id={guide_gallery}",
        {"photoId": guide_photo["photoId"], "photoNumber": 1, "s3Key": guide_photo["s3Key"]},
        format="json",
    )
    rest = curator.delete(f"/api/galleries/{rest_gallery}/photos/{rest_photo['photoId']}")
    assert _normalised(guide, guide_gallery) == _normalised(rest, rest_gallery)
    missing = curator.post(
        f"/galleries?action=delete_photo&id={guide_gallery}", {"photoId": "gone"}, format="json"
    )
    assert (
        missing.status_code == curator.delete(f"/api/galleries/{rest_gallery}/photos/gone").status_code == 404
    )


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["dynamodb_local"], indirect=True)
def test_parallel_uploads_get_unique_numbers_and_an_exact_count(backend, curator_key, gallery_id):
    """Six clients upload at once into one gallery on the real DynamoDB engine."""
    from concurrent.futures import ThreadPoolExecutor

    from rest_framework.test import APIClient

    def upload_three_times(worker: int) -> list[int]:
        api, numbers = APIClient(), []
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {curator_key}")
        for round_ in range(3):
            files = [
                SimpleUploadedFile(f"w{worker}-{round_}-{n}.jpg", jpeg_bytes(64, 48), "image/jpeg")
                for n in range(2)
            ]
            url = f"/api/galleries/{gallery_id}/photos"
            response = api.post(url, {"photos": files}, format="multipart")
            assert response.status_code == 201, response.content
            numbers += [photo["photoNumber"] for photo in response.json()["photos"]]
        return numbers

    with ThreadPoolExecutor(max_workers=6) as pool:
        numbers = [n for batch in pool.map(upload_three_times, range(6)) for n in batch]
    assert sorted(numbers) == list(range(1, 37))
    gallery = Gallery.get(gallery_id, consistent_read=True)
    assert gallery.photo_count == 36 == int(gallery.last_photo_number)
    stored = [int(photo.photo_number) for photo in GalleryPhoto.query(gallery_id, consistent_read=True)]
    assert sorted(stored) == list(range(1, 37))


def test_the_lowest_numbered_photo_of_a_parallel_batch_is_the_cover(
    aws, gallery_id, upload, client, settings
):
    settings.PHOTO_PROCESSING_WORKERS = 4
    files = {f"p{n}.jpg": jpeg_bytes(400 + 200 * (3 - n), 300) for n in range(4)}  # the first is slowest
    photos = upload(gallery_id, files).json()["photos"]
    assert client.get(f"/api/galleries/{gallery_id}").json()["coverPhotoURL"] == photos[0]["fullSizeURL"]


def test_a_batch_touches_the_gallery_once_per_need_not_once_per_photo(aws, gallery_id, upload, monkeypatch):
    """Cover and years after a batch: one cover claim and one update of the years, whatever the size."""
    updates = aws_calls(monkeypatch, "UpdateItem", table=Gallery.Meta.table_name)
    files = {f"p{n}.jpg": jpeg_bytes(80, 60, taken=f"{2020 + n % 2}:01:01 00:00:00") for n in range(6)}
    assert upload(gallery_id, files).status_code == 201
    # 1 number reservation + 1 cover claim + 1 years merge (2020, 2021), not 6 claims and 6 year writes.
    assert len(updates) == 3
    assert Gallery.get(gallery_id).years == [2020, 2021, 2022]
