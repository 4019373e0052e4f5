"""Bounded time: a deadline per request (or Lambda event), checked before every AWS call is sent.

Each AWS client has a connect and a read timeout and a number of attempts (``core.aws.client_config``),
so one attempt lasts at most ``connect + read`` seconds. Before every attempt (botocore's ``before-send``
event, registered on every client this service makes) ``attempt_check`` refuses to start one that could
not finish before the deadline: the request then answers 503 ``deadline_reached`` with ``Retry-After``
instead of outliving API Gateway's 29 s or the Lambda's timeout. An attempt already under way ends by
its own timeouts, which are shorter than the time left when it started.

The deadline lives in a context variable: worker threads carry it with ``carried``.
"""

import contextvars
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps

from django.conf import settings

from core.errors import DeadlineReached

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


def attempt_seconds() -> float:
    """The longest one AWS attempt can take: its connect timeout plus its read timeout."""
    return settings.AWS_CONNECT_TIMEOUT_SECONDS + settings.AWS_READ_TIMEOUT_SECONDS


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Run the block with a deadline ``seconds`` from now (an enclosing, earlier deadline still holds)."""
    ends = time.monotonic() + seconds
    current = _deadline.get()
    token = _deadline.set(ends if current is None else min(current, ends))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before the deadline (negative once past), or None when none is set."""
    ends = _deadline.get()
    return None if ends is None else ends - time.monotonic()


def attempt_check(**_event) -> None:
    """botocore ``before-send`` handler: refuse an attempt that could not end before the deadline."""
    left = remaining()
    if left is not None and left < attempt_seconds():
        raise DeadlineReached()


def carried[**P, R](function: Callable[P, R]) -> Callable[P, R]:
    """``function`` run in a copy of the caller's context, so a worker thread keeps its deadline."""
    context = contextvars.copy_context()

    @wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(function, *args, **kwargs)

    return run
