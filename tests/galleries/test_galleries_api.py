"""Galleries end to end through the REST routes: create, read, update, delete, list, validate."""

import json
from datetime import UTC, datetime

import pytest

from galleries.models import Gallery
from galleries.services import gallery_create
from tests.factories import jpeg_bytes

GUIDE_FIELDS = {
    "galleryId", "name", "continent", "country", "description", "years",
    "photoCount", "coverPhotoURL", "createdAt", "updatedAt",
}  # fmt: skip
# The service may add fields.
ADDED_FIELDS = {"locationPrivacy", "visibility", "allowOriginalDownload", "coverPhotoId"}

PARIS = {"name": "Paris at night", "continent": "Europe", "country": "France", "years": [2024, 2023]}


def create(curator, **overrides):
    response = curator.post("/api/galleries", {**PARIS, **overrides}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def assert_envelope(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "details"}
    assert isinstance(body["error"], str) and body["error"]
    return body


def test_create_answers_201_with_the_stored_gallery(backend, curator, client):
    body = create(curator, description="Lights")
    assert set(body) == GUIDE_FIELDS | ADDED_FIELDS
    assert body["years"] == [2023, 2024]
    assert body["photoCount"] == 0 and body["coverPhotoURL"] is None
    assert body["createdAt"] == body["updatedAt"] and body["createdAt"].endswith("Z")
    stored = client.get(f"/api/galleries/{body['galleryId']}").json()
    assert stored.pop("photos") == {"results": [], "next": None, "previous": None}
    assert stored == body


@pytest.mark.parametrize(
    ("given", "stored"),
    [("europe", "Europe"), ("NORTH america", "North America"), ("south_america", "South America"),
     ("Australia", "Oceania"), (" antarctica ", "Antarctica")],
)  # fmt: skip
def test_continent_is_case_insensitive_and_stored_canonical(aws, curator, given, stored):
    assert create(curator, continent=given)["continent"] == stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"continent": "Europe", "country": "France"}, "name"),
        ({**PARIS, "name": "x" * 201}, "name"),
        ({**PARIS, "name": ""}, "name"),
        ({**PARIS, "continent": "Atlantis"}, "continent"),
        ({**PARIS, "country": None}, "country"),
        ({**PARIS, "description": "d" * 5001}, "description"),
        ({**PARIS, "years": [1825]}, "years"),
        ({**PARIS, "years": [datetime.now(UTC).year + 2]}, "years"),
        ({**PARIS, "years": [True]}, "years"),
        ({**PARIS, "years": [2020.5]}, "years"),
        ({**PARIS, "years": "2020"}, "years"),
    ],
)
def test_invalid_gallery_fields_answer_400_naming_the_field(aws, curator, body, field):
    details = assert_envelope(curator.post("/api/galleries", body, format="json"), 400)["details"]
    assert field in details
    assert not list(Gallery.scan())


def test_year_range_is_1826_to_next_year(aws, curator):
    next_year = datetime.now(UTC).year + 1
    assert create(curator, years=[1826, next_year])["years"] == [1826, next_year]


@pytest.mark.parametrize(
    ("payload", "content_type", "status"),
    [("{not json", "application/json", 400), ("[1, 2]", "application/json", 400),
     ("name=x", "text/plain", 415)],
)  # fmt: skip
def test_unparseable_bodies_answer_the_envelope(aws, curator, payload, content_type, status):
    assert_envelope(curator.generic("POST", "/api/galleries", payload, content_type), status)


def test_update_changes_fields_and_updated_at_only_when_something_changed(backend, curator):
    gallery = create(curator)
    url = f"/api/galleries/{gallery['galleryId']}"
    same = curator.put(url, {"name": PARIS["name"], "years": [2023, 2024]}, format="json")
    assert same.status_code == 200 and same.json()["updatedAt"] == gallery["updatedAt"]
    changed = curator.put(url, {"description": "New text"}, format="json").json()
    assert changed["description"] == "New text" and changed["name"] == PARIS["name"]
    assert changed["updatedAt"] > gallery["updatedAt"]
    assert changed["createdAt"] == gallery["createdAt"]


def test_update_of_unknown_gallery_is_404_and_creates_nothing(aws, curator):
    assert_envelope(curator.put("/api/galleries/nope", {"name": "x"}, format="json"), 404)
    assert not list(Gallery.scan())


def test_update_with_mismatched_body_id_is_400(aws, curator):
    gallery = create(curator)
    response = curator.put(f"/api/galleries/{gallery['galleryId']}", {"galleryId": "other"}, format="json")
    assert "galleryId" in assert_envelope(response, 400)["details"]


def test_delete_removes_the_gallery(backend, curator, client):
    gallery = create(curator)
    response = curator.delete(f"/api/galleries/{gallery['galleryId']}")
    assert response.status_code == 200 and response.json()["deleted"] is True
    assert_envelope(client.get(f"/api/galleries/{gallery['galleryId']}"), 404)
    assert_envelope(curator.delete(f"/api/galleries/{gallery['galleryId']}"), 404)


def test_unknown_gallery_is_404(aws, client):
    assert_envelope(client.get("/api/galleries/does-not-exist"), 404)
    assert_envelope(client.get("/api/galleries/..%2f..%2fetc"), 404)


def test_listing_pages_through_250_galleries_without_duplicates_or_gaps(backend, curator, client):

    created = {gallery_create(name=f"G{n}", continent="Asia", country="Japan").gallery_id for n in range(250)}
    seen, url, pages = [], "/api/galleries?page_size=40", []
    while url:
        body = client.get(url).json()
        assert set(body) == {"results", "next", "previous"}
        pages.append(body)
        seen += [gallery["galleryId"] for gallery in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 250
    assert set(seen) == created
    assert [len(page["results"]) for page in pages] == [40] * 6 + [10]
    assert pages[0]["previous"] is None
    # Walking back from the last page gives the same pages in reverse.
    back, url = [], pages[-1]["previous"]
    while url:
        body = client.get(url).json()
        back.append([gallery["galleryId"] for gallery in body["results"]])
        url = body["previous"]
    assert back == [[g["galleryId"] for g in page["results"]] for page in reversed(pages[:-1])]


def test_page_size_is_capped_and_validated(aws, curator, client, settings):
    settings.PAGE_SIZE_MAX = 3
    for n in range(5):
        create(curator, name=f"G{n}")
    assert len(client.get("/api/galleries?page_size=50").json()["results"]) == 3
    assert_envelope(client.get("/api/galleries?page_size=0"), 400)
    assert_envelope(client.get("/api/galleries?page_size=ten"), 400)


def test_tampered_cursor_is_400(aws, client):
    assert "cursor" in assert_envelope(client.get("/api/galleries?cursor=abc"), 400)["details"]


def test_filters_by_continent_country_and_year(backend, curator, client):
    create(curator, name="Paris", continent="Europe", country="France", years=[2023])
    create(curator, name="Lyon", continent="Europe", country="France", years=[2021])
    create(curator, name="Kyoto", continent="Asia", country="Japan", years=[2023])

    def names(query):
        response = client.get(f"/api/galleries?{query}&page_size=1")
        results, url = [], f"/api/galleries?{query}&page_size=1"
        while url:
            response = client.get(url).json()
            results += [gallery["name"] for gallery in response["results"]]
            url = response["next"]
        return sorted(results)

    assert names("continent=europe") == ["Lyon", "Paris"]
    assert names("country=Japan") == ["Kyoto"]
    assert names("year=2023") == ["Kyoto", "Paris"]
    assert names("continent=Europe&year=2023") == ["Paris"]
    assert "continent" in assert_envelope(client.get("/api/galleries?continent=Mars"), 400)["details"]
    assert "year" in assert_envelope(client.get("/api/galleries?year=1700"), 400)["details"]


def test_responses_are_json_even_for_browsers_asking_for_anything(aws, client):
    response = client.get("/api/galleries", HTTP_ACCEPT="*/*")
    assert response["Content-Type"].startswith("application/json")
    json.loads(response.content)


def test_listing_is_newest_first_and_country_ignores_case(backend, curator, client):
    names = [create(curator, name=f"G{n}", country=" New  Zealand")["name"] for n in range(3)]
    listed = client.get("/api/galleries?country=new%20zealand").json()["results"]
    assert [gallery["name"] for gallery in listed] == list(reversed(names))
    assert listed[0]["country"] == "New  Zealand"  # stored as the curator wrote it, trimmed


def test_a_cursor_only_opens_the_listing_that_made_it(aws, curator, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    first, second = create(curator)["galleryId"], create(curator)["galleryId"]
    files = [SimpleUploadedFile(f"{n}.jpg", jpeg_bytes(40, 30), "image/jpeg") for n in range(2)]
    uploaded = curator.post(f"/api/galleries/{first}/photos", {"photos": files}, format="multipart")
    assert uploaded.status_code == 201, uploaded.content  # two photos, so the listing has a next page
    photo_cursor = client.get(f"/api/galleries/{first}/photos?page_size=1").json()["next"].split("cursor=")[1]
    gallery_cursor = client.get("/api/galleries?page_size=1").json()["next"].split("cursor=")[1]
    for url in (
        f"/api/galleries?cursor={photo_cursor}",
        f"/api/galleries/{second}/photos?cursor={photo_cursor}",
        f"/api/galleries/{first}/photos?cursor={gallery_cursor}",
    ):
        assert "cursor" in assert_envelope(client.get(url), 400)["details"]


def test_a_description_at_the_limit_sent_back_with_crlf_line_breaks_still_fits(aws, curator):
    """A browser's form sends line breaks as CRLF: a description stored at the limit (LF) must fit when it
    comes back unchanged; one over the limit still does not."""
    lines = ["a" * 99] * 50  # 50 lines of 99 characters, 49 line breaks and a "b": 5,000 stored
    at_limit = {**PARIS, "description": "\r\n".join(lines) + "b"}
    created = curator.post("/api/galleries", at_limit, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["description"] == "\n".join(lines) + "b"
    over = {**PARIS, "description": "\r\n".join(lines) + "bb"}
    assert curator.post("/api/galleries", over, format="json").status_code == 400
