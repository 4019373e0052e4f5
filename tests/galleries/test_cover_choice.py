"""A curator chooses a gallery's cover in its PUT/PATCH (`coverPhotoId`): only a live photo of the gallery,
in one transaction with the check that it is still live; the choice holds until that photo is deleted,
against uploads and both scans; `null` gives the cover back to the automatic rule."""

import pytest

from core.aws import s3_client
from core.transactions import Refused
from galleries import services as gallery_services
from galleries.models import Gallery
from photos.models import GalleryPhoto
from photos.services import cover as cover_service
from photos.services.delete import photo_delete
from scans.galleries_scan import galleries_metadata_scan
from scans.photos_scan import gallery_photos_scan
from tests.factories import jpeg_bytes
from tests.photos.conftest import as_file


@pytest.fixture(autouse=True)
def on_moto(aws):
    """Every test here runs on moto (before the curator key and the gallery are made)."""


@pytest.fixture
def gallery_id(curator):
    body = {"name": "Lighthouses", "continent": "Europe", "country": "Ireland", "years": [2020]}
    return curator.post("/api/galleries", body, format="json").json()["galleryId"]


def photos_add(curator, gallery_id: str, count: int) -> list[dict]:
    files = [as_file(f"light{n}.jpg", jpeg_bytes(64, 48)) for n in range(count)]
    response = curator.post(f"/api/galleries/{gallery_id}/photos", {"photos": files}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["photos"]


def stored(gallery_id: str) -> Gallery:
    return Gallery.get(gallery_id, consistent_read=True)


def choose(api, gallery_id: str, photo_id: str | None, **headers):
    return api.patch(f"/api/galleries/{gallery_id}", {"coverPhotoId": photo_id}, format="json", **headers)


def assert_refused_naming_the_field(response) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"error", "details"} and "coverPhotoId" in body["details"]


def test_a_curator_chooses_the_cover_and_every_answer_shows_it(gallery_id, curator, client):
    first, second, _ = photos_add(curator, gallery_id, 3)
    before = client.get(f"/api/galleries/{gallery_id}")
    assert before.json()["coverPhotoId"] == first["photoId"]  # the automatic rule: the lowest number
    chosen = choose(curator, gallery_id, second["photoId"])
    assert chosen.status_code == 200, chosen.content
    assert (chosen.json()["coverPhotoId"], chosen.json()["coverPhotoURL"]) == (
        second["photoId"],
        second["fullSizeURL"],
    )
    assert chosen["ETag"] == f'"v{int(stored(gallery_id).version)}"'
    read = client.get(f"/api/galleries/{gallery_id}").json()
    listed = client.get("/api/galleries").json()["results"][0]
    assert read["coverPhotoId"] == listed["coverPhotoId"] == second["photoId"]
    assert read["coverPhotoURL"] == second["fullSizeURL"]
    assert stored(gallery_id).cover_chosen is True
    # Choosing it again changes nothing, not even the version.
    again = choose(curator, gallery_id, second["photoId"])
    assert again.status_code == 200 and again["ETag"] == chosen["ETag"]
    # The guide's PUT (the id in the body) reaches the same edit.
    guide = curator.put(
        "/galleries", {"galleryId": gallery_id, "coverPhotoId": first["photoId"]}, format="json"
    )
    assert guide.status_code == 200 and guide.json()["coverPhotoId"] == first["photoId"]
    assert stored(gallery_id).cover_chosen is True


def test_other_fields_and_the_cover_change_in_one_write(gallery_id, curator):
    _, second = photos_add(curator, gallery_id, 2)
    version = int(stored(gallery_id).version)
    response = curator.put(
        f"/api/galleries/{gallery_id}",
        {"name": "Lights", "coverPhotoId": second["photoId"]},
        format="json",
    )
    assert response.status_code == 200
    gallery = stored(gallery_id)
    assert (gallery.name, gallery.cover_photo_id, int(gallery.version)) == (
        "Lights",
        second["photoId"],
        version + 1,
    )
    # A refused cover refuses the whole edit: the name is not changed either.
    refused = curator.put(
        f"/api/galleries/{gallery_id}", {"name": "Other", "coverPhotoId": "no-such-photo"}, format="json"
    )
    assert_refused_naming_the_field(refused)
    assert (stored(gallery_id).name, int(stored(gallery_id).version)) == ("Lights", version + 1)


def test_only_a_live_photo_of_this_gallery_can_be_the_cover(gallery_id, curator):
    first, second = photos_add(curator, gallery_id, 2)
    other = curator.post(
        "/api/galleries", {"name": "Other", "continent": "Asia", "country": "Japan"}, format="json"
    ).json()["galleryId"]
    [elsewhere] = photos_add(curator, other, 1)
    photo_delete(gallery_id=gallery_id, photo_id=second["photoId"])
    for photo_id in ("no-such-photo", elsewhere["photoId"], second["photoId"], "", "bad/id", "x" * 129):
        assert_refused_naming_the_field(choose(curator, gallery_id, photo_id))
    assert_refused_naming_the_field(
        curator.patch(f"/api/galleries/{gallery_id}", {"coverPhotoId": 7}, format="json")
    )
    gallery = stored(gallery_id)
    assert (gallery.cover_photo_id, gallery.cover_chosen) == (first["photoId"], None)
    # A gallery that does not exist is a 404, as for any edit.
    assert choose(curator, "no-such-gallery", first["photoId"]).status_code == 404


def test_null_gives_the_cover_back_to_the_automatic_rule(gallery_id, curator):
    first, _, third = photos_add(curator, gallery_id, 3)
    assert choose(curator, gallery_id, third["photoId"]).status_code == 200
    back = choose(curator, gallery_id, None)
    assert back.status_code == 200 and back.json()["coverPhotoId"] == first["photoId"]
    assert back.json()["coverPhotoURL"] == first["fullSizeURL"]
    gallery = stored(gallery_id)
    assert (gallery.cover_photo_id, gallery.cover_photo_number, gallery.cover_chosen) == (
        first["photoId"],
        1,
        None,
    )
    # Automatic again: deleting the cover moves it to the next photo.
    photo_delete(gallery_id=gallery_id, photo_id=first["photoId"])
    assert stored(gallery_id).cover_photo_number == 2
    # An empty gallery has no cover to give back.
    empty = curator.post(
        "/api/galleries", {"name": "Empty", "continent": "Asia", "country": "Japan"}, format="json"
    ).json()["galleryId"]
    answer = choose(curator, empty, None)
    assert answer.status_code == 200 and answer.json()["coverPhotoId"] is None
    assert answer.json()["coverPhotoURL"] is None


def test_a_chosen_cover_holds_against_uploads_and_both_scans_until_that_photo_is_deleted(
    gallery_id, curator, settings
):
    first, second, third = photos_add(curator, gallery_id, 3)
    assert choose(curator, gallery_id, third["photoId"]).status_code == 200
    photos_add(curator, gallery_id, 2)  # each batch offers its lowest photo the cover
    # A photo the photos scan adopts (an original synced into the bucket) is offered the cover too.
    s3_client().put_object(
        Bucket=settings.BUCKET_NAME, Key=f"galleries/{gallery_id}/synced.jpg", Body=jpeg_bytes(64, 48)
    )
    assert gallery_photos_scan(gallery_id=gallery_id).created == 1
    galleries_metadata_scan(gallery_id=gallery_id)
    galleries_metadata_scan()
    photo_delete(gallery_id=gallery_id, photo_id=first["photoId"])  # not the cover: the choice holds
    gallery = stored(gallery_id)
    assert (gallery.cover_photo_id, gallery.cover_chosen, gallery.photo_count) == (third["photoId"], True, 5)
    # Deleting the chosen photo gives the cover back to the automatic rule: the lowest live number.
    deleted = curator.delete(f"/api/galleries/{gallery_id}/photos/{third['photoId']}")
    assert deleted.status_code == 200
    gallery = stored(gallery_id)
    assert (gallery.cover_photo_id, gallery.cover_chosen) == (second["photoId"], None)
    galleries_metadata_scan(gallery_id=gallery_id)
    assert stored(gallery_id).cover_photo_id == second["photoId"]


def test_if_match_guards_a_cover_choice(gallery_id, curator):
    first, second = photos_add(curator, gallery_id, 2)
    tag = curator.get(f"/api/galleries/{gallery_id}")["ETag"]
    assert (
        curator.patch(f"/api/galleries/{gallery_id}", {"name": "Renamed"}, format="json").status_code == 200
    )
    stale = choose(curator, gallery_id, second["photoId"], HTTP_IF_MATCH=tag)
    assert stale.status_code == 412 and stored(gallery_id).cover_photo_id == first["photoId"]
    current = curator.get(f"/api/galleries/{gallery_id}")["ETag"]
    assert choose(curator, gallery_id, second["photoId"], HTTP_IF_MATCH=current).status_code == 200


def test_visitors_cannot_choose_a_cover(gallery_id, curator, client):
    first, second = photos_add(curator, gallery_id, 2)
    response = choose(client, gallery_id, second["photoId"])
    assert response.status_code == 401 and set(response.json()) == {"error", "details"}
    assert stored(gallery_id).cover_photo_id == first["photoId"]


@pytest.fixture
def transactions(monkeypatch):
    """What each of the edit's transactions did: None when committed, else the items refused."""
    outcomes: list[set[int] | None] = []
    real_run = gallery_services.transaction_run

    def run(build, **kwargs):
        try:
            real_run(build, **kwargs)
        except Refused as refused:
            outcomes.append(refused.failed)
            raise
        outcomes.append(None)

    monkeypatch.setattr(gallery_services, "transaction_run", run)
    return outcomes


def test_a_photo_whose_delete_begins_after_it_was_read_never_becomes_the_cover(
    gallery_id, curator, monkeypatch, transactions
):
    """The delete's first step alone (the photo marked, the gallery not yet touched) lands between the
    read of the photo and the edit's transaction: the transaction's check on the photo refuses it."""
    first, second = photos_add(curator, gallery_id, 2)
    real_get = cover_service.photo_get

    def read_then_delete_begins(**kwargs):
        photo = real_get(**kwargs)
        if not transactions:
            GalleryPhoto(gallery_id, second["photoId"]).update(
                actions=[GalleryPhoto.deleting_at.set("2024-01-01T00:00:00Z")]
            )
        return photo

    monkeypatch.setattr(cover_service, "photo_get", read_then_delete_begins)
    assert_refused_naming_the_field(choose(curator, gallery_id, second["photoId"]))
    assert transactions == [{1}]  # the photo's condition check (item 1), not the gallery's version
    gallery = stored(gallery_id)
    assert (gallery.cover_photo_id, gallery.cover_chosen) == (first["photoId"], None)


def test_a_photo_deleted_between_the_gallery_read_and_the_transaction_is_refused(
    gallery_id, curator, monkeypatch, transactions
):
    first, second = photos_add(curator, gallery_id, 2)
    real_get = cover_service.photo_get

    def read_then_deleted(**kwargs):
        photo = real_get(**kwargs)
        if not transactions:
            photo_delete(gallery_id=gallery_id, photo_id=second["photoId"])  # the whole delete
        return photo

    monkeypatch.setattr(cover_service, "photo_get", read_then_deleted)
    assert_refused_naming_the_field(choose(curator, gallery_id, second["photoId"]))
    # Both conditions failed: the photo is gone and its delete moved the gallery's version.
    assert transactions == [{0, 1}]
    gallery = stored(gallery_id)
    assert (gallery.cover_photo_id, gallery.cover_chosen, gallery.photo_count) == (first["photoId"], None, 1)


def test_null_picks_again_when_the_first_photo_goes_meanwhile(gallery_id, curator, monkeypatch, transactions):
    first, second, third = photos_add(curator, gallery_id, 3)
    assert choose(curator, gallery_id, third["photoId"]).status_code == 200
    transactions.clear()
    real_first = cover_service.photo_first_live

    def first_then_it_goes(**kwargs):
        photo = real_first(**kwargs)
        if not transactions:
            GalleryPhoto(gallery_id, first["photoId"]).update(
                actions=[GalleryPhoto.deleting_at.set("2024-01-01T00:00:00Z")]
            )
        return photo

    monkeypatch.setattr(cover_service, "photo_first_live", first_then_it_goes)
    back = choose(curator, gallery_id, None)
    assert back.status_code == 200 and back.json()["coverPhotoId"] == second["photoId"]
    assert transactions == [{1}, None]
