"""DynamoDB Local and s3rver in the background for `make run`: start, stop and status, under one lock."""

from __future__ import annotations

import contextlib
import fcntl
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from devtools.local_services.config import LocalDirs, dynamodb_port, loopback_url, s3_port
from devtools.local_services.emulators import (
    S3RVER_EVENTS,
    S3RVER_PRELOAD,
    S3RVER_PROGRAMS,
    dynamodb_command,
    s3rver_command,
)
from devtools.local_services.probes import dynamodb_answers, s3_answers
from devtools.local_services.processes import (
    LocalServiceError,
    all_pids,
    port_is_free,
    process_arguments,
    process_is_alive,
    terminate,
    wait_until_ready,
)


@dataclass(frozen=True)
class BackgroundService:
    name: str
    port: int
    command: list[str]
    data_dir: Path
    # How the argument naming the program ends, e.g. "DynamoDBLocal.jar" (or several: an older checkout
    # started it by another name, and it is found, then replaced for lacking a required argument).
    program_suffix: str | tuple[str, ...]
    port_flag: str
    answers: Callable[[], bool]
    dirs: LocalDirs
    # Arguments a running process must have been started with to be kept, e.g. s3rver's preload:
    # one started by an older checkout without it is restarted by `start`.
    required_arguments: tuple[str, ...] = ()

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

    def missing_arguments(self, pid: int) -> list[str]:
        arguments = process_arguments(pid)
        return [argument for argument in self.required_arguments if argument not in arguments]

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
            command=s3rver_command(s3_port(), s3_data, dirs.s3_events_pending),
            data_dir=s3_data,
            program_suffix=S3RVER_PROGRAMS,
            port_flag="-p",
            answers=s3_answers(s3_port()),
            dirs=dirs,
            required_arguments=(str(S3RVER_PRELOAD), str(S3RVER_EVENTS), str(dirs.s3_events_pending)),
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

        # One started without what this checkout starts it with (s3rver's preload) is replaced, not kept.
        for service in services:
            pid = running[service.name]
            if pid is not None and (missing := service.missing_arguments(pid)):
                terminate(pid)
                service.pidfile.unlink(missing_ok=True)
                running[service.name] = None
                print(f"{service.name}: stopped pid {pid}, started without {' '.join(missing)}")

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
