"""Real servers: `make run` serves through gunicorn with DEBUG off, decodes chunked request bodies (or
refuses them over the limit with the envelope), answers what gunicorn itself refuses with the envelope
too, and serves its static files collected (hashed, gzipped) by WhiteNoise; `make dev`'s runserver
refuses a chunked body with 411 and the envelope. Both are started the way the Makefile starts them
(`python -m devtools.local_services serve|dev`), against a moto server."""

import contextlib
import gzip
import http.client
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.local_services.config import CODE_ROOT, LOOPBACK
from devtools.local_services.processes import (
    free_port,
    port_accepts_connections,
    process_arguments,
    stop_child,
    wait_until_ready,
)
from devtools.package_lambda.harness import MotoServer
from gallery_project.wsgi import body_limit
from tests.factories import jpeg_bytes
from tests.security.pages import HASHED_NAME, assert_strict_csp, asset_type, page_of

pytestmark = pytest.mark.integration

PARIS = {"name": "Paris", "continent": "Europe", "country": "France"}


def manage(environment: dict[str, str], *arguments: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=CODE_ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A throwaway project root (its .local/static) whose tables and bucket live in a moto server, and a
    curator key; the caller's environment says DEBUG on, which `make run` must override."""
    root = tmp_path_factory.mktemp("served")
    moto = MotoServer(root / "moto.log")
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("AWS_ENDPOINT_URL")},
        "GALLERY_PROJECT_ROOT": str(root),
        "GALLERY_ENV_FILE": "",
        "AWS_ENDPOINT_URL_DYNAMODB": moto.url,
        "AWS_ENDPOINT_URL_S3": moto.url,
        "DJANGO_DEBUG": "true",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_COOKIES": "false",
    }
    try:
        manage(environment, "ensure_resources")
        manage(environment, "create_curator_key", "--label", "servers", "--output", str(root / "curator.key"))
        yield root, environment, (root / "curator.key").read_text().strip()
    finally:
        moto.stop()


def started(command: str, project) -> tuple[subprocess.Popen, int]:
    root, environment, _ = project
    port = free_port()
    log_path = root / f"{command}.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "devtools.local_services", command, "--port", str(port)],
            cwd=CODE_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wait_until_ready(command, lambda: port_accepts_connections(port), lambda: server.poll() is None, log_path)
    return server, port


@pytest.fixture(scope="module")
def gunicorn(project):
    server, port = started("serve", project)
    yield port, project[2]
    server.terminate()
    stop_child(server)


@pytest.fixture(scope="module")
def runserver(project):
    server, port = started("dev", project)
    yield port
    server.terminate()  # the autoreloader passes it on to its child
    stop_child(server)


def worker_environment(port: int) -> dict[str, str]:
    """The environment of the process that answers on `port` (gunicorn's worker, its master's child)."""
    for entry in Path("/proc").iterdir():
        arguments = process_arguments(int(entry.name)) if entry.name.isdigit() else []
        if "gunicorn" in arguments and f"{LOOPBACK}:{port}" in arguments:
            raw = (entry / "environ").read_bytes()
            return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
    raise AssertionError(f"no gunicorn on port {port}")


def connection(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(LOOPBACK, port, timeout=30)


def answer(conn: http.client.HTTPConnection) -> tuple[int, dict, bytes]:
    response = conn.getresponse()
    return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()


def chunks(data: bytes, size: int = 4096):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def assert_envelope(body: bytes) -> dict:
    envelope = json.loads(body)
    assert set(envelope) == {"error", "details"} and envelope["error"], envelope
    return envelope


def test_make_run_serves_with_gunicorn_and_debug_off(gunicorn):
    port, _ = gunicorn
    assert worker_environment(port)["DJANGO_DEBUG"] == "false"  # though the caller said true
    conn = connection(port)
    conn.request("GET", "/no/such/page", headers={"Accept": "text/html"})
    status, headers, body = answer(conn)
    assert status == 404 and headers["server"] == "gunicorn" and headers["content-type"] == "application/json"
    assert_envelope(body)


def test_a_chunked_body_is_decoded_and_the_connection_stays_usable(gunicorn):
    port, key = gunicorn
    conn = connection(port)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request("POST", "/api/galleries", body=chunks(json.dumps(PARIS).encode(), 7), headers=headers)
    status, _, body = answer(conn)
    assert status == 201, body
    gallery_id = json.loads(body)["galleryId"]
    conn.request("GET", f"/galleries?id={gallery_id}")  # the same connection: no chunk taken for a request
    status, _, body = answer(conn)
    assert status == 200 and json.loads(body)["name"] == "Paris"


def test_a_chunked_upload_is_decoded(gunicorn):
    port, key = gunicorn
    conn = connection(port)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request("POST", "/api/galleries", body=json.dumps(PARIS), headers=headers)
    gallery_id = json.loads(answer(conn)[2])["galleryId"]
    boundary = "chunked-upload"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="tower.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + jpeg_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Authorization": f"Bearer {key}", "Content-Type": f"multipart/form-data; boundary={boundary}"}
    conn.request("POST", f"/api/galleries/{gallery_id}/photos", body=chunks(multipart), headers=headers)
    status, _, body = answer(conn)
    assert status == 201, body
    assert [photo["title"] for photo in json.loads(body)["photos"]] == ["tower"]


def test_a_chunked_body_over_the_limit_is_refused_with_the_envelope(gunicorn):
    port, key = gunicorn
    conn = connection(port)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    oversized = b'{"name": "' + b"a" * (1024 * 1024) + b'"}'  # over DATA_UPLOAD_MAX_MEMORY_SIZE
    conn.request("POST", "/api/galleries", body=chunks(oversized, 64 * 1024), headers=headers)
    status, _, body = answer(conn)
    assert status == 413
    assert_envelope(body)


def raw_exchange(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    with socket.create_connection((LOOPBACK, port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    return status_line, {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}, body


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        # Content-Length beside Transfer-Encoding: the framing a smuggling attempt relies on.
        (b"POST /api/galleries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"),
        (b"GET /api/galleries HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n\r\n", "400"),
        (b"GET /api/galleries HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", "431"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "414"),
    ],
)  # fmt: skip
def test_what_gunicorn_itself_refuses_is_the_envelope(gunicorn, request_bytes, status):
    port, _ = gunicorn
    status_line, headers, body = raw_exchange(port, request_bytes)
    assert status_line.split()[1] == status, status_line
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    assert_envelope(body)


def test_static_files_are_collected_hashed_gzipped_and_served(gunicorn):
    port, _ = gunicorn
    conn = connection(port)
    for path in ("/api/galleries", "/api/auth/login"):
        conn.request("GET", path, headers={"Accept": "text/html"})
        status, headers, body = answer(conn)
        assert status == 200
        assert_strict_csp(headers.get("content-security-policy"))
        page = page_of(body.decode())
        assert page.inline == [] and page.assets
        for link in page.assets:
            assert HASHED_NAME.search(link) and link.startswith("/static/"), link
            conn.request("GET", link, headers={"Accept-Encoding": "gzip"})
            status, headers, content = answer(conn)
            assert status == 200 and headers["content-type"].startswith(asset_type(link)), link
            assert "immutable" in headers["cache-control"]
            if headers.get("content-encoding") == "gzip":
                gzip.decompress(content)
    conn.request("GET", "/static/rest_framework/js/jquery-3.7.1.min.js")  # only hashed names are kept
    status, _, body = answer(conn)
    assert status == 404
    assert_envelope(body)


def test_make_dev_refuses_a_chunked_body_with_411_and_closes(runserver):
    conn = connection(runserver)
    # The server answers after the headers and closes; it may do so while chunks are still being sent
    # (it reads no chunked body): its answer is there to read all the same. Timing decides which.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        conn.request("POST", "/api/galleries", body=chunks(json.dumps(PARIS).encode(), 7))
    status, headers, body = answer(conn)
    assert status == 411 and headers["connection"] == "close"
    assert assert_envelope(body)["error"].startswith("Send the request body with a Content-Length")
    # DEBUG on, static files from the apps by their plain names.
    conn = connection(runserver)
    conn.request("GET", "/api/galleries", headers={"Accept": "text/html"})
    status, _, body = answer(conn)
    assert status == 200
    assert "/static/rest_framework/js/jquery-3.7.1.min.js" in page_of(body.decode()).scripts


def test_a_chunked_body_may_be_upload_sized_only_on_the_upload_routes(settings):

    multipart = {"CONTENT_TYPE": "multipart/form-data; boundary=x", "REQUEST_METHOD": "POST"}
    assert (
        body_limit({**multipart, "PATH_INFO": "/api/galleries/g1/photos"})
        == settings.UPLOAD_MAX_REQUEST_BYTES
    )
    assert body_limit({**multipart, "PATH_INFO": "/galleries"}) == settings.UPLOAD_MAX_REQUEST_BYTES
    for elsewhere in ("/nope", "/api/auth/login", "/api/galleries"):
        assert body_limit({**multipart, "PATH_INFO": elsewhere}) == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert body_limit({**multipart, "REQUEST_METHOD": "PUT", "PATH_INFO": "/galleries"}) == (
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    )
