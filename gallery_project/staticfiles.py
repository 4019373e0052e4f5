"""Where pages link static files: under the request's script prefix (the API Gateway stage, `/prod`).

Zappa runs a request on the stage's default domain with ``SCRIPT_NAME=/prod`` (and one on a custom domain
without it), so one process can serve both. Django adds the script prefix to a relative ``STATIC_URL``
only once per process, when the setting is first read (before any request, when WhiteNoise starts), so
the prefix is added here, per link, instead. WhiteNoise matches ``PATH_INFO``, which never holds the
stage, so it serves ``/prod/static/...`` on the default domain and ``/static/...`` on a custom one.
"""

from django.contrib.staticfiles.storage import StaticFilesStorage
from django.urls import get_script_prefix
from whitenoise.storage import CompressedManifestStaticFilesStorage  # type: ignore[import-untyped]  # no py.typed


def _under_script_prefix(url: str) -> str:
    if url.startswith("/") and not url.startswith("//"):  # a path on this host, not a CDN's URL
        return get_script_prefix().rstrip("/") + url
    return url


class StaticFiles(StaticFilesStorage):
    """Plain names, found by the finders in the apps: the tests, `make dev`, a `manage.py` command."""

    def url(self, name: str | None) -> str:
        return _under_script_prefix(super().url(name))


def _without_source_maps(patterns: tuple) -> tuple:
    return tuple(
        (glob, tuple(rule for rule in rules if "sourceMappingURL" not in str(rule)))
        for glob, rules in patterns
    )


class CollectedStaticFiles(CompressedManifestStaticFilesStorage):
    """What `collectstatic` wrote (`make run`, the Lambda package): content-hashed names from its manifest
    (a missing entry is an error, never an unhashed link), with gzip copies WhiteNoise serves when asked.

    Source maps are not collected (``gallery_project.apps.StaticFilesConfig``: 6.4 MB of the docs pages'
    Swagger UI and Redoc, a third of the Lambda zip), so a script's ``sourceMappingURL`` comment is left as it
    is rather than resolved to a hashed name (a browser's developer tools then find no map: 404)."""

    patterns = _without_source_maps(CompressedManifestStaticFilesStorage.patterns)

    def url(self, name: str | None, force: bool = False) -> str:
        return _under_script_prefix(super().url(name, force))
