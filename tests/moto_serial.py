"""moto's in-process DynamoDB, made as serial as DynamoDB itself: one lock around every backend call.

DynamoDB applies each request atomically. moto's ``transact_write_items`` deep-copies the tables it
touches to roll back on a cancellation, then writes the copy back: with the upload's parallel photo
commits (one thread per core), a copy taken while another thread writes fails ("dictionary changed size
during iteration"), or a rollback erases another thread's commit. That made an upload of two photos
store one of them about one run in twenty under ``-n 2``. Locking the backend gives the service the
atomic requests it is written for; the service's own concurrency is untouched.
"""

import functools
import inspect
import threading

from moto.dynamodb.models import DynamoDBBackend

_lock = threading.RLock()


def _serialized(method):
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with _lock:
            return method(self, *args, **kwargs)

    locked.serialized = True
    return locked


def serialize_dynamodb_backend() -> None:
    """Wrap every public method of moto's DynamoDB backend in the lock (idempotent)."""
    for name, method in inspect.getmembers(DynamoDBBackend, inspect.isfunction):
        if not name.startswith("_") and not getattr(method, "serialized", False):
            setattr(DynamoDBBackend, name, _serialized(method))
