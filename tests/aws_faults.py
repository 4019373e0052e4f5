"""AWS failures on demand, in process: what real AWS answers that moto and the emulators rarely do.

``aws_calls(monkeypatch, "UpdateItem")`` records the calls of an operation; ``fail_nth("PutObject", 2)``
makes the second call of an operation fail as an unavailable service;
``cancel_transactions(monkeypatch, ["None", "TransactionConflict"], ...)`` makes the next transactions
(one list of per-item reason codes each) fail as DynamoDB cancels them, then lets later ones commit.
"""

from contextlib import contextmanager

import botocore.client
import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from core import transactions


@contextmanager
def fail_nth(operation: str, nth: int, *, times: int = 1, code: str = "ServiceUnavailable"):
    """Make calls ``nth`` .. ``nth + times - 1`` of an AWS operation (any client, any thread) fail.
    Nested uses combine (each wraps whatever call was in place when it began)."""
    seen = {"count": 0}
    previous = botocore.client.BaseClient._make_api_call

    def call(client, operation_name, params):
        if operation_name == operation:
            seen["count"] += 1
            if nth <= seen["count"] < nth + times:
                raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation_name)
        return previous(client, operation_name, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", call)
        yield seen


def aws_calls(monkeypatch, operation: str, *, table: str | None = None) -> list[dict]:
    """Record the parameters of every call of an AWS operation (on one table, if given) from now on."""
    previous, seen = botocore.client.BaseClient._make_api_call, []

    def call(client, operation_name, params):
        if operation_name == operation and (table is None or params.get("TableName") == table):
            seen.append(params)
        return previous(client, operation_name, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    return seen


def cancelled(*codes: str) -> TransactWriteError:
    """A TransactWriteItems cancelled with these per-item reason codes ("None" for a fine item), in the
    order DynamoDB names items: PynamoDB sends condition checks, deletes, puts, then updates."""
    reasons = [CancellationReason(code=code) for code in codes]
    cause = VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}},
        "TransactWriteItems",
        cancellation_reasons=reasons,
    )
    return TransactWriteError("Failed to write transaction items", cause=cause)


def cancel_transactions(monkeypatch, *attempts: list[str]) -> list[str | None]:
    """Cancel the next ``len(attempts)`` transactions; returns the request tokens of every commit made."""
    pending = list(attempts)
    tokens: list[str | None] = []

    class Cancelling(transactions.Transaction):
        def _commit(self):
            tokens.append(self._client_request_token)
            if pending:
                raise cancelled(*pending.pop(0))
            return super()._commit()

    monkeypatch.setattr(transactions, "Transaction", Cancelling)
    return tokens
