"""The OpenAPI schema and its two docs pages: ``GET /api/schema`` (YAML; JSON with ``?format=json`` or
``Accept: application/json``), Swagger UI at ``/api/docs`` and Redoc at ``/api/redoc``.

The pages are drf-spectacular's with this project's templates: Swagger UI and Redoc come from the sidecar
package as this service's own static files, the pages' scripts are files (Swagger UI's start-up script is
served by the page's own URL with ``?script``), so they keep the site's Content-Security-Policy and
load nothing from another host. Everyone may read them, as everyone may read the API's answers; no
credential is read (a wrong key cannot make them fail), and the pages are never cached (Swagger UI's
start-up script carries the browser's CSRF token, for a signed-in curator trying writes out).

The schema is the same for everyone: it is generated once per process and per stage prefix and format
(about 0.4-0.9 s of work), then answered from memory, so no request can make the function generate it
again and again.
"""

from functools import cache

from csp.decorators import csp_update
from django.http import HttpResponse
from django.urls import get_script_prefix
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from core.http_errors import methods_only

SCHEMA_MAX_AGE_SECONDS = 300


@cache
def _views() -> dict:
    """drf-spectacular's views, made on the first request for one of them: importing the generator (yaml,
    jsonschema, the schema classes) costs about 88 ms on a cold start (``python -X importtime``,
    drf_spectacular.views' cumulative time), which no request but these needs."""
    from drf_spectacular import views

    class SchemaView(views.SpectacularAPIView):
        authentication_classes: list = []

    class SwaggerView(views.SpectacularSwaggerSplitView):
        authentication_classes: list = []
        template_name = "api_docs/swagger.html"
        title = "Photography gallery API"

    class RedocView(views.SpectacularRedocView):
        authentication_classes: list = []
        template_name = "api_docs/redoc.html"
        title = "Photography gallery API"

    return {
        "schema": SchemaView.as_view(),
        "docs": SwaggerView.as_view(url_name="api-schema"),
        "redoc": RedocView.as_view(url_name="api-schema"),
    }


def _wants_json(request) -> bool:
    return request.GET.get("format") == "json" or (
        "format" not in request.GET and "json" in request.headers.get("Accept", "")
    )


_rendered: dict[tuple[str, bool], bytes] = {}


def _content_type(request, as_json: bool) -> str:
    """The OpenAPI media types, or plain JSON for a client that asks for it by name."""
    if not as_json:
        return "application/vnd.oai.openapi; charset=utf-8"
    if "application/json" in request.headers.get("Accept", ""):
        return "application/json"
    return "application/vnd.oai.openapi+json"


def _serve_schema(request):
    # ?format=json or Accept naming JSON: JSON; anything else (an unknown format too): YAML.
    as_json = _wants_json(request)
    key = (get_script_prefix(), as_json)
    if key not in _rendered:
        query = request.GET.copy()
        query["format"] = "json" if as_json else "yaml"
        request.GET = query
        response = _views()["schema"](request)
        response.render()
        if response.status_code != 200:
            return response
        _rendered[key] = response.content
    response = HttpResponse(_rendered[key], content_type=_content_type(request, as_json))
    response["Cache-Control"] = f"public, max-age={SCHEMA_MAX_AGE_SECONDS}"
    response["Vary"] = "Accept"
    return response


def _page(name: str):
    @csrf_exempt  # reads only: any other method is the 405 envelope
    @methods_only("GET", "HEAD")
    @never_cache
    def view(request, *args, **kwargs):
        return _views()[name](request, *args, **kwargs)

    view.__name__ = f"api_{name}"
    return view


# Redoc's bundle inserts two <style> elements as it loads, before any option of ours can give them a
# nonce: an empty one that styled-components then fills through the CSSOM (which CSP does not govern),
# and perfect-scrollbar's fixed stylesheet. The page allows exactly those two by their hashes (redoc
# 2.x of drf-spectacular-sidecar 2026.10.1); a sidecar whose styles differ fails
# tests/browser/test_api_docs.py, whose chromium reports the hashes it refused.
REDOC_STYLE_HASHES = [
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty <style>
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar
]

schema = csrf_exempt(methods_only("GET", "HEAD")(_serve_schema))
docs = _page("docs")
redoc = csp_update({"style-src": REDOC_STYLE_HASHES})(_page("redoc"))
