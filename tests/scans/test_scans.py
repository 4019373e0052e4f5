"""The photos and galleries scans: adopt, re-render, remove, recompute; safe to repeat, interrupt, race."""

import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.management import call_command

from core import records, storage
from core.aws import s3_client
from core.records import ServiceRecord
from galleries.models import Gallery
from photos import intents, keys, ordering
from photos.models import GalleryPhoto
from photos.services.cover import gallery_edit
from ratings.models import PhotoRating
from scans import claims, events
from scans import photos_scan as scans
from scans.galleries_scan import galleries_metadata_scan
from scans.management.scan_command import ProgressDisplay
from scans.photos_scan import gallery_photos_scan
from scans.summary import ScanSummary
from tests.clock import clock_at
from tests.factories import jpeg_bytes

# Legacy rendition names (before renditions were named by their long edge and content): items of an older
# release, which the scan keeps working with.
RENDITION_NAMES = {f"{name}.{ext}" for name in ("thumb", "web") for ext in ("jpg", "webp")}


def bucket_keys(prefix: str = "") -> set[str]:
    paginator = s3_client().get_paginator("list_objects_v2")
    return {
        item["Key"]
        for page in paginator.paginate(Bucket=settings.BUCKET_NAME, Prefix=prefix)
        for item in page.get("Contents", ())
    }


def photo_items(gallery_id: str) -> list[GalleryPhoto]:
    """The gallery's photo items, in number order."""
    items = GalleryPhoto.query(gallery_id, consistent_read=True)
    return sorted(items, key=lambda photo: int(photo.photo_number))


def state(gallery_id: str) -> dict:
    """What a reader can see of a gallery, without ids, numbers or times (in which runs may differ)."""
    gallery = Gallery.get(gallery_id, consistent_read=True)
    photos = photo_items(gallery_id)
    cover = {photo.photo_id: photo for photo in photos}.get(gallery.cover_photo_id)
    renditions = bucket_keys(f"renditions/{gallery_id}/")
    return {
        "photoCount": int(gallery.photo_count),
        "cover": cover.s3_key if cover else None,
        "coverURLMatches": (cover.full_size_url if cover else None) == gallery.cover_photo_url,
        "years": sorted(int(year) for year in gallery.years),
        "originals": sorted(photo.s3_key for photo in photos),
        "deleting": [photo.s3_key for photo in photos if photo.deleting_at],
        "objects": sorted(bucket_keys(f"galleries/{gallery_id}/")),
        "renditionCount": len(renditions),
        "renditionsOwned": renditions == {key for photo in photos for key in photo.rendition_keys},
    }


def get_object(key: str) -> bytes:
    return s3_client().get_object(Bucket=settings.BUCKET_NAME, Key=key)["Body"].read()


# ---------------------------------------------------------------- photos scan


def test_synced_originals_become_photos_as_an_upload_makes_them(backend, put_object, make_gallery):
    gallery_id = make_gallery(years=[2019])
    put_object(f"galleries/{gallery_id}/IMG_0001.JPG", jpeg_bytes(800, 600, taken="2021:03:04 05:06:07"))
    put_object(f"galleries/{gallery_id}/card/nested.jpg")  # not directly under the gallery: ignored
    summary = gallery_photos_scan()
    assert (summary.scanned, summary.created, summary.failed) == (1, 1, 0), summary.as_dict()
    [photo] = photo_items(gallery_id)
    assert photo.photo_number == 1 and photo.s3_key == f"galleries/{gallery_id}/IMG_0001.JPG"
    assert photo.exif_data.as_dict()["dateTimeOriginal"] == "2021-03-04T05:06:07"
    assert (photo.width, photo.height) == (800, 600)
    names = {
        (parts.name, parts.extension) for key in photo.rendition_keys if (parts := keys.rendition_file(key))
    }
    assert names == {
        (edge, ext) for edge in ("400", "800") for ext in ("jpg", "webp")
    }  # 800 px: never enlarged
    assert bucket_keys(f"renditions/{gallery_id}/") == set(photo.rendition_keys)
    gallery = Gallery.get(gallery_id)
    assert gallery.photo_count == 1 and gallery.cover_photo_url == photo.full_size_url
    assert sorted(gallery.years) == [2019, 2021]


def test_second_run_changes_nothing_and_says_so(aws, put_object, make_gallery):
    gallery_id = make_gallery()
    for index in range(3):
        put_object(f"galleries/{gallery_id}/DSC{index}.jpg")
    assert gallery_photos_scan().created == 3
    before = state(gallery_id)
    again = gallery_photos_scan().as_dict()
    assert again["changed"] is False and again["unchanged"] == 3
    assert again["message"] == "Scanned 3: nothing to change."
    assert state(gallery_id) == before


def test_renditions_are_never_mistaken_for_originals(aws, put_object, make_gallery, upload_photo):
    gallery_id = make_gallery()
    upload_photo(gallery_id)
    summary = gallery_photos_scan()
    assert (summary.scanned, summary.created, summary.orphan_objects_removed) == (1, 0, 0)
    assert len(photo_items(gallery_id)) == 1


def test_photo_whose_original_is_gone_is_removed_with_renditions_and_ratings(aws, put_object, make_gallery):
    gallery_id = make_gallery()
    put_object(f"galleries/{gallery_id}/a.jpg")
    put_object(f"galleries/{gallery_id}/b.jpg")
    gallery_photos_scan()
    first, second = photo_items(gallery_id)
    PhotoRating(first.photo_id, "visitor-1", rating=4, rated_at="2024-01-01T00:00:00.000Z").save()
    s3_client().delete_object(Bucket=settings.BUCKET_NAME, Key=first.s3_key)
    summary = gallery_photos_scan()
    assert (summary.removed, summary.unchanged) == (1, 1)
    assert [photo.photo_id for photo in photo_items(gallery_id)] == [second.photo_id]
    assert not bucket_keys(f"renditions/{gallery_id}/photo{first.photo_number}-")
    assert PhotoRating.count(first.photo_id) == 0
    gallery = Gallery.get(gallery_id)
    assert gallery.photo_count == 1 and gallery.cover_photo_id == second.photo_id


def test_changed_original_gets_renditions_and_exif_redone_in_place(aws, put_object, make_gallery):
    gallery_id = make_gallery(years=[])
    key = put_object(f"galleries/{gallery_id}/sunset.jpg", jpeg_bytes(640, 480, taken="2020:01:01 00:00:00"))
    gallery_photos_scan()
    [before] = photo_items(gallery_id)
    old_thumb = get_object(before.rendition_keys[0])
    put_object(key, jpeg_bytes(300, 900, taken="2022:06:01 12:00:00"))
    summary = gallery_photos_scan()
    assert (summary.updated, summary.created) == (1, 0)
    [after] = photo_items(gallery_id)
    assert (after.photo_id, after.photo_number) == (before.photo_id, before.photo_number)
    # New content, new keys (cached URLs never serve the old image); the old objects are gone.
    assert set(after.rendition_keys).isdisjoint(before.rendition_keys)
    assert bucket_keys(f"renditions/{gallery_id}/") == set(after.rendition_keys)
    assert (after.width, after.height) == (300, 900)
    assert after.exif_data.as_dict()["dateTimeOriginal"] == "2022-06-01T12:00:00"
    assert after.original_etag != before.original_etag and get_object(after.rendition_keys[0]) != old_thumb
    assert sorted(Gallery.get(gallery_id).years) == [2020, 2022]
    assert gallery_photos_scan().changed is False


def test_interrupted_delete_is_finished(aws, put_object, make_gallery):
    gallery_id = make_gallery()
    put_object(f"galleries/{gallery_id}/keep.jpg")
    put_object(f"galleries/{gallery_id}/drop.jpg")
    gallery_photos_scan()
    keep, drop = photo_items(gallery_id)
    drop.update(actions=[GalleryPhoto.deleting_at.set("2024-01-01T00:00:00.000Z")])
    summary = gallery_photos_scan()
    assert summary.removed == 1 and summary.created == 0
    assert [photo.photo_id for photo in photo_items(gallery_id)] == [keep.photo_id]
    assert drop.s3_key not in bucket_keys() and not set(drop.rendition_keys) & bucket_keys()


def scan_later(monkeypatch, after: timedelta = records.WRITE_LIFETIME + timedelta(seconds=1)):
    """From now on the photos scan reads the time ``after`` from now: any write alive now is over."""
    clock_at(monkeypatch, scans, datetime.now(UTC) + after)


def test_orphan_renditions_of_a_killed_run_are_swept_once_no_write_can_list_them(
    aws, put_object, make_gallery, monkeypatch
):
    gallery_id = make_gallery()
    put_object(f"galleries/{gallery_id}/one.jpg")
    gallery_photos_scan()
    orphan = put_object(f"renditions/{gallery_id}/photo7-thumb.jpg", b"left by a killed run")
    young = gallery_photos_scan()  # a re-render or move at work may list it yet: left, and said so
    assert young.orphan_objects_removed == 0 and orphan in bucket_keys()
    assert [entry["key"] for entry in young.left] == [orphan] and "minutes" in young.left[0]["reason"]
    assert young.as_dict()["leftCount"] == 1 and "1 left as they are" in young.message
    scan_later(monkeypatch)
    summary = gallery_photos_scan()
    assert summary.orphan_objects_removed == 1 and orphan not in bucket_keys() and summary.left == []


def test_an_original_copied_into_the_bucket_is_adopted_at_once(aws, put_object, make_gallery):
    """No age rule: an object is listed only once it is whole, and only an upload's intent holds one back."""
    gallery_id = make_gallery()
    put_object(f"galleries/{gallery_id}/just-copied.jpg")
    summary = gallery_photos_scan()
    assert (summary.scanned, summary.created, summary.unchanged, summary.left) == (1, 1, 0, [])


def test_an_original_an_upload_is_writing_is_left_and_listed_with_the_reason(aws, put_object, make_gallery):
    gallery_id = make_gallery()
    key = f"galleries/{gallery_id}/photo9.jpg"
    intents.intent_open(gallery_id=gallery_id, number=9, photo_id="p9", objects=[key])
    put_object(key)
    summary = gallery_photos_scan(gallery_id=gallery_id)
    assert (summary.created, summary.left_count) == (0, 1)
    assert summary.left == [{"key": key, "reason": scans.WRITING}]
    answer = summary.as_dict()
    assert answer["left"] == summary.left and "1 left as they are (see left)" in answer["message"]


def test_a_file_that_is_not_an_image_fails_with_a_reason(aws, put_object, make_gallery):
    gallery_id = make_gallery()
    put_object(f"galleries/{gallery_id}/notes.txt", b"not a photo")
    summary = gallery_photos_scan().as_dict()
    assert summary["failed"] == 1 and summary["created"] == 0
    [failure] = summary["failures"]
    assert failure["key"] == f"galleries/{gallery_id}/notes.txt" and failure["reason"]
    assert not bucket_keys("renditions/")
    assert not list(GalleryPhoto.query(gallery_id))
    assert not list(ServiceRecord.scan())  # the claim was released


def test_objects_without_a_gallery_are_reported_and_adopted_with_the_flag(aws, put_object):
    put_object("galleries/kyoto-2019/IMG_1.jpg")
    reported = gallery_photos_scan()
    assert reported.missing_galleries == ["kyoto-2019"] and reported.created == 0
    with pytest.raises(Gallery.DoesNotExist):
        Gallery.get("kyoto-2019")
    adopted = gallery_photos_scan(create_missing_galleries=True)
    assert adopted.galleries_created == ["kyoto-2019"] and adopted.created == 1
    gallery = Gallery.get("kyoto-2019")
    assert (gallery.name, gallery.continent, gallery.country) == ("Kyoto 2019", "Europe", "Unknown")
    assert gallery.photo_count == 1
    assert gallery_photos_scan(create_missing_galleries=True).changed is False


def test_gallery_id_narrows_the_scan(aws, put_object, make_gallery):
    narrowed, other = make_gallery(), make_gallery()
    put_object(f"galleries/{narrowed}/a.jpg")
    put_object(f"galleries/{other}/b.jpg")
    put_object("galleries/stray/c.jpg")
    summary = gallery_photos_scan(gallery_id=narrowed)
    assert (summary.scanned, summary.created, summary.missing_galleries) == (1, 1, [])
    assert len(photo_items(narrowed)) == 1 and not photo_items(other)


def test_dry_run_reports_and_writes_nothing(aws, put_object, make_gallery):
    gallery_id = make_gallery()
    put_object(f"galleries/{gallery_id}/kept.jpg")
    put_object(f"galleries/{gallery_id}/gone.jpg")
    gallery_photos_scan()
    s3_client().delete_object(Bucket=settings.BUCKET_NAME, Key=f"galleries/{gallery_id}/gone.jpg")
    put_object(f"galleries/{gallery_id}/new.jpg")
    put_object("galleries/stray/x.jpg")
    Gallery(gallery_id).update(actions=[Gallery.photo_count.set(9)])
    before = (
        state(gallery_id),
        bucket_keys(),
        list(GalleryPhoto.scan()),
        [g.gallery_id for g in Gallery.scan()],
    )
    photos = gallery_photos_scan(dry_run=True, create_missing_galleries=True).as_dict()
    galleries = galleries_metadata_scan(dry_run=True).as_dict()
    after = (
        state(gallery_id),
        bucket_keys(),
        list(GalleryPhoto.scan()),
        [g.gallery_id for g in Gallery.scan()],
    )
    assert (photos["created"], photos["removed"], photos["galleriesCreated"]) == (1, 1, ["stray"])
    assert photos["dryRun"] and "would be created" in photos["message"]
    assert galleries["updated"] == 1
    assert [repr(item) for item in before[2]] == [repr(item) for item in after[2]]
    assert (before[0], before[1], before[3]) == (after[0], after[1], after[3])


def test_a_run_killed_halfway_and_run_again_ends_like_one_clean_run(aws, put_object, make_gallery):
    def fill(gallery_id):
        for index in range(6):
            put_object(
                f"galleries/{gallery_id}/frame{index}.jpg",
                jpeg_bytes(64, 48, taken=f"201{index}:01:01 00:00:00"),
            )

    clean, killed = make_gallery(years=[]), make_gallery(years=[])
    fill(clean)
    fill(killed)
    gallery_photos_scan(gallery_id=clean)

    class Killed(Exception):
        pass

    def kill_after_three(summary):
        if summary.created == 3:
            raise Killed

    with pytest.raises(Killed):
        gallery_photos_scan(gallery_id=killed, progress=kill_after_three)
    done_before_kill = len(photo_items(killed))  # workers may finish a job or two after the kill
    assert 3 <= done_before_kill < 6
    rerun = gallery_photos_scan(gallery_id=killed)
    assert (rerun.created, rerun.unchanged) == (6 - done_before_kill, done_before_kill)
    expected = {**state(clean), "originals": None, "objects": None, "cover": None}
    result = state(killed)
    assert {**result, "originals": None, "objects": None, "cover": None} == expected
    assert [key.rsplit("/", 1)[1] for key in result["originals"]] == [
        key.rsplit("/", 1)[1] for key in state(clean)["originals"]
    ]


@pytest.mark.parametrize(
    "backend", [pytest.param("dynamodb_local", marks=pytest.mark.integration)], indirect=True
)
def test_two_runs_at_once_do_not_duplicate_photos(backend, put_object, make_gallery):
    gallery_id = make_gallery()
    for index in range(8):
        put_object(f"galleries/{gallery_id}/burst{index}.jpg")
    start = threading.Barrier(2)
    summaries, errors = [], []

    def run():
        try:
            start.wait()
            summaries.append(gallery_photos_scan(gallery_id=gallery_id))
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    originals = [photo.s3_key for photo in photo_items(gallery_id)]
    assert sorted(originals) == sorted(set(originals)) and len(originals) == 8
    assert sum(summary.created for summary in summaries) == 8
    galleries_metadata_scan(gallery_id=gallery_id)
    current = state(gallery_id)
    assert current["photoCount"] == 8 and current["renditionsOwned"]


def test_claims_live_in_the_records_table_and_a_dead_runs_claim_is_judged(backend, put_object, make_gallery):
    """GalleryPhotos holds photos only; a claim says which photo it adopted, and one left by a run that
    died after committing its photo is not taken for a second adoption."""
    gallery_id = make_gallery()
    key = f"galleries/{gallery_id}/IMG_0001.JPG"
    put_object(key)
    gallery_photos_scan(gallery_id=gallery_id)
    assert all(item.photo_number is not None for item in GalleryPhoto.query(gallery_id))
    [photo] = photo_items(gallery_id)
    claim = records.record_get(claims.KIND, claims.claim_id_for(key))
    assert (claim.status, claim.data.as_dict()["photoId"], claim.data.as_dict()["s3Key"]) == (
        claims.ADOPTED,
        photo.photo_id,
        key,
    )
    # A run that committed the photo and died before marking its claim adopted: the lease ran out.
    records.record_update(claim, status=claims.ADOPTING, lifetime=-timedelta(seconds=1), data={})
    assert claims.claim_take(gallery_id=gallery_id, original_key=key, owner="another run") is None
    # Without a photo for the key, the dead run's claim is taken over.
    photo.delete()
    assert claims.claim_take(gallery_id=gallery_id, original_key=key, owner="another run") is not None


# ---------------------------------------------------------------- galleries scan


def test_galleries_scan_fixes_drift_and_keeps_curator_years(backend, put_object, make_gallery):
    gallery_id = make_gallery(years=[1999])
    put_object(f"galleries/{gallery_id}/a.jpg", jpeg_bytes(64, 48, taken="2015:01:01 00:00:00"))
    put_object(f"galleries/{gallery_id}/b.jpg", jpeg_bytes(64, 48, taken="2016:01:01 00:00:00"))
    gallery_photos_scan()
    first, _ = photo_items(gallery_id)
    Gallery(gallery_id).update(
        actions=[
            Gallery.photo_count.set(7),
            Gallery.cover_photo_id.set("gone"),
            Gallery.cover_photo_url.set("https://media.example.test/gone.jpg"),
            Gallery.cover_photo_number.set(99),
            Gallery.years.set([1999]),
        ]
    )
    summary = galleries_metadata_scan()
    assert (summary.scanned, summary.updated) == (1, 1)
    gallery = Gallery.get(gallery_id, consistent_read=True)
    assert gallery.photo_count == 2 and gallery.cover_photo_id == first.photo_id
    assert gallery.cover_photo_url == first.full_size_url
    assert gallery.cover_photo_number == first.photo_number
    assert sorted(gallery.years) == [1999, 2015, 2016]
    again = galleries_metadata_scan()
    assert again.changed is False and again.message == "Scanned 1: nothing to change."


def test_galleries_scan_repairs_an_automatic_cover_keeps_a_chosen_one_and_clears_one_with_no_photos(
    aws, put_object, make_gallery
):
    with_photos, chosen, empty = make_gallery(), make_gallery(), make_gallery()
    for gallery_id in (with_photos, chosen):
        put_object(f"galleries/{gallery_id}/a.jpg")
        put_object(f"galleries/{gallery_id}/b.jpg")
    gallery_photos_scan()
    first, second = sorted(photo_items(with_photos), key=lambda photo: int(photo.photo_number))
    # A server that died mid-batch left #2 as the cover while #1 exists: the automatic rule says #1.
    Gallery(with_photos).update(
        actions=[
            Gallery.cover_photo_id.set(second.photo_id),
            Gallery.cover_photo_url.set(second.full_size_url),
            Gallery.cover_photo_number.set(second.photo_number),
        ]
    )
    _, curators_choice = sorted(photo_items(chosen), key=lambda photo: int(photo.photo_number))
    gallery_edit(gallery_id=chosen, cover_photo_id=curators_choice.photo_id)
    Gallery(empty).update(actions=[Gallery.cover_photo_id.set("x"), Gallery.cover_photo_url.set("y")])
    assert galleries_metadata_scan().updated == 2
    assert Gallery.get(with_photos).cover_photo_id == first.photo_id
    assert Gallery.get(chosen).cover_photo_id == curators_choice.photo_id  # a curator's choice holds
    assert Gallery.get(empty).cover_photo_url is None


# ---------------------------------------------------------------- three doors, one service


def test_api_command_and_lambda_event_give_the_same_summary(aws, curator, put_object, make_gallery):
    gallery_id = make_gallery()
    put_object(f"galleries/{gallery_id}/a.jpg")
    gallery_photos_scan()
    galleries_metadata_scan()
    for action, command, event, rest in (
        ("update_GalleryPhotos", "update_gallery_photos", events.update_gallery_photos, "gallery-photos"),
        (
            "update_galleries_metadata",
            "update_galleries_metadata",
            events.update_galleries_metadata,
            "galleries-metadata",
        ),
    ):
        guide = curator.post(f"/galleries?action={action}&id={gallery_id}")
        twin = curator.post(f"/api/scans/{rest}", {"galleryId": gallery_id}, format="json")
        out = io.StringIO()
        call_command(command, "--gallery-id", gallery_id, "--json", stdout=out, stderr=io.StringIO())
        from_event = event({"galleryId": gallery_id}, None)
        assert guide.status_code == twin.status_code == 200
        assert guide.json() == twin.json() == json.loads(out.getvalue()) == from_event
        assert from_event["galleryId"] == gallery_id and from_event["changed"] is False


def test_scheduled_event_without_a_gallery_scans_everything(aws, put_object, make_gallery):
    gallery_id = make_gallery()
    put_object(f"galleries/{gallery_id}/a.jpg")
    scheduled = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    assert events.update_gallery_photos(scheduled, None)["created"] == 1
    assert events.update_galleries_metadata(scheduled, None)["scanned"] == 1


@pytest.mark.parametrize("url", ["/galleries?action=update_GalleryPhotos", "/api/scans/galleries-metadata"])
def test_scans_need_a_curator(aws, client, url):
    response = client.post(url)
    assert response.status_code in (401, 403) and set(response.json()) == {"error", "details"}


def test_api_rejects_conflicting_gallery_ids(aws, curator):
    response = curator.post("/galleries?action=update_GalleryPhotos&id=a", {"galleryId": "b"}, format="json")
    assert response.status_code == 400 and "galleryId" in response.json()["details"]


def test_api_narrowed_to_an_unknown_gallery_is_404(aws, curator):
    assert curator.post("/galleries?action=update_galleries_metadata&id=nope").status_code == 404
    assert curator.post("/galleries?action=update_GalleryPhotos&id=nope").status_code == 404


def test_command_prints_plain_progress_lines_off_a_terminal_and_dry_run_writes_nothing(
    aws, put_object, make_gallery
):
    gallery_id = make_gallery()
    for index in range(3):
        put_object(f"galleries/{gallery_id}/{index}.jpg")
    out, err = io.StringIO(), io.StringIO()
    call_command("update_gallery_photos", "--dry-run", stdout=out, stderr=err)
    assert out.getvalue().startswith("Scanned 3: 3 would be created.")
    assert "\r" not in err.getvalue()
    assert not photo_items(gallery_id)
    call_command("update_gallery_photos", stdout=io.StringIO(), stderr=err)
    assert len(photo_items(gallery_id)) == 3


def test_progress_display_redraws_one_line_on_a_terminal():

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    display = ProgressDisplay(terminal, interval=0)
    summary = ScanSummary(scan="gallery_photos")
    for _ in range(3):
        summary.scanned += 1
        display(summary)
    display.finish()
    assert terminal.getvalue().count("\r") == 4 and "\n" not in terminal.getvalue()
    assert "scanned 3" in terminal.getvalue()


# ---------------------------------------------------------------- scale


def test_ten_thousand_objects_stream_in_bounded_memory(aws, make_gallery, put_object, monkeypatch):
    """2,000 photos (original + 4 renditions each) = 10,000 objects; 3 new originals need image work."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    gallery_id = make_gallery()
    tiny = b"x"
    with GalleryPhoto.batch_write() as batch:
        for number in range(1, 2001):
            original = f"galleries/{gallery_id}/photo{number}.jpg"
            renditions = [f"renditions/{gallery_id}/photo{number}-{name}" for name in sorted(RENDITION_NAMES)]
            # Straight into moto's backend: putting 10,000 objects through HTTP would dominate the test.
            for key in (original, *renditions):
                backend.put_object(settings.BUCKET_NAME, key, tiny)
            batch.save(
                GalleryPhoto(
                    gallery_id,
                    f"p{number:05d}",
                    photo_number=number,
                    s3_key=original,
                    uploaded_at="2024-01-01T00:00:00.000Z",
                    rendition_keys=renditions,
                    original_etag=backend.get_object(settings.BUCKET_NAME, original).etag.strip('"'),
                    original_size=1,
                    # Items as this release writes them (an older release's get their keys once).
                    taken_order=ordering.taken_order({}, number),
                    rating_order=ordering.rating_order(0, 0, number),
                )
            )
    Gallery(gallery_id).update(actions=[Gallery.last_photo_number.set(2000)])
    for index in range(3):
        put_object(f"galleries/{gallery_id}/zz-new{index}.jpg")

    # Count what the originals listing has handed out against what the scan has finished: the gap is
    # what the scan holds, and it must stay within one listing page (tracemalloc would triple the runtime).
    originals_prefix = f"galleries/{gallery_id}/"
    pulled, widest_gap = {}, [0]
    real_objects_list = storage.objects_list

    def counted_listing(prefix):
        for item in real_objects_list(prefix):
            pulled[prefix] = pulled.get(prefix, 0) + 1
            yield item

    def watch(summary):
        widest_gap[0] = max(widest_gap[0], pulled.get(originals_prefix, 0) - summary.scanned)

    monkeypatch.setattr(storage, "objects_list", counted_listing)
    dynamodb_calls = []
    connection = GalleryPhoto._get_connection().connection
    connection.client.meta.events.register(
        "before-call.dynamodb", lambda **kw: dynamodb_calls.append(kw["model"].name)
    )
    try:
        summary = gallery_photos_scan(gallery_id=gallery_id, progress=watch)
    finally:
        connection.client.meta.events.unregister("before-call.dynamodb")
    assert (summary.scanned, summary.created, summary.unchanged, summary.failed) == (2003, 3, 2000, 0)
    assert sum(pulled.values()) == 10_003 and 0 < widest_gap[0] <= scans.LISTING_PAGE
    # The 2,000 known items are read in a few Query pages, not one request per object; each adoption
    # checks once more that no photo holds its original (a commit may land after the items were read).
    assert dynamodb_calls.count("Query") <= 6 + summary.created
    assert dynamodb_calls.count("GetItem") <= 1 + 2 * summary.created


def test_galleries_scan_puts_galleries_from_before_the_listing_index_into_it(backend, client):

    # Written by an older release: none of the listing attributes.
    Gallery._get_connection().connection.client.put_item(
        TableName=Gallery.Meta.table_name,
        Item={
            "galleryId": {"S": "legacy-gallery"},
            "name": {"S": "Old"},
            "continent": {"S": "Asia"},
            "country": {"S": "Viet Nam"},
            "years": {"L": [{"N": "2019"}]},
            "photoCount": {"N": "0"},
            "createdAt": {"S": "2020-01-01T00:00:00.000Z"},
            "updatedAt": {"S": "2020-01-01T00:00:00.000Z"},
        },
    )
    assert client.get("/api/galleries").json()["results"] == []
    assert galleries_metadata_scan().updated == 1
    listed = client.get("/api/galleries?country=viet%20nam").json()["results"]
    assert [gallery["galleryId"] for gallery in listed] == ["legacy-gallery"]
