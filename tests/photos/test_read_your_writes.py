"""Read-your-writes for photos found by their id alone, with the byPhotoId index lagging as DynamoDB's
may (``tests.index_lag``): right after an upload answers, every route that finds a photo by its id alone
answers it; a photo deleted (or hidden) meanwhile answers 404 exactly like a missing one, naming no
gallery; restored photos are found at once too."""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from core import records
from core.aws import s3_client
from core.records import ServiceRecord, record_key
from galleries.models import Gallery
from photos import recent
from photos.models import GalleryPhoto, PhotoTag
from ratings.models import PhotoRating
from scans import restore
from tests.clock import clock_at
from tests.factories import jpeg_bytes
from tests.index_lag import index_lag

LAG_SECONDS = 600.0  # longer than any test here: every write in a block is still unseen by the index


def gallery_new(curator, visibility: str = "public") -> str:
    body = {"name": "Tide pools", "continent": "Europe", "country": "Ireland", "visibility": visibility}
    response = curator.post("/api/galleries", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["galleryId"]


def upload_one(curator, gallery_id: str) -> str:
    files = [SimpleUploadedFile("pool.jpg", jpeg_bytes(64, 48), "image/jpeg")]
    response = curator.post(f"/api/galleries/{gallery_id}/photos", {"photos": files}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["photos"][0]["photoId"]


# Every route that finds a photo by its id alone, as (name, call): each answers a status and a body.
def _summary(api, photo_id, user_id="v1"):
    return api.get(f"/api/photos/{photo_id}/ratings")


def _rating(api, photo_id, user_id="v1"):
    return api.get(f"/api/photos/{photo_id}/ratings/{user_id}")


def _rate(api, photo_id, user_id="v1"):
    return api.put(f"/api/photos/{photo_id}/ratings/{user_id}", {"rating": 4}, format="json")


def _guide_rating(api, photo_id, user_id="v1"):
    return api.get("/galleries", {"action": "get_photo_rating", "photoId": photo_id, "userId": user_id})


def _guide_rate(api, photo_id, user_id="v1"):
    body = {"photoId": photo_id, "userId": user_id, "rating": 4}
    return api.post("/galleries?action=rate_photo", body, format="json")


def _withdraw(api, photo_id, user_id="v1"):
    return api.delete(f"/api/photos/{photo_id}/ratings/{user_id}", HTTP_X_VISITOR_TOKEN="none-yet")


BY_ID_ALONE = {
    "getPhotoRatings": (_summary, 200),
    "getRating": (_rating, 200),
    "ratePhoto": (_rate, 201),
    "guide get_photo_rating": (_guide_rating, 200),
    "guide rate_photo": (_guide_rate, 201),
}
# Withdrawing needs a rating first (test_rate_withdraw_and_read_right_after_the_upload); it finds the
# photo before anything else, so a missing photo is its 404 too.
EVERY_ROUTE = {**BY_ID_ALONE, "withdrawRating": (_withdraw, 404)}


def as_missing(response, photo_id: str) -> dict:
    """A 404's body with the photo's id taken out, to compare with a missing photo's."""
    assert response.status_code == 404, response.content
    return json.loads(response.content.decode().replace(photo_id, "<id>"))


def test_the_simulated_index_hides_a_new_photo_and_keeps_a_deleted_one_until_it_catches_up(aws, curator):
    gallery_id = gallery_new(curator)
    old = upload_one(curator, gallery_id)
    with index_lag(LAG_SECONDS) as lag:
        new = upload_one(curator, gallery_id)
        assert list(GalleryPhoto.by_photo_id.query(new)) == []
        assert curator.delete(f"/api/galleries/{gallery_id}/photos/{old}").status_code == 200
        [ghost] = GalleryPhoto.by_photo_id.query(old)
        assert (ghost.gallery_id, ghost.photo_id) == (gallery_id, old)
        assert lag.stale == 2
        lag.catch_up()
        assert [key.photo_id for key in GalleryPhoto.by_photo_id.query(new)] == [new]
        assert list(GalleryPhoto.by_photo_id.query(old)) == []
    with index_lag(0) as lag:  # no lag: the index answers what the table holds
        newest = upload_one(curator, gallery_id)
        assert [key.photo_id for key in GalleryPhoto.by_photo_id.query(newest)] == [newest]
        assert lag.stale == 0


@pytest.mark.parametrize("route", BY_ID_ALONE)
def test_every_route_finding_a_photo_by_id_alone_answers_it_right_after_its_upload(
    aws, curator, client, route
):
    call, status = BY_ID_ALONE[route]
    gallery_id = gallery_new(curator)
    with index_lag(LAG_SECONDS) as lag:
        photo_id = upload_one(curator, gallery_id)
        response = call(client, photo_id)
        assert response.status_code == status, response.content
        assert response.json()["photoId"] == photo_id
        assert lag.stale >= 1  # the index did not list the photo: the answer came from elsewhere


def test_rate_rerate_withdraw_and_read_right_after_the_upload(aws, curator, client):
    gallery_id = gallery_new(curator)
    with index_lag(LAG_SECONDS) as lag:
        photo_id = upload_one(curator, gallery_id)
        first = client.put(f"/api/photos/{photo_id}/ratings/v1", {"rating": 2}, format="json")
        assert first.status_code == 201, first.content
        token = {"HTTP_X_VISITOR_TOKEN": first.json()["visitorToken"]}
        again = client.put(f"/api/photos/{photo_id}/ratings/v1", {"rating": 5}, format="json", **token)
        assert again.status_code == 200 and again.json()["ratingCount"] == 1
        assert client.get(f"/api/photos/{photo_id}/ratings").json()["averageRating"] == 5.0
        withdrawn = client.delete(f"/api/photos/{photo_id}/ratings/v1", **token)
        assert withdrawn.status_code == 200 and withdrawn.json()["ratingCount"] == 0
        assert lag.stale >= 4


@pytest.mark.parametrize("route", EVERY_ROUTE)
def test_a_photo_deleted_during_the_lag_is_404_exactly_like_a_missing_one(aws, curator, client, route):
    call, _ = EVERY_ROUTE[route]
    gallery_id = gallery_new(curator)
    listed = upload_one(curator, gallery_id)  # the index lists it: after its delete, it still does
    with index_lag(LAG_SECONDS) as lag:
        unlisted = upload_one(curator, gallery_id)  # the index never lists it: only its record does
        for photo_id in (listed, unlisted):
            assert curator.delete(f"/api/galleries/{gallery_id}/photos/{photo_id}").status_code == 200
        missing = as_missing(call(client, "f" * 32), "f" * 32)
        for photo_id in (listed, unlisted):
            for api in (client, curator):
                response = call(api, photo_id)
                assert as_missing(response, photo_id) == missing
                assert gallery_id not in response.content.decode()
        assert lag.stale >= 2


def test_a_new_photo_of_a_private_gallery_is_404_to_visitors_like_a_missing_one_and_answered_to_curators(
    aws, curator, client
):
    gallery_id = gallery_new(curator, visibility="private")
    with index_lag(LAG_SECONDS):
        photo_id = upload_one(curator, gallery_id)
        missing = as_missing(_summary(client, "f" * 32), "f" * 32)
        for number, (call, status) in enumerate(BY_ID_ALONE.values()):
            hidden = call(client, photo_id)
            assert as_missing(hidden, photo_id) == missing and gallery_id not in hidden.content.decode()
            assert call(curator, photo_id, user_id=f"c{number}").status_code == status


def test_visibility_moves_and_a_gallery_delete_during_the_lag_are_followed_at_once(aws, curator, client):
    gallery_id = gallery_new(curator)
    with index_lag(LAG_SECONDS):
        photo_id = upload_one(curator, gallery_id)
        assert _summary(client, photo_id).status_code == 200
        moved = curator.patch(f"/api/galleries/{gallery_id}", {"visibility": "private"}, format="json")
        assert moved.status_code == 200
        assert _summary(client, photo_id).status_code == 404
        assert _summary(curator, photo_id).status_code == 200
        curator.patch(f"/api/galleries/{gallery_id}", {"visibility": "unlisted"}, format="json")
        assert _summary(client, photo_id).status_code == 200
        assert curator.delete(f"/api/galleries/{gallery_id}").status_code in (200, 204)
        for api in (client, curator):
            gone = _summary(api, photo_id)
            assert gone.status_code == 404 and gallery_id not in gone.content.decode()


def test_the_record_names_the_gallery_for_a_day_and_is_never_needed_once_the_index_lists_the_photo(
    aws, curator, client
):
    gallery_id = gallery_new(curator)
    photo_id = upload_one(curator, gallery_id)
    record = ServiceRecord.get(record_key(recent.KIND, photo_id), consistent_read=True)
    assert record.data.as_dict() == {"galleryId": gallery_id}
    assert recent.LIFETIME - timedelta(minutes=5) < record.expires_at - datetime.now(UTC) <= recent.LIFETIME
    # Once the index lists the photo, the record is not read (and an expired one is absent).
    ServiceRecord(record_key(recent.KIND, photo_id)).delete()
    assert _summary(client, photo_id).status_code == 200


def test_an_expired_record_is_absent_even_where_the_store_keeps_it(aws, curator, client, monkeypatch):
    """DynamoDB deletes expired items days late and DynamoDB Local never: a record past its lifetime,
    still stored, must not be read as where the photo lives (while the index, lagging, lists nothing)."""
    gallery_id = gallery_new(curator)
    with index_lag(LAG_SECONDS) as lag:
        photo_id = upload_one(curator, gallery_id)
        assert _summary(client, photo_id).status_code == 200  # the live record finds it
        clock_at(monkeypatch, records, datetime.now(UTC) + recent.LIFETIME + timedelta(minutes=1))
        assert ServiceRecord.get(record_key(recent.KIND, photo_id), consistent_read=True)  # still stored
        assert _summary(client, photo_id).status_code == 404
        assert lag.stale >= 2


# ---------------------------------------------------------------- a restore


TABLES = (Gallery, GalleryPhoto, PhotoRating, PhotoTag)


def test_photos_put_back_by_a_restore_are_found_by_their_ids_at_once(aws, curator, client):
    s3_client().put_bucket_versioning(
        Bucket=settings.BUCKET_NAME, VersioningConfiguration={"Status": "Enabled"}
    )
    gallery_id = gallery_new(curator)
    photo_id = upload_one(curator, gallery_id)
    assert _rate(client, photo_id).status_code == 201
    dynamodb = boto3.client("dynamodb", region_name=settings.AWS_REGION)
    for model in TABLES:  # moto's restore copies the table as it is now: a point before the delete
        dynamodb.restore_table_to_point_in_time(
            SourceTableName=model.Meta.table_name,
            TargetTableName=f"{model.Meta.table_name}{restore.DEFAULT_SUFFIX}",
        )
    assert curator.delete(f"/api/galleries/{gallery_id}").status_code in (200, 204)
    for record in ServiceRecord.scan():  # as if a day had passed since the upload
        if record.kind == recent.KIND:
            record.delete()
    with index_lag(LAG_SECONDS) as lag:
        report = restore.gallery_restore(gallery_id=gallery_id, tables=restore.RestoredTables.named())
        assert report.problems == []
        summary = _summary(client, photo_id)
        assert summary.status_code == 200 and summary.json()["ratingCount"] == 1
        assert lag.stale >= 1
