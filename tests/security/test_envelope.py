"""Every answer that is an error is the envelope, on every path and method, known or not, signed in or
not; bodies are bounded before they are parsed (issue 19, must-shows 2 and 3)."""

import json
import random
import time

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from core.parsers import MAX_JSON_DEPTH, json_depth
from core.validation import is_valid_id
from gallery_project import settings as project_settings
from tests.factories import jpeg_bytes
from tests.signing_in import signed_in

CSRF_FAILURE_VIEW = "core.http_errors.csrf_failure"
MALFORMED_REQUEST_MIDDLEWARE = "core.middleware.MalformedRequestMiddleware"
PARIS = {"name": "Paris", "continent": "Europe", "country": "France"}
# Not even valid JSON: about 1 KB (the probe) and 20 KB (a RecursionError on Python 3.13 here).
DEEP = "[" * 1000
DEEPER = "[" * 20_000


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """No throttle counts left by other tests (they live in the process-wide cache)."""
    cache.clear()


def assert_envelope(response, status: int | None = None) -> dict:
    if status is not None:
        assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"error", "details"}, body
    assert isinstance(body["error"], str) and isinstance(body["details"], dict), body
    return body


@pytest.fixture
def gallery_and_photo(aws, curator):
    gallery_id = curator.post("/api/galleries", PARIS, format="json").json()["galleryId"]
    tiny = SimpleUploadedFile("tiny.jpg", jpeg_bytes(32, 24), content_type="image/jpeg")
    uploaded = curator.post(f"/api/galleries/{gallery_id}/photos", {"photos": [tiny]}, format="multipart")
    assert uploaded.status_code == 201, uploaded.content
    return gallery_id, uploaded.json()["photos"][0]["photoId"]


# --- the walk: methods x paths x clients ------------------------------------------------------------

# DELETE last, so the real gallery and photo exist for every other method.
METHODS = ["GET", "HEAD", "OPTIONS", "PROPFIND", "POST", "PUT", "PATCH", "DELETE"]
PATHS = [
    "/",
    "/galleries",
    "/galleries?id={g}",
    "/galleries?id=nope",
    "/galleries?action=upload_photos&id={g}",
    "/galleries?action=upload_photos",
    "/galleries?action=delete_photo&id={g}",
    "/galleries?action=update_GalleryPhotos&id={g}",
    "/galleries?action=update_galleries_metadata&id=nope",
    "/galleries?action=rate_photo",
    "/galleries?action=get_photo_rating&photoId={p}&userId=walker",
    "/galleries?action=get_photo_rating&photoId=nope&userId=walker",
    "/galleries?action=nope",
    "/api/",
    "/api/galleries",
    "/api/galleries/{g}",
    "/api/galleries/nope",
    "/api/galleries/{g}/photos",
    "/api/galleries/nope/photos",
    "/api/galleries/{g}/uploads",
    "/api/galleries/{g}/photos/from-uploads",
    "/api/galleries/{g}/photos/{p}",
    "/api/galleries/{g}/photos/nope",
    "/api/galleries/{g}/photos/{p}/original",
    "/api/galleries/nope/photos/nope/original",
    "/api/photos/{p}/ratings",
    "/api/photos/nope/ratings",
    "/api/photos/{p}/ratings/walker",
    "/api/photos/nope/ratings/walker",
    "/api/visitors",
    "/api/scans/gallery-photos",
    "/api/scans/galleries-metadata",
    "/api/auth/login",
    "/api/auth/logout",
    "/nope",
    "/api/nope",
    "/api/galleries.json",
    "/api/.json",
    "/static/nope",
]
WRITES = {"POST", "PUT", "PATCH", "DELETE", "PROPFIND"}
# One body for every write: plausible enough to get past most validation and reach the services.
BODY = {
    **PARIS,
    "galleryId": "{g}",
    "photoId": "{p}",
    "userId": "walker",
    "rating": 4,
    "dryRun": True,
    "files": [{"contentType": "image/jpeg"}],
}


def _client(kind: str, curator_key: str) -> APIClient:
    if kind == "curator":
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {curator_key}")
        return api
    if kind == "session":
        browser = signed_in(curator_key)
        # The browser's page sends its token with every write, as the browsable API does.
        browser.credentials(HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
        return browser
    return APIClient(enforce_csrf_checks=kind == "anonymous-csrf")


def _problems(response, method: str, path: str) -> list[str]:
    where = f"{method} {path} -> {response.status_code}"
    if response.status_code >= 500:
        return [f"{where}: {response.content[:200]!r}"]
    if response.status_code < 400:
        return []
    if (method, path, response.status_code) == ("POST", "/api/auth/login", 401) and response[
        "Content-Type"
    ].startswith("text/html"):
        return []  # the one page of the walk: the sign-in form again, saying the key was wrong
    if response.status_code == 405 and not response.has_header("Allow"):
        return [f"{where}: 405 without Allow"]
    if not response.get("Content-Type", "").startswith("application/json"):
        return [f"{where}: {response.get('Content-Type')} {response.content[:120]!r}"]
    if method == "HEAD" and not response.content:
        return []  # HEAD answers carry the headers of the envelope, not its body
    try:
        body = json.loads(response.content)
    except ValueError:
        return [f"{where}: not JSON {response.content[:120]!r}"]
    if not (
        isinstance(body, dict)
        and set(body) == {"error", "details"}
        and isinstance(body["error"], str)
        and isinstance(body["details"], dict)
    ):
        return [f"{where}: not the envelope {body!r}"]
    return []


@pytest.mark.parametrize("kind", ["anonymous", "anonymous-debug", "anonymous-csrf", "curator", "session"])
def test_every_error_on_every_path_and_method_is_the_envelope(gallery_and_photo, curator_key, settings, kind):
    gallery_id, photo_id = gallery_and_photo
    settings.DEBUG = kind == "anonymous-debug"  # make run's DEBUG: Django's own pages must not show
    api = _client(kind, curator_key)
    # A CSRF-checking client without a session differs from the anonymous one only on writes.
    methods = [m for m in METHODS if m in WRITES] if kind == "anonymous-csrf" else METHODS
    body = {
        name: (value.format(g=gallery_id, p=photo_id) if isinstance(value, str) else value)
        for name, value in BODY.items()
    }
    problems, statuses = [], {}
    for method in methods:
        for template in PATHS:
            if kind == "session" and template == "/api/auth/logout" and method == "POST":
                continue  # signing out ends the walk's session (tests/security/test_sessions.py)
            path = template.format(g=gallery_id, p=photo_id)
            if method in WRITES:
                response = api.generic(method, path, json.dumps(body), content_type="application/json")
            else:
                response = api.generic(method, path)
            statuses[method, template] = response.status_code
            problems += _problems(response, method, path)
    assert not problems, "\n".join(problems)
    assert len(statuses) >= 150
    # The walk reached the services as each client: a curator's write went through, a visitor's not.
    assert statuses["POST", "/api/galleries"] == (201 if kind in ("curator", "session") else 401)
    assert statuses["PROPFIND", "/api/galleries"] == 405


# --- known failures, one by one ----------------------------------------------------------------------


def test_deep_json_on_a_rating_route_is_a_400_envelope_quickly(gallery_and_photo, client):
    _, photo_id = gallery_and_photo
    for body in (DEEP, DEEPER, "[" * 1000 + "]" * 1000, '{"a":' * 20_000 + "1" + "}" * 20_000):
        started = time.perf_counter()
        response = client.put(f"/api/photos/{photo_id}/ratings/walker", body, content_type="application/json")
        assert time.perf_counter() - started < 1.0
        assert "nested deeper" in assert_envelope(response, 400)["details"]["reason"]
    guide = client.post("/galleries?action=rate_photo", DEEPER, content_type="application/json")
    assert_envelope(guide, 400)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/galleries"),
        ("put", "/api/galleries/{g}"),
        ("patch", "/api/galleries/{g}"),
        ("put", "/galleries"),
        ("post", "/api/galleries/{g}/uploads"),
        ("post", "/api/galleries/{g}/photos/from-uploads"),
        ("delete", "/api/galleries/{g}/photos/{p}"),
        ("post", "/api/scans/gallery-photos"),
    ],
)
def test_deep_json_on_a_curators_write_is_a_400_envelope_quickly(gallery_and_photo, curator, method, path):
    gallery_id, photo_id = gallery_and_photo
    started = time.perf_counter()
    response = getattr(curator, method)(
        path.format(g=gallery_id, p=photo_id), DEEPER, content_type="application/json"
    )
    assert time.perf_counter() - started < 1.0
    assert_envelope(response, 400)


def test_json_as_deep_as_allowed_is_parsed_and_one_level_more_is_not(aws, curator):
    def nested(depth: int) -> str:
        return '{"name": ' * (depth - 1) + '["x"]' + "}" * (depth - 1)

    assert json_depth(nested(MAX_JSON_DEPTH)) == MAX_JSON_DEPTH
    allowed = curator.post("/api/galleries", nested(MAX_JSON_DEPTH), content_type="application/json")
    assert_envelope(allowed, 400)  # parsed, then refused by validation: name is not a string
    assert "name" in allowed.json()["details"]
    deeper = curator.post("/api/galleries", nested(MAX_JSON_DEPTH + 1), content_type="application/json")
    assert "nested deeper" in assert_envelope(deeper, 400)["details"]["reason"]


def test_json_depth_counts_brackets_outside_strings_only():
    assert json_depth('"[[[["') == 0
    assert json_depth('{"a": "]]]}}}", "b": [[1]]}') == 3
    assert json_depth(r'["\"[[[", {"x": "\\"}, [[]]]') == 3  # escaped quotes end no string
    assert json_depth('["unterminated [[[[[[') == 1
    assert json_depth("") == 0 and json_depth("12") == 0


def test_json_depth_is_exact_for_documents_with_brackets_quotes_and_backslashes_in_strings():
    rng = random.Random(19)
    tricky = ['"', "\\", "[", "]", "{", "}", '\\"', "a", "é", "\n"]

    def document(room: int):
        kind = rng.choice(["list", "dict", "text", "number"] if room else ["text", "number"])
        if kind == "list":
            return [document(room - 1) for _ in range(rng.randint(0, 3))]
        if kind == "dict":
            return {"".join(rng.choices(tricky, k=3)): document(room - 1) for _ in range(rng.randint(0, 3))}
        return "".join(rng.choices(tricky, k=rng.randint(0, 6))) if kind == "text" else rng.random()

    def depth(value) -> int:
        if isinstance(value, list | dict):
            children = value.values() if isinstance(value, dict) else value
            return 1 + max((depth(child) for child in children), default=0)
        return 0

    for _ in range(300):
        value = document(rng.randint(0, 8))
        assert json_depth(json.dumps(value, ensure_ascii=rng.random() < 0.5)) == depth(value)


def test_json_depth_of_a_megabyte_of_brackets_or_quotes_is_quick():
    for text in ("[]" * 500_000, "[" * 1_000_000, '"\\"' * 333_333, '["a",' * 200_000):
        started = time.perf_counter()
        json_depth(text)
        assert time.perf_counter() - started < 0.5


def test_a_json_body_over_the_limit_is_413(aws, curator):
    body = json.dumps({**PARIS, "description": "x" * (django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    assert_envelope(curator.post("/api/galleries", body, content_type="application/json"), 413)


def test_format_suffixes_are_unknown_paths_never_500(aws, client):
    for path in ("/api/galleries.json", "/api/.json", "/api/galleries.api", "/api/galleries/.json"):
        assert_envelope(client.get(path), 404)
    root = client.get("/api/")
    assert root.status_code == 200 and ".json" not in root.content.decode()
    assert client.get("/api/galleries?format=json").status_code == 200
    assert_envelope(client.get("/api/galleries?format=xml"), 404)


def _upload_form(gallery_id: str, files: int, **extra):
    parts = [SimpleUploadedFile(f"f{n}.jpg", b"x", content_type="image/jpeg") for n in range(files)]
    return f"/api/galleries/{gallery_id}/photos", {"photos": parts, **extra}


def test_a_malformed_content_length_on_the_upload_route_is_a_400_envelope(gallery_and_photo, curator):
    gallery_id, _ = gallery_and_photo
    url, form = _upload_form(gallery_id, 1)
    for length in ("12abc", "-1", "1e3", "0x10", " "):
        response = curator.post(url, form, format="multipart", CONTENT_LENGTH=length)
        if length.strip():
            assert_envelope(response, 400)
        else:
            assert response.status_code < 500  # a blank length is no length: an empty body


def test_the_upload_view_refuses_a_malformed_content_length_without_the_middleware(
    gallery_and_photo, curator, settings
):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MALFORMED_REQUEST_MIDDLEWARE]
    gallery_id, _ = gallery_and_photo
    url, form = _upload_form(gallery_id, 1)
    body = assert_envelope(curator.post(url, form, format="multipart", CONTENT_LENGTH="12abc"), 400)
    assert "Content-Length" in body["details"]["reason"]


def test_a_multipart_body_declared_over_the_limit_is_413_before_it_is_read(
    gallery_and_photo, curator, settings
):
    settings.UPLOAD_MAX_REQUEST_BYTES = 1000
    gallery_id, _ = gallery_and_photo
    form = {"name": "x" * 2000, "continent": "Europe", "country": "France"}
    assert_envelope(curator.post("/api/galleries", form, format="multipart"), 413)  # any multipart route
    url, form = _upload_form(gallery_id, 1, titles=["x" * 2000])
    assert_envelope(curator.post(url, form, format="multipart"), 413)


def test_an_upload_of_101_files_is_a_400_envelope(gallery_and_photo, curator):
    gallery_id, _ = gallery_and_photo
    url, form = _upload_form(gallery_id, 101)
    body = assert_envelope(curator.post(url, form, format="multipart"), 400)
    assert "Too many files" in body["details"]["non_field_errors"][0]
    url, form = _upload_form(gallery_id, 51)  # Django's limit is 100; ours, 50, answers as designed
    assert "photos" in assert_envelope(curator.post(url, form, format="multipart"), 400)["details"]


def test_too_many_form_fields_is_a_400_envelope(gallery_and_photo, curator):
    gallery_id, _ = gallery_and_photo
    url, form = _upload_form(gallery_id, 1, titles=[f"t{n}" for n in range(1001)])
    body = assert_envelope(curator.post(url, form, format="multipart"), 400)
    assert "Too many fields" in body["details"]["non_field_errors"][0]
    urlencoded = "&".join(f"f{n}=1" for n in range(1001))
    response = curator.put(
        f"/api/galleries/{gallery_id}", urlencoded, content_type="application/x-www-form-urlencoded"
    )
    assert_envelope(response, 400)


def test_an_id_with_a_trailing_newline_is_refused(gallery_and_photo, client):
    gallery_id, photo_id = gallery_and_photo
    assert is_valid_id(gallery_id) and not is_valid_id(gallery_id + "\n")
    assert_envelope(client.get(f"/api/galleries/{gallery_id}%0A"), 404)
    assert_envelope(client.get(f"/api/galleries/{gallery_id}/photos/{photo_id}%0A"), 404)
    assert_envelope(client.get(f"/galleries?id={gallery_id}%0A"), 404)
    rated = client.put(f"/api/photos/{photo_id}/ratings/walker%0A", {"rating": 4}, format="json")
    assert "userId" in assert_envelope(rated, 400)["details"]
    assert client.get(f"/api/galleries/{gallery_id}").status_code == 200


def test_a_request_id_with_a_trailing_newline_is_replaced(aws, client):
    response = client.get("/api/galleries", HTTP_X_REQUEST_ID="abc\n")
    assert response.status_code == 200 and response["X-Request-Id"] != "abc"


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("host", ["evil.example", "bad host", "testserver:80:80", "[::1"])
def test_a_bad_host_is_a_400_envelope_whatever_debug_says(aws, client, settings, debug, host):
    settings.DEBUG = debug
    for method in ("get", "post"):
        response = getattr(client, method)("/api/galleries", HTTP_HOST=host)
        body = assert_envelope(response, 400)
        assert "Host" in body["error"] and "SECRET" not in response.content.decode()
        assert response.has_header("X-Request-Id")
    assert_envelope(client.get("/nope", HTTP_HOST=host), 400)


def test_a_post_to_an_unknown_path_is_a_json_404_not_a_csrf_page(aws):
    browser = APIClient(enforce_csrf_checks=True)
    for path in ("/nope", "/api/nope", "/static/nope", "/api/galleries.json"):
        assert_envelope(browser.post(path, {"a": 1}), 404)


def test_csrf_failures_are_the_envelope(aws, curator_key):
    browser = APIClient(enforce_csrf_checks=True)
    refused = browser.post("/api/auth/login", {"key": curator_key})
    assert "CSRF" in assert_envelope(refused, 403)["details"]["reason"]
    session = signed_in(curator_key)
    write = session.post("/api/galleries", PARIS, format="json")  # without the page's token
    assert "CSRF" in assert_envelope(write, 403)["details"]["reason"]


@pytest.mark.parametrize(
    "path",
    ["/", "/galleries", "/galleries?action=rate_photo", "/api/", "/api/galleries", "/api/visitors"],
)
def test_an_unknown_method_is_a_405_envelope_with_allow(aws, client, path):
    for accept in ("application/json", "text/html"):  # a browser's too: no page to render for it
        response = client.generic("PROPFIND", path, HTTP_ACCEPT=accept)
        assert_envelope(response, 405)
        assert response["Allow"] and "PROPFIND" not in response["Allow"]


def test_settings_route_djangos_own_answers_to_the_envelope():
    """settings.py names the CSRF failure view and puts MalformedRequestMiddleware right after the
    request ids and the request's log line."""
    assert getattr(project_settings, "CSRF_FAILURE_VIEW", None) == CSRF_FAILURE_VIEW
    assert project_settings.MIDDLEWARE[:3] == [
        "core.middleware.RequestIdMiddleware",
        "core.middleware.RequestLogMiddleware",
        MALFORMED_REQUEST_MIDDLEWARE,
    ]
