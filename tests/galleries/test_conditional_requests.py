"""No lost updates: ETags from stored versions, If-Match on edits, If-None-Match on reads; and the years
rule (curator's + photos' plausible years - removed), which no upload or scan undoes."""

import pytest

from galleries.models import Gallery
from scans.galleries_scan import galleries_metadata_scan
from tests.factories import jpeg_bytes
from tests.photos.conftest import as_file


@pytest.fixture
def gallery_id(curator):
    body = {"name": "Coast", "continent": "Europe", "country": "Portugal", "years": [2021, 2022]}
    return curator.post("/api/galleries", body, format="json").json()["galleryId"]


def upload(curator, gallery_id, taken: str):
    payload = {"photos": [as_file("p.jpg", jpeg_bytes(64, 48, taken=taken))]}
    return curator.post(f"/api/galleries/{gallery_id}/photos", payload, format="multipart")


def test_a_read_answers_an_etag_and_if_none_match_answers_304(aws, client, curator, gallery_id):
    first = client.get(f"/api/galleries/{gallery_id}")
    tag = first["ETag"]
    assert first.status_code == 200 and tag.startswith('"v1.')
    again = client.get(f"/api/galleries/{gallery_id}", HTTP_IF_NONE_MATCH=tag)
    assert again.status_code == 304 and again["ETag"] == tag and not again.content
    # The guide's URL answers the same resource, the same way.
    assert client.get(f"/galleries?id={gallery_id}", HTTP_IF_NONE_MATCH=tag).status_code == 304

    # A rating changes a photo on the gallery's first page: the tag changes with it.
    photo_id = upload(curator, gallery_id, "2021:05:01 10:00:00").json()["photos"][0]["photoId"]
    with_photo = client.get(f"/api/galleries/{gallery_id}")["ETag"]
    client.put(f"/api/photos/{photo_id}/ratings/v1", {"rating": 5}, format="json")
    assert client.get(f"/api/galleries/{gallery_id}", HTTP_IF_NONE_MATCH=with_photo).status_code == 200

    photo_url = f"/api/galleries/{gallery_id}/photos/{photo_id}"
    photo_tag = client.get(photo_url)["ETag"]
    assert client.get(photo_url, HTTP_IF_NONE_MATCH=photo_tag).status_code == 304
    client.put(f"/api/photos/{photo_id}/ratings/v2", {"rating": 1}, format="json")
    assert client.get(photo_url, HTTP_IF_NONE_MATCH=photo_tag).status_code == 200


def test_the_later_of_two_curators_gets_412_instead_of_erasing_the_others_change(
    aws, client, curator, gallery_id
):
    tag = client.get(f"/api/galleries/{gallery_id}")["ETag"]  # both curators read the same version
    url = f"/api/galleries/{gallery_id}"
    first = curator.put(url, {"description": "Cliffs at dawn."}, format="json", HTTP_IF_MATCH=tag)
    assert first.status_code == 200 and first["ETag"] == '"v2"'
    second = curator.put(url, {"name": "Coastline"}, format="json", HTTP_IF_MATCH=tag)
    assert second.status_code == 412 and set(second.json()) == {"error", "details"}
    stored = Gallery.get(gallery_id)
    assert (stored.name, stored.description) == ("Coast", "Cliffs at dawn.")
    # With the current tag it lands; on the guide's route too (the id in the body).
    guide = curator.put(
        "/galleries",
        {"galleryId": gallery_id, "name": "Coastline"},
        format="json",
        HTTP_IF_MATCH=first["ETag"],
    )
    assert guide.status_code == 200 and Gallery.get(gallery_id).name == "Coastline"
    assert curator.put(url, {"name": "X"}, format="json", HTTP_IF_MATCH='"nonsense"').status_code == 412


def test_without_if_match_edits_behave_as_the_guide_describes(aws, curator, gallery_id):
    response = curator.put("/galleries", {"galleryId": gallery_id, "description": "New"}, format="json")
    assert response.status_code == 200 and response.json()["description"] == "New"


def test_years_are_the_curators_plus_plausible_photo_years_minus_removed_ones(aws, curator, gallery_id):
    # The curator takes 2022 out; a photo taken in 2022 does not bring it back, nor does a scan.
    assert curator.put(f"/api/galleries/{gallery_id}", {"years": [2021]}, format="json").status_code == 200
    assert upload(curator, gallery_id, "2022:03:01 09:00:00").status_code == 201
    for impossible in ("0001:01:01 00:00:00", "1600:06:01 00:00:00", "9999:12:31 00:00:00"):
        assert upload(curator, gallery_id, impossible).status_code == 201
    assert upload(curator, gallery_id, "2019:08:01 12:00:00").status_code == 201
    assert Gallery.get(gallery_id).years == [2019, 2021]  # stored sorted
    galleries_metadata_scan(gallery_id=gallery_id)
    assert Gallery.get(gallery_id).years == [2019, 2021]

    # Putting a removed year back un-removes it.
    curator.put(f"/api/galleries/{gallery_id}", {"years": [2019, 2021, 2022]}, format="json")
    assert Gallery.get(gallery_id).years == [2019, 2021, 2022]


def test_a_page_on_another_origin_may_read_the_etag_and_send_if_match(aws, curator):
    """A browser hides an answer's headers from a page on another origin unless they are exposed, and
    refuses to send a header its preflight did not allow: conditional edits need both."""
    origin = "https://photos.example.com"
    preflight = curator.options(
        "/api/galleries/g1",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, if-match, if-none-match",
    )
    allowed = {name.strip() for name in preflight["Access-Control-Allow-Headers"].lower().split(",")}
    assert {"if-match", "if-none-match", "authorization"} <= allowed
    created = curator.post(
        "/api/galleries",
        {"name": "Lisbon", "continent": "Europe", "country": "Portugal"},
        format="json",
        HTTP_ORIGIN=origin,
    )
    assert created.status_code == 201
    exposed = {name.strip().lower() for name in created["Access-Control-Expose-Headers"].split(",")}
    assert "etag" in exposed and created["ETag"]
