"""The invariants over the whole store (every table and the bucket), checked after each injected fault.

``store_violations()`` reads everything afresh (consistent full scans of the raw items, the full bucket
listing) and returns one line per broken invariant, each opening with its rule in brackets:

[photo-count]             a gallery's photoCount is the number of its photos without deletingAt
[photo-number-duplicate]  two photos of a gallery share a photoNumber (deleting ones keep theirs)
[photo-number-missing]    a photo item has no photoNumber
[photo-number-above-last] a photo's number is above its gallery's lastPhotoNumber
[photo-id-duplicate]      one photoId in two galleries (ratings find a photo by its id alone)
[rating-aggregate]        a live photo's ratingCount/ratingSum/ratingHistogram differ from a recount
                          (a hot photo's streamed ratings join it from PhotoRatings' stream: check
                          once the stream has been delivered)
[cover]                   a gallery with live photos names one of them as cover, with its number; a
                          gallery without live photos has no cover
[object-missing]          a live photo's s3Key or rendition is not in the bucket
[object-shared]           one object is referenced by two photo items
[object-orphan]           an object outside uploads/ that no photo item references and no live
                          "photo-write" record names (data["objects"], data["adopts"])
[photo-without-gallery]   a photo item whose gallery item is gone
[rating-without-photo]    a PhotoRatings item whose photo item is gone

What is left out, and why: a gallery marked deleting (``deletingAt`` on its item) is skipped by the count
and cover rules, but its photos still have a gallery; a photo marked deleting is skipped by the aggregate
and object-missing rules (its objects, then its ratings, go before its item), but its objects are still
referenced. Whether the cover is the *lowest* live photo is not checked: after a failed step 5 the
galleries scan repairs that, by design.

Items are read raw (attribute names as stored, numbers as Decimal), not through the models, so an
attribute a model does not declare yet (Gallery's deletingAt) is seen, and a model's defaults never hide a
missing attribute. The clients are the checker's own, made from the environment the test set (so the
same checker works on moto), and exempt from ``tests.faults.injection``'s patches.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from django.conf import settings

from core.records import ServiceRecord
from galleries.models import Gallery
from photos.keys import UPLOADS_ROOT
from photos.models import GalleryPhoto
from ratings.aggregate import RATING_VALUES, counted_value
from ratings.models import PhotoRating
from tests.faults.injection import fault_exempt

PHOTO_WRITE_KIND = "photo-write"
_deserializer = TypeDeserializer()


# ---------------------------------------------------------------- reading the store


@cache
def _client(service: str, endpoint_url: str | None, region: str | None, access_key: str | None):
    client = boto3.session.Session(region_name=region).client(
        service,
        endpoint_url=endpoint_url,
        config=Config(
            connect_timeout=2,
            read_timeout=10,
            retries={"total_max_attempts": 3, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    return fault_exempt(client)


def reader(service: str):
    """The checker's client for ``service`` on whatever endpoint and credentials the environment names."""
    endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
    return _client(
        service, endpoint, os.environ.get("AWS_DEFAULT_REGION"), os.environ.get("AWS_ACCESS_KEY_ID")
    )


def table_items(table_name: str) -> list[dict[str, Any]]:
    """Every item of a table, raw, through a consistent full scan."""
    pages = reader("dynamodb").get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True)
    return [
        {name: _deserializer.deserialize(value) for name, value in item.items()}
        for page in pages
        for item in page.get("Items", ())
    ]


def bucket_keys() -> set[str]:
    pages = reader("s3").get_paginator("list_objects_v2").paginate(Bucket=settings.BUCKET_NAME)
    return {item["Key"] for page in pages for item in page.get("Contents", ())}


@dataclass
class StoreSnapshot:
    """The raw store at one moment (tables read one after the other, so take it when nothing writes)."""

    galleries: list[dict[str, Any]]
    photos: list[dict[str, Any]]
    ratings: list[dict[str, Any]]
    records: list[dict[str, Any]]
    objects: set[str]
    taken_at: float  # epoch seconds, for the records' expiresAt

    @classmethod
    def read(cls) -> StoreSnapshot:
        return cls(
            galleries=table_items(Gallery.Meta.table_name),
            photos=table_items(GalleryPhoto.Meta.table_name),
            ratings=table_items(PhotoRating.Meta.table_name),
            records=table_items(ServiceRecord.Meta.table_name),
            objects=bucket_keys(),
            taken_at=time.time(),
        )

    def gallery_ids(self) -> set[str]:
        return {gallery["galleryId"] for gallery in self.galleries}

    def photos_of(self) -> dict[str, list[dict[str, Any]]]:
        by_gallery: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for photo in self.photos:
            by_gallery[photo["galleryId"]].append(photo)
        return by_gallery


# ---------------------------------------------------------------- helpers over raw items


def _present(item: dict[str, Any], name: str) -> bool:
    """Set to something: a missing attribute and a stored NULL both count as absent."""
    return item.get(name) is not None


def _is_deleting(item: dict[str, Any]) -> bool:
    return _present(item, "deletingAt")


def _number(value: Any) -> int | Decimal | None:
    """A stored number as an int when whole (so messages read 3, not Decimal('3'))."""
    if value is None:
        return None
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else value


def _object_keys(photo: dict[str, Any]) -> list[str]:
    return [key for key in [photo.get("s3Key"), *(photo.get("renditionKeys") or [])] if key]


def _named_keys(value: Any) -> set[str]:
    """Keys a record names: a string, or a list or set of strings."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, list | tuple | set | frozenset):
        return {key for key in value if isinstance(key, str)}
    return set()


def _record_is_live_photo_write(record: dict[str, Any], now: float) -> bool:
    kind = record.get("kind") or str(record.get("recordKey", "")).partition("#")[0]
    expires_at = record.get("expiresAt")
    # No expiresAt means DynamoDB never expires it.
    return kind == PHOTO_WRITE_KIND and (expires_at is None or float(expires_at) > now)


def _recount(ratings: list[dict[str, Any]]) -> tuple[int, int, dict[str, int]]:
    """(count, sum, histogram) of the ratings that count, by ratings.aggregate's rule."""
    histogram = {str(stars): 0 for stars in RATING_VALUES}
    for rating in ratings:
        stars = counted_value(rating.get("rating"))
        if stars is not None:
            histogram[str(stars)] += 1
    return sum(histogram.values()), sum(int(stars) * n for stars, n in histogram.items()), histogram


def _stored_aggregate(photo: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """The aggregate as a reader sees it: a missing count, sum or bucket is 0 (``ratings.aggregate``)."""
    stored = photo.get("ratingHistogram") or {}
    histogram = {str(stars): _number(stored.get(str(stars)) or 0) for stars in RATING_VALUES}
    # A bucket no rating can fill ("0", "6") is wrong only when it holds something.
    histogram.update({key: _number(value) for key, value in stored.items() if key not in histogram and value})
    return _number(photo.get("ratingCount") or 0), _number(photo.get("ratingSum") or 0), histogram


# ---------------------------------------------------------------- the rules


def photo_count_rule(store: StoreSnapshot) -> Iterator[str]:
    photos_of = store.photos_of()
    for gallery in store.galleries:
        if _is_deleting(gallery):
            continue
        live = sum(not _is_deleting(photo) for photo in photos_of[gallery["galleryId"]])
        stored = _number(gallery.get("photoCount", 0))
        if stored != live:
            yield f"[photo-count] gallery {gallery['galleryId']}: photoCount is {stored}, live photos {live}"


def photo_number_rule(store: StoreSnapshot) -> Iterator[str]:
    galleries = {gallery["galleryId"]: gallery for gallery in store.galleries}
    for gallery_id, photos in store.photos_of().items():
        numbers = Counter(
            _number(photo.get("photoNumber")) for photo in photos if _present(photo, "photoNumber")
        )
        for number, count in sorted(numbers.items()):
            if count > 1:
                holders = sorted(p["photoId"] for p in photos if _number(p.get("photoNumber")) == number)
                yield f"[photo-number-duplicate] gallery {gallery_id}: {number} on {', '.join(holders)}"
        for photo in photos:
            if not _present(photo, "photoNumber"):
                yield f"[photo-number-missing] gallery {gallery_id}: photo {photo['photoId']} has none"
        gallery = galleries.get(gallery_id)
        if gallery is None:
            continue  # photo-without-gallery says it
        last = _number(gallery.get("lastPhotoNumber", 0))
        for photo in photos:
            number = _number(photo.get("photoNumber"))
            if number is not None and last is not None and number > last:
                yield (
                    f"[photo-number-above-last] gallery {gallery_id}: photo {photo['photoId']} has number "
                    f"{number}, lastPhotoNumber is {last}"
                )


def photo_id_rule(store: StoreSnapshot) -> Iterator[str]:
    galleries_of: dict[str, list[str]] = defaultdict(list)
    for photo in store.photos:
        galleries_of[photo["photoId"]].append(photo["galleryId"])
    for photo_id, gallery_ids in sorted(galleries_of.items()):
        if len(gallery_ids) > 1:
            yield f"[photo-id-duplicate] photo {photo_id} is in galleries {', '.join(sorted(gallery_ids))}"


def rating_aggregate_rule(store: StoreSnapshot) -> Iterator[str]:
    ratings_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rating in store.ratings:
        ratings_of[rating["photoId"]].append(rating)
    for photo in store.photos:
        if _is_deleting(photo):
            continue
        stored = _stored_aggregate(photo)
        recounted = _recount(ratings_of[photo["photoId"]])
        if stored != recounted:
            yield (
                f"[rating-aggregate] photo {photo['photoId']} (gallery {photo['galleryId']}): stored count "
                f"{stored[0]}, sum {stored[1]}, histogram {stored[2]}; recount {recounted[0]}, "
                f"{recounted[1]}, {recounted[2]}"
            )


def cover_rule(store: StoreSnapshot) -> Iterator[str]:
    photos_of = store.photos_of()
    for gallery in store.galleries:
        if _is_deleting(gallery):
            continue
        gallery_id = gallery["galleryId"]
        live = {p["photoId"]: p for p in photos_of[gallery_id] if not _is_deleting(p)}
        cover_id, cover_number = gallery.get("coverPhotoId"), _number(gallery.get("coverPhotoNumber"))
        if not live:
            names = ("coverPhotoId", "coverPhotoNumber", "coverPhotoURL")
            cover = {name: gallery[name] for name in names if _present(gallery, name)}
            if cover:
                yield f"[cover] gallery {gallery_id}: no live photos but a cover {cover}"
        elif cover_id not in live:
            yield f"[cover] gallery {gallery_id}: coverPhotoId {cover_id!r} is not one of its live photos"
        elif cover_number != _number(live[cover_id].get("photoNumber")):
            yield (
                f"[cover] gallery {gallery_id}: coverPhotoNumber {cover_number}, but photo {cover_id} has "
                f"number {_number(live[cover_id].get('photoNumber'))}"
            )


def objects_rule(store: StoreSnapshot) -> Iterator[str]:
    referenced: dict[str, list[str]] = defaultdict(list)
    for photo in store.photos:
        for key in _object_keys(photo):
            referenced[key].append(photo["photoId"])
            if not _is_deleting(photo) and key not in store.objects:
                yield f"[object-missing] photo {photo['photoId']} (gallery {photo['galleryId']}): {key}"
    for key, photo_ids in sorted(referenced.items()):
        if len(photo_ids) > 1:
            yield f"[object-shared] {key} is referenced by photos {', '.join(sorted(photo_ids))}"
    named = set()
    for record in store.records:
        if _record_is_live_photo_write(record, store.taken_at):
            data = record.get("data") or {}
            named |= _named_keys(data.get("objects")) | _named_keys(data.get("adopts"))
    for key in sorted(store.objects):
        if not key.startswith(UPLOADS_ROOT) and key not in referenced and key not in named:
            yield f"[object-orphan] {key}: no photo item references it and no live photo-write names it"


def orphan_items_rule(store: StoreSnapshot) -> Iterator[str]:
    gallery_ids = store.gallery_ids()
    for photo in store.photos:
        if photo["galleryId"] not in gallery_ids:
            yield f"[photo-without-gallery] photo {photo['photoId']}: gallery {photo['galleryId']} is gone"
    photo_ids = {photo["photoId"] for photo in store.photos}
    for rating in store.ratings:
        if rating["photoId"] not in photo_ids:
            yield f"[rating-without-photo] {rating.get('userId')}'s rating of {rating['photoId']}: no photo"


RULES: tuple[Callable[[StoreSnapshot], Iterator[str]], ...] = (
    photo_count_rule,
    photo_number_rule,
    photo_id_rule,
    rating_aggregate_rule,
    cover_rule,
    objects_rule,
    orphan_items_rule,
)


def store_violations(store: StoreSnapshot | None = None) -> list[str]:
    """Every broken invariant of the store (read now unless a snapshot is given); empty when consistent."""
    store = store if store is not None else StoreSnapshot.read()
    return [violation for rule in RULES for violation in rule(store)]


def assert_store_consistent(store: StoreSnapshot | None = None) -> None:
    """Fail with (and print) every violation, one per line."""
    violations = store_violations(store)
    if violations:
        report = f"{len(violations)} store invariants broken:\n" + "\n".join(f"  {v}" for v in violations)
        print(report)
        raise AssertionError(report)
