"""The project's own errors: what went wrong, in domain words, with no HTTP status in them.

Services and selectors raise these. Each edge maps them once: the DRF exception handler
(``core.http_errors``) to a status and the envelope; ``core.entrypoints`` for management commands and
Lambda events.

AWS errors are told apart here, once (``is_transient``, ``as_domain_error``): throttled, timed out or
unavailable is ``Unavailable`` (503 with ``Retry-After``), anything else ``Internal`` (500, logged with
its stack). What is worth trying again has been tried again before it gets here: botocore retries
throttling, timeouts and dropped connections within the client's attempts (``core.aws``), a
transaction cancelled by a conflict or throttling is tried again by ``core.transactions``, a
conditional write that met a transaction on its item by ``core.conditional.applied``; what is still
transient after them answers 503.
"""

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as AwsConnectionError
from pynamodb.exceptions import PynamoDBException


class DomainError(Exception):
    """A sentence a person can act on, a machine-readable code and structured details."""

    code = "error"
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, code: str | None = None, details: dict | None = None):
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        self.details = details or {}
        super().__init__(self.message)


class NotFound(DomainError):
    """The gallery, photo or other thing asked for does not exist (or is being deleted)."""

    code = "not_found"
    default_message = "The requested resource does not exist."


class Conflict(DomainError):
    """Others kept changing the same thing; nothing was saved, and trying again may work."""

    code = "conflict"
    default_message = "The request conflicts with the current state of the resource."


class PreconditionFailed(DomainError):
    """The client's ``If-Match`` names a version that is no longer the stored one: nothing was saved."""

    code = "precondition_failed"
    default_message = "The resource changed since you read it (If-Match); read it again and retry."


class Mismatch(DomainError):
    """The request names values that disagree with what is stored (e.g. a photo's key or number)."""

    code = "mismatch"
    default_message = "The request does not match what is stored."


class Forbidden(DomainError):
    """The caller may not do this, although the thing exists for them (a visitor id held by another
    client); what must stay hidden is NotFound instead."""

    code = "forbidden"
    default_message = "You are not allowed to do this."


class Rejected(DomainError):
    """Input was refused; ``code`` says why (the app that owns the rule lists its codes)."""

    code = "rejected"
    default_message = "The input was refused."


class Unsupported(Rejected):
    """Input of a kind the service does not take (e.g. a file that is not an image of a known format)."""

    code = "unsupported"
    default_message = "This kind of input is not supported."


class TooLarge(Rejected):
    """Input over a limit (bytes, pixels)."""

    code = "too_large"
    default_message = "The input is over a limit."


class RateLimited(DomainError):
    """Too many of something from one client; ``retry_after`` seconds until it may try again."""

    code = "rate_limited"
    default_message = "Too many requests of this kind; try again later."
    retry_after = 3600


class Unavailable(DomainError):
    """A backing service was throttled, timed out or did not answer; trying again later may work.

    ``retry_after`` is the number of seconds a client should wait first (HTTP ``Retry-After``).
    """

    code = "unavailable"
    default_message = "A storage service did not answer; nothing was changed. Try again shortly."
    retry_after = 2


class DeadlineReached(Unavailable):
    """The request's time is up (``core.deadline``): no further AWS call was started."""

    code = "deadline_reached"
    default_message = "The request ran out of time waiting for storage; nothing more was done. Try again."


class Internal(DomainError):
    """Our own fault, or an answer from AWS that retrying cannot fix (e.g. a ValidationException)."""

    code = "internal_error"
    default_message = "Something went wrong on our side; the error was logged."


def storage_errors() -> tuple[type[BaseException], ...]:
    """Errors from the DynamoDB and S3 clients (``is_transient`` says which of them a retry may fix)."""
    return (PynamoDBException, BotoCoreError, ClientError)


# AWS error codes that mean "not now" rather than "never": throttling, a service's own trouble, a
# request that timed out on its side, a transaction still in progress under the same token.
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TransactionInProgressException",
        "TransactionConflictException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalError",
        "InternalFailure",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "503",
        "500",
    }
)


NOT_IMPLEMENTED = 501


def aws_error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore or PynamoDB error (``ThrottlingException``...), if it has one."""
    if isinstance(error, PynamoDBException):
        # Not ``cause_response_code``: it fails on a cause without a response (a dropped connection).
        return aws_error_code(error.cause) if error.cause is not None else None
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code")
    return None


def is_transient(error: BaseException) -> bool:
    """Does this client error mean "throttled, timed out or unavailable" (a retry later may work)?

    A connection that failed, timed out or dropped mid-answer is transient, as is an AWS answer with a
    transient code or a 5xx status other than 501 (Not Implemented: the service, or an emulator, does
    not do what the request asks, and never will). Everything else (a ValidationException, a missing
    table, a signature or permission refused) is a fault that the same request will meet again. Our own
    ``Unavailable`` (a transaction's tries spent, a deadline reached) says the same of itself.
    """
    if isinstance(error, Unavailable):
        return True
    if isinstance(error, PynamoDBException):
        return error.cause is not None and is_transient(error.cause)
    if isinstance(error, BotoCoreError):
        # Connection refused or reset, connect/read timeouts, a closed connection, a body cut short:
        # HTTPClientError, EndpointConnectionError or IncompleteReadError; a parameter or credentials
        # error is not.
        return isinstance(error, HTTPClientError | AwsConnectionError | IncompleteReadError)
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return aws_error_code(error) in TRANSIENT_CODES or (status >= 500 and status != NOT_IMPLEMENTED)
    return False


def as_domain_error(error: BaseException) -> DomainError:
    """The domain error a client error means: ``Unavailable`` when transient, else ``Internal``."""
    if isinstance(error, DomainError):
        return error
    if is_transient(error):
        return Unavailable()
    return Internal()
