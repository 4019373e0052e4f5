"""The local store's object-created events, delivered to the function S3 invokes on AWS.

s3rver_events.js writes each object-created notification of the local store as one file into
``.local/s3-events/pending`` (names sort in arrival order). ``EventCourier`` hands each one to
``scans.events.photo_object_created``, as Lambda does on AWS:
- at least once: a file is removed only once handled, so a crash or a restart delivers it again (the
  handler answers "exists" for an object already made into a photo);
- a few at a time (Lambda runs several invocations at once), in arrival order within each batch;
- a delivery that raises (``scans.object_events.TryLater``: S3 or DynamoDB failed) is tried again after a
  pause, ``ATTEMPTS`` times in all like Lambda's asynchronous invocation, then moved to
  ``.local/s3-events/failed`` with its error beside it and logged: the local stand-in for the function's
  failure destination.
`make run` runs the courier in a thread of its one gunicorn worker (gunicorn_config.post_worker_init);
events that came while the API was down are delivered when it starts.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

logger = logging.getLogger(__name__)

ATTEMPTS = 3  # Lambda's asynchronous invocation: the first try and two retries
RETRY_AFTER_SECONDS = (1.0, 2.0)  # before the second and the third attempt
POLL_SECONDS = 0.2
WORKERS = 2


class EventCourier:
    """Delivers the event files of ``pending`` to ``deliver`` (see the module docstring)."""

    def __init__(
        self, pending: Path, failed: Path, deliver: Callable[[dict], object], workers: int = WORKERS
    ):
        self.pending = pending
        self.failed = failed
        self.deliver = deliver
        self.workers = workers
        self._attempts: dict[str, int] = {}  # file name -> failed attempts so far
        self._not_before: dict[str, float] = {}  # file name -> when it may be tried again (monotonic)

    def deliver_pending(self) -> int:
        """One pass: every file pending and due, handed to ``deliver`` once; returns how many succeeded."""
        self.pending.mkdir(parents=True, exist_ok=True)
        now = time.monotonic()
        due = [
            path
            for path in sorted(self.pending.glob("*.json"))
            if self._not_before.get(path.name, 0.0) <= now
        ]
        if not due:
            return 0
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return sum(pool.map(self._deliver_one, due))

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; a pass that fails (the disk, a bug) is logged and tried again."""
        while not stop.is_set():
            try:
                self.deliver_pending()
            except Exception:
                logger.exception("delivering the local S3 events failed; trying again")
            stop.wait(POLL_SECONDS)

    def start(self) -> threading.Event:
        """Run in a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name="s3-events", daemon=True).start()
        return stop

    def _deliver_one(self, path: Path) -> bool:
        try:
            event = json.loads(path.read_text())
        except FileNotFoundError:
            return False  # delivered by another courier (two servers on one checkout)
        except (OSError, ValueError) as error:
            self._give_up(path, f"unreadable event file: {error}")
            return False
        try:
            self.deliver(event)
        except Exception as error:
            attempts = self._attempts.get(path.name, 0) + 1
            if attempts >= ATTEMPTS:
                self._give_up(path, f"{type(error).__name__}: {error}")
            else:
                self._attempts[path.name] = attempts
                self._not_before[path.name] = time.monotonic() + RETRY_AFTER_SECONDS[attempts - 1]
                logger.warning(
                    "S3 event %s failed (attempt %d), will try again: %s", path.name, attempts, error
                )
            return False
        path.unlink(missing_ok=True)
        self._forget(path)
        return True

    def _give_up(self, path: Path, reason: str) -> None:
        self._forget(path)
        self.failed.mkdir(parents=True, exist_ok=True)
        try:
            shutil.move(path, self.failed / path.name)  # (another file system, maybe)
        except FileNotFoundError:
            return  # another courier (a second server on this checkout) delivered it meanwhile
        (self.failed / f"{path.stem}.error.txt").write_text(reason + "\n")
        logger.error("S3 event %s failed %d times; moved to %s: %s", path.name, ATTEMPTS, self.failed, reason)

    def _forget(self, path: Path) -> None:
        self._attempts.pop(path.name, None)
        self._not_before.pop(path.name, None)


def courier_for_the_api(pending: Path, failed: Path) -> EventCourier:
    """The courier of `make run`: delivers to the handler Lambda runs for the bucket's events."""
    from scans.events import photo_object_created  # Django is set up by the time a worker calls this

    return EventCourier(pending, failed, photo_object_created)
