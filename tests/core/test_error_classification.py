"""Honest 5xx: one classification of AWS errors, in the error mapping (a test per class).

Throttled, timed out or unavailable answer 503 with ``Retry-After``; a request AWS refuses as invalid
(our own bug) or any other unexpected error answers 500 with the envelope and the request id, logged
with its stack. A transaction cancelled by conflicts, and a write that meets a transaction on its item,
are tried again with pauses first, then answer 503.
"""

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.endpoint import convert_to_response_dict
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    ReadTimeoutError,
)
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import get_resolver
from pynamodb.exceptions import GetError, PutError

from core import conditional, transactions
from core.errors import DeadlineReached, Internal, Unavailable, as_domain_error, is_transient
from galleries import selectors
from galleries.models import Gallery
from gallery_project.curators import CuratorKey
from photos.models import GalleryPhoto
from photos.services import rate as rate_service
from tests.factories import jpeg_bytes


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetItem",
    )


TRANSIENT = {
    "DynamoDB throttled": client_error("ProvisionedThroughputExceededException"),
    "throttled (generic)": client_error("ThrottlingException"),
    "S3 slow down": client_error("SlowDown", 503),
    "service unavailable": client_error("ServiceUnavailable", 503),
    "AWS internal error": client_error("InternalServerError", 500),
    "an unknown code with a 5xx": client_error("SomethingNew", 502),
    "read timeout": ReadTimeoutError(endpoint_url="http://s3"),
    "connect timeout": ConnectTimeoutError(endpoint_url="http://s3"),
    "no connection": EndpointConnectionError(endpoint_url="http://dynamodb"),
    "PynamoDB wrapping a throttle": GetError(
        "Failed", cause=client_error("ProvisionedThroughputExceededException")
    ),
    "PynamoDB wrapping a timeout": PutError("Failed", cause=ReadTimeoutError(endpoint_url="http://d")),
}
PERMANENT = {
    "validation (our bug)": client_error("ValidationException"),
    "missing table": client_error("ResourceNotFoundException"),
    "access denied": client_error("AccessDenied", 403),
    "PynamoDB wrapping a validation": PutError("Failed", cause=client_error("ValidationException")),
    "no credentials": NoCredentialsError(),
}


@pytest.mark.parametrize("name", TRANSIENT)
def test_throttled_timed_out_or_unavailable_is_transient(name):
    error = TRANSIENT[name]
    assert is_transient(error) and isinstance(as_domain_error(error), Unavailable)


@pytest.mark.parametrize("name", PERMANENT)
def test_an_invalid_request_or_another_fault_is_not(name):
    error = PERMANENT[name]
    assert not is_transient(error) and isinstance(as_domain_error(error), Internal)


def _failing_gallery_read(monkeypatch, error):
    # Every module that imports gallery_get by name is loaded first, so none keeps the patched one.
    get_resolver().resolve("/api/galleries")

    def fail(**kwargs):
        raise error

    monkeypatch.setattr(selectors, "gallery_get", fail)


@pytest.mark.parametrize(
    "error", [TRANSIENT["DynamoDB throttled"], TRANSIENT["read timeout"], DeadlineReached()]
)
def test_transient_answers_503_with_retry_after(aws, client, monkeypatch, error):
    _failing_gallery_read(monkeypatch, error)
    response = client.get("/api/galleries/abc", HTTP_X_REQUEST_ID="req-503")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.json()["details"]["requestId"] == "req-503"


@pytest.mark.parametrize(
    "error", [PERMANENT["validation (our bug)"], PERMANENT["missing table"], KeyError("x")]
)
def test_invalid_or_unexpected_answers_500_logged_with_its_stack(aws, client, monkeypatch, caplog, error):
    _failing_gallery_read(monkeypatch, error)
    with caplog.at_level(logging.ERROR, logger="gallery.errors"):
        response = client.get("/api/galleries/abc", HTTP_X_REQUEST_ID="req-500")
    assert response.status_code == 500 and not response.has_header("Retry-After")
    assert response.json() == {
        "error": "Something went wrong on our side; the error was logged.",
        "details": {"requestId": "req-500"},
    }
    [record] = [r for r in caplog.records if r.name == "gallery.errors"]
    assert "req-500" in record.getMessage() and record.exc_info is not None


# ---------------------------------------------------------------- each class through the API
#
# The answer comes from where DynamoDB's would: below botocore's retries and above the wire
# (``aws_answering``), so PynamoDB's wrapping, botocore's own retries and our mapping all run as they
# do against AWS.


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_):
        yield self.data


@dataclass
class Answering:
    attempts: int = 0
    pauses: list[float] = field(default_factory=list)


@contextmanager
def aws_answering(operation: str, answer, *, table: str | None = None, times: int | None = None):
    """Each attempt botocore makes of a DynamoDB ``operation`` (on ``table``) is answered ``answer``
    instead of reaching the service, the first ``times`` of them (all by default): an exception raised
    where the HTTP call is (a timeout, a refused connection, a bug), or an AWS error ``(code, status,
    extra body fields)`` that botocore parses as it parses DynamoDB's own. botocore's pauses between
    attempts are recorded, not waited."""
    seen = Answering()
    real = botocore.endpoint.Endpoint._do_get_response

    def get_response(endpoint, request, operation_model, context):
        wanted = (
            operation_model.service_model.service_name == "dynamodb"
            and operation_model.name == operation
            and (table is None or json.loads(request.body).get("TableName") == table)
        )
        if not wanted or (times is not None and seen.attempts >= times):
            return real(endpoint, request, operation_model, context)
        seen.attempts += 1
        if isinstance(answer, BaseException):
            return None, answer
        code, status, extra = answer
        payload = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected", **extra}
        headers = {"x-amzn-RequestId": "aws-request-1", "Content-Type": "application/x-amz-json-1.0"}
        http = AWSResponse(request.url, status, headers, _Body(json.dumps(payload).encode()))
        response = convert_to_response_dict(http, operation_model)
        parser = endpoint._response_parser_factory.create_parser(
            operation_model.service_model.resolved_protocol
        )
        parsed = parser.parse(response, operation_model.output_shape)
        endpoint._add_modeled_error_fields(response, parsed, operation_model, parser)
        return (http, parsed), None

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.endpoint.Endpoint, "_do_get_response", get_response)
        patch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=seen.pauses.append))
        yield seen


def dynamodb_error(code: str, status: int = 400, **extra) -> tuple[str, int, dict]:
    return code, status, extra


# name: (what DynamoDB answers each attempt, the status, whether botocore tries it again)
CLASSES = {
    "ThrottlingException": (dynamodb_error("ThrottlingException"), 503, True),
    "ProvisionedThroughputExceededException": (
        dynamodb_error("ProvisionedThroughputExceededException"),
        503,
        True,
    ),
    "a read timeout": (ReadTimeoutError(endpoint_url="http://dynamodb"), 503, True),
    "connection refused": (EndpointConnectionError(endpoint_url="http://dynamodb"), 503, True),
    "InternalServerError (AWS's own trouble)": (dynamodb_error("InternalServerError", 500), 503, True),
    "ValidationException (our bug)": (dynamodb_error("ValidationException"), 500, False),
    "AccessDeniedException": (dynamodb_error("AccessDeniedException"), 500, False),
    "ResourceNotFoundException (a missing table)": (dynamodb_error("ResourceNotFoundException"), 500, False),
    "a plain Python bug (KeyError)": (KeyError("TableName"), 500, False),
}


@pytest.fixture
def gallery_id(curator):
    body = {"name": "Salt flats", "continent": "South America", "country": "Bolivia", "years": [2019]}
    return curator.post("/api/galleries", body, format="json").json()["galleryId"]


def error_records(caplog) -> list[logging.LogRecord]:
    """Records that carry a stack (whoever wrote them: the mapping, Django's own request logger...)."""
    return [record for record in caplog.records if record.exc_info and record.exc_info[0] is not None]


@pytest.mark.parametrize("name", CLASSES)
def test_each_class_of_failure_of_a_botocore_call_answers_its_status_through_the_api(
    aws, client, gallery_id, caplog, name
):
    answer, status, retried = CLASSES[name]
    table = Gallery.Meta.table_name
    with caplog.at_level(logging.INFO), aws_answering("GetItem", answer, table=table) as seen:
        response = client.get(f"/api/galleries/{gallery_id}", HTTP_X_REQUEST_ID=f"req-{status}")

    assert response.status_code == status
    assert response["X-Request-Id"] == f"req-{status}"
    body = response.json()
    assert set(body) == {"error", "details"} and body["details"] == {"requestId": f"req-{status}"}
    assert "injected" not in response.content.decode() and "Traceback" not in response.content.decode()
    # botocore tried again what a retry may fix, within the client's attempts, and nothing else.
    assert seen.attempts == (settings.AWS_MAX_ATTEMPTS if retried else 1)
    assert len(seen.pauses) == seen.attempts - 1
    # Logged once with its stack and the request id: a fault as an error, a 503 as a warning.
    [record] = error_records(caplog)
    assert record.name == "gallery.errors" and "req-" + str(status) in record.getMessage()
    if status == 503:
        assert int(response["Retry-After"]) > 0 and body["error"] == Unavailable.default_message
        assert record.levelno == logging.WARNING
    else:
        assert not response.has_header("Retry-After") and body["error"] == Internal.default_message
        assert record.levelno == logging.ERROR
    assert not [record for record in caplog.records if record.name == "django.request"]


def test_a_500_is_one_json_line_with_its_stack_and_the_request_id(aws, client, gallery_id, logged):
    with aws_answering("GetItem", dynamodb_error("ValidationException"), table=Gallery.Meta.table_name):
        response = client.get(f"/api/galleries/{gallery_id}", HTTP_X_REQUEST_ID="req-json-500")
    assert response.status_code == 500
    [line] = [line for line in logged.lines() if "exception" in line]
    assert (line["logger"], line["level"], line["request_id"]) == ("gallery.errors", "ERROR", "req-json-500")
    assert "ValidationException" in line["exception"] and "Traceback" in line["exception"]
    [request] = logged.lines("gallery.requests")
    assert (request["status"], request["request_id"]) == (500, "req-json-500")


def test_a_transaction_cancelled_by_conflicts_is_tried_again_with_growing_pauses_then_answers_503(
    aws, curator, client, gallery_id, monkeypatch, caplog
):
    files = {"photos": [SimpleUploadedFile("a.jpg", jpeg_bytes(32, 24), "image/jpeg")]}
    uploaded = curator.post(f"/api/galleries/{gallery_id}/photos", files, format="multipart")
    photo_id = uploaded.json()["photos"][0]["photoId"]
    pauses: list[float] = []
    monkeypatch.setattr(transactions, "time", SimpleNamespace(sleep=pauses.append))
    monkeypatch.setattr(rate_service, "RETRY_PAUSE_SECONDS", 0)
    conflict = dynamodb_error(
        "TransactionCanceledException",
        CancellationReasons=[{"Code": "None"}, {"Code": "TransactionConflict", "Message": "ongoing"}],
    )
    url = f"/api/photos/{photo_id}/ratings/v1"
    with caplog.at_level(logging.INFO), aws_answering("TransactWriteItems", conflict) as seen:
        response = client.put(url, {"rating": 4}, format="json", HTTP_X_REQUEST_ID="c1")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert response.json()["details"]["requestId"] == "c1"
    # Each of the rating's tries (fresh reads) runs the transaction's attempts; one botocore attempt each:
    # botocore never retries these.
    tries = rate_service.RATING_WRITE_ATTEMPTS
    assert seen.attempts == transactions.ATTEMPTS * tries
    ceilings = [min(transactions.PAUSE_MAX_SECONDS, transactions.PAUSE_SECONDS * 2**n) for n in range(6)]
    # A pause between attempts, none after the last one.
    between = transactions.ATTEMPTS - 1
    runs = [pauses[at : at + between] for at in range(0, len(pauses), between)]
    assert len(runs) == tries and all(len(run) == between for run in runs)
    for run in runs:
        assert all(0 <= pause <= ceiling for pause, ceiling in zip(run, ceilings[:between], strict=True))
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert client.get(f"/api/photos/{photo_id}/ratings").json()["ratingCount"] == 0

    # Conflicts that clear: the rating is written once.
    with aws_answering("TransactWriteItems", conflict, times=2) as seen:
        response = client.put(url, {"rating": 4}, format="json")
    assert response.status_code == 201 and seen.attempts == 2
    assert client.get(f"/api/photos/{photo_id}/ratings").json()["ratingCount"] == 1


def test_a_conditional_write_that_meets_a_transaction_on_its_item_is_tried_again_then_answers_503(
    aws, curator, gallery_id
):
    """An upload's photo numbers are reserved with one UpdateItem on the gallery, which another upload's
    commit may be changing in a transaction at that moment: DynamoDB refuses the write with
    TransactionConflictException, which botocore does not retry."""
    conflict = dynamodb_error("TransactionConflictException")
    files = {"photos": [SimpleUploadedFile("a.jpg", jpeg_bytes(32, 24), "image/jpeg")]}
    url = f"/api/galleries/{gallery_id}/photos"
    with aws_answering("UpdateItem", conflict, table=Gallery.Meta.table_name, times=2) as seen:
        response = curator.post(url, files, format="multipart")
    assert response.status_code == 201 and seen.attempts == 2

    files = {"photos": [SimpleUploadedFile("b.jpg", jpeg_bytes(32, 24), "image/jpeg")]}
    with aws_answering("UpdateItem", conflict, table=Gallery.Meta.table_name) as seen:
        response = curator.post(url, files, format="multipart", HTTP_X_REQUEST_ID="c2")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert response.json()["details"]["requestId"] == "c2"
    assert seen.attempts == conditional.CONFLICT_ATTEMPTS
    assert Gallery.get(gallery_id).photo_count == 1


@pytest.mark.parametrize(
    "error, transient",
    [
        (client_error("NotImplemented", 501), False),  # the service (or an emulator) does not do this
        (client_error("SomethingNew", 504), True),
        (IncompleteReadError(actual_bytes=10, expected_bytes=20), True),  # a body cut short
        (client_error("TransactionConflictException"), True),
    ],
)
def test_more_answers_told_apart(error, transient):
    assert is_transient(error) is transient


@pytest.mark.parametrize(
    "answer, status, level",
    [
        (dynamodb_error("ThrottlingException"), 503, logging.WARNING),
        (dynamodb_error("ValidationException"), 500, logging.ERROR),
    ],
)
def test_an_upload_whose_commit_fails_answers_by_the_class_and_logs_it_once_with_its_stack(
    aws, curator, gallery_id, caplog, answer, status, level
):
    files = {"photos": [SimpleUploadedFile("a.jpg", jpeg_bytes(32, 24), "image/jpeg")]}
    url = f"/api/galleries/{gallery_id}/photos"
    with caplog.at_level(logging.INFO), aws_answering("TransactWriteItems", answer):
        response = curator.post(url, files, format="multipart", HTTP_X_REQUEST_ID="up-1")
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error", "details"} and body["details"]["requestId"] == "up-1"
    assert [file["status"] for file in body["details"]["files"]] == [status]
    assert response.has_header("Retry-After") is (status == 503)
    [record] = error_records(caplog)
    assert (record.name, record.levelno) == ("photos.services.upload", level)
    assert Gallery.get(gallery_id).photo_count == 0


@pytest.mark.parametrize(
    "answer, status",
    [
        (dynamodb_error("ThrottlingException"), 503),
        (EndpointConnectionError(endpoint_url="http://dynamodb"), 503),
        (dynamodb_error("ValidationException"), 500),
        (KeyError("Item"), 500),
    ],
)
def test_outside_drf_the_same_classes_answer_the_same_and_django_logs_them_once(
    aws, curator_key, caplog, answer, status
):
    """The sign-in page is a plain Django view: its failure reaches Django's handler500, not DRF's."""
    browser = Client(raise_request_exception=False)
    with caplog.at_level(logging.INFO), aws_answering("GetItem", answer, table=CuratorKey.Meta.table_name):
        response = browser.post("/api/auth/login", {"key": curator_key}, HTTP_X_REQUEST_ID="page-1")
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error", "details"} and body["details"] == {"requestId": "page-1"}
    assert response.has_header("Retry-After") is (status == 503)
    [record] = error_records(caplog)
    assert record.name == "django.request" and record.levelno == logging.ERROR


def test_a_photo_delete_whose_last_step_meets_a_transaction_is_tried_again_then_503_and_a_retry_ends_it(
    aws, curator, gallery_id
):
    """A rating's transaction may still hold a photo's item when its purge deletes it."""
    files = {"photos": [SimpleUploadedFile(f"{n}.jpg", jpeg_bytes(32, 24), "image/jpeg") for n in "ab"]}
    uploaded = curator.post(f"/api/galleries/{gallery_id}/photos", files, format="multipart").json()
    first, second = (photo["photoId"] for photo in uploaded["photos"])
    conflict, table = dynamodb_error("TransactionConflictException"), GalleryPhoto.Meta.table_name
    with aws_answering("DeleteItem", conflict, table=table, times=2) as seen:
        assert curator.delete(f"/api/galleries/{gallery_id}/photos/{first}").status_code == 200
    assert seen.attempts == 2 and not GalleryPhoto.count(gallery_id, GalleryPhoto.photo_id == first)

    with aws_answering("DeleteItem", conflict, table=table) as seen:
        response = curator.delete(f"/api/galleries/{gallery_id}/photos/{second}")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert seen.attempts == conditional.CONFLICT_ATTEMPTS
    assert curator.delete(f"/api/galleries/{gallery_id}/photos/{second}").status_code == 200
    assert GalleryPhoto.count(gallery_id) == 0 and Gallery.get(gallery_id).photo_count == 0
