"""Through the packaged handler, as API Gateway calls it on the stage's default domain: every HTML page
links its stylesheets and scripts under the stage prefix (/prod) with content-hashed names, and the
function serves each of them itself (WhiteNoise, from the files collected into the zip), gzipped when
asked, with the page's Content-Security-Policy satisfied (nothing inline)."""

import base64
import gzip
import zipfile
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from devtools.package_lambda.build import static_root
from devtools.package_lambda.stage import zappa_stage
from tests.security.pages import HASHED_NAME, assert_strict_csp, asset_type, page_of

STAGE = "/prod"
HTML_PAGES = ["/api/", "/api/galleries", "/api/auth/login", "/galleries"]


def body_bytes(response: dict) -> bytes:
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


@pytest.mark.parametrize("stage_name", ["dev", "prod"])
def test_each_stage_serves_static_files_collected_into_the_package(stage_name):
    cli, _ = zappa_stage(stage_name)
    assert static_root(cli.stage_config) == Path("static")


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"DJANGO_STATIC_ROOT": "static"},
        {"DJANGO_STATIC_COLLECTED": "true"},
        {"DJANGO_STATIC_COLLECTED": "true", "DJANGO_STATIC_ROOT": "/var/task/static"},
        {"DJANGO_STATIC_COLLECTED": "true", "DJANGO_STATIC_ROOT": "../static"},
    ],
)
def test_a_stage_that_would_serve_no_static_files_is_refused_before_building(variables):
    with pytest.raises(SystemExit, match="DJANGO_STATIC_COLLECTED"):
        static_root({"environment_variables": variables})


@pytest.mark.integration
def test_the_zip_holds_the_collected_static_files(lambda_package):
    with zipfile.ZipFile(lambda_package.zip_path) as archive:
        names = set(archive.namelist())
    assert "static/staticfiles.json" in names
    collected = [name for name in names if name.startswith("static/") and name != "static/staticfiles.json"]
    # Hashed names and their gzip copies only (WHITENOISE_KEEP_ONLY_HASHED_FILES).
    assert collected and all(HASHED_NAME.search(name.removesuffix(".gz")) for name in collected), collected
    assert any(name.endswith(".js.gz") for name in collected)


@pytest.mark.integration
@pytest.mark.parametrize("path", HTML_PAGES)
def test_every_page_links_assets_the_function_serves_under_the_stage(packaged_service, path):
    page_answer = packaged_service.respond("GET", path=path, headers={"Accept": "text/html"})
    assert page_answer["statusCode"] == 200, page_answer
    assert page_answer["headers"]["Content-Type"].startswith("text/html")
    assert_strict_csp(page_answer["headers"].get("Content-Security-Policy"))
    page = page_of(body_bytes(page_answer).decode())
    assert page.inline == [], page.inline
    assert page.stylesheets and (page.scripts or path == "/api/auth/login")
    for link in page.assets:
        assert link.startswith(f"{STAGE}/static/") and HASHED_NAME.search(link), link
        # API Gateway hands the function the path without its stage.
        plain = packaged_service.respond("GET", path=link.removeprefix(STAGE))
        assert plain["statusCode"] == 200, (link, plain.get("statusCode"))
        assert plain["headers"]["Content-Type"].startswith(asset_type(link)), plain["headers"]
        assert "immutable" in plain["headers"]["Cache-Control"]
        zipped = packaged_service.respond(
            "GET", path=link.removeprefix(STAGE), headers={"Accept-Encoding": "gzip, deflate"}
        )
        assert zipped["statusCode"] == 200
        if zipped["headers"].get("Content-Encoding") == "gzip":
            assert zipped["isBase64Encoded"]
            assert gzip.decompress(body_bytes(zipped)) == body_bytes(plain)


@pytest.mark.integration
def test_page_links_carry_the_stage(packaged_service):
    answer = packaged_service.respond("GET", path="/api/galleries", headers={"Accept": "text/html"})
    html = body_bytes(answer).decode()
    assert f'href="{STAGE}/api/auth/login?next=' in html and f'href="{STAGE}/api/"' in html


@pytest.mark.integration
def test_the_schema_and_its_docs_pages_are_served_by_the_function_under_the_stage(packaged_service):
    schema = packaged_service.respond("GET", path="/api/schema")
    assert schema["statusCode"] == 200 and b"/galleries:" in body_bytes(schema)
    for path in ("/api/docs", "/api/redoc"):
        answer = packaged_service.respond("GET", path=path, headers={"Accept": "text/html"})
        assert answer["statusCode"] == 200, answer
        page = page_of(body_bytes(answer).decode())
        assert page.inline == [] and page.scripts, page
        for link in page.assets:
            assert link.startswith(f"{STAGE}/"), link
            path_only, _, query = link.removeprefix(STAGE).partition("?")
            served = packaged_service.respond(
                "GET", path=path_only, query=dict(parse_qsl(query, keep_blank_values=True)) or None
            )
            assert served["statusCode"] == 200, (link, served.get("statusCode"))
            if "script" in query:  # Swagger UI's start-up script reads the schema under the stage
                assert f'"{STAGE}/api/schema"' in body_bytes(served).decode()
