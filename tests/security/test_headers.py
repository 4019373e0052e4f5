"""Headers: a Content-Security-Policy without 'unsafe-inline' on every HTML page that what the page loads
satisfies (nothing inline; every linked stylesheet and script served by the service itself, under the
stage prefix), HSTS as a setting, and `manage.py check --deploy` clean with production settings except
the checks silenced with their reasons. The browser half is tests/browser/test_curator_in_browser.py."""

import gzip
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.checks import WARNING, run_checks
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from rest_framework.test import APIClient
from werkzeug.test import Client as WsgiClient

from tests.factories import jpeg_bytes
from tests.security.pages import HASHED_NAME, assert_strict_csp, asset_type, page_of
from tests.security.test_sessions import signed_in

PROJECT = Path(__file__).resolve().parents[2]
PARIS = {"name": "Paris", "continent": "Europe", "country": "France"}


def html_pages(curator) -> list[str]:
    """Every kind of page the service renders as HTML: the API root, listings, one of each item, the
    guide's endpoint, ratings and the sign-in page."""
    gallery_id = curator.post("/api/galleries", PARIS, format="json").json()["galleryId"]
    photo = {"photos": [SimpleUploadedFile("tower.jpg", jpeg_bytes(), "image/jpeg")]}
    uploaded = curator.post(f"/api/galleries/{gallery_id}/photos", photo, format="multipart")
    assert uploaded.status_code == 201, uploaded.content
    photo_id = uploaded.json()["photos"][0]["photoId"]
    return [
        "/api/",
        "/api/galleries",
        f"/api/galleries/{gallery_id}",
        f"/api/galleries/{gallery_id}/photos",
        f"/api/galleries/{gallery_id}/photos/{photo_id}",
        f"/api/photos/{photo_id}/ratings",
        f"/api/photos/{photo_id}/ratings/visitor-1",
        f"/galleries?id={gallery_id}",
        "/galleries",
        "/api/auth/login",
    ]


def assert_page_is_self_contained(client: APIClient, path: str, **request) -> list[str]:
    """The page has a strict CSP, nothing inline, and every stylesheet and script it links is served
    here with its type; returns the links."""
    response = client.get(path, HTTP_ACCEPT="text/html", **request)
    assert response["Content-Type"].startswith("text/html"), (path, response.status_code)
    assert_strict_csp(response.get("Content-Security-Policy"))
    page = page_of(response.content.decode())
    assert page.inline == [], (path, page.inline)
    assert page.stylesheets and (page.scripts or path == "/api/auth/login"), path
    for link in page.assets:
        script_name = request.get("SCRIPT_NAME", "")
        assert link.startswith(f"{script_name}/static/"), (path, link)
        asset = client.get(link.removeprefix(script_name), **request)
        assert asset.status_code == 200, (path, link, asset.status_code)
        assert asset["Content-Type"].startswith(asset_type(link)), (link, asset["Content-Type"])
        asset.close()
    return page.assets


def test_every_html_page_has_a_strict_csp_that_its_assets_satisfy(aws, curator_key, curator):
    pages = html_pages(curator)
    for who, browser in (("visitor", APIClient()), ("signed-in curator", signed_in(curator_key))):
        for path in pages:
            assert_page_is_self_contained(browser, path), who


def test_json_answers_carry_the_policy_too(aws, client):
    response = client.get("/api/galleries")
    assert response["Content-Type"] == "application/json"
    assert_strict_csp(response.get("Content-Security-Policy"))


def test_pages_link_static_files_under_each_requests_stage(aws):
    """Zappa gives a request on the stage's default domain SCRIPT_NAME=/prod and one on a custom domain
    none, in one process: each page links under its own request's prefix, never under the first one's.
    (Django's test client sets no script prefix: this drives the WSGI application itself.)"""
    application = WsgiClient(get_wsgi_application())
    for script_name in ("/prod", "", "/prod"):
        page = application.get(
            "/api/galleries", base_url=f"http://127.0.0.1{script_name}", headers={"Accept": "text/html"}
        )
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        links = page_of(html).assets
        assert links and all(link.startswith(f"{script_name}/static/") for link in links), links
        assert f'href="{script_name}/api/auth/login?next={script_name}/api/galleries' in html.replace(
            "%2F", "/"
        )
        for link in links:
            asset = application.get(link.removeprefix(script_name), base_url=f"http://127.0.0.1{script_name}")
            assert asset.status_code == 200 and asset.mimetype == asset_type(link), link


@pytest.fixture
def collected(tmp_path, settings):
    """The storage of `make run` and the Lambda package, collected into a fresh STATIC_ROOT."""
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "gallery_project.staticfiles.CollectedStaticFiles"},
    }
    settings.WHITENOISE_USE_FINDERS = False
    call_command("collectstatic", interactive=False, verbosity=0)
    return settings.STATIC_ROOT


def test_collected_static_files_are_hashed_gzipped_and_cached_for_good(aws, collected):
    browser = APIClient()
    links = assert_page_is_self_contained(browser, "/api/galleries", SCRIPT_NAME="/prod")
    assert links and all(HASHED_NAME.search(link) for link in links), links
    gzipped = []
    for link in links:
        path = link.removeprefix("/prod")
        plain = browser.get(path)
        assert "immutable" in plain["Cache-Control"] and "max-age=315360000" in plain["Cache-Control"]
        body = b"".join(plain.streaming_content)
        # WhiteNoise keeps a gzip copy unless it saves too little (a tiny script).
        asked = browser.get(path, HTTP_ACCEPT_ENCODING="gzip")
        if asked.get("Content-Encoding") == "gzip":
            assert gzip.decompress(b"".join(asked.streaming_content)) == body
            assert "Accept-Encoding" in asked["Vary"]
            gzipped.append(link)
        else:
            assert b"".join(asked.streaming_content) == body and len(body) < 2048, link
    assert any("jquery" in link for link in gzipped) and any("bootstrap" in link for link in gzipped)
    # Only the hashed names are kept: the plain name of a linked file is not served.
    unhashed = HASHED_NAME.sub(
        lambda match: "." + match.group().rsplit(".", 1)[1], links[0].removeprefix("/prod")
    )
    assert browser.get(unhashed).status_code == 404


# ---- HSTS ------------------------------------------------------------------------------------------------


def settings_values(environment: dict[str, str], *names: str) -> dict:
    """Settings as a fresh process reads them from this environment (nothing from `.local/env`)."""
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {list(names)!r}}}))"
    )
    environ = {**os.environ, "GALLERY_ENV_FILE": "", "DJANGO_SETTINGS_MODULE": "gallery_project.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT,
        env={**environ, **environment},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_hsts_is_off_by_default_and_set_by_the_environment():
    names = ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD")
    assert settings_values({}, *names) == dict(zip(names, (0, False, False), strict=True))
    custom_domain = {
        "DJANGO_SECURE_HSTS_SECONDS": "31536000",
        "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
        "DJANGO_SECURE_HSTS_PRELOAD": "true",
    }
    assert settings_values(custom_domain, *names) == dict(zip(names, (31536000, True, True), strict=True))


def test_hsts_header_on_secure_answers_when_set(aws, settings):
    # SecurityMiddleware reads its settings when a handler starts: a new client for each.
    assert "Strict-Transport-Security" not in APIClient().get("/api/galleries", secure=True)
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    browser = APIClient()
    assert browser.get("/api/galleries", secure=True)["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains"
    )
    assert "Strict-Transport-Security" not in browser.get("/api/galleries")  # never over plain HTTP


# ---- manage.py check --deploy ----------------------------------------------------------------------------


def production_environment() -> dict[str, str]:
    """The prod stage's variables as Lambda gets them, the secret set outside the file, no local env."""
    stage = json.loads((PROJECT / "zappa_settings.json").read_text())["prod"]["environment_variables"]
    environment = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    return {
        **environment,
        **stage,
        "GALLERY_ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "gallery_project.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    }


def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT,
        env=production_environment(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    silenced = len(django_settings.SILENCED_CHECKS_WITH_REASONS)
    assert f"System check identified no issues ({silenced} silenced)." in result.stdout


def test_each_silenced_check_has_its_reason_and_is_still_needed(settings):
    """Every silenced check is listed with a reason, and each one still fires without its silence (a
    silence that hides nothing is removed)."""
    reasons = django_settings.SILENCED_CHECKS_WITH_REASONS
    assert list(reasons) == django_settings.SILENCED_SYSTEM_CHECKS
    assert all(len(reason.split()) >= 8 and reason.endswith(".") for reason in reasons.values()), reasons
    settings.SILENCED_SYSTEM_CHECKS = []
    fired = {message.id for message in run_checks(include_deployment_checks=True) if message.level >= WARNING}
    assert fired == set(reasons)
