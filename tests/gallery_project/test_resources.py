"""ensure_resources: creates what is missing, adds what a newer release declares, changes nothing else."""

import botocore.client
from django.core.management import call_command

from core.aws import s3_client
from core.records import ServiceRecord
from galleries.models import Gallery
from galleries.services import gallery_create
from gallery_project import resources
from photos.models import GalleryPhoto
from ratings.models import PhotoRating
from scans.photos_scan import gallery_photos_scan
from tests.factories import jpeg_bytes
from tests.tables import table_made_again


def test_ensure_resources_is_idempotent(aws, capsys):
    call_command("ensure_resources")  # turns on what the aws fixture leaves off: the tables' protection
    capsys.readouterr()
    call_command("ensure_resources")
    report = capsys.readouterr().out.splitlines()
    *tables, bucket, recovery, protection, function = report
    assert len(tables) == 6 and all(line.endswith(": exists") for line in tables), report
    assert bucket.endswith(": exists, lifecycle rules in place, CORS rule in place, versioning in place"), (
        report
    )
    assert recovery == "tables: point-in-time recovery in place", report
    assert protection == "tables: deletion protection in place", report
    assert function.startswith("function: none named (--function NAME)"), report


def test_ensure_resources_adds_an_index_a_table_from_an_older_release_lacks(backend):
    table_made_again(Gallery)
    resources.resources_ensure()
    table = Gallery._get_connection().connection.client.describe_table(TableName=Gallery.Meta.table_name)[
        "Table"
    ]
    assert sorted(index["IndexName"] for index in table["GlobalSecondaryIndexes"]) == [
        "byCreatedAt",
        "publicByCreatedAt",
    ]


def test_ensure_resources_turns_on_the_records_time_to_live_a_table_made_earlier_lacks(backend):
    table_made_again(ServiceRecord)
    resources.resources_ensure()
    client = ServiceRecord._get_connection().connection.client
    described = client.describe_time_to_live(TableName=ServiceRecord.Meta.table_name)["TimeToLiveDescription"]
    assert described["TimeToLiveStatus"] in {"ENABLED", "ENABLING"}
    assert described["AttributeName"] == "expiresAt"


def test_a_new_records_table_expires_by_its_expires_at_attribute(backend):
    client = ServiceRecord._get_connection().connection.client
    described = client.describe_time_to_live(TableName=ServiceRecord.Meta.table_name)["TimeToLiveDescription"]
    assert (described["TimeToLiveStatus"], described["AttributeName"]) in {
        ("ENABLED", "expiresAt"),
        ("ENABLING", "expiresAt"),
    }


def test_upgrading_removes_the_scan_claims_an_older_release_kept_in_gallery_photos(backend, settings):
    """A release before ServiceRecords: no such table, and a claim item beside the photos."""
    ServiceRecord.delete_table()
    gallery_id = gallery_create(name="Old", continent="Asia", country="Japan").gallery_id
    key = f"galleries/{gallery_id}/IMG_0001.JPG"
    s3_client().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=jpeg_bytes(64, 48))
    client = GalleryPhoto._get_connection().connection.client
    client.put_item(  # an item exactly as the previous release's claims looked
        TableName=GalleryPhoto.Meta.table_name,
        Item={
            "galleryId": {"S": gallery_id},
            "photoId": {"S": "~original#" + "a" * 40},
            "s3Key": {"S": key},
            "owner": {"S": "old-run"},
            "claimedUntil": {"N": "0"},
            "adoptedPhotoId": {"S": "gone"},
        },
    )
    report = "\n".join(resources.resources_ensure())
    assert "removed 1 scan claims" in report and f"table {ServiceRecord.Meta.table_name}: created" in report
    assert not list(GalleryPhoto.query(gallery_id))
    summary = gallery_photos_scan(gallery_id=gallery_id)  # it would fail on the claim item left behind
    assert (summary.created, summary.failed) == (1, 0), summary.as_dict()
    assert [photo.s3_key for photo in GalleryPhoto.query(gallery_id)] == [key]


def test_the_cleanup_runs_only_on_that_upgrade(aws, capsys, monkeypatch):

    calls = []
    monkeypatch.setattr(resources, "legacy_claims_remove", lambda: calls.append(1) or 0)
    call_command("ensure_resources")  # ServiceRecords exists: no scan of GalleryPhotos
    assert calls == []


def test_ensure_resources_puts_the_lifecycle_rules_and_keeps_the_operators_own(aws, settings):
    """On AWS (moto here): upload objects expire after a day, abandoned multipart uploads are aborted."""
    client = s3_client()
    own = {
        "ID": "operators-archive",
        "Status": "Enabled",
        "Filter": {"Prefix": "archive/"},
        "Expiration": {"Days": 30},
    }
    client.put_bucket_lifecycle_configuration(
        Bucket=settings.BUCKET_NAME, LifecycleConfiguration={"Rules": [own]}
    )
    report = resources.resources_ensure()
    assert any("lifecycle rules set" in line for line in report)
    rules = {
        rule["ID"]: rule
        for rule in client.get_bucket_lifecycle_configuration(Bucket=settings.BUCKET_NAME)["Rules"]
    }
    assert rules["stale-uploads"]["Filter"] == {"Prefix": "uploads/"} and rules["stale-uploads"][
        "Expiration"
    ] == {"Days": 1}
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    assert "operators-archive" in rules
    assert any("lifecycle rules in place" in line for line in resources.resources_ensure())  # idempotent


def ratings_table() -> dict:
    return PhotoRating._get_connection().connection.client.describe_table(
        TableName=PhotoRating.Meta.table_name
    )["Table"]


def test_a_new_ratings_table_has_a_stream_of_old_and_new_images(aws):
    PhotoRating.delete_table()
    [line] = [
        line
        for line in resources.resources_ensure()
        if line.startswith(f"table {PhotoRating.Meta.table_name}:")
    ]
    assert line == f"table {PhotoRating.Meta.table_name}: created, turned on its stream (new and old images)"
    table = ratings_table()
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert resources.stream_arn(PhotoRating) == table["LatestStreamArn"]
    assert (
        Gallery._get_connection()
        .connection.client.describe_table(TableName=Gallery.Meta.table_name)["Table"]
        .get("StreamSpecification")
        is None
    )  # only the tables a function reads from have one


def test_ensure_resources_turns_on_the_stream_a_ratings_table_made_earlier_lacks(aws):
    table_made_again(PhotoRating)
    assert "StreamSpecification" not in ratings_table()
    report = resources.resources_ensure()
    assert f"table {PhotoRating.Meta.table_name}: exists, turned on its stream (new and old images)" in report
    assert ratings_table()["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert f"table {PhotoRating.Meta.table_name}: exists" in resources.resources_ensure()  # once


def test_a_stream_showing_something_else_is_named_and_left_alone(aws, monkeypatch):
    name = PhotoRating.Meta.table_name
    table_made_again(PhotoRating, stream_view="KEYS_ONLY")
    arn = ratings_table()["LatestStreamArn"]
    original = botocore.client.BaseClient._make_api_call
    updates = []

    def recording(client, operation_name, api_params):
        if operation_name == "UpdateTable":
            updates.append(api_params)
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    [line] = [line for line in resources.resources_ensure() if line.startswith(f"table {name}:")]
    assert line.startswith(
        f"table {name}: exists, its stream shows keys only, not new and old images: left as it is "
        "(changing it means turning the stream off, which loses the records not yet read)"
    ), line
    assert f"--table-name {name} --stream-specification StreamEnabled=false" in line
    assert updates == []
    assert ratings_table()["LatestStreamArn"] == arn
    assert resources.stream_arn(PhotoRating) is None  # not one a mapping may read
