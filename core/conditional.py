"""Conditional DynamoDB writes: a failed condition is an answer ("not applied"), not an error."""

from collections.abc import Callable

from pynamodb.exceptions import DeleteError, PutError, UpdateError

CONDITION_FAILED = "ConditionalCheckFailedException"


def applied(write: Callable[[], object]) -> bool:
    """Run one conditional PynamoDB save, update or delete: True when it was applied, False when its
    condition failed; any other failure is raised."""
    try:
        write()
    except (PutError, UpdateError, DeleteError) as exc:
        if exc.cause_response_code == CONDITION_FAILED:
            return False
        raise
    return True
