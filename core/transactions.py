"""DynamoDB transactions that are safe to repeat and tell the truth about why they were cancelled.

``transaction_run`` builds and commits a TransactWriteItems:
- with a ``ClientRequestToken``, so botocore's own retry of an attempt whose answer was lost (a timeout
  after DynamoDB committed) is answered "done" by DynamoDB instead of being applied twice or failing its
  conditions (tokens are remembered for 10 minutes);
- reading the cancellation reasons, one per item: a failed condition raises ``Refused`` naming the
  items whose condition failed (in the order ``build`` added them, whatever order PynamoDB sends), for
  the caller to say what it means in domain words (the gallery is gone, the photo exists already...);
  ``TransactionConflict`` (another transaction was writing one of the items) and throttling are
  retried with backoff, then answered 503; anything else is raised as it is, and the error mapping
  answers 500 and logs it.
"""

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from core.aws import transaction_connection
from core.errors import Unavailable, aws_error_code
from core.observability import WRITE_RETRIES, metric

CANCELLED = "TransactionCanceledException"
CONDITION_FAILED = "ConditionalCheckFailed"
# Reasons a later attempt may not meet: another transaction on the same item, throttling.
RETRYABLE_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})

ATTEMPTS = 6
PAUSE_SECONDS = 0.01
PAUSE_MAX_SECONDS = 0.4


class Transaction(TransactWrite):
    """PynamoDB's TransactWrite, remembering the order items were added in.

    PynamoDB sends condition checks first, then deletes, puts and updates, and DynamoDB's cancellation
    reasons follow that wire order; ``logical`` maps them back to the order of the ``build`` calls.
    """

    _WIRE_ORDER = ("check", "delete", "put", "update")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._added: list[str] = []

    def condition_check(self, *args, **kwargs):
        self._added.append("check")
        return super().condition_check(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._added.append("delete")
        return super().delete(*args, **kwargs)

    def save(self, *args, **kwargs):
        self._added.append("put")
        return super().save(*args, **kwargs)

    def update(self, *args, **kwargs):
        self._added.append("update")
        return super().update(*args, **kwargs)

    def logical(self, wire_index: int) -> int:
        """The position in build order of the item DynamoDB names by ``wire_index``."""
        wire = sorted(range(len(self._added)), key=lambda i: self._WIRE_ORDER.index(self._added[i]))
        return wire[wire_index]


class Refused(Exception):
    """The transaction was cancelled because these items' conditions failed (positions in the order
    ``build`` added them)."""

    def __init__(self, failed: set[int]):
        super().__init__(f"conditions failed on items {sorted(failed)}")
        self.failed = failed


class Contended(Unavailable):
    """Other writers kept the items busy (or DynamoDB throttled them) through every attempt; ``reasons``
    are the cancellation reasons met, so a caller retries only what more tries may get past."""

    code = "busy"
    default_message = "Others are changing the same items right now; nothing was saved. Try again."

    def __init__(self, *args, reasons: frozenset[str] = frozenset(), **kwargs):
        super().__init__(*args, **kwargs)
        self.reasons = reasons

    @property
    def conflicts_only(self) -> bool:
        """Only other writers' transactions: throttling is not retried harder by callers."""
        return bool(self.reasons) and self.reasons <= {"TransactionConflict"}


@dataclass(frozen=True)
class Cancellation:
    """What DynamoDB said about each item of a cancelled transaction."""

    reasons: list[str | None]

    @classmethod
    def of(cls, error: TransactWriteError) -> "Cancellation | None":
        if aws_error_code(error) != CANCELLED:
            return None
        return cls([reason.code if reason else None for reason in error.cancellation_reasons])

    @property
    def failed_conditions(self) -> set[int]:
        """Wire positions of the items whose condition failed."""
        return {index for index, code in enumerate(self.reasons) if code == CONDITION_FAILED}

    @property
    def codes(self) -> set[str]:
        """The reasons given for the items that had one."""
        return {code for code in self.reasons if code and code != "None"}

    @property
    def retryable(self) -> bool:
        return bool(self.codes) and self.codes <= RETRYABLE_REASONS


def transaction_run(build: Callable[[TransactWrite], None], *, token: str | None = None) -> None:
    """Commit the items ``build`` adds to a TransactWrite; see the module's docstring for failures.

    ``token`` (at most 32 characters; a photo id, say) names this write: each attempt sends
    ``<token>-<attempt>``, so a transport retry inside one attempt is idempotent while a deliberate new
    attempt after a conflict is a new request. ``build`` runs again for each attempt.
    """
    base = (token or uuid.uuid4().hex)[:32]
    reasons: set[str] = set()
    for attempt in range(ATTEMPTS):
        transaction = Transaction(
            connection=transaction_connection(), client_request_token=f"{base}-{attempt}"
        )
        try:
            with transaction:
                build(transaction)
            return
        except TransactWriteError as error:
            cancellation = Cancellation.of(error)
            if cancellation is None:
                raise  # not a cancellation: the error mapping classifies it (503 or 500)
            if cancellation.failed_conditions:
                raise Refused({transaction.logical(i) for i in cancellation.failed_conditions}) from None
            if not cancellation.retryable:
                raise
            reasons |= cancellation.codes
            if attempt == ATTEMPTS - 1:
                break  # no attempt follows: no pause
            for reason in sorted(cancellation.codes):  # one value per reason, so an alarm on one sees all
                metric(WRITE_RETRIES, 1, reason=reason)
        # Full jitter: writers that collided spread out instead of colliding again in step.
        time.sleep(random.uniform(0, min(PAUSE_MAX_SECONDS, PAUSE_SECONDS * 2**attempt)))
    raise Contended(reasons=frozenset(reasons))
