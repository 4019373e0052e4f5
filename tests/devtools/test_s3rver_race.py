"""The local S3 (s3rver) survives uploads racing deletes of the same folders (issue 18).

s3rver's filesystem store makes a key's folder, then creates the object's file in it; a delete that
empties and removes the folder in between makes that file's creation fail with ENOENT, on a write stream
nobody listens to, and the whole process exits. devtools/local_services/s3rver_store_lock.js, preloaded by
`s3rver_command`, serialises those steps per bucket. Without it, the first test fails at its first round
and the second within a second or two.
"""

import contextlib
import os
import random
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devtools.local_services.config import loopback_url
from devtools.local_services.emulators import s3rver_command
from devtools.local_services.probes import local_aws_client, s3_answers
from devtools.local_services.processes import POLL_SECONDS, free_port, log_tail, wait_until_ready

pytestmark = pytest.mark.integration

BUCKET = "race-bucket"
# Test-only preload: replacing an object's file takes SLOW_DISK_MS longer, so a delete sent right after
# the upload's answer lands between the folder's creation and the file's, every time (see the file).
SLOW_DISK = Path(__file__).with_name("s3rver_slow_disk.js")
SLOW_DISK_MS = 500
VISIBLE_WITHIN_SECONDS = 5.0

RACE_SECONDS = 3.0
GALLERIES = 2
PHOTOS = 3
UPLOADERS = 8
DELETERS = 8
BODY = b"\xff\xd8 not quite a jpeg " * 64


@dataclass
class ThrowawayS3rver:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def died(self, during: str) -> str:
        return (
            f"s3rver exited ({self.process.returncode}) {during}; tail of its log:\n{log_tail(self.log_path)}"
        )

    def slow_disk_outcome(self, key: str) -> str:
        """How the slow disk's replacement of `key`'s file ended ("ok" or an error code), once it has."""
        line_start = f"slow disk: {self.data_dir / BUCKET / key}._S3rver_object: "
        deadline = time.monotonic() + VISIBLE_WITHIN_SECONDS + SLOW_DISK_MS / 1000
        while time.monotonic() < deadline:
            for line in self.log_path.read_text(errors="replace").splitlines():
                if line.startswith(line_start):
                    return line.removeprefix(line_start)
            time.sleep(POLL_SECONDS)
        raise AssertionError(f"s3rver never replaced {key}; tail of its log:\n{log_tail(self.log_path)}")

    def client(self):
        return local_aws_client(
            "s3",
            loopback_url(self.port),
            Config(s3={"addressing_style": "path"}, max_pool_connections=UPLOADERS + DELETERS),
        )


@contextlib.contextmanager
def throwaway_s3rver(
    tmp_path: Path, *preloads: Path, env: dict[str, str] | None = None
) -> Iterator[ThrowawayS3rver]:
    """s3rver as `make run` starts it (`s3rver_command`), with test-only `preloads` loaded first."""
    port, data_dir, log_path = free_port(), tmp_path / "s3", tmp_path / "s3rver.log"
    node, *arguments = s3rver_command(port, data_dir)
    extra = [argument for preload in preloads for argument in ("--require", str(preload))]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [node, *extra, *arguments],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        wait_until_ready("s3rver", s3_answers(port), lambda: process.poll() is None, log_path)
        server = ThrowawayS3rver(process, port, data_dir, log_path)
        server.client().create_bucket(Bucket=BUCKET)
        yield server
    finally:
        process.kill()
        process.wait()


def photo_keys(gallery: int, photo: int) -> list[str]:
    """An upload's original and renditions: folders of their own, which deleting the photo empties."""
    return [
        f"galleries/{gallery}/photos/{photo}/original.jpg",
        f"renditions/{gallery}/{photo}/w640.jpg",
        f"renditions/{gallery}/{photo}/w1600.jpg",
    ]


def gallery_keys(gallery: int) -> list[str]:
    return [key for photo in range(PHOTOS) for key in photo_keys(gallery, photo)]


def gallery_prefixes(gallery: int) -> list[str]:
    return [f"galleries/{gallery}/", f"renditions/{gallery}/"]


def delete_gallery(client, gallery: int) -> None:
    """What the app's gallery delete does: list each of its prefixes, then batch-delete what was listed."""
    for prefix in gallery_prefixes(gallery):
        listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        if listed:
            objects = [{"Key": item["Key"]} for item in listed]
            client.delete_objects(Bucket=BUCKET, Delete={"Objects": objects, "Quiet": True})


def wait_until_readable(client, key: str) -> None:
    # s3rver answers an upload before its object's file is necessarily there; the fix does not.
    deadline = time.monotonic() + VISIBLE_WITHIN_SECONDS
    while True:
        try:
            client.head_object(Bucket=BUCKET, Key=key)
            return
        except ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(POLL_SECONDS)


def assert_stores_and_serves(server: ThrowawayS3rver, client, keys: list[str]) -> None:
    """s3rver answers, and objects put now are read back whole."""
    assert s3_answers(server.port)()
    bodies = {key: f"put after the race: {key}".encode() for key in keys}
    for key, body in bodies.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=body)
    for key, body in bodies.items():
        assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body


def test_s3rver_survives_a_gallery_delete_between_an_uploads_folder_and_its_file(tmp_path):
    """The race made certain: each delete lands inside the (slowed) creation of the file it races."""
    with throwaway_s3rver(tmp_path, SLOW_DISK, env={"SLOW_DISK_MS": str(SLOW_DISK_MS)}) as server:
        client = server.client()
        # Once through, so that the client's first calls (slower: it loads their models) are not timed.
        client.put_object(Bucket=BUCKET, Key=photo_keys(gallery=1, photo=0)[0], Body=b"warm-up")
        delete_gallery(client, gallery=1)
        for key in photo_keys(gallery=0, photo=0):
            client.put_object(Bucket=BUCKET, Key=key, Body=b"first version")
            wait_until_readable(client, key)
            client.put_object(Bucket=BUCKET, Key=key, Body=b"second version")  # replaces: slowed
            delete_gallery(client, gallery=0)
            if server.slow_disk_outcome(key) != "ok":
                # Without the fix s3rver answered that upload before creating its file, which the delete's
                # removal of the folder made fail (ENOENT) when it came to it: it exits at once.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.process.wait(timeout=VISIBLE_WITHIN_SECONDS)
            assert server.is_alive(), server.died(f"when gallery 0 was deleted while {key} was being stored")

        assert_stores_and_serves(server, client, photo_keys(gallery=0, photo=0))


@dataclass
class Race:
    """Uploaders and deleters on the same few galleries' folders, until the deadline or s3rver's death."""

    server: ThrowawayS3rver
    client: Any  # a boto3 S3 client
    deadline: float
    failures: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        workers = [threading.Thread(target=self.upload, args=(seed,)) for seed in range(UPLOADERS)]
        workers += [threading.Thread(target=self.delete, args=(1000 + seed,)) for seed in range(DELETERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def running(self) -> bool:
        return time.monotonic() < self.deadline and self.server.is_alive()

    def attempt(self, operation: str, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as error:  # every failure is collected and asserted on, with its operation
            with self.lock:
                self.failures.append((operation, repr(error)))
        with self.lock:
            self.requests += 1

    def upload(self, seed: int) -> None:
        chooser = random.Random(seed)
        while self.running():
            key = chooser.choice(gallery_keys(chooser.randrange(GALLERIES)))
            self.attempt("PutObject", partial(self.client.put_object, Bucket=BUCKET, Key=key, Body=BODY))

    def delete(self, seed: int) -> None:
        chooser = random.Random(seed)
        while self.running():
            how = chooser.choice((self.delete_gallery, self.delete_keys, self.delete_one))
            self.attempt(how.__name__, partial(how, chooser.randrange(GALLERIES), chooser))

    def delete_gallery(self, gallery: int, chooser: random.Random) -> None:
        delete_gallery(self.client, gallery)

    def delete_keys(self, gallery: int, chooser: random.Random) -> None:
        objects = [{"Key": key} for key in gallery_keys(gallery)]
        self.client.delete_objects(Bucket=BUCKET, Delete={"Objects": objects, "Quiet": True})

    def delete_one(self, gallery: int, chooser: random.Random) -> None:
        self.client.delete_object(Bucket=BUCKET, Key=chooser.choice(gallery_keys(gallery)))


def test_s3rver_survives_uploads_racing_deletes_of_the_same_folders(tmp_path):
    """The race as it happens, unassisted: many uploads against every kind of delete, for a few seconds."""
    with throwaway_s3rver(tmp_path) as server:
        client = server.client()
        race = Race(server, client, deadline=time.monotonic() + RACE_SECONDS)
        race.run()

        assert server.is_alive(), server.died(f"after {race.requests} requests of the race")
        # Not only alive: no request of the race was refused or answered with a 500 either.
        assert race.failures == [], f"{len(race.failures)} of {race.requests} failed: {race.failures[:5]}"
        assert race.requests > 50, "the race hardly ran"

        # What the race left is consistent: everything listed reads back whole, no metadata is orphaned.
        for gallery in range(GALLERIES):
            for prefix in gallery_prefixes(gallery):
                for item in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []):
                    assert client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() == BODY
        orphans = [
            path
            for path in server.data_dir.rglob("*._S3rver_metadata.json")
            if not path.with_name(path.name.replace("metadata.json", "object")).exists()
        ]
        assert orphans == []

        assert_stores_and_serves(server, client, gallery_keys(0))
