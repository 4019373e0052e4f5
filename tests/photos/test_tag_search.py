"""GET /api/photos?tag=: photos with a tag across the galleries the caller may search, from the photos'
tag entries (photos.tags), never reading a hidden gallery's photos for a visitor."""

import json
from urllib.parse import parse_qs, urlparse

import pytest

from core import pagination
from core.transactions import transaction_run
from photos import tags
from photos.models import GalleryPhoto, PhotoTag
from photos.services import placement
from photos.services.placement import Placement
from scans import photos_scan
from scans.photos_scan import gallery_photos_scan
from tests.factories import jpeg_bytes
from tests.photos.conftest import as_file


def gallery_new(curator, name: str, visibility: str) -> str:
    body = {"name": name, "continent": "Europe", "country": "Norway", "visibility": visibility}
    response = curator.post("/api/galleries", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["galleryId"]


def photos_add(curator, gallery_id: str, tag_lists: list[list[str]]) -> list[dict]:
    files = [as_file(f"p{n}.jpg", jpeg_bytes(64, 48)) for n in range(len(tag_lists))]
    response = curator.post(
        f"/api/galleries/{gallery_id}/photos",
        {"photos": files, "tags": json.dumps(tag_lists)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()["photos"]


def entries_made(gallery_id: str) -> None:
    """The gallery's tag entries as its photos ask (the photos scan makes any a commit did not)."""
    gallery_photos_scan(gallery_id=gallery_id)


def entries_of(gallery_id: str) -> set[tuple[str, str, str, str | None]]:
    return {
        (entry.tag, entry.photo_id, entry.visibility, entry.public_tag)
        for entry in PhotoTag.scan()
        if entry.gallery_id == gallery_id
    }


@pytest.fixture
def world(curator):
    """A public, an unlisted and a private gallery, each with photos tagged "fjord" (and one not)."""
    made = {}
    for visibility in ("public", "unlisted", "private"):
        gallery_id = gallery_new(curator, f"{visibility} fjords", visibility)
        photos = photos_add(curator, gallery_id, [["fjord", "sea"], ["Fjord"], ["mountain"]])
        entries_made(gallery_id)
        made[visibility] = (gallery_id, photos)
    return made


def search(api, tag: str, **params):
    response = api.get("/api/photos", {"tag": tag, **params})
    assert response.status_code == 200, response.content
    return response


def walk(api, url: str) -> tuple[list[dict], list[str]]:
    found, bodies = [], []
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        bodies.append(response.content.decode())
        found += response.json()["results"]
        url = response.json()["next"]
        assert len(bodies) < 20
    return found, bodies


def test_visitors_find_only_public_galleries_photos(aws, client, world, monkeypatch):
    read: list[str] = []
    batch_get = GalleryPhoto.batch_get.__func__

    def spying(cls, items, *args, **kwargs):
        items = list(items)
        read.extend(gallery_id for gallery_id, _ in items)
        return batch_get(cls, items, *args, **kwargs)

    monkeypatch.setattr(GalleryPhoto, "batch_get", classmethod(spying))
    response = search(client, "fjord")
    public_id, public_photos = world["public"]
    found = response.json()["results"]
    assert {photo["photoId"] for photo in found} == {photo["photoId"] for photo in public_photos[:2]}
    assert all(photo["galleryId"] == public_id for photo in found)
    text = response.content.decode()
    for hidden in ("unlisted", "private"):
        gallery_id, photos = world[hidden]
        assert gallery_id not in text
        assert not any(photo["photoId"] in text for photo in photos)
    assert set(read) <= {public_id}  # never a hidden gallery's photo read


def test_curators_find_every_gallerys_photos_newest_first(aws, curator, world):
    found = search(curator, "FJORD ").json()["results"]
    expected = {photo["photoId"] for _, photos in world.values() for photo in photos[:2]}
    assert {photo["photoId"] for photo in found} == expected and len(found) == 6
    uploaded = [photo["uploadedAt"] for photo in found]
    assert uploaded == sorted(uploaded, reverse=True)


def test_a_search_pages_with_a_cursor_only_its_own(aws, client, curator, world):
    everything, _ = walk(curator, "/api/photos?tag=fjord&page_size=100")
    paged, _ = walk(curator, "/api/photos?tag=fjord&page_size=4")
    assert [photo["photoId"] for photo in paged] == [photo["photoId"] for photo in everything]
    first = search(curator, "fjord", page_size=1).json()
    cursor = parse_qs(urlparse(first["next"]).query)["cursor"][0]
    assert client.get("/api/photos", {"tag": "fjord", "cursor": cursor}).status_code == 400  # a visitor
    assert curator.get("/api/photos", {"tag": "sea", "cursor": cursor}).status_code == 400  # another tag
    visitor_pages, bodies = walk(client, "/api/photos?tag=fjord&page_size=1")
    assert len(visitor_pages) == 2
    for hidden in ("unlisted", "private"):
        assert not any(world[hidden][0] in body for body in bodies)


def test_a_tag_is_required(aws, client):
    for query in ("", "?tag=", "?tag=%20", f"?tag={'x' * 51}"):
        response = client.get(f"/api/photos{query}")
        assert response.status_code == 400, query
        assert "tag" in response.json()["details"]


def test_a_tag_of_control_characters_only_is_no_tag(aws, client, curator, world):
    """Cleaned as stored tags are, it is nothing: a search for it is refused (400), and a gallery's
    listing with it is the whole listing (never a 500 from the length check meeting no text)."""
    search = client.get("/api/photos?tag=%C2%83")
    assert search.status_code == 400 and "tag" in search.json()["details"]
    gallery_id, photos = world["public"]
    listed = client.get(f"/api/galleries/{gallery_id}/photos?tag=%C2%83%07")
    assert listed.status_code == 200, listed.content
    assert len(listed.json()["results"]) == len(photos)


def test_a_gallery_made_private_leaves_visitors_searches_at_once(aws, client, curator, world):
    gallery_id, _ = world["public"]
    assert (
        curator.patch(f"/api/galleries/{gallery_id}", {"visibility": "private"}, format="json").status_code
        == 200
    )
    response = search(client, "fjord")
    assert response.json()["results"] == []
    assert gallery_id not in response.content.decode()
    entries_made(gallery_id)  # the scan relabels the entries: out of the public index
    assert {visibility for _, _, visibility, _ in entries_of(gallery_id)} == {"private"}
    assert {public for _, _, _, public in entries_of(gallery_id)} == {None}
    assert len(search(curator, "fjord").json()["results"]) == 6
    curator.patch(f"/api/galleries/{gallery_id}", {"visibility": "public"}, format="json")
    entries_made(gallery_id)
    assert len(search(client, "fjord").json()["results"]) == 2


def test_deleted_photos_and_their_entries_go(aws, client, curator, world):
    gallery_id, photos = world["public"]
    gone = photos[0]["photoId"]
    assert curator.delete(f"/api/galleries/{gallery_id}/photos/{gone}").status_code == 200
    assert not any(photo_id == gone for _, photo_id, _, _ in entries_of(gallery_id))
    assert [photo["photoId"] for photo in search(client, "fjord").json()["results"]] == [photos[1]["photoId"]]


def test_a_photo_whose_delete_began_is_not_found(aws, client, world):
    gallery_id, photos = world["public"]
    GalleryPhoto.get(gallery_id, photos[1]["photoId"]).update(
        actions=[GalleryPhoto.deleting_at.set("2026-01-01")]
    )
    assert [photo["photoId"] for photo in search(client, "fjord").json()["results"]] == [photos[0]["photoId"]]


def test_the_scan_repairs_missing_stale_and_stray_entries(aws, client, world):
    gallery_id, photos = world["public"]
    kept, edited = photos[0]["photoId"], photos[1]["photoId"]
    PhotoTag.get("sea", next(e.entry_key for e in PhotoTag.scan() if e.photo_id == kept)).delete()  # missing
    # The photo's tags changed without its entries (an edit that died part-way): a stale entry.
    GalleryPhoto.get(gallery_id, edited).update(actions=[GalleryPhoto.tags.set(["lake"])])
    # An entry whose photo does not exist at all.
    ghost = GalleryPhoto(
        gallery_id, "ghost", tags=["fjord"], uploaded_at="2099-01-01T00:00:00Z", visibility="public"
    )
    transaction_run(lambda transaction: tags.tag_entries_in(transaction, ghost))
    found = search(client, "fjord").json()["results"]  # neither the stale one nor the ghost is answered
    assert [photo["photoId"] for photo in found] == [kept]
    entries_made(gallery_id)
    assert entries_of(gallery_id) == {
        ("fjord", kept, "public", "fjord"),
        ("sea", kept, "public", "sea"),
        ("lake", edited, "public", "lake"),
        ("mountain", photos[2]["photoId"], "public", "mountain"),
    }
    before = entries_of(gallery_id)
    entries_made(gallery_id)  # nothing left to do
    assert entries_of(gallery_id) == before


def test_the_pieces_a_photo_write_composes(aws, curator):
    gallery_id = gallery_new(curator, "Pieces", "public")
    photo = GalleryPhoto(
        gallery_id, "p1", tags=["a", "b"], uploaded_at="2026-01-01T00:00:00.000Z", visibility="public"
    )
    transaction_run(lambda transaction: tags.tag_entries_in(transaction, photo))
    assert entries_of(gallery_id) == {("a", "p1", "public", "a"), ("b", "p1", "public", "b")}
    previous = list(photo.tags)
    photo.tags = ["b", "c"]
    transaction_run(lambda transaction: tags.tag_entries_replace(transaction, photo, previous_tags=previous))
    assert entries_of(gallery_id) == {("b", "p1", "public", "b"), ("c", "p1", "public", "c")}
    transaction_run(lambda transaction: tags.tag_visibility_set(transaction, photo, "unlisted"))
    assert entries_of(gallery_id) == {("b", "p1", "unlisted", None), ("c", "p1", "unlisted", None)}
    tags.tag_entries_remove(photo=photo)
    assert entries_of(gallery_id) == set()


def test_entries_unchanged_holds_only_while_the_item_has_the_tags_and_copy_read(aws, curator):
    gallery_id = gallery_new(curator, "Checks", "public")
    photo = photos_add(curator, gallery_id, [["x"]])[0]
    item = GalleryPhoto.get(gallery_id, photo["photoId"])
    condition = tags.entries_unchanged(item)
    item.update(actions=[GalleryPhoto.title.set("same tags")], condition=condition)  # applies
    GalleryPhoto.get(gallery_id, photo["photoId"]).update(actions=[GalleryPhoto.tags.set(["y"])])
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        item.update(actions=[GalleryPhoto.title.set("stale")], condition=condition)


def cursor_state(url: str, scope: str) -> str:
    """What a page link's cursor names, decoded (cursors are compressed: their text shows nothing)."""
    cursor = parse_qs(urlparse(url).query)["cursor"][0]
    return json.dumps(pagination._decode(cursor, scope))


def test_a_visitors_cursor_never_names_an_entry_of_a_hidden_gallery(aws, client, curator, monkeypatch):
    monkeypatch.setattr(pagination, "EXAMINED_MAX", 2)
    monkeypatch.setattr(pagination, "EXAMINE_BATCH", 2)
    older = gallery_new(curator, "Older", "public")
    shown = photos_add(curator, older, [["t"]])[0]["photoId"]
    entries_made(older)
    newer = gallery_new(curator, "Newer", "public")
    photos_add(curator, newer, [["t"], ["t"], ["t"]])
    entries_made(newer)
    page = search(client, "t", page_size=1).json()
    assert page["results"][0]["galleryId"] == newer and page["next"]
    assert newer in cursor_state(page["next"], "photos-tagged:visitor:t")  # a gallery it may search
    # Made private, its photos not yet moved (the request ran out of time: the scan finishes them): its
    # entries still say public until its photos are relabelled (a change under way).

    monkeypatch.setattr(placement, "gallery_place", lambda gallery: Placement(left=3))
    curator.patch(f"/api/galleries/{newer}", {"visibility": "private"}, format="json")
    first = search(client, "t", page_size=1).json()
    # Two entries examined, both of the hidden gallery: nothing to resume after that it may know of.
    assert first["results"] == [] and first["next"] is None
    assert newer not in first.values()
    entries_made(newer)  # relabelled: out of the public index
    found, _ = walk(client, "/api/photos?tag=t&page_size=1")
    assert [photo["photoId"] for photo in found] == [shown]


def test_the_scan_keeps_the_entries_of_a_photo_committed_after_it_read_the_gallery(aws, curator, monkeypatch):
    gallery_id = gallery_new(curator, "Race", "public")
    early, late = (photo["photoId"] for photo in photos_add(curator, gallery_id, [["x"], ["y"]]))
    entries_made(gallery_id)
    load_index = photos_scan._PhotosRun._load_index

    def before_the_late_commit(run, gallery):
        index = load_index(run, gallery)
        index.pop(late)  # as if its commit landed after this read
        return index

    monkeypatch.setattr(photos_scan._PhotosRun, "_load_index", before_the_late_commit)
    entries_made(gallery_id)
    assert entries_of(gallery_id) == {("x", early, "public", "x"), ("y", late, "public", "y")}


def test_entries_follow_the_photo_in_the_same_writes(aws, client, curator):
    """An upload, a tag edit and a visibility change each write the entries with the photo: a search
    finds what the photo says at once, with no scan in between."""
    gallery_id = gallery_new(curator, "Live", "public")
    [photo] = photos_add(curator, gallery_id, [["harbour"]])
    assert [found["photoId"] for found in search(client, "harbour").json()["results"]] == [photo["photoId"]]

    edited = curator.patch(
        f"/api/galleries/{gallery_id}/photos/{photo['photoId']}", {"tags": ["boats"]}, format="json"
    )
    assert edited.status_code == 200, edited.content
    assert search(client, "harbour").json()["results"] == []
    assert [found["photoId"] for found in search(client, "boats").json()["results"]] == [photo["photoId"]]

    curator.patch(f"/api/galleries/{gallery_id}", {"visibility": "private"}, format="json")
    assert search(client, "boats").json()["results"] == []
    assert [found["photoId"] for found in search(curator, "boats").json()["results"]] == [photo["photoId"]]
