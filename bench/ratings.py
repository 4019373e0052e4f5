"""A hot photo: N visitors rating ONE photo at once, through the real service over HTTP, on DynamoDB Local.

Run `.venv/bin/python bench/ratings.py [--clients 1,4,16,64] [--seconds 6] [--passes local,conflicts]`
(about two and a half minutes on 2 cores with the defaults).

What runs: a DynamoDB Local and an s3rver of the bench's own, on free ports with their data in /dev/shm
(``tests.faults.services.FaultServices``, the fault suite's pair, started with devtools' command lines),
the tables and bucket made by ``resources_ensure``, and the service served on loopback by gunicorn the way
`make run` serves it (``devtools.local_services.server.gunicorn_command``: its config, one worker process),
with as many threads as the largest level has clients. gunicorn rather than an in-process wsgiref server:
the clients' threads then do not share the server's interpreter lock (on 2 cores that would count the
bench's own work as the service's latency), and each request is served the way `make run` serves it, its
metrics printed on stderr as on Lambda, which is where the bench reads the service's retries. One
thread per client (as on Lambda, where each concurrent request has a function instance to itself), so a
request never waits for a server thread.

Each level creates a gallery's photo once (one per pass) and N visitors; each visitor is its own client
(one keep-alive connection) and rates the photo again and again through `PUT /api/photos/{id}/ratings/
{userId}` (the guide's `rate_photo` reaches the same view), 1 to 5 stars, never the same twice in a row:
its first write takes its visitor id (201, with a token), the rest send `X-Visitor-Token` (200). Every
client shares 127.0.0.1, so the per-address limits are raised for the bench through the environment the
settings read (printed with the figures): RATING_THROTTLE_RATE, READ_THROTTLE_RATE and
RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY. The code is the service's own.

Printed per level: writes/s, p50/p99 latency, answers that were 409, 5xx or anything else but 200/201,
the retries the service made (its ``WriteRetries`` metric by reason, read from the EMF documents gunicorn
prints: a transaction cancelled by a TransactionConflict, a single write meeting a transaction, a rating
that raced), and then the store checked by the fault suite's invariant checker (``tests.faults.
invariants``: among its rules, every photo's ratingCount, ratingSum and histogram equal a recount of its
PhotoRatings items) with the photo's figures beside the recount, and whether its ``ratingOrder`` (the
sortable average) settled on the final aggregate. The baseline, in the same run and at the same
concurrency: `GET /api/photos/{id}/ratings` (the photo's rating summary: the same photo lookup and
gallery check, no write).

Three passes. ``local``: DynamoDB Local as it is; it runs transactions one at a time, so it never answers
TransactionConflict, and its figures are the service's own cost per write. ``conflicts``: the service talks
to DynamoDB Local through a loopback proxy of this script that answers as DynamoDB does when writers meet
on an item (its transaction conflict rules: a TransactWriteItems that touches an item another
transaction is writing is cancelled with ``TransactionConflict`` for that item, and a PutItem, UpdateItem
or DeleteItem of such an item fails with ``TransactionConflictException``). An item counts as being
written for a transaction's whole round trip through the proxy, so conflicts here come at least as often
as on AWS for the same overlap of writers; it is a model of the rule, not of AWS's timings.
``hot``: the conflict rule again, with PhotoRatings' stream reaching the service
(RATING_STREAM_AGGREGATION=true; gunicorn's worker delivers the stream as `make run` does) and the photo
hot from the start (as the first rating whose transaction runs out of attempts on conflicts makes it):
its ratings are plain puts and the stream aggregator adds them to the aggregate. After each level the
bench waits for the aggregate to equal the recount and prints how long that took after the last write
(the aggregate's staleness when the ratings stop), then the same checks.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from isolated import PROJECT_ROOT, isolate

LOOPBACK = "127.0.0.1"
# Every client shares 127.0.0.1: the per-address limits are raised for the bench, through the environment.
BENCH_SETTINGS = {
    "RATING_THROTTLE_RATE": "1000000/s",
    "READ_THROTTLE_RATE": "1000000/s",
    "RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY": "1000000",
}
PASSES = ("local", "conflicts", "hot")
# The ``hot`` pass: how long, after a level's last write, the stream aggregator may take to catch up.
CATCH_UP_SECONDS = 30.0
SERVER_START_SECONDS = 60.0
CLIENT_TIMEOUT_SECONDS = 30.0  # above the service's own request deadline (22 s)


# ---------------------------------------------------------------- the service under test


class Server:
    """The service under gunicorn, as `make run` starts it, on a free loopback port; its stderr (the JSON
    log lines and the EMF metric documents) goes to a file the bench reads."""

    def __init__(self, environment: dict[str, str], threads: int, log_path: Path):
        from devtools.local_services.processes import free_port
        from devtools.local_services.server import gunicorn_command

        self.port = free_port()
        self.log_path = log_path
        command = [*gunicorn_command(self.port), "--threads", str(threads)]
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def wait_ready(self) -> None:
        from devtools.local_services.processes import wait_until_ready

        def answers() -> bool:
            try:
                return request(self.connection(), "GET", "/api/").status == 200
            except OSError:
                return False

        wait_until_ready("gunicorn", answers, lambda: self.process.poll() is None, self.log_path)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(LOOPBACK, self.port, timeout=CLIENT_TIMEOUT_SECONDS)

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def metrics_since(self, offset: int) -> Counter:
        """The service's metrics printed since ``offset`` of its log: each EMF document's values summed,
        by metric name and, for WriteRetries, by reason."""
        totals: Counter = Counter()
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            for line in log:
                if b'"_aws"' not in line:
                    continue
                document = json.loads(line)
                for directive in document["_aws"]["CloudWatchMetrics"]:
                    for metric in directive["Metrics"]:
                        values = document[metric["Name"]]
                        total = sum(values) if isinstance(values, list) else values
                        reason = document.get("reason")
                        totals[f"{metric['Name']}:{reason}" if reason else metric["Name"]] += total
        return totals

    def stop(self) -> None:
        from devtools.local_services.processes import stop_child

        self.process.terminate()
        stop_child(self.process)


@dataclass
class Answer:
    status: int
    body: bytes


def request(
    connection: http.client.HTTPConnection, method: str, path: str, body=None, headers=None
) -> Answer:
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return Answer(response.status, response.read())


# ---------------------------------------------------------------- DynamoDB's conflict rule, modelled


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    # Every client of a level connects at once: http.server's backlog of 5 would drop connections
    # (the kernel's retry comes a second later, past botocore's connect timeout).
    request_queue_size = 256


class ConflictProxy:
    """A loopback proxy in front of DynamoDB Local that applies DynamoDB's transaction conflict rule.

    While a TransactWriteItems is on its way through (sent on, not yet answered), its items are being
    written: another TransactWriteItems touching one of them is cancelled at once with
    ``TransactionConflict`` for that item (``None`` for the others), and a PutItem, UpdateItem or
    DeleteItem of one fails with ``TransactionConflictException``, as DynamoDB answers them. A single
    write does not block a transaction (DynamoDB orders those itself). Reads pass.
    """

    WRITES = ("PutItem", "UpdateItem", "DeleteItem")

    def __init__(self, target_port: int, key_names: dict[str, list[str]]):
        self.target_port = target_port
        self.key_names = key_names
        self.lock = threading.Lock()
        self.busy: Counter = Counter()  # items of transactions under way
        self.cancelled: Counter = Counter()  # what the proxy refused, by kind
        self.calls: Counter = Counter()  # every call the service made, by operation
        self.local = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
                status, headers, answer = proxy.handle(operation, body, dict(self.headers))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = _ProxyServer((LOOPBACK, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _key(self, table: str, spec: dict) -> tuple[str, str]:
        key = spec.get("Key") or {name: spec["Item"][name] for name in self.key_names[table]}
        return table, json.dumps(key, sort_keys=True)

    def handle(self, operation: str, body: bytes, headers: dict) -> tuple[int, list, bytes]:
        with self.lock:
            self.calls[operation] += 1
        if operation == "TransactWriteItems":
            actions = [next(iter(action.items())) for action in json.loads(body)["TransactItems"]]
            items = [self._key(spec["TableName"], spec) for _, spec in actions]
            with self.lock:
                taken = [item for item in items if self.busy[item]]
                if not taken:
                    self.busy.update(items)
            if taken:
                self.cancelled["TransactWriteItems"] += 1
                reasons = [
                    {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                    if item in taken
                    else {"Code": "None"}
                    for item in items
                ]
                codes = ", ".join(reason["Code"] for reason in reasons)
                return self._error(
                    "TransactionCanceledException",
                    f"Transaction cancelled, please refer cancellation reasons for specific reasons"
                    f" [{codes}]",
                    CancellationReasons=reasons,
                )
            try:
                return self._forward(body, headers)
            finally:
                with self.lock:
                    self.busy.subtract(items)
        if operation in self.WRITES:
            spec = json.loads(body)
            with self.lock:
                taken = bool(self.busy[self._key(spec["TableName"], spec)])
            if taken:
                self.cancelled[operation] += 1
                return self._error("TransactionConflictException", "Transaction is ongoing for the item")
        return self._forward(body, headers)

    def _error(self, code: str, message: str, **extra) -> tuple[int, list, bytes]:
        document = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message, **extra}
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", uuid.uuid4().hex)]
        return 400, headers, json.dumps(document).encode()

    def _forward(self, body: bytes, headers: dict) -> tuple[int, list, bytes]:
        for attempt in (1, 2):  # a kept-alive connection DynamoDB Local closed is opened again once
            connection = getattr(self.local, "connection", None)
            if connection is None:
                connection = self.local.connection = http.client.HTTPConnection(LOOPBACK, self.target_port)
            try:
                connection.request("POST", "/", body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                self.local.connection = None
                if attempt == 2:
                    raise
                continue
            kept = [
                (name, value)
                for name, value in response.getheaders()
                if name.lower() in ("content-type", "x-amzn-requestid", "x-amz-crc32")
            ]
            return response.status, kept, answer
        raise AssertionError("unreachable")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- clients


@dataclass
class Tally:
    """What one level's clients saw."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_answer: float = 0.0  # when the last answer came (monotonic)

    def add(self, status: int, milliseconds: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies_ms.append(milliseconds)
            self.last_answer = time.monotonic()

    @property
    def ok(self) -> int:
        return self.statuses[200] + self.statuses[201]

    def count(self, low: int, high: int) -> int:
        return sum(n for status, n in self.statuses.items() if low <= status <= high)

    def percentile(self, fraction: float) -> float:
        return percentile(self.latencies_ms, fraction)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def rater(server: Server, photo_id: str, user_id: str, seed: int, tally: Tally, start, stop_at: list):
    """One visitor: rates the photo until the level ends, never giving the same stars twice running."""
    chooser, connection, token, stars = random.Random(seed), server.connection(), None, 0
    path = f"/api/photos/{photo_id}/ratings/{user_id}"
    start.wait()
    while time.monotonic() < stop_at[0]:
        stars = chooser.choice([value for value in range(1, 6) if value != stars])
        headers = {"Content-Type": "application/json", **({"X-Visitor-Token": token} if token else {})}
        began = time.perf_counter()
        try:
            answer = request(connection, "PUT", path, json.dumps({"rating": stars}), headers)
        except (OSError, http.client.HTTPException):
            tally.add(0, (time.perf_counter() - began) * 1000)  # no answer: counted as "other"
            connection.close()
            continue
        tally.add(answer.status, (time.perf_counter() - began) * 1000)
        if answer.status in (200, 201):
            token = json.loads(answer.body)["visitorToken"]
    connection.close()


def reader(server: Server, photo_id: str, tally: Tally, start, stop_at: list):
    """The baseline: the photo's rating summary, read again and again."""
    connection = server.connection()
    start.wait()
    while time.monotonic() < stop_at[0]:
        began = time.perf_counter()
        try:
            answer = request(connection, "GET", f"/api/photos/{photo_id}/ratings")
        except (OSError, http.client.HTTPException):
            tally.add(0, (time.perf_counter() - began) * 1000)
            connection.close()
            continue
        tally.add(answer.status, (time.perf_counter() - began) * 1000)
    connection.close()


def run_clients(target, arguments: list[tuple], seconds: float) -> tuple[Tally, float]:
    """One ``target`` thread per client's arguments (``run_threads``), all counting into one tally; the
    tally and the time they ran."""
    tally = Tally()
    return tally, run_threads([(target, (*args, tally)) for args in arguments], seconds)


def run_threads(clients: list[tuple], seconds: float) -> float:
    """Start one thread per (target, args), release them together, stop them after ``seconds`` (each
    target is called with ``*args, start, stop_at``: it waits on ``start`` and stops past ``stop_at[0]``);
    the time they ran (the last answer may come after the stop)."""
    start, stop_at = threading.Barrier(len(clients) + 1), [float("inf")]
    threads = [
        threading.Thread(target=target, args=(*args, start, stop_at), daemon=True) for target, args in clients
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    stop_at[0] = began + seconds
    for thread in threads:
        thread.join(CLIENT_TIMEOUT_SECONDS + seconds)
    return time.monotonic() - began


def cpu_seconds(pid: int, *, descendants: bool) -> float:
    """User and system CPU time of a process, with its descendants still running (gunicorn's worker) or
    not (this process starts the emulators and gunicorn: they are counted on their own)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    family, total = {pid}, 0.0
    for _ in range(3 if descendants else 0):  # children, grandchildren
        family |= {child for child, (parent, _) in stats.items() if parent in family}
    for member in family:
        total += stats.get(member, (0, 0.0))[1]
    return total


class CpuMeter:
    """CPU time of the service, DynamoDB Local and this process (clients, and the proxy when there is one)
    between two readings: where a rating's time went on this machine."""

    def __init__(self, server: int, dynamodb: int):
        self.pids = {
            "service": (server, True),
            "DynamoDB Local": (dynamodb, False),
            "bench": (os.getpid(), False),
        }
        self.start = self.read()

    def read(self) -> dict[str, float]:
        return {name: cpu_seconds(pid, descendants=tree) for name, (pid, tree) in self.pids.items()}

    def per(self, count: int) -> str:
        now = self.read()
        spent = {name: (now[name] - self.start[name]) * 1000 / max(count, 1) for name in now}
        return ", ".join(f"{name} {ms:.1f} ms" for name, ms in spent.items())


# ---------------------------------------------------------------- the store, checked


def photo_jpeg() -> bytes:
    """A 640x480 JPEG with a camera's EXIF (make, model, lens, exposure, date, GPS), so the photo item
    carries about what a real one does."""
    from PIL import Image

    image = Image.new("RGB", (640, 480), (90, 120, 150))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "BenchCam", "BenchCam Mark IV", "2024:05:01 12:00:00"
    details = exif.get_ifd(0x8769)
    details.update({0x829A: 1 / 250, 0x829D: 5.6, 0x8827: 200, 0x920A: 35.0, 0xA434: "Bench 24-70mm F2.8"})
    details[0x9003] = "2024:05:01 12:00:00"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def photo_create(server: Server, curator_key: str, name: str) -> str:
    """A gallery with one photo, through the API (as a curator would); the photo's id."""
    from urllib3 import encode_multipart_formdata

    connection = server.connection()
    auth = {"Authorization": f"Bearer {curator_key}"}
    body = json.dumps({"name": name, "continent": "Europe", "country": "France"})
    answer = request(connection, "POST", "/api/galleries", body, {**auth, "Content-Type": "application/json"})
    assert answer.status == 201, answer
    gallery_id = json.loads(answer.body)["galleryId"]
    form, content_type = encode_multipart_formdata({"photos": ("hot.jpg", photo_jpeg(), "image/jpeg")})
    path = f"/api/galleries/{gallery_id}/photos"
    answer = request(connection, "POST", path, form, {**auth, "Content-Type": content_type})
    assert answer.status == 201, answer
    connection.close()
    return json.loads(answer.body)["photos"][0]["photoId"]


def photo_make_hot(photo_id: str) -> None:
    """Mark the photo hot from the start, as the first rating whose transaction ran out of attempts on
    conflicts does (on this machine the service's two cores, not conflicts, set the pace: that rating may
    never come within a level's seconds)."""
    from photos.models import GalleryPhoto
    from photos.selectors import photo_find
    from photos.services.rate import hot_until

    photo = photo_find(photo_id=photo_id)
    photo.update(actions=[GalleryPhoto.rating_hot_until.set(hot_until())])


def item_bytes(value, name: str = "") -> int:
    """An item's size by DynamoDB's rules (names and values in UTF-8, numbers by their digits, 3 bytes
    per list or map plus 1 per element): what its write units are counted from."""
    size = len(name.encode())
    if isinstance(value, str):
        return size + len(value.encode())
    if isinstance(value, bool) or value is None:
        return size + 1
    if isinstance(value, int | float | Decimal):
        digits = len(str(abs(Decimal(str(value)))).replace(".", "").strip("0")) or 1
        return size + 1 + (digits + 1) // 2
    if isinstance(value, bytes):
        return size + len(value)
    if isinstance(value, dict):
        return size + 3 + sum(item_bytes(item, key) + 1 for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return size + 3 + sum(item_bytes(item) + 1 for item in value)
    raise TypeError(type(value))


@dataclass
class StoreCheck:
    violations: list[str]
    stored: tuple  # count, sum, average on the photo item
    recounted: tuple  # the same from PhotoRatings
    rating_order_settled: bool
    photo_bytes: int
    hot: bool  # the photo's ratings go through the stream


def caught_up_after(photo_id: str, last_answer: float) -> float:
    """How long after ``last_answer`` (monotonic) the photo's aggregate equalled a recount of its ratings
    with ``ratingOrder`` on it (the stream aggregator caught up), polled every 10 ms with two reads: the
    photo item and its ratings; ``CATCH_UP_SECONDS`` at most."""
    from photos.selectors import photo_find
    from photos.services.order_keys import rating_order_of
    from ratings import aggregate
    from ratings.models import PhotoRating

    while True:
        photo = photo_find(photo_id=photo_id)
        stars = [aggregate.counted_value(r.rating) for r in PhotoRating.query(photo_id, consistent_read=True)]
        counted = [value for value in stars if value is not None]
        settled = aggregate.totals(photo) == (len(counted), sum(counted))
        waited = time.monotonic() - last_answer
        if (settled and photo.rating_order == rating_order_of(photo)) or waited > CATCH_UP_SECONDS:
            return waited
        time.sleep(0.01)


def store_check(photo_id: str) -> StoreCheck:
    """The fault suite's invariant checker over the whole store, and the photo's figures beside a recount."""
    from photos.models import GalleryPhoto
    from photos.services.order_keys import rating_order_of
    from ratings import aggregate
    from tests.faults.invariants import StoreSnapshot, store_violations

    snapshot = StoreSnapshot.read()
    violations = store_violations(snapshot)
    [raw] = [photo for photo in snapshot.photos if photo["photoId"] == photo_id]
    stars = [aggregate.counted_value(r.get("rating")) for r in snapshot.ratings if r["photoId"] == photo_id]
    stars = [value for value in stars if value is not None]
    photo = GalleryPhoto.get(raw["galleryId"], photo_id, consistent_read=True)
    count, total = aggregate.totals(photo)
    return StoreCheck(
        violations=violations,
        stored=(count, total, aggregate.average(photo)),
        recounted=(len(stars), sum(stars), round(sum(stars) / len(stars), 2) if stars else None),
        rating_order_settled=photo.rating_order == rating_order_of(photo),
        photo_bytes=item_bytes(raw),
        hot=photo.rating_hot_until is not None,
    )


# ---------------------------------------------------------------- one pass


def key_names() -> dict[str, list[str]]:
    """Each table's key attributes (a Put names its item, not its key)."""
    from gallery_project.resources import table_models

    return {
        model.Meta.table_name: [
            attribute.attr_name
            for attribute in model.get_attributes().values()
            if attribute.is_hash_key or attribute.is_range_key
        ]
        for model in table_models()
    }


def figures_row(label: str, clients: int, tally: Tally, seconds: float, extra: str = "") -> str:
    rate = tally.ok / seconds if seconds else 0.0
    other = sum(tally.statuses.values()) - tally.ok - tally.statuses[409] - tally.count(500, 599)
    return (
        f"{clients:>7} {label:<5} {rate:>8.1f} {tally.percentile(0.50):>8.1f} {tally.percentile(0.99):>8.1f}"
        f" {tally.statuses[409]:>5} {tally.count(500, 599):>5} {other:>5}  {extra}"
    )


def run_pass(name: str, args, services, environment: dict[str, str], curator_key: str, work: Path) -> bool:
    """One pass over the levels; False when a check failed."""
    proxy = None
    endpoint = services.dynamodb.endpoint_url
    streamed = {"RATING_STREAM_AGGREGATION": "true" if name == "hot" else "false"}
    if name in ("conflicts", "hot"):
        proxy = ConflictProxy(services.dynamodb.port, key_names())
        endpoint = f"http://{LOOPBACK}:{proxy.port}"
    server = Server(
        {**environment, **streamed, "AWS_ENDPOINT_URL_DYNAMODB": endpoint},
        max(args.clients),
        work / f"gunicorn-{name}.log",
    )
    healthy = True
    try:
        server.wait_ready()
        photo_id = photo_create(server, curator_key, f"hot photo ({name})")
        if name == "hot":
            photo_make_hot(photo_id)
        print(
            f"\npass {name!r}: "
            + (
                "DynamoDB Local as it is (transactions run one at a time: no TransactionConflict)"
                if proxy is None
                else "through the proxy that applies DynamoDB's transaction conflict rule"
                + ("; the stream reaches the service and the photo is hot" if name == "hot" else "")
            )
        )
        print(
            f"{'clients':>7} {'kind':<5} {'ok/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'409':>5} {'5xx':>5}"
            f" {'other':>5}  service's retries | store"
        )
        # Not reported: DynamoDB Local's JIT and the server's first requests (imports, clients) warm up.
        warm = [(server, photo_id, f"bench-{name}-warm-{n}-{uuid.uuid4().hex[:8]}", n) for n in range(4)]
        run_clients(rater, warm, args.warmup_seconds)
        run_clients(reader, [(server, photo_id)] * 4, args.warmup_seconds / 2)
        for clients in args.clients:
            reads, read_seconds = run_clients(reader, [(server, photo_id)] * clients, args.baseline_seconds)
            print(figures_row("GET", clients, reads, read_seconds, "(baseline: the photo's rating summary)"))
            offset, refused_before = server.log_size(), Counter(proxy.cancelled if proxy else {})
            calls_before = Counter(proxy.calls if proxy else {})
            meter = CpuMeter(server.process.pid, services.dynamodb.pid)
            visitors = [
                (server, photo_id, f"bench-{name}-{clients}-{n}-{uuid.uuid4().hex[:8]}", n)
                for n in range(clients)
            ]
            writes, write_seconds = run_clients(rater, visitors, args.seconds)
            cpu = meter.per(writes.ok)
            caught_up = caught_up_after(photo_id, writes.last_answer) if name == "hot" else 0.0
            time.sleep(0.2)  # the last request's metrics line is written as its answer goes out
            metrics = server.metrics_since(offset)
            retries = {
                key.partition(":")[2]: int(value)
                for key, value in sorted(metrics.items())
                if key.startswith("WriteRetries:")
            }
            retried = ", ".join(f"{reason} {n}" for reason, n in retries.items()) or "none"
            if proxy is not None:
                refused = {kind: n - refused_before[kind] for kind, n in proxy.cancelled.items()}
                retried += (
                    " (conflicts answered: "
                    + (", ".join(f"{kind} {n}" for kind, n in sorted(refused.items()) if n) or "none")
                    + ")"
                )
            check = store_check(photo_id)
            exact = not check.violations and check.stored == check.recounted
            print(figures_row("PUT", clients, writes, write_seconds, f"retries: {retried}"))
            print(f"{'':>14}CPU per rating written: {cpu}")
            if name == "hot":
                print(
                    f"{'':>14}photo hot: {'yes' if check.hot else 'no'}; streamed ratings added "
                    f"{int(metrics['RatingStreamChanges'])}; aggregate = recount {caught_up:.2f} s after "
                    "the last answer"
                )
            print(
                f"{'':>14}service counted {int(metrics['RatingWrites'])} rating writes; "
                f"aggregate {'=' if exact else '!='} recount: count/sum/average {check.stored} vs "
                f"{check.recounted}; ratingOrder {'settled' if check.rating_order_settled else 'NOT settled'}"
                f"; invariant checker: {'no violation' if not check.violations else check.violations}"
            )
            if proxy is not None and writes.ok:
                calls = {op: n - calls_before[op] for op, n in proxy.calls.items() if n > calls_before[op]}
                print(
                    f"{'':>14}DynamoDB calls per rating written: "
                    + ", ".join(f"{op} {n / writes.ok:.2f}" for op, n in sorted(calls.items()))
                )
            failed = writes.statuses[409] or writes.count(500, 599)
            if args.require_clean_at is not None and clients <= args.require_clean_at and failed:
                print(f"{'':>14}FAILED: a client saw 409 or 5xx at {clients} clients")
                healthy = False
            healthy = healthy and exact and check.rating_order_settled
        print(f"{'':>14}photo item: about {check.photo_bytes} bytes (its write units are counted from this)")
    finally:
        server.stop()
        if proxy is not None:
            proxy.stop()
    return healthy


@contextmanager
def local_stack(work: Path, *, label: str, **settings: str):
    """The bench's own DynamoDB Local and s3rver (``tests.faults.services.FaultServices``), the service in
    this process pointed at them (isolated as the tests are, the per-address limits raised: every client
    is 127.0.0.1), its tables and bucket made, and a curator key; yields the services, the key and the
    environment a gunicorn of the service runs with. The services stop after the block."""
    isolate(LOG_LEVEL="WARNING", DJANGO_ALLOWED_HOSTS=LOOPBACK, **BENCH_SETTINGS, **settings)
    from tests.faults.services import FaultServices

    services = FaultServices(log_dir=work / "logs").start()
    try:
        from tests.faults.store import ENV_REMOVED, store_environment

        for variable in ENV_REMOVED:
            os.environ.pop(variable, None)
        os.environ.update(store_environment(services))
        import django

        django.setup()
        from gallery_project.curators import curator_key_create
        from gallery_project.resources import resources_ensure

        resources_ensure()
        curator_key, _ = curator_key_create(label=label)
        environment = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            # gunicorn's config delivers the local bucket's events from <root>/.local: the bench's own folder.
            "GALLERY_PROJECT_ROOT": str(work),
            "DJANGO_STATIC_COLLECTED": "false",
        }
        yield services, curator_key, environment
    finally:
        services.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--clients", default="1,4,16,64", help="levels of concurrent clients (default 1,4,16,64)"
    )
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of rating per level (default 6)")
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=2.0,
        help="seconds of the GET baseline per level (default 2)",
    )
    parser.add_argument(
        "--warmup-seconds", type=float, default=2.0, help="unreported warm-up per pass (default 2)"
    )
    parser.add_argument(
        "--passes", default=",".join(PASSES), help="any of local, conflicts, hot (default all three)"
    )
    parser.add_argument(
        "--require-clean-at",
        type=int,
        default=16,
        help="fail (exit 1) when a client sees 409 or 5xx at this many clients or fewer (default 16)",
    )
    args = parser.parse_args()
    args.clients = sorted({int(n) for n in args.clients.split(",")})
    passes = [name.strip() for name in args.passes.split(",") if name.strip()]
    if not set(passes) <= set(PASSES):
        parser.error(f"--passes takes {', '.join(PASSES)}")

    work = Path(tempfile.mkdtemp(prefix="bench-ratings-"))
    with local_stack(work, label="bench") as (services, curator_key, environment):
        print(
            f"hot photo bench: {len(os.sched_getaffinity(0))} cores, shared with whatever else runs (figures"
            f" vary run to run); DynamoDB Local and s3rver on loopback, data in {services.data_dir}; gunicorn"
            f" as `make run` (1 worker, {max(args.clients)} threads); {args.seconds:g} s of ratings and"
            f" {args.baseline_seconds:g} s of reads per level"
        )
        print(
            "settings for the bench (environment, no code changed; every client is 127.0.0.1): "
            + ", ".join(f"{name}={value}" for name, value in BENCH_SETTINGS.items())
        )
        healthy = all([run_pass(name, args, services, environment, curator_key, work) for name in passes])
    print(f"\nlogs: {work}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
