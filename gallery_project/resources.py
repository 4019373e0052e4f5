"""Create the tables and the bucket the service needs, if they are missing (idempotent); tidy what an
older release left (``photos.legacy``); and what keeps a stage recoverable and watched: point-in-time
recovery and deletion protection on every table (``tables_protect``), the function's log retention, a
queue for the events it failed on and the mapping that feeds it the PhotoRatings stream (``function_ensure``).

Every setting is brought to the wanted state and reported in one line or clause, "in place" when it
already was, so a second run changes nothing. The local default (DynamoDB Local and s3rver, `make run`)
cannot hold some of them: each such setting is named in the report and the run still succeeds. An answer
counts as "cannot hold" only when it says the service does not know the operation (which AWS never
answers for these), or, for CloudWatch Logs, SQS and Lambda, when nothing answers at an endpoint that is
not AWS's own; AccessDenied and every other error end the run.
"""

import json
import time

from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as AwsConnectionError
from django.conf import settings
from pynamodb.attributes import TTLAttribute
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

from core.aws import is_aws_endpoint, reset_connections, service_client
from core.errors import Forbidden, Unavailable
from core.records import ServiceRecord
from core.storage import bucket_cors_rules, bucket_ensure, cors_origins
from galleries.models import Gallery
from gallery_project.models import CuratorKey
from photos.keys import LIFECYCLE_RULES
from photos.legacy import legacy_claims_remove
from photos.models import GalleryPhoto, PhotoTag
from ratings.models import PhotoRating
from ratings.stream import STREAMED


def table_models() -> tuple[type[Model], ...]:
    """Every PynamoDB model the service owns, one per table, in creation order."""
    return (Gallery, GalleryPhoto, PhotoRating, CuratorKey, ServiceRecord, PhotoTag)


# The tables whose changes a function reads from their DynamoDB stream, with what each record shows: a
# rating's record must carry the rating before and after (a photo's aggregate moves by the difference).
TABLE_STREAMS: dict[type[Model], str] = {PhotoRating: "NEW_AND_OLD_IMAGES"}
STREAM_VIEWS = {
    "NEW_AND_OLD_IMAGES": "new and old images",
    "NEW_IMAGE": "new images",
    "OLD_IMAGE": "old images",
    "KEYS_ONLY": "keys only",
}


def connections_reset() -> None:
    """Forget every cached AWS client, so the next call picks up changed endpoints (tests switch backends)."""
    reset_connections(table_models())


def resources_ensure(*, create_bucket: bool = True) -> list[str]:
    """Create what is missing and return one line per resource saying what was done."""
    report = []
    if not ServiceRecord.exists() and GalleryPhoto.exists():
        # An upgrade from a release before ServiceRecords: its claims leave GalleryPhotos first (one scan
        # of that table, only now; if it fails, the records table is still missing and a rerun retries).
        removed = legacy_claims_remove()
        if removed:
            table = GalleryPhoto.Meta.table_name
            report.append(f"table {table}: removed {removed} scan claims an older release kept there")
    for model in table_models():
        name = model.Meta.table_name
        if model.exists():
            indexes = _global_indexes_ensure(model)
            changes = [f"added index {', '.join(indexes)}"] if indexes else []
            if _ttl_ensure(model):
                changes.append("turned on time to live")
            stream = _stream_ensure(model)
            if stream:
                changes.append(stream)
            report.append(f"table {name}: exists" + "".join(f", {change}" for change in changes))
        else:
            model.create_table(wait=True)  # PynamoDB also turns on the TTL attribute, when one is declared
            stream = _stream_ensure(model)
            report.append(f"table {name}: created" + (f", {stream}" if stream else ""))
    if create_bucket:
        report.append(
            bucket_ensure(
                settings.BUCKET_NAME,
                lifecycle_rules=LIFECYCLE_RULES,
                cors_rules=bucket_cors_rules(cors_origins()),
                versioning=True,
            )
        )
    return report


def _ttl_ensure(model) -> bool:
    """Turn on DynamoDB's TTL for a model that declares a TTL attribute on a table made before it did."""
    if not any(isinstance(attribute, TTLAttribute) for attribute in model.get_attributes().values()):
        return False
    client = model._get_connection().connection.client
    described = client.describe_time_to_live(TableName=model.Meta.table_name)["TimeToLiveDescription"]
    if described.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}:
        return False
    model.update_ttl(ignore_update_ttl_errors=False)
    return True


def _stream_ensure(model) -> str | None:
    """Turn on the stream ``TABLE_STREAMS`` wants for a table without one (made before it was wanted, or
    just now: PynamoDB makes a table without a stream unless its model says so); what was done, or None.

    A stream showing something else is left alone and named: DynamoDB changes what a stream shows only
    by turning it off and on, and the records not yet read are lost with the old stream (for ratings, an
    aggregate left wrong)."""
    wanted = TABLE_STREAMS.get(model)
    if wanted is None:
        return None
    name = model.Meta.table_name
    client = model._get_connection().connection.client
    current = client.describe_table(TableName=name)["Table"].get("StreamSpecification") or {}
    if current.get("StreamEnabled"):
        shown = str(current.get("StreamViewType"))
        if shown == wanted:
            return None
        return (
            f"its stream shows {STREAM_VIEWS.get(shown, shown)}, not {STREAM_VIEWS[wanted]}: left as it is "
            "(changing it means turning the stream off, which loses the records not yet read); once its "
            f"readers are stopped and done, turn it off (aws dynamodb update-table --table-name {name} "
            "--stream-specification StreamEnabled=false) and run ensure_resources again"
        )
    _while_busy(
        lambda: client.update_table(
            TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": wanted}
        ),
        name,
        "ResourceInUseException",
    )
    return f"turned on its stream ({STREAM_VIEWS[wanted]})"


def stream_arn(model) -> str | None:
    """The ARN of the table's stream when it shows what ``TABLE_STREAMS`` wants, else None."""
    table = model._get_connection().connection.client.describe_table(TableName=model.Meta.table_name)["Table"]
    current = table.get("StreamSpecification") or {}
    if current.get("StreamEnabled") and current.get("StreamViewType") == TABLE_STREAMS.get(model):
        return table.get("LatestStreamArn")
    return None


def _global_indexes_ensure(model) -> list[str]:
    """Add global indexes a newer release declares to a table made by an older one (DynamoDB fills
    them from the existing items). Local indexes cannot be added after creation.

    DynamoDB takes one new index per UpdateTable, and the next only once the table is no longer being
    updated; each is waited for until it is ACTIVE (backfilled), since a query of an index still being
    built is refused: run this before deploying code that reads the new indexes. On a large table the
    backfill can outlast ``INDEX_WAIT_SECONDS``: the run then stops with a 503-style error, and a
    rerun waits for that index and adds the rest (safe to repeat)."""
    client = model._get_connection().connection.client
    table = client.describe_table(TableName=model.Meta.table_name)["Table"]
    existing = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
    missing = [
        index
        for index in model._indexes.values()
        if isinstance(index, GlobalSecondaryIndex) and index.Meta.index_name not in existing
    ]
    if missing:
        # One still being built by an earlier run (that stopped waiting) comes first: one at a time.
        for index in table.get("GlobalSecondaryIndexes", []):
            if index.get("IndexStatus") == "CREATING":
                _index_wait_active(client, model.Meta.table_name, index["IndexName"])
    added = []
    for index in missing:
        schema = index._get_schema()
        client.update_table(
            TableName=model.Meta.table_name,
            AttributeDefinitions=schema["attribute_definitions"],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": schema["index_name"],
                        # DynamoDB wants HASH before RANGE; the schema lists them in attribute order.
                        "KeySchema": sorted(schema["key_schema"], key=lambda key: key["KeyType"] != "HASH"),
                        "Projection": schema["projection"],
                    }
                }
            ],
        )
        added.append(schema["index_name"])
        # DynamoDB builds one new index of a table at a time: the next waits until this one is active.
        _index_wait_active(client, model.Meta.table_name, schema["index_name"])
    return added


INDEX_WAIT_SECONDS = 900
INDEX_POLL_SECONDS = 1.0


def _index_wait_active(client, table_name: str, index_name: str) -> None:
    """Wait until a new global index is ACTIVE (DynamoDB backfills it from the table's items first)."""
    waited = 0.0
    while waited < INDEX_WAIT_SECONDS:
        table = client.describe_table(TableName=table_name)["Table"]
        status = next(
            (
                index.get("IndexStatus")
                for index in table.get("GlobalSecondaryIndexes", [])
                if index["IndexName"] == index_name
            ),
            None,
        )
        if status in (None, "ACTIVE"):
            return
        time.sleep(INDEX_POLL_SECONDS)
        waited += INDEX_POLL_SECONDS
    raise Unavailable(
        f"Index {index_name} of {table_name} is still being built after {INDEX_WAIT_SECONDS} s; "
        "run ensure_resources again once it is active."
    )


# ---------------------------------------------------------------- tables: recovery and protection

# DynamoDB refuses to turn on point-in-time recovery for a few minutes after a table is created
# (ContinuousBackupsUnavailableException), and any update of a table still being updated
# (ResourceInUseException): each is tried again this long.
TABLE_BUSY_WAIT_SECONDS = 300
TABLE_BUSY_POLL_SECONDS = 5.0
# What a DynamoDB that does not implement an operation answers (DynamoDB Local: point-in-time recovery).
_UNKNOWN_OPERATION = {"UnknownOperationException", "UnknownOperation", "NotImplemented"}


class _CannotHold(Exception):
    """This service does not implement the setting (an emulator): the reason, for the report."""


def tables_protect() -> list[str]:
    """Point-in-time recovery (restore any second of the last 35 days, to a new table) and deletion
    protection (DeleteTable refused until it is turned off) on every table; one line per setting.

    Not part of ``resources_ensure``: tests and fault runs drop and remake tables, which deletion
    protection would refuse. ``manage.py ensure_resources`` runs both."""
    return [
        _tables_setting_ensure("point-in-time recovery", _point_in_time_recovery_ensure),
        _tables_setting_ensure("deletion protection", _deletion_protection_ensure),
    ]


def _tables_setting_ensure(setting: str, ensure) -> str:
    changed: list[str] = []
    kept: list[str] = []
    for model in table_models():
        client = model._get_connection().connection.client
        try:
            done = ensure(client, model.Meta.table_name)
        except _CannotHold as reason:
            # One endpoint serves every table: the first answer says it for all.
            return (
                f"tables: {setting}: this DynamoDB cannot hold it ({reason}); on AWS this command turns it on"
            )
        (changed if done else kept).append(model.Meta.table_name)
    if not changed:
        return f"tables: {setting} in place"
    return f"tables: {setting} turned on for {', '.join(changed)}" + (
        f" (already on for {len(kept)} more)" if kept else ""
    )


def _point_in_time_recovery_ensure(client, table: str) -> bool:
    """Turn on point-in-time recovery; False when it already was."""
    described = _unless_unknown(client.describe_continuous_backups, TableName=table)
    status = described["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
    if status.get("PointInTimeRecoveryStatus") == "ENABLED":
        return False
    _while_busy(
        lambda: _unless_unknown(
            client.update_continuous_backups,
            TableName=table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        ),
        table,
        "ContinuousBackupsUnavailableException",
    )
    return True


def _deletion_protection_ensure(client, table: str) -> bool:
    """Turn on deletion protection; False when it already was."""
    if _unless_unknown(client.describe_table, TableName=table)["Table"].get("DeletionProtectionEnabled"):
        return False
    answer = _while_busy(
        lambda: _unless_unknown(client.update_table, TableName=table, DeletionProtectionEnabled=True),
        table,
        "ResourceInUseException",
    )
    if not answer.get("TableDescription", {}).get("DeletionProtectionEnabled"):
        # A DynamoDB that ignores the parameter (DynamoDB Local before it knew it) answers without it.
        raise _CannotHold("it answers without DeletionProtectionEnabled")
    return True


def _unless_unknown(call, **params):
    """``call(**params)``; ``_CannotHold`` when the service does not know the operation."""
    try:
        return call(**params)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _UNKNOWN_OPERATION or status == 501:
            raise _CannotHold(f"it answers {code or status}") from error
        raise


def _while_busy(call, table: str, busy_code: str):
    """``call()``, tried again while DynamoDB answers ``busy_code`` (up to ``TABLE_BUSY_WAIT_SECONDS``)."""
    waited = 0.0
    while True:
        try:
            return call()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != busy_code:
                raise
            if waited >= TABLE_BUSY_WAIT_SECONDS:
                raise Unavailable(
                    f"Table {table} is still busy ({busy_code}) after {TABLE_BUSY_WAIT_SECONDS} s; "
                    "run ensure_resources again in a few minutes."
                ) from error
        time.sleep(TABLE_BUSY_POLL_SECONDS)
        waited += TABLE_BUSY_POLL_SECONDS


# ---------------------------------------------------------------- the function: logs and failed events

# Days CloudWatch keeps the function's logs (Zappa sets no retention: without it they are kept forever).
LOG_RETENTION_DAYS = 30
# The values CloudWatch Logs accepts for a retention.
# fmt: off
LOG_RETENTION_CHOICES = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)
# fmt: on
# An asynchronous invocation (an S3 event) that fails is tried again twice by Lambda, then its event goes
# to the failed-events queue, kept there 14 days (SQS's longest) for an operator to read or replay.
EVENT_RETRY_ATTEMPTS = 2
EVENT_MAX_AGE_SECONDS = 6 * 3600
FAILED_EVENTS_RETENTION_SECONDS = 14 * 24 * 3600


# The function Lambda invokes with the PhotoRatings stream's records, and how its mapping reads them: from
# the oldest record kept (a mapping made after ratings were written still counts them), in batches of up
# to STREAM_BATCH_SIZE gathered for up to a second, the function naming the records it failed on (those
# and the ones after them come again; the ones before are done), a batch that raises split in two until
# the failing record is alone, and retried for as long as the stream keeps it (24 hours): a record
# dropped is an aggregate left wrong, and the mapping's IteratorAge metric is the operator's alarm.
# Zappa's own event source sends none of this (nor the starting position DynamoDB requires).
STREAM_HANDLER = "scans.events.rating_changes"
STREAM_BATCH_SIZE = 1000
STREAM_STARTING_POSITION = "TRIM_HORIZON"
# Only streamed ratings reach the function (Lambda filters before invoking): no other record of
# PhotoRatings moves an aggregate (a transactional rating or a withdrawal moved it itself; ratings deleted
# with their photo move nothing: ratings.stream), and each would be an invocation for nothing.
STREAM_FILTER_PATTERN = {"dynamodb": {"NewImage": {PhotoRating.aggregated_by.attr_name: {"S": [STREAMED]}}}}
STREAM_MAPPING = {
    "BatchSize": STREAM_BATCH_SIZE,
    "MaximumBatchingWindowInSeconds": 1,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "BisectBatchOnFunctionError": True,
    "MaximumRetryAttempts": -1,
    "MaximumRecordAgeInSeconds": -1,
    "FilterCriteria": {"Filters": [{"Pattern": json.dumps(STREAM_FILTER_PATTERN)}]},
}


def zappa_stream_event(arn: str) -> dict:
    """The stage's zappa_settings.json "events" entry for the stream: Zappa's handler finds the function
    for a batch by its records' eventSourceARN alone, and without an entry it logs "Cannot find a
    function" and returns, which Lambda counts as the batch done. ``zappa update`` sets the mapping's
    batch size from ``batch_size``, so it is the mapping's."""
    return {"function": STREAM_HANDLER, "event_source": {"arn": arn, "batch_size": STREAM_BATCH_SIZE}}


def failed_events_queue_name(function_name: str) -> str:
    return f"{function_name}-failed-events"


def function_ensure(function_name: str | None, *, log_retention_days: int = LOG_RETENTION_DAYS) -> list[str]:
    """The function's log retention, its failed-events queue, its asynchronous invocation settings
    (retries, then the queue) and the mapping that feeds it the PhotoRatings stream; one line each. The
    log group and the queue are made before the first deploy if need be; the invocation settings and the
    mapping wait until the function exists (run this again after it).
    """
    if not function_name:
        return [
            "function: none named (--function NAME): its log retention, failed-events queue, retries "
            "and stream mapping are not set"
        ]
    log_group = f"/aws/lambda/{function_name}"
    queue = failed_events_queue_name(function_name)
    lines = []
    try:
        lines.append(_log_retention_ensure(log_group, log_retention_days))
    except _CannotHold as reason:
        lines.append(f"log group {log_group}: {reason}")
    try:
        queue_line, queue_arn = _queue_ensure(queue)
        lines.append(queue_line)
    except _CannotHold as reason:
        return [
            *lines,
            f"queue {queue}: {reason}",
            f"function {function_name}: its failed events have no queue here",
            *_stream_mapping_ensure(function_name),
        ]
    try:
        lines.append(_event_invoke_ensure(function_name, queue, queue_arn))
    except _CannotHold as reason:
        lines.append(f"function {function_name}: {reason}")
    return [*lines, *_stream_mapping_ensure(function_name)]


_SERVICE_NAMES = {"logs": "CloudWatch Logs", "sqs": "SQS", "lambda": "Lambda"}


def _reachable_client(service: str):
    """The service's client, or ``_CannotHold`` when the tables are on an emulator and this service has
    no endpoint but AWS's (the local default: calling AWS with the emulators' made-up keys is no use)."""
    client = service_client(service)
    tables_endpoint = table_models()[0]._get_connection().connection.client.meta.endpoint_url
    if is_aws_endpoint(client.meta.endpoint_url) and not is_aws_endpoint(tables_endpoint):
        raise _CannotHold(f"the local services have no {_SERVICE_NAMES[service]}: not set here")
    return client


def _call(client, operation: str, **params):
    """One call; ``_CannotHold`` when an endpoint that is not AWS's does not answer or does not know the
    operation (a local emulator). On AWS every error is raised."""
    try:
        return getattr(client, operation)(**params)
    except AwsConnectionError as error:
        if is_aws_endpoint(client.meta.endpoint_url):
            raise
        raise _CannotHold(f"nothing answers at {client.meta.endpoint_url}: not set here") from error
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        unknown = code in _UNKNOWN_OPERATION or code == "InvalidAction" or status == 501
        if unknown and not is_aws_endpoint(client.meta.endpoint_url):
            raise _CannotHold(
                f"{client.meta.endpoint_url} cannot hold it (it answers {code or status})"
            ) from error
        raise


def _error_code(error: ClientError) -> str | None:
    return error.response.get("Error", {}).get("Code")


def _log_retention_ensure(name: str, days: int) -> str:
    """Create the log group when the function has not logged yet (it makes its own on its first
    invocation, kept forever), and set its retention."""
    client = _reachable_client("logs")
    # Groups come sorted by name, so a group of exactly this name comes before any it prefixes.
    groups = _call(client, "describe_log_groups", logGroupNamePrefix=name, limit=1)["logGroups"]
    group = groups[0] if groups and groups[0]["logGroupName"] == name else None
    done = f"log group {name}: exists"
    if group is None:
        try:
            _call(client, "create_log_group", logGroupName=name)
            done = f"log group {name}: created"
        except ClientError as error:
            if _error_code(error) != "ResourceAlreadyExistsException":  # the function's first log, just now
                raise
        group = {}
    current = group.get("retentionInDays")
    if current == days:
        return f"{done}, retention {days} days in place"
    _call(client, "put_retention_policy", logGroupName=name, retentionInDays=days)
    was = f" (was {current} days)" if current else " (was: kept forever)" if group else ""
    return f"{done}, retention set to {days} days{was}"


def _queue_ensure(name: str) -> tuple[str, str]:
    """The failed-events queue, made when missing, keeping messages 14 days; its line and ARN."""
    client = _reachable_client("sqs")
    wanted = str(FAILED_EVENTS_RETENTION_SECONDS)
    try:
        url = _call(client, "get_queue_url", QueueName=name)["QueueUrl"]
        done = f"queue {name}: exists"
    except ClientError as error:
        if _error_code(error) not in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            raise
        url = _call(client, "create_queue", QueueName=name, Attributes={"MessageRetentionPeriod": wanted})[
            "QueueUrl"
        ]
        done = f"queue {name}: created"
    attributes = _call(
        client, "get_queue_attributes", QueueUrl=url, AttributeNames=["QueueArn", "MessageRetentionPeriod"]
    )["Attributes"]
    days = FAILED_EVENTS_RETENTION_SECONDS // 86400
    if attributes.get("MessageRetentionPeriod") == wanted:
        return f"{done}, keeps messages {days} days", attributes["QueueArn"]
    _call(client, "set_queue_attributes", QueueUrl=url, Attributes={"MessageRetentionPeriod": wanted})
    return f"{done}, now keeps messages {days} days", attributes["QueueArn"]


def _event_invoke_ensure(function_name: str, queue: str, queue_arn: str) -> str:
    """Lambda's settings for the function's asynchronous invocations (S3 events): two retries within
    six hours, then the event goes to the queue. Another destination on success is kept."""
    client = _reachable_client("lambda")
    try:
        _call(client, "get_function_configuration", FunctionName=function_name)
    except ClientError as error:
        if _error_code(error) != "ResourceNotFoundException":
            raise
        return (
            f"function {function_name}: does not exist yet; after the first deploy, run "
            f"ensure_resources --function {function_name} again to send its failed events to {queue}"
        )
    try:
        current = _call(client, "get_function_event_invoke_config", FunctionName=function_name)
    except ClientError as error:
        if _error_code(error) != "ResourceNotFoundException":
            raise
        current = {}
    destinations = dict(current.get("DestinationConfig") or {})
    destinations["OnFailure"] = {"Destination": queue_arn}
    wanted = {
        "MaximumRetryAttempts": EVENT_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": EVENT_MAX_AGE_SECONDS,
        "DestinationConfig": destinations,
    }
    settled = f"failed events retried {EVENT_RETRY_ATTEMPTS} times, then sent to {queue}"
    if all(current.get(key) == value for key, value in wanted.items()):
        return f"function {function_name}: {settled} (in place)"
    try:
        _call(client, "put_function_event_invoke_config", FunctionName=function_name, **wanted)
    except ClientError as error:
        # Lambda checks the destination against the function's role before it takes it.
        if _error_code(error) == "InvalidParameterValueException" and "permission" in str(error).lower():
            raise Forbidden(
                f"Lambda refused {queue} as the destination of {function_name}'s failed events: its role "
                f"may not send to it. Allow sqs:SendMessage on {queue_arn} in the role's policy "
                "(docs/deploy.md), then run ensure_resources again."
            ) from error
        raise
    return f"function {function_name}: {settled} (set)"


def _stream_mapping_ensure(function_name: str) -> list[str]:
    """Lambda's event source mapping from the PhotoRatings stream to the function, made (turned off) or
    brought to ``STREAM_MAPPING``, and the zappa_settings.json entry that routes its records; the lines
    saying so. A mapping is made off, and never turned on here: until the stage's events name the
    stream, Zappa's handler finds no function for its records and Lambda would count them as done.
    `zappa update` with the entry turns it on (Zappa's update of an event source sends ``Enabled``)."""
    try:
        return _stream_mapping_settle(function_name)
    except _CannotHold as reason:
        return [f"stream mapping {PhotoRating.Meta.table_name} -> {function_name}: {reason}"]


def _same_setting(current, wanted) -> bool:
    """A mapping's setting as Lambda answers it, against ours: filter patterns compared as JSON values
    (Lambda may hand a pattern back spaced otherwise)."""
    if isinstance(wanted, dict) and "Filters" in wanted:
        patterns = [json.loads(f["Pattern"]) for f in (current or {}).get("Filters", [])]
        return patterns == [json.loads(f["Pattern"]) for f in wanted["Filters"]]
    return current == wanted


def _stream_mapping_settle(function_name: str) -> list[str]:
    table = PhotoRating.Meta.table_name
    client = _reachable_client("lambda")
    arn = stream_arn(PhotoRating)
    if arn is None:
        return [
            f"stream mapping {table} -> {function_name}: not made, the table has no stream showing "
            f"{STREAM_VIEWS[TABLE_STREAMS[PhotoRating]]} (see its line above)"
        ]
    head = f"stream mapping {arn} -> {function_name}"
    entry = (
        f'zappa_settings.json: the stage\'s "events" must hold {json.dumps(zappa_stream_event(arn))} '
        "(without it the function drops the stream's records as done)"
    )
    try:
        # By ARN, as `zappa update` finds the mapping (moto matches a mapping by the name it was made with).
        function_arn = _call(client, "get_function_configuration", FunctionName=function_name)["FunctionArn"]
    except ClientError as error:
        if _error_code(error) != "ResourceNotFoundException":
            raise
        return [
            f"{head}: the function does not exist yet; after the first deploy, run ensure_resources "
            f"--function {function_name} again to feed it the stream",
            entry,
        ]
    settled = (
        f"from the oldest record, batches of up to {STREAM_BATCH_SIZE} within "
        f"{STREAM_MAPPING['MaximumBatchingWindowInSeconds']} s, streamed ratings only, failed records "
        "reported, a failing batch split, retried until the records expire"
    )
    found = _call(client, "list_event_source_mappings", EventSourceArn=arn, FunctionName=function_arn)
    if not found["EventSourceMappings"]:
        try:
            _call(
                client,
                "create_event_source_mapping",
                FunctionName=function_arn,
                EventSourceArn=arn,
                StartingPosition=STREAM_STARTING_POSITION,
                Enabled=False,
                **STREAM_MAPPING,
            )
        except ClientError as error:
            # Lambda checks that the function's role may read the stream before it takes the mapping
            # ("Cannot access stream ...: Please ensure the role can perform the GetRecords ... Actions").
            refused = "cannot access stream" in str(error).lower() or "permission" in str(error).lower()
            if _error_code(error) == "InvalidParameterValueException" and refused:
                raise Forbidden(
                    f"Lambda refused to feed {function_name} the stream {arn}: its role may not read it. "
                    "Allow dynamodb:DescribeStream, GetRecords, GetShardIterator and ListStreams on "
                    f"table/{table}/stream/* in the role's policy (docs/deploy.md), then run "
                    "ensure_resources again."
                ) from error
            raise
        return [
            f"{head}: created, off until `zappa update` with the events entry below turns it on; {settled}",
            entry,
        ]
    current = found["EventSourceMappings"][0]
    changed = {
        key: value for key, value in STREAM_MAPPING.items() if not _same_setting(current.get(key), value)
    }
    if current.get("State") in {"Disabled", "Disabling"}:
        settled += "; off: `zappa update` with the events entry below turns it on"
    # The starting position is fixed when a mapping is made: one made elsewhere is named, not replaced.
    start = current.get("StartingPosition")
    started = (
        f" (it starts at {start}, fixed when it was made: delete it and run this again to start at "
        f"{STREAM_STARTING_POSITION})"
        if start and start != STREAM_STARTING_POSITION
        else ""
    )
    if not changed:
        return [f"{head}: {settled} (in place){started}", entry]
    _call(client, "update_event_source_mapping", UUID=current["UUID"], **changed)
    return [f"{head}: {settled} (set: {', '.join(sorted(changed))}){started}", entry]
