"""Gallery visibility (issue 10, must-shows 1, 4 and 8): public, unlisted and private galleries as
visitors and curators see them on both URL styles, where their renditions live, and originals."""

import base64
import io
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from PIL import Image

from core import records
from core.aws import s3_client
from galleries.services import gallery_update
from photos.models import GalleryPhoto
from photos.services import placement
from photos.services import rerender as rerender_service
from photos.services import upload as upload_service
from scans import photos_scan
from scans.photos_scan import gallery_photos_scan
from tests.clock import clock_at
from tests.factories import jpeg_bytes
from tests.photos.conftest import as_file

NEST = (57.123456, -4.654321)


def gallery_new(curator, name: str = "Ospreys", **fields) -> str:
    body = {"name": name, "continent": "Europe", "country": "Scotland", "years": [2024], **fields}
    response = curator.post("/api/galleries", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["galleryId"]


def photos_add(curator, gallery_id: str, count: int = 1, gps=NEST) -> list[dict]:
    files = [as_file(f"p{n}.jpg", jpeg_bytes(64, 48, gps=gps)) for n in range(count)]
    response = curator.post(f"/api/galleries/{gallery_id}/photos", {"photos": files}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["photos"]


def bucket_keys(prefix: str) -> set[str]:
    listing = s3_client().list_objects_v2(Bucket=settings.BUCKET_NAME, Prefix=prefix)
    return {item["Key"] for item in listing.get("Contents", [])}


def object_bytes(key: str) -> bytes:
    return s3_client().get_object(Bucket=settings.BUCKET_NAME, Key=key)["Body"].read()


def is_signed(url: str) -> bool:
    return "Signature=" in url or "X-Amz-Signature=" in url


def assert_hidden(response, gallery_id: str | None = None) -> None:
    """A 404 in the envelope, exactly as for a gallery that does not exist."""
    assert response.status_code == 404, response.content
    body = response.json()
    assert set(body) == {"error", "details"}
    if gallery_id is not None:
        assert body["error"] == f"Gallery {gallery_id} does not exist."


# ------------------------------------------------------------------ who sees what


def test_galleries_are_public_by_default_and_visibility_is_validated(backend, curator, client):
    gallery_id = gallery_new(curator)
    assert client.get(f"/api/galleries/{gallery_id}").json()["visibility"] == "public"
    refused = curator.post(
        "/api/galleries",
        {"name": "x", "continent": "Europe", "country": "France", "visibility": "secret"},
        format="json",
    )
    assert refused.status_code == 400 and "visibility" in refused.json()["details"]


def test_the_default_is_the_operators_setting(aws, curator, client, settings):
    settings.GALLERY_DEFAULT_VISIBILITY = "private"
    gallery_id = gallery_new(curator)
    assert curator.get(f"/api/galleries/{gallery_id}").json()["visibility"] == "private"
    assert_hidden(client.get(f"/api/galleries/{gallery_id}"), gallery_id)


@pytest.mark.parametrize("hidden", ["unlisted", "private"])
def test_listings_filters_and_cursors_never_reveal_a_hidden_gallery(backend, curator, client, hidden):
    shown = [gallery_new(curator, f"Public {n}") for n in range(3)]
    secret = gallery_new(curator, "Secret", visibility=hidden)
    seen: list[str] = []
    url: str | None = "/api/galleries?page_size=1"
    while url:
        page = client.get(url).json()
        seen += [gallery["galleryId"] for gallery in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(shown)
    for query in ("continent=Europe", "country=scotland", "year=2024"):
        assert secret not in {g["galleryId"] for g in client.get(f"/api/galleries?{query}").json()["results"]}
        assert secret not in {g["galleryId"] for g in client.get(f"/galleries?{query}").json()["results"]}
    assert secret in {g["galleryId"] for g in curator.get("/api/galleries").json()["results"]}
    assert secret not in client.get("/galleries").content.decode()


def test_an_unlisted_gallery_is_readable_by_id_on_both_url_styles(backend, curator, client):
    gallery_id = gallery_new(curator, visibility="unlisted")
    [photo] = photos_add(curator, gallery_id)
    assert client.get(f"/api/galleries/{gallery_id}").status_code == 200
    assert (
        client.get(f"/galleries?id={gallery_id}").json()["photos"]["results"][0]["photoId"]
        == photo["photoId"]
    )
    assert client.get(f"/api/galleries/{gallery_id}/photos/{photo['photoId']}").status_code == 200


def test_a_private_gallery_is_not_found_for_visitors_everywhere(backend, curator, client):
    gallery_id = gallery_new(curator, visibility="private", allowOriginalDownload=True)
    [photo] = photos_add(curator, gallery_id)
    photo_id = photo["photoId"]
    for path in (
        f"/api/galleries/{gallery_id}",
        f"/galleries?id={gallery_id}",
        f"/api/galleries/{gallery_id}/photos",
        f"/api/galleries/{gallery_id}/photos/{photo_id}",
        f"/api/galleries/{gallery_id}/photos/{photo_id}/original",
    ):
        assert_hidden(client.get(path), gallery_id)
    # The same answer as a gallery that does not exist: nothing tells them apart.
    missing = client.get("/api/galleries/doesnotexist0000")
    assert missing.json()["error"] == "Gallery doesnotexist0000 does not exist."
    assert curator.get(f"/api/galleries/{gallery_id}").status_code == 200
    assert curator.get(f"/api/galleries/{gallery_id}/photos/{photo_id}").status_code == 200


def test_a_private_gallerys_page_is_404_to_a_signed_out_browser(aws, curator, client):
    gallery_id = gallery_new(curator, visibility="private")
    page = client.get(f"/api/galleries/{gallery_id}", HTTP_ACCEPT="text/html")
    assert page.status_code == 404
    assert b"Ospreys" not in page.content
    assert curator.get(f"/api/galleries/{gallery_id}", HTTP_ACCEPT="text/html").status_code == 200


# ------------------------------------------------------------------ where renditions live


def test_a_private_gallerys_renditions_are_never_under_the_public_prefix(aws, curator, settings):
    settings.MEDIA_PUBLIC_BASE_URL = "https://cdn.example.org"
    gallery_id = gallery_new(curator, visibility="private")
    [photo] = photos_add(curator, gallery_id)
    assert bucket_keys(f"renditions/{gallery_id}/") == set()
    assert bucket_keys(f"private/renditions/{gallery_id}/")
    for url in (photo["thumbnailURL"], photo["fullSizeURL"], photo["originalURL"]):
        assert is_signed(url) and not url.startswith("https://cdn.example.org")
    cover = curator.get(f"/api/galleries/{gallery_id}").json()["coverPhotoURL"]
    assert is_signed(cover) and "/private/renditions/" in cover
    assert GalleryPhoto.get(gallery_id, photo["photoId"]).visibility == "private"


def test_changing_visibility_moves_renditions_and_the_old_urls_stop_working(
    backend, curator, client, settings
):
    settings.MEDIA_PUBLIC_BASE_URL = "https://cdn.example.org"
    gallery_id = gallery_new(curator)
    photos = photos_add(curator, gallery_id, count=2)
    public_keys = bucket_keys(f"renditions/{gallery_id}/")
    assert len(public_keys) == sum(
        len(GalleryPhoto.get(gallery_id, p["photoId"]).rendition_keys) for p in photos
    )
    assert photos[0]["thumbnailURL"].startswith("https://cdn.example.org/renditions/")

    made_private = curator.patch(f"/api/galleries/{gallery_id}", {"visibility": "private"}, format="json")
    assert made_private.status_code == 200 and made_private.json()["visibility"] == "private"
    assert bucket_keys(f"renditions/{gallery_id}/") == set()  # the public objects are gone
    moved = bucket_keys(f"private/renditions/{gallery_id}/")
    assert {key.rsplit("/", 1)[-1] for key in moved} == {key.rsplit("/", 1)[-1] for key in public_keys}
    assert "/private/renditions/" in made_private.json()["coverPhotoURL"]
    for item in GalleryPhoto.query(gallery_id):
        assert item.visibility == "private"
        assert all(key.startswith("private/renditions/") for key in item.rendition_keys)
        assert "/private/renditions/" in item.thumbnail_url
    assert_hidden(client.get(f"/api/galleries/{gallery_id}"), gallery_id)

    curator.patch(f"/api/galleries/{gallery_id}", {"visibility": "unlisted"}, format="json")
    assert bucket_keys(f"private/renditions/{gallery_id}/") == set()
    assert bucket_keys(f"renditions/{gallery_id}/") == public_keys
    answer = client.get(f"/api/galleries/{gallery_id}").json()
    assert answer["coverPhotoURL"].startswith("https://cdn.example.org/renditions/")
    assert {item.visibility for item in GalleryPhoto.query(gallery_id)} == {"unlisted"}
    assert gallery_id not in {g["galleryId"] for g in client.get("/api/galleries").json()["results"]}


def test_a_move_cut_short_by_the_deadline_is_finished_by_the_photos_scan(aws, curator, monkeypatch):
    gallery_id = gallery_new(curator)
    photos_add(curator, gallery_id, count=3)
    calls = {"n": 0}
    real = placement.photo_place

    def out_of_time_after_one(**kwargs):
        calls["n"] += 1
        if calls["n"] > 1:
            raise placement.DeadlineReached()
        return real(**kwargs)

    monkeypatch.setattr(placement, "photo_place", out_of_time_after_one)
    answer = curator.patch(f"/api/galleries/{gallery_id}", {"visibility": "private"}, format="json")
    assert answer.status_code == 200
    assert len(bucket_keys(f"renditions/{gallery_id}/")) > 0  # two photos still public
    monkeypatch.setattr(placement, "photo_place", real)

    summary = gallery_photos_scan(gallery_id=gallery_id)
    assert summary.renditions_placed == 2
    assert bucket_keys(f"renditions/{gallery_id}/") == set()
    assert {item.visibility for item in GalleryPhoto.query(gallery_id)} == {"private"}
    assert gallery_photos_scan(gallery_id=gallery_id).renditions_placed == 0  # nothing left to do


def test_the_scan_removes_copies_a_dead_move_left_and_keeps_what_items_list(
    aws, curator, settings, monkeypatch
):
    gallery_id = gallery_new(curator)
    [photo] = photos_add(curator, gallery_id)
    item = GalleryPhoto.get(gallery_id, photo["photoId"])
    # A move that died after its copies: objects under the private prefix no item lists.
    stray = [key.replace("renditions/", "private/renditions/", 1) for key in item.rendition_keys]
    for key in stray:
        s3_client().copy_object(
            Bucket=settings.BUCKET_NAME, Key=key, CopySource={"Bucket": settings.BUCKET_NAME, "Key": key[8:]}
        )
    young = gallery_photos_scan(gallery_id=gallery_id)  # a move still at work could list them: left
    assert young.orphan_objects_removed == 0 and sorted(entry["key"] for entry in young.left) == sorted(stray)
    # Once no write alive could still list them, they go.
    clock_at(monkeypatch, photos_scan, datetime.now(UTC) + records.WRITE_LIFETIME + timedelta(seconds=1))
    summary = gallery_photos_scan(gallery_id=gallery_id)
    assert summary.orphan_objects_removed == len(stray)
    assert bucket_keys(f"private/renditions/{gallery_id}/") == set()
    assert bucket_keys(f"renditions/{gallery_id}/") == set(item.rendition_keys)


# ------------------------------------------------------------------ originals


def location_of(data: bytes) -> dict:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))


def download(client, gallery_id: str, photo_id: str):
    response = client.get(f"/api/galleries/{gallery_id}/photos/{photo_id}/original")
    assert response.status_code == 302, response.content
    url = response["Location"]
    assert is_signed(url)
    return urlparse(url).path.split(f"/{settings.BUCKET_NAME}/", 1)[-1].lstrip("/"), url


def test_originals_are_for_curators_unless_the_gallery_offers_downloads(backend, curator, client):
    gallery_id = gallery_new(curator)
    [photo] = photos_add(curator, gallery_id)
    photo_id = photo["photoId"]
    assert client.get(f"/api/galleries/{gallery_id}/photos/{photo_id}").json()["originalURL"] is None
    refused = client.get(f"/api/galleries/{gallery_id}/photos/{photo_id}/original")
    assert refused.status_code == 404 and set(refused.json()) == {"error", "details"}
    key, _ = download(curator, gallery_id, photo_id)
    assert key.endswith(photo["s3Key"])


def test_a_visitors_download_has_no_location_and_the_original_is_untouched(backend, curator, client):
    gallery_id = gallery_new(curator, allowOriginalDownload=True)
    [photo] = photos_add(curator, gallery_id)
    photo_id = photo["photoId"]
    original_before = object_bytes(photo["s3Key"])
    assert location_of(original_before)  # the camera's GPS is in the original

    offered = client.get(f"/api/galleries/{gallery_id}/photos/{photo_id}").json()["originalURL"]
    assert offered.endswith(f"/api/galleries/{gallery_id}/photos/{photo_id}/original")
    key, _ = download(client, gallery_id, photo_id)
    assert key.startswith(f"private/downloads/{gallery_id}/")
    copy = object_bytes(key)
    assert location_of(copy) == {}
    assert Image.open(io.BytesIO(copy)).tobytes() == Image.open(io.BytesIO(original_before)).tobytes()
    assert object_bytes(photo["s3Key"]) == original_before
    assert download(client, gallery_id, photo_id)[0] == key  # made once

    curator.patch(f"/api/galleries/{gallery_id}", {"locationPrivacy": "exact"}, format="json")
    assert download(client, gallery_id, photo_id)[0].endswith(photo["s3Key"])

    curator.delete(f"/api/galleries/{gallery_id}/photos/{photo_id}")
    assert bucket_keys(f"private/downloads/{gallery_id}/") == set()  # the copy goes with its photo


def test_a_visitors_cursor_carries_no_key_of_a_hidden_gallery(backend, curator, client):
    """A listing page can end on an item DynamoDB evaluated but filtered out; the cursor must resume
    after the last gallery the visitor saw, never name the hidden one (cursors are signed, not secret)."""
    gallery_new(curator, "First")
    hidden = gallery_new(curator, "Hidden", visibility="unlisted")
    gallery_new(curator, "Last")
    url: str | None = "/api/galleries?page_size=1"
    while url:
        page = client.get(url).json()
        url = page["next"]
        for link in (page["next"], page["previous"]):
            if link and "cursor=" in link:
                token = parse_qs(urlparse(link).query)["cursor"][0]
                assert hidden not in cursor_text(token)


def cursor_text(token: str) -> str:
    """What a signed cursor carries, read as anyone could (Django's signing only signs)."""
    payload = token.split(":", 1)[0]
    compressed = payload.startswith(".")
    raw = base64.urlsafe_b64decode(payload.lstrip(".") + "=" * (-len(payload.lstrip(".")) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def test_a_photo_from_before_rendition_keys_is_moved_too(aws, curator):
    gallery_id = gallery_new(curator)
    [photo] = photos_add(curator, gallery_id)
    item = GalleryPhoto.get(gallery_id, photo["photoId"])
    public = set(item.rendition_keys)
    item.update(actions=[GalleryPhoto.rendition_keys.remove(), GalleryPhoto.visibility.remove()])
    assert (
        curator.patch(f"/api/galleries/{gallery_id}", {"visibility": "private"}, format="json").status_code
        == 200
    )
    assert bucket_keys(f"renditions/{gallery_id}/") == set()
    assert {key.rsplit("/", 1)[-1] for key in bucket_keys(f"private/renditions/{gallery_id}/")} == {
        key.rsplit("/", 1)[-1] for key in public
    }
    moved = GalleryPhoto.get(gallery_id, photo["photoId"])
    assert "/private/renditions/" in moved.thumbnail_url and moved.visibility == "private"


def test_the_scan_moves_a_photo_from_before_rendition_keys(aws, curator):
    gallery_id = gallery_new(curator)
    [photo] = photos_add(curator, gallery_id)
    GalleryPhoto.get(gallery_id, photo["photoId"]).update(actions=[GalleryPhoto.rendition_keys.remove()])
    GalleryPhoto.get(gallery_id, photo["photoId"]).update(actions=[GalleryPhoto.visibility.remove()])
    gallery_update(gallery_id=gallery_id, visibility="private")  # the gallery alone, no move
    assert gallery_photos_scan(gallery_id=gallery_id).renditions_placed == 1
    assert bucket_keys(f"renditions/{gallery_id}/") == set()


def test_a_move_that_lost_to_another_deletes_nothing_the_item_lists(aws, curator):
    """Two moves of one photo (a curator's change and a scan) write the same keys: the loser must not
    delete what the winner's item now lists, whether its item write or its copy found out first."""
    gallery_id = gallery_new(curator)
    [photo] = photos_add(curator, gallery_id)
    stale = GalleryPhoto.get(gallery_id, photo["photoId"])  # read before the other move
    gallery_update(gallery_id=gallery_id, visibility="private")
    assert (
        placement.photo_place(photo=GalleryPhoto.get(gallery_id, photo["photoId"]), visibility="private")
        == "moved"
    )
    # The old objects are gone: the loser's first copy finds no source.
    assert placement.photo_place(photo=stale, visibility="private") == "raced"
    item = GalleryPhoto.get(gallery_id, photo["photoId"])
    assert set(item.rendition_keys) == bucket_keys(f"private/renditions/{gallery_id}/")


def test_a_move_whose_item_write_loses_keeps_the_winners_objects(aws, curator, monkeypatch):
    gallery_id = gallery_new(curator)
    [photo] = photos_add(curator, gallery_id)
    loser = GalleryPhoto.get(gallery_id, photo["photoId"])
    winner = GalleryPhoto.get(gallery_id, photo["photoId"])
    gallery_update(gallery_id=gallery_id, visibility="private")  # the gallery alone, no move yet
    real_delete = placement.storage.objects_delete
    # The winner copies and writes its item between the loser's copies and the loser's item write.
    monkeypatch.setattr(placement.storage, "objects_delete", lambda keys: None)
    assert placement.photo_place(photo=winner, visibility="private") == "moved"
    monkeypatch.setattr(placement.storage, "objects_delete", real_delete)
    assert placement.photo_place(photo=loser, visibility="private") == "raced"
    item = GalleryPhoto.get(gallery_id, photo["photoId"])
    assert set(item.rendition_keys) <= bucket_keys(f"private/renditions/{gallery_id}/")


def test_an_upload_racing_a_change_to_private_ends_under_the_private_prefix(aws, curator, monkeypatch):
    gallery_id = gallery_new(curator)
    real_merge = upload_service.derived.years_merge

    def change_lands_meanwhile(**kwargs):
        gallery_update(gallery_id=gallery_id, visibility="private")  # after the commit, before the check
        return real_merge(**kwargs)

    monkeypatch.setattr(upload_service.derived, "years_merge", change_lands_meanwhile)
    [photo] = photos_add(curator, gallery_id)
    assert bucket_keys(f"renditions/{gallery_id}/") == set()
    assert GalleryPhoto.get(gallery_id, photo["photoId"]).visibility == "private"
    assert "/private/renditions/" in curator.get(f"/api/galleries/{gallery_id}").json()["coverPhotoURL"]


def test_a_photos_etag_changes_when_downloads_are_allowed(aws, curator, client):
    gallery_id = gallery_new(curator)
    [photo] = photos_add(curator, gallery_id)
    path = f"/api/galleries/{gallery_id}/photos/{photo['photoId']}"
    before = client.get(path)["ETag"]
    curator.patch(f"/api/galleries/{gallery_id}", {"allowOriginalDownload": True}, format="json")
    after = client.get(path, HTTP_IF_NONE_MATCH=before)
    assert after.status_code == 200 and after["ETag"] != before and after.json()["originalURL"]


def test_a_gallery_a_scan_creates_for_objects_it_found_is_private(aws, curator, client):
    s3_client().put_object(
        Bucket=settings.BUCKET_NAME, Key="galleries/found-on-a-card/a.jpg", Body=jpeg_bytes()
    )
    gallery_photos_scan(gallery_id="found-on-a-card", create_missing_galleries=True)
    assert curator.get("/api/galleries/found-on-a-card").json()["visibility"] == "private"
    assert_hidden(client.get("/api/galleries/found-on-a-card"), "found-on-a-card")


def test_a_changed_original_drops_its_stale_download_copy(aws, curator, client, settings):
    gallery_id = gallery_new(curator, allowOriginalDownload=True)
    [photo] = photos_add(curator, gallery_id)
    first, _ = download(client, gallery_id, photo["photoId"])
    s3_client().put_object(
        Bucket=settings.BUCKET_NAME, Key=photo["s3Key"], Body=jpeg_bytes(80, 60, gps=(1.5, 2.5))
    )
    assert gallery_photos_scan(gallery_id=gallery_id).updated == 1
    assert bucket_keys(f"private/downloads/{gallery_id}/") == set()
    second, _ = download(client, gallery_id, photo["photoId"])
    assert second != first and location_of(object_bytes(second)) == {}


def test_a_move_that_started_before_a_change_never_undoes_it(aws, curator):
    """A move to public still running (a long PUT, a scan) when the gallery is made private must not put
    its renditions back under the public prefix."""
    gallery_id = gallery_new(curator, visibility="private")
    [photo] = photos_add(curator, gallery_id)
    stale = GalleryPhoto.get(gallery_id, photo["photoId"])  # the move read it while the gallery was public
    assert placement.photo_place(photo=stale, visibility="public") == "raced"
    assert bucket_keys(f"renditions/{gallery_id}/") == set()
    item = GalleryPhoto.get(gallery_id, photo["photoId"])
    assert set(item.rendition_keys) == bucket_keys(f"private/renditions/{gallery_id}/")


def test_a_rerender_that_lost_to_a_move_leaves_no_public_strays(aws, curator, monkeypatch, settings):
    gallery_id = gallery_new(curator)
    [photo] = photos_add(curator, gallery_id)
    s3_client().put_object(Bucket=settings.BUCKET_NAME, Key=photo["s3Key"], Body=jpeg_bytes(80, 60))
    real_store = rerender_service.renditions_store

    def gallery_made_private_meanwhile(processed, plan, written):
        # The re-render planned public keys; the gallery is made private and moved before it writes.
        gallery_update(gallery_id=gallery_id, visibility="private")
        item = GalleryPhoto.get(gallery_id, photo["photoId"])
        assert placement.photo_place(photo=item, visibility="private") == "moved"
        real_store(processed, plan, written)

    monkeypatch.setattr(rerender_service, "renditions_store", gallery_made_private_meanwhile)
    gallery_photos_scan(gallery_id=gallery_id)
    assert bucket_keys(f"renditions/{gallery_id}/") == set()
    item = GalleryPhoto.get(gallery_id, photo["photoId"])
    assert set(item.rendition_keys) <= bucket_keys(f"private/renditions/{gallery_id}/")
