"""The browser tier's fixtures: the real WSGI app on a loopback port and headless chromium.

``live_url``: the app inside the test's moto (pages and API; no image or upload form reaches moto).
``local_live_url``: the app on this worker's own DynamoDB Local and s3rver, as `make run` serves it, so
the browser loads renditions from the local S3 and posts files straight to it; paths under ``/prod`` are
served as Zappa serves the stage's default domain (``SCRIPT_NAME=/prod``), every other path as on a
custom domain, by the same server.
"""

import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application

from tests.faults.services import FaultServices
from tests.faults.store import FaultStore, store_close, store_open

STAGE = "/prod"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ThreadedServer(WSGIServer):
    daemon_threads = True


def _staged(app, stage: str):
    """``app`` as Zappa runs it behind API Gateway's stage: a path under ``stage`` is the stage's, with
    ``SCRIPT_NAME`` set and ``PATH_INFO`` without it; any other path is served at the root."""

    def serve(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == stage or path.startswith(stage + "/"):
            environ = {**environ, "SCRIPT_NAME": stage, "PATH_INFO": path[len(stage) :] or "/"}
        return app(environ, start_response)

    return serve


def _served(settings, tmp_path, *, stage: str = ""):
    """The real WSGI app on a free loopback port with its static files collected into a fresh
    STATIC_ROOT and served by its own WhiteNoise, as `make run` and Lambda serve them."""
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "gallery_project.staticfiles.CollectedStaticFiles"},
    }
    settings.WHITENOISE_USE_FINDERS = False
    call_command("collectstatic", interactive=False, verbosity=0)
    app = get_wsgi_application()
    app = _staged(app, stage) if stage else app
    server = make_server("127.0.0.1", 0, app, _ThreadedServer, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture
def live_url(aws, settings, tmp_path):
    """The app inside the test's moto."""
    server = _served(settings, tmp_path)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def local_services(tmp_path_factory):
    """This worker's own DynamoDB Local and s3rver for the browser (about 5 s to start, once)."""
    services = FaultServices(tmp_path_factory.mktemp("browser-services")).start()
    yield services
    services.close()


@pytest.fixture
def local_store(local_services, monkeypatch):
    """The service pointed at them, with fresh tables, bucket (its CORS rule, as on AWS) and a curator
    key; emptied after the test."""
    opened: FaultStore = store_open(local_services, monkeypatch)
    yield opened
    store_close(opened, next_test_is_ours=False)


@pytest.fixture
def local_live_url(local_store, settings, tmp_path):
    """The app on the local services, at the root and under ``STAGE``; the URL of the root."""
    server = _served(settings, tmp_path, stage=STAGE)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic", f"--user-data-dir={tmp_path / 'profile'}",
    ):  # fmt: skip
        options.add_argument(flag)
    # The console, where chromium reports what a Content-Security-Policy refused.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    driver.set_window_size(1280, 1000)
    yield driver
    driver.quit()
