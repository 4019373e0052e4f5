"""ensure_resources: creates what is missing, adds what a newer release declares, changes nothing else."""

from django.core.management import call_command

from core.records import ServiceRecord
from galleries.models import Gallery
from galleries.services import gallery_create
from photos.models import GalleryPhoto
from scans.photos_scan import gallery_photos_scan


def test_ensure_resources_is_idempotent(aws, capsys):
    call_command("ensure_resources")  # the aws fixture created everything already
    report = capsys.readouterr().out.splitlines()
    assert len(report) == 6 and all(line.endswith(": exists") for line in report), report


def test_ensure_resources_adds_an_index_a_table_from_an_older_release_lacks(backend):
    client = Gallery._get_connection().connection.client
    client.delete_table(TableName=Gallery.Meta.table_name)
    client.create_table(
        TableName=Gallery.Meta.table_name,
        AttributeDefinitions=[{"AttributeName": "galleryId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "galleryId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    call_command("ensure_resources")
    table = client.describe_table(TableName=Gallery.Meta.table_name)["Table"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["byCreatedAt"]


def test_ensure_resources_turns_on_the_records_time_to_live_a_table_made_earlier_lacks(backend):
    client = ServiceRecord._get_connection().connection.client
    client.delete_table(TableName=ServiceRecord.Meta.table_name)
    client.create_table(
        TableName=ServiceRecord.Meta.table_name,
        AttributeDefinitions=[{"AttributeName": "recordKey", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "recordKey", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    call_command("ensure_resources")
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


def test_ensure_resources_removes_the_scan_claims_an_older_release_kept_in_gallery_photos(backend, capsys):
    gallery_id = gallery_create(name="Old", continent="Asia", country="Japan").gallery_id
    client = GalleryPhoto._get_connection().connection.client
    client.put_item(  # an item exactly as the previous release's claims looked
        TableName=GalleryPhoto.Meta.table_name,
        Item={
            "galleryId": {"S": gallery_id},
            "photoId": {"S": "~original#" + "a" * 40},
            "s3Key": {"S": f"galleries/{gallery_id}/IMG_0001.JPG"},
            "owner": {"S": "old-run"},
            "claimedUntil": {"N": "0"},
            "adoptedPhotoId": {"S": "gone"},
        },
    )
    call_command("ensure_resources")
    assert "removed 1 scan claims" in capsys.readouterr().out
    assert not list(GalleryPhoto.query(gallery_id))
    assert gallery_photos_scan(gallery_id=gallery_id).failed == 0  # readers take every item for a photo
    call_command("ensure_resources")
    assert "removed" not in capsys.readouterr().out
