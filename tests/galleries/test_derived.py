"""The gallery fields that follow its photos, as galleries.derived hands them out (photos compose them)."""

import pytest
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from core.aws import transaction_connection
from galleries import derived
from galleries.models import Gallery
from galleries.services import gallery_create


@pytest.fixture
def gallery_id(backend):
    return gallery_create(name="Dunes", continent="Africa", country="Namibia", years=[2018]).gallery_id


def cover(number: int) -> derived.Cover:
    return derived.Cover(f"photo-{number}", number, f"https://cdn.example/photo{number}-web.jpg")


def apply(change: derived.GalleryChange) -> None:
    with TransactWrite(connection=transaction_connection()) as transaction:
        transaction.update(change.gallery, actions=change.actions, condition=change.condition)


def stored(gallery_id: str) -> Gallery:
    return Gallery.get(gallery_id, consistent_read=True)


def test_numbers_come_in_consecutive_blocks_and_are_never_reused(gallery_id):
    assert derived.numbers_reserve(gallery_id=gallery_id, count=3) == [1, 2, 3]
    assert derived.numbers_reserve(gallery_id=gallery_id, count=1) == [4]
    with pytest.raises(derived.GalleryGone):
        derived.numbers_reserve(gallery_id="no-such-gallery", count=1)


def test_the_lowest_numbered_photo_is_the_cover_whatever_order_photos_commit_in(gallery_id):
    apply(derived.photo_added(gallery_id=gallery_id, cover=cover(2)))  # #2 commits first: no cover yet
    apply(derived.photo_added(gallery_id=gallery_id, cover=cover(1)))  # only sets a missing cover
    assert (stored(gallery_id).cover_photo_id, stored(gallery_id).photo_count) == ("photo-2", 2)
    assert derived.cover_offer(gallery_id=gallery_id, cover=cover(1)) is True
    assert derived.cover_offer(gallery_id=gallery_id, cover=cover(3)) is False
    gallery = stored(gallery_id)
    assert (gallery.cover_photo_id, gallery.cover_photo_number, gallery.cover_photo_url) == (
        "photo-1",
        1,
        cover(1).url,
    )


def test_removing_the_cover_hands_it_to_the_successor_or_clears_it(gallery_id):
    apply(derived.photo_added(gallery_id=gallery_id, cover=cover(1)))
    apply(derived.photo_added(gallery_id=gallery_id, cover=cover(2)))
    apply(derived.photo_removed(gallery=stored(gallery_id), photo_id="photo-1", successor=cover(2)))
    assert (stored(gallery_id).cover_photo_id, stored(gallery_id).photo_count) == ("photo-2", 1)
    apply(derived.photo_removed(gallery=stored(gallery_id), photo_id="photo-2", successor=None))
    gallery = stored(gallery_id)
    assert (gallery.cover_photo_id, gallery.cover_photo_url, gallery.photo_count) == (None, None, 0)


def test_a_removal_judged_on_a_stale_cover_is_refused(gallery_id):
    apply(derived.photo_added(gallery_id=gallery_id, cover=cover(1)))
    before = stored(gallery_id)
    assert derived.cover_offer(gallery_id=gallery_id, cover=derived.Cover("photo-0", 0, "u")) is True
    with pytest.raises(TransactWriteError) as refused:
        apply(derived.photo_removed(gallery=before, photo_id="photo-1", successor=None))
    assert refused.value.cause_response_code == "TransactionCanceledException"
    assert stored(gallery_id).cover_photo_id == "photo-0"  # the newer cover stands


def test_years_are_added_once_and_the_curators_are_kept(gallery_id):
    assert derived.years_merge(gallery_id=gallery_id, years=[2021]) is True
    assert derived.years_merge(gallery_id=gallery_id, years=[2021]) is False
    assert sorted(int(year) for year in stored(gallery_id).years) == [2018, 2021]


def test_drift_actions_name_only_what_differs(gallery_id):
    apply(derived.photo_added(gallery_id=gallery_id, cover=cover(1)))
    gallery = stored(gallery_id)
    same = derived.drift_actions(
        gallery, photo_count=1, live_cover=cover(1), first=cover(1), photo_years=[2018]
    )
    assert same == []
    drifted = derived.drift_actions(
        gallery, photo_count=3, live_cover=None, first=cover(2), photo_years=[2020]
    )
    gallery.update(actions=drifted)
    gallery = stored(gallery_id)
    assert (gallery.photo_count, gallery.cover_photo_id, [int(y) for y in gallery.years]) == (
        3,
        "photo-2",
        [2018, 2020],
    )
