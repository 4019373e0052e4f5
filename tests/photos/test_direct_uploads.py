"""Photos too large for API Gateway go straight to S3 through presigned POST forms, then become photos."""

import base64
import json

import requests

from core.aws import s3_client
from photos import imaging
from photos.serializers import ACCEPTED_CONTENT_TYPES
from tests.factories import jpeg_bytes


def post_to_slot(slot: dict, data: bytes, content_type: str = "image/jpeg") -> int:
    """What a browser does with a slot: a multipart POST of the form fields and the file to S3."""
    files = {"file": ("photo", data, content_type)}
    response = requests.post(slot["url"], data=slot["fields"], files=files, timeout=30)
    return response.status_code


def slots(curator, gallery_id: str, *content_types: str):
    files = [{"filename": f"f{n}", "contentType": ct} for n, ct in enumerate(content_types)]
    response = curator.post(f"/api/galleries/{gallery_id}/uploads", {"files": files}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["uploads"]


def bucket_keys(settings) -> set[str]:
    listing = s3_client().list_objects_v2(Bucket=settings.BUCKET_NAME)
    return {item["Key"] for item in listing.get("Contents", [])}


def test_a_photo_posted_to_a_slot_becomes_a_photo_and_the_upload_object_goes(
    aws, curator, gallery_id, settings
):
    [slot] = slots(curator, gallery_id, "image/jpeg")
    assert (
        slot["uploadKey"].startswith(f"uploads/{gallery_id}/")
        and slot["maxBytes"] == settings.PHOTO_MAX_BYTES
    )
    original = jpeg_bytes(1800, 1200, taken="2019:03:03 10:00:00")
    assert post_to_slot(slot, original) in (200, 201, 204)
    body = {"uploads": [{"uploadKey": slot["uploadKey"], "filename": "IMG_0042.JPG", "tags": ["Dunes"]}]}
    response = curator.post(f"/api/galleries/{gallery_id}/photos/from-uploads", body, format="json")
    assert response.status_code == 201, response.content
    [photo] = response.json()["photos"]
    assert photo["title"] == "IMG_0042" and photo["tags"] == ["dunes"] and photo["photoNumber"] == 1
    assert s3_client().get_object(Bucket=settings.BUCKET_NAME, Key=photo["s3Key"])["Body"].read() == original
    assert not any(key.startswith("uploads/") for key in bucket_keys(settings))


def test_the_size_limit_is_in_the_s3_policy_and_checked_again_after(aws, curator, gallery_id, settings):
    settings.PHOTO_MAX_BYTES = 5_000
    [slot] = slots(curator, gallery_id, "image/jpeg")
    # S3 enforces the signed policy's range; moto does not, so the policy itself is checked here...
    policy = json.loads(base64.b64decode(slot["fields"]["policy"]))
    assert ["content-length-range", 1, 5_000] in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    # ...and the service refuses an oversized object anyway.
    post_to_slot(slot, jpeg_bytes(900, 600, quality=95))
    body = {"uploads": [{"uploadKey": slot["uploadKey"]}]}
    response = curator.post(f"/api/galleries/{gallery_id}/photos/from-uploads", body, format="json")
    assert response.status_code == 413 and response.json()["details"]["files"][0]["code"] == "too_large"
    assert not any(key.startswith("uploads/") for key in bucket_keys(settings))


def test_missing_bad_and_foreign_uploads_are_refused(aws, curator, gallery_id, settings):
    good, empty_slot, bad = slots(curator, gallery_id, "image/jpeg", "image/jpeg", "image/jpeg")
    post_to_slot(good, jpeg_bytes())
    post_to_slot(bad, b"not an image at all")
    uploads = [{"uploadKey": slot["uploadKey"]} for slot in (good, empty_slot, bad)]
    response = curator.post(
        f"/api/galleries/{gallery_id}/photos/from-uploads", {"uploads": uploads}, format="json"
    )
    assert response.status_code == 207, response.content
    assert [(e["index"], e["code"]) for e in response.json()["errors"]] == [
        (1, "upload_missing"),
        (2, "not_an_image"),
    ]
    assert not any(key.startswith("uploads/") for key in bucket_keys(settings))
    foreign = {"uploads": [{"uploadKey": "galleries/other/photo1.jpg"}]}
    refused = curator.post(f"/api/galleries/{gallery_id}/photos/from-uploads", foreign, format="json")
    assert refused.status_code == 400 and "uploads" in refused.json()["details"]


def test_slots_need_a_curator_and_an_accepted_content_type(aws, client, curator, gallery_id):
    body = {"files": [{"contentType": "image/jpeg"}]}
    assert client.post(f"/api/galleries/{gallery_id}/uploads", body, format="json").status_code == 401
    gif = {"files": [{"contentType": "image/gif"}]}
    assert curator.post(f"/api/galleries/{gallery_id}/uploads", gif, format="json").status_code == 400
    assert curator.post("/api/galleries/missing/uploads", body, format="json").status_code == 404


def test_accepted_content_types_match_the_imaging_formats():
    assert set(ACCEPTED_CONTENT_TYPES) == set(imaging.STORED_TYPES)


def test_each_upload_object_is_read_from_s3_once_and_copied_not_sent_again(
    aws, curator, gallery_id, settings, monkeypatch
):
    import botocore.client

    uploads = slots(curator, gallery_id, "image/jpeg", "image/jpeg")
    for slot in uploads:
        assert post_to_slot(slot, jpeg_bytes(64, 48)) == 204
    calls = []
    real_call = botocore.client.BaseClient._make_api_call

    def recording(client, operation, params):
        calls.append((operation, params.get("Key"), params.get("CopySource", {}).get("Key")))
        return real_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    body = {"uploads": [{"uploadKey": slot["uploadKey"]} for slot in uploads]}
    response = curator.post(f"/api/galleries/{gallery_id}/photos/from-uploads", body, format="json")
    assert response.status_code == 201, response.content
    for slot in uploads:
        key = slot["uploadKey"]
        touching = [operation for operation, target, source in calls if key in (target, source)]
        assert sorted(touching) == ["CopyObject", "GetObject"], touching  # one read, one server-side copy
    originals = {photo["s3Key"] for photo in response.json()["photos"]}
    assert not any(operation == "PutObject" and target in originals for operation, target, _ in calls)
    for key in originals:  # the copy carries the detected type, not the one the browser declared
        assert s3_client().head_object(Bucket=settings.BUCKET_NAME, Key=key)["ContentType"] == "image/jpeg"
