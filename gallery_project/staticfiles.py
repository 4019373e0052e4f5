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


class CollectedStaticFiles(CompressedManifestStaticFilesStorage):
    """What `collectstatic` wrote (`make run`, the Lambda package): content-hashed names from its manifest
    (a missing entry is an error, never an unhashed link), with gzip copies WhiteNoise serves when asked."""

    def url(self, name: str | None, force: bool = False) -> str:
        return _under_script_prefix(super().url(name, force))
