"""The base every API viewset shares: bounded parsers, 405 before authentication, input validation,
pagination responses, conditional requests.

Conditional requests (no lost updates): a resource answers an ``ETag`` made from its stored version
(``"v<version>"``; a gallery read with its photos adds a digest of the photos' stored state, never of a
body with signed URLs); ``If-None-Match`` with the current tag answers 304; an edit with ``If-Match``
is applied only to that version, else 412. Without ``If-Match`` edits behave as the guide describes.
"""

import re
from collections.abc import Callable, Sequence

from rest_framework import routers, status, viewsets
from rest_framework.parsers import BaseParser, FormParser
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from core.errors import PreconditionFailed
from core.pagination import Page, page_links, page_size_from
from core.parsers import BoundedJSONParser, BoundedMultiPartParser
from core.throttling import VisitorReadThrottle

_VERSION_TAG = re.compile(r'(?:W/)?"v(?P<version>[0-9]{1,18})(?:\.[0-9A-Za-z.-]*)?"')


def etag(tag: str) -> str:
    return f'"{tag}"'


class KnownMethodsFirst(APIView):
    """A method the view never serves is a 405 (with ``Allow``) for everyone, before authentication and
    permissions: DRF checks those first, so a visitor's PROPFIND or DELETE of a listing would be a 401,
    as if a key could make it work."""

    def initial(self, request, *args, **kwargs):
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            # Before content negotiation too: the answer is the first renderer's (JSON), whatever Accept.
            renderer = self.get_renderers()[0]
            request.accepted_renderer, request.accepted_media_type = renderer, renderer.media_type
            self.http_method_not_allowed(request, *args, **kwargs)
        super().initial(request, *args, **kwargs)


class APIRootView(KnownMethodsFirst, routers.APIRootView):
    """The router's /api/ page, with the same answer to unknown methods as the viewsets."""


class BaseViewSet(KnownMethodsFirst, viewsets.ViewSet):
    """Views validate input, call one service or selector, and shape the output; nothing else."""

    lookup_value_regex = "[^/]+"
    # Bodies are bounded before they are parsed (``core.parsers``): size, JSON depth, declared length.
    parser_classes: Sequence[type[BaseParser]] = (BoundedJSONParser, FormParser, BoundedMultiPartParser)
    # Visitors' reads are counted per client address (429 with Retry-After over READ_THROTTLE_RATE).
    throttle_classes: Sequence[type[BaseThrottle]] = (VisitorReadThrottle,)

    def validated(self, serializer_class, data, **kwargs) -> dict:
        serializer = serializer_class(data=data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def query(self, serializer_class) -> dict:
        return self.validated(serializer_class, self.request.query_params)

    def page_size(self) -> int:
        return page_size_from(self.request.query_params)

    def cursor(self) -> str | None:
        return self.request.query_params.get("cursor") or None

    def page_body(self, page: Page, output_serializer, *, path: str | None = None, **context) -> dict:
        results = output_serializer(page.items, many=True, context={"request": self.request, **context}).data
        return {"results": results, **page_links(self.request, page, path=path)}

    def page_response(self, page: Page, output_serializer, **context) -> Response:
        # Curators and visitors may see different items and fields: caches must tell them apart.
        return Response(
            self.page_body(page, output_serializer, **context), headers={"Vary": "Authorization, Cookie"}
        )

    def is_curator(self) -> bool:
        return bool(getattr(self.request.user, "is_curator", False))

    def viewer(self) -> str:
        """Who is asking, as far as an answer's content goes: "curator" or "visitor"."""
        return "curator" if self.is_curator() else "visitor"

    def expected_version(self) -> int | None:
        """The version an ``If-Match`` header names (None without one, or for ``*``); a tag this
        service never made cannot match (412)."""
        header = self.request.headers.get("If-Match", "").strip()
        if not header or header == "*":
            return None
        match = _VERSION_TAG.fullmatch(header.split(",")[0].strip())
        if match is None:
            raise PreconditionFailed("If-Match does not name a version of this resource.")
        return int(match.group("version"))

    def tagged(self, tag: str, answer: Callable[[], dict], *, code: int = status.HTTP_200_OK) -> Response:
        """The answer with its ETag, or 304 Not Modified when ``If-None-Match`` names that tag."""
        current = etag(tag)
        wanted = [value.strip() for value in self.request.headers.get("If-None-Match", "").split(",")]
        reading = self.request.method in ("GET", "HEAD")
        # Curators and visitors see different bodies of one resource: caches must tell them apart.
        headers = {"ETag": current, "Vary": "Authorization, Cookie"}
        if reading and (current in wanted or f"W/{current}" in wanted or "*" in wanted):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(answer(), status=code, headers=headers)
