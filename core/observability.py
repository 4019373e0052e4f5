"""Structured logs and CloudWatch metrics for every request, Lambda event and management command.

Logs: with LOG_FORMAT=json (the default) every line is one JSON object (``JsonFormatter``): level, location,
message, UTC timestamp, service, logger, and the ids of the request, event or command it belongs to
(``log_context``, written onto each record by the ``LogContext`` filter): the request id answered in
``X-Request-Id`` and Lambda's own request id, which its REPORT line names. A request ends with one line on
``gallery.requests`` (``core.middleware.RequestLogMiddleware``), a Lambda event or a command with one on
``gallery.entrypoints`` (``observed``).

Metrics: ``metric(name, value, unit, **dimensions)`` records one value; the request, event or command it
belongs to (``metrics_recorded``) prints what was recorded when it ends, in CloudWatch's Embedded Metric
Format, which CloudWatch Logs turns into metrics of METRICS_NAMESPACE. A value recorded in a worker thread
that carries its caller's context (``core.deadline.carried``) is printed with its caller's; one recorded
outside any (a shell) is printed at once. Nothing recorded, nothing printed; printing never fails the work
it measures. The documents are log records of ``gallery.metrics``, which the settings write as they are
(a document nested inside a JSON log line would be no metric), on stderr like every log line: a command's
stdout is its output (``--json``), and Lambda sends both streams to the same log stream.

Written here rather than with AWS Lambda Powertools: its ``Metrics`` keeps one metric set per process
shared by every thread (the threads of a local server would print each other's requests' values), prints
to stdout whenever a metric reaches 100 values (in the middle of a command's output), and has one set of
dimensions per document, so a refusal's ``code`` would be stamped on every other metric printed with it;
its ``Logger`` would take the handlers Django's LOGGING owns. What was left of it to use, its JSON
formatter and its EMF serializer, is the few dozen lines below (``JsonFormatter``, ``_document``), while
the package costs 2 MB of the Lambda zip (which must stay under 30 MiB) and 15-25 ms of every cold start.
The document follows CloudWatch's Embedded Metric Format specification (``_aws.CloudWatchMetrics``).
"""

import json
import logging
import numbers
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

logger = logging.getLogger(__name__)
metrics_logger = logging.getLogger("gallery.metrics")
entrypoints_logger = logging.getLogger("gallery.entrypoints")

# The metrics this service records (alarms and dashboards name them: never rename one).
PHOTOS_STORED = "PhotosStored"  # a new photo committed, whatever door it came in by
# A file that did not become a photo, whatever its door; dimension ``code`` says why (also a scan's
# re-render of an original the prepare step now refuses, which is rare).
PHOTOS_REFUSED = "PhotosRefused"
RENDER_MS = "RenderMs"  # one photo's decode and renditions
GALLERIES_CREATED = "GalleriesCreated"
RATING_WRITES = "RatingWrites"  # a visitor's rating put (new or changed; withdrawals are not counted)
API_LATENCY_MS = "ApiLatencyMs"  # every answer but a static file's
API_5XX = "Api5xx"  # 1 for an answer of 500 or more, 0 for any other: its average is the error rate
# A write tried again because others were writing the same item, by ``reason``: TransactionConflict
# (another transaction held an item), ThrottlingError or ProvisionedThroughputExceeded (DynamoDB's
# refusals), and a rating's own tries: RatingRaced (the rating changed between its read and its
# transaction), Contended (every attempt of its transaction met a conflict). Many of them on one photo
# are the sign of a hot item (docs/scale.md).
WRITE_RETRIES = "WriteRetries"
# A photo whose rating transactions kept meeting each other turned hot: its ratings go through the stream
# (photos.services.rate). RatingStreamChanges: streamed ratings added to aggregates by the aggregator.
HOT_PHOTOS = "HotPhotos"
RATING_STREAM_CHANGES = "RatingStreamChanges"

# The units CloudWatch takes (its MetricDatum.Unit values).
UNITS = frozenset(
    {"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
     "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
     "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
     "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}
)  # fmt: skip
COUNT = "Count"
MILLISECONDS = "Milliseconds"

# CloudWatch's limits on one EMF document: 100 metrics, 100 values per metric.
MAX_METRICS = 100
MAX_VALUES = 100

Dimensions = tuple[tuple[str, str], ...]


@dataclass
class _Series:
    unit: str
    values: list[float] = field(default_factory=list)


class MetricsRecorder:
    """The values one request, event or command recorded, by set of dimensions, until it ends.

    Worker threads add to it (a lock keeps every value); a metric that reaches MAX_VALUES is printed at
    once, so a long scan holds at most that many of each. Once flushed, a late value (a thread that
    outlived its request) is printed on its own rather than lost."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: dict[Dimensions, dict[str, _Series]] = {}
        self._flushed = False

    def add(self, name: str, value: float, unit: str, dimensions: Dimensions) -> None:
        full: dict[str, _Series] | None = None
        with self._lock:
            if self._flushed:
                full = {name: _Series(unit, [value])}
            else:
                metrics = self._sets.setdefault(dimensions, {})
                series = metrics.setdefault(name, _Series(unit))
                series.values.append(value)
                if len(series.values) >= MAX_VALUES:
                    full = {name: metrics.pop(name)}
        if full is not None:
            _print(dimensions, full)

    def flush(self) -> None:
        """Print every value recorded (one document per set of dimensions and per hundred); never raises."""
        with self._lock:
            sets, self._sets, self._flushed = self._sets, {}, True
        for dimensions, metrics in sets.items():
            if metrics:
                _print(dimensions, metrics)


_recorder: ContextVar[MetricsRecorder | None] = ContextVar("metrics_recorder", default=None)
_log_keys: ContextVar[dict[str, str] | None] = ContextVar("log_keys", default=None)


def metric(name: str, value: float, unit: str = COUNT, **dimensions: str) -> None:
    """Record one value of a metric for the request, event or command under way. Never raises: a bad
    name, value or unit is logged as an error and the value dropped (the tests assert every metric)."""
    if not 0 < len(name) <= 255 or unit not in UNITS or not isinstance(value, numbers.Real):
        logger.error("metric %r refused: value %r, unit %r", name, value, unit)
        return
    shown = tuple(sorted((key, str(item)) for key, item in dimensions.items() if str(item).strip()))
    recorder = _recorder.get()
    if recorder is None:
        _print(shown, {name: _Series(unit, [float(value)])})
    else:
        recorder.add(name, float(value), unit, shown)


@contextmanager
def metrics_recorded() -> Iterator[MetricsRecorder]:
    """Collect the metrics recorded in the block (and in the worker threads it starts with its context),
    printed when it ends, however it ends."""
    recorder = MetricsRecorder()
    token = _recorder.set(recorder)
    try:
        yield recorder
    finally:
        _recorder.reset(token)
        recorder.flush()


def emf_documents(dimensions: Dimensions, metrics: dict[str, _Series]) -> Iterator[dict]:
    """The EMF documents of one set of dimensions: at most MAX_METRICS metrics and MAX_VALUES values of
    each per document. A metric with dimensions is also published without them (a second dimension set,
    ``service`` alone), so an alarm can watch every refusal whatever its code."""
    longest = max(len(series.values) for series in metrics.values())
    for start in range(0, longest, MAX_VALUES):
        batch = {
            name: _Series(series.unit, series.values[start : start + MAX_VALUES])
            for name, series in metrics.items()
            if len(series.values) > start
        }
        names = list(batch)
        for first in range(0, len(names), MAX_METRICS):
            yield _document(dimensions, {name: batch[name] for name in names[first : first + MAX_METRICS]})


def _document(dimensions: Dimensions, metrics: dict[str, _Series]) -> dict:
    """One EMF document: the metrics' values under their names, the dimensions' values under theirs, and
    ``_aws`` saying which is which. With dimensions besides ``service``, a second dimension set of
    ``service`` alone makes the totals across them (all refusals, whatever their code)."""
    service = {"service": settings.SERVICE_NAME}
    dimension_values = {**service, **dict(dimensions)}
    dimension_sets = [list(dimension_values)] + ([list(service)] if dimensions else [])
    return {
        # Searchable in the logs beside the values, never a dimension (one per request would cost).
        **dict(_log_keys.get() or {}),
        **dimension_values,
        **{name: list(series.values) for name, series in metrics.items()},  # EMF takes a value or an array
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": settings.METRICS_NAMESPACE,
                    "Dimensions": dimension_sets,
                    "Metrics": [
                        {"Name": name, "Unit": series.unit, "StorageResolution": 60}
                        for name, series in metrics.items()
                    ],
                }
            ],
        },
    }


def _print(dimensions: Dimensions, metrics: dict[str, _Series]) -> None:
    try:
        for document in emf_documents(dimensions, metrics):
            metrics_logger.info("%s", json.dumps(document, separators=(",", ":")))
    except Exception:
        logger.exception("could not print the metrics %s", sorted(metrics))


@contextmanager
def log_context(**keys: str | None) -> Iterator[None]:
    """Name the ids of the request, event or command under way on every log line written in the block
    (and in the worker threads it starts with its context); empty values are left out."""
    token = _log_keys.set({**(_log_keys.get() or {}), **{key: value for key, value in keys.items() if value}})
    try:
        yield
    finally:
        _log_keys.reset(token)


class LogContext(logging.Filter):
    """A handler's filter: writes ``log_context``'s ids onto each record it handles (never over a field
    the record has), for the formatter to print."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_log_keys.get() or {}).items():
            record.__dict__.setdefault(key, value)
        return True


# Record fields never printed: Django's ``django.request`` records carry the request itself, whose text
# holds the query string (where a token may be).
HIDDEN_FIELDS = ("request",)


# What every LogRecord has (its own attributes): the rest of a record's fields are what ``extra=`` and
# ``log_context`` added, printed as fields of their own.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: level, location (function:line), message, timestamp (UTC, RFC 3339 with
    milliseconds), service, logger, an exception's type and traceback, and the record's own fields
    (``extra=``, the ids of ``log_context``) except HIDDEN_FIELDS."""

    def __init__(self, service: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.service = service or None

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        line: dict = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": moment.isoformat(timespec="milliseconds"),
            "service": self.service,
            "logger": record.name,
        }
        for name, value in record.__dict__.items():
            if name not in _RECORD_ATTRIBUTES and name not in HIDDEN_FIELDS and not name.startswith("_"):
                line.setdefault(name, value)
        if record.exc_info and record.exc_info[0] is not None:
            line["exception_name"] = record.exc_info[0].__name__
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, separators=(",", ":"))


class Run:
    """How an event or a command ended: ``ok`` unless its entry point says ``refused`` (a domain error,
    with its code), or an exception escaped (``failed``, with the exception's type)."""

    def __init__(self) -> None:
        self.outcome = "ok"
        self.fields: dict[str, str] = {}

    def refused(self, code: str) -> None:
        self.outcome, self.fields = "refused", {"code": code}


@contextmanager
def observed(kind: str, name: str, **ids: str | None) -> Iterator[Run]:
    """A Lambda event or a management command: its name and ids on every log line of the block, its
    metrics printed when it ends, and one line on ``gallery.entrypoints`` saying how it ended and in how
    long (``kind`` is the line's field for the name: ``event`` or ``command``)."""
    run = Run()
    started = time.perf_counter()
    with log_context(**{kind: name}, **ids), metrics_recorded():
        try:
            yield run
        except BaseException as error:
            if run.outcome == "ok":  # a refusal the entry point re-raises in its own words stays one
                run.outcome, run.fields = "failed", {"error": type(error).__name__}
            raise
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            level = {"ok": logging.INFO, "refused": logging.WARNING}.get(run.outcome, logging.ERROR)
            entrypoints_logger.log(
                level,
                "%s %s %s in %.0f ms",
                kind,
                name,
                run.outcome,
                duration_ms,
                extra={"outcome": run.outcome, "duration_ms": duration_ms, **run.fields},
            )
