"""What visitors may see of a photo's metadata (issue 10, must-shows 2 and 3): the gallery's location
rule and the public EXIF allow-list, on both URL styles, anonymous and curator."""

import pytest

from photos.models import GalleryPhoto
from photos.privacy import PUBLIC_EXIF_FIELDS
from tests.factories import jpeg_bytes
from tests.photos.conftest import as_file

NEST = (57.123456, -4.654321)  # a protected nest site


@pytest.fixture
def gallery_id(curator):
    body = {"name": "Ospreys", "continent": "Europe", "country": "Scotland"}
    return curator.post("/api/galleries", body, format="json").json()["galleryId"]


@pytest.fixture
def photo_id(curator, gallery_id):
    payload = {"photos": [as_file("nest.jpg", jpeg_bytes(64, 48, gps=NEST))]}
    return curator.post(f"/api/galleries/{gallery_id}/photos", payload, format="multipart").json()["photos"][
        0
    ]["photoId"]


def exif_seen(api, gallery_id, photo_id, via: str) -> dict:
    if via == "photo":
        return api.get(f"/api/galleries/{gallery_id}/photos/{photo_id}").json()["exifData"]
    if via == "listing":
        return api.get(f"/api/galleries/{gallery_id}/photos").json()["results"][0]["exifData"]
    if via == "guide":  # GET /galleries?id= answers the gallery with its first photos
        return api.get(f"/galleries?id={gallery_id}").json()["photos"]["results"][0]["exifData"]
    raise AssertionError(via)


VIAS = ["photo", "listing", "guide"]


@pytest.mark.parametrize("via", VIAS)
def test_locations_are_hidden_from_visitors_by_default_and_exact_for_curators(
    backend, client, curator, gallery_id, photo_id, via
):
    assert curator.get(f"/api/galleries/{gallery_id}").json()["locationPrivacy"] == "hidden"
    assert "gps" not in exif_seen(client, gallery_id, photo_id, via)
    exact = exif_seen(curator, gallery_id, photo_id, via)["gps"]
    assert (round(exact["latitude"], 4), round(exact["longitude"], 4)) == (57.1235, -4.6543)


@pytest.mark.parametrize("via", VIAS)
def test_approximate_rounds_to_two_decimals_without_altitude(
    backend, client, curator, gallery_id, photo_id, via
):
    response = curator.put(f"/api/galleries/{gallery_id}", {"locationPrivacy": "approximate"}, format="json")
    assert response.status_code == 200 and response.json()["locationPrivacy"] == "approximate"
    assert exif_seen(client, gallery_id, photo_id, via)["gps"] == {"latitude": 57.12, "longitude": -4.65}
    assert "altitude" not in exif_seen(client, gallery_id, photo_id, via)["gps"]


def test_exact_shows_visitors_what_was_recorded_and_the_setting_is_validated(
    aws, client, curator, gallery_id, photo_id
):
    assert (
        curator.put(
            "/galleries", {"galleryId": gallery_id, "locationPrivacy": "exact"}, format="json"
        ).status_code
        == 200
    )
    seen = exif_seen(client, gallery_id, photo_id, "photo")["gps"]
    assert round(seen["latitude"], 4) == 57.1235
    refused = curator.put(f"/api/galleries/{gallery_id}", {"locationPrivacy": "everywhere"}, format="json")
    assert refused.status_code == 400 and "locationPrivacy" in refused.json()["details"]


def test_visitors_see_only_the_public_exif_fields_curators_see_all_stored(
    backend, client, curator, gallery_id, photo_id
):
    photo = GalleryPhoto.get(gallery_id, photo_id)
    stored = {**photo.exif(), "serialNumber": "SN-1234", "artist": "A. Photographer", "software": "Editor 9"}
    photo.update(actions=[GalleryPhoto.exif_data.set(stored)])
    visitor = exif_seen(client, gallery_id, photo_id, "photo")
    assert set(visitor) <= set(PUBLIC_EXIF_FIELDS) and {"make", "model", "dateTimeOriginal"} <= set(visitor)
    curator_view = exif_seen(curator, gallery_id, photo_id, "photo")
    assert {"serialNumber", "artist", "software", "gps"} <= set(curator_view)


def test_a_visitors_cached_answer_is_never_a_curators(aws, client, curator, gallery_id, photo_id):
    url = f"/api/galleries/{gallery_id}/photos/{photo_id}"
    as_curator = curator.get(url)
    assert "Authorization" in as_curator["Vary"]
    assert client.get(url, HTTP_IF_NONE_MATCH=as_curator["ETag"]).status_code == 200  # not the curator's 304
    gallery_url = f"/api/galleries/{gallery_id}"
    assert client.get(gallery_url, HTTP_IF_NONE_MATCH=curator.get(gallery_url)["ETag"]).status_code == 200
    # A gallery read's tag still works as If-Match for an edit.
    tag = curator.get(gallery_url)["ETag"]
    assert (
        curator.put(gallery_url, {"description": "Loch"}, format="json", HTTP_IF_MATCH=tag).status_code == 200
    )


def test_the_original_with_all_its_exif_is_for_curators_only(aws, client, curator, gallery_id, photo_id):
    url = f"/api/galleries/{gallery_id}/photos/{photo_id}"
    assert client.get(url).json()["originalURL"] is None
    assert client.get(f"/galleries?id={gallery_id}").json()["photos"]["results"][0]["originalURL"] is None
    assert curator.get(url).json()["originalURL"]
    listing = client.get(f"/api/galleries/{gallery_id}/photos")
    assert "Authorization" in listing["Vary"]


def test_the_browsable_api_shows_a_signed_out_browser_no_location(aws, client, curator, gallery_id, photo_id):
    page = client.get(f"/api/galleries/{gallery_id}/photos/{photo_id}", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and b"exifData" in page.content
    assert b"57.12" not in page.content and b"latitude" not in page.content
    assert (
        b"57.12"
        in curator.get(f"/api/galleries/{gallery_id}/photos/{photo_id}", HTTP_ACCEPT="text/html").content
    )
