"""A table's DynamoDB stream, delivered to a function the way Lambda's event source mapping does on AWS.

On AWS, Lambda polls the PhotoRatings stream and invokes ``scans.events.rating_changes`` with batches of
records (``ensure_resources --function`` makes that mapping). Locally nothing polls a stream, so
``StreamCourier`` does, against DynamoDB Local (`make run`) and moto (the tests) alike:
- every shard of the table's current stream, a parent before its children, in sequence order within a
  shard; from the oldest record (TRIM_HORIZON) the first time, then after the last record delivered;
- records handed over in Lambda's own event shape (``{"Records": [...]}``, images in DynamoDB's JSON,
  ``eventSourceARN`` = the stream's ARN), at most ``batch_size`` a call;
- the function's partial batch response honoured: the records before the lowest failed sequence number
  are done, and the next call starts at that record; an exception means the whole batch again. Either
  way the shard waits a pause that doubles up to ``RETRY_MAX_SECONDS`` and tries again, for ever, each
  failure logged with its sequence number: as on AWS (MaximumRetryAttempts -1), a record is never
  skipped, and a record stuck in a shard holds back the ones behind it;
- where each shard got to, kept in a JSON file (`make run`: under ``.local/``, since DynamoDB Local keeps
  its data across restarts too) or in memory; a record may be delivered again after a crash between the
  call and the write of the file (at least once, as on AWS: the function applies a record once).
`make run` runs it in a thread of its one gunicorn worker (gunicorn_config.post_worker_init), polling
every ``POLL_SECONDS``: the local stand-in for the mapping's batching window.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
# The table's stream and its shards are described again this often while polling (and after a shard
# ends); DynamoDB Local answers each description in about 10 ms, and a poll reads only the open shards.
DESCRIBE_SECONDS = 5.0
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 4.0
# Lambda's own batch size limit for a DynamoDB stream is 10,000; GetRecords returns 1,000 at most.
MAX_BATCH_SIZE = 1000

Deliver = Callable[[dict], object]


class StreamCourier:
    """Delivers the records of ``table_name``'s stream to ``deliver`` (see the module docstring)."""

    def __init__(
        self,
        table_name: str,
        deliver: Deliver,
        checkpoint: Path | None = None,
        batch_size: int = 100,
        *,
        dynamodb=None,
        streams=None,
        retry_first_seconds: float = RETRY_FIRST_SECONDS,
        retry_max_seconds: float = RETRY_MAX_SECONDS,
    ):
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
        if dynamodb is None or streams is None:
            dynamodb, streams = stream_clients()
        self.table_name = table_name
        self.deliver = deliver
        self.checkpoint = checkpoint
        self.batch_size = batch_size
        self.dynamodb = dynamodb
        self.streams = streams
        self.retry_first_seconds = retry_first_seconds
        self.retry_max_seconds = retry_max_seconds
        self._lock = threading.Lock()
        self._stream_arn: str | None = None
        # Per shard: the last sequence number done (None: none yet) and whether the shard is read to its end.
        self._positions: dict[str, dict[str, Any]] = {}
        self._loaded = False
        self._shards: list[dict] = []
        self._described_at: float | None = None
        self._iterators: dict[str, str] = {}  # shard -> where the next read of it continues
        self._failures: dict[str, int] = {}  # shard -> failed deliveries in a row
        self._not_before: dict[str, float] = {}  # shard -> when it may be tried again (monotonic)
        self._said_no_stream = False

    # ---------------------------------------------------------------- the passes

    def deliver_pending(self) -> int:
        """One pass: every record in the stream now, delivered unless its shard is waiting to retry;
        returns how many records were done. Describes the stream first, so a stream or shard that
        appeared since the last pass is read too."""
        return self._pass(describe=True)

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; a pass that fails (the emulator is down, a bug) is logged and
        tried again."""
        while not stop.is_set():
            due = self._described_at is None or time.monotonic() - self._described_at >= DESCRIBE_SECONDS
            try:
                self._pass(describe=due)
            except Exception:
                logger.exception("reading the %s stream failed; trying again", self.table_name)
                self._described_at = None
                stop.wait(self.retry_max_seconds)
            stop.wait(POLL_SECONDS)

    def start(self) -> threading.Event:
        """Run in a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name="rating-stream", daemon=True).start()
        return stop

    def _pass(self, *, describe: bool) -> int:
        with self._lock:
            if describe and not self._describe():
                return 0
            if self._stream_arn is None:
                return 0
            done = 0
            for shard in self._in_order(self._shards):
                shard_id = shard["ShardId"]
                if self._positions[shard_id]["finished"]:
                    continue
                parent = shard.get("ParentShardId")
                if parent in self._positions and not self._positions[parent]["finished"]:
                    continue  # its parent's records come first
                if self._not_before.get(shard_id, 0.0) > time.monotonic():
                    continue
                done += self._read_shard(shard_id)
            return done

    # ---------------------------------------------------------------- the stream and its shards

    def _describe(self) -> bool:
        """Find the table's current stream and its shards; False (logged once) when it has none."""
        try:
            table = self.dynamodb.describe_table(TableName=self.table_name)["Table"]
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            table = {}
        enabled = table.get("StreamSpecification", {}).get("StreamEnabled")
        arn = table.get("LatestStreamArn") if enabled else None
        if arn is None:
            if not self._said_no_stream:
                logger.warning(
                    "table %s has no stream (yet): nothing to deliver; ensure_resources turns it on",
                    self.table_name,
                )
                self._said_no_stream = True
            self._stream_arn, self._shards = None, []
            self._described_at = time.monotonic()
            return False
        self._said_no_stream = False
        self._use_stream(arn)
        shards: list[dict] = []
        params: dict[str, str] = {"StreamArn": arn}
        while True:
            described = self.streams.describe_stream(**params)["StreamDescription"]
            shards.extend(described.get("Shards", []))
            last = described.get("LastEvaluatedShardId")
            if not last:
                break
            params["ExclusiveStartShardId"] = last
        listed = {shard["ShardId"] for shard in shards}
        for shard_id in listed - set(self._positions):
            self._positions[shard_id] = {"sequenceNumber": None, "finished": False}
        for shard_id in set(self._positions) - listed:  # past the stream's 24 hours: gone
            del self._positions[shard_id]
            self._iterators.pop(shard_id, None)
        self._shards = shards
        self._described_at = time.monotonic()
        return True

    def _use_stream(self, arn: str) -> None:
        """Start keeping positions for ``arn``: those saved for it, or none (another stream is read from
        its oldest record: a table made again, a stream turned off and on)."""
        if not self._loaded:
            self._loaded = True
            saved = self._load()
            if saved.get("streamArn") == arn:
                self._stream_arn, self._positions = arn, dict(saved.get("shards", {}))
        if self._stream_arn != arn:
            self._stream_arn, self._positions = arn, {}
            self._iterators.clear()
            self._failures.clear()
            self._not_before.clear()

    @staticmethod
    def _in_order(shards: list[dict]) -> list[dict]:
        """Parents before children (DescribeStream lists them in no promised order)."""
        by_id = {shard["ShardId"]: shard for shard in shards}

        def depth(shard: dict) -> int:
            seen, count = set(), 0
            while shard.get("ParentShardId") in by_id and shard["ShardId"] not in seen:
                seen.add(shard["ShardId"])
                shard, count = by_id[shard["ParentShardId"]], count + 1
            return count

        return sorted(shards, key=depth)

    # ---------------------------------------------------------------- one shard

    def _read_shard(self, shard_id: str) -> int:
        """Deliver a shard's records from where it got to, until it has none now; how many were done."""
        done = 0
        iterator = self._iterators.pop(shard_id, None) or self._iterator(shard_id)
        while iterator is not None:
            try:
                page = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            except ClientError as error:
                if _code(error) == "TrimmedDataAccessException":
                    # DynamoDB Local has answered this once for a TRIM_HORIZON iterator of a stream just
                    # turned on for a table with data: the next pass asks for a new iterator.
                    logger.warning(
                        "stream of %s, shard %s: %s; reading it again at the next pass",
                        self.table_name,
                        shard_id,
                        error,
                    )
                    return done
                if _code(error) != "ExpiredIteratorException":
                    raise
                iterator = self._iterator(shard_id)  # an iterator lives 15 minutes
                continue
            records, after = page.get("Records", []), page.get("NextShardIterator")
            if records:
                settled = self._deliver_batch(shard_id, records)
                done += settled
                if settled < len(records):
                    return done  # the next read starts at the first record not done
            if after is None:  # a closed shard, read to its end: its children come next
                self._positions[shard_id]["finished"] = True
                self._save()
                self._described_at = None
                return done
            if not records:
                self._iterators[shard_id] = after
                return done
            iterator = after
        return done

    def _iterator(self, shard_id: str) -> str | None:
        position = self._positions[shard_id]["sequenceNumber"]
        params = {"StreamArn": self._stream_arn, "ShardId": shard_id}
        try:
            if position is None:
                answer = self.streams.get_shard_iterator(**params, ShardIteratorType="TRIM_HORIZON")
            else:
                answer = self.streams.get_shard_iterator(
                    **params, ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=position
                )
        except ClientError as error:
            if _code(error) != "TrimmedDataAccessException":
                raise
            logger.warning(
                "stream of %s, shard %s: records after %s are past the stream's retention and lost; "
                "reading from its oldest record",
                self.table_name,
                shard_id,
                position,
            )
            answer = self.streams.get_shard_iterator(**params, ShardIteratorType="TRIM_HORIZON")
        return answer.get("ShardIterator")

    def _deliver_batch(self, shard_id: str, records: list[dict]) -> int:
        """Hand one batch to ``deliver``; keep the position of the records done; how many were done."""
        assert self._stream_arn is not None
        event = {"Records": [lambda_record(record, self._stream_arn) for record in records]}
        numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
        try:
            answer = self.deliver(event)
        except Exception as error:
            self._retry_later(shard_id)
            logger.warning(
                "stream of %s, shard %s: the batch of %d records from sequence number %s failed (%s: %s); "
                "trying it again in %.1f s",
                self.table_name,
                shard_id,
                len(records),
                numbers[0],
                type(error).__name__,
                error,
                self._pause(shard_id),
            )
            return 0
        failed = failed_sequence_numbers(answer, numbers)
        if not failed:
            self._done_through(shard_id, numbers[-1])
            self._failures.pop(shard_id, None)
            self._not_before.pop(shard_id, None)
            return len(records)
        first = numbers.index(min(failed, key=int))  # Lambda's checkpoint: the lowest failed record
        if first:
            self._done_through(shard_id, numbers[first - 1])
        self._retry_later(shard_id)
        logger.warning(
            "stream of %s, shard %s: records %s failed; delivering again from sequence number %s in %.1f s",
            self.table_name,
            shard_id,
            ", ".join(sorted(failed, key=int)),
            numbers[first],
            self._pause(shard_id),
        )
        return first

    def _done_through(self, shard_id: str, sequence_number: str) -> None:
        self._positions[shard_id]["sequenceNumber"] = sequence_number
        self._save()

    def _retry_later(self, shard_id: str) -> None:
        self._failures[shard_id] = self._failures.get(shard_id, 0) + 1
        self._not_before[shard_id] = time.monotonic() + self._pause(shard_id)

    def _pause(self, shard_id: str) -> float:
        attempts = self._failures.get(shard_id, 1)
        return min(self.retry_first_seconds * 2 ** (attempts - 1), self.retry_max_seconds)

    # ---------------------------------------------------------------- the checkpoint file

    def _load(self) -> dict:
        if self.checkpoint is None:
            return {}
        try:
            return json.loads(self.checkpoint.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            logger.warning(
                "%s is unreadable (%s): reading the stream from its oldest record", self.checkpoint, error
            )
            return {}

    def _save(self) -> None:
        if self.checkpoint is None:
            return
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        partial = self.checkpoint.with_name(self.checkpoint.name + ".tmp")
        partial.write_text(json.dumps({"streamArn": self._stream_arn, "shards": self._positions}, indent=1))
        os.replace(partial, self.checkpoint)  # a crash leaves the old file or the new one, never half


# ---------------------------------------------------------------- Lambda's shapes


def lambda_record(record: dict, stream_arn: str) -> dict:
    """A GetRecords record as Lambda hands it to a function: ``eventSourceARN`` added, the creation time
    in epoch seconds and binary values in base64 (the event is JSON)."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    for key in ("Keys", "NewImage", "OldImage"):
        if key in change:
            change[key] = {name: _json_value(value) for name, value in change[key].items()}
    shaped = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": record.get("eventSource", "aws:dynamodb"),
        "awsRegion": record.get("awsRegion"),
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:  # a removal by time to live
        shaped["userIdentity"] = record["userIdentity"]
    return shaped


def _json_value(value: dict) -> dict:
    [(kind, content)] = value.items()
    if kind == "B":
        return {"B": base64.b64encode(content).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(item).decode() for item in content]}
    if kind == "M":
        return {"M": {name: _json_value(item) for name, item in content.items()}}
    if kind == "L":
        return {"L": [_json_value(item) for item in content]}
    return {kind: content}


def failed_sequence_numbers(answer: object, numbers: list[str]) -> set[str]:
    """The sequence numbers a partial batch response reports failed, as Lambda reads it: no answer, an
    empty one or an empty list is success; an identifier that is missing, empty or not in the batch
    fails the whole batch."""
    if not isinstance(answer, dict) or not answer.get("batchItemFailures"):
        return set()
    failures = answer["batchItemFailures"]
    identifiers = (
        [item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures]
        if isinstance(failures, list)
        else [None]
    )
    if not all(identifier in numbers for identifier in identifiers):
        logger.warning("a partial batch response names records not in the batch: the whole batch failed")
        return set(numbers)
    return {str(identifier) for identifier in identifiers}


def _code(error: ClientError) -> str | None:
    return error.response.get("Error", {}).get("Code")


# ---------------------------------------------------------------- clients and the courier of `make run`


def stream_clients():
    """The service's DynamoDB client and a DynamoDB Streams client beside it: on an emulator, at the
    tables' endpoint (DynamoDB Local serves both APIs on one port); else at the regional streams
    endpoint, not the per-account one botocore now derives from a stream's ARN, which moto does not
    answer."""
    import boto3  # third-party, lazy

    from core.aws import botocore_session, client_config, is_aws_endpoint, service_client

    dynamodb = service_client("dynamodb")
    endpoint = dynamodb.meta.endpoint_url
    session = boto3.session.Session(botocore_session=botocore_session())
    if is_aws_endpoint(endpoint):
        config = client_config(account_id_endpoint_mode="disabled")
        return dynamodb, session.client("dynamodbstreams", config=config)
    return dynamodb, session.client("dynamodbstreams", endpoint_url=endpoint, config=client_config())


def ratings_stream_handler(event: dict) -> object:
    """The function Lambda invokes with the PhotoRatings stream on AWS (``STREAM_HANDLER``), imported
    when the first batch comes, called without a Lambda context (None)."""
    from gallery_project.resources import STREAM_HANDLER  # Django is set up by the time a batch comes

    module, _, name = STREAM_HANDLER.rpartition(".")
    return getattr(import_module(module), name)(event, None)


def courier_for_the_api(checkpoint: Path) -> StreamCourier:
    """The courier of `make run`: the PhotoRatings stream, delivered to the function Lambda invokes with
    it on AWS, in batches as large as the mapping's."""
    from django.conf import settings  # Django is set up by the time a worker calls this

    from gallery_project.resources import STREAM_BATCH_SIZE

    return StreamCourier(
        settings.PHOTO_RATINGS_TABLE, ratings_stream_handler, checkpoint, batch_size=STREAM_BATCH_SIZE
    )
