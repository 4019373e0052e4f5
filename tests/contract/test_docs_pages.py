"""The schema and its docs pages as a front-end developer meets them: served by the service itself, to
anyone, with nothing from another host, under the stage prefix too."""

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import yaml
from django.test import Client
from django.urls import set_script_prefix

from devtools.openapi import SCHEMA_FILE
from gallery_project import api_docs


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href", "spec-url") and value]


def links_of(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


@pytest.fixture
def anonymous():
    return Client()


def test_the_schema_is_yaml_and_json_to_anyone(aws, anonymous):
    answer = anonymous.get("/api/schema")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/vnd.oai.openapi")
    schema = yaml.safe_load(answer.content)
    assert schema["openapi"].startswith("3.") and "/api/galleries" in schema["paths"]
    assert "/galleries" in schema["paths"]
    as_json = anonymous.get("/api/schema?format=json")
    assert as_json["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert json.loads(as_json.content) == schema
    # Whatever was asked before (the schema is made once per process): plain JSON to who names it.
    named = anonymous.get("/api/schema", HTTP_ACCEPT="application/json")
    assert named["Content-Type"] == "application/json" and json.loads(named.content) == schema
    again = anonymous.get("/api/schema?format=json")
    assert again["Content-Type"].startswith("application/vnd.oai.openapi+json")


def test_a_write_to_the_schema_or_its_pages_is_a_405_envelope(aws, anonymous):
    for path in ("/api/schema", "/api/docs", "/api/redoc"):
        answer = anonymous.post(path)
        assert answer.status_code == 405, path
        assert set(answer.json()) == {"error", "details"}


@pytest.mark.parametrize("page", ["/api/docs", "/api/redoc"])
def test_the_docs_pages_reference_no_other_host(aws, anonymous, page):
    answer = anonymous.get(page)
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/html")
    html = answer.content.decode()
    urls = links_of(html)
    assert urls, html
    assert [url for url in urls if urlsplit(url).netloc or url.startswith("//")] == []
    # Nothing inline that the page's Content-Security-Policy would refuse.
    assert "<style" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "unsafe-inline" not in answer["Content-Security-Policy"]
    for url in urls:  # every script, stylesheet and icon is served by the service itself
        assert anonymous.get(url).status_code == 200, url


@pytest.fixture
def staged():
    """A client as API Gateway's stage URL reaches the app: Django's WSGI handler sets the script prefix
    from SCRIPT_NAME (the test client does not, so this does it the same way)."""
    set_script_prefix("/prod")
    yield Client(SCRIPT_NAME="/prod")
    set_script_prefix("/")


def test_swagger_ui_start_up_script_points_at_the_schema_under_the_stage_prefix(aws, staged):
    page = staged.get("/api/docs").content.decode()
    [script] = [url for url in links_of(page) if "script" in url]
    assert script.startswith("/prod/api/docs?")
    start_up = staged.get(script.removeprefix("/prod")).content.decode()
    assert '"/prod/api/schema"' in start_up
    assert "/prod/api/schema" in links_of(staged.get("/api/redoc").content.decode())


def test_the_served_schema_names_the_api_under_the_stage_and_the_committed_copy_names_none(aws, staged):
    schema = json.loads(staged.get("/api/schema?format=json").content)
    assert schema["servers"] == [{"url": "/prod", "description": "This service"}]
    assert "servers" not in yaml.safe_load(SCHEMA_FILE.read_text())


def test_the_schema_is_made_once_per_process_and_answered_from_memory(aws, anonymous, monkeypatch):
    first = anonymous.get("/api/schema")
    monkeypatch.setattr(api_docs, "_views", lambda: pytest.fail("the schema was generated again"))
    again = anonymous.get("/api/schema?unknown=1", HTTP_ACCEPT="*/*")
    assert again.content == first.content and "max-age" in again["Cache-Control"]
    assert anonymous.get("/api/schema?format=xml").content == first.content  # unknown: the default, YAML


def test_the_docs_read_no_credential_and_are_never_cached(aws, anonymous):
    for path in ("/api/schema", "/api/docs", "/api/redoc", "/api/docs?script="):
        answer = anonymous.get(path, HTTP_AUTHORIZATION="Bearer not-a-key")
        assert answer.status_code == 200, path
    for path in ("/api/docs", "/api/redoc", "/api/docs?script="):  # the script carries the CSRF token
        assert "no-store" in anonymous.get(path)["Cache-Control"], path
