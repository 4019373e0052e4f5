"""A curator edits a photo's title, description, tags and alt text (PATCH), conditionally with If-Match;
visitors cannot; a photo whose delete began is never edited nor recreated."""

import re

import pytest

from photos.models import GalleryPhoto
from photos.services import edit
from photos.services.delete import photo_delete
from tests.factories import jpeg_bytes
from tests.photos.conftest import as_file


@pytest.fixture(autouse=True)
def on_moto(aws):
    """Every test here runs on moto (before the curator key and the gallery are made)."""


@pytest.fixture
def photo_id(gallery_id, upload):
    response = upload(gallery_id, {"harbour.jpg": jpeg_bytes(120, 90)}, titles="Harbour", tags="boats")
    assert response.status_code == 201, response.content
    return response.json()["photos"][0]["photoId"]


def url(gallery_id: str, photo_id: str) -> str:
    return f"/api/galleries/{gallery_id}/photos/{photo_id}"


def stored(gallery_id: str, photo_id: str) -> GalleryPhoto:
    return GalleryPhoto.get(gallery_id, photo_id, consistent_read=True)


def assert_envelope(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "details"}
    return body


def test_a_curator_edits_the_four_fields_and_gets_the_photo_as_a_read_answers_it(
    gallery_id, photo_id, curator
):
    before = curator.get(url(gallery_id, photo_id))
    edited = curator.patch(
        url(gallery_id, photo_id),
        {
            "title": "Harbour at night",
            "description": "Fishing boats.\nLow tide.",
            "tags": ["Boats", "night"],
            "altText": "Three fishing boats under a street lamp",
        },
        format="json",
    )
    assert edited.status_code == 200, edited.content
    body = edited.json()
    assert (body["title"], body["description"], body["tags"], body["altText"]) == (
        "Harbour at night",
        "Fishing boats.\nLow tide.",
        ["boats", "night"],
        "Three fishing boats under a street lamp",
    )
    # The answer is the photo as a read answers it now, with the same (new) ETag.
    read = curator.get(url(gallery_id, photo_id))
    assert edited["ETag"] == read["ETag"] != before["ETag"]
    assert {k: v for k, v in body.items() if not k.endswith("URL") and k != "renditions"} == {
        k: v for k, v in read.json().items() if not k.endswith("URL") and k != "renditions"
    }
    # altText follows description in every answer that shows a photo.
    fields = list(body)
    assert fields[fields.index("description") + 1] == "altText"
    page = curator.get(f"/api/galleries/{gallery_id}/photos").json()["results"]
    first_page = curator.get(f"/api/galleries/{gallery_id}").json()["photos"]["results"]
    assert page[0]["altText"] == first_page[0]["altText"] == "Three fishing boats under a street lamp"
    item = stored(gallery_id, photo_id)
    assert (item.title, item.alt_text, list(item.tags), item.edit_version()) == (
        "Harbour at night",
        "Three fishing boats under a street lamp",
        ["boats", "night"],
        1,
    )


def test_only_the_fields_sent_change_and_an_edit_that_changes_nothing_moves_no_version(
    gallery_id, photo_id, curator
):
    curator.patch(url(gallery_id, photo_id), {"altText": "Boats"}, format="json")
    tag = curator.get(url(gallery_id, photo_id))["ETag"]
    same = curator.patch(url(gallery_id, photo_id), {"altText": "Boats", "title": "Harbour"}, format="json")
    assert same.status_code == 200 and same["ETag"] == tag
    empty = curator.patch(url(gallery_id, photo_id), {}, format="json")
    assert empty.status_code == 200 and empty["ETag"] == tag
    item = stored(gallery_id, photo_id)
    assert (item.title, item.description, list(item.tags), item.alt_text, item.edit_version()) == (
        "Harbour",
        "",
        ["boats"],
        "Boats",
        1,
    )
    # An upload's answer shows altText too (empty until a curator writes one).
    assert curator.get(f"/api/galleries/{gallery_id}/photos").json()["results"][0]["altText"] == "Boats"


def test_text_is_cleaned_as_an_uploads_is(gallery_id, photo_id, curator):
    response = curator.patch(
        url(gallery_id, photo_id),
        {
            "title": "  Harbour\tat\nnight\x1b[31m  ",
            "description": "Line one\r\nLine two\x07",
            "tags": ["  Night   Sky ", "NIGHT SKY", "", "boats"],
            "altText": "Boats\nunder a lamp\x7f",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["title"] == "Harbour at night[31m"
    assert body["description"] == "Line one\nLine two"
    assert body["tags"] == ["night sky", "boats"]
    assert body["altText"] == "Boats under a lamp"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "t" * 201}, "title"),
        ({"description": "d" * 5001}, "description"),
        ({"altText": "a" * 1001}, "altText"),
        ({"tags": [f"tag{n}" for n in range(31)]}, "tags"),
        ({"tags": ["same"] * 31}, "tags"),  # counted as sent: a JSON list needs no room for repeats
        ({"tags": ["x" * 51]}, "tags"),
        ({"tags": "night, sky"}, "tags"),
        ({"tags": [1, 2]}, "tags"),
        ({"title": ["a list"]}, "title"),
    ],
)
def test_invalid_fields_are_400_naming_them_and_nothing_changes(gallery_id, photo_id, curator, body, field):
    before = stored(gallery_id, photo_id)
    response = curator.patch(url(gallery_id, photo_id), body, format="json")
    assert field in assert_envelope(response, 400)["details"]
    after = stored(gallery_id, photo_id)
    assert (after.title, list(after.tags), after.alt_text, after.version) == (
        before.title,
        list(before.tags),
        before.alt_text,
        before.version,
    )


def test_limits_are_inclusive(gallery_id, photo_id, curator):
    body = {"title": "t" * 200, "altText": "a" * 1000, "tags": [f"tag{n}" for n in range(30)]}
    assert curator.patch(url(gallery_id, photo_id), body, format="json").status_code == 200


# ------------------------------------------------------------------ If-Match


def test_if_match_applies_the_edit_only_to_the_version_read_else_412(gallery_id, photo_id, curator, client):
    tag = curator.get(url(gallery_id, photo_id))["ETag"]  # two curators read the same version
    first = curator.patch(url(gallery_id, photo_id), {"title": "Mine"}, format="json", HTTP_IF_MATCH=tag)
    assert first.status_code == 200 and first["ETag"] != tag
    second = curator.patch(url(gallery_id, photo_id), {"title": "Theirs"}, format="json", HTTP_IF_MATCH=tag)
    assert assert_envelope(second, 412)["details"] == {"version": 1}
    assert stored(gallery_id, photo_id).title == "Mine"
    # With the current tag it lands; a tag this service never made never matches; "*" is any version.
    third = curator.patch(
        url(gallery_id, photo_id), {"title": "Ours"}, format="json", HTTP_IF_MATCH=first["ETag"]
    )
    assert third.status_code == 200 and third.json()["title"] == "Ours"
    nonsense = curator.patch(url(gallery_id, photo_id), {"title": "X"}, format="json", HTTP_IF_MATCH='"abc"')
    assert_envelope(nonsense, 412)
    anything = curator.patch(url(gallery_id, photo_id), {"title": "Any"}, format="json", HTTP_IF_MATCH="*")
    assert anything.status_code == 200
    # Readers holding the old tag get the new photo, not a 304.
    assert client.get(url(gallery_id, photo_id), HTTP_IF_NONE_MATCH=tag).status_code == 200
    assert client.get(url(gallery_id, photo_id), HTTP_IF_NONE_MATCH=anything["ETag"]).status_code == 200


def test_a_visitors_rating_since_the_read_does_not_make_the_edit_fail(gallery_id, photo_id, curator, client):
    tag = curator.get(url(gallery_id, photo_id))["ETag"]
    assert client.put(f"/api/photos/{photo_id}/ratings/v1", {"rating": 4}, format="json").status_code == 201
    assert curator.get(url(gallery_id, photo_id))["ETag"] != tag  # readers see the rating (If-None-Match)
    edited = curator.patch(url(gallery_id, photo_id), {"altText": "Boats"}, format="json", HTTP_IF_MATCH=tag)
    assert edited.status_code == 200 and edited.json()["ratingCount"] == 1


def test_an_edit_landing_between_the_read_and_the_write_is_kept_or_refused(
    gallery_id, photo_id, curator, monkeypatch
):
    real_get = edit.photo_get
    others = iter([{"description": "Theirs"}, None, {"description": "Theirs again"}])

    def read_then_another_edit_lands(**kwargs):
        photo = real_get(**kwargs)
        changes = next(others, None)
        if changes is not None:  # another curator's edit commits after our read (its own read unhindered)
            monkeypatch.setattr(edit, "photo_get", real_get)
            edit.photo_edit(gallery_id=gallery_id, photo_id=photo_id, **changes)
            monkeypatch.setattr(edit, "photo_get", read_then_another_edit_lands)
        return photo

    monkeypatch.setattr(edit, "photo_get", read_then_another_edit_lands)
    # Without If-Match: the write (conditioned on the version read) fails once, is read again, and
    # applies to the current photo: both edits are kept.
    kept = curator.patch(url(gallery_id, photo_id), {"title": "Mine"}, format="json")
    assert kept.status_code == 200
    item = stored(gallery_id, photo_id)
    assert (item.title, item.description, item.edit_version()) == ("Mine", "Theirs", 2)
    # With If-Match: the other edit moved the version after our check of the header, and the write's
    # condition refuses it (412), never overwriting theirs.
    tag = curator.get(url(gallery_id, photo_id))["ETag"]
    refused = curator.patch(
        url(gallery_id, photo_id), {"description": "Mine"}, format="json", HTTP_IF_MATCH=tag
    )
    assert_envelope(refused, 412)
    assert stored(gallery_id, photo_id).description == "Theirs again"


# ------------------------------------------------------------------ who, and which photo


def test_visitors_cannot_edit_and_learn_nothing_of_a_private_gallerys_photo(
    gallery_id, photo_id, curator, client
):
    private = curator.post(
        "/api/galleries",
        {"name": "Hidden", "continent": "Europe", "country": "France", "visibility": "private"},
        format="json",
    ).json()["galleryId"]
    hidden_photo = curator.post(
        f"/api/galleries/{private}/photos",
        {"photos": [as_file("h.jpg", jpeg_bytes(64, 48))]},
        format="multipart",
    ).json()["photos"][0]["photoId"]
    answers = {}
    for name, path in {
        "public": url(gallery_id, photo_id),
        "private": url(private, hidden_photo),
        "missing": url(private, "no-such-photo"),
        "no gallery": url("no-such-gallery", photo_id),
    }.items():
        patch = client.patch(path, {"title": "Vandal"}, format="json")
        delete = client.delete(path)
        # A visitor's edit is answered like every other write of theirs, whatever the photo: no answer
        # tells a private gallery's photo from a missing one.
        assert (patch.status_code, patch.json()) == (delete.status_code, delete.json())
        answers[name] = (patch.status_code, patch.json())
    assert answers["public"][0] == 401
    assert len({str(answer) for answer in answers.values()}) == 1
    assert stored(gallery_id, photo_id).title == "Harbour"
    assert stored(private, hidden_photo).title == "h"
    # A curator reaches the private gallery's photo.
    assert curator.patch(url(private, hidden_photo), {"title": "Fine"}, format="json").status_code == 200


def test_a_missing_photo_or_gallery_is_404(gallery_id, photo_id, curator):
    assert_envelope(curator.patch(url(gallery_id, "nope"), {"title": "X"}, format="json"), 404)
    assert_envelope(curator.patch(url("nope", photo_id), {"title": "X"}, format="json"), 404)
    other = curator.post(
        "/api/galleries", {"name": "Other", "continent": "Asia", "country": "Japan"}, format="json"
    ).json()["galleryId"]
    assert_envelope(curator.patch(url(other, photo_id), {"title": "X"}, format="json"), 404)
    photo_delete(gallery_id=gallery_id, photo_id=photo_id)
    assert_envelope(curator.patch(url(gallery_id, photo_id), {"title": "X"}, format="json"), 404)
    with pytest.raises(GalleryPhoto.DoesNotExist):  # never recreated
        stored(gallery_id, photo_id)


def test_a_photo_whose_delete_begins_after_the_read_is_not_edited(gallery_id, photo_id, curator, monkeypatch):
    real_get = edit.photo_get
    marked = []

    def read_then_delete_begins(**kwargs):
        photo = real_get(**kwargs)
        if not marked:  # the delete's first step (readers stop seeing it) lands after our read
            GalleryPhoto(gallery_id, photo_id).update(actions=[GalleryPhoto.deleting_at.set("2024-01-01")])
            marked.append(True)
        return photo

    monkeypatch.setattr(edit, "photo_get", read_then_delete_begins)
    assert_envelope(curator.patch(url(gallery_id, photo_id), {"title": "Late"}, format="json"), 404)
    item = stored(gallery_id, photo_id)
    assert (item.title, item.version) == ("Harbour", None)


def test_the_route_takes_patch_only_for_edits(gallery_id, photo_id, curator, client):
    assert (
        curator.patch(url(gallery_id, photo_id) + "/", {"title": "Slash"}, format="json").status_code == 200
    )
    refused = curator.put(url(gallery_id, photo_id), {"title": "Put"}, format="json")
    assert_envelope(refused, 405)
    assert "PATCH" in refused["Allow"]
    # The browsable API offers a curator the edit form (its raw JSON, the edit's fields) on the photo's
    # page, and visitors none.
    page = curator.get(url(gallery_id, photo_id), HTTP_ACCEPT="text/html").content.decode()
    form = re.search(r'<textarea[^>]*name="_content"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    assert form is not None and "altText" in form.group(1) and "photoNumber" not in form.group(1)
    visitor_page = client.get(url(gallery_id, photo_id), HTTP_ACCEPT="text/html").content.decode()
    assert 'name="_content"' not in visitor_page
