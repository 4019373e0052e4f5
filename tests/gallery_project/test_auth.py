"""Curators write with a key (header or browser session); everyone reads; keys are stored hashed."""

import re

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from galleries.models import Gallery
from gallery_project.curators import key_hash
from gallery_project.models import CuratorKey

PARIS = {"name": "Paris", "continent": "Europe", "country": "France"}


@pytest.mark.parametrize(
    "header", [None, "Bearer gk_wrong", "Bearer", "Token abc", "Bearer gk_a gk_b", "Bearer ünïcode"]
)
def test_writes_without_a_valid_key_are_401_with_the_envelope(backend, header):
    api = APIClient()
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)
    response = api.post("/api/galleries", PARIS, format="json")
    assert response.status_code == 401
    assert set(response.json()) == {"error", "details"}
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not list(Gallery.scan())


def test_reads_are_public(aws, curator, client):
    gallery_id = curator.post("/api/galleries", PARIS, format="json").json()["galleryId"]
    assert client.get("/api/galleries").status_code == 200
    assert client.get(f"/galleries?id={gallery_id}").status_code == 200


def test_create_curator_key_prints_a_key_once_and_stores_only_its_hash(aws, capsys):
    call_command("create_curator_key", "--label", "alice")
    key = capsys.readouterr().out.strip()
    assert re.fullmatch(r"gk_[A-Za-z0-9_-]{43}", key)
    stored = [record.attribute_values for record in CuratorKey.scan()]
    assert len(stored) == 1 and key not in repr(stored)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.post("/api/galleries", PARIS, format="json").status_code == 201


def test_revoked_key_stops_working_at_once(aws, curator_key, capsys):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {curator_key}")
    assert api.post("/api/galleries", PARIS, format="json").status_code == 201
    key_id = next(iter(CuratorKey.scan())).key_id
    call_command("revoke_curator_key", key_id)
    assert api.post("/api/galleries", PARIS, format="json").status_code == 401


def test_browser_session_gives_curator_power_with_csrf(aws, curator_key):
    browser = APIClient(enforce_csrf_checks=True)
    page = browser.get("/api/auth/login?next=/api/galleries")
    assert page.status_code == 200
    csrf = page.cookies["csrftoken"].value
    bad = browser.post("/api/auth/login", {"key": "gk_nope", "csrfmiddlewaretoken": csrf})
    assert bad.status_code == 401
    signed_in = browser.post(
        "/api/auth/login", {"key": curator_key, "csrfmiddlewaretoken": csrf, "next": "/api/galleries"}
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/api/galleries"
    # The session cookie holds a random id, neither the key nor its hash (tests/security/test_sessions.py).
    session_id = signed_in.cookies["sessionid"].value
    assert curator_key not in session_id and key_hash(curator_key) not in session_id
    without_token = browser.post("/api/galleries", PARIS, format="json")
    assert without_token.status_code == 403 and set(without_token.json()) == {"error", "details"}
    csrf = browser.cookies["csrftoken"].value
    created = browser.post("/api/galleries", PARIS, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert created.status_code == 201
    browser.post("/api/auth/logout", {"csrfmiddlewaretoken": csrf})
    after = browser.post("/api/galleries", PARIS, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert after.status_code == 401


def test_login_ignores_offsite_next(aws, curator_key):
    browser = APIClient()
    response = browser.post("/api/auth/login", {"key": curator_key, "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/api/"
