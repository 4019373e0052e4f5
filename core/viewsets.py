"""The base every API viewset shares: input validation, pagination responses, the error envelope."""

from rest_framework import viewsets
from rest_framework.response import Response

from core.pagination import Page, page_links, page_size_from


class BaseViewSet(viewsets.ViewSet):
    """Views validate input, call one service or selector, and shape the output; nothing else."""

    lookup_value_regex = "[^/]+"

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

    def page_body(self, page: Page, output_serializer, *, path: str | None = None) -> dict:
        results = output_serializer(page.items, many=True, context={"request": self.request}).data
        return {"results": results, **page_links(self.request, page, path=path)}

    def page_response(self, page: Page, output_serializer) -> Response:
        return Response(self.page_body(page, output_serializer))
