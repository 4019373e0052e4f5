"""Restoring a deleted gallery (``manage.py restore_gallery``, scans.restore) from tables restored to a
moment before its delete and the bucket's versions: the gallery answers again exactly as before."""

import datetime
import io
import json
from urllib.parse import unquote, urlsplit

import boto3
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from core import signed_urls
from core.aws import s3_client
from devtools.local_services.rating_stream import StreamCourier
from galleries.models import Gallery
from photos.models import GalleryPhoto, PhotoTag
from ratings.models import PhotoRating
from scans import restore
from scans.events import rating_changes
from scans.photos_scan import gallery_photos_scan
from tests.factories import jpeg_bytes
from tests.photos.conftest import as_file

TABLES = (Gallery, GalleryPhoto, PhotoRating, PhotoTag)


@pytest.fixture
def versioned(aws):
    """The bucket keeps versions from the start, as ensure_resources sets it up."""
    s3_client().put_bucket_versioning(
        Bucket=settings.BUCKET_NAME, VersioningConfiguration={"Status": "Enabled"}
    )


def dynamodb():
    return boto3.client("dynamodb", region_name=settings.AWS_REGION)


def tables_restore(suffix: str = restore.DEFAULT_SUFFIX) -> None:
    """What the operator does first: each table restored to a point in time into a new table. moto's
    restore copies the table as it is at the call, so calling it before the delete is restoring to a
    moment before it."""
    for model in TABLES:
        dynamodb().restore_table_to_point_in_time(
            SourceTableName=model.Meta.table_name, TargetTableName=f"{model.Meta.table_name}{suffix}"
        )


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("restore_gallery", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def rate(client, tokens: dict, photo_id: str, user_id: str, stars: int) -> None:
    headers = {"HTTP_X_VISITOR_TOKEN": tokens[user_id]} if user_id in tokens else {}
    response = client.put(
        f"/api/photos/{photo_id}/ratings/{user_id}", {"rating": stars}, format="json", **headers
    )
    assert response.status_code in (200, 201), response.content
    tokens[user_id] = response.json()["visitorToken"]


def gallery_build(curator, client, tokens: dict, *, visibility: str = "public") -> tuple[str, list[str]]:
    """A gallery with two photos (titles, tags, dates), rated by three visitors, and a third photo
    deleted before the restore point (it must stay deleted)."""
    body = {"name": "Harbour nights", "continent": "Europe", "country": "Portugal", "visibility": visibility}
    gallery_id = curator.post("/api/galleries", body, format="json").json()["galleryId"]
    rater = curator if visibility == "private" else client  # only curators reach a private gallery
    files = [
        as_file("boats.jpg", jpeg_bytes(64, 48, taken="2023:07:14 21:30:00")),
        as_file("nets.jpg", jpeg_bytes(48, 64, taken="2021:05:02 06:10:00")),
        as_file("gone.jpg", jpeg_bytes(64, 48)),
    ]
    fields = {
        "titles": json.dumps(["Boats at dusk", "Nets drying", "Blurred"]),
        "tags": json.dumps([["harbour", "boats"], ["harbour"], ["harbour"]]),
    }
    response = curator.post(
        f"/api/galleries/{gallery_id}/photos", {"photos": files, **fields}, format="multipart"
    )
    assert response.status_code == 201, response.content
    photo_ids = [photo["photoId"] for photo in response.json()["photos"]]
    rate(rater, tokens, photo_ids[0], "ana", 5)
    rate(rater, tokens, photo_ids[0], "bruno", 3)
    rate(rater, tokens, photo_ids[1], "ana", 4)
    rate(rater, tokens, photo_ids[2], "carla", 1)
    assert curator.delete(f"/api/galleries/{gallery_id}/photos/{photo_ids[2]}").status_code == 200
    return gallery_id, photo_ids[:2]


def answers(api, gallery_id: str, photo_ids: list[str]) -> dict:
    """Everything a reader asks of the gallery: itself, its photos (a page, each, by rating), their
    ratings, and the search by tag."""

    def get(url: str, **params) -> dict:
        response = api.get(url, params)
        return {"status": response.status_code, "body": response.json()}

    return {
        "gallery": get(f"/api/galleries/{gallery_id}"),
        "page": get(f"/api/galleries/{gallery_id}/photos"),
        "byRating": get(f"/api/galleries/{gallery_id}/photos", ordering="-averageRating"),
        "photos": [get(f"/api/galleries/{gallery_id}/photos/{photo_id}") for photo_id in photo_ids],
        "ratings": [get(f"/api/photos/{photo_id}/ratings") for photo_id in photo_ids],
        "search": get("/api/photos", tag="harbour"),
        "listing": get("/api/galleries"),
    }


def urls_in(value) -> set[str]:
    """Every URL in an answer, srcset lists ("url 400w, url 800w") included."""
    if isinstance(value, dict):
        return {url for item in value.values() for url in urls_in(item)}
    if isinstance(value, list):
        return {url for item in value for url in urls_in(item)}
    if not isinstance(value, str) or not value.startswith("https://"):
        return set()
    return {part.split()[0] for part in value.split(", ")}


def url_key(url: str) -> str:
    """The key a URL names (a public base URL, or a signed virtual-hosted S3 URL)."""
    base = settings.MEDIA_PUBLIC_BASE_URL + "/"
    return url[len(base) :] if url.startswith(base) else unquote(urlsplit(url).path).lstrip("/")


def fetchable(url: str) -> bool:
    """Whether the object a URL names is in the bucket."""
    try:
        s3_client().head_object(Bucket=settings.BUCKET_NAME, Key=url_key(url))
    except s3_client().exceptions.ClientError:
        return False
    return True


def current_keys(gallery_id: str) -> set[str]:
    paginator = s3_client().get_paginator("list_objects_v2")
    prefixes = [f"galleries/{gallery_id}/", f"renditions/{gallery_id}/", f"private/renditions/{gallery_id}/"]
    return {
        item["Key"]
        for prefix in prefixes
        for page in paginator.paginate(Bucket=settings.BUCKET_NAME, Prefix=prefix)
        for item in page.get("Contents", ())
    }


def live_items(gallery_id: str, photo_ids: list[str]) -> dict:
    return {
        "gallery": [g.gallery_id for g in Gallery.scan() if g.gallery_id == gallery_id],
        "photos": [p.photo_id for p in GalleryPhoto.query(gallery_id)],
        "ratings": [r.user_id for photo_id in photo_ids for r in PhotoRating.query(photo_id)],
        "tags": [t.entry_key for t in PhotoTag.scan() if t.gallery_id == gallery_id],
    }


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_a_deleted_gallery_answers_again_exactly_as_before(
    versioned, curator, client, visibility, monkeypatch
):
    # Signed URLs change when their signing window turns: one window for the whole test, or the answers
    # before and after differ whenever the test runs across a turn (at every half hour by default).
    window = signed_urls.window_start(datetime.datetime.now(datetime.UTC).replace(tzinfo=None), 3600)
    monkeypatch.setattr(signed_urls, "window_start", lambda now, seconds: window)
    tokens: dict[str, str] = {}
    gallery_id, photo_ids = gallery_build(curator, client, tokens, visibility=visibility)
    before = {
        "curator": answers(curator, gallery_id, photo_ids),
        "visitor": answers(client, gallery_id, photo_ids),
    }
    keys_before = current_keys(gallery_id)
    assert before["curator"]["gallery"]["body"]["photoCount"] == 2
    assert [r["body"]["averageRating"] for r in before["curator"]["ratings"]] == [4.0, 4.0]
    tables_restore()

    assert curator.delete(f"/api/galleries/{gallery_id}").status_code == 200
    assert curator.get(f"/api/galleries/{gallery_id}").status_code == 404
    assert current_keys(gallery_id) == set()
    assert live_items(gallery_id, photo_ids) == {"gallery": [], "photos": [], "ratings": [], "tags": []}

    dry = run(gallery_id, "--dry-run")
    assert (
        f"would undelete galleries/{gallery_id}/photo1.jpg" in dry and "Dry run: nothing was written." in dry
    )
    assert current_keys(gallery_id) == set()
    assert live_items(gallery_id, photo_ids) == {"gallery": [], "photos": [], "ratings": [], "tags": []}

    output = run(gallery_id)
    assert "restored 2 photos, 3 ratings" in output and "PROBLEM" not in output, output
    assert f"undeleted {len(keys_before)} objects" in output, output

    after = {
        "curator": answers(curator, gallery_id, photo_ids),
        "visitor": answers(client, gallery_id, photo_ids),
    }
    assert after == before
    assert current_keys(gallery_id) == keys_before
    assert not any(key.startswith(f"galleries/{gallery_id}/photo3.") for key in current_keys(gallery_id))
    urls = urls_in(after["curator"]) | urls_in(after["visitor"])
    renditions = {key for key in keys_before if not key.startswith("galleries/")}
    assert len(renditions) >= 4 and renditions <= {url_key(url) for url in urls}
    assert all(fetchable(url) for url in urls), sorted(urls)
    if visibility == "private":
        assert after["visitor"]["gallery"]["status"] == 404
        named = {url_key(url) for url in urls_in(after["curator"]["photos"])}
        assert all(key.startswith(("private/renditions/", "galleries/")) for key in named), named

    # The visitors' holdings still reach their restored ratings; a second run refuses and changes nothing.
    rater = curator if visibility == "private" else client
    rate(rater, tokens, photo_ids[0], "bruno", 4)
    assert rater.get(f"/api/photos/{photo_ids[0]}/ratings").json()["averageRating"] == 4.5
    with pytest.raises(CommandError, match="exists"):
        run(gallery_id)
    assert current_keys(gallery_id) == keys_before
    assert rater.get(f"/api/photos/{photo_ids[0]}/ratings").json()["averageRating"] == 4.5

    # The same bytes uploaded again are still the restored photo's (the claim on them came back).
    photo = GalleryPhoto.get(gallery_id, photo_ids[0])
    original = s3_client().get_object(Bucket=settings.BUCKET_NAME, Key=photo.s3_key)["Body"].read()
    again = curator.post(
        f"/api/galleries/{gallery_id}/photos",
        {"photos": [as_file("boats.jpg", original)]},
        format="multipart",
    )
    assert [photo.get("duplicateOf") for photo in again.json()["photos"]] == [photo_ids[0]], again.content
    assert len(list(GalleryPhoto.query(gallery_id))) == 2


def test_a_gallery_that_exists_is_refused_and_nothing_is_written(versioned, curator, client):
    gallery_id, photo_ids = gallery_build(curator, client, {})
    tables_restore()
    before = answers(curator, gallery_id, photo_ids)
    with pytest.raises(CommandError, match="exists"):
        run(gallery_id)
    assert answers(curator, gallery_id, photo_ids) == before


def test_refusals_before_any_write(versioned, curator, client):
    gallery_id, photo_ids = gallery_build(curator, client, {})
    assert curator.delete(f"/api/galleries/{gallery_id}").status_code == 200
    with pytest.raises(CommandError, match="restore-table-to-point-in-time --source-table-name"):
        run(gallery_id)  # no restored table yet: the command says what to run
    with pytest.raises(CommandError, match="live table"):
        run(gallery_id, "--photos-table", GalleryPhoto.Meta.table_name)
    tables_restore()  # after the delete: the gallery is not in the restored tables
    with pytest.raises(CommandError, match="not in"):
        run(gallery_id)
    assert live_items(gallery_id, photo_ids) == {"gallery": [], "photos": [], "ratings": [], "tags": []}


def test_a_bucket_without_versions_is_refused(versioned, curator, client, settings):
    gallery_id, photo_ids = gallery_build(curator, client, {})
    tables_restore()
    assert curator.delete(f"/api/galleries/{gallery_id}").status_code == 200
    settings.BUCKET_NAME = "never-versioned"  # a bucket made before versioning was turned on
    s3_client().create_bucket(Bucket=settings.BUCKET_NAME)
    with pytest.raises(CommandError, match="never kept versions"):
        run(gallery_id)
    assert live_items(gallery_id, photo_ids) == {"gallery": [], "photos": [], "ratings": [], "tags": []}


def versions_forget(key: str) -> None:
    """A key's every version and marker gone for good (non-current versions past their expiry)."""
    listing = s3_client().list_object_versions(Bucket=settings.BUCKET_NAME, Prefix=key)
    for entry in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
        if entry["Key"] == key:
            s3_client().delete_object(Bucket=settings.BUCKET_NAME, Key=key, VersionId=entry["VersionId"])


def test_a_lost_rendition_is_made_again_and_a_lost_original_loses_its_photo(versioned, curator, client):
    gallery_id, photo_ids = gallery_build(curator, client, {})
    first, second = (GalleryPhoto.get(gallery_id, photo_id) for photo_id in photo_ids)
    tables_restore()
    assert curator.delete(f"/api/galleries/{gallery_id}").status_code == 200
    lost_rendition = str(first.rendition_keys[0])
    versions_forget(lost_rendition)
    versions_forget(second.s3_key)

    with pytest.raises(CommandError, match="1 problem"):
        out = io.StringIO()
        call_command("restore_gallery", gallery_id, stdout=out, stderr=io.StringIO())
    output = out.getvalue()
    assert f"PROBLEM: photo {photo_ids[1]}" in output and "no version of its original" in output, output
    assert f"rendition {lost_rendition}: no version left" in output, output

    gallery = curator.get(f"/api/galleries/{gallery_id}").json()
    assert gallery["photoCount"] == 1
    assert [p["photoId"] for p in curator.get(f"/api/galleries/{gallery_id}/photos").json()["results"]] == [
        photo_ids[0]
    ]
    assert [r.user_id for r in PhotoRating.query(photo_ids[1])] == []
    restored = GalleryPhoto.get(gallery_id, photo_ids[0])
    assert set(map(str, restored.rendition_keys)) <= current_keys(gallery_id)
    assert client.get(f"/api/photos/{photo_ids[0]}/ratings").json()["averageRating"] == 4.0


def test_ratings_restored_to_a_later_moment_set_the_aggregate(versioned, curator, client):
    """Tables restored to different moments: the photo's aggregate follows the ratings restored."""
    gallery_id, photo_ids = gallery_build(curator, client, {})
    tables_restore()
    extra = {"photoId": {"S": photo_ids[1]}, "userId": {"S": "dora"}, "rating": {"N": "2"}}
    extra |= {"ratedAt": {"S": "2026-01-01T00:00:00.000Z"}, "galleryId": {"S": gallery_id}}
    dynamodb().put_item(TableName=f"{PhotoRating.Meta.table_name}{restore.DEFAULT_SUFFIX}", Item=extra)
    assert curator.delete(f"/api/galleries/{gallery_id}").status_code == 200

    output = run(gallery_id)
    assert (
        f"photo {photo_ids[1]}: rating aggregate set from its 2 ratings (count 1 -> 2, sum 4 -> 6)" in output
    )
    summary = client.get(f"/api/photos/{photo_ids[1]}/ratings").json()
    assert (summary["ratingCount"], summary["averageRating"]) == (2, 3.0)
    assert summary["ratingHistogram"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}
    by_rating = curator.get(f"/api/galleries/{gallery_id}/photos", {"ordering": "-averageRating"}).json()
    assert [p["photoId"] for p in by_rating["results"]] == photo_ids  # 4.0 before 3.0: the order key follows


def test_scans_running_during_the_restore_leave_the_gallery_alone(versioned, curator, client):
    """Photos back but objects not yet: the mark keeps both scans from removing them as gone."""
    gallery_id, photo_ids = gallery_build(curator, client, {})
    before = answers(curator, gallery_id, photo_ids)
    tables_restore()
    assert curator.delete(f"/api/galleries/{gallery_id}").status_code == 200
    seen = {}

    def say(line: str) -> None:
        if line.startswith("tag entries:"):  # items written, delete markers not yet removed
            seen["scan"] = gallery_photos_scan().as_dict()
            seen["reader"] = curator.get(f"/api/galleries/{gallery_id}").status_code

    report = restore.gallery_restore(gallery_id=gallery_id, tables=restore.RestoredTables.named(), say=say)
    assert report.problems == []
    assert seen["reader"] == 404
    assert (seen["scan"]["removed"], seen["scan"]["orphanGalleries"], seen["scan"]["galleriesDeleted"]) == (
        0,
        [],
        [],
    )
    assert answers(curator, gallery_id, photo_ids) == before


def test_a_hot_photos_streamed_ratings_are_counted_once_after_a_restore(versioned, curator, client, settings):
    """The restore sets each photo's aggregate from the ratings it puts back; a streamed rating put back
    is not added to it a second time by the stream aggregator."""
    settings.RATING_STREAM_AGGREGATION = True
    stream = StreamCourier(settings.PHOTO_RATINGS_TABLE, lambda event: rating_changes(event, None))
    tokens: dict[str, str] = {}
    gallery_id, photo_ids = gallery_build(curator, client, tokens)
    [hot] = [photo for photo in GalleryPhoto.query(gallery_id) if photo.photo_id == photo_ids[1]]
    hot.update(actions=[GalleryPhoto.rating_hot_until.set("2999-01-01T00:00:00.000Z")])
    rate(client, tokens, photo_ids[1], "dora", 2)  # streamed puts, added from the stream
    rate(client, tokens, photo_ids[1], "ana", 5)
    assert {r.aggregated_by for r in PhotoRating.query(photo_ids[1])} == {"stream"}
    stream.deliver_pending()
    summary = {"averageRating": 3.5, "ratingCount": 2}
    ratings = client.get(f"/api/photos/{photo_ids[1]}/ratings").json()
    assert {key: ratings[key] for key in summary} == summary
    tables_restore()
    assert curator.delete(f"/api/galleries/{gallery_id}").status_code == 200
    stream.deliver_pending()
    assert "restored 2 photos, 4 ratings" in run(gallery_id)
    assert stream.deliver_pending() >= 2  # the ratings put back: nothing for the aggregator to add
    ratings = client.get(f"/api/photos/{photo_ids[1]}/ratings").json()
    assert {key: ratings[key] for key in summary} == summary
    assert [r.aggregated_by for r in PhotoRating.query(photo_ids[1])] == [None, None]
