"""HEIC/HEIF and AVIF photos through every door (multipart, direct-to-S3, the photos scan): upright once,
EXIF read as for JPEG, renditions as for JPEG, the original stored as it came under its own extension and
content type; their bad files (cut off, lying names, bombs) refused from the header, leaving nothing.

No camera's file is used: every HEIC is made here (``tests.factories.heic_bytes``: pillow-heif's encoder,
libheif with x265) from a synthetic picture with an iPhone's kind of EXIF (make, model, date, GPS) and,
when asked, its way of storing a turned photo (the sensor's pixels, an ``irot``/``imir`` transform and
the same EXIF Orientation tag), in 256 px tiles like an iPhone's grid; AVIFs by Pillow's libavif encoder.
"""

import base64
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pillow_heif
import pytest
import requests
from django.conf import settings
from PIL import AvifImagePlugin, Image, ImageChops, ImageStat
from pillow_heif.as_plugin import HeifImageFile

from core.aws import s3_client
from core.records import ServiceRecord
from galleries.models import Gallery
from galleries.services import gallery_create
from photos import imaging, keys
from photos.imaging import STORED_TYPES, decode_plan, peak_bytes, process_image, read_exif
from photos.models import GalleryPhoto
from scans.photos_scan import gallery_photos_scan
from tests.factories import avif_bytes, heic_bytes, heic_claiming, jpeg_bytes, png_bytes

ROOT = Path(__file__).resolve().parents[2]
IPHONE = {"make": "Apple", "model": "iPhone 15 Pro", "taken": "2024:08:09 18:45:12", "gps": (48.8584, 2.2945)}
RED, YELLOW, BLUE = (220, 30, 30), (240, 220, 60), (40, 90, 160)  # tests.factories.picture's colours


def near(colour, expected, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=False))


def assert_upright(data: bytes) -> None:
    """The picture as it should be seen: the red block top-left, the yellow disc bottom-right."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    width, height = image.size
    assert near(image.getpixel((width // 8, height // 8)), RED), image.getpixel((width // 8, height // 8))
    assert near(image.getpixel((3 * width // 4, 3 * height // 4)), YELLOW)
    assert near(image.getpixel((width // 8, 7 * height // 8)), BLUE)


def colour_of(hex_colour: str) -> tuple[int, int, int]:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


def smallest_jpeg(processed) -> bytes:
    return next(r.data for r in processed.renditions if r.format == "jpeg")


def bucket_keys(prefix: str = "") -> set[str]:
    listing = s3_client().list_objects_v2(Bucket=settings.BUCKET_NAME, Prefix=prefix)
    return {item["Key"] for item in listing.get("Contents", [])}


def stored(key: str) -> tuple[bytes, str]:
    answer = s3_client().get_object(Bucket=settings.BUCKET_NAME, Key=key)
    return answer["Body"].read(), answer["ContentType"]


def rendition_names(rendition_keys) -> set[tuple[str, str]]:
    return {(parts.name, parts.extension) for key in rendition_keys if (parts := keys.rendition_file(key))}


# ---------------------------------------------------------------- the pipeline (no AWS)


def test_heic_exif_is_read_as_for_its_jpeg_twin():
    heic = read_exif(heic_bytes(900, 600, orientation=6, **IPHONE))
    # The JPEG twin stores the sensor's 600 x 900 and says "turn" in EXIF; the HEIC turns by its
    # transform, which libheif applies: its summary has no orientation left to apply.
    jpeg = read_exif(jpeg_bytes(600, 900, orientation=6, **IPHONE))
    assert jpeg.pop("orientation") == 6
    assert heic == jpeg
    assert heic["gps"]["latitude"] == pytest.approx(48.8584, abs=1e-4) and heic["make"] == "Apple"
    assert (heic["width"], heic["height"], heic["dateTimeOriginal"]) == (900, 600, "2024-08-09T18:45:12")


@pytest.mark.parametrize(
    ("orientation", "tile_size"), [(6, 0), (8, 0), (3, 0), (2, 0), (5, 0), (7, 0), (6, 256), (8, 256)]
)
def test_a_turned_iphone_heic_is_upright_exactly_once(orientation, tile_size):
    data = heic_bytes(480, 320, orientation=orientation, tile_size=tile_size)
    exif = Image.Exif()
    exif.load(pillow_heif.open_heif(data).info["exif"])  # the EXIF tag says turn, as the irot does
    assert exif[0x0112] == orientation
    processed = process_image(data, edges=(160,))
    assert (processed.width, processed.height) == (480, 320)
    assert "orientation" not in processed.exif
    assert [(r.width, r.height) for r in processed.renditions] == [(160, 107), (160, 107)]
    for rendition in processed.renditions:
        assert_upright(rendition.data)


def test_an_exif_orientation_without_a_transform_is_not_applied():
    # A file whose EXIF tag says "turn" but whose image has no irot: HEIF readers (libheif, Apple's)
    # show the pixels as stored, and so do the renditions.
    data = heic_bytes(480, 320, exif_orientation=6)
    exif = Image.Exif()
    exif.load(pillow_heif.open_heif(data).info["exif"])
    assert exif[0x0112] == 6
    processed = process_image(data, edges=(160,))
    assert (processed.width, processed.height) == (480, 320)
    assert_upright(smallest_jpeg(processed))


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_avif_input_is_turned_by_its_transform_once(orientation):
    # Pillow's AVIF reader does not turn the pixels: it reports the irot/imir as the EXIF orientation,
    # which the pipeline applies as for a JPEG.
    data = avif_bytes(480, 320, orientation=orientation)
    processed = process_image(data, edges=(160,))
    assert processed.format == "AVIF" and (processed.width, processed.height) == (480, 320)
    assert processed.exif["orientation"] == orientation
    assert_upright(smallest_jpeg(processed))
    twin = read_exif(
        jpeg_bytes(*((320, 480) if orientation in (6, 8) else (480, 320)), orientation=orientation)
    )
    assert read_exif(data) == twin


def test_heic_and_avif_renditions_are_made_as_for_jpeg():
    jpeg = process_image(jpeg_bytes(1200, 800))
    for other in (process_image(heic_bytes(1200, 800, tile_size=512)), process_image(avif_bytes(1200, 800))):
        shapes = [
            (r.name, r.format, r.extension, r.content_type, r.width, r.height) for r in other.renditions
        ]
        assert shapes == [
            (r.name, r.format, r.extension, r.content_type, r.width, r.height) for r in jpeg.renditions
        ]
        assert near(colour_of(other.dominant_color), colour_of(jpeg.dominant_color), 4) and other.thumbhash
        difference = ImageChops.difference(
            Image.open(io.BytesIO(smallest_jpeg(other))).convert("RGB"),
            Image.open(io.BytesIO(smallest_jpeg(jpeg))).convert("RGB"),
        )
        assert max(ImageStat.Stat(difference).mean) < 6
        for rendition in other.renditions:
            assert not Image.open(io.BytesIO(rendition.data)).getexif()  # no EXIF (nor GPS) in renditions


@pytest.mark.parametrize(
    ("data", "extension", "content_type"),
    [
        (heic_bytes(64, 48), "heic", "image/heic"),
        (heic_bytes(64, 48, brand=b"heix"), "heic", "image/heic"),
        (heic_bytes(64, 48, brand=b"mif1"), "heif", "image/heif"),
        (heic_bytes(64, 48, brand=b"msf1"), "heif", "image/heif"),
        (avif_bytes(64, 48), "avif", "image/avif"),
    ],
    ids=["heic", "heix", "mif1", "msf1", "avif"],
)
def test_each_kind_is_stored_with_its_extension_and_content_type(data, extension, content_type):
    processed = process_image(data, edges=(32,))
    assert (processed.extension, processed.content_type) == (extension, content_type)
    assert STORED_TYPES[content_type] == extension


def test_the_primary_image_of_a_multi_image_heic_is_the_photo():
    data = heic_bytes(320, 240, more_images=2)
    assert len(pillow_heif.open_heif(data)) == 3
    processed = process_image(data, edges=(160,))
    assert_upright(smallest_jpeg(processed))  # the others are green


def test_heif_and_avif_plans_are_read_from_the_header_alone(monkeypatch):
    heic, avif = heic_bytes(640, 480), avif_bytes(640, 480)

    def refuse_to_decode(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(HeifImageFile, "load", refuse_to_decode)
    monkeypatch.setattr(AvifImagePlugin.AvifImageFile, "load", refuse_to_decode)
    pixels = 640 * 480
    for data, format_name in ((heic, "HEIF"), (avif, "AVIF")):
        plan = decode_plan(data)
        assert (plan.format, plan.mode, plan.size) == (format_name, "RGB", (640, 480))
        # What the codec holds besides Pillow's image: more than the 4:2:0 planes and the RGB copy.
        assert plan.codec_bytes >= len(data) + 4.5 * pixels
        assert peak_bytes(plan) >= 4 * pixels + plan.codec_bytes


def test_an_avifs_chroma_and_depth_are_read_from_its_av1c_box():
    # No encoder here writes AVIF above 8 bits, and libavif refuses a file whose av1C disagrees with its
    # stream, so the header reader is checked on its own: 4:2:0, 4:4:4, then the same box saying 10 bits.
    assert imaging._av1_layout(avif_bytes(64, 48)) == (1.5, 1)
    out = io.BytesIO()
    Image.new("RGB", (64, 48)).save(out, "AVIF", subsampling="4:4:4")
    assert imaging._av1_layout(out.getvalue()) == (3.0, 1)
    data = bytearray(avif_bytes(64, 48))
    av1c = data.find(b"av1C") + 4
    assert data[av1c] == 0x81  # marker and version
    data[av1c + 2] |= 0x40  # high_bitdepth
    assert imaging._av1_layout(bytes(data)) == (1.5, 2)
    assert imaging._av1_layout(heic_bytes(64, 48)) == (3.0, 2)  # none: counted as the worst


def test_heif_is_registered_with_imaging_not_on_a_cold_start():
    """A cold start that serves reads never loads libheif; the first photo to prepare does."""
    script = (
        "import sys, django; django.setup(); import gallery_project.urls; "
        "assert 'pillow_heif' not in sys.modules and 'photos.imaging' not in sys.modules, 'loaded early'; "
        "from PIL import Image; from photos.prepare import load_imaging; load_imaging(); "
        "assert 'HEIF' in Image.OPEN; print('registered')"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gallery_project.settings",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.strip() == "registered", result.stderr


# ---------------------------------------------------------------- every door


def test_an_iphone_heic_upload_is_a_photo_as_its_jpeg_twin_is(backend, gallery_id, upload):
    heic = heic_bytes(1200, 900, orientation=6, tile_size=256, **IPHONE)
    response = upload(
        gallery_id, {"IMG_4501.HEIC": heic, "IMG_4501.JPG": jpeg_bytes(900, 1200, orientation=6, **IPHONE)}
    )
    assert response.status_code == 201, response.content
    photo, twin = response.json()["photos"]
    assert photo["s3Key"] == f"galleries/{gallery_id}/photo1.heic" and photo["title"] == "IMG_4501"
    assert stored(photo["s3Key"]) == (heic, "image/heic")  # untouched, and served as what it is
    assert (photo["width"], photo["height"]) == (twin["width"], twin["height"]) == (1200, 900)
    exif = photo["exifData"]
    assert {key: exif[key] for key in ("make", "model", "dateTimeOriginal", "gps")} == {
        key: twin["exifData"][key] for key in ("make", "model", "dateTimeOriginal", "gps")
    }
    assert exif["gps"]["longitude"] == pytest.approx(2.2945, abs=1e-4)
    item, twin_item = (GalleryPhoto.get(gallery_id, p["photoId"]) for p in (photo, twin))
    assert item.content_type == "image/heic"
    assert (
        rendition_names(item.rendition_keys)
        == rendition_names(twin_item.rendition_keys)
        == {(edge, extension) for edge in ("400", "800", "1200") for extension in ("jpg", "webp")}
    )
    assert_upright(stored(keys.rendition_of(item.rendition_keys, "400", "jpg"))[0])
    assert Gallery.get(gallery_id).photo_count == 2


@pytest.mark.parametrize(
    ("name", "data", "extension", "content_type"),
    [
        ("P1010001.HEIF", heic_bytes(640, 480, brand=b"mif1"), "heif", "image/heif"),
        ("P1010002.avif", avif_bytes(640, 480, orientation=8), "avif", "image/avif"),
    ],
    ids=["heif", "avif"],
)
def test_heif_and_avif_uploads_keep_their_kind(aws, gallery_id, upload, name, data, extension, content_type):
    response = upload(gallery_id, {name: data})
    assert response.status_code == 201, response.content
    [photo] = response.json()["photos"]
    assert photo["s3Key"] == f"galleries/{gallery_id}/photo1.{extension}"
    assert stored(photo["s3Key"]) == (data, content_type)
    item = GalleryPhoto.get(gallery_id, photo["photoId"])
    assert_upright(stored(keys.rendition_of(item.rendition_keys, "400", "jpg"))[0])


def post_to_slot(slot: dict, data: bytes, content_type: str) -> int:
    """What a browser does with a slot: a multipart POST of the form fields and the file to S3."""
    files = {"file": ("photo", data, content_type)}
    return requests.post(slot["url"], data=slot["fields"], files=files, timeout=30).status_code


def upload_slots(curator, gallery_id: str, *content_types: str) -> list[dict]:
    files = [{"filename": f"f{n}", "contentType": ct} for n, ct in enumerate(content_types)]
    response = curator.post(f"/api/galleries/{gallery_id}/uploads", {"files": files}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["uploads"]


def test_heic_heif_and_avif_go_straight_to_s3_and_become_photos(aws, curator, gallery_id):
    files = {
        "image/heic": ("IMG_0001.HEIC", heic_bytes(900, 600, orientation=6, **IPHONE)),
        "image/heif": ("IMG_0002.heif", heic_bytes(900, 600, brand=b"mif1")),
        "image/avif": ("IMG_0003.avif", avif_bytes(900, 600)),
    }
    slots = upload_slots(curator, gallery_id, *files)
    for slot, (content_type, (_, data)) in zip(slots, files.items(), strict=True):
        assert {"Content-Type": content_type} in slot_conditions(slot)
        assert post_to_slot(slot, data, content_type) == 204
    body = {
        "uploads": [
            {"uploadKey": slot["uploadKey"], "filename": name}
            for slot, (name, _) in zip(slots, files.values(), strict=True)
        ]
    }
    response = curator.post(f"/api/galleries/{gallery_id}/photos/from-uploads", body, format="json")
    assert response.status_code == 201, response.content
    photos = response.json()["photos"]
    for photo, (content_type, (name, data)) in zip(photos, files.items(), strict=True):
        assert (
            photo["s3Key"].endswith("." + STORED_TYPES[content_type]) and photo["title"] == name.split(".")[0]
        )
        assert stored(photo["s3Key"]) == (data, content_type)
        assert (photo["width"], photo["height"]) == (900, 600)
    assert photos[0]["exifData"]["model"] == "iPhone 15 Pro"
    assert not bucket_keys("uploads/")


def slot_conditions(slot: dict) -> list:
    return json.loads(base64.b64decode(slot["fields"]["policy"]))["conditions"]


def test_the_photos_scan_adopts_a_heic_original_found_in_the_bucket(aws, settings):
    gallery_id = gallery_create(name="Phone dump", continent="Asia", country="Japan", years=[2024]).gallery_id
    key = f"galleries/{gallery_id}/IMG_0007.HEIC"
    heic = heic_bytes(1000, 750, orientation=8, tile_size=256, **IPHONE)
    s3_client().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=heic)
    summary = gallery_photos_scan(gallery_id=gallery_id)
    assert (summary.created, summary.failed) == (1, 0), summary.as_dict()
    [item] = GalleryPhoto.query(gallery_id)
    assert (item.s3_key, item.content_type, item.title) == (key, "image/heic", "IMG_0007")
    assert (item.width, item.height) == (1000, 750)
    assert item.exif_data.as_dict()["dateTimeOriginal"] == "2024-08-09T18:45:12"
    assert rendition_names(item.rendition_keys) == {
        (e, x) for e in ("400", "800", "1000") for x in ("jpg", "webp")
    }
    assert_upright(stored(keys.rendition_of(item.rendition_keys, "400", "jpg"))[0])
    assert stored(key)[0] == heic
    assert sorted(Gallery.get(gallery_id).years) == [2024]


# ---------------------------------------------------------------- bad files


def cut(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


BAD_FILES = [
    ("cut-grid.heic", cut(heic_bytes(800, 600, tile_size=256), 0.75), 400, "corrupt"),
    ("cut-header.heic", cut(heic_bytes(800, 600), 0.002), 400, "corrupt"),
    ("cut.heic", cut(heic_bytes(800, 600), 0.5), 400, "corrupt"),
    ("cut.avif", cut(avif_bytes(800, 600), 0.6), 400, "corrupt"),
    (
        "ftyp-then-noise.heic",
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(range(256)) * 4,
        400,
        "corrupt",
    ),
    ("really-a-jpeg.heic", jpeg_bytes(), 400, "extension_mismatch"),
    ("really-a-png.heic", png_bytes(), 400, "extension_mismatch"),
    ("really-a-heic.jpg", heic_bytes(), 400, "extension_mismatch"),
    ("bomb.heic", heic_claiming(60_000, 60_000), 413, "too_many_pixels"),
    ("grid-bomb.heic", heic_claiming(60_000, 60_000, tile_size=64), 413, "too_many_pixels"),
]


@pytest.mark.parametrize(("name", "data", "status", "code"), BAD_FILES, ids=[name for name, *_ in BAD_FILES])
def test_each_bad_heif_file_is_refused_with_the_envelope_and_leaves_nothing(
    aws, gallery_id, upload, monkeypatch, name, data, status, code
):
    decodes = count_heif_decodes(monkeypatch)
    started = time.perf_counter()
    response = upload(gallery_id, {name: data})
    elapsed = time.perf_counter() - started
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "details"} and name in body["error"]
    [failure] = body["details"]["files"]
    assert (failure["filename"], failure["code"]) == (name, code)
    assert elapsed < 2.0  # refused in milliseconds (ms of libheif's header parse), far within any deadline
    if code != "corrupt":
        assert decodes == []  # refused from the header: not a pixel decoded
    assert_nothing_left(gallery_id)


def count_heif_decodes(monkeypatch) -> list:
    """Every HEIF decode from now on, recorded (libheif's decode runs in the opener's load)."""
    decodes: list = []
    real_load = HeifImageFile.load

    def load(self):
        decodes.append(self.size)
        return real_load(self)

    monkeypatch.setattr(HeifImageFile, "load", load)
    return decodes


def assert_nothing_left(gallery_id: str) -> None:
    assert bucket_keys() == set()
    assert not list(GalleryPhoto.query(gallery_id))
    assert Gallery.get(gallery_id).photo_count == 0
    # No intent, no content claim: at most a refused direct upload's claim, which answers its retries.
    assert {(record.kind, record.status) for record in ServiceRecord.scan()} <= {("upload", "refused")}


def test_a_header_over_the_decode_budget_is_refused_before_decoding(
    aws, gallery_id, upload, monkeypatch, settings
):
    """Within PHOTO_MAX_PIXELS but over what the process may decode at once: 413 from the header."""
    decodes = count_heif_decodes(monkeypatch)
    claimed = heic_claiming(9_000, 9_000)  # 81 MP: about 740 MiB at the peak
    settings.PHOTO_DECODE_BUDGET_BYTES = 200 * 1024 * 1024
    settings.PHOTO_DECODE_ALONE_BYTES = 400 * 1024 * 1024
    response = upload(gallery_id, {"pano.heic": claimed})
    assert response.status_code == 413, response.content
    assert response.json()["details"]["files"][0]["code"] == "decode_too_large"
    assert decodes == []
    assert_nothing_left(gallery_id)
    # Within the budget, the header's lie is found at the decode: the stream is 256 x 128.
    settings.PHOTO_DECODE_BUDGET_BYTES = 2 * 1024 * 1024 * 1024
    response = upload(gallery_id, {"pano.heic": claimed})
    assert response.status_code == 400 and response.json()["details"]["files"][0]["code"] == "corrupt"
    assert decodes == [(9_000, 9_000)]
    assert_nothing_left(gallery_id)


def test_a_real_grid_over_the_pixel_limit_is_refused_before_decoding(
    aws, gallery_id, upload, monkeypatch, settings
):
    decodes = count_heif_decodes(monkeypatch)
    settings.PHOTO_MAX_PIXELS = 500_000
    response = upload(gallery_id, {"wide.heic": heic_bytes(1024, 768, tile_size=256)})
    assert response.status_code == 413 and response.json()["details"]["files"][0]["code"] == "too_many_pixels"
    assert decodes == []
    assert_nothing_left(gallery_id)


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (heic_claiming(60_000, 60_000, tile_size=64), 413, "too_many_pixels"),
        (cut(heic_bytes(800, 600), 0.5), 400, "corrupt"),
    ],
    ids=["bomb", "cut"],
)
def test_bad_heic_files_sent_straight_to_s3_are_refused_and_removed(
    aws, curator, gallery_id, data, status, code
):
    [slot] = upload_slots(curator, gallery_id, "image/heic")
    assert post_to_slot(slot, data, "image/heic") == 204
    body = {"uploads": [{"uploadKey": slot["uploadKey"], "filename": "IMG_0001.HEIC"}]}
    response = curator.post(f"/api/galleries/{gallery_id}/photos/from-uploads", body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["details"]["files"][0]["code"] == code
    assert_nothing_left(gallery_id)


def test_the_photos_scan_refuses_a_heic_bomb_and_makes_nothing_of_it(aws, settings):
    gallery_id = gallery_create(name="Phone dump", continent="Asia", country="Japan", years=[2024]).gallery_id
    key = f"galleries/{gallery_id}/IMG_0666.HEIC"
    s3_client().put_object(
        Bucket=settings.BUCKET_NAME, Key=key, Body=heic_claiming(60_000, 60_000, tile_size=64)
    )
    summary = gallery_photos_scan(gallery_id=gallery_id)
    assert (summary.created, summary.failed) == (0, 1), summary.as_dict()
    assert bucket_keys() == {key}  # the curator's file stays; nothing was made of it
    assert not list(GalleryPhoto.query(gallery_id)) and Gallery.get(gallery_id).photo_count == 0
