"""Management commands and Lambda events meet domain errors here: mapped once for both edges.

HTTP has its own mapping in ``core.http_errors``; a command prints the sentence and exits non-zero, a
Lambda event answers ``{"error", "code", "details"}`` instead of failing the invocation (a scheduled
event that names a missing gallery would otherwise be retried for nothing).

Both are observed as a request is (``core.observability.observed``): their name and ids on every log
line, one line saying how each run ended (ok, refused with the code, failed) and in how long, and the
metrics it recorded printed at its end.
"""

import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

import django
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from core.deadline import within
from core.errors import DomainError
from core.observability import observed

logger = logging.getLogger("gallery.entrypoints")


def error_body(error: DomainError) -> dict:
    return {"error": error.message, "code": error.code, "details": error.details}


class DomainCommand(BaseCommand):
    """A command whose domain errors end it with their sentence (``CommandError``), not a traceback."""

    def execute(self, *args, **options):
        # Django names a command after its module; its options are not logged (a path, a label).
        with observed("command", type(self).__module__.rsplit(".", 1)[-1]) as run:
            try:
                return super().execute(*args, **options)
            except DomainError as error:
                run.refused(error.code)
                raise CommandError(error.message) from None


EventHandler = Callable[[Any, Any], dict]

# What an event keeps of the Lambda's time after its deadline: enough to log, answer and return.
EVENT_MARGIN_SECONDS = 10.0


def event_deadline(context):
    """A deadline shortly before the Lambda's own timeout (none when the context cannot tell)."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return contextlib.nullcontext()
    return within(max(0.0, remaining_ms() / 1000 - EVENT_MARGIN_SECONDS))


def lambda_event(handler: EventHandler) -> EventHandler:
    """A Lambda entry point (Zappa ``events``): Django set up first, a deadline before the Lambda's own
    timeout, domain errors answered as a body, Lambda's request id on every log line of the event."""

    @functools.wraps(handler)
    def entry(event, context=None) -> dict:
        if not apps.ready:  # Zappa sets Django up for events; a bare Lambda invocation may not have
            django.setup()
        # Lambda's id is an event's only one: under both names a request's lines use for theirs.
        function_id = getattr(context, "aws_request_id", None)
        with observed(
            "event", handler.__name__, request_id=function_id, function_request_id=function_id
        ) as run:
            try:
                with event_deadline(context):
                    return handler(event, context)
            except DomainError as error:
                run.refused(error.code)
                logger.warning("%s refused: %s", handler.__name__, error.message)
                return error_body(error)

    return entry
