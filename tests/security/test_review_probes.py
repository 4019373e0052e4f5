"""What a review's probes found after the first hardening slices (issue 19): each answered 500 or
escaped a bound; each now answers the envelope."""

import io

import pytest

from core import validation
from core.throttling import FailedSignInThrottle
from gallery_project.wsgi import application
from photos import imaging


def wsgi_call(query: str, content_type: str, *, method: str = "GET", body: bytes = b"") -> tuple[str, bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/galleries",
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
    }
    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = status

    content = b"".join(application(environ, start_response))
    return answer["status"], content


@pytest.mark.parametrize(
    ("query", "content_type", "status"),
    [
        ("action=x", "application/json; charset=rot13", "415"),
        ("action=x", "application/json; charset=undefined", "415"),
        ("&".join(f"a{n}=1" for n in range(250)), "application/json; charset=utf-8", "400"),
    ],
)
def test_what_django_reads_before_any_middleware_answers_the_envelope(aws, query, content_type, status):
    answered, content = wsgi_call(query, content_type)
    assert answered.startswith(status) and content.startswith(b'{"error"')


def test_a_body_in_a_charset_that_is_no_text_encoding_is_refused_before_parsing(aws, client):
    body = b'--b\r\nContent-Disposition: form-data; name="key"\r\n\r\nx\r\n--b--\r\n'
    response = client.generic(
        "POST", "/api/auth/login", body, content_type="multipart/form-data; boundary=b; charset=idna"
    )
    assert response.status_code == 415 and set(response.json()) == {"error", "details"}


def test_a_lone_surrogate_in_json_is_a_400_not_a_500(aws, curator):
    body = '{"name": "x", "continent": "Europe", "country": "France", "visibility": "\\ud800"}'
    response = curator.generic("POST", "/api/galleries", body, content_type="application/json")
    assert response.status_code == 400 and set(response.json()) == {"error", "details"}


def test_exif_numbers_no_camera_writes_are_dropped_not_stored():
    assert imaging._number(1e300) is None and imaging._integer(10**301) is None
    assert imaging._number(2.8) == 2.8 and imaging._integer(6400) == 6400


def test_wrong_curator_keys_are_counted_per_address(aws, client, monkeypatch):
    monkeypatch.setattr(FailedSignInThrottle, "get_rate", lambda self: "3/min")
    for _ in range(3):
        assert client.get("/api/galleries", HTTP_AUTHORIZATION="Bearer gk_wrong").status_code == 401
    refused = client.get("/api/galleries", HTTP_AUTHORIZATION="Bearer gk_wrong")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    signing_in = client.post("/api/auth/login", {"key": "gk_wrong"})
    assert signing_in.status_code == 429  # the sign-in form counts the same failures
    assert client.get("/api/galleries").status_code == 200  # a visitor without a key still reads


def test_years_are_counted_before_any_is_validated(aws, curator, monkeypatch):
    checked = []
    real = validation.YearField.to_internal_value
    monkeypatch.setattr(
        validation.YearField, "to_internal_value", lambda self, v: checked.append(v) or real(self, v)
    )
    body = {"name": "x", "continent": "Europe", "country": "France", "years": ["bad"] * 50_000}
    response = curator.post("/api/galleries", body, format="json")
    assert response.status_code == 400 and "years" in response.json()["details"]
    assert checked == [] and len(response.content) < 2_000


def test_a_gallerys_text_loses_its_control_characters(aws, curator):
    body = {
        "name": "Nest\x1b[31m\x9b",
        "continent": "Europe",
        "country": "Scot\x00land",
        "description": "a\r\nb\x07",
    }
    created = curator.post("/api/galleries", body, format="json").json()
    assert (created["name"], created["country"], created["description"]) == ("Nest[31m", "Scotland", "a\nb")
    only_controls = curator.post("/api/galleries", {**body, "name": "\x1b\x07"}, format="json")
    assert only_controls.status_code == 400 and "name" in only_controls.json()["details"]


WALK_PATHS = [
    "/galleries",
    "/galleries?id=nope",
    "/galleries?action=rate_photo",
    "/galleries?action=get_photo_rating&photoId=nope&userId=u",
    "/api/galleries",
    "/api/galleries/nope",
    "/api/galleries/nope/photos",
    "/api/galleries/nope/photos/nope",
    "/api/galleries/nope/photos/nope/original",
    "/api/photos/nope/ratings",
    "/api/photos/nope/ratings/u",
    "/api/visitors",
    "/api/nope",
]


def test_the_envelope_walk_on_both_tiers(backend, client, curator):
    """A smaller walk than test_envelope's, on DynamoDB Local too: its answers to missing items and
    failed conditions are DynamoDB's own, not moto's."""
    for api in (client, curator):
        for path in WALK_PATHS:
            for method in ("get", "post", "put", "delete"):
                response = getattr(api, method)(path, {}, format="json")
                assert response.status_code < 500, (method, path, response.content)
                if response.status_code >= 400:
                    assert set(response.json()) == {"error", "details"}, (method, path)
