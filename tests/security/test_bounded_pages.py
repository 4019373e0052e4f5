"""Bounded work per request (issue 19, must-show 4): a filtered page examines a bounded number of items
and answers a cursor to go on; visitors' gallery listing reads an index of public galleries only."""

import pytest
from django.conf import settings

from core import pagination
from core.throttling import VisitorReadThrottle
from galleries.models import Gallery
from photos.models import GalleryPhoto
from tests.aws_faults import aws_calls


@pytest.fixture
def small_bounds(monkeypatch):
    monkeypatch.setattr(pagination, "EXAMINED_MAX", 12)
    monkeypatch.setattr(pagination, "EXAMINE_BATCH", 4)


def gallery_new(curator, continent: str, **fields) -> str:
    body = {"name": "G", "continent": continent, "country": "Somewhere", **fields}
    response = curator.post("/api/galleries", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["galleryId"]


def walk(client, url: str) -> tuple[list[str], int]:
    """Every gallery id a listing answers, following next links; and how many pages it took."""
    seen, pages = [], 0
    while url:
        page = client.get(url).json()
        seen += [gallery["galleryId"] for gallery in page["results"]]
        url, pages = page["next"], pages + 1
    return seen, pages


def test_a_filtered_page_examines_a_bounded_number_of_galleries(
    backend, curator, client, small_bounds, monkeypatch
):
    asia = gallery_new(curator, "Asia")  # the oldest: the last a newest-first listing reaches
    for _ in range(30):
        gallery_new(curator, "Europe")
    queries = aws_calls(monkeypatch, "Query", table=settings.GALLERIES_TABLE)
    first = client.get("/api/galleries?continent=Asia").json()
    assert first["results"] == [] and first["next"]  # nothing yet among the first ones examined: go on
    assert len(queries) <= 12 // 4 + 1
    assert all(call["Limit"] <= 4 for call in queries)
    seen, pages = walk(client, "/api/galleries?continent=Asia")
    assert seen == [asia] and pages >= 3
    unfiltered, _ = walk(client, "/api/galleries?page_size=100")
    assert len(unfiltered) == 31


def test_visitors_read_an_index_of_public_galleries_only(backend, curator, client, monkeypatch):
    public = gallery_new(curator, "Asia")
    hidden = {gallery_new(curator, "Asia", visibility=v) for v in ("unlisted", "private")}
    queries = aws_calls(monkeypatch, "Query", table=settings.GALLERIES_TABLE)
    assert walk(client, "/api/galleries?continent=Asia")[0] == [public]
    assert {call.get("IndexName") for call in queries} == {"publicByCreatedAt"}
    assert set(walk(curator, "/api/galleries")[0]) == {public, *hidden}

    # A change of visibility moves a gallery in and out of visitors' index.
    one = sorted(hidden)[0]
    curator.patch(f"/api/galleries/{one}", {"visibility": "public"}, format="json")
    assert one in walk(client, "/api/galleries")[0]
    curator.patch(f"/api/galleries/{one}", {"visibility": "private"}, format="json")
    assert one not in walk(client, "/api/galleries")[0]


def test_galleries_from_before_the_index_join_it_with_the_galleries_scan(aws, curator, client):
    gallery_id = gallery_new(curator, "Asia")
    Gallery.get(gallery_id).update(actions=[Gallery.public_partition.remove(), Gallery.visibility.remove()])
    assert walk(client, "/api/galleries")[0] == []
    assert curator.post("/galleries?action=update_galleries_metadata").status_code == 200
    assert walk(client, "/api/galleries")[0] == [gallery_id]


def test_a_tag_filter_examines_a_bounded_number_of_photos(aws, curator, client, small_bounds, monkeypatch):
    gallery_id = gallery_new(curator, "Asia")
    for number in range(1, 32):
        GalleryPhoto(
            gallery_id,
            f"p{number:03d}",
            photo_number=number,
            tags=["rare"] if number == 31 else ["common"],
            s3_key=f"galleries/{gallery_id}/photo{number}.jpg",
            uploaded_at="2026-01-01T00:00:00Z",
        ).save()
    queries = aws_calls(monkeypatch, "Query", table=settings.GALLERY_PHOTOS_TABLE)
    first = client.get(f"/api/galleries/{gallery_id}/photos?tag=rare").json()
    assert first["results"] == [] and first["next"]
    assert len(queries) <= 12 // 4 + 1
    found, url = [], first["next"]
    while url:
        page = client.get(url).json()
        found += [photo["photoId"] for photo in page["results"]]
        url = page["next"]
    assert found == ["p031"]


def test_visitors_reads_are_throttled_per_address_curators_are_not(aws, curator, client, monkeypatch):
    monkeypatch.setattr(VisitorReadThrottle, "get_rate", lambda self: "3/min")
    gallery_id = gallery_new(curator, "Asia")
    for path in ("/api/galleries", f"/api/galleries/{gallery_id}", f"/galleries?id={gallery_id}"):
        assert client.get(path).status_code == 200
    refused = client.get("/api/galleries")
    assert refused.status_code == 429 and set(refused.json()) == {"error", "details"}
    assert int(refused["Retry-After"]) > 0
    assert client.get("/api/photos/nope/ratings").status_code == 429  # the rating reads count too
    assert all(curator.get("/api/galleries").status_code == 200 for _ in range(5))
