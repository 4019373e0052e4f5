"""Curators' browser sessions end: on sign-out, after their lifetime and with their key; the cookie and
the records table hold no key material; sign-in rotates the CSRF token; the auth pages refuse other
methods with the envelope."""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.backends.base import UpdateError
from django.core.management import call_command
from rest_framework.test import APIClient

from core import records
from core.records import ServiceRecord
from galleries.models import Gallery
from gallery_project.auth import SESSION_KEY
from gallery_project.curators import curator_key_create, key_hash
from gallery_project.models import CuratorKey
from gallery_project.session_store import KIND, SessionStore
from tests.clock import clock_at
from tests.signing_in import signed_in

PARIS = {"name": "Paris", "continent": "Europe", "country": "France"}
COOKIE = django_settings.SESSION_COOKIE_NAME


def write(browser: APIClient, *, token: str | None = None):
    """A curator's write from the browser, with the CSRF token its page would send."""
    csrf = token or browser.cookies["csrftoken"].value
    return browser.post("/api/galleries", PARIS, format="json", HTTP_X_CSRFTOKEN=csrf)


def copy_of(browser: APIClient) -> APIClient:
    """Another browser holding copies of the first one's cookies."""
    thief = APIClient(enforce_csrf_checks=True)
    for name in (COOKIE, "csrftoken"):
        thief.cookies[name] = browser.cookies[name].value
    return thief


def assert_refused(response, status: int = 401) -> None:
    assert response.status_code == status
    assert set(response.json()) == {"error", "details"}


def session_records() -> list[ServiceRecord]:
    return [record for record in ServiceRecord.scan() if record.kind == KIND]


def test_a_copied_cookie_opens_nothing_after_sign_out(backend, curator_key):
    browser = signed_in(curator_key)
    thief = copy_of(browser)
    assert write(thief).status_code == 201  # while the session lives, a copy is as good as the original

    csrf = browser.cookies["csrftoken"].value
    signed_out = browser.post("/api/auth/logout", {"csrfmiddlewaretoken": csrf})
    assert signed_out.status_code == 302 and signed_out.cookies[COOKIE].value == ""
    assert session_records() == []

    # The copy is a visitor now: it reads, and every write is 401 with the envelope.
    assert_refused(write(thief))
    assert thief.get("/api/galleries").status_code == 200
    assert len(list(Gallery.scan())) == 1


def test_a_session_ends_after_its_configured_lifetime(backend, curator_key, settings, monkeypatch):
    settings.SESSION_COOKIE_AGE = 600  # CURATOR_SESSION_SECONDS
    browser = APIClient(enforce_csrf_checks=True)
    csrf = browser.get("/api/auth/login").cookies["csrftoken"].value
    began = datetime.now(UTC)
    response = browser.post("/api/auth/login", {"key": curator_key, "csrfmiddlewaretoken": csrf})
    assert response.cookies[COOKIE]["max-age"] == 600

    clock_at(monkeypatch, records, began + timedelta(seconds=590))
    assert write(browser).status_code == 201
    # Still 600 s from sign-in, not from the last use: using a session does not extend it.
    clock_at(monkeypatch, records, began + timedelta(seconds=605))
    assert_refused(write(browser))
    assert len(list(Gallery.scan())) == 1


def test_a_session_record_carries_expires_at(backend, curator_key):
    before = datetime.now(UTC)
    signed_in(curator_key)
    [record] = session_records()
    age = timedelta(seconds=django_settings.SESSION_COOKIE_AGE)
    # DynamoDB's TTL attribute, in whole seconds.
    assert before + age - timedelta(seconds=1) <= record.expires_at <= datetime.now(UTC) + age
    assert "expiresAt" in record.serialize() and record.status == "active"


def test_a_revoked_keys_sessions_stop_at_once(backend, curator_key):
    other_key, _ = curator_key_create(label="other")
    browser, other = signed_in(curator_key), signed_in(other_key)
    assert write(browser).status_code == 201

    revoked = CuratorKey.get(key_hash(curator_key))
    call_command("revoke_curator_key", revoked.key_id)

    assert_refused(write(browser))
    assert write(other).status_code == 201  # another key's session goes on
    assert len(list(Gallery.scan())) == 2


def test_the_cookie_and_the_records_table_hold_no_key_material(backend, curator_key):
    browser = signed_in(curator_key)
    session_key = browser.cookies[COOKIE].value
    hashed = key_hash(curator_key)
    # An opaque random id: Django's 32 characters of [a-z0-9], no part of the key or of its hash.
    assert len(session_key) == 32 and session_key.isalnum() and session_key == session_key.lower()
    for secret in (curator_key, hashed):
        assert not any(secret[i : i + 8] in session_key for i in range(len(secret) - 7))

    dump = json.dumps([record.serialize() for record in ServiceRecord.scan()])
    assert session_key not in dump and curator_key not in dump
    [record] = session_records()
    record_id = hashlib.sha256(session_key.encode()).hexdigest()
    assert record.record_key == f"session#{record_id}"
    assert SessionStore(session_key).load() == {SESSION_KEY: hashed}  # what the session remembers

    # What a dump of the table holds cannot be replayed as a cookie.
    replay = copy_of(browser)
    replay.cookies[COOKIE] = record_id
    assert_refused(write(replay))


def test_a_csrf_token_from_before_sign_in_no_longer_authorises_writes(backend, curator_key):
    browser = APIClient(enforce_csrf_checks=True)
    planted = browser.get("/api/auth/login").cookies["csrftoken"].value
    response = browser.post("/api/auth/login", {"key": curator_key, "csrfmiddlewaretoken": planted})
    assert response.status_code == 302

    fresh = browser.cookies["csrftoken"].value
    assert fresh != planted
    assert_refused(write(browser, token=planted), status=403)
    assert not list(Gallery.scan())
    assert write(browser, token=fresh).status_code == 201


def test_sign_in_starts_a_new_session_and_ends_the_one_before(backend, curator_key):
    other_key, _ = curator_key_create(label="other")
    browser = signed_in(other_key)
    earlier = copy_of(browser)
    csrf = browser.cookies["csrftoken"].value
    browser.post("/api/auth/login", {"key": curator_key, "csrfmiddlewaretoken": csrf})

    assert browser.cookies[COOKIE].value != earlier.cookies[COOKIE].value
    assert_refused(write(earlier))
    assert write(browser).status_code == 201
    assert len(session_records()) == 1


def test_a_session_signed_out_meanwhile_is_never_written_again(backend, curator_key):
    browser = signed_in(curator_key)
    session_key = browser.cookies[COOKIE].value
    in_flight = SessionStore(session_key)
    assert in_flight[SESSION_KEY] == key_hash(curator_key)  # a request read its session
    SessionStore(session_key).delete()  # signed out in another tab
    in_flight["note"] = "changed"
    with pytest.raises(UpdateError):  # Django answers the request 400 (SessionInterrupted)
        in_flight.save()
    assert session_records() == []


LOGIN_OTHERS = ["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"]
LOGOUT_OTHERS = ["GET", *LOGIN_OTHERS]


@pytest.mark.parametrize(
    ("path", "method", "allow"),
    [("/api/auth/login", method, "GET, POST") for method in LOGIN_OTHERS]
    + [("/api/auth/logout", method, "POST") for method in LOGOUT_OTHERS],
)
def test_the_auth_pages_refuse_other_methods_with_405_and_the_envelope(aws, path, method, allow):
    # Without a CSRF token: a method that is never served is refused for what it is, not as a CSRF failure.
    response = APIClient(enforce_csrf_checks=True).generic(method, path)
    assert response.status_code == 405 and response["Allow"] == allow
    if method != "HEAD":  # a HEAD answer has no body
        assert response.json() == {
            "error": "This method is not allowed here.",
            "details": {"reason": f'Method "{method}" not allowed.'},
        }


def test_the_auth_pages_still_check_csrf_on_post(backend, curator_key):
    browser = signed_in(curator_key)
    # Without the page's token a forged sign-out or sign-in is refused, and the session goes on.
    assert browser.post("/api/auth/logout").status_code == 403
    assert browser.post("/api/auth/login", {"key": curator_key}).status_code == 403
    assert write(browser).status_code == 201


def test_a_get_of_sign_out_leaves_the_session_alive(backend, curator_key):
    browser = signed_in(curator_key)
    assert browser.get("/api/auth/logout").status_code == 405
    assert write(browser).status_code == 201
