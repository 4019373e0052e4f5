"""A gallery's photos in each ordering: through its index, cursor-paginated, deleted photos skipped, old
items placed by the photos scan; ratingOrder kept with the aggregate; the indexes added to old tables."""

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from core import pagination
from photos import ordering
from photos.models import GalleryPhoto
from photos.services import order_keys
from photos.services.rate import photo_rate, photo_rating_withdraw
from scans.photos_scan import gallery_photos_scan
from tests.aws_faults import aws_calls
from tests.factories import jpeg_bytes

# title -> the date it was taken (None: unknown), in upload order (photo numbers 1..7).
SHOTS = {
    "may-a": "2021:05:01 10:00:00",
    "winter": "2019:01:01 00:00:00",
    "undated-a": None,
    "may-b": "2021:05:01 10:00:00",  # taken in the same second as may-a
    "undated-b": None,
    "june": "2020:06:01 08:30:00",
    "gone": "2018:03:03 03:03:03",  # deleted before the listings are read
}
# title -> the stars visitors give it.
STARS = {"winter": [5], "may-b": [5], "june": [4, 5], "may-a": [3], "gone": [5, 5]}

EXPECTED = {
    "photoNumber": ["may-a", "winter", "undated-a", "may-b", "undated-b", "june"],
    # 5.0, 5.0 (equals by number), 4.5, 3.0, then the unrated by number.
    "-averageRating": ["winter", "may-b", "june", "may-a", "undated-a", "undated-b"],
    # Dated by date (same second: by number), then the undated by number.
    "takenAt": ["winter", "june", "may-a", "may-b", "undated-a", "undated-b"],
    # Dated newest first (the exact reverse of takenAt), then the undated by number all the same.
    "-takenAt": ["may-b", "may-a", "june", "winter", "undated-a", "undated-b"],
}


@pytest.fixture
def seeded(curator, gallery_id):
    """A gallery with the photos of SHOTS, rated as STARS says, and "gone" deleted; title -> photo id."""
    files = [
        SimpleUploadedFile(f"{title}.jpg", jpeg_bytes(64, 48, taken=taken), "image/jpeg")
        for title, taken in SHOTS.items()
    ]
    response = curator.post(
        f"/api/galleries/{gallery_id}/photos",
        {"photos": files, "titles": list(SHOTS)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    ids = {photo["title"]: photo["photoId"] for photo in response.json()["photos"]}
    numbers = {photo["title"]: photo["photoNumber"] for photo in response.json()["photos"]}
    assert [numbers[title] for title in SHOTS] == list(range(1, 8))
    for title, stars in STARS.items():
        for index, star in enumerate(stars):
            photo_rate(photo_id=ids[title], user_id=f"{title}-{index}", rating=star)
    assert curator.delete(f"/api/galleries/{gallery_id}/photos/{ids['gone']}").status_code == 200
    return ids


def titles(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return [photo["title"] for photo in response.json()["results"]]


def walk(client, url: str) -> tuple[list[str], list[int]]:
    """Every page from ``url`` on, following ``next``: the titles in order and each page's size."""
    seen: list[str] = []
    sizes: list[int] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [photo["title"] for photo in body["results"]]
        sizes.append(len(body["results"]))
        url = body["next"]
        assert len(sizes) < 20, "the listing does not end"
    return seen, sizes


@pytest.mark.parametrize("order", list(EXPECTED))
def test_each_ordering_lists_the_live_photos_in_its_order(aws, client, gallery_id, seeded, order):
    assert titles(client, f"/api/galleries/{gallery_id}/photos?ordering={order}") == EXPECTED[order]


def test_newest_upload_first(aws, client, curator, gallery_id, seeded):
    later = SimpleUploadedFile("later.jpg", jpeg_bytes(64, 48), "image/jpeg")
    response = curator.post(
        f"/api/galleries/{gallery_id}/photos", {"photos": [later], "titles": ["later"]}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = client.get(f"/api/galleries/{gallery_id}/photos?ordering=-uploadedAt").json()
    listed = [photo["title"] for photo in body["results"]]
    assert listed[0] == "later"
    assert sorted(listed) == sorted([*EXPECTED["photoNumber"], "later"])
    uploaded = [photo["uploadedAt"] for photo in body["results"]]
    assert uploaded == sorted(uploaded, reverse=True)


@pytest.mark.parametrize("order", [*EXPECTED, "-uploadedAt"])
def test_every_ordering_pages_with_a_cursor_to_the_same_photos(aws, client, gallery_id, seeded, order):
    whole = titles(client, f"/api/galleries/{gallery_id}/photos?ordering={order}&page_size=100")
    paged, sizes = walk(client, f"/api/galleries/{gallery_id}/photos?ordering={order}&page_size=2")
    assert paged == whole and len(whole) == 6
    assert sizes == [2, 2, 2]  # the last page knows it is the last: no empty page after it


def test_a_previous_link_goes_back_a_page_in_the_same_ordering(aws, client, gallery_id, seeded):
    first = client.get(f"/api/galleries/{gallery_id}/photos?ordering=takenAt&page_size=2").json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    assert [photo["title"] for photo in third["results"]] == ["undated-a", "undated-b"]
    back = client.get(third["previous"]).json()
    assert back["results"] == second["results"]


def test_a_tag_filters_an_ordering(aws, client, curator, gallery_id):
    files = [
        SimpleUploadedFile(f"{n}.jpg", jpeg_bytes(64, 48, taken=f"20{10 + n}:01:01 00:00:00"), "image/jpeg")
        for n in range(5)
    ]
    tags = [["sea"], [], ["sea", "sky"], [], ["SEA"]]
    response = curator.post(
        f"/api/galleries/{gallery_id}/photos",
        {"photos": files, "titles": [str(n) for n in range(5)], "tags": json.dumps(tags)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    paged, _ = walk(client, f"/api/galleries/{gallery_id}/photos?ordering=-takenAt&tag=Sea&page_size=1")
    assert paged == ["4", "2", "0"]


def test_an_unknown_ordering_is_refused_naming_the_allowed_ones(aws, client, gallery_id):
    response = client.get(f"/api/galleries/{gallery_id}/photos?ordering=rating")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "details"}
    message = " ".join(body["details"]["ordering"])
    assert "'rating'" in message
    assert all(name in message for name in ordering.ORDERINGS)


def test_a_cursor_opens_only_the_ordering_that_made_it(aws, client, curator, gallery_id, seeded):
    made = client.get(f"/api/galleries/{gallery_id}/photos?ordering=takenAt&page_size=2").json()["next"]
    cursor = parse_qs(urlparse(made).query)["cursor"][0]
    for other in ("-takenAt", "-averageRating", "photoNumber", "-uploadedAt"):
        response = client.get(f"/api/galleries/{gallery_id}/photos", {"ordering": other, "cursor": cursor})
        assert response.status_code == 400, other
        assert "cursor" in response.json()["details"]
    another = curator.post(
        "/api/galleries", {"name": "Other", "continent": "Asia", "country": "Japan"}, format="json"
    ).json()["galleryId"]
    response = client.get(f"/api/galleries/{another}/photos", {"ordering": "takenAt", "cursor": cursor})
    assert response.status_code == 400
    assert client.get(made).status_code == 200


def test_the_gallery_read_answers_its_first_page_in_the_ordering_asked(aws, client, gallery_id, seeded):
    for url in (
        f"/api/galleries/{gallery_id}?ordering=-averageRating&page_size=2",
        f"/galleries?id={gallery_id}&ordering=-averageRating&page_size=2",
    ):
        photos = client.get(url).json()["photos"]
        assert [photo["title"] for photo in photos["results"]] == ["winter", "may-b"]
        rest, _ = walk(client, photos["next"])
        assert rest == EXPECTED["-averageRating"][2:]
    assert client.get(f"/galleries?id={gallery_id}&ordering=best").status_code == 400


def _strip_order_keys(gallery_id: str) -> None:
    """Make the gallery's items look like an older release wrote them (no order keys)."""
    for photo in GalleryPhoto.query(gallery_id):
        photo.update(actions=[GalleryPhoto.taken_order.remove(), GalleryPhoto.rating_order.remove()])


def test_items_without_order_keys_are_placed_by_the_photos_scan(aws, client, gallery_id, seeded):
    _strip_order_keys(gallery_id)
    for order in ("takenAt", "-takenAt", "-averageRating"):
        assert titles(client, f"/api/galleries/{gallery_id}/photos?ordering={order}") == [], order
    # Every item has uploadedAt, and the number order reads the table's own index.
    assert len(titles(client, f"/api/galleries/{gallery_id}/photos?ordering=-uploadedAt")) == 6
    gallery_photos_scan(gallery_id=gallery_id)
    for order, expected in EXPECTED.items():
        assert titles(client, f"/api/galleries/{gallery_id}/photos?ordering={order}") == expected, order
    before = {
        photo.photo_id: (photo.taken_order, photo.rating_order) for photo in GalleryPhoto.query(gallery_id)
    }
    gallery_photos_scan(gallery_id=gallery_id)  # nothing left to do: the same keys
    after = {
        photo.photo_id: (photo.taken_order, photo.rating_order) for photo in GalleryPhoto.query(gallery_id)
    }
    assert after == before


def _stored(gallery_id: str, photo_id: str) -> GalleryPhoto:
    return GalleryPhoto.get(gallery_id, photo_id, consistent_read=True)


def _recomputed(photo: GalleryPhoto) -> str:
    return ordering.rating_order(int(photo.rating_count), int(photo.rating_sum), int(photo.photo_number))


def test_rating_order_follows_concurrent_ratings_and_withdrawals(aws, gallery_id, seeded):
    photo_id = seeded["undated-a"]

    def rate(n: int) -> str | None:
        return photo_rate(photo_id=photo_id, user_id=f"crowd-{n}", rating=1 + n % 5).visitor_token

    with ThreadPoolExecutor(max_workers=6) as pool:
        tokens = list(pool.map(rate, range(12)))
    photo = _stored(gallery_id, photo_id)
    assert int(photo.rating_count) == 12 and int(photo.rating_sum) == sum(1 + n % 5 for n in range(12))
    assert photo.rating_order == _recomputed(photo) == ordering.rating_order(12, 33, 3)
    photo_rating_withdraw(photo_id=photo_id, user_id="crowd-4", visitor_token=tokens[4])
    photo = _stored(gallery_id, photo_id)
    assert photo.rating_order == _recomputed(photo) == ordering.rating_order(11, 28, 3)


def test_a_lost_race_is_left_to_the_later_rating(aws, gallery_id, seeded):
    photo_id = seeded["winter"]
    seen = _stored(gallery_id, photo_id)  # count 1, sum 5
    seen.rating_order = None  # as a rater that read the aggregate before its key was set would see it
    photo_rate(photo_id=photo_id, user_id="later", rating=1)  # count 2, sum 6: sets its own order
    assert order_keys.rating_order_refresh(photo=seen) is False  # computed from a count no longer there
    assert _stored(gallery_id, photo_id).rating_order == ordering.rating_order(2, 6, 2)


def test_a_failed_rating_order_write_is_logged_and_the_rating_stands(
    aws, client, gallery_id, seeded, monkeypatch, caplog
):
    def broken(*, photo):
        raise RuntimeError("DynamoDB said no")

    monkeypatch.setattr(order_keys, "rating_order_refresh", broken)
    photo_id = seeded["undated-b"]
    with caplog.at_level(logging.ERROR, logger="photos.services.order_keys"):
        response = client.put(f"/api/photos/{photo_id}/ratings/someone", {"rating": 4}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["averageRating"] == 4.0
    assert "could not set the rating order" in caplog.text
    photo = _stored(gallery_id, photo_id)
    assert photo.rating_order == ordering.rating_order(0, 0, 5)  # stale until the scan
    monkeypatch.undo()
    gallery_photos_scan(gallery_id=gallery_id)
    assert _stored(gallery_id, photo_id).rating_order == ordering.rating_order(1, 4, 5)


def test_taken_order_keeps_only_dates_the_index_can_sort():
    assert (
        ordering.taken_order({"dateTimeOriginal": "2021-05-01T10:00:00"}, 4)
        == "2021-05-01T10:00:00#000000000004"
    )
    for odd in ("", "yesterday", "\uff12\uff10\uff12\uff11-05-01T10:00:00", "~2021", None, 2021):
        assert ordering.taken_order({"dateTimeOriginal": odd}, 4) == "~#000000000004"
    assert ordering.taken_order({}, 12) == "~#000000000012"


ORDER_INDEXES = {"byUploadedAt", "byTakenAt", "byRating"}


def test_ensure_resources_adds_the_order_indexes_to_an_older_photos_table(aws, capsys):
    """GalleryPhotos as the release before these orders made it: its local index and byPhotoId only."""
    client = GalleryPhoto._get_connection().connection.client
    name = GalleryPhoto.Meta.table_name
    client.delete_table(TableName=name)
    client.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "galleryId", "AttributeType": "S"},
            {"AttributeName": "photoId", "AttributeType": "S"},
            {"AttributeName": "photoNumber", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "galleryId", "KeyType": "HASH"},
            {"AttributeName": "photoId", "KeyType": "RANGE"},
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "byPhotoNumber",
                "KeySchema": [
                    {"AttributeName": "galleryId", "KeyType": "HASH"},
                    {"AttributeName": "photoNumber", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byPhotoId",
                "KeySchema": [{"AttributeName": "photoId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    capsys.readouterr()
    call_command("ensure_resources")
    report = capsys.readouterr().out
    line = next(line for line in report.splitlines() if line.startswith(f"table {name}:"))
    assert all(index in line for index in ORDER_INDEXES), line
    described = client.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]
    indexes = {index["IndexName"]: index for index in described}
    assert set(indexes) == {"byPhotoId", *ORDER_INDEXES}
    for index_name, range_key in (
        ("byUploadedAt", "uploadedAt"),
        ("byTakenAt", "takenOrder"),
        ("byRating", "ratingOrder"),
    ):
        assert indexes[index_name]["Projection"]["ProjectionType"] == "KEYS_ONLY"
        assert indexes[index_name]["KeySchema"] == [
            {"AttributeName": "galleryId", "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ]
    call_command("ensure_resources")
    again = capsys.readouterr().out
    assert f"table {name}: exists\n" in again  # nothing more to add


def test_an_ordering_reads_its_index_and_the_page_by_key_never_a_scan(
    aws, client, gallery_id, seeded, monkeypatch
):
    queries = aws_calls(monkeypatch, "Query")
    scans = aws_calls(monkeypatch, "Scan")
    batches = aws_calls(monkeypatch, "BatchGetItem")
    assert titles(client, f"/api/galleries/{gallery_id}/photos?ordering=-averageRating&page_size=3") == [
        "winter",
        "may-b",
        "june",
    ]
    assert scans == []
    assert [query.get("IndexName") for query in queries] == ["byRating"]
    assert queries[0]["Limit"] == 4  # one past the page
    assert queries[0]["ScanIndexForward"] is False
    [batch] = batches
    [(table, request)] = batch["RequestItems"].items()
    assert table == GalleryPhoto.Meta.table_name and request["ConsistentRead"] is True
    assert len(request["Keys"]) == 4


def test_a_filtered_ordering_examines_a_bounded_number_of_photos(aws, client, gallery_id, monkeypatch):
    monkeypatch.setattr(pagination, "EXAMINED_MAX", 6)
    monkeypatch.setattr(pagination, "EXAMINE_BATCH", 3)
    for number in range(1, 14):
        GalleryPhoto(
            gallery_id,
            f"p{number:03d}",
            photo_number=number,
            tags=["rare"] if number == 2 else ["common"],
            s3_key=f"galleries/{gallery_id}/photo{number}.jpg",
            uploaded_at=f"2026-01-01T00:00:{number:02d}Z",
            taken_order=ordering.taken_order({}, number),
            rating_order=ordering.rating_order(0, 0, number),
        ).save()
    batches = aws_calls(monkeypatch, "BatchGetItem")
    first = client.get(f"/api/galleries/{gallery_id}/photos?ordering=-uploadedAt&tag=rare").json()
    assert first["results"] == [] and first["next"]  # 6 newest examined (13..8), none has the tag
    assert sum(len(batch["RequestItems"][GalleryPhoto.Meta.table_name]["Keys"]) for batch in batches) == 6
    found, url = [], first["next"]
    while url:
        page = client.get(url).json()
        found += [photo["photoId"] for photo in page["results"]]
        url = page["next"]
    assert found == ["p002"]
