"""Structured logs and metrics: the JSON line of each request, event and command, its ids, what it never
says, and the CloudWatch Embedded Metric Format documents each prints, read from the configured handlers."""

import io
import json
import threading
from datetime import datetime
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from core import observability
from core.aws import s3_client
from core.deadline import carried
from core.errors import Unavailable, Unsupported
from core.observability import metric, metrics_recorded
from galleries import services as gallery_services
from gallery_project.curators import curator_key_create
from photos.prepare import refusal_counts
from scans import events
from scans.photos_scan import gallery_photos_scan
from tests.factories import jpeg_bytes

PARIS = (48.858370, 2.294481)


@pytest.fixture
def curator_and_key_id(aws):
    key, record = curator_key_create(label="observed")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api, key, record.key_id


@pytest.fixture
def gallery_id(curator_and_key_id):
    api, _, _ = curator_and_key_id
    body = {"name": "Harbour", "continent": "Europe", "country": "France", "years": [2021]}
    return api.post("/api/galleries", body, format="json").json()["galleryId"]


def photo_upload(api, gallery_id: str, files: dict[str, bytes], **extra):
    payload = {"photos": [SimpleUploadedFile(name, data, "image/jpeg") for name, data in files.items()]}
    return api.post(f"/api/galleries/{gallery_id}/photos", payload, format="multipart", **extra)


def lambda_environ(gateway_id: str | None, function_id: str | None) -> dict:
    """What Zappa adds to the WSGI environ of a request it hands over from API Gateway."""
    event = {"httpMethod": "GET", "requestContext": {"requestId": gateway_id, "stage": "prod"}}
    return {"lambda.event": event, "lambda.context": SimpleNamespace(aws_request_id=function_id)}


def test_an_api_call_logs_one_json_line_with_route_status_duration_and_the_curator_key_id(
    curator_and_key_id, logged
):
    api, key, key_id = curator_and_key_id
    body = {"name": "Quays", "continent": "Europe", "country": "France", "years": [2020]}
    response = api.post("/api/galleries", body, format="json", HTTP_X_REQUEST_ID="req-created-1")
    assert response.status_code == 201
    [line] = logged.lines("gallery.requests")
    assert line["request_id"] == response["X-Request-Id"] == "req-created-1"
    assert (line["method"], line["status"], line["view"], line["level"]) == (
        "POST",
        201,
        "gallery-list",
        "INFO",
    )
    assert line["route"] == "api/galleries/?$"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["curator_key_id"] == key_id and key not in logged.text()
    assert line["service"] == "gallery-backend" and line["message"].startswith(
        "POST api/galleries/?$ 201 in "
    )
    assert datetime.fromisoformat(line["timestamp"]).utcoffset().total_seconds() == 0

    logged.reset()
    gallery_id = response.json()["galleryId"]
    assert APIClient().get(f"/api/galleries/{gallery_id}/photos").status_code == 200
    [line] = logged.lines("gallery.requests")
    # The URL pattern, never the path with its ids; a visitor has no key id.
    assert (
        line["route"] == "^api/galleries/(?P<gallery_pk>[^/]+)/photos/?$" and line["view"] == "gallery-photos"
    )
    assert gallery_id not in logged.console.getvalue() and "curator_key_id" not in line
    assert len(line["request_id"]) == 32 and line["request_id"] == logged.lines()[-1]["request_id"]


def test_a_request_refused_before_any_route_has_its_line_too(aws, logged):
    response = APIClient().get(
        "/api/galleries", HTTP_HOST="elsewhere.example", HTTP_X_REQUEST_ID="bad-host-1"
    )
    assert response.status_code == 400 and response["X-Request-Id"] == "bad-host-1"
    [line] = logged.lines("gallery.requests")
    assert (line["status"], line["request_id"], line["method"]) == (
        400,
        "bad-host-1",
        "GET",
    ) and "route" not in line
    assert logged.values("Api5xx") == [0.0]


def test_the_guides_action_is_the_one_query_parameter_logged(aws, gallery_id, logged):
    response = APIClient().get(f"/galleries?id={gallery_id}&action=get_photo_rating&token=sekret")
    [line] = logged.lines("gallery.requests")
    assert (line["route"], line["action"], line["status"]) == ("^galleries/?$", "get_photo_rating", 400)
    assert response.status_code == 400 and "sekret" not in logged.text() and gallery_id not in logged.text()


def test_api_gateways_request_id_wins_and_lambdas_is_logged_beside_it(aws, logged):
    client = APIClient()
    response = client.get(
        "/api/galleries", HTTP_X_REQUEST_ID="client-chosen", **lambda_environ("gw-4f2a-11", "fn-77c1-02")
    )
    assert response.status_code == 200 and response["X-Request-Id"] == "gw-4f2a-11"
    [line] = logged.lines("gallery.requests")
    assert (line["request_id"], line["function_request_id"]) == ("gw-4f2a-11", "fn-77c1-02")
    assert "client-chosen" not in logged.text()
    assert logged.documents()[0]["request_id"] == "gw-4f2a-11"  # the request's metrics name it too

    logged.reset()
    response = client.get("/api/galleries", **lambda_environ(None, "fn-only-03"))
    assert response["X-Request-Id"] == "fn-only-03"
    assert logged.lines("gallery.requests")[0]["request_id"] == "fn-only-03"


def test_a_5xx_is_counted_and_every_id_it_reaches_is_api_gateways(curator_and_key_id, logged, monkeypatch):
    api, _, _ = curator_and_key_id

    def broken(**kwargs):
        raise RuntimeError("the table is on fire")

    monkeypatch.setattr(gallery_services, "gallery_create", broken)
    body = {"name": "Never", "continent": "Europe", "country": "Spain", "years": [2020]}
    response = api.post("/api/galleries", body, format="json", **lambda_environ("gw-500-1", "fn-500-1"))
    assert response.status_code == 500
    assert response["X-Request-Id"] == response.json()["details"]["requestId"] == "gw-500-1"
    [error] = logged.lines("gallery.errors")
    assert error["request_id"] == "gw-500-1" and "gw-500-1" in error["message"]
    assert error["exception_name"] == "RuntimeError" and error["level"] == "ERROR"
    [line] = logged.lines("gallery.requests")
    assert (line["status"], line["level"], line["request_id"]) == (500, "WARNING", "gw-500-1")
    assert logged.values("Api5xx") == [1.0] and logged.values("GalleriesCreated") == []
    # Every line the request wrote names it (Django's own "Internal Server Error" line, written outside
    # every middleware, would not: ours says it instead).
    assert {line.get("request_id") for line in logged.lines()} == {"gw-500-1"}, logged.lines()
    [latency] = logged.values("ApiLatencyMs")
    assert latency > 0


def test_no_secret_key_authorization_cookie_token_or_location_is_ever_logged(
    curator_and_key_id, gallery_id, logged
):
    api, key, key_id = curator_and_key_id
    api.cookies["sessionid"] = "cookie-value-never-logged"
    gps_photo = jpeg_bytes(320, 240, gps=PARIS)
    response = api.post(
        f"/api/galleries/{gallery_id}/photos?token=query-token-never-logged",
        {"photos": [SimpleUploadedFile("eiffel.jpg", gps_photo, "image/jpeg")]},
        format="multipart",
        HTTP_X_VISITOR_TOKEN="visitor-token-never-logged",
    )
    assert response.status_code == 201
    assert response.json()["photos"][0]["exifData"]["gps"]["latitude"] == pytest.approx(PARIS[0], abs=1e-4)
    text = logged.text()
    [line] = logged.lines("gallery.requests")
    assert line["curator_key_id"] == key_id and line["status"] == 201
    for secret in (key, "Bearer", "cookie-value-never-logged", "query-token-never-logged",
                   "visitor-token-never-logged", settings.SECRET_KEY):  # fmt: skip
        assert secret not in text
    for location in ("48.8583", "2.2944", "latitude", "longitude", "gps", "GPS"):
        assert location not in text


def test_an_upload_prints_photos_stored_and_render_ms_with_its_request(
    curator_and_key_id, gallery_id, logged
):
    api, _, _ = curator_and_key_id
    files = {"one.jpg": jpeg_bytes(320, 240), "two.jpg": jpeg_bytes(320, 240, colour=(200, 10, 10))}
    response = photo_upload(api, gallery_id, files, HTTP_X_REQUEST_ID="upload-req-1")
    assert response.status_code == 201
    assert logged.values("PhotosStored") == [1.0, 1.0]
    renders = logged.values("RenderMs")
    assert len(renders) == 2 and all(ms > 0 for ms in renders)
    assert logged.values("ApiLatencyMs") and logged.values("Api5xx") == [0.0]
    # Every document is the request's: the renders ran on the upload's worker threads.
    [document] = logged.documents()
    assert document["request_id"] == "upload-req-1" and document["service"] == "gallery-backend"
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "GalleryBackend" and directive["Dimensions"] == [["service"]]
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert units == {
        "PhotosStored": "Count",
        "RenderMs": "Milliseconds",
        "ApiLatencyMs": "Milliseconds",
        "Api5xx": "Count",
    }


def test_a_refused_file_prints_photos_refused_by_its_code_and_in_total(
    curator_and_key_id, gallery_id, logged
):
    api, _, _ = curator_and_key_id
    response = photo_upload(api, gallery_id, {"notes.jpg": b"these are words, not pixels"})
    assert response.status_code == 415
    assert logged.values("PhotosRefused", code="not_an_image") == [1.0]
    assert logged.values("PhotosStored") == [] and logged.values("RenderMs") == []
    [refused] = [document for document in logged.documents() if "PhotosRefused" in document]
    [directive] = refused["_aws"]["CloudWatchMetrics"]
    # One document for the refusal's dimensions, also published under ``service`` alone (every code).
    assert directive["Dimensions"] == [["service", "code"], ["service"]]
    assert [metric["Name"] for metric in directive["Metrics"]] == ["PhotosRefused"]
    assert "ApiLatencyMs" not in refused


def test_a_gallery_creation_and_a_rating_write_are_counted(curator_and_key_id, logged):
    api, _, _ = curator_and_key_id
    body = {"name": "Dunes", "continent": "Africa", "country": "Namibia", "years": [2019]}
    gallery_id = api.post("/api/galleries", body, format="json").json()["galleryId"]
    assert logged.values("GalleriesCreated") == [1.0]
    [photo] = photo_upload(api, gallery_id, {"one.jpg": jpeg_bytes(64, 48)}).json()["photos"]
    logged.reset()
    visitor = APIClient()
    response = visitor.put(f"/api/photos/{photo['photoId']}/ratings/v1", {"rating": 4}, format="json")
    assert response.status_code == 201
    assert logged.values("RatingWrites") == [1.0]
    token = response.json()["visitorToken"]
    assert token not in logged.text()


def test_a_request_that_records_nothing_prints_no_metrics(aws, logged):
    response = APIClient().get("/static/rest_framework/css/bootstrap.min.css")
    assert response.status_code == 200
    assert logged.documents() == []
    [line] = logged.lines("gallery.requests")
    assert line["static"] is True and line["status"] == 200 and "route" not in line


def test_printing_metrics_never_breaks_the_request(aws, logged, monkeypatch):
    def broken(dimensions, metrics):
        raise ValueError("no documents today")

    monkeypatch.setattr(observability, "_document", broken)
    response = APIClient().get("/api/galleries")
    assert response.status_code == 200 and logged.documents() == []
    [failure] = logged.lines("core.observability")
    assert (
        failure["message"].startswith("could not print the metrics")
        and failure["exception_name"] == "ValueError"
    )


def test_a_lambda_event_logs_its_line_and_prints_its_metrics(aws, gallery_id, logged):
    context = SimpleNamespace(aws_request_id="evt-0001", get_remaining_time_in_millis=lambda: 60_000)
    key = f"galleries/{gallery_id}/DSC0001.jpg"
    s3_client().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=jpeg_bytes(64, 48))
    created = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": key}}}]}
    assert events.photo_object_created(created, context) == {"objects": [{"key": key, "outcome": "created"}]}
    [line] = logged.lines("gallery.entrypoints")
    assert (line["event"], line["outcome"], line["request_id"], line["level"]) == (
        "photo_object_created",
        "ok",
        "evt-0001",
        "INFO",
    )
    assert line["duration_ms"] > 0 and line["function_request_id"] == "evt-0001"
    [inside] = logged.lines("scans.events")  # the event's own line names it and its request too
    assert (inside["event"], inside["request_id"]) == ("photo_object_created", "evt-0001")
    assert logged.values("PhotosStored") == [1.0] and len(logged.values("RenderMs")) == 1
    assert {document["request_id"] for document in logged.documents()} == {"evt-0001"}

    logged.reset()
    answer = events.update_galleries_metadata({"galleryId": "no-such-gallery"}, context)
    assert answer["code"] == "not_found"
    [line] = logged.lines("gallery.entrypoints")[-1:]
    assert (line["outcome"], line["code"], line["level"]) == ("refused", "not_found", "WARNING")
    assert logged.documents() == []  # nothing recorded, nothing printed


def test_a_command_logs_its_line_and_keeps_its_output_clean(aws, gallery_id, logged, settings):
    settings.SCAN_SETTLE_SECONDS = 0
    settings.PHOTO_PROCESSING_WORKERS = 1
    key = f"galleries/{gallery_id}/DSC0002.jpg"
    s3_client().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=jpeg_bytes(64, 48))
    out = io.StringIO()
    call_command("update_gallery_photos", "--gallery-id", gallery_id, "--json", stdout=out)
    assert json.loads(out.getvalue())["created"] == 1  # the documents went to the log stream, not here
    [line] = logged.lines("gallery.entrypoints")
    assert (line["command"], line["outcome"]) == ("update_gallery_photos", "ok") and line["duration_ms"] > 0
    assert logged.values("PhotosStored") == [1.0]
    assert {document["command"] for document in logged.documents()} == {"update_gallery_photos"}

    logged.reset()
    with pytest.raises(CommandError):
        call_command("update_galleries_metadata", "--gallery-id", "no-such-gallery")
    [line] = logged.lines("gallery.entrypoints")
    assert (line["command"], line["outcome"], line["code"]) == (
        "update_galleries_metadata",
        "refused",
        "not_found",
    )


def test_values_from_worker_threads_are_all_printed_within_cloudwatchs_limits(logged):
    with metrics_recorded():
        threads = [
            threading.Thread(
                target=carried(lambda: [metric("RenderMs", 5, "Milliseconds") for _ in range(60)])
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for number in range(130):
            metric(f"Kind{number}", 1)
    documents = logged.documents()
    assert len(logged.values("RenderMs")) == 240  # none lost to a race
    for document in documents:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert len(directive["Metrics"]) <= 100
        assert all(len(document[metric["Name"]]) <= 100 for metric in directive["Metrics"])
    assert sum(len(document["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for document in documents) >= 131


def test_a_value_recorded_outside_any_request_is_printed_at_once_and_a_bad_one_is_dropped(logged):
    metric("GalleriesCreated", 1)
    assert logged.values("GalleriesCreated") == [1.0]
    metric("GalleriesCreated", 1, "Furlongs")
    assert logged.values("GalleriesCreated") == [1.0]
    [error] = logged.lines("core.observability")
    assert error["level"] == "ERROR" and "Furlongs" in error["message"]


def test_a_scan_meeting_a_refused_file_again_counts_no_refusal_and_a_busy_decode_is_none(
    curator_and_key_id, gallery_id, logged, settings
):
    """A file the photos scan refuses is refused again every run: those are no uploads refused. Nor is a
    moment's trouble (the decode budget busy, storage failing): a retry stores the photo."""
    key = f"galleries/{gallery_id}/IMG_0001.CR2"
    s3_client().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=b"II*\x00 not a raw file really")
    for _ in range(2):
        summary = gallery_photos_scan(gallery_id=gallery_id)
        assert summary.failed == 1
    assert logged.values("PhotosRefused", code="not_an_image") == []
    assert logged.values("PhotosRefused", code="unsupported_format") == []
    assert not refusal_counts(Unavailable("busy", code="decode_busy"))
    assert refusal_counts(Unsupported("not an image", code="not_an_image"))
