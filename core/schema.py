"""The vocabulary the views describe their operations with (``@extend_schema``): the error envelope, the
error answers, pages and conditional-request headers; and the schema class the settings name.

Only ``drf_spectacular.utils`` and ``.types`` are imported here (about 4 ms on a cold start): what
generates the schema (``core.openapi``, drf-spectacular's generator and plumbing, which bring django.test:
about 60 ms) loads only when a schema is generated.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.schemas.inspectors import ViewInspector

from core.idempotency import KEY_MAX_LENGTH, KEY_MIN_LENGTH, KEY_PATTERN
from core.pagination import CURSOR_PARAM, PAGE_SIZE_PARAM


class ErrorEnvelopeSerializer(serializers.Serializer):
    """Every error answer: ``{"error": "<a sentence>", "details": {...}}``."""

    error = serializers.CharField(help_text="What went wrong, as a sentence a person can read.")
    details = serializers.JSONField(
        help_text=(
            "More about it: for invalid input the messages by field name; otherwise a `reason`, a "
            "`code`, `retryAfterSeconds`, the `requestId` of a 5xx..."
        )
    )

    class Meta:
        ref_name = "ErrorEnvelope"


ERRORS = {
    400: "The request is malformed or its input invalid: `details` names each field and what is wrong.",
    401: "A curator key is needed and none was sent, or the key sent is unknown or revoked.",
    403: "Refused: a signed-in browser's CSRF token is missing, or a visitor id's token is not this one's.",
    404: "No such resource, or one this viewer may not see (a private gallery answers like a missing one).",
    412: "`If-Match` names a version that is no longer the current one: read again, then edit.",
    413: "The body is larger than this operation takes.",
    415: "The body's content type (or its charset) is not one this operation takes.",
    429: "Too many requests from this address: wait `Retry-After` seconds.",
    500: "A fault of the service: `details.requestId` names it in the logs.",
    503: "AWS was unavailable or slow, or the request ran out of time: retry after `Retry-After` seconds.",
}


def error(code: int, description: str | None = None) -> OpenApiResponse:
    """The envelope as the answer for ``code`` (an operation's own words, or the shared ones)."""
    return OpenApiResponse(ErrorEnvelopeSerializer, description=description or ERRORS[code])


def not_modified() -> OpenApiResponse:
    return OpenApiResponse(description="`If-None-Match` named the current `ETag`: the copy held is current.")


def page_of(serializer_class: type[serializers.Serializer], name: str) -> serializers.Serializer:
    """A page of ``serializer_class`` items: ``{"results": [...], "next": url|null, "previous": ...}``.

    One object, also as the answer of a ``list`` action (which drf-spectacular would make a list of it)."""
    page = inline_serializer(
        name=name,
        fields={
            "results": serializer_class(many=True),
            "next": serializers.URLField(allow_null=True, help_text="The next page, or null on the last."),
            "previous": serializers.URLField(
                allow_null=True, help_text="The previous page, or null on the first."
            ),
        },
    )
    extend_schema_serializer(many=False)(type(page))
    return page


PAGE_PARAMETERS = [
    OpenApiParameter(
        CURSOR_PARAM,
        OpenApiTypes.STR,
        description="Where a page starts: take it from a page's `next` or `previous`; absent for the first.",
    ),
    OpenApiParameter(
        PAGE_SIZE_PARAM,
        {"type": "integer", "minimum": 1},
        description="Items per page (at least 1; more than the cap answers the cap).",
    ),
]

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="An `ETag` this client holds: 304 with no body when it is still current.",
)


def etag_header(*codes: int, description: str) -> OpenApiParameter:
    """The ``ETag`` header of these answers (``core.viewsets``: a resource's version, or a digest of what
    its answer depends on)."""
    return OpenApiParameter(
        "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=list(codes), description=description
    )


IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Edit only this version (an `ETag` from a read), else 412. Without it, the edit applies.",
)


def idempotency_parameters(*codes: int) -> list[OpenApiParameter]:
    """The ``Idempotency-Key`` a write takes (``core.idempotency``), and the header that marks a replay
    on its answers ``codes``."""
    return [
        OpenApiParameter(
            "Idempotency-Key",
            {"type": "string", "pattern": f"^{KEY_PATTERN}$"},
            OpenApiParameter.HEADER,
            description=(
                f"A key of the client's own, {KEY_MIN_LENGTH} to {KEY_MAX_LENGTH} visible characters (a "
                "random UUID per write): the "
                "same request sent again with it, by the same curator (or, for a visitor, from the same "
                "address), within 24 hours answers what the first did (same status, the same resources "
                "as they are now: one deleted since is left out, or a gallery's answer is 404) instead of "
                "doing the work twice. Files a 207 refused are refused again by a replay: send them in a "
                "new request with a new key. A malformed key: 400 `idempotency_key_invalid`; the same key "
                "with another request: 422 `idempotency_key_reused`; while the first is still at work: "
                "409 `idempotency_key_in_flight` with `Retry-After` (in `details.code`). A first request "
                "that failed leaves the key free."
            ),
        ),
        OpenApiParameter(
            "Idempotent-Replayed",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            response=list(codes),
            description="`true`: the answer of an earlier request with the same `Idempotency-Key`.",
        ),
    ]


KEY_REUSED = "This `Idempotency-Key` was sent before with another request (`idempotency_key_reused`)."


class AutoSchema(ViewInspector):
    """The settings' ``DEFAULT_SCHEMA_CLASS``, standing in for ``core.openapi.AutoSchema`` until a schema is
    generated.

    DRF makes one whenever something looks at a view's ``schema`` (the router does, for every viewset, when
    ``gallery_project.urls`` is imported) and drf-spectacular's ``@extend_schema`` subclasses it when a view
    module is imported: both on every cold start, though only schema generation uses it. drf-spectacular's
    own AutoSchema would cost about 60 ms of imports there. So this class is a plain ``ViewInspector``
    until ``core.openapi.SchemaGenerator`` (the settings' only generator) rebases it on
    ``core.openapi.AutoSchema``, before it describes any operation; the decorators' subclasses follow.
    """
