"""The built Lambda zip, unpacked and run alone in a fresh interpreter, answers API Gateway events."""

import base64
import io
import json
import re
import sys
import uuid
import zipfile

import boto3
import pillow_heif
import pytest
import requests
from PIL import Image

from devtools.package_lambda.build import HANDLER_REQUIREMENTS, REQUIREMENTS_FILE, ZAPPA_REQUIREMENT
from devtools.package_lambda.harness import s3_object_created_event, scheduled_event
from devtools.package_lambda.requirements import normalized_name, requirement_pins
from devtools.package_lambda.target import read_shared_object
from tests.factories import jpeg_bytes

pytestmark = pytest.mark.integration

ZIP_MAX_BYTES = 30 * 2**20
UNZIPPED_MAX_BYTES = 120 * 10**6
GALLERY = {"name": "Lisbon trams", "continent": "Europe", "country": "Portugal", "years": [2023]}


def assert_envelope(body: dict) -> None:
    assert set(body) == {"error", "details"}, body
    assert isinstance(body["error"], str) and body["error"], body


def create_gallery(service, **overrides) -> dict:
    status, body, _ = service.request(
        "POST",
        headers={"Authorization": f"Bearer {service.curator_key}", "Content-Type": "application/json"},
        body=json.dumps({**GALLERY, **overrides}),
    )
    assert status == 201, body
    return body


# ---- the artifact -------------------------------------------------------------------------------------


PINS = requirement_pins(
    REQUIREMENTS_FILE.read_text().splitlines() + HANDLER_REQUIREMENTS + [ZAPPA_REQUIREMENT]
)


def test_package_fits_lambda_and_its_glibc(lambda_package):
    assert lambda_package.zip_bytes < ZIP_MAX_BYTES
    assert lambda_package.unzipped_bytes < UNZIPPED_MAX_BYTES
    assert (lambda_package.target.runtime, lambda_package.target.architecture) == ("python3.13", "x86_64")
    assert (0, 0) < lambda_package.max_glibc <= lambda_package.target.glibc == (2, 34)
    # Other version nodes (LIBJPEG_6.2, ZLIB_1.2.3.4...) are met by libraries the wheels bring along; the
    # C++ ones by the runtime's own libstdc++ (GCC 11), which the build held every library to.
    for family in ("GLIBCXX", "CXXABI"):
        assert lambda_package.needs[family] <= lambda_package.target.provides[family]


def test_heif_support_ships_and_only_it_needs_the_runtimes_libstdcxx(lambda_package, tmp_path):
    """pillow-heif's module and the libraries its wheel carries (libheif, the libde265 decoder, the x265
    encoder libheif links) are in the zip and within the runtime's glibc; they are the only C++ code, so
    a new dependency that needs the system's libstdc++ is a choice made here, not a surprise on Lambda."""
    with zipfile.ZipFile(lambda_package.zip_path) as archive:
        libraries = [name for name in archive.namelist() if re.search(r"\.so(\.|$)", name)]
        heif = [name for name in libraries if name.startswith(("_pillow_heif.", "pillow_heif.libs/"))]
        archive.extractall(tmp_path, libraries)
    assert "_pillow_heif.cpython-313-x86_64-linux-gnu.so" in heif
    for library in ("libheif", "libde265", "libx265"):
        assert any(name.startswith(f"pillow_heif.libs/{library}-") for name in heif), heif
    needs = {name: read_shared_object(tmp_path / name).needs for name in libraries}
    assert all(max(needs[name]["GLIBC"]) <= lambda_package.target.glibc for name in heif)
    cxx = {name for name, need in needs.items() if {"GLIBCXX", "CXXABI"} & set(need)}
    assert cxx and cxx <= set(heif)


def test_package_is_built_for_the_runtime_python(lambda_package):
    """Wheels for cp313 on x86_64 and pycs of Python 3.13: the interpreter that builds is the runtime's."""
    assert sys.version_info[:2] == (3, 13)
    with zipfile.ZipFile(lambda_package.zip_path) as archive:
        names = archive.namelist()
        pillow = f"pillow-{PINS['pillow']}.dist-info"
        wheel_tags = re.findall(r"^Tag: (\S+)$", archive.read(f"{pillow}/WHEEL").decode(), re.M)
        heif = f"pillow_heif-{PINS['pillow-heif']}.dist-info"
        wheel_tags += re.findall(r"^Tag: (\S+)$", archive.read(f"{heif}/WHEEL").decode(), re.M)
    assert wheel_tags and all(re.fullmatch(r"cp313-cp313-manylinux_2_\d+_x86_64", tag) for tag in wheel_tags)
    assert any(name.startswith("PIL/_imaging.cpython-313-x86_64-linux-gnu.so") for name in names)
    pycs = [name for name in names if name.endswith(".pyc")]
    assert pycs and all(name.endswith(".cpython-313.pyc") for name in pycs)


def test_package_holds_the_prod_requirements_only(lambda_package):
    with zipfile.ZipFile(lambda_package.zip_path) as archive:
        names = archive.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {"handler.py", "django_zappa_app.py", "zappa_settings.py", "gallery_project", "galleries"} <= tops
    assert {"django", "rest_framework", "pynamodb", "PIL", "pillow_heif", "werkzeug", "zappa"} <= tops
    for dev_only in ("pytest", "_pytest", "moto", "ruff", "selenium", "tests", "bench", "devtools", "click"):
        assert dev_only not in tops
    # Only checked-hash pycs: timestamp ones would be stale in a zip dated 1980 and recompiled per cold start.
    assert "handler.py" in names and "__pycache__/handler.cpython-313.pyc" in names


def test_every_shipped_distribution_is_pinned(lambda_package):
    """The zip is built from pins alone, transitive ones included, so every build ships the same."""
    with zipfile.ZipFile(lambda_package.zip_path) as archive:
        shipped = {
            normalized_name(match.group(1)): match.group(2)
            for name in archive.namelist()
            if (match := re.match(r"([^/]+)-([^-/]+)\.dist-info/METADATA$", name))
        }
    assert len(shipped) >= 15
    assert {name: PINS.get(name) for name in shipped} == shipped


def test_zappa_settings_module_matches_the_prod_stage(lambda_package):
    with zipfile.ZipFile(lambda_package.zip_path) as archive:
        generated = archive.read("zappa_settings.py").decode()
    assert "DJANGO_SETTINGS='gallery_project.settings'" in generated
    assert "LOG_LEVEL='INFO'" in generated and "DEBUG=False" in generated
    assert "BINARY_SUPPORT=True" in generated
    assert "'GALLERIES_TABLE': 'Galleries'" in generated
    assert "SECRET" not in generated


# ---- zappa manage, as run on a fresh stage --------------------------------------------------------------


def test_manage_ensure_resources_creates_tables_and_bucket(packaged_service):
    outcome = packaged_service.setup_outputs["ensure_resources"]
    assert outcome["response"] == {}
    lines = outcome["stdout"].splitlines()
    for table in ("Galleries", "GalleryPhotos", "CuratorKeys"):
        assert f"table {table}: created" in lines
    # The ratings' table with its stream, which the aggregator of hot photos' ratings reads.
    assert "table PhotoRatings: created, turned on its stream (new and old images)" in lines
    [bucket] = [line for line in lines if line.startswith("bucket ")]
    assert bucket.startswith("bucket gallery-backend-prod-photos: created, lifecycle rules set"), lines


def test_manage_create_curator_key_prints_a_working_key(packaged_service):
    assert packaged_service.curator_key.startswith("gk_")
    assert len(packaged_service.curator_key.split()) == 1


# ---- API Gateway requests -------------------------------------------------------------------------------


def test_list_galleries(packaged_service):
    status, body, headers = packaged_service.request("GET", query={"country": f"Nowhere {uuid.uuid4()}"})
    assert status == 200
    assert body == {"results": [], "next": None, "previous": None}
    assert headers["X-Request-Id"]


def test_create_gallery_with_curator_key(packaged_service):
    country = f"Portugal {uuid.uuid4().hex[:8]}"
    created = create_gallery(packaged_service, country=country)
    assert created["name"] == GALLERY["name"] and created["country"] == country
    assert created["photoCount"] == 0 and created["galleryId"]
    status, body, _ = packaged_service.request("GET", query={"country": country})
    assert status == 200
    assert [gallery["galleryId"] for gallery in body["results"]] == [created["galleryId"]]


def test_create_gallery_without_key_is_refused(packaged_service):
    status, body, _ = packaged_service.request(
        "POST", headers={"Content-Type": "application/json"}, body=json.dumps(GALLERY)
    )
    assert status == 401
    assert_envelope(body)


def test_get_gallery_by_id(packaged_service):
    created = create_gallery(packaged_service)
    status, body, _ = packaged_service.request("GET", query={"id": created["galleryId"]})
    assert status == 200
    assert {name: body[name] for name in created} == created
    assert body["photos"] == {"results": [], "next": None, "previous": None}


def test_unknown_action_is_a_bad_request(packaged_service):
    status, body, _ = packaged_service.request("GET", query={"action": "make_coffee"})
    assert status == 400
    assert_envelope(body)
    assert body["details"]["action"] == "make_coffee"


def test_bad_json_body_is_a_bad_request(packaged_service):
    status, body, _ = packaged_service.request(
        "POST",
        headers={
            "Authorization": f"Bearer {packaged_service.curator_key}",
            "Content-Type": "application/json",
        },
        body='{"name": "unterminated',
    )
    assert status == 400
    assert_envelope(body)


def test_what_django_reads_before_any_middleware_answers_the_envelope(packaged_service):
    """Zappa runs our WSGI application (``app_function``), not one of its own: a charset that is no text
    encoding, read by Django while it builds the request, answers the envelope, not Zappa's 500."""
    status, body, _ = packaged_service.request(
        "POST",
        query={"action": "rate_photo"},
        headers={"Content-Type": "application/json; charset=rot13"},
        body="{}",
    )
    assert status == 415
    assert_envelope(body)


# ---- scheduled events -----------------------------------------------------------------------------------


def test_keep_warm_event_is_answered(packaged_service):
    outcome = packaged_service.invoke(scheduled_event("handler.keep_warm_callback"))
    assert outcome["response"] is None


@pytest.mark.parametrize("function", ["update_gallery_photos", "update_galleries_metadata"])
def test_scheduled_metadata_scan_runs(packaged_service, function):
    outcome = packaged_service.invoke(scheduled_event(f"scans.events.{function}"))
    assert isinstance(outcome["response"], dict), outcome


def test_an_object_copied_into_the_bucket_becomes_a_photo_through_its_s3_event(packaged_service, prod_stage):
    """What `aws s3 cp` into a gallery's folder sets off on AWS: S3's notification, routed by Zappa's
    handler from the bucket's ARN to the function zappa_settings.json subscribes; once is one photo."""
    gallery = create_gallery(packaged_service)
    bucket = prod_stage["environment_variables"]["BUCKET_NAME"]
    key = f"galleries/{gallery['galleryId']}/IMG 0002.jpg"
    data = jpeg_bytes()
    s3 = boto3.client(
        "s3",
        endpoint_url=packaged_service.aws_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    subscribed = {
        event["event_source"]["arn"]: event["function"]
        for event in prod_stage["events"]
        if "event_source" in event
    }
    assert subscribed == {f"arn:aws:s3:::{bucket}": "scans.events.photo_object_created"}
    first = packaged_service.invoke(s3_object_created_event(bucket, key, len(data)))
    again = packaged_service.invoke(s3_object_created_event(bucket, key, len(data)))
    assert first["response"] == {"objects": [{"key": key, "outcome": "created"}]}
    assert again["response"] == {"objects": [{"key": key, "outcome": "exists"}]}
    status, after, _ = packaged_service.request("GET", query={"id": gallery["galleryId"]})
    assert status == 200 and after["photoCount"] == 1


def upload_as_api_gateway(service, gallery_id: str, filename: str, content_type: str, data: bytes):
    """One photo in a multipart body, base64-encoded as API Gateway hands a binary body to Lambda."""
    boundary = "lambda-harness-boundary"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return service.request(
        "POST",
        query={"action": "upload_photos", "id": gallery_id},
        headers={
            "Authorization": f"Bearer {service.curator_key}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        body=base64.b64encode(multipart).decode(),
        base64_body=True,
    )


def test_upload_photo_as_base64_multipart(packaged_service):
    gallery = create_gallery(packaged_service)
    status, body, _ = upload_as_api_gateway(
        packaged_service, gallery["galleryId"], "tram.jpg", "image/jpeg", jpeg_bytes()
    )
    assert status == 201, body
    assert len(body["photos"]) == 1 and body["errors"] == []
    status, after, _ = packaged_service.request("GET", query={"id": gallery["galleryId"]})
    assert status == 200 and after["photoCount"] == 1


def heic_bytes(gps: tuple[float, float]) -> bytes:
    """A HEIC as a phone writes one (HEVC, EXIF with camera, date and GPS), encoded by pillow-heif's x265
    from the test JPEG's pixels and EXIF: a red block top-left on blue, a yellow disc bottom-right."""
    photo = Image.open(io.BytesIO(jpeg_bytes(640, 480, make="Apple", model="iPhone 15 Pro", gps=gps)))
    out = io.BytesIO()
    pillow_heif.from_pillow(photo).save(out, quality=80)  # from_pillow carries the EXIF along
    return out.getvalue()


def test_upload_heic_as_base64_multipart(packaged_service):
    """The packaged libheif decodes on the runtime: the answer, the stored original and a rendition."""
    gallery = create_gallery(packaged_service)
    heic = heic_bytes(gps=(38.7223, -9.1393))
    assert heic[4:12] == b"ftypheic"
    status, body, _ = upload_as_api_gateway(
        packaged_service, gallery["galleryId"], "IMG_0001.HEIC", "image/heic", heic
    )
    assert status == 201, body
    assert body["errors"] == []
    [photo] = body["photos"]
    assert photo["s3Key"].endswith(".heic")
    assert (photo["width"], photo["height"]) == (640, 480)
    assert {"jpg", "webp"} <= set(photo["renditions"]["400"]) and {"thumb", "web"} <= set(photo["renditions"])
    exif = photo["exifData"]  # a curator's answer: the location too
    assert (exif["make"], exif["model"], exif["dateTimeOriginal"]) == (
        "Apple",
        "iPhone 15 Pro",
        "2023-07-14T21:30:00",
    )
    assert exif["gps"]["latitude"] == pytest.approx(38.7223, abs=1e-3)
    assert exif["gps"]["longitude"] == pytest.approx(-9.1393, abs=1e-3)
    # The original as uploaded, with its type; a rendition with the picture's pixels (signed moto URLs).
    original = requests.get(photo["originalURL"], timeout=10)
    assert original.status_code == 200 and original.content == heic
    assert original.headers["Content-Type"] == "image/heic"
    thumbnail = requests.get(photo["thumbnailURL"], timeout=10)
    assert thumbnail.status_code == 200
    rendition = Image.open(io.BytesIO(thumbnail.content))
    assert rendition.format == "JPEG" and rendition.size == (400, 300)
    red, blue = rendition.convert("RGB").getpixel((10, 10)), rendition.convert("RGB").getpixel((200, 60))
    assert red[0] > 180 and red[1] < 80 and blue[2] > 120 and blue[0] < 80, (red, blue)

    status, after, _ = packaged_service.request(
        "GET",
        query={"id": gallery["galleryId"]},
        headers={"Authorization": f"Bearer {packaged_service.curator_key}"},
    )
    assert status == 200 and after["photoCount"] == 1
    [listed] = after["photos"]["results"]
    assert listed["photoId"] == photo["photoId"] and listed["s3Key"] == photo["s3Key"]
    assert set(listed["renditions"]) == set(photo["renditions"])
