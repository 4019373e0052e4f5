"""ensure_resources on AWS (moto): the bucket's CORS, versioning and version expiry, the tables' point-in-time
recovery and deletion protection, the function's log retention and failed-events queue. Each is applied,
a second run changes nothing, a setting someone changed is put back, and what others added is kept. On
the local default, the settings its emulators cannot hold are named and the run still succeeds."""

import io
import json
import zipfile

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError
from django.core.management import call_command
from django.core.management.base import CommandError
from zappa.utilities import add_event_source, get_event_source

from core import storage
from core.aws import s3_client, service_client
from core.storage import CORS_RULE_ID, bucket_cors_rules
from devtools.local_services.processes import free_port
from gallery_project import resources
from gallery_project.resources import connections_reset, table_models
from photos.keys import LIFECYCLE_RULES
from ratings.models import PhotoRating
from tests.tables import table_made_again

FUNCTION = "gallery-backend-test"
QUEUE = f"{FUNCTION}-failed-events"
LOG_GROUP = f"/aws/lambda/{FUNCTION}"
ORIGINS = ["https://photos.example.test", "https://console.example.test"]
CHANGING = ("Put", "Update", "Create", "Delete", "Set")


@pytest.fixture
def calls(monkeypatch):
    """Every AWS operation called from here on: (name, parameters)."""
    made = []
    original = botocore.client.BaseClient._make_api_call

    def recording(client, operation_name, api_params):
        made.append((operation_name, api_params))
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return made


@pytest.fixture
def origins(settings):
    settings.CORS_ALLOW_ALL_ORIGINS = False
    settings.CORS_ALLOWED_ORIGINS = ORIGINS
    return ORIGINS


def function_create(name: str = FUNCTION) -> str:
    """A Lambda function in moto (made without Docker: only invoking one needs it); its ARN."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = boto3.client("iam").create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust)
    )
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    answer = service_client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": package.getvalue()},
    )
    return answer["FunctionArn"]


def ensure(*arguments: str, capsys) -> list[str]:
    capsys.readouterr()
    call_command("ensure_resources", *arguments)
    return capsys.readouterr().out.splitlines()


def line_of(report: list[str], start: str) -> str:
    [line] = [line for line in report if line.startswith(start)]
    return line


def bucket_cors(settings) -> list[dict]:
    return s3_client().get_bucket_cors(Bucket=settings.BUCKET_NAME)["CORSRules"]


def lifecycle_rules(settings) -> dict[str, dict]:
    answer = s3_client().get_bucket_lifecycle_configuration(Bucket=settings.BUCKET_NAME)
    return {rule["ID"]: rule for rule in answer["Rules"]}


def table_client(model):
    return model._get_connection().connection.client


def point_in_time_recovery(model) -> str:
    described = table_client(model).describe_continuous_backups(TableName=model.Meta.table_name)
    return described["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
        "PointInTimeRecoveryStatus"
    ]


def deletion_protection(model) -> bool:
    return table_client(model).describe_table(TableName=model.Meta.table_name)["Table"][
        "DeletionProtectionEnabled"
    ]


def queue_attributes() -> dict:
    sqs = service_client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def log_retention() -> int | None:
    [group] = service_client("logs").describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]
    return group.get("retentionInDays")


def test_every_setting_is_applied_then_a_second_run_changes_nothing(aws, origins, settings, capsys, calls):
    function_create()
    report = ensure("--function", FUNCTION, capsys=capsys)

    bucket = line_of(report, "bucket ")
    assert f"CORS rule set for {', '.join(sorted(ORIGINS))}" in bucket and "versioning in place" in bucket, (
        bucket
    )
    assert bucket_cors(settings) == bucket_cors_rules(ORIGINS)
    [rule] = bucket_cors(settings)
    assert set(rule["AllowedMethods"]) == {"GET", "HEAD", "POST"} and "ETag" in rule["ExposeHeaders"]
    versioning = s3_client().get_bucket_versioning(Bucket=settings.BUCKET_NAME)
    assert versioning["Status"] == "Enabled"
    rules = lifecycle_rules(settings)
    assert rules["noncurrent-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules["noncurrent-versions"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert rules["stale-uploads"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}

    tables = [model.Meta.table_name for model in table_models()]
    assert (
        line_of(report, "tables: point-in-time")
        == f"tables: point-in-time recovery turned on for {', '.join(tables)}"
    )
    assert (
        line_of(report, "tables: deletion")
        == f"tables: deletion protection turned on for {', '.join(tables)}"
    )
    assert all(point_in_time_recovery(model) == "ENABLED" for model in table_models())
    assert all(deletion_protection(model) for model in table_models())

    assert line_of(report, "log group ") == f"log group {LOG_GROUP}: created, retention set to 30 days"
    assert log_retention() == 30
    assert line_of(report, "queue ") == f"queue {QUEUE}: created, keeps messages 14 days"
    attributes = queue_attributes()
    assert attributes["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    assert line_of(report, "function ") == (
        f"function {FUNCTION}: failed events retried 2 times, then sent to {QUEUE} (set)"
    )
    invoke = service_client("lambda").get_function_event_invoke_config(FunctionName=FUNCTION)
    assert (invoke["MaximumRetryAttempts"], invoke["MaximumEventAgeInSeconds"]) == (2, 6 * 3600)
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == attributes["QueueArn"]

    calls.clear()
    again = ensure("--function", FUNCTION, capsys=capsys)
    assert [name for name, _ in calls if name.startswith(CHANGING)] == []
    assert line_of(again, "bucket ").endswith(
        ": exists, lifecycle rules in place, CORS rule in place, versioning in place"
    ), again
    assert "tables: point-in-time recovery in place" in again
    assert "tables: deletion protection in place" in again
    assert f"log group {LOG_GROUP}: exists, retention 30 days in place" in again
    assert f"queue {QUEUE}: exists, keeps messages 14 days" in again
    assert line_of(again, "function ").endswith("(in place)")


def test_what_someone_changed_is_put_back_and_what_others_added_is_kept(
    aws, origins, settings, capsys, calls
):
    function_create()
    ensure("--function", FUNCTION, capsys=capsys)
    bucket, client = settings.BUCKET_NAME, s3_client()
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    others_cors = {
        "ID": "operators-dashboard",
        "AllowedOrigins": ["https://ops.example.test"],
        "AllowedMethods": ["GET"],
    }
    narrowed = {"ID": CORS_RULE_ID, "AllowedOrigins": ["https://old.example.test"], "AllowedMethods": ["GET"]}
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [others_cors, narrowed]})
    others_lifecycle = {
        "ID": "operators-archive",
        "Status": "Enabled",
        "Filter": {"Prefix": "archive/"},
        "Expiration": {"Days": 90},
    }
    stale = [rule for rule in LIFECYCLE_RULES if rule["ID"] != "noncurrent-versions"]  # an older release's
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [others_lifecycle, *stale]}
    )
    [photos, *others] = table_models()
    table_client(photos).update_continuous_backups(
        TableName=photos.Meta.table_name,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
    )
    table_client(photos).update_table(TableName=photos.Meta.table_name, DeletionProtectionEnabled=False)
    service_client("logs").put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=7)
    sqs = service_client("sqs")
    sqs.set_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"], Attributes={"MessageRetentionPeriod": "3600"}
    )
    # moto keeps the first config a function was given and ignores later ones: the planted one replaces it
    # by a delete, and the correction is read from the call ensure_resources made.
    service_client("lambda").delete_function_event_invoke_config(FunctionName=FUNCTION)
    service_client("lambda").put_function_event_invoke_config(FunctionName=FUNCTION, MaximumRetryAttempts=0)
    calls.clear()

    report = ensure("--function", FUNCTION, capsys=capsys)

    assert line_of(report, "bucket ").endswith(
        f"lifecycle rules set (abort-incomplete-multipart-uploads, noncurrent-versions, stale-uploads), "
        f"CORS rule set for {', '.join(sorted(ORIGINS))}, versioning turned on (it was suspended)"
    ), report
    assert s3_client().get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert bucket_cors(settings) == [
        *bucket_cors_rules(ORIGINS),
        others_cors,
    ]  # ours first: S3 takes the first match
    rules = lifecycle_rules(settings)
    assert rules["operators-archive"] == others_lifecycle and "noncurrent-versions" in rules
    assert line_of(report, "tables: point-in-time") == (
        f"tables: point-in-time recovery turned on for {photos.Meta.table_name} "
        f"(already on for {len(others)} more)"
    )
    assert point_in_time_recovery(photos) == "ENABLED" and deletion_protection(photos)
    assert f"log group {LOG_GROUP}: exists, retention set to 30 days (was 7 days)" in report
    assert log_retention() == 30
    assert f"queue {QUEUE}: exists, now keeps messages 14 days" in report
    assert queue_attributes()["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    assert line_of(report, "function ").endswith("(set)")
    [put] = [params for name, params in calls if name == "PutFunctionEventInvokeConfig"]
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (2, 6 * 3600)
    assert put["DestinationConfig"]["OnFailure"]["Destination"].endswith(f":{QUEUE}")


def test_with_no_origin_configured_the_rule_goes_and_others_stay(aws, settings):
    others = {
        "ID": "operators-dashboard",
        "AllowedOrigins": ["https://ops.example.test"],
        "AllowedMethods": ["GET"],
    }
    s3_client().put_bucket_cors(
        Bucket=settings.BUCKET_NAME, CORSConfiguration={"CORSRules": [*bucket_cors_rules(["*"]), others]}
    )
    settings.CORS_ALLOW_ALL_ORIGINS, settings.CORS_ALLOWED_ORIGINS = False, []
    [bucket] = [line for line in resources.resources_ensure() if line.startswith("bucket ")]
    assert "CORS rule removed (no origins configured)" in bucket
    assert bucket_cors(settings) == [others]


def test_the_function_settings_wait_for_a_deployed_function(aws, capsys, calls):
    """Before the first deploy: the log group and the queue are made, Lambda's settings wait."""
    report = ensure("--function", FUNCTION, capsys=capsys)
    assert line_of(report, "function ") == (
        f"function {FUNCTION}: does not exist yet; after the first deploy, run ensure_resources "
        f"--function {FUNCTION} again to send its failed events to {QUEUE}"
    )
    assert log_retention() == 30 and queue_attributes()["QueueArn"].endswith(QUEUE)
    assert "PutFunctionEventInvokeConfig" not in {name for name, _ in calls}

    calls.clear()
    report = ensure(capsys=capsys)  # no function named: none of it is looked at
    assert line_of(report, "function") == (
        "function: none named (--function NAME): its log retention, failed-events queue, retries "
        "and stream mapping are not set"
    )
    assert not {"DescribeLogGroups", "GetQueueUrl", "GetFunctionConfiguration"} & {name for name, _ in calls}


def test_a_role_that_may_not_send_to_the_queue_ends_the_run_saying_what_to_allow(aws, capsys, monkeypatch):
    function_create()
    original = botocore.client.BaseClient._make_api_call

    def lambda_checking_the_role(client, operation_name, api_params):
        if operation_name == "PutFunctionEventInvokeConfig":  # what Lambda answers when the role may not send
            error = {
                "Code": "InvalidParameterValueException",
                "Message": "The function execution role does not have permissions to call SendMessage on SQS",
            }
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation_name)
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", lambda_checking_the_role)
    with pytest.raises(
        CommandError, match=rf"Allow sqs:SendMessage on arn:aws:sqs:.*:{QUEUE} in the role's policy"
    ):
        call_command("ensure_resources", "--function", FUNCTION)


def test_recovery_is_tried_again_while_a_new_table_cannot_take_it_yet(aws, monkeypatch):
    monkeypatch.setattr(resources, "TABLE_BUSY_POLL_SECONDS", 0.0)
    original = botocore.client.BaseClient._make_api_call
    refused = []

    def new_tables(client, operation_name, api_params):
        if operation_name == "UpdateContinuousBackups" and not refused:
            refused.append(api_params["TableName"])
            error = {"Code": "ContinuousBackupsUnavailableException", "Message": "Backups are being enabled"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation_name)
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", new_tables)
    assert resources.tables_protect()[0].startswith("tables: point-in-time recovery turned on for ")
    assert refused and all(point_in_time_recovery(model) == "ENABLED" for model in table_models())


# What the local default's emulators answer, measured (DynamoDB Local 2026-05-28, s3rver 3.7.1): DynamoDB
# Local knows no continuous backups (it holds deletion protection, as moto does); s3rver knows CORS but no
# lifecycle, and takes ?versioning for a bucket listing (GET: no status) or a CreateBucket (PUT).
EMULATOR_ERRORS = {
    "DescribeContinuousBackups": ("UnknownOperationException", 400),
    "UpdateContinuousBackups": ("UnknownOperationException", 400),
    "GetBucketLifecycleConfiguration": ("NotImplemented", 501),
    "PutBucketLifecycleConfiguration": ("NotImplemented", 501),
    "PutBucketVersioning": ("BucketAlreadyExists", 409),
}


def test_on_the_local_emulators_the_settings_they_cannot_hold_are_named_and_the_run_succeeds(
    aws, capsys, monkeypatch
):
    monkeypatch.setattr(storage, "_on_aws", lambda: False)  # the emulator's endpoint, not AWS's
    original = botocore.client.BaseClient._make_api_call

    def emulators(client, operation_name, api_params):
        if operation_name in EMULATOR_ERRORS:
            code, status = EMULATOR_ERRORS[operation_name]
            error = {
                "Error": {"Code": code, "Message": "unknown"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            raise ClientError(error, operation_name)
        if operation_name == "GetBucketVersioning":
            return {"ResponseMetadata": {"HTTPStatusCode": 200}}
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", emulators)
    for _ in range(2):  # the same on every run
        report = ensure(capsys=capsys)
        bucket = line_of(report, "bucket ")
        assert "lifecycle rules: this S3 cannot hold it (it answers NotImplemented;" in bucket, bucket
        assert "versioning: this S3 cannot hold it (it answers BucketAlreadyExists)" in bucket, bucket
        assert "CORS rule in place" in bucket, bucket  # s3rver holds CORS: the aws fixture put the rule
        assert line_of(report, "tables: point-in-time") == (
            "tables: point-in-time recovery: this DynamoDB cannot hold it "
            "(it answers UnknownOperationException); on AWS this command turns it on"
        )
        assert line_of(report, "tables: deletion").startswith("tables: deletion protection ")
    assert all(deletion_protection(model) for model in table_models())


def test_on_the_local_default_the_services_it_lacks_are_named_not_called(aws, monkeypatch, calls):
    """`make run`: the tables on DynamoDB Local, and no endpoint for CloudWatch Logs, SQS or Lambda but
    AWS's own (where the emulators' made-up keys are no use)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
    connections_reset()
    try:
        report = resources.function_ensure(FUNCTION)
    finally:
        monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB")
        connections_reset()
    assert report == [
        f"log group {LOG_GROUP}: the local services have no CloudWatch Logs: not set here",
        f"queue {QUEUE}: the local services have no SQS: not set here",
        f"function {FUNCTION}: its failed events have no queue here",
        f"stream mapping {PhotoRating.Meta.table_name} -> {FUNCTION}: the local services have no Lambda: "
        "not set here",
    ]
    assert calls == []


SERVICES = ("CLOUDWATCH_LOGS", "SQS", "LAMBDA")  # as the SDK names them in AWS_ENDPOINT_URL_<service>


def test_an_emulator_endpoint_that_does_not_answer_is_named(aws, monkeypatch, settings):
    closed = f"http://127.0.0.1:{free_port()}"
    for service in SERVICES:
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", closed)
    settings.AWS_MAX_ATTEMPTS = 1
    connections_reset()
    try:
        report = resources.function_ensure(FUNCTION)
    finally:
        for service in SERVICES:
            monkeypatch.delenv(f"AWS_ENDPOINT_URL_{service}")
        settings.AWS_MAX_ATTEMPTS = 3
        connections_reset()
    assert report == [
        f"log group {LOG_GROUP}: nothing answers at {closed}: not set here",
        f"queue {QUEUE}: nothing answers at {closed}: not set here",
        f"function {FUNCTION}: its failed events have no queue here",
        f"stream mapping {PhotoRating.Meta.table_name} -> {FUNCTION}: nothing answers at {closed}: "
        "not set here",
    ]


def test_on_aws_an_answer_an_emulator_gives_for_what_it_lacks_is_an_error_not_a_setting_it_cannot_hold(
    aws, monkeypatch
):
    """S3 answers 405 to another account's credentials: on AWS that stops the run, it is never "this S3
    cannot hold it" (which only an emulator's endpoint may say)."""
    original = botocore.client.BaseClient._make_api_call

    def refusing(client, operation_name, api_params):
        if operation_name == "GetBucketVersioning":
            error = {
                "Error": {"Code": "MethodNotAllowed", "Message": "no"},
                "ResponseMetadata": {"HTTPStatusCode": 405},
            }
            raise ClientError(error, operation_name)
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refusing)
    with pytest.raises(ClientError):
        resources.resources_ensure()


# ---------------------------------------------------------------- the PhotoRatings stream's mapping

WANTED_MAPPING = {
    "StartingPosition": "TRIM_HORIZON",
    "BatchSize": 1000,
    "MaximumBatchingWindowInSeconds": 1,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "BisectBatchOnFunctionError": True,
    "MaximumRetryAttempts": -1,
    "MaximumRecordAgeInSeconds": -1,
    "FilterCriteria": {
        "Filters": [{"Pattern": '{"dynamodb": {"NewImage": {"aggregatedBy": {"S": ["stream"]}}}}'}]
    },
}


def stream_mapping(arn: str) -> dict:
    """The one mapping from the stream, to whichever function (a second one would be a duplicate)."""
    [mapping] = service_client("lambda").list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    return mapping


def zappa_entry(report: list[str]) -> dict:
    line = line_of(report, "zappa_settings.json: ")
    return json.loads(line.split(" must hold ", 1)[1].split(" (without it", 1)[0])


def test_the_stream_is_mapped_to_the_function_and_zappas_entry_is_named(aws, capsys, calls):
    function_arn = function_create()
    arn = resources.stream_arn(PhotoRating)
    report = ensure("--function", FUNCTION, capsys=capsys)

    assert line_of(report, "stream mapping ") == (
        f"stream mapping {arn} -> {FUNCTION}: created, off until `zappa update` with the events entry below "
        "turns it on; from the oldest record, batches of up to 1000 within 1 s, streamed ratings only, "
        "failed records reported, a failing batch split, retried until the records expire"
    )
    mapping = stream_mapping(arn)
    assert {key: mapping.get(key) for key in WANTED_MAPPING} == WANTED_MAPPING
    # Off: until the stage's events route the stream, Zappa's handler would drop its records as done.
    assert mapping["State"] == "Disabled"
    assert mapping["FunctionArn"] == function_arn
    assert zappa_entry(report) == {
        "function": "scans.events.rating_changes",
        "event_source": {"arn": arn, "batch_size": 1000},
    }

    calls.clear()
    again = ensure("--function", FUNCTION, capsys=capsys)
    assert line_of(again, "stream mapping ").endswith(
        "; off: `zappa update` with the events entry below turns it on (in place)"
    )
    assert [name for name, _ in calls if name.startswith(CHANGING)] == []


def test_zappas_update_with_the_entry_keeps_the_mapping_as_made(aws, capsys):
    """`zappa update` reads the entry, finds the mapping by ARN and function, and sends it the entry's
    batch size and "enabled" only: it turns the mapping on, and what ensure_resources set stays."""
    function_arn = function_create()
    report = ensure("--function", FUNCTION, capsys=capsys)
    entry = zappa_entry(report)
    source, _ = get_event_source(entry["event_source"], function_arn, entry["function"], boto3.Session())
    assert source.batch_size == WANTED_MAPPING["BatchSize"]
    done = add_event_source(entry["event_source"], function_arn, entry["function"], boto3.Session())
    assert done == "updated"  # found, not made again
    mapping = stream_mapping(entry["event_source"]["arn"])
    assert {key: mapping.get(key) for key in WANTED_MAPPING} == WANTED_MAPPING
    assert mapping["State"] == "Enabled"
    # ensure_resources run again leaves it on.
    assert line_of(ensure("--function", FUNCTION, capsys=capsys), "stream mapping ").endswith(" (in place)")
    assert stream_mapping(entry["event_source"]["arn"])["State"] == "Enabled"


def test_a_mapping_someone_changed_is_put_back(aws, capsys, calls):
    function_create()
    arn = resources.stream_arn(PhotoRating)
    ensure("--function", FUNCTION, capsys=capsys)
    service_client("lambda").update_event_source_mapping(
        UUID=stream_mapping(arn)["UUID"],
        BatchSize=100,
        BisectBatchOnFunctionError=False,
        MaximumRetryAttempts=2,
        Enabled=False,
    )
    calls.clear()
    report = ensure("--function", FUNCTION, capsys=capsys)
    assert line_of(report, "stream mapping ").endswith(
        "(set: BatchSize, BisectBatchOnFunctionError, MaximumRetryAttempts)"
    )
    mapping = stream_mapping(arn)
    assert {key: mapping.get(key) for key in WANTED_MAPPING} == WANTED_MAPPING
    assert "CreateEventSourceMapping" not in {name for name, _ in calls}


def test_the_mappings_filter_is_compared_as_json_and_put_back_when_removed(aws, capsys):
    function_create()
    arn = resources.stream_arn(PhotoRating)
    ensure("--function", FUNCTION, capsys=capsys)
    lambda_client, uuid = service_client("lambda"), stream_mapping(arn)["UUID"]
    spaced = json.dumps(resources.STREAM_FILTER_PATTERN, indent=2)  # as Lambda may hand it back
    lambda_client.update_event_source_mapping(UUID=uuid, FilterCriteria={"Filters": [{"Pattern": spaced}]})
    assert line_of(ensure("--function", FUNCTION, capsys=capsys), "stream mapping ").endswith(" (in place)")
    lambda_client.update_event_source_mapping(UUID=uuid, FilterCriteria={"Filters": []})
    report = ensure("--function", FUNCTION, capsys=capsys)
    assert line_of(report, "stream mapping ").endswith("(set: FilterCriteria)")
    assert stream_mapping(arn)["FilterCriteria"] == WANTED_MAPPING["FilterCriteria"]


def test_before_the_first_deploy_the_mapping_waits_and_the_entry_is_named(aws, capsys, calls):
    arn = resources.stream_arn(PhotoRating)
    report = ensure("--function", FUNCTION, capsys=capsys)
    assert line_of(report, "stream mapping ") == (
        f"stream mapping {arn} -> {FUNCTION}: the function does not exist yet; after the first deploy, run "
        f"ensure_resources --function {FUNCTION} again to feed it the stream"
    )
    assert zappa_entry(report)["event_source"]["arn"] == arn
    assert "CreateEventSourceMapping" not in {name for name, _ in calls}


def test_no_mapping_is_made_from_a_stream_showing_something_else(aws, capsys, calls):
    function_create()
    name = PhotoRating.Meta.table_name
    table_made_again(PhotoRating, stream_view="KEYS_ONLY")
    report = ensure("--function", FUNCTION, capsys=capsys)
    assert line_of(report, "stream mapping ") == (
        f"stream mapping {name} -> {FUNCTION}: not made, the table has no stream showing new and old images "
        "(see its line above)"
    )
    assert "CreateEventSourceMapping" not in {name for name, _ in calls}


def test_a_role_that_may_not_read_the_stream_ends_the_run_saying_what_to_allow(aws, capsys, monkeypatch):
    function_create()
    original = botocore.client.BaseClient._make_api_call

    def lambda_checking_the_role(client, operation_name, api_params):
        if operation_name == "CreateEventSourceMapping":  # what Lambda answers when the role may not read
            error = {
                "Code": "InvalidParameterValueException",
                "Message": "Cannot access stream arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/y. "
                "Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and "
                "ListStreams Actions on your stream in IAM.",
            }
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation_name)
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", lambda_checking_the_role)
    with pytest.raises(CommandError, match=r"Allow dynamodb:DescribeStream, GetRecords, GetShardIterator"):
        call_command("ensure_resources", "--function", FUNCTION)
