"""The injections do what they say: a frozen service hangs, a killed one refuses and comes back with its
data, failing calls reach every client (PynamoDB's included), held calls wait, raced callables run at once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from django.conf import settings
from pynamodb.exceptions import GetError, TransactWriteError
from pynamodb.transactions import TransactWrite

from core.aws import s3_client, transaction_connection
from core.storage import object_put
from galleries.models import Gallery
from photos.models import GalleryPhoto
from tests.faults.api import gallery_create, photos_upload
from tests.faults.injection import failing_calls, frozen, held_calls, killed, raced
from tests.faults.invariants import assert_store_consistent, store_violations

QUICK_SECONDS = 0.5


def quick_client(service: str, endpoint_url: str):
    """A client that gives up after one attempt of half a second."""
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        config=Config(
            connect_timeout=QUICK_SECONDS,
            read_timeout=QUICK_SECONDS,
            retries={"total_max_attempts": 1},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def answer_of(service: str):
    """A cheap call that needs the service to answer."""
    if service == "dynamodb":
        return lambda client: client.list_tables()
    return lambda client: client.list_buckets()


# ---------------------------------------------------------------- processes


@pytest.mark.parametrize("service", ["dynamodb", "s3"])
def test_a_frozen_service_hangs_until_it_continues(store, service):
    local = getattr(store.services, service)
    client, call = quick_client(service, local.endpoint_url), answer_of(service)
    call(client)
    with frozen(local):
        assert local.is_frozen()
        with pytest.raises(ReadTimeoutError):
            call(client)
    assert not local.is_frozen()
    call(client)


def test_a_killed_dynamodb_refuses_and_comes_back_with_its_data(store, curator):
    dynamodb = store.services.dynamodb
    gallery_id = gallery_create(curator)
    port, starts = dynamodb.port, dynamodb.starts
    with killed(dynamodb), pytest.raises(EndpointConnectionError):
        quick_client("dynamodb", dynamodb.endpoint_url).list_tables()
    assert (dynamodb.port, dynamodb.starts) == (port, starts + 1)
    # -dbPath: the gallery written before the kill is still there, for the service's own clients too.
    assert curator.get(f"/api/galleries/{gallery_id}").status_code == 200


def test_a_killed_s3rver_is_brought_back_with_its_objects(store):
    s3 = store.services.s3
    s3_client().put_object(Bucket=settings.BUCKET_NAME, Key="uploads/kept", Body=b"kept")
    s3.kill()
    with pytest.raises(EndpointConnectionError):
        quick_client("s3", s3.endpoint_url).list_buckets()
    store.services.ensure_running()  # what the store's teardown does after a test that left it dead
    assert s3_client().get_object(Bucket=settings.BUCKET_NAME, Key="uploads/kept")["Body"].read() == b"kept"


# ---------------------------------------------------------------- botocore calls


def test_failing_calls_reach_django_storages_the_raw_s3_client_and_pynamodb(store):
    upload_failed = pytest.raises((ClientError, S3UploadFailedError), match="SlowDown")
    with failing_calls("s3", "PutObject", "SlowDown", http_status=503) as puts, upload_failed:
        object_put("galleries/g/photo1.jpg", b"x", "image/jpeg")  # django-storages' client
    assert (puts.seen, puts.failed) == (1, 1)

    with failing_calls("s3", "head_object", "InternalError") as heads, pytest.raises(ClientError) as raised:
        s3_client().head_object(Bucket=settings.BUCKET_NAME, Key="galleries/g/photo1.jpg")
    assert raised.value.response["Error"]["Code"] == "InternalError"
    assert heads.failed == 1

    throttled = failing_calls(
        "dynamodb", "GetItem", "ProvisionedThroughputExceededException", http_status=400
    )
    with throttled as gets, pytest.raises(GetError) as pynamodb_raised:
        Gallery.get("no-such-gallery")  # PynamoDB's own botocore client
    assert pynamodb_raised.value.cause_response_code == "ProvisionedThroughputExceededException"
    assert gets.failed == 1


def test_failing_calls_count_skip_and_narrow_the_matching_calls(store):
    client = s3_client()
    with failing_calls("s3", "HeadBucket", "InternalError", after=1, times=1) as calls:
        client.head_bucket(Bucket=settings.BUCKET_NAME)
        with pytest.raises(ClientError):
            client.head_bucket(Bucket=settings.BUCKET_NAME)
        client.head_bucket(Bucket=settings.BUCKET_NAME)
    assert (calls.seen, calls.failed) == (3, 1)

    def renditions_only(params: dict) -> bool:
        return params["Key"].startswith("renditions/")

    with failing_calls("s3", "PutObject", times=None, when=renditions_only):
        client.put_object(Bucket=settings.BUCKET_NAME, Key="uploads/a", Body=b"a")
        with pytest.raises(ClientError, match="ServiceUnavailable"):
            client.put_object(Bucket=settings.BUCKET_NAME, Key="renditions/a", Body=b"a")
    client.put_object(Bucket=settings.BUCKET_NAME, Key="renditions/a", Body=b"a")  # the patch is gone


def test_failing_calls_can_cancel_a_transaction_with_reasons_pynamodb_reads(store, curator):
    gallery_id = gallery_create(curator)
    reasons = {"CancellationReasons": [{"Code": "ConditionalCheckFailed", "Message": "injected"}]}
    cancelled = failing_calls(
        "dynamodb", "TransactWriteItems", "TransactionCanceledException", response=reasons
    )
    with (
        cancelled as calls,
        pytest.raises(TransactWriteError) as raised,
        TransactWrite(connection=transaction_connection()) as transaction,
    ):
        transaction.condition_check(Gallery, gallery_id, condition=Gallery.gallery_id.exists())
    assert calls.failed == 1
    assert raised.value.cause_response_code == "TransactionCanceledException"
    assert [reason.code for reason in raised.value.cancellation_reasons if reason] == [
        "ConditionalCheckFailed"
    ]


def test_the_checker_is_exempt_from_injected_failures(scene):
    with (
        failing_calls("dynamodb", "Scan", times=None) as scans,
        failing_calls("s3", "ListObjectsV2", times=None),
    ):
        assert store_violations() == []
    assert scans.seen == 0


def test_an_upload_whose_transaction_fails_answers_503_and_leaves_the_store_consistent(store, curator):
    """The shape of a fault case: a store, a fault during one request, its answer, then the invariants."""
    gallery_id = gallery_create(curator)
    with failing_calls("dynamodb", "TransactWriteItems", "InternalServerError", times=None) as calls:
        response = photos_upload(curator, gallery_id, 1)
    assert calls.failed >= 1, "the fault never fired"
    assert response.status_code == 503, response.content
    assert_store_consistent()


def test_held_calls_park_a_request_until_released(store, curator):
    gallery_id = gallery_create(curator)
    with held_calls("dynamodb", "TransactWriteItems") as held, ThreadPoolExecutor(1) as pool:
        upload = pool.submit(photos_upload, curator, gallery_id, 1)
        held.wait_reached()
        assert not upload.done()
        assert list(GalleryPhoto.query(gallery_id, consistent_read=True)) == []
        held.release()
        assert upload.result(timeout=30).status_code == 201
    assert len(list(GalleryPhoto.query(gallery_id, consistent_read=True))) == 1
    assert_store_consistent()


# ---------------------------------------------------------------- races


def test_raced_callables_run_at_once_and_hand_back_results_or_exceptions():
    # Each of the first two waits for the other: they finish only if they run at the same time.
    both_running = threading.Barrier(2, timeout=5)

    def meet(value):
        both_running.wait()
        return value

    def fail():
        raise ValueError("lost the race")

    first, second, third = raced(lambda: meet(1), lambda: meet(2), fail)
    assert (first, second) == (1, 2)
    assert isinstance(third, ValueError)
