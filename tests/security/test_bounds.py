"""Input is bounded before work (issue 19, must-show 3): tags, titles and descriptions are counted and
measured before anything is done with them, EXIF text is trimmed and stripped of control characters,
the stored ``exifData`` has a size cap, and no photo item can reach DynamoDB's 400 KB item limit.

Work is checked by counting function calls (``calls_made``), not by timing: a refusal of 40,000 tags
makes about as many calls as a refusal of 31, where reading each tag would make 40,000 more.
Speed itself is measured by bench scripts.
"""

import io
import json
import re
import sys
from collections.abc import Callable

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from PIL import Image

from core.aws import s3_client
from photos.imaging import EXIF_MAX_BYTES, EXIF_TEXT_MAX_CHARS, exif_size
from photos.models import GalleryPhoto
from photos.serializers import MAX_TAGS
from tests.factories import jpeg_bytes

CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
ESCAPES_AND_MARKUP = "\x1b[2J\x1b]0;owned\x07\x9b31m<script>alert(1)</script>"
# A refusal may cost more calls with more bytes to parse (the multipart parser reads the body in chunks),
# never a call per tag: reading 40,000 tags would take 40,000 calls at the very least.
CALLS_PER_REQUEST_MARGIN = 2_000


@pytest.fixture
def gallery_id(curator):
    body = {"name": "Bounds", "continent": "Europe", "country": "France", "years": [2022]}
    response = curator.post("/api/galleries", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["galleryId"]


def calls_made(request: Callable):
    """The answer of ``request()`` and how many functions (Python and C) were called to make it."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count)
    try:
        response = request()
    finally:
        sys.setprofile(None)
    return response, calls


def png_with_exif(**text: str) -> bytes:
    """A real PNG whose eXIf chunk holds ``make``, ``model`` (IFD0) and ``lens`` (Exif IFD) as given:
    as Latin-1 bytes when they fit (Pillow writes a str as ASCII, C1 controls as '?'), else UTF-8."""
    exif = Image.Exif()
    for tag, name in ((0x010F, "make"), (0x0110, "model")):
        if name in text:
            exif[tag] = _encoded(text[name])
    if "lens" in text:
        exif.get_ifd(0x8769)[0xA434] = _encoded(text["lens"])
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 20)).save(out, "PNG", exif=exif)
    return out.getvalue()


def _encoded(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


def multipart_upload(curator, gallery_id: str, files: dict[str, bytes], **fields):
    """Encoded here, so that ``calls_made`` counts the service's work, not the test client's."""
    body = encode_multipart(
        BOUNDARY,
        {"photos": [_file(name, data) for name, data in files.items()], **fields},
    )
    url = f"/api/galleries/{gallery_id}/photos"
    return lambda: curator.post(url, body, content_type=MULTIPART_CONTENT)


def from_uploads(curator, gallery_id: str, body: dict):
    encoded = json.dumps(body)
    url = f"/api/galleries/{gallery_id}/photos/from-uploads"
    return lambda: curator.post(url, encoded, content_type="application/json")


def _file(name: str, data: bytes) -> SimpleUploadedFile:
    content_type = "image/png" if name.endswith(".png") else "image/jpeg"
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored(gallery_id: str, photo_id: str) -> GalleryPhoto:
    return GalleryPhoto.get(gallery_id, photo_id, consistent_read=True)


# ---------------------------------------------------------------------------------------------- EXIF


def test_a_png_whose_make_is_300_kb_is_stored_trimmed_and_clean(backend, curator, gallery_id):
    make = ESCAPES_AND_MARKUP + "Canon " + "M" * 300_000
    request = multipart_upload(curator, gallery_id, {"huge.png": png_with_exif(make=make, lens="L\x1b[0m")})
    response = request()
    assert response.status_code == 201, response.content
    [photo] = response.json()["photos"]
    exif = stored(gallery_id, photo["photoId"]).exif()
    assert len(exif["make"]) == EXIF_TEXT_MAX_CHARS and not CONTROLS.search(exif["make"])
    # What is left of the escapes is inert text; markup is stored as text (the API answers JSON).
    assert exif["make"].startswith("[2J]0;owned31m<script>alert(1)</script>Canon MMM")
    assert exif["lensModel"] == "L[0m"
    assert exif_size(exif) <= EXIF_MAX_BYTES
    assert photo["exifData"]["make"] == exif["make"]


def test_a_photo_at_every_maximum_is_stored_far_below_the_item_limit(backend, curator, gallery_id):
    wide = "\U0001f5fc"  # four bytes of UTF-8: the most a character costs DynamoDB
    huge = wide * 100_000
    request = multipart_upload(
        curator,
        gallery_id,
        {"max.png": png_with_exif(make=huge, model=huge, lens=huge)},
        titles=wide * 200,
        descriptions=wide * 5000,
        tags=json.dumps([[f"{n:02d}" + wide * 48 for n in range(MAX_TAGS)]]),
    )
    response = request()
    assert response.status_code == 201, response.content
    photo = stored(gallery_id, response.json()["photos"][0]["photoId"])
    item_bytes = len(json.dumps(photo.serialize(), ensure_ascii=False).encode())
    assert len(photo.tags) == MAX_TAGS and len(photo.description) == 5000
    assert item_bytes < 40 * 1024  # a tenth of DynamoDB's 400 KB


# --------------------------------------------------------------------------------------------- tags


@pytest.mark.parametrize("form", ["json array", "comma separated", "repeated json arrays"])
def test_40000_tags_are_refused_before_any_is_read(backend, curator, gallery_id, form):
    def tags_field(count: int):
        tags = [f"tag{n}" for n in range(count)]
        if form == "json array":
            return json.dumps(tags)
        if form == "comma separated":
            return ", ".join(tags)
        return json.dumps([tags])

    def refusal(count: int):
        request = multipart_upload(curator, gallery_id, {"a.jpg": jpeg_bytes()}, tags=tags_field(count))
        return calls_made(request)

    few, few_calls = refusal(MAX_TAGS + 1)
    many, many_calls = refusal(40_000)
    assert few.status_code == many.status_code == 400
    assert many.json()["details"]["tags"] == [f"At most {MAX_TAGS} tags per photo."]
    assert many_calls < few_calls + CALLS_PER_REQUEST_MARGIN, (few_calls, many_calls)
    assert not GalleryPhoto.count(gallery_id)


def test_40000_tags_in_a_direct_uploads_body_are_refused_before_any_is_read(backend, curator, gallery_id):
    def refusal(count: int):
        tags = [f"tag{n}" for n in range(count)]
        body = {"uploads": [{"uploadKey": f"uploads/{gallery_id}/x", "tags": tags}]}
        return calls_made(from_uploads(curator, gallery_id, body))

    few, few_calls = refusal(MAX_TAGS + 1)
    many, many_calls = refusal(40_000)
    assert few.status_code == many.status_code == 400
    assert many.json()["details"]["uploads"]["0"]["tags"] == [f"At most {MAX_TAGS} tags per photo."]
    assert many_calls < few_calls + CALLS_PER_REQUEST_MARGIN, (few_calls, many_calls)


def test_40000_uploads_in_one_body_are_refused_before_any_is_read(backend, curator, gallery_id):
    def refusal(count: int):
        uploads = [{"uploadKey": f"u{n}"} for n in range(count)]  # 40,000 within the body's 1 MB
        return calls_made(from_uploads(curator, gallery_id, {"uploads": uploads}))

    few, few_calls = refusal(settings.PHOTO_MAX_FILES_PER_UPLOAD + 1)
    many, many_calls = refusal(40_000)
    assert few.status_code == many.status_code == 400
    limit = settings.PHOTO_MAX_FILES_PER_UPLOAD
    assert many.json()["details"]["uploads"] == [f"At most {limit} photos at once."]
    assert many_calls < few_calls + CALLS_PER_REQUEST_MARGIN, (few_calls, many_calls)


def test_40000_titles_for_one_photo_are_refused_before_any_is_read(backend, curator, gallery_id):
    def refusal(count: int):
        titles = json.dumps([f"title {n}" for n in range(count)])
        return calls_made(multipart_upload(curator, gallery_id, {"a.jpg": jpeg_bytes()}, titles=titles))

    few, few_calls = refusal(2)
    many, many_calls = refusal(40_000)
    assert few.status_code == many.status_code == 400
    assert many.json()["details"]["titles"] == ["40000 given for 1 photos."]
    assert many_calls < few_calls + CALLS_PER_REQUEST_MARGIN, (few_calls, many_calls)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tags", "x" * 51),
        ("tags", "paris, " + "x" * 100_000),
        ("titles", "t" * 201),
        ("descriptions", "d" * 5001),
        ("titles", "[" * 100_000),  # not a JSON array (too deep for any parser): a title, too long
        ("tags", "[" * 100_000),
    ],
)
def test_long_texts_are_refused(aws, curator, gallery_id, field, value):
    response = multipart_upload(curator, gallery_id, {"a.jpg": jpeg_bytes()}, **{field: value})()
    assert response.status_code == 400, response.content
    assert field in response.json()["details"]


# ----------------------------------------------------------------------------- control characters


def test_titles_descriptions_and_tags_keep_markup_as_text_without_controls(backend, curator, gallery_id):
    response = multipart_upload(
        curator,
        gallery_id,
        {"a.jpg": jpeg_bytes()},
        titles=f"{ESCAPES_AND_MARKUP} Tower\tat night\r\n",
        descriptions=f"First line\r\nsecond\tline{ESCAPES_AND_MARKUP}\x00\r\n",
        tags=json.dumps([f"Night{ESCAPES_AND_MARKUP}", "\x1b\x07"]),
    )()
    assert response.status_code == 201, response.content
    photo = stored(gallery_id, response.json()["photos"][0]["photoId"])
    assert photo.title == "[2J]0;owned31m<script>alert(1)</script> Tower at night"
    assert photo.description == "First line\nsecond\tline[2J]0;owned31m<script>alert(1)</script>"
    assert photo.tags == ["night[2j]0;owned31m<script>alert(1)</script>"]  # the all-control tag is none


def test_a_direct_uploads_title_and_tags_are_cleaned_the_same_way(backend, curator, gallery_id):
    response = curator.post(
        f"/api/galleries/{gallery_id}/uploads", {"files": [{"contentType": "image/jpeg"}]}, format="json"
    )
    upload_key = response.json()["uploads"][0]["uploadKey"]
    s3_client().put_object(Bucket=settings.BUCKET_NAME, Key=upload_key, Body=jpeg_bytes())
    body = {
        "uploads": [
            {
                "uploadKey": upload_key,
                "title": "\x1b[31m<b>Dunes</b>\x9b\n",
                "description": "a\r\nb\x07",
                "tags": ["Sand\x1b", "sand"],
            }
        ]
    }
    response = from_uploads(curator, gallery_id, body)()
    assert response.status_code == 201, response.content
    photo = stored(gallery_id, response.json()["photos"][0]["photoId"])
    assert (photo.title, photo.description, photo.tags) == ("[31m<b>Dunes</b>", "a\nb", ["sand"])
