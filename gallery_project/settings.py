"""Settings, read from the environment (12-factor); a local env file supplies defaults on a laptop."""

import os
from pathlib import Path

import corsheaders.defaults
import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from gallery_project.environment import Env

BASE_DIR = Path(__file__).resolve().parent.parent

env = Env()
# Unset variables are filled from `.local/env`, which `make run` writes; real environment variables win.
# GALLERY_ENV_FILE names another file, or an empty string for none (the tests read none).
# Read as is: a blank value means "no file", not "the default file".
_ENV_FILE = os.environ.get("GALLERY_ENV_FILE", str(BASE_DIR / ".local" / "env"))
if _ENV_FILE and os.path.isfile(_ENV_FILE):
    environ.Env.read_env(_ENV_FILE, overwrite=False)


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; blanks dropped, and an empty value means an empty list."""
    return [item.strip() for item in env.list(name, default=default) if item.strip()]


DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Read as is: django-environ takes a value starting with "$" for a reference to another variable, and a
# generated secret key may start with one.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set (make run writes one to .local/env).")
    SECRET_KEY = "insecure-debug-only-key"  # noqa: S105 (DEBUG only; production refuses to start without one)
# Earlier keys still accepted for what was signed with them (sessions, cursors, visitors' tokens) while a
# rotation settles: comma-separated, read as is like the key (a key may contain "$" but never ",").
SECRET_KEY_FALLBACKS = [key for key in os.environ.get("DJANGO_SECRET_KEY_FALLBACKS", "").split(",") if key]

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# A CSRF failure answers the {"error", "details"} envelope like every other error.
CSRF_FAILURE_VIEW = "core.http_errors.csrf_failure"

# The customer's contract: table and bucket names (defaults as in the guide).
GALLERIES_TABLE = env.str("GALLERIES_TABLE", default="Galleries")
GALLERY_PHOTOS_TABLE = env.str("GALLERY_PHOTOS_TABLE", default="GalleryPhotos")
PHOTO_RATINGS_TABLE = env.str("PHOTO_RATINGS_TABLE", default="PhotoRatings")
BUCKET_NAME = env.str("BUCKET_NAME", default="your-photography-bucket")
# Added by this service: hashes of curator keys (never the keys themselves).
CURATOR_KEYS_TABLE = env.str("CURATOR_KEYS_TABLE", default="CuratorKeys")
# Short-lived records of every kind (scan claims first), keyed "kind#id", expiring by TTL.
SERVICE_RECORDS_TABLE = env.str("SERVICE_RECORDS_TABLE", default="ServiceRecords")
# Added by this service: one entry per (tag, photo), for the search of photos by tag across galleries.
PHOTO_TAGS_TABLE = env.str("PHOTO_TAGS_TABLE", default="PhotoTags")
# Endpoints and region come from the AWS SDK's own variables (AWS_ENDPOINT_URL_DYNAMODB,
# AWS_ENDPOINT_URL_S3, AWS_DEFAULT_REGION); botocore reads them itself, so they are not copied here.
AWS_REGION = env.str("AWS_DEFAULT_REGION", default="") or env.str("AWS_REGION", default="") or "us-east-1"
os.environ.setdefault("AWS_DEFAULT_REGION", AWS_REGION)

# Public URLs of stored images: a CDN or the bucket's public base URL. Empty means "sign URLs when read".
MEDIA_PUBLIC_BASE_URL = env.str("MEDIA_PUBLIC_BASE_URL", default="").rstrip("/")
MEDIA_SIGNED_URL_SECONDS = env.int("MEDIA_SIGNED_URL_SECONDS", default=3600)

# A gallery created without a visibility: "public" keeps the guide's calls as written; an operator whose
# curators prepare galleries before publishing sets "private" (or "unlisted").
GALLERY_DEFAULT_VISIBILITY = env.str("GALLERY_DEFAULT_VISIBILITY", default="public")
if GALLERY_DEFAULT_VISIBILITY not in ("public", "unlisted", "private"):
    raise ImproperlyConfigured("GALLERY_DEFAULT_VISIBILITY must be public, unlisted or private.")

INSTALLED_APPS = [
    # Before staticfiles: `runserver` (make dev) leaves static files to WhiteNoise, as gunicorn and Lambda do.
    "whitenoise.runserver_nostatic",
    "gallery_project.apps.StaticFilesConfig",  # django.contrib.staticfiles, without source maps
    "corsheaders",
    "rest_framework",
    # The OpenAPI schema and its docs pages (gallery_project.api_docs); the sidecar brings their scripts.
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core.apps.CoreConfig",
    "gallery_project.apps.GalleryProjectConfig",
    "galleries",
    "ratings",
    "photos",
    "scans",
    "console",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    # One log line and the metrics of every request (core.observability), with its ids.
    "core.middleware.RequestLogMiddleware",
    # A bad Host or malformed header answers the envelope before anything else reads them.
    "core.middleware.MalformedRequestMiddleware",
    "core.middleware.DeadlineMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files, served by the service itself (Zappa serves none): right after the security headers.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The Content-Security-Policy of every answer after this point (pages and the API; not static files).
    "csp.middleware.CSPMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gallery_project.urls"
WSGI_APPLICATION = "gallery_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "gallery_project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csrf",
            ],
        },
    },
]

# No relational database: every piece of state lives in DynamoDB or S3, so Lambda needs no RDS.
DATABASES: dict = {}
# Browser sessions (curators using the browsable API) are ServiceRecords of kind "session"
# (gallery_project.session_store): the cookie holds only a random id, signing out deletes the record.
SESSION_ENGINE = "gallery_project.session_store"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# A session ends this long after sign-in, however busy: saved only when it changes, so never extended.
SESSION_COOKIE_AGE = env.int("CURATOR_SESSION_SECONDS", default=8 * 3600)
SESSION_SAVE_EVERY_REQUEST = False

# Front ends on other origins call the API from browsers. Reads are public anyway; writes need a
# curator key in the Authorization header, which CORS allows by default.
CORS_ALLOW_ALL_ORIGINS = env.bool("CORS_ALLOW_ALL_ORIGINS", default=True)
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
# ETag: a page on another origin reads a version to edit it with If-Match, or to revalidate with
# If-None-Match (core.viewsets); without these a browser hides the one and refuses to send the others.
CORS_EXPOSE_HEADERS = ["X-Request-Id", "Retry-After", "ETag", "Idempotent-Replayed"]
# A visitor's rating writes carry their token (ratings.visitors), so browsers must be allowed to send it.
CORS_ALLOW_HEADERS = (
    *corsheaders.defaults.default_headers,
    "x-visitor-token",
    "if-match",
    "if-none-match",
    "idempotency-key",
)

APPEND_SLASH = False
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False

# Static files (the CSS, JS and fonts of the browsable API and the sign-in page) are served by the service
# itself through WhiteNoise, locally and on Lambda, and linked under the request's stage prefix
# (gallery_project.staticfiles). DJANGO_STATIC_COLLECTED=true where `collectstatic` wrote them to
# STATIC_ROOT (`make run`, the Lambda package: zappa_settings.json sets both): pages link content-hashed
# names, cached for a year, and WhiteNoise serves gzip copies to clients that accept them. Anywhere else
# (the tests, `make dev`, a manage.py command) pages link plain names that WhiteNoise finds in the apps;
# there is no STATIC_ROOT, so `collectstatic` runs only with the flag, never writing unhashed names.
STATIC_URL = env.str("DJANGO_STATIC_URL", default="/static/")
STATIC_COLLECTED = env.bool("DJANGO_STATIC_COLLECTED", default=False)
STATIC_ROOT = BASE_DIR / env.str("DJANGO_STATIC_ROOT", default=".local/static") if STATIC_COLLECTED else None
WHITENOISE_USE_FINDERS = not STATIC_COLLECTED
# Only the hashed names are linked, so only they are kept (and shipped in the Lambda zip).
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
# The API's JavaScript client, served as it is (no build step): the console's uploader imports it, so the
# console talks to the API as any front end does (its typings are left out: gallery_project.apps).
# The Lambda package holds it collected, not the folder (zappa_settings.json leaves clients/ out): only
# where the folder is, so a check on Lambda finds no missing directory.
_JS_CLIENT = BASE_DIR / "clients" / "js" / "src"
STATICFILES_DIRS = [("gallery-client", _JS_CLIENT)] if _JS_CLIENT.is_dir() else []

# Upload limits: one photo and one request body.
PHOTO_MAX_BYTES = env.int("PHOTO_MAX_BYTES", default=40 * 1024 * 1024)
PHOTO_MAX_PIXELS = env.int("PHOTO_MAX_PIXELS", default=100_000_000)
PHOTO_MAX_FILES_PER_UPLOAD = env.int("PHOTO_MAX_FILES_PER_UPLOAD", default=50)
# AVIF twins of every rendition, besides JPEG and WebP (bench/imaging.py prints what they cost).
PHOTO_AVIF_RENDITIONS = env.bool("PHOTO_AVIF_RENDITIONS", default=False)
# Photos of one upload are processed in parallel, one per core by default (Pillow releases the GIL).
PHOTO_PROCESSING_WORKERS = env.int("PHOTO_PROCESSING_WORKERS", default=len(os.sched_getaffinity(0)))
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
# Multipart bounds Django applies while it parses, before any view code: the upload's photos plus a
# margin (51-60 files get the designed 400, more stop the parse: TooManyFilesSent, the envelope), and a
# title, description and tag list per photo plus room for keepDuplicate and the CSRF token.
DATA_UPLOAD_MAX_NUMBER_FILES = env.int(
    "DATA_UPLOAD_MAX_NUMBER_FILES", default=PHOTO_MAX_FILES_PER_UPLOAD + 10
)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int(
    "DATA_UPLOAD_MAX_NUMBER_FIELDS", default=3 * PHOTO_MAX_FILES_PER_UPLOAD + 50
)
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)
UPLOAD_MAX_REQUEST_BYTES = env.int("UPLOAD_MAX_REQUEST_BYTES", default=200 * 1024 * 1024)
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default="") or None

# Bounded memory: the decoded bytes (width x height x bytes per pixel) of the photos being decoded at once
# in this process stay under a budget derived from the function's memory (Lambda sets
# AWS_LAMBDA_FUNCTION_MEMORY_SIZE; zappa_settings.json asks for 1769 MB); a file alone over it gets 413.
FUNCTION_MEMORY_MB = env.int("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", default=1769)
PHOTO_DECODE_BUDGET_BYTES = env.int(
    "PHOTO_DECODE_BUDGET_BYTES", default=FUNCTION_MEMORY_MB * 1024 * 1024 * 45 // 100
)
# A photo over that shared budget decodes alone (no other decode runs, and no file is read, beside it)
# when its peak and the files the process holds (its own, and what other threads read) fit in the
# function's memory less what the process holds at rest: the app and its runtime (bench/memory.py: 77 MiB)
# and the renditions made. It is what lets a 512 MB function take a 45 MP HEIC (375 MiB by the rule with an
# 11 MB file: 420 MiB peak RSS measured).
PHOTO_DECODE_RESERVE_BYTES = env.int("PHOTO_DECODE_RESERVE_BYTES", default=112 * 1024 * 1024)
PHOTO_DECODE_ALONE_BYTES = env.int(
    "PHOTO_DECODE_ALONE_BYTES", default=max(0, FUNCTION_MEMORY_MB * 1024 * 1024 - PHOTO_DECODE_RESERVE_BYTES)
)

# Bounded time: every AWS client call has a connect and a read timeout and a number of attempts, and
# every request a deadline: an attempt that could not finish before it is not started (503 instead), so
# a hung S3 or DynamoDB answers within the deadline plus a little work, under API Gateway's 29 s.
AWS_CONNECT_TIMEOUT_SECONDS = env.float("AWS_CONNECT_TIMEOUT_SECONDS", default=2.0)
AWS_READ_TIMEOUT_SECONDS = env.float("AWS_READ_TIMEOUT_SECONDS", default=5.0)
AWS_MAX_ATTEMPTS = env.int("AWS_MAX_ATTEMPTS", default=3)
REQUEST_DEADLINE_SECONDS = env.float("REQUEST_DEADLINE_SECONDS", default=22.0)

# Rating stuffing: new visitor ids rating one photo from one client address, per day (then 429).
RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY = env.int("RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY", default=5)
# A visitor id is its client's for this many days after its last use (ratings.visitors); then it is free.
VISITOR_ID_DAYS = env.int("VISITOR_ID_DAYS", default=730)
# A photo whose rating transactions keep meeting each other is "hot" for this long (renewed while the
# stream brings many of its ratings at once): its ratings are then
# plain puts, added to its aggregate from PhotoRatings' stream (photos.services.rating_stream,
# docs/scale.md). Only when the stream reaches the service: on AWS once ensure_resources made the mapping
# and zappa_settings routes it (docs/deploy.md); `make run` delivers it itself. Off, a hot photo's
# ratings stay transactions (exact at once, 503 `busy` past one item's ceiling).
RATING_STREAM_AGGREGATION = env.bool("RATING_STREAM_AGGREGATION", default=False)
RATING_HOT_SECONDS = env.int("RATING_HOT_SECONDS", default=600)
# How long a function instance keeps a hot photo as read for its visitors' ratings (photos.services.rate).
RATING_HOT_READ_SECONDS = env.float("RATING_HOT_READ_SECONDS", default=1.0)


PAGE_SIZE_DEFAULT = env.int("PAGE_SIZE_DEFAULT", default=25)
PAGE_SIZE_MAX = env.int("PAGE_SIZE_MAX", default=100)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "core.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "gallery_project.auth.CuratorKeyAuthentication",
        "gallery_project.auth.CuratorSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["gallery_project.auth.CuratorWritesOthersRead"],
    "DEFAULT_THROTTLE_RATES": {
        "ratings": env.str("RATING_THROTTLE_RATE", default="60/min"),
        # Visitors' reads per client address (curators are not counted): bounds what one client can
        # make DynamoDB read, anonymously.
        "reads": env.str("READ_THROTTLE_RATE", default="600/min"),
        # Wrong curator keys per client address (a Bearer header or the sign-in form).
        "auth_failures": env.str("AUTH_FAILURE_THROTTLE_RATE", default="30/min"),
    },
    "UNAUTHENTICATED_USER": "gallery_project.auth.Visitor",
    # Never trust X-Forwarded-For for client addresses (core.throttling reads API Gateway's own).
    "NUM_PROXIES": 0,
    "EXCEPTION_HANDLER": "core.http_errors.exception_handler",
    # OpenAPI 3 (drf-spectacular): core.openapi.AutoSchema once a schema is generated (core.schema says why
    # not before); the error answers every operation may give are added once, there.
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "UNICODE_JSON": True,
}

# The OpenAPI schema (GET /api/schema; docs/openapi.yaml is its committed copy, checked by the tests).
SPECTACULAR_SETTINGS = {
    "TITLE": "Photography gallery API",
    "DESCRIPTION": (
        "Galleries, their photos and visitors' ratings. Everyone reads public galleries; curators "
        "(`Authorization: Bearer <key>`) write. Every error answers the envelope "
        '`{"error": "...", "details": ...}`. The customer\'s guide\'s single endpoint `/galleries` '
        "(with `?action=` and `?id=`) reaches the same operations as `/api/`."
    ),
    "VERSION": "1.0.0",
    "DEFAULT_GENERATOR_CLASS": "core.openapi.SchemaGenerator",
    # The schema describes the API, not the page that serves it.
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response bodies are separate components where they differ (generated clients send
    # only what may be sent).
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["gallery_project.openapi.api_operations_only"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gallery_project.openapi.guide_routes",
        "gallery_project.openapi.served_here",
    ],
    # The docs pages take Swagger UI and Redoc from the sidecar package, served as this service's own
    # static files (no other host; the pages keep the site's Content-Security-Policy).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": False, "validatorUrl": None},
}

# Throttling counts live in the cache: per process here; on Lambda each warm container counts alone,
# so the effective limit is per container (see docs/deploy.md).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Hot photos as a visitor's rating read them a moment ago (photos.services.rate).
    "hot-photos": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "hot-photos",
        "OPTIONS": {"MAX_ENTRIES": 256},
    },
}

# Logs: one JSON object per line (core.observability.JsonFormatter), as CloudWatch Logs Insights reads them;
# LOG_FORMAT=plain for a person reading a terminal. Each line names the request, Lambda event or command
# it belongs to; each request, event and command ends with a line of its own (gallery.requests,
# gallery.entrypoints). Metrics are CloudWatch Embedded Metric Format documents on gallery.metrics, written
# as they are whatever LOG_LEVEL says, on stderr like the logs (a command's stdout is its output).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain.")
# The logs' "service" field and the metrics' "service" dimension; the metrics' CloudWatch namespace.
# Two stages in one account and region set different names, or each stage's alarms count the other's.
SERVICE_NAME = env.str("SERVICE_NAME", default="gallery-backend")
# How long CloudWatch keeps the function's logs: Zappa has no key for it, so zappa_settings.json names it
# among the stage's variables and `ensure_resources --function` applies it (logs:PutRetentionPolicy).
LOG_RETENTION_DAYS = env.int("LOG_RETENTION_DAYS", default=30)
METRICS_NAMESPACE = env.str("METRICS_NAMESPACE", default="GalleryBackend")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.observability.LogContext"}},
    "formatters": {
        "json": {"()": "core.observability.JsonFormatter", "service": SERVICE_NAME},
        "plain": {"format": "%(levelname)s %(name)s %(message)s"},
        "emf": {"format": "%(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]},
        "metrics": {"class": "logging.StreamHandler", "formatter": "emf"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "pynamodb": {"level": "WARNING"},
        # Django's line for each 4xx says what gallery.requests says; its 5xx lines stay.
        "django.request": {"level": "ERROR"},
        # Zappa's line for each request (Apache's format: the query string, the client's address and
        # user agent); gallery.requests replaces it.
        "zappa.wsgi": {"level": "WARNING"},
        "gallery.metrics": {"handlers": ["metrics"], "level": "INFO", "propagate": False},
    },
}

# Originals and renditions live in S3 through django-storages. URLs are built by photos.urls from
# MEDIA_PUBLIC_BASE_URL (or signed on read), so the storage itself never signs.
STORAGES = {
    "default": {
        "BACKEND": "core.media_storage.MediaStorage",
        "OPTIONS": {
            "bucket_name": BUCKET_NAME,
            "querystring_auth": False,
            "file_overwrite": True,
            "default_acl": None,
            "region_name": AWS_REGION,
        },
    },
    "staticfiles": {
        "BACKEND": "gallery_project.staticfiles."
        + ("CollectedStaticFiles" if STATIC_COLLECTED else "StaticFiles")
    },
}

# Content-Security-Policy (django-csp) on every answer, for every HTML page there is or will be (the
# browsable API, sign-in, docs pages): scripts, styles, fonts and images from this origin only, no inline
# script or style (the templates in gallery_project/templates link static files instead), no framing, no
# plugins, forms and XHR to this origin. A page that needs more (a docs page's worker) widens it for itself
# with django-csp's decorators (@csp_update); a nonce (csp.constants.NONCE, request.csp_nonce) is there
# for an inline script that cannot move to a file. The API's JSON answers carry it too, harmlessly.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

# HTTPS. API Gateway answers HTTPS only (it has no plain-HTTP listener) and Zappa passes its
# X-Forwarded-Proto on as the request's scheme, so Django sees every Lambda request as secure without
# SECURE_PROXY_SSL_HEADER (never set it: locally a client could claim HTTPS with it).
# HSTS: 0 (off) by default, right for the stage's default domain (execute-api.amazonaws.com, AWS's, and
# HTTPS-only anyway). On a custom domain set DJANGO_SECURE_HSTS_SECONDS (31536000, a year, once it is known
# to work), and the two below only if every subdomain serves HTTPS and the domain should be preloaded.
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)

# `manage.py check --deploy` with production settings reports nothing else (tests/security/test_headers.py).
SILENCED_CHECKS_WITH_REASONS = {
    "security.W004": "SECURE_HSTS_SECONDS is 0 by default: the stage's default domain is AWS's and "
    "HTTPS-only; a custom domain sets DJANGO_SECURE_HSTS_SECONDS (docs/deploy.md).",
    "security.W008": "SECURE_SSL_REDIRECT is off: API Gateway has no plain-HTTP listener, so no request "
    "reaches the function over HTTP; `make run` serves plain HTTP on loopback.",
}
SILENCED_SYSTEM_CHECKS = list(SILENCED_CHECKS_WITH_REASONS)
