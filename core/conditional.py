"""Conditional DynamoDB writes: a failed condition is an answer ("not applied"), not an error."""

import random
import time
from collections.abc import Callable

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from core.errors import aws_error_code
from core.observability import WRITE_RETRIES, metric

CONDITION_FAILED = "ConditionalCheckFailedException"
# A single-item write meeting a transaction that is writing the same item; botocore does not retry it.
TRANSACTION_CONFLICT = "TransactionConflictException"
CONFLICT_ATTEMPTS = 4
CONFLICT_PAUSE_SECONDS = 0.02


def applied(write: Callable[[], object]) -> bool:
    """Run one conditional PynamoDB save, update or delete: True when it was applied, False when its
    condition failed; a conflict with a transaction on the same item is tried again (then raised, and
    answered 503); any other failure is raised."""
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            write()
        except (PutError, UpdateError, DeleteError) as exc:
            code = aws_error_code(exc)
            if code == CONDITION_FAILED:
                return False
            if code != TRANSACTION_CONFLICT or attempt == CONFLICT_ATTEMPTS - 1:
                raise
            metric(WRITE_RETRIES, 1, reason="TransactionConflict")  # as a transaction's item names it
            time.sleep(random.uniform(0, CONFLICT_PAUSE_SECONDS * 2**attempt))
            continue
        return True
    raise AssertionError("unreachable")
