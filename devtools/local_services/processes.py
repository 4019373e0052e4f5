"""Ports and processes on this machine: free ports, /proc lookups, terminating, waiting until ready."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from devtools.local_services.config import LOOPBACK

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.05
LOG_TAIL_LINES = 25


class LocalServiceError(RuntimeError):
    """A local service could not be started, or its port or data directory is in someone else's hands."""


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


def stop_child(process: subprocess.Popen, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Wait for a child we asked to stop (or whose input we closed); kill it if it outlives ``timeout``."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
