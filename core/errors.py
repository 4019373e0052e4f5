"""The project's own errors: what went wrong, in domain words, with no HTTP status in them.

Services and selectors raise these. Each edge maps them once: the DRF exception handler
(``core.http_errors``) to a status and the envelope; ``core.entrypoints`` for management commands and
Lambda events.
"""

from botocore.exceptions import BotoCoreError, ClientError
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


class Mismatch(DomainError):
    """The request names values that disagree with what is stored (e.g. a photo's key or number)."""

    code = "mismatch"
    default_message = "The request does not match what is stored."


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


class Unavailable(DomainError):
    """A backing service failed for this part of the work; what the message says was not kept."""

    code = "unavailable"
    default_message = "A storage service did not answer; nothing was changed. Try again shortly."


def storage_errors() -> tuple[type[BaseException], ...]:
    """Errors from the DynamoDB and S3 clients that mean "a backing service failed"."""
    return (PynamoDBException, BotoCoreError, ClientError)
