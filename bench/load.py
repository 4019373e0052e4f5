"""Load on the local default: visitors and curators for a minute, beside a bare DRF view on the same server.

Run `.venv/bin/python bench/load.py [--seconds 60] [--visitors 6] [--curators 2]` (about 90 s).

What runs: the hot-photo bench's set-up (bench/ratings.py): a DynamoDB Local and an s3rver of the bench's
own on free loopback ports, the tables and bucket made by ``resources_ensure``, and the service under
gunicorn as `make run` serves it (one worker, a thread per client), with one difference: its URLconf
(``bench.load_urls``, through ``bench.load_settings``) adds ``GET /bench/bare``, a DRF view answering
``{"ok": true}`` with no authentication, throttle or storage call. Every client shares 127.0.0.1, so the
per-address limits are raised through the environment (printed); the code is the service's own.

The run, bounded in time and in requests (``--max-requests``), loopback only:
1. seed: three public galleries of ten photos each, and a gallery of the curators' own;
2. the floor: the bare view, for ``--bare-seconds``, with as many clients as the mix;
3. the mix, for ``--seconds``: ``--visitors`` visitors each list galleries, open one, page through its
   photos (4 a page, following ``next``) and rate photos (their own visitor id and token); ``--curators``
   curators each upload a photo (multipart, with an ``Idempotency-Key``), edit a photo's title and
   delete a photo they uploaded, in their own gallery.
Printed: throughput, and per route the count, rate, p50 and p99 and the errors (any answer but the
route's 2xx) and 5xx; then each route's p50 beside the bare view's, and the fault suite's invariant
checker over the whole store afterwards (counts, numbers, aggregates, objects). Exit 1 on any error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

from isolated import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # bench.ratings (stdlib only until its local_stack runs)
from bench.ratings import BENCH_SETTINGS, Server, local_stack, percentile, request, run_threads

SEED_GALLERIES = 3
SEED_PHOTOS = 10
OK = {"GET": {200}, "PUT": {200, 201}, "POST": {201}, "PATCH": {200}, "DELETE": {200, 204}}


class Routes:
    """Every answer by route: latency, status; thread-safe; stops the run at ``limit`` requests."""

    def __init__(self, limit: int):
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.server_errors: dict[str, int] = defaultdict(int)
        self.count = 0
        self.limit = limit
        self.lock = threading.Lock()

    def add(self, route: str, method: str, status: int, milliseconds: float, body: bytes) -> None:
        with self.lock:
            self.count += 1
            self.latencies[route].append(milliseconds)
            if status not in OK[method]:
                self.errors[route].append(f"{status} {body[:200]!r}")
            if status >= 500 or status == 0:
                self.server_errors[route] += 1

    @property
    def full(self) -> bool:
        return self.count >= self.limit


class Client:
    """One client's keep-alive connection; each call timed and tallied under its route."""

    def __init__(self, server, routes: Routes, headers: dict | None = None):
        self.server, self.routes, self.headers = server, routes, headers or {}
        self.connection = server.connection()

    def call(self, route: str, method: str, path: str, body=None, headers=None):
        began = time.perf_counter()
        try:
            answer = request(self.connection, method, path, body, {**self.headers, **(headers or {})})
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            self.connection = self.server.connection()
            self.routes.add(route, method, 0, (time.perf_counter() - began) * 1000, str(error).encode())
            return None
        self.routes.add(route, method, answer.status, (time.perf_counter() - began) * 1000, answer.body)
        return answer


def tiny_jpeg(seed: int) -> bytes:
    """A small photo (320x240) a little different each time, so no upload is a duplicate."""
    import io

    from PIL import Image

    image = Image.new("RGB", (320, 240), ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    image.putpixel((seed % 320, (seed // 320) % 240), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    from urllib3 import encode_multipart_formdata

    return encode_multipart_formdata({"photos": (name, data, "image/jpeg")})


def seed(server, routes: Routes, curator_key: str) -> tuple[list[tuple[str, list[str]]], str]:
    """The public galleries with their photo ids, and the curators' own gallery."""
    curator = Client(server, routes, {"Authorization": f"Bearer {curator_key}"})
    made = []
    for number in range(SEED_GALLERIES + 1):
        body = json.dumps(
            {"name": f"Load {number}", "continent": "Europe", "country": "Italy", "visibility": "public"}
        )
        answer = curator.call("seed", "POST", "/api/galleries", body, {"Content-Type": "application/json"})
        assert answer is not None and answer.status == 201, answer
        gallery_id = json.loads(answer.body)["galleryId"]
        photo_ids = []
        for n in range(SEED_PHOTOS if number < SEED_GALLERIES else 0):
            form, content_type = multipart(f"seed-{number}-{n}.jpg", tiny_jpeg(number * 100 + n))
            path = f"/api/galleries/{gallery_id}/photos"
            answer = curator.call("seed", "POST", path, form, {"Content-Type": content_type})
            assert answer is not None and answer.status == 201, answer
            photo_ids.append(json.loads(answer.body)["photos"][0]["photoId"])
        made.append((gallery_id, photo_ids))
    return made[:SEED_GALLERIES], made[SEED_GALLERIES][0]


def visitor(server, routes: Routes, galleries, number: int, start, stop_at: list) -> None:
    chooser = random.Random(number)
    client = Client(server, routes)
    user_id, token = f"load-{number}-{uuid.uuid4().hex[:8]}", None
    start.wait()
    while time.monotonic() < stop_at[0] and not routes.full:
        gallery_id, photo_ids = chooser.choice(galleries)
        roll = chooser.random()
        if roll < 0.30:
            client.call("GET /api/galleries", "GET", "/api/galleries")
        elif roll < 0.55:
            client.call("GET /api/galleries/{id}", "GET", f"/api/galleries/{gallery_id}")
        elif roll < 0.85:
            path = f"/api/galleries/{gallery_id}/photos?page_size=4"
            while path and time.monotonic() < stop_at[0]:
                answer = client.call("GET /api/galleries/{id}/photos (a page)", "GET", path)
                if answer is None or answer.status != 200:
                    break
                following = json.loads(answer.body)["next"]
                path = urlsplit(following)._replace(scheme="", netloc="").geturl() if following else None
        else:
            headers = {"Content-Type": "application/json", **({"X-Visitor-Token": token} if token else {})}
            path = f"/api/photos/{chooser.choice(photo_ids)}/ratings/{user_id}"
            body = json.dumps({"rating": chooser.randint(1, 5)})
            answer = client.call("PUT /api/photos/{id}/ratings/{userId}", "PUT", path, body, headers)
            if answer is not None and answer.status in (200, 201):
                token = json.loads(answer.body)["visitorToken"]
    client.connection.close()


def curator(server, routes: Routes, curator_key: str, gallery_id: str, number: int, start, stop_at: list):
    chooser = random.Random(1000 + number)
    client = Client(server, routes, {"Authorization": f"Bearer {curator_key}"})
    mine: list[str] = []
    uploaded = 0
    start.wait()
    while time.monotonic() < stop_at[0] and not routes.full:
        roll = chooser.random()
        if roll < 0.4 or not mine:
            uploaded += 1
            form, content_type = multipart(
                f"c{number}-{uploaded}.jpg", tiny_jpeg(10_000 * (number + 1) + uploaded)
            )
            headers = {"Content-Type": content_type, "Idempotency-Key": uuid.uuid4().hex}
            path = f"/api/galleries/{gallery_id}/photos"
            answer = client.call("POST /api/galleries/{id}/photos", "POST", path, form, headers)
            if answer is not None and answer.status == 201:
                mine.append(json.loads(answer.body)["photos"][0]["photoId"])
        elif roll < 0.75:
            body = json.dumps({"title": f"Edited {chooser.randint(1, 10**6)}"})
            path = f"/api/galleries/{gallery_id}/photos/{chooser.choice(mine)}"
            client.call(
                "PATCH /api/galleries/{id}/photos/{photoId}",
                "PATCH",
                path,
                body,
                {"Content-Type": "application/json"},
            )
        else:
            photo_id = mine.pop(chooser.randrange(len(mine)))
            client.call(
                "DELETE /api/galleries/{id}/photos/{photoId}",
                "DELETE",
                f"/api/galleries/{gallery_id}/photos/{photo_id}",
            )
    client.connection.close()


def bare(server, routes: Routes, start, stop_at: list) -> None:
    client = Client(server, routes)
    start.wait()
    while time.monotonic() < stop_at[0] and not routes.full:
        client.call("GET /bench/bare (floor)", "GET", "/bench/bare")
    client.connection.close()


def report(routes: Routes, seconds: float, floor_p50: float | None = None) -> None:
    print(
        f"{'route':<48} {'n':>6} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'5xx':>4}"
        + ("  p50 / floor" if floor_p50 else "")
    )
    for route, latencies in sorted(routes.latencies.items()):
        p50 = percentile(latencies, 0.5)
        errors, server_errors = len(routes.errors[route]), routes.server_errors[route]
        line = (
            f"{route:<48} {len(latencies):>6} {len(latencies) / seconds:>7.1f} {p50:>7.1f}"
            f" {percentile(latencies, 0.99):>7.1f} {errors:>6} {server_errors:>4}"
        )
        if floor_p50:
            line += f"  {p50 / floor_p50:>6.1f}x"
        print(line)
    print(f"{'all':<48} {routes.count:>6} {routes.count / seconds:>7.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of the mix (default 60)")
    parser.add_argument("--bare-seconds", type=float, default=10.0, help="seconds of the floor (default 10)")
    parser.add_argument("--visitors", type=int, default=6, help="visitor clients (default 6)")
    parser.add_argument("--curators", type=int, default=2, help="curator clients (default 2)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop a phase after this many")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    healthy = False
    with local_stack(work, label="bench-load") as (_services, curator_key, stack_environment):
        from tests.faults.invariants import store_violations

        clients = args.visitors + args.curators
        environment = {**stack_environment, "DJANGO_SETTINGS_MODULE": "bench.load_settings"}
        server = Server(environment, clients + 2, work / "gunicorn.log")
        try:
            server.wait_ready()
            print(
                f"load bench: {len(os.sched_getaffinity(0))} cores shared with whatever else runs; DynamoDB "
                f"Local and s3rver on loopback; gunicorn as `make run` (1 worker, {clients + 2} threads); "
                f"{args.visitors} visitors and {args.curators} curators for {args.seconds:g} s, the bare "
                f"view with {clients} clients for {args.bare_seconds:g} s"
            )
            print(
                "settings for the bench (environment; every client is 127.0.0.1): "
                + ", ".join(f"{name}={value}" for name, value in BENCH_SETTINGS.items())
            )
            galleries, own = seed(server, Routes(args.max_requests), curator_key)
            # Not reported: the server's first requests (imports, clients) and DynamoDB Local's JIT.
            warm = Routes(args.max_requests)
            run_threads([(visitor, (server, warm, galleries, 100 + n)) for n in range(2)], 3)

            floor = Routes(args.max_requests)
            floor_seconds = run_threads([(bare, (server, floor)) for _ in range(clients)], args.bare_seconds)
            print("\nthe floor: a bare DRF JSON view on the same server")
            report(floor, floor_seconds)
            floor_p50 = percentile(next(iter(floor.latencies.values())), 0.5)

            mix = Routes(args.max_requests)
            mix_clients = [(visitor, (server, mix, galleries, n)) for n in range(args.visitors)]
            mix_clients += [(curator, (server, mix, curator_key, own, n)) for n in range(args.curators)]
            mix_seconds = run_threads(mix_clients, args.seconds)
            print(f"\nthe mix: {args.visitors} visitors and {args.curators} curators")
            report(mix, mix_seconds, floor_p50)
            errors = sum(len(found) for found in mix.errors.values()) + sum(
                len(f) for f in floor.errors.values()
            )
            server_errors = sum(mix.server_errors.values()) + sum(floor.server_errors.values())
            for route, found in sorted({**floor.errors, **mix.errors}.items()):
                for error in found[:3]:
                    print(f"  {route}: {error}")
            time.sleep(0.5)
            violations = store_violations()
            print(
                f"\nerrors: {errors}, 5xx: {server_errors}; invariant checker: "
                + ("no violation" if not violations else "; ".join(violations[:10]))
            )
            healthy = errors == 0 and server_errors == 0 and not violations
        finally:
            server.stop()
    print(f"logs: {work}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
