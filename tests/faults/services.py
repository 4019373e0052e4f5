"""The fault suite's own DynamoDB Local and s3rver: free ports, data kept across kills, freeze, restart.

Each worker of the session starts one pair (``FaultServices.start``) and nothing else talks to it, so a test
may stop, freeze or kill either one without harming any other test. A service keeps its port and its data
folder across restarts: DynamoDB Local runs with ``-dbPath`` (SQLite files, every write committed; its
in-memory mode would come back empty), s3rver keeps objects as files, so what was written before a kill is
still there after ``restart()``, as after an outage of the real services. The data folder is in /dev/shm
when there is one (fast, and a process kill does not lose it). The command lines and the readiness probes
are ``devtools.local_services``'s, the same ones ``make run`` uses.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from devtools.local_services.config import loopback_url
from devtools.local_services.emulators import dynamodb_command, s3rver_command
from devtools.local_services.probes import dynamodb_answers, s3_answers
from devtools.local_services.processes import POLL_SECONDS, stop_child, wait_until_ready

STATE_TIMEOUT_SECONDS = 5.0


def free_ports(count: int) -> list[int]:
    """Distinct free ports (the probing sockets stay open until all are chosen)."""
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("", 0))
        return [probe.getsockname()[1] for probe in probes]


def thread_states(pid: int) -> set[str]:
    """The scheduler state letter of every thread of ``pid`` ("T" = stopped by a signal); empty once gone."""
    states = set()
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                states.add((task / "stat").read_text().rpartition(")")[2].split()[0])
    return states


def wait_for_state(pid: int, stopped: bool, timeout: float = STATE_TIMEOUT_SECONDS) -> None:
    """Poll until every thread of ``pid`` is stopped (``stopped=True``) or none is; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        states = thread_states(pid) - {"Z", "X"}  # threads on their way out do not count
        if not states or (states == {"T"} if stopped else "T" not in states):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} did not {'stop' if stopped else 'continue'}: {states}")
        time.sleep(POLL_SECONDS)


class LocalService:
    """One emulator process of ours, on a port and a data folder that stay the same across restarts."""

    def __init__(self, name: str, port: int, command: list[str], answers: Callable[[], bool], log_dir: Path):
        self.name = name
        self.port = port
        self.endpoint_url = loopback_url(port)
        self.command = command
        self.answers = answers
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0  # how many times it was (re)started: a test can tell a restart happened

    def __repr__(self) -> str:
        return f"<LocalService {self.name} pid={self.pid} {self.endpoint_url}>"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def is_running(self) -> bool:
        """Alive (frozen or not)."""
        return self.process is not None and self.process.poll() is None

    def is_frozen(self) -> bool:
        return self.is_running() and "T" in thread_states(self.process.pid)  # type: ignore[union-attr]

    def spawn(self) -> None:
        """Start the process without waiting for it to answer (``wait_ready`` does)."""
        if self.is_running():
            raise RuntimeError(f"{self!r} is already running")
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts + 1} at {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1

    def wait_ready(self) -> None:
        process = self.process
        assert process is not None, f"{self.name} was never started"
        wait_until_ready(self.name, self.answers, lambda: process.poll() is None, self.log_path)

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def kill(self) -> None:
        """SIGKILL (a frozen process dies too) and reap it; the port is free when this returns."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """A graceful stop: SIGTERM (after SIGCONT, so a frozen process can act on it), SIGKILL if slow."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)
                self.process.terminate()
            stop_child(self.process)

    def restart(self) -> None:
        """Kill it if it runs, start it again on the same port and data folder, wait until it answers."""
        self.kill()
        self.start()

    def ensure_running(self) -> None:
        """Undo whatever a test left: continue a frozen process, start a dead one."""
        if self.is_running():
            os.kill(self.process.pid, signal.SIGCONT)  # type: ignore[union-attr]
            wait_for_state(self.process.pid, stopped=False)  # type: ignore[union-attr]
        else:
            self.start()


def fast_data_dir() -> Path:
    """A fresh folder for the services' data in memory (/dev/shm) when there is one: DynamoDB Local's
    SQLite writes there are about 2.5 times faster than on disk (8 ms a PutItem instead of 20, measured),
    and a killed process still finds its data when restarted."""
    shared_memory = Path("/dev/shm")
    return Path(
        tempfile.mkdtemp(prefix="fault-services-", dir=shared_memory if shared_memory.is_dir() else None)
    )


class FaultServices:
    """The pair a worker's fault tests use: ``dynamodb`` (DynamoDB Local) and ``s3`` (s3rver).

    Data lives in ``data_dir`` (removed by ``close``), logs in ``log_dir`` (kept for a post-mortem).
    """

    def __init__(self, log_dir: Path, data_dir: Path | None = None):
        self.data_dir = data_dir or fast_data_dir()
        try:
            self._define(log_dir)
        except BaseException:
            shutil.rmtree(self.data_dir, ignore_errors=True)  # no java or node: nothing left in /dev/shm
            raise

    def _define(self, log_dir: Path) -> None:
        dynamodb_port, s3_port = free_ports(2)
        dynamodb_data, dynamodb_tmp, s3_data = (
            self.data_dir / name for name in ("dynamodb", "java-tmp", "s3")
        )
        for directory in (log_dir, dynamodb_data, dynamodb_tmp, s3_data):
            directory.mkdir(parents=True, exist_ok=True)
        self.dynamodb = LocalService(
            "dynamodb",
            dynamodb_port,
            dynamodb_command(dynamodb_port, dynamodb_tmp, dynamodb_data),
            dynamodb_answers(dynamodb_port),
            log_dir,
        )
        # Without -s (silent), s3rver logs each request: the post-mortem of a fault test. Its object-created
        # events are written as files into s3_events, as `make run`'s are (a test delivers them itself).
        self.s3_events = self.data_dir / "s3-events"
        s3_command = [part for part in s3rver_command(s3_port, s3_data, self.s3_events) if part != "-s"]
        self.s3 = LocalService("s3", s3_port, s3_command, s3_answers(s3_port), log_dir)

    @property
    def all(self) -> tuple[LocalService, LocalService]:
        return (self.dynamodb, self.s3)

    def start(self) -> FaultServices:
        """Start both at once (DynamoDB Local's JVM takes the longer) and wait until both answer."""
        try:
            for service in self.all:
                service.spawn()
            for service in self.all:
                service.wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def ensure_running(self) -> None:
        for service in self.all:
            service.ensure_running()

    def close(self) -> None:
        for service in self.all:
            service.kill()  # the data is thrown away, so no graceful shutdown
        shutil.rmtree(self.data_dir, ignore_errors=True)
