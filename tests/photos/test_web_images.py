"""Images built for the web: every rendition answered with its size and a srcset, placeholders, keys that
change with their content, objects cached for good, signed URLs that stay put, and URLs that follow
MEDIA_PUBLIC_BASE_URL at once (covers included)."""

import datetime
import hashlib
import io
import re
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore import auth
from django.conf import settings
from PIL import Image

from core import signed_urls
from core.aws import s3_client
from core.storage import key_from_stored_url
from photos import keys
from photos.models import GalleryPhoto
from photos.prepare import IncomingPhoto, photo_prepare
from photos.services.rerender import photo_rerender
from tests.factories import jpeg_bytes
from tests.photos.conftest import as_file

CDN = "https://cdn.example.org"


def gallery_new(curator, **fields) -> str:
    body = {"name": "Harbour", "continent": "Europe", "country": "Norway", "years": [2023], **fields}
    response = curator.post("/api/galleries", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["galleryId"]


def photo_add(curator, gallery_id: str, data: bytes, name: str = "harbour.jpg") -> dict:
    response = curator.post(
        f"/api/galleries/{gallery_id}/photos", {"photos": [as_file(name, data)]}, format="multipart"
    )
    assert response.status_code == 201, response.content
    return response.json()["photos"][0]


def head(key: str) -> dict:
    return s3_client().head_object(Bucket=settings.BUCKET_NAME, Key=key)


def body(key: str) -> bytes:
    return s3_client().get_object(Bucket=settings.BUCKET_NAME, Key=key)["Body"].read()


def key_of(url: str) -> str:
    """The object key a URL of the answer names (CDN or signed path-style/virtual-host URL)."""
    path = urlsplit(url).path.lstrip("/")
    return path[path.index("renditions/") - (len("private/") if "/private/renditions/" in url else 0) :]


def test_every_rendition_is_answered_with_its_size_format_bytes_and_a_srcset(aws, curator, client, settings):
    settings.MEDIA_PUBLIC_BASE_URL = CDN
    gallery_id = gallery_new(curator)
    photo_add(curator, gallery_id, jpeg_bytes(1200, 800))  # 1200 px: 400, 800 and its own size
    [photo] = client.get(f"/api/galleries/{gallery_id}/photos").json()["results"]

    images = photo["images"]
    assert [(image["width"], image["format"]) for image in images] == [
        (400, "jpeg"), (400, "webp"), (800, "jpeg"), (800, "webp"), (1200, "jpeg"), (1200, "webp"),
    ]  # fmt: skip
    for image in images:
        data = body(key_of(image["url"]))
        assert image["bytes"] == len(data)
        decoded = Image.open(io.BytesIO(data))
        assert decoded.size == (image["width"], image["height"])
        assert decoded.format == image["format"].upper()
        assert image["height"] == round(image["width"] * 800 / 1200)
    jpegs = [image for image in images if image["format"] == "jpeg"]
    assert photo["srcset"]["jpeg"] == ", ".join(f"{image['url']} {image['width']}w" for image in jpegs)
    assert set(photo["srcset"]) == {"jpeg", "webp"}
    # The guide's fields keep their meaning: the smallest JPEG, and the largest of at most 1600 px.
    assert photo["thumbnailURL"] == jpegs[0]["url"]
    assert photo["fullSizeURL"] == jpegs[-1]["url"]
    assert photo["renditions"]["thumb"]["jpg"] == photo["thumbnailURL"]
    assert photo["renditions"]["800"]["webp"] == images[3]["url"]


def test_placeholders_are_answered_for_every_photo(aws, curator, client):
    gallery_id = gallery_new(curator)
    photo_add(curator, gallery_id, jpeg_bytes(300, 200, colour=(200, 30, 40)))
    [photo] = client.get(f"/api/galleries/{gallery_id}/photos").json()["results"]
    assert re.fullmatch(r"#[0-9a-f]{6}", photo["dominantColor"])
    red, green, blue = (int(photo["dominantColor"][i : i + 2], 16) for i in (1, 3, 5))
    assert red > 150 and green < 80 and blue < 80
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", photo["thumbhash"]) and len(photo["thumbhash"]) >= 8


def test_rendition_keys_name_their_content_and_objects_are_cached_for_good(aws, curator, settings):
    settings.MEDIA_PUBLIC_BASE_URL = CDN
    gallery_id = gallery_new(curator)
    photo = photo_add(curator, gallery_id, jpeg_bytes(900, 600))
    item = GalleryPhoto.get(gallery_id, photo["photoId"])
    assert item.rendition_keys
    for key in item.rendition_keys:
        parts = keys.rendition_file(key)
        assert parts is not None and parts.digest == hashlib.sha256(body(key)).hexdigest()[:12]
        headers = head(key)
        assert headers["CacheControl"] == "public, max-age=31536000, immutable"
        assert headers["ContentType"] == {"jpg": "image/jpeg", "webp": "image/webp"}[parts.extension]


def test_a_private_gallerys_renditions_are_cached_only_by_the_browser(aws, curator):
    gallery_id = gallery_new(curator, visibility="private")
    photo = photo_add(curator, gallery_id, jpeg_bytes(300, 200))
    for key in GalleryPhoto.get(gallery_id, photo["photoId"]).rendition_keys:
        assert key.startswith("private/renditions/")
        assert head(key)["CacheControl"] == "private, max-age=31536000, immutable"
    # Made public: the moved copies are publicly cacheable.
    curator.patch(f"/api/galleries/{gallery_id}", {"visibility": "public"}, format="json")
    for key in GalleryPhoto.get(gallery_id, photo["photoId"]).rendition_keys:
        assert key.startswith("renditions/")
        assert head(key)["CacheControl"] == "public, max-age=31536000, immutable"


def test_a_changed_rendition_gets_a_new_key_and_the_old_object_goes(aws, curator, settings):

    gallery_id = gallery_new(curator)
    photo = photo_add(curator, gallery_id, jpeg_bytes(300, 200, colour=(10, 120, 200)))
    before = GalleryPhoto.get(gallery_id, photo["photoId"])
    changed = jpeg_bytes(300, 200, colour=(240, 200, 10))
    prepared = photo_prepare(IncomingPhoto("x.jpg", len(changed), lambda: changed))
    assert photo_rerender(
        gallery_id=gallery_id,
        photo_id=photo["photoId"],
        previous_etag=before.original_etag,
        prepared=prepared,
        original_etag="changed",
    )
    after = GalleryPhoto.get(gallery_id, photo["photoId"])
    assert set(after.rendition_keys).isdisjoint(before.rendition_keys)
    listing = s3_client().list_objects_v2(Bucket=settings.BUCKET_NAME, Prefix=f"renditions/{gallery_id}/")
    assert {item["Key"] for item in listing["Contents"]} == set(after.rendition_keys)
    cover = curator.get(f"/api/galleries/{gallery_id}").json()["coverPhotoURL"]
    assert key_of(cover) == keys.rendition_of(after.rendition_keys, "300", "jpg")


# ------------------------------------------------------------------ signed URLs that stay put


def _signed_at(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Date"][0]


def test_a_signed_url_is_the_same_on_every_read_within_its_window(
    aws, curator, client, settings, monkeypatch
):
    settings.MEDIA_PUBLIC_BASE_URL = ""
    settings.MEDIA_SIGNED_URL_SECONDS = 3600
    gallery_id = gallery_new(curator)
    photo = photo_add(curator, gallery_id, jpeg_bytes(300, 200))
    path = f"/api/galleries/{gallery_id}/photos/{photo['photoId']}"

    now = {"at": datetime.datetime(2026, 11, 30, 10, 0, 5)}
    monkeypatch.setattr(auth, "get_current_datetime", lambda *a, **k: now["at"])
    first = client.get(path).json()
    now["at"] = datetime.datetime(2026, 11, 30, 10, 29, 59)  # the same half-hour window
    second = client.get(path).json()
    assert first["thumbnailURL"] == second["thumbnailURL"] and first["srcset"] == second["srcset"]
    assert _signed_at(first["thumbnailURL"]) == "20261130T100000Z"
    assert parse_qs(urlsplit(first["thumbnailURL"]).query)["X-Amz-Expires"] == ["3600"]

    now["at"] = datetime.datetime(2026, 11, 30, 10, 30, 0)  # the next window: still valid 30 min at least
    third = client.get(path).json()
    assert third["thumbnailURL"] != first["thumbnailURL"]
    assert _signed_at(third["thumbnailURL"]) == "20261130T103000Z"


def test_a_windowed_signature_is_botocores_own_at_the_windows_start(aws, monkeypatch):
    """The URL is exactly what botocore signs at the window's start, so S3 accepts it as it accepts any."""
    start = datetime.datetime(2026, 11, 30, 11, 30, 0)
    monkeypatch.setattr(auth, "get_current_datetime", lambda *a, **k: start + datetime.timedelta(minutes=7))
    params = {"Bucket": settings.BUCKET_NAME, "Key": "renditions/g/photo1-400-0123456789ab.jpg"}
    windowed = s3_client().generate_presigned_url("get_object", Params=params, ExpiresIn=3600)

    monkeypatch.setattr(auth, "get_current_datetime", lambda *a, **k: start)

    plain_client = boto3.client("s3", region_name=settings.AWS_REGION, config=s3_client().meta.config)
    plain = plain_client.generate_presigned_url("get_object", Params=params, ExpiresIn=3600)
    assert windowed == plain
    assert signed_urls.window_start(start + datetime.timedelta(minutes=29), 1800) == start


# ------------------------------------------------------------------ one switch moves every URL


@pytest.mark.parametrize("visibility", ["public", "unlisted"])
def test_changing_the_public_base_changes_every_url_at_once(aws, curator, client, settings, visibility):
    settings.MEDIA_PUBLIC_BASE_URL = CDN
    gallery_id = gallery_new(curator, visibility=visibility)
    photo_add(curator, gallery_id, jpeg_bytes(500, 300))

    def every_url() -> list[str]:
        gallery = client.get(f"/api/galleries/{gallery_id}").json()
        [photo] = client.get(f"/api/galleries/{gallery_id}/photos").json()["results"]
        urls = [gallery["coverPhotoURL"], photo["thumbnailURL"], photo["fullSizeURL"]]
        urls += [image["url"] for image in photo["images"]]
        urls += [url for formats in photo["renditions"].values() for url in formats.values()]
        return urls

    assert all(url.startswith(f"{CDN}/renditions/") for url in every_url())
    settings.MEDIA_PUBLIC_BASE_URL = "https://images.example.net/gallery"
    assert all(url.startswith("https://images.example.net/gallery/renditions/") for url in every_url())
    settings.MEDIA_PUBLIC_BASE_URL = ""  # the CDN turned off: a private bucket, every URL signed
    for url in every_url():
        assert "X-Amz-Signature=" in url and "/renditions/" in url and not url.startswith(CDN)


def test_an_upload_may_give_each_photo_its_alt_text(aws, curator, client):
    gallery_id = gallery_new(curator)
    files = [as_file("a.jpg", jpeg_bytes(120, 80)), as_file("b.jpg", jpeg_bytes(120, 80))]
    response = curator.post(
        f"/api/galleries/{gallery_id}/photos",
        {"photos": files, "altTexts": ["A red boat\tat dawn", ""]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert [photo["altText"] for photo in response.json()["photos"]] == ["A red boat at dawn", ""]
    too_long = curator.post(
        f"/api/galleries/{gallery_id}/photos",
        {"photos": [as_file("c.jpg", jpeg_bytes(120, 80))], "altTexts": ["x" * 1001]},
        format="multipart",
    )
    assert too_long.status_code == 400 and "altTexts" in too_long.json()["details"]


@pytest.mark.parametrize(
    ("url", "key"),
    [
        (
            "https://old-cdn.example/media/renditions/g1/photo1-400-0123456789ab.jpg",
            "renditions/g1/photo1-400-0123456789ab.jpg",
        ),
        (
            "https://cdn.example/galleries/renditions/renditions/photo2-web.jpg",
            "renditions/renditions/photo2-web.jpg",
        ),
        (
            "https://b.s3.eu-west-1.amazonaws.com/private/renditions/g/photo3-thumb.jpg",
            "private/renditions/g/photo3-thumb.jpg",
        ),
        (
            "http://127.0.0.1:4568/bucket/private/renditions/g/photo3-800-0123456789ab.webp",
            "private/renditions/g/photo3-800-0123456789ab.webp",
        ),
        ("https://cdn.example/galleries/g/photo1.jpg", None),
        ("https://cdn.example/renditions/", None),
    ],
)
def test_a_stored_rendition_url_names_its_key_whatever_base_made_it(aws, settings, url, key):

    settings.MEDIA_PUBLIC_BASE_URL = "https://new-cdn.example"
    assert key_from_stored_url(url) == key
