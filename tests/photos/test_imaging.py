"""Tests for photos.imaging: validation, EXIF, orientation, renditions and placeholders, on real and
synthesized files."""

import base64
import io
import json
import math
import random
import warnings
from pathlib import Path

import pytest
import thash
from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageFile, ImageOps, ImageStat, TiffImagePlugin

from photos import imaging
from photos.imaging import (
    EXIF_MAX_BYTES,
    EXIF_TEXT_MAX_CHARS,
    RENDITION_EDGES,
    SUPPORTED_FORMATS,
    ImageError,
    RenditionSpec,
    dominant_color,
    exif_capped,
    exif_size,
    placeholders,
    probe,
    process_image,
    read_exif,
    rendition_specs,
    thumbhash,
)
from photos.prepare import photo_year
from tests.factories import bomb_png, heic_bytes

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "exif"
ORIENTATION_SAMPLES = SAMPLES / "orientation"
CAMERA_SAMPLES = SAMPLES / "cameras"
SMALL = (64,)  # one small rendition: enough where the sizes are not the point
ERROR_CODES = {"empty", "not_an_image", "unsupported_format", "corrupt", "too_many_pixels"}
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def make_jpeg(
    size=(120, 80),
    *,
    orientation=None,
    taken=None,
    gps=None,
    icc=None,
    exposure=None,
    lens=None,
    mode="RGB",
    make: str | bytes = "TestCam\x00",
) -> bytes:
    """A real JPEG: red left half, blue right half (so orientation is visible), with the EXIF asked for."""
    image = Image.new("RGB", size, (20, 40, 230))
    image.paste((230, 30, 30), (0, 0, size[0] // 2, size[1]))
    if mode != "RGB":
        image = image.convert(mode)
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = "  Model 1  "
    if orientation:
        exif[0x0112] = orientation
    details = exif.get_ifd(0x8769)
    if taken:
        details[0x9003] = taken
    if exposure:
        details[0x829A] = TiffImagePlugin.IFDRational(*exposure)
    if lens:
        details[0xA434] = lens
    if gps:
        exif.get_ifd(0x8825).update(gps)
    options = {"icc_profile": icc} if icc else {}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes(), **options)
    return out.getvalue()


def encode(image: Image.Image, format_name: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format_name, **options)
    return out.getvalue()


def rendition(processed, name=None, format_name="jpeg"):
    """The rendition of that name and format; the smallest of the format when no name is given."""
    return next(
        r for r in processed.renditions if (name is None or r.name == name) and r.format == format_name
    )


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    """Mean absolute grey difference of 16x12 versions, after levelling brightness (0-255 scale)."""
    size = (16, 12) if first.width > first.height else (12, 16)
    # autocontrast: the samples differ in brightness (only *_1 lacks an ICC profile) and by a digit label.
    small = [
        ImageOps.autocontrast(image.convert("L").resize(size, Image.Resampling.BOX), 2)
        for image in (first, second)
    ]
    return ImageStat.Stat(ImageChops.difference(*small)).mean[0]


@pytest.mark.parametrize("kind", ["landscape", "portrait"])
def test_orientation_samples_come_out_upright_and_alike(kind):
    upright = []
    for orientation in range(1, 9):
        processed = process_image(
            (ORIENTATION_SAMPLES / f"{kind}_{orientation}.jpg").read_bytes(), edges=SMALL
        )
        assert processed.exif["orientation"] == orientation
        image = decoded(rendition(processed).data)
        assert (image.width > image.height) == (kind == "landscape")
        assert (processed.width > processed.height) == (kind == "landscape")
        upright.append(image)
    # Measured: 9-12 between correct outputs; 28-40 between a photo and its mirror image.
    tolerance = 18
    differences = [mean_difference(first, second) for first in upright for second in upright]
    assert max(differences) < tolerance, differences
    for wrong in (Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM):
        assert mean_difference(upright[0], upright[1].transpose(wrong)) > tolerance


def test_synthesized_orientation_6_is_rotated_clockwise_upright():
    # Stored 120x80 with red on the left; orientation 6 means "rotate 90 degrees clockwise to view".
    processed = process_image(make_jpeg(orientation=6), edges=(400,))
    image = decoded(rendition(processed, "120").data).convert("RGB")
    assert (processed.width, processed.height) == (80, 120) == image.size
    top, bottom = image.getpixel((40, 10)), image.getpixel((40, 110))
    assert top[0] > 200 > top[2]  # red now on top
    assert bottom[2] > 200 > bottom[0]


CAMERAS = [
    ("Canon_40D.jpg", "Canon", "Canon EOS 40D", "2008-05-30T15:56:01"),
    ("Canon_PowerShot_S40.jpg", "Canon", "Canon PowerShot S40", "2003-12-14T12:01:44"),
    ("Konica_Minolta_DiMAGE_Z3.jpg", "KONICA MINOLTA", "DiMAGE Z3", "2005-03-10T15:10:48"),
    ("Nikon_COOLPIX_P6000_gps.jpg", "NIKON", "COOLPIX P6000", "2008-10-22T16:28:39"),
    ("Nikon_D70.jpg", "NIKON CORPORATION", "NIKON D70", "2008-03-15T09:52:01"),
    ("Panasonic_DMC-FZ30.jpg", "Panasonic", "DMC-FZ30", "2008-07-16T11:33:20"),
    ("Pentax_K10D.jpg", "PENTAX Corporation", "PENTAX K10D", "2008-05-04T16:47:24"),
]


@pytest.mark.parametrize(("filename", "make", "model", "taken"), CAMERAS)
def test_camera_samples_give_make_model_and_date(filename, make, model, taken):
    exif = read_exif((CAMERA_SAMPLES / filename).read_bytes())
    assert exif["make"] == make
    assert exif["model"] == model
    assert exif["dateTimeOriginal"] == taken
    assert photo_year(exif) == int(taken[:4])
    assert json.loads(json.dumps(exif)) == exif  # plain JSON types only


def test_camera_exposure_fields_are_plain_numbers():
    exif = read_exif((CAMERA_SAMPLES / "Canon_40D.jpg").read_bytes())
    assert exif["exposureTime"] == "1/160"
    assert exif["fNumber"] == 7.1 and type(exif["fNumber"]) is float
    assert exif["iso"] == 100 and type(exif["iso"]) is int
    assert exif["focalLength"] == 135.0
    assert read_exif((CAMERA_SAMPLES / "Nikon_D70.jpg").read_bytes())["focalLength35mm"] == 150


def test_gps_sample_gives_signed_decimal_degrees():
    gps = read_exif((CAMERA_SAMPLES / "Nikon_COOLPIX_P6000_gps.jpg").read_bytes())["gps"]
    assert gps["latitude"] == pytest.approx(43 + 28 / 60 + 2.814 / 3600, abs=1e-6)
    assert gps["longitude"] == pytest.approx(11 + 53 / 60 + 6.456 / 3600, abs=1e-6)
    assert "altitude" not in gps  # the file has an altitude reference but no altitude


def test_gps_south_west_and_below_sea_level_are_negative():
    gps = {1: "S", 2: (33.0, 51.0, 36.0), 3: "W", 4: (151.0, 12.0, 0.0), 5: b"\x01", 6: 12.5}
    exif = read_exif(make_jpeg(gps=gps))
    assert exif["gps"] == {"latitude": -33.86, "longitude": -151.2, "altitude": -12.5}


def test_exif_strings_are_stripped_and_absent_keys_omitted():
    exif = read_exif(make_jpeg(exposure=(5, 2)))
    assert exif == {"make": "TestCam", "model": "Model 1", "exposureTime": "2.5", "width": 120, "height": 80}


def test_lens_model_is_read_from_the_exif_ifd():
    # The camera samples predate LensModel (an EXIF 2.3 tag, 2010), so none of them has one to read.
    assert read_exif(make_jpeg(lens="EF 50mm f/1.8\x00  "))["lensModel"] == "EF 50mm f/1.8"
    assert "lensModel" not in read_exif(make_jpeg(lens=" \x00 "))


def test_exif_text_is_one_clean_line_of_at_most_256_characters():
    # Pillow reads EXIF ASCII as Latin-1, so bytes 0x80-0x9F are C1 controls (0x9B is the 8-bit CSI);
    # this LensModel comes back as bytes, read as UTF-8, where 0x9B is no character at all.
    lens = b"\x1b[31mEF\t50mm\r\nf/1.8\x9b0m\x07\x7f <i>L</i>" + b"!" * 60_000  # JPEG APP1 holds 64 KiB
    exif = read_exif(make_jpeg(lens=lens, make="\x1b[2J\x9bCanon\x00\x85EOS".encode("latin-1")))
    assert exif["lensModel"].startswith("[31mEF 50mm f/1.8\ufffd0m <i>L</i>!!!")
    assert len(exif["lensModel"]) == EXIF_TEXT_MAX_CHARS == 256
    assert exif["make"] == "[2JCanon EOS"
    assert "lensModel" not in read_exif(make_jpeg(lens=b"\x1b\x07\x7f"))


def test_the_exif_summary_is_capped_dropping_the_least_important_fields_first():
    exif = {
        "make": "m" * 200, "model": "n" * 200, "lensModel": "l" * 200, "iso": 100,
        "dateTimeOriginal": "2020-01-02T03:04:05", "gps": {"latitude": 1.5, "longitude": 2.5},
        "software": "s" * 300, "orientation": 6, "width": 4000, "height": 3000,
    }  # fmt: skip
    assert exif_capped(exif) == exif  # well within EXIF_MAX_BYTES: nothing dropped
    capped = exif_capped(exif, max_bytes=exif_size(exif) - 1)
    assert set(exif) - set(capped) == {"software"}  # a field the ranking does not name goes first
    capped = exif_capped(exif, max_bytes=500)
    assert exif_size(capped) <= 500
    assert set(capped) == {"orientation", "width", "height", "dateTimeOriginal", "gps", "make"}
    assert set(exif_capped(exif, max_bytes=1)) == {"orientation", "width", "height"}  # never dropped
    assert EXIF_MAX_BYTES == 8 * 1024


def test_unparsable_date_is_ignored():
    exif = read_exif(make_jpeg(taken="0000:00:00 00:00:00"))
    assert "dateTimeOriginal" not in exif
    assert photo_year(exif) is None
    assert photo_year(read_exif(make_jpeg(taken="2019:02:03 04:05:06"))) == 2019


def test_renditions_carry_no_exif_but_keep_icc():
    gps = {1: "N", 2: (1.0, 2.0, 3.0), 3: "E", 4: (4.0, 5.0, 6.0)}
    original = make_jpeg(orientation=3, taken="2020:01:01 10:00:00", gps=gps, icc=SRGB_ICC)
    processed = process_image(original, formats=("jpeg", "webp", "avif"))
    assert processed.exif["gps"]["latitude"] > 0
    assert len(processed.renditions) == 3  # 120 px: its own size only, in three formats
    for made in processed.renditions:
        image = Image.open(io.BytesIO(made.data))
        assert "exif" not in image.info
        assert not image.getexif()
        assert b"Exif\x00\x00" not in made.data
        assert image.info.get("icc_profile") == SRGB_ICC


def test_renditions_are_never_upscaled():
    processed = process_image(make_jpeg((1000, 600)))
    sizes = {(r.name, r.format): (r.width, r.height) for r in processed.renditions}
    assert sizes == {
        ("400", "jpeg"): (400, 240),
        ("400", "webp"): (400, 240),
        ("800", "jpeg"): (800, 480),
        ("800", "webp"): (800, 480),
        ("1000", "jpeg"): (1000, 600),
        ("1000", "webp"): (1000, 600),
    }
    for made in processed.renditions:
        assert decoded(made.data).size == (made.width, made.height)


def test_rotated_photo_gets_long_edge_sizes():
    processed = process_image(make_jpeg((1200, 800), orientation=6))
    assert (processed.width, processed.height) == (800, 1200)
    assert (processed.exif["width"], processed.exif["height"]) == (800, 1200)
    sizes = [(r.width, r.height) for r in processed.renditions if r.format == "jpeg"]
    assert sizes == [(267, 400), (533, 800), (800, 1200)]


def test_each_rendition_has_a_jpeg_and_a_webp_twin():
    processed = process_image(make_jpeg((900, 600)))
    assert [(r.name, r.format) for r in processed.renditions] == [
        ("400", "jpeg"),
        ("400", "webp"),
        ("800", "jpeg"),
        ("800", "webp"),
        ("900", "jpeg"),
        ("900", "webp"),
    ]
    for made in processed.renditions:
        image = Image.open(io.BytesIO(made.data))
        assert image.format == ("JPEG" if made.format == "jpeg" else "WEBP")
        assert (made.extension, made.content_type) == (
            ("jpg", "image/jpeg") if made.format == "jpeg" else ("webp", "image/webp")
        )
    # Baseline JPEG on purpose: it encodes with the GIL released, so batch uploads use every core.
    baseline = Image.open(io.BytesIO(rendition(processed, "900").data))
    assert not (baseline.info.get("progressive") or baseline.info.get("progression"))


@pytest.mark.parametrize("format_name", ["PNG", "WEBP", "TIFF"])
def test_other_accepted_formats_are_processed(format_name):
    data = encode(Image.new("RGB", (50, 30), "green"), format_name)
    processed = process_image(data, edges=SMALL)
    assert processed.format == format_name
    assert (processed.extension, processed.content_type) == SUPPORTED_FORMATS[format_name]
    assert (processed.width, processed.height) == (50, 30)
    assert probe(data) == (format_name, 50, 30)


def test_alpha_is_flattened_for_jpeg_and_kept_in_webp():
    image = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    image.paste((0, 0, 255, 255), (0, 0, 20, 40))
    processed = process_image(encode(image, "PNG"), edges=SMALL)
    jpeg = decoded(rendition(processed).data).convert("RGB")
    assert jpeg.getpixel((35, 20))[0] > 240 and jpeg.getpixel((35, 20))[1] > 240  # transparent -> white
    webp = decoded(rendition(processed, format_name="webp").data)
    assert webp.mode == "RGBA" and webp.getpixel((35, 20))[3] == 0


def test_sixteen_bit_grey_is_scaled_not_clipped():
    image = Image.new("I;16", (32, 32), 32768)
    processed = process_image(encode(image, "PNG"), edges=SMALL)
    grey = decoded(rendition(processed).data).convert("L").getpixel((16, 16))
    assert 120 <= grey <= 136


@pytest.mark.parametrize("mode", ["CMYK", "L", "P", "LA", "1"])
def test_other_modes_become_valid_renditions(mode):
    source = Image.new("RGB", (40, 30), (200, 120, 40)).convert(mode)
    data = encode(source, "JPEG") if mode in ("CMYK", "L") else encode(source, "PNG")
    processed = process_image(data, edges=SMALL)
    for made in processed.renditions:
        assert decoded(made.data).mode in ("RGB", "RGBA", "L")


def test_cmyk_profile_is_not_attached_to_rgb_output():
    fake_cmyk_profile = bytes(16) + b"CMYK" + bytes(108)
    data = encode(Image.new("CMYK", (20, 20), (0, 50, 100, 0)), "JPEG", icc_profile=fake_cmyk_profile)
    for made in process_image(data, edges=SMALL).renditions:
        assert Image.open(io.BytesIO(made.data)).info.get("icc_profile") != fake_cmyk_profile


def truncated_jpeg() -> bytes:
    noisy = Image.effect_noise((200, 150), 50).convert("RGB")
    data = encode(noisy, "JPEG", quality=90)
    return data[: len(data) // 2]


BAD_INPUTS = {
    "empty": (b"", "empty"),
    "text": (b"this is a text file, not a photo\n" * 10, "not_an_image"),
    "random": (random.Random(7).randbytes(4096), "not_an_image"),
    "gif": (encode(Image.new("P", (10, 10)), "GIF"), "unsupported_format"),
    "bmp": (encode(Image.new("RGB", (10, 10)), "BMP"), "unsupported_format"),
    "heic": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200), "corrupt"),
    "truncated_jpeg": (truncated_jpeg(), "corrupt"),
    "truncated_png": (encode(Image.effect_noise((100, 100), 60), "PNG")[:-400], "corrupt"),
    "bomb": (bomb_png(30_000, 30_000), "too_many_pixels"),
    "bomb_just_over_limit": (bomb_png(10_000, 9_000), "too_many_pixels"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_raises_image_error_with_code(case):
    data, code = BAD_INPUTS[case]
    with pytest.raises(ImageError) as raised:
        process_image(data)
    assert raised.value.code == code
    assert raised.value.message.endswith(".")


def test_truncated_file_rejected_even_when_pillow_is_told_to_accept_it(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    for case in ("truncated_jpeg", "truncated_png"):
        with pytest.raises(ImageError) as raised:
            process_image(BAD_INPUTS[case][0])
        assert raised.value.code == "corrupt"


@pytest.mark.parametrize("case", ["empty", "text", "gif", "heic", "bomb", "bomb_just_over_limit"])
def test_probe_rejects_from_the_header(case):
    data, code = BAD_INPUTS[case]
    with pytest.raises(ImageError) as raised:
        probe(data)
    assert raised.value.code == code


def test_bomb_check_leaves_pillow_and_warning_state_alone():
    limit_before = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for case in ("bomb", "bomb_just_over_limit"):
            with pytest.raises(ImageError):
                probe(BAD_INPUTS[case][0])
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert limit_before == Image.MAX_IMAGE_PIXELS


def test_max_pixels_argument_is_enforced():
    data = make_jpeg((100, 100))
    with pytest.raises(ImageError) as raised:
        process_image(data, max_pixels=5_000)
    assert raised.value.code == "too_many_pixels"
    assert probe(data, max_pixels=10_000) == ("JPEG", 100, 100)


def test_probe_and_read_exif_do_not_decode_pixels(monkeypatch):
    # A JPEG with a complete header but no image data: only a decode would notice.
    data = make_jpeg((300, 200), orientation=6, taken="2022:05:06 07:08:09")
    headers_only = data[: data.index(b"\xff\xda") + 20]

    def refuse_to_decode(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse_to_decode)
    assert probe(headers_only) == ("JPEG", 300, 200)
    exif = read_exif(headers_only)
    assert exif["dateTimeOriginal"] == "2022-05-06T07:08:09"
    assert (exif["width"], exif["height"]) == (200, 300)
    monkeypatch.undo()
    with pytest.raises(ImageError) as raised:
        process_image(headers_only)
    assert raised.value.code == "corrupt"


def test_mangled_files_raise_only_image_error():
    rng = random.Random(11)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825)[2] = (1.0, 2.0, 3.0)
    noise = Image.effect_noise((48, 32), 40).convert("RGB")
    seeds = [encode(noise, name, exif=exif.tobytes()) for name in ("JPEG", "PNG", "WEBP")]
    seeds.append(encode(noise, "TIFF"))
    assert_mangled_files_raise_only_image_error(seeds, rng, rounds=200)


def assert_mangled_files_raise_only_image_error(seeds: list[bytes], rng: random.Random, *, rounds: int):
    """Files made from ``seeds`` with a few bytes changed or cut anywhere: reading them (header, EXIF,
    renditions) raises ImageError of a known code or nothing, never another exception."""
    for _ in range(rounds):
        data = bytearray(rng.choice(seeds))
        if rng.random() < 0.6:
            for _ in range(rng.randint(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            del data[rng.randrange(len(data)) :]
        for call in (probe, read_exif, lambda data: process_image(data, edges=SMALL)):
            try:
                call(bytes(data))
            except ImageError as error:
                assert error.code in ERROR_CODES


def test_mangled_heic_and_avif_files_raise_only_image_error():
    """libheif and libavif parse boxes a file describes: bytes changed anywhere, or a cut anywhere, end
    as an ImageError (never another exception, never a crash of the process)."""
    rng = random.Random(13)
    seeds = [
        heic_bytes(96, 64, orientation=6, gps=(1.0, 2.0)),
        heic_bytes(160, 96, tile_size=64),
        encode(Image.effect_noise((48, 32), 40).convert("RGB"), "AVIF"),
    ]
    assert_mangled_files_raise_only_image_error(seeds, rng, rounds=150)


# ---------------------------------------------------------------- the responsive set


@pytest.mark.parametrize(
    ("size", "names"),
    [
        ((6000, 4000), ["400", "800", "1600", "2560"]),  # large: all four, never its own size
        ((4000, 6000), ["400", "800", "1600", "2560"]),  # portrait: the long edge counts
        ((2560, 1440), ["400", "800", "1600", "2560"]),  # exactly the largest edge: its own size is one
        ((1600, 1067), ["400", "800", "1600"]),  # exactly an edge: no duplicate
        ((1000, 600), ["400", "800", "1000"]),  # between edges: the ones below, then its own size
        ((533, 800), ["400", "800"]),
        ((300, 200), ["300"]),  # below the smallest edge: its own size alone
        ((400, 400), ["400"]),
        ((1, 1), ["1"]),
    ],
)
def test_the_sizes_are_every_edge_up_to_the_photo_plus_its_own_below_the_largest(size, names):
    specs = rendition_specs(*size)
    assert [spec.name for spec in specs] == names
    assert [spec.long_edge for spec in specs] == [int(name) for name in names]
    assert specs == tuple(RenditionSpec(name, int(name)) for name in names)


def test_the_default_edges_and_other_edge_sets():
    assert RENDITION_EDGES == (400, 800, 1600, 2560)
    assert rendition_specs(700, 500, (100, 200)) == (RenditionSpec("100", 100), RenditionSpec("200", 200))
    assert rendition_specs(150, 90, (200, 100)) == (RenditionSpec("100", 100), RenditionSpec("150", 150))
    with pytest.raises(ValueError):
        rendition_specs(100, 100, ())


def photo_like(size, *, seed=1, alpha=False) -> Image.Image:
    """Gradients, soft shapes and grain: a picture with every frequency, no flat or mirrored areas."""
    rng = random.Random(seed)
    width, height = size
    gradient = Image.linear_gradient("L")
    image = Image.merge(
        "RGB", [gradient.rotate(angle).resize(size) for angle in (rng.randrange(360) for _ in range(3))]
    )
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randrange(1, max(2, max(size) // 5))
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=tuple(rng.randbytes(3)))
    grain = Image.effect_noise(size, 20)
    image = ImageChops.add(image, Image.merge("RGB", (grain,) * 3), 1.0, -128)
    if alpha:
        image.putalpha(gradient.rotate(rng.randrange(360)).resize(size))
    return image


def test_every_rendition_decodes_to_its_format_size_and_bytes():
    processed = process_image(encode(photo_like((1000, 700)), "PNG"), formats=("webp", "avif", "jpeg"))
    assert [(r.name, r.format) for r in processed.renditions] == [
        (name, format_name) for name in ("400", "800", "1000") for format_name in ("webp", "avif", "jpeg")
    ]
    for made in processed.renditions:
        image = decoded(made.data)
        assert image.format == made.format.upper()
        assert image.size == (made.width, made.height)
        assert max(image.size) == int(made.name)
        assert (made.extension, made.content_type) == {
            "jpeg": ("jpg", "image/jpeg"),
            "webp": ("webp", "image/webp"),
            "avif": ("avif", "image/avif"),
        }[made.format]
        assert made.data and image.mode in ("RGB", "RGBA", "L")
    widths = [r.width for r in processed.renditions]
    assert widths == sorted(widths)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_avif_twins_are_made_when_asked(mode):
    source = photo_like((300, 200), alpha=mode == "RGBA").convert(mode)
    processed = process_image(encode(source, "PNG"), formats=("jpeg", "webp", "avif"))
    avif = rendition(processed, "300", "avif")
    image = decoded(avif.data)
    assert (image.format, image.size, image.mode) == ("AVIF", (300, 200), mode)
    assert {r.format for r in process_image(encode(source, "PNG")).renditions} == {"jpeg", "webp"}


def test_unknown_or_repeated_formats_are_a_programming_error():
    for formats in (("jpeg", "gif"), ("jpeg", "jpeg"), ()):
        with pytest.raises(ValueError):
            process_image(make_jpeg(), formats=formats)


def test_one_decode_makes_every_size_and_the_placeholders(monkeypatch):
    opened, decodes = [], []
    real_open, real_load = Image.open, ImageFile.ImageFile.load

    def counting_open(*args, **kwargs):
        opened.append(args)
        return real_open(*args, **kwargs)

    def counting_load(self):
        if self.tile:  # a load with tiles left decodes; a second load() is a no-op
            decodes.append((self.format, self.size))
        return real_load(self)

    monkeypatch.setattr(Image, "open", counting_open)
    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    processed = process_image(make_jpeg((1200, 800), orientation=8), edges=(300, 400))
    # One file opened, decoded once, at the draft scale the largest size needs (1/2: 600 x 400 >= 400 x 267).
    assert len(opened) == 1
    assert decodes == [("JPEG", (600, 400))]
    assert [(r.width, r.height) for r in processed.renditions if r.format == "jpeg"] == [
        (200, 300),
        (267, 400),
    ]
    assert processed.thumbhash and processed.dominant_color
    opened.clear()
    decodes.clear()
    process_image(encode(photo_like((500, 300)), "PNG"))
    assert len(opened) == 1 and decodes == [("PNG", (500, 300))]


# ---------------------------------------------------------------- placeholders


def reference_thumbhash(image: Image.Image) -> bytes:
    """ThumbHash by the pure-Python reference port (same sums in the same order as the format's own
    JavaScript encoder, O(w*h*nx*ny))."""
    rgba = image.convert("RGBA")
    return bytes(thash.rgba_to_thumb_hash_pure(rgba.width, rgba.height, list(rgba.tobytes())))


@pytest.mark.parametrize(
    ("size", "alpha"),
    [
        ((100, 67), False),  # landscape, as the pipeline makes it from a 3:2 photo
        ((67, 100), False),  # portrait
        ((100, 100), False),
        ((100, 75), True),  # with alpha: fewer luminance terms, an alpha channel
        ((48, 100), True),
        ((13, 7), False),  # tiny
        ((5, 9), True),
        ((1, 1), False),
        ((100, 1), True),
    ],
)
def test_thumbhash_is_the_reference_encoders_bytes(size, alpha):
    for seed in (1, 2):
        image = photo_like(size, seed=seed, alpha=alpha)
        if size[0] * size[1] < 200:  # too small for shapes to tell apart: random pixels
            image = Image.frombytes(
                image.mode, size, random.Random(seed).randbytes(size[0] * size[1] * len(image.mode))
            )
        assert thumbhash(image) == reference_thumbhash(image), (size, alpha, seed)


def test_thumbhash_rounds_halves_up_as_the_format_does():
    # 5 luminance terms scaled to a 100 x 50 picture is 2.5: the format's JavaScript and Rust encoders
    # round it to 3 (Math.round, f32::round), Python's round() to the even 2.
    image = photo_like((100, 50), alpha=True)
    assert thumbhash(image)[3] & 7 == 3
    assert reference_thumbhash(image)[3] & 7 == 2


def test_thumbhash_refuses_more_than_100_pixels_a_side():
    with pytest.raises(ValueError):
        thumbhash(Image.new("RGB", (101, 50)))


def average_rgb(image: Image.Image) -> tuple[float, ...]:
    return tuple(ImageStat.Stat(image.convert("RGB")).mean)


@pytest.mark.parametrize("alpha", [False, True])
def test_the_photos_thumbhash_decodes_to_its_average_colour(alpha):
    source = photo_like((640, 420), seed=3)
    if alpha:
        source.putalpha(255)
        source.paste((0, 0, 0, 0), (0, 0, 100, 420))  # a transparent strip (black under it)
    processed = process_image(encode(source, "PNG"))
    hash_bytes = base64.b64decode(processed.thumbhash, validate=True)
    assert base64.b64encode(hash_bytes).decode() == processed.thumbhash  # standard base64, padded
    width, height, rgba = thash.thumb_hash_to_rgba(hash_bytes)
    assert width / height == pytest.approx(640 / 420, rel=0.2)
    placeholder = Image.frombytes("RGBA", (width, height), rgba)
    opaque_part = source.crop((100, 0, 640, 420)) if alpha else source
    expected = average_rgb(opaque_part)
    got = ImageStat.Stat(
        placeholder.convert("RGB"), mask=placeholder.getchannel("A").point(lambda a: a > 127 and 255)
    ).mean
    assert math.dist(got, expected) < 20, (got, expected)
    # A different picture has a different hash.
    assert process_image(encode(photo_like((640, 420), seed=4), "PNG")).thumbhash != processed.thumbhash


def scene(bands, size=(150, 100), grain=12) -> Image.Image:
    """Horizontal bands, top to bottom, of (share of the height, colour or (top, bottom) gradient)."""
    image = Image.new("RGB", size)
    top = 0
    for share, fill in bands:
        height = round(size[1] * share)
        if isinstance(fill[0], tuple):
            mask = Image.linear_gradient("L").resize((size[0], height))
            band = Image.composite(
                Image.new("RGB", mask.size, fill[1]), Image.new("RGB", mask.size, fill[0]), mask
            )
            image.paste(band, (0, top))
        else:
            image.paste(fill, (0, top, size[0], top + height))
        top += height
    noise = Image.effect_noise(size, grain)
    return ImageChops.add(image, Image.merge("RGB", (noise,) * 3), 1.0, -128)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    assert len(colour) == 7 and colour == colour.lower() and colour[0] == "#"
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


DOMINANT_SCENES = [
    # (what a person sees, bands, the colour they would name)
    (
        "sky over grass and a red car",
        [(0.6, ((90, 140, 220), (150, 190, 240))), (0.25, (60, 120, 40)), (0.15, (200, 30, 30))],
        (120, 165, 230),
    ),
    (
        "grey wall behind a face and dark hair",
        [(0.5, (128, 128, 128)), (0.3, (220, 170, 140)), (0.2, (40, 30, 25))],
        (128, 128, 128),
    ),
    (
        "sunset over a silhouette",
        [(0.4, (240, 140, 50)), (0.35, (20, 20, 30)), (0.25, (120, 60, 140))],
        (240, 140, 50),
    ),
    (
        "wide sky gradient above a flat red",
        [(0.7, ((50, 100, 200), (200, 220, 255))), (0.3, (200, 30, 30))],
        (125, 160, 228),
    ),
]


@pytest.mark.parametrize(("label", "bands", "expected"), DOMINANT_SCENES, ids=[s[0] for s in DOMINANT_SCENES])
def test_the_dominant_colour_is_the_largest_area_not_the_mean(label, bands, expected):
    image = scene(bands)
    colour = hex_rgb(dominant_color(image))
    mean = average_rgb(image)
    assert math.dist(colour, expected) < 30, (label, colour)
    assert math.dist(colour, expected) < math.dist(mean, expected) / 2  # nearer than the (muddy) mean


def test_the_dominant_colour_of_a_flat_picture_is_its_colour_and_transparency_does_not_count():
    assert dominant_color(Image.new("RGB", (60, 40), (12, 200, 99))) == "#0cc863"
    image = Image.new("RGBA", (100, 100), (255, 0, 0, 0))  # mostly transparent red
    image.paste((10, 150, 30, 255), (0, 0, 100, 30))  # 30% opaque green
    assert dominant_color(image) == "#0a961e"
    assert (
        dominant_color(Image.new("RGBA", (10, 10), (0, 0, 255, 0))) == "#0000ff"
    )  # all transparent: its colour


def test_the_photos_dominant_colour_comes_with_it():
    bands = DOMINANT_SCENES[0][1]
    processed = process_image(encode(scene(bands, size=(900, 600)), "PNG"))
    assert math.dist(hex_rgb(processed.dominant_color), DOMINANT_SCENES[0][2]) < 30


def test_placeholders_scale_any_size_to_at_most_100_pixels():
    image = photo_like((400, 267))
    small = image.resize((100, 67), Image.Resampling.BOX)
    assert placeholders(image) == (thumbhash(small), dominant_color(small))
    assert placeholders(Image.new("L", (20, 30), 90))[1] == "#5a5a5a"
    assert imaging.THUMBHASH_MAX_EDGE == 100
