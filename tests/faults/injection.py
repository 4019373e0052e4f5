"""Ways to inject a fault: freeze or kill a service of ours, make AWS calls fail or wait, race requests.

- ``frozen(service)``: SIGSTOP for the block (connections are accepted, nothing answers), SIGCONT after.
- ``killed(service)``: SIGKILL for the block, a restart on the same port and data after.
- ``failing_calls(service, operation, error_code, ...)``: matching botocore calls raise ``ClientError``.
- ``held_calls(service, operation, ...)``: matching calls wait until the test releases them.
- ``raced(*callables)``: run callables in threads released together by a barrier.

``failing_calls`` and ``held_calls`` patch ``botocore.client.BaseClient._make_api_call``, which every
client goes through: boto3's, django-storages', and PynamoDB's own (``Connection._make_api_call`` calls
``client._make_api_call``), in every thread. The patch sits above botocore's retries: one matching call
is one call of our code (all its HTTP attempts), and an injected failure is what our code sees after
them; a retry our code makes itself is another matching call. ``calls.seen`` and ``calls.failed`` count
them. Clients passed to ``fault_exempt`` (the invariant checker's, the store cleanup's) are never touched.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.client
from botocore import xform_name
from botocore.exceptions import ClientError

from tests.faults.services import LocalService, wait_for_state

RACE_TIMEOUT_SECONDS = 60.0
HOLD_TIMEOUT_SECONDS = 30.0

_exempt: weakref.WeakSet[Any] = weakref.WeakSet()


def fault_exempt[C](client: C) -> C:
    """Mark a botocore client as never affected by ``failing_calls`` or ``held_calls``; returns it."""
    _exempt.add(client)
    return client


# ---------------------------------------------------------------- processes


def _pid_of(target: LocalService | Any) -> int:
    """A pid from a LocalService, a Popen or a pid."""
    pid = target if isinstance(target, int) else getattr(target, "pid", None)
    if pid is None:
        raise ValueError(f"{target!r} is not running")
    return pid


@contextmanager
def frozen(target: LocalService | Any) -> Iterator[int]:
    """SIGSTOP ``target`` (a LocalService, Popen or pid) for the block, SIGCONT after, even on errors.

    Returns once every thread is stopped: its port still accepts connections (the kernel's backlog) but
    no request is answered, so a caller waits for its read timeout, like a hung service. Requests sent
    meanwhile are answered after SIGCONT.
    """
    pid = _pid_of(target)
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for_state(pid, stopped=True)
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)
        wait_for_state(pid, stopped=False)


@contextmanager
def killed(service: LocalService) -> Iterator[LocalService]:
    """SIGKILL the service for the block (connections are refused), restart it after on the same port
    and data folder, waiting until it answers. Data written before the kill is still there."""
    service.kill()
    try:
        yield service
    finally:
        service.start()


# ---------------------------------------------------------------- botocore calls


@dataclass
class CallMatcher:
    """Which calls a patch acts on: the ``after`` matching calls pass, the next ``times`` are acted on
    (``times=None``: all the rest); ``when(params)`` narrows the match (e.g. to one key or table)."""

    service: str
    operation: str
    times: int | None = 1
    after: int = 0
    when: Callable[[dict], bool] | None = None
    seen: int = field(default=0, init=False)  # matching calls so far
    acted: int = field(default=0, init=False)  # of which were failed or held
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.service = self.service.lower()

    def claims(self, client: Any, operation_name: str, params: dict) -> bool:
        """Count a call; True when this one is to be acted on."""
        if client in _exempt or client.meta.service_model.service_name != self.service:
            return False
        if self.operation not in (operation_name, xform_name(operation_name)):
            return False
        if self.when is not None and not self.when(params):
            return False
        with self._lock:
            self.seen += 1
            if self.seen <= self.after or (self.times is not None and self.acted >= self.times):
                return False
            self.acted += 1
            return True


@dataclass
class FailingCalls(CallMatcher):
    error_code: str = "ServiceUnavailable"
    http_status: int = 500
    response: Mapping[str, Any] | None = None

    @property
    def failed(self) -> int:
        return self.acted

    def error(self, operation_name: str) -> ClientError:
        body: dict[str, Any] = {
            "Error": {"Code": self.error_code, "Message": "injected by tests.faults"},
            "ResponseMetadata": {"HTTPStatusCode": self.http_status, "HTTPHeaders": {}},
            **(self.response or {}),
        }
        return ClientError(body, operation_name)


@dataclass
class HeldCalls(CallMatcher):
    timeout: float = HOLD_TIMEOUT_SECONDS
    _reached: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0), repr=False)
    _released: threading.Event = field(default_factory=threading.Event, repr=False)

    def hold(self) -> None:
        self._reached.release()
        if not self._released.wait(self.timeout):
            raise TimeoutError(f"{self.service} {self.operation} held for {self.timeout} s, never released")

    def wait_reached(self, count: int = 1, timeout: float = HOLD_TIMEOUT_SECONDS) -> None:
        """Block until ``count`` held calls are waiting (AssertionError after ``timeout``)."""
        for reached in range(count):
            if not self._reached.acquire(timeout=timeout):
                raise AssertionError(f"only {reached} {self.service} {self.operation} calls were held")

    def release(self) -> None:
        """Let every held call (and every later matching one) go on."""
        self._released.set()


@contextmanager
def _patched_calls(act: Callable[[Any, str, dict], None]) -> Iterator[None]:
    """Run ``act(client, operation_name, params)`` before every botocore call (it may raise or wait)."""
    original = botocore.client.BaseClient._make_api_call

    def make_api_call(client, operation_name, params):
        act(client, operation_name, params)
        return original(client, operation_name, params)

    botocore.client.BaseClient._make_api_call = make_api_call
    try:
        yield
    finally:
        botocore.client.BaseClient._make_api_call = original


@contextmanager
def failing_calls(
    service: str,
    operation: str,
    error_code: str = "ServiceUnavailable",
    *,
    times: int | None = 1,
    after: int = 0,
    http_status: int = 500,
    when: Callable[[dict], bool] | None = None,
    response: Mapping[str, Any] | None = None,
) -> Iterator[FailingCalls]:
    """Make matching calls raise ``ClientError(error_code)`` before they are sent.

    ``service`` is botocore's name ("s3", "dynamodb"), ``operation`` the API's ("PutObject") or the
    method's ("put_object"). The first ``after`` matching calls pass, the next ``times`` fail (None: all
    the rest). ``response`` adds top-level keys to the error response, e.g.
    ``{"CancellationReasons": [{"Code": "ConditionalCheckFailed"}, {"Code": "None"}]}`` for a
    ``TransactionCanceledException``. The yielded object counts ``seen`` and ``failed`` calls.
    """
    calls = FailingCalls(
        service,
        operation,
        times,
        after,
        when,
        error_code=error_code,
        http_status=http_status,
        response=response,
    )

    def act(client, operation_name, params):
        if calls.claims(client, operation_name, params):
            raise calls.error(operation_name)

    with _patched_calls(act):
        yield calls


@contextmanager
def held_calls(
    service: str,
    operation: str,
    *,
    times: int | None = 1,
    after: int = 0,
    when: Callable[[dict], bool] | None = None,
    timeout: float = HOLD_TIMEOUT_SECONDS,
) -> Iterator[HeldCalls]:
    """Make matching calls wait before they are sent until ``release()`` (or the block ends).

    For a deterministic interleaving: start a request in a thread, ``wait_reached()`` until it is parked
    at, say, its TransactWriteItems, do the other thing, then ``release()``. A held call that is never
    released raises TimeoutError after ``timeout`` seconds in its own thread.
    """
    calls = HeldCalls(service, operation, times, after, when, timeout=timeout)

    def act(client, operation_name, params):
        if calls.claims(client, operation_name, params):
            calls.hold()

    with _patched_calls(act):
        try:
            yield calls
        finally:
            calls.release()


# ---------------------------------------------------------------- races


def raced(*callables: Callable[[], Any], timeout: float = RACE_TIMEOUT_SECONDS) -> list[Any]:
    """Run each callable in its own thread, all released at once by a barrier; each one's result, or the
    exception it raised, in the order given. AssertionError if one has not finished within ``timeout``."""
    barrier = threading.Barrier(len(callables))
    outcomes: list[Any] = [None] * len(callables)

    def run(index: int, function: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            outcomes[index] = function()
        except BaseException as exc:  # handed back to the test, which decides what is expected
            outcomes[index] = exc

    threads = [
        threading.Thread(target=run, args=(index, function), name=f"raced-{index}", daemon=True)
        for index, function in enumerate(callables)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            raise AssertionError(f"{thread.name} did not finish within {timeout} s")
    return outcomes
