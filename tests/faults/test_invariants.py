"""The invariant checker can fail: a store made through the API passes, and each planted breakage is named.

Breakages are planted by writing the tables and the bucket directly (raw attribute names, the checker's
own clients), the way a buggy or interrupted write would leave them.
"""

import time
from collections.abc import Callable

import pytest
from boto3.dynamodb.types import TypeSerializer
from django.conf import settings

from core.records import ServiceRecord
from galleries.models import Gallery
from photos.models import GalleryPhoto
from ratings.models import PhotoRating
from tests.faults.api import Scene
from tests.faults.invariants import StoreSnapshot, reader, store_violations

GALLERIES = Gallery.Meta.table_name
PHOTOS = GalleryPhoto.Meta.table_name
RATINGS = PhotoRating.Meta.table_name
RECORDS = ServiceRecord.Meta.table_name
_serializer = TypeSerializer()


def _raw(values: dict) -> dict:
    return {name: _serializer.serialize(value) for name, value in values.items()}


def update(table: str, key: dict, expression: str, values: dict | None = None, names: dict | None = None):
    arguments: dict = {"TableName": table, "Key": _raw(key), "UpdateExpression": expression}
    if values:
        arguments["ExpressionAttributeValues"] = _raw(values)
    if names:
        arguments["ExpressionAttributeNames"] = names
    reader("dynamodb").update_item(**arguments)


def put(table: str, item: dict) -> None:
    reader("dynamodb").put_item(TableName=table, Item=_raw(item))


def get(table: str, key: dict) -> dict:
    return reader("dynamodb").get_item(TableName=table, Key=_raw(key), ConsistentRead=True)["Item"]


def delete(table: str, key: dict) -> None:
    reader("dynamodb").delete_item(TableName=table, Key=_raw(key))


def object_put(key: str) -> None:
    reader("s3").put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=b"planted")


def object_delete(key: str) -> None:
    reader("s3").delete_object(Bucket=settings.BUCKET_NAME, Key=key)


def photo_key(scene: Scene, index: int) -> dict:
    return {"galleryId": scene.gallery_id, "photoId": scene.photo_ids[index]}


def photo_write_record(record_id: str, data: dict, expires_in: float) -> None:
    put(
        RECORDS,
        {
            "recordKey": f"photo-write#{record_id}",
            "kind": "photo-write",
            "owner": "tests",
            "status": "writing",
            "expiresAt": int(time.time() + expires_in),
            "data": data,
        },
    )


def tags(violations: list[str]) -> set[str]:
    return {violation[1 : violation.index("]")] for violation in violations}


# ---------------------------------------------------------------- a consistent store


def test_a_store_made_through_the_api_is_consistent(scene):
    store = StoreSnapshot.read()
    assert len(store.galleries) == 1 and store.galleries[0]["photoCount"] == 2
    assert len(store.photos) == 2 and len(store.ratings) == 1
    assert store.objects == {
        key for photo in store.photos for key in [photo["s3Key"], *photo["renditionKeys"]]
    }
    assert len(store.objects) > 2  # originals and renditions
    assert store_violations(store) == []


# ---------------------------------------------------------------- each breakage, named

# Each plant breaks the scene one way and returns a text some violation must contain (an id).
Plant = Callable[[Scene], str]


def bump_photo_count(scene: Scene) -> str:
    update(GALLERIES, {"galleryId": scene.gallery_id}, "ADD photoCount :one", {":one": 1})
    return scene.gallery_id


def duplicate_a_number(scene: Scene) -> str:
    first = scene.photos[0]["photoNumber"]
    update(PHOTOS, photo_key(scene, 1), "SET photoNumber = :n", {":n": first})
    return scene.photo_ids[1]


def number_above_last(scene: Scene) -> str:
    update(PHOTOS, photo_key(scene, 1), "SET photoNumber = :n", {":n": 99})
    return scene.photo_ids[1]


def remove_a_number(scene: Scene) -> str:
    update(PHOTOS, photo_key(scene, 1), "REMOVE photoNumber")
    return scene.photo_ids[1]


def change_rating_sum(scene: Scene) -> str:
    update(PHOTOS, photo_key(scene, 0), "SET ratingSum = :s", {":s": 5})
    return scene.photo_ids[0]


def change_a_histogram_bucket(scene: Scene) -> str:
    update(PHOTOS, photo_key(scene, 1), "SET ratingHistogram.#b = :n", {":n": 1}, {"#b": "5"})
    return scene.photo_ids[1]


def rating_without_aggregate(scene: Scene) -> str:
    put(
        RATINGS,
        {"photoId": scene.photo_ids[1], "userId": "v9", "rating": 3, "ratedAt": "2024-01-01T00:00:00Z"},
    )
    return scene.photo_ids[1]


def delete_an_object(scene: Scene) -> str:
    key = get(PHOTOS, photo_key(scene, 1))["renditionKeys"]["L"][0]["S"]
    object_delete(key)
    return key


def stray_object_in_gallery(scene: Scene) -> str:
    object_put(f"galleries/{scene.gallery_id}/photo99.jpg")
    return "photo99.jpg"


def stray_object_elsewhere(scene: Scene) -> str:
    object_put("misc/left-behind.bin")
    return "misc/left-behind.bin"


def stray_object_of_an_expired_photo_write(scene: Scene) -> str:
    key = f"renditions/{scene.gallery_id}/photo7-thumb.jpg"
    object_put(key)
    photo_write_record("expired", {"objects": [key]}, expires_in=-60)
    return key


def cover_on_a_missing_photo(scene: Scene) -> str:
    update(GALLERIES, {"galleryId": scene.gallery_id}, "SET coverPhotoId = :p", {":p": "no-such-photo"})
    return "no-such-photo"


def cover_number_mismatch(scene: Scene) -> str:
    update(GALLERIES, {"galleryId": scene.gallery_id}, "SET coverPhotoNumber = :n", {":n": 2})
    return scene.gallery_id


def cover_kept_without_live_photos(scene: Scene) -> str:
    for index in (0, 1):
        update(PHOTOS, photo_key(scene, index), "SET deletingAt = :t", {":t": "2024-01-01T00:00:00Z"})
    update(GALLERIES, {"galleryId": scene.gallery_id}, "SET photoCount = :zero", {":zero": 0})
    return scene.gallery_id


def photo_marked_deleting_but_counted(scene: Scene) -> str:
    update(PHOTOS, photo_key(scene, 1), "SET deletingAt = :t", {":t": "2024-01-01T00:00:00Z"})
    return scene.gallery_id


def delete_the_gallery_item(scene: Scene) -> str:
    delete(GALLERIES, {"galleryId": scene.gallery_id})
    return scene.gallery_id


def delete_a_rated_photo_item(scene: Scene) -> str:
    delete(PHOTOS, photo_key(scene, 0))
    return scene.photo_ids[0]


def copy_a_photo_into_another_gallery(scene: Scene) -> str:
    item = reader("dynamodb").get_item(TableName=PHOTOS, Key=_raw(photo_key(scene, 1)), ConsistentRead=True)[
        "Item"
    ]
    reader("dynamodb").put_item(TableName=PHOTOS, Item={**item, "galleryId": {"S": "other-gallery"}})
    return scene.photo_ids[1]


PLANTS = [
    (bump_photo_count, {"photo-count"}),
    (duplicate_a_number, {"photo-number-duplicate"}),
    (number_above_last, {"photo-number-above-last"}),
    (remove_a_number, {"photo-number-missing"}),
    (change_rating_sum, {"rating-aggregate"}),
    (change_a_histogram_bucket, {"rating-aggregate"}),
    (rating_without_aggregate, {"rating-aggregate"}),
    (delete_an_object, {"object-missing"}),
    (stray_object_in_gallery, {"object-orphan"}),
    (stray_object_elsewhere, {"object-orphan"}),
    (stray_object_of_an_expired_photo_write, {"object-orphan"}),
    (cover_on_a_missing_photo, {"cover"}),
    (cover_number_mismatch, {"cover"}),
    (cover_kept_without_live_photos, {"cover"}),
    (photo_marked_deleting_but_counted, {"photo-count"}),
    (delete_the_gallery_item, {"photo-without-gallery"}),
    # The photo's rating, objects, count and cover are all left behind.
    (delete_a_rated_photo_item, {"rating-without-photo", "object-orphan", "photo-count", "cover"}),
    (copy_a_photo_into_another_gallery, {"photo-id-duplicate", "photo-without-gallery", "object-shared"}),
]


@pytest.mark.parametrize(("plant", "expected"), PLANTS, ids=[plant.__name__ for plant, _ in PLANTS])
def test_the_checker_names_each_planted_breakage(scene, plant: Plant, expected: set[str]):
    assert store_violations() == []
    mentioned = plant(scene)
    violations = store_violations()
    assert tags(violations) == expected, violations
    assert any(mentioned in violation for violation in violations), violations


# ---------------------------------------------------------------- states that are allowed


def test_pending_uploads_and_objects_named_by_a_live_photo_write_are_not_orphans(scene):
    object_put(f"uploads/{scene.gallery_id}/{'a' * 32}")
    written = [f"galleries/{scene.gallery_id}/photo3.jpg", f"renditions/{scene.gallery_id}/photo3-thumb.jpg"]
    adopted = f"galleries/{scene.gallery_id}/adopted.jpg"
    for key in [*written, adopted]:
        object_put(key)
    photo_write_record("live", {"objects": written, "adopts": adopted}, expires_in=600)
    assert store_violations() == []


def test_a_photo_delete_under_way_is_allowed_its_missing_objects_and_stale_aggregate(scene):
    """Step 1 of a delete done (marked, uncounted, cover moved), its objects and ratings half gone."""
    second = scene.photos[1]
    update(PHOTOS, photo_key(scene, 0), "SET deletingAt = :t, ratingSum = :s", {":t": "2024-01-01", ":s": 0})
    update(
        GALLERIES,
        {"galleryId": scene.gallery_id},
        "SET photoCount = :one, coverPhotoId = :id, coverPhotoNumber = :n",
        {":one": 1, ":id": second["photoId"], ":n": second["photoNumber"]},
    )
    object_delete(get(PHOTOS, photo_key(scene, 0))["s3Key"]["S"])
    assert store_violations() == []


def test_a_gallery_marked_deleting_is_left_out_of_the_count_and_cover_rules(scene):
    update(
        GALLERIES,
        {"galleryId": scene.gallery_id},
        "SET deletingAt = :t, photoCount = :n REMOVE coverPhotoId",
        {":t": "2024-01-01", ":n": 7},
    )
    assert store_violations() == []
