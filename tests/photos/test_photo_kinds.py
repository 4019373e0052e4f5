"""Files that break naive pipelines: 16-bit PNG and TIFF, 12-bit and floating-point TIFF, CMYK and YCCK
JPEGs, CMYK, YCbCr and Lab TIFFs, greyscale, palettes with transparency, alpha channels, multi-page TIFFs,
AVIF and HEIC. Each kind's renditions are compared pixel by pixel with a reference of what they must show;
the kinds no decoder here reads are refused with 415 naming what they are, and none answers 500.

Every file is made from one chart (colour patches over a grey ramp) at 120 x 80, below the smallest
rendition size, so each rendition is the chart at its own size: any difference is the file's handling, not
resampling. JPEG renditions are compared with the reference laid on white; WebP renditions keep the alpha.
"""

import io
import math
import struct
import time

import pytest
from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageStat

from photos.imaging import ImageError, process_image, working_mode
from tests.factories import gif_bytes, png16_bytes, tiff_bytes, ycck_jpeg_bytes

WIDTH, HEIGHT = 120, 80
PATCHES = [(220, 30, 30), (40, 170, 60), (40, 90, 160), (240, 220, 60), (60, 200, 210), (128, 128, 128)]
WHITE = (255, 255, 255)


def chart() -> Image.Image:
    """Six colour patches over a grey ramp from black to white."""
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    for index, colour in enumerate(PATCHES):
        draw.rectangle((index * 20, 0, index * 20 + 19, 39), fill=colour)
    for x in range(WIDTH):
        level = round(255 * x / (WIDTH - 1))
        draw.line((x, 40, x, HEIGHT - 1), fill=(level, level, level))
    return image


def alpha_mask() -> Image.Image:
    """Opaque on the left half, half transparent in the next quarter, fully transparent on the right."""
    mask = Image.new("L", (WIDTH, HEIGHT), 255)
    mask.paste(128, (WIDTH // 2, 0, 3 * WIDTH // 4, HEIGHT))
    mask.paste(0, (3 * WIDTH // 4, 0, WIDTH, HEIGHT))
    return mask


def with_alpha() -> Image.Image:
    image = chart().convert("RGBA")
    image.putalpha(alpha_mask())
    return image


def on_white(image: Image.Image) -> Image.Image:
    """What a viewer shows of ``image`` on a white page."""
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (*WHITE, 255)), rgba).convert("RGB")


def encoded(image: Image.Image, format_name: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format_name, **options)
    return out.getvalue()


def samples16(image: Image.Image, *, big_endian: bool) -> bytes:
    """The 16-bit samples of an 8-bit image (each v as v * 257, exactly its 16-bit equal), row by row."""
    order = ">" if big_endian else "<"
    values = [value * 257 for value in image.tobytes()]  # 8-bit modes: one byte a sample
    return struct.pack(f"{order}{len(values)}H", *values)


def _tuple(pixel) -> tuple:
    return pixel if isinstance(pixel, tuple) else (pixel,)


def twelve_bit_grey(image: Image.Image) -> bytes:
    """The grey of ``image`` as 12-bit samples packed two to three bytes, most significant bit first."""
    values = [round(value * 4095 / 255) for value in image.convert("L").tobytes()]
    bits = "".join(f"{value:012b}" for value in values)  # 120 px a row: every row ends on a byte
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def float_grey(image: Image.Image) -> bytes:
    values = [value / 255 for value in image.convert("L").tobytes()]
    return struct.pack(f"<{len(values)}f", *values)


def cmyk_chart() -> Image.Image:
    """The chart in CMYK with a patch of black ink alone: an inverted K would turn the page black, inverted
    C, M and Y a negative."""
    image = chart().convert("CMYK")
    image.paste((0, 0, 0, 128), (100, 0, 120, 40))
    image.paste((0, 255, 255, 0), (0, 0, 20, 40))  # pure magenta and yellow inks: red
    return image


def lab_reference() -> Image.Image:
    """What LittleCMS makes of the chart's 8-bit Lab samples in sRGB (8-bit Lab cannot hold every sRGB
    colour exactly: the cyan patch moves by 14)."""
    lab, srgb = ImageCms.createProfile("LAB", 6500), ImageCms.createProfile("sRGB")
    transform = ImageCms.buildTransform(lab, srgb, "LAB", "RGB")
    return ImageCms.applyTransform(chart().convert("LAB"), transform)


KEY_RGB, KEY_GREY = (1, 2, 3), 1  # colours the chart never has


def colour_keyed(mode: str) -> tuple[Image.Image, Image.Image]:
    """The chart (in ``mode``, L or RGB) with its right quarter painted the key colour, and what it shows:
    that quarter transparent."""
    image = chart().convert(mode)
    key = KEY_RGB if mode == "RGB" else KEY_GREY
    image.paste(key, (3 * WIDTH // 4, 0, WIDTH, HEIGHT))
    shown = image.convert("RGBA")
    shown.paste((255, 255, 255, 0), (3 * WIDTH // 4, 0, WIDTH, HEIGHT))
    return image, shown


def grey16_keyed() -> bytes:
    """A 16-bit grey PNG of the chart whose right quarter holds the 16-bit key value (tRNS)."""
    grey, _ = colour_keyed("L")
    values = [257 * value for value in grey.tobytes()]
    image = Image.frombytes("I;16", grey.size, struct.pack(f"<{len(values)}H", *values))
    return encoded(image, "PNG", transparency=257 * KEY_GREY)


def palette_with_transparency() -> Image.Image:
    """A palette PNG's kind of image: the chart in 64 colours, the right quarter's index transparent."""
    image = chart().quantize(64)
    image.paste(63, (3 * WIDTH // 4, 0, WIDTH, HEIGHT))
    image.info["transparency"] = 63
    return image


def palette_reference() -> Image.Image:
    return palette_with_transparency().convert("RGBA")


# name -> (the file, its reference: the image a viewer must see)
KINDS = {
    "16-bit RGB PNG": lambda: (
        png16_bytes(WIDTH, HEIGHT, samples16(chart(), big_endian=True), colour_type=2),
        chart(),
    ),
    "16-bit RGBA PNG": lambda: (
        png16_bytes(WIDTH, HEIGHT, samples16(with_alpha(), big_endian=True), colour_type=6),
        with_alpha(),
    ),
    "16-bit grey PNG": lambda: (
        png16_bytes(WIDTH, HEIGHT, samples16(chart().convert("L"), big_endian=True), colour_type=0),
        chart().convert("L"),
    ),
    "16-bit RGB TIFF (little-endian)": lambda: (
        tiff_bytes(
            [(WIDTH, HEIGHT, samples16(chart(), big_endian=False))],
            bits=16,
            samples_per_pixel=3,
            photometric=2,
        ),
        chart(),
    ),
    "16-bit RGB TIFF (big-endian)": lambda: (
        tiff_bytes(
            [(WIDTH, HEIGHT, samples16(chart(), big_endian=True))],
            bits=16,
            samples_per_pixel=3,
            photometric=2,
            big_endian=True,
        ),
        chart(),
    ),
    "16-bit RGBA TIFF": lambda: (
        tiff_bytes(
            [(WIDTH, HEIGHT, samples16(with_alpha(), big_endian=False))],
            bits=16,
            samples_per_pixel=4,
            photometric=2,
            extra_samples=2,
        ),
        with_alpha(),
    ),
    "16-bit grey TIFF": lambda: (
        tiff_bytes(
            [(WIDTH, HEIGHT, samples16(chart().convert("L"), big_endian=False))],
            bits=16,
            samples_per_pixel=1,
            photometric=1,
        ),
        chart().convert("L"),
    ),
    "12-bit grey TIFF": lambda: (
        tiff_bytes([(WIDTH, HEIGHT, twelve_bit_grey(chart()))], bits=12, samples_per_pixel=1, photometric=1),
        chart().convert("L"),
    ),
    "32-bit floating-point grey TIFF": lambda: (
        tiff_bytes(
            [(WIDTH, HEIGHT, float_grey(chart()))],
            bits=32,
            samples_per_pixel=1,
            photometric=1,
            sample_format=3,
        ),
        chart().convert("L"),
    ),
    "16-bit CMYK TIFF": lambda: (
        tiff_bytes(
            [(WIDTH, HEIGHT, samples16(cmyk_chart(), big_endian=False))],
            bits=16,
            samples_per_pixel=4,
            photometric=5,
        ),
        cmyk_chart().convert("RGB"),
    ),
    "CMYK JPEG (Adobe, inverted)": lambda: (
        encoded(cmyk_chart(), "JPEG", quality=95, subsampling=0),
        cmyk_chart().convert("RGB"),
    ),
    "YCCK JPEG": lambda: (ycck_jpeg_bytes(cmyk_chart()), cmyk_chart().convert("RGB")),
    "CMYK TIFF": lambda: (encoded(cmyk_chart(), "TIFF"), cmyk_chart().convert("RGB")),
    "YCbCr TIFF": lambda: (encoded(chart().convert("YCbCr"), "TIFF"), chart()),
    "Lab TIFF": lambda: (encoded(chart().convert("LAB"), "TIFF"), lab_reference()),
    "grey JPEG": lambda: (encoded(chart().convert("L"), "JPEG", quality=95), chart().convert("L")),
    "grey PNG": lambda: (encoded(chart().convert("L"), "PNG"), chart().convert("L")),
    "1-bit PNG": lambda: (encoded(chart().convert("1"), "PNG"), chart().convert("1")),
    "grey and alpha PNG": lambda: (encoded(with_alpha().convert("LA"), "PNG"), with_alpha().convert("LA")),
    "palette PNG with transparency": lambda: (
        encoded(palette_with_transparency(), "PNG", transparency=63),
        palette_reference(),
    ),
    "palette PNG": lambda: (encoded(chart().quantize(256), "PNG"), chart().quantize(256)),
    "RGBA PNG": lambda: (encoded(with_alpha(), "PNG"), with_alpha()),
    "RGB PNG with a colour key": lambda: (
        encoded(colour_keyed("RGB")[0], "PNG", transparency=KEY_RGB),
        colour_keyed("RGB")[1],
    ),
    "grey PNG with a colour key": lambda: (
        encoded(colour_keyed("L")[0], "PNG", transparency=KEY_GREY),
        colour_keyed("L")[1],
    ),
    "16-bit grey PNG with a colour key": lambda: (grey16_keyed(), colour_keyed("L")[1]),
    "RGBA TIFF": lambda: (encoded(with_alpha(), "TIFF"), with_alpha()),
    "RGBA WebP": lambda: (encoded(with_alpha(), "WEBP", lossless=True), with_alpha()),
    "multi-page TIFF (first page)": lambda: (
        encoded(chart(), "TIFF", save_all=True, append_images=[Image.new("RGB", (WIDTH * 2, HEIGHT * 2))]),
        chart(),
    ),
    "animated PNG (first frame)": lambda: (
        encoded(chart(), "PNG", save_all=True, append_images=[Image.new("RGB", (WIDTH, HEIGHT))]),
        chart(),
    ),
    "AVIF": lambda: (encoded(chart(), "AVIF", quality=90), chart()),
    "AVIF with alpha": lambda: (encoded(with_alpha(), "AVIF", quality=90), with_alpha()),
    "HEIC": lambda: (heic_of(chart()), chart()),
}

# The renditions of a plain 8-bit PNG of the chart are 31.5 dB from it (JPEG q85 and WebP q80 on sharp
# patches); lossy originals (AVIF, HEIC, JPEG) add their own error. A mishandled kind is far below: a
# negative, a black page, a clipped or darkened ramp are under 15 dB.
FLOOR_DB, LOSSY_FLOOR_DB, PATCH_TOLERANCE = 30.0, 28.0, 6
LOSSY_ORIGINALS = {"AVIF", "AVIF with alpha", "HEIC", "grey JPEG", "CMYK JPEG (Adobe, inverted)", "YCCK JPEG"}


def heic_of(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "HEIF", quality=90)  # pillow-heif's encoder (registered by photos.imaging)
    return out.getvalue()


def psnr(image: Image.Image, reference: Image.Image) -> float:
    difference = ImageChops.difference(image.convert("RGB"), reference.convert("RGB"))
    mse = sum(value * value for value in ImageStat.Stat(difference).rms) / 3
    return 99.0 if mse == 0 else 10 * math.log10(255 * 255 / mse)


def patch_centres(image: Image.Image) -> list[tuple[int, ...]]:
    """The mean colour of each patch's centre and of five points along the ramp."""
    rgb = image.convert("RGB")
    boxes = [(index * 20 + 6, 12, index * 20 + 14, 28) for index in range(6)]
    boxes += [(x - 2, 52, x + 2, 68) for x in (10, 35, 60, 85, 110)]
    return [tuple(round(value) for value in ImageStat.Stat(rgb.crop(box)).mean) for box in boxes]


def renditions_of(data: bytes) -> dict[str, Image.Image]:
    processed = process_image(data, formats=("jpeg", "webp"))
    assert [r.name for r in processed.renditions] == ["120", "120"]  # the chart's own size, no resampling
    return {r.format: Image.open(io.BytesIO(r.data)) for r in processed.renditions}


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_makes_renditions_that_show_its_reference(kind):
    data, reference = KINDS[kind]()
    renditions = renditions_of(data)
    expected = on_white(reference)
    floor = LOSSY_FLOOR_DB if kind in LOSSY_ORIGINALS else FLOOR_DB
    for format_name, rendition in renditions.items():
        assert rendition.size == (WIDTH, HEIGHT)
        shown = on_white(rendition)
        assert psnr(shown, expected) >= floor, (format_name, psnr(shown, expected))
        for got, want in zip(patch_centres(shown), patch_centres(expected), strict=True):
            assert all(abs(a - b) <= PATCH_TOLERANCE for a, b in zip(got, want, strict=True)), (
                format_name,
                got,
                want,
            )


ALPHA_KINDS = [
    "16-bit RGBA PNG", "16-bit RGBA TIFF", "grey and alpha PNG", "palette PNG with transparency", "RGBA PNG",
    "RGBA TIFF", "RGBA WebP", "AVIF with alpha",
]  # fmt: skip


@pytest.mark.parametrize("kind", ALPHA_KINDS)
def test_transparency_is_white_in_jpeg_and_kept_in_webp(kind):
    data, reference = KINDS[kind]()
    renditions = renditions_of(data)
    transparent = (WIDTH - 5, 20)  # the right quarter
    assert renditions["jpeg"].mode in ("RGB", "L")
    assert min(_tuple(renditions["jpeg"].getpixel(transparent))) >= 250  # white, not black
    webp = renditions["webp"].convert("RGBA")
    assert webp.getpixel(transparent)[3] == 0
    assert webp.getpixel((5, 20))[3] == 255
    wanted = reference.convert("RGBA").getpixel((WIDTH // 2 + 5, 20))[3]
    assert abs(webp.getpixel((WIDTH // 2 + 5, 20))[3] - wanted) <= 2


COLOUR_KEYED = [
    "RGB PNG with a colour key",
    "grey PNG with a colour key",
    "16-bit grey PNG with a colour key",
]


@pytest.mark.parametrize("kind", COLOUR_KEYED)
def test_a_colour_key_is_transparency_white_in_jpeg_and_kept_in_webp(kind):
    """PNG optimisers turn RGBA whose alpha is all or nothing into RGB (or grey) with a tRNS colour key."""
    renditions = renditions_of(KINDS[kind]()[0])
    transparent, opaque = (WIDTH - 5, 20), (5, 20)
    assert min(_tuple(renditions["jpeg"].convert("RGB").getpixel(transparent))) >= 250
    webp = renditions["webp"].convert("RGBA")
    assert (webp.getpixel(transparent)[3], webp.getpixel(opaque)[3]) == (0, 255)


def test_dark_high_bit_depth_grey_stays_dark():
    """Scaled by the depth's white, not stretched to the brightest sample: a 16-bit or 12-bit night shot
    whose brightest pixel is a quarter of white stays a quarter of white."""
    ramp = chart().convert("L").point(lambda value: value // 4)
    sixteen = [257 * value for value in ramp.tobytes()]
    files = {
        "16-bit": tiff_bytes(
            [(WIDTH, HEIGHT, struct.pack(f"<{len(sixteen)}H", *sixteen))],
            bits=16,
            samples_per_pixel=1,
            photometric=1,
        ),
        "12-bit": tiff_bytes(
            [(WIDTH, HEIGHT, twelve_bit_grey(ramp))], bits=12, samples_per_pixel=1, photometric=1
        ),
    }
    for depth, data in files.items():
        jpeg = renditions_of(data)["jpeg"].convert("L")
        assert 58 <= jpeg.getpixel((WIDTH - 1, 60)) <= 70, depth


def test_cmyk_inks_come_out_as_their_colours_not_their_negative():
    """Pure magenta and yellow inks are red, black ink alone a grey, a blank page white: in every CMYK kind
    (an Adobe JPEG stores its samples inverted; a YCCK one as YCbCr of the inverted inks)."""
    for kind in ("CMYK JPEG (Adobe, inverted)", "YCCK JPEG", "CMYK TIFF", "16-bit CMYK TIFF"):
        jpeg = renditions_of(KINDS[kind]()[0])["jpeg"].convert("RGB")
        red, grey = jpeg.getpixel((10, 20)), jpeg.getpixel((110, 20))
        assert red[0] > 230 and red[1] < 30 and red[2] < 30, (kind, red)
        assert all(110 <= value <= 145 for value in grey), (kind, grey)


def test_high_bit_depth_grey_is_scaled_by_its_own_white_not_clipped_or_darkened():
    """The ramp's white end is white and its middle mid-grey, whatever the depth: 16-bit (white 65535),
    12-bit (4095) and floating point within 0..1 (1.0)."""
    for kind in (
        "16-bit grey PNG",
        "16-bit grey TIFF",
        "12-bit grey TIFF",
        "32-bit floating-point grey TIFF",
    ):
        jpeg = renditions_of(KINDS[kind]()[0])["jpeg"].convert("L")
        assert jpeg.getpixel((WIDTH - 1, 60)) >= 250, kind
        assert 118 <= jpeg.getpixel((WIDTH // 2, 60)) <= 138, kind
        assert jpeg.getpixel((0, 60)) <= 5, kind


def test_a_lab_tiff_is_colour_not_an_alpha_channel():
    """Lab's A band is a colour axis: its renditions are made (and its memory counted) as RGB, not RGBA."""
    assert working_mode("LAB") == "RGB"
    assert [working_mode(mode) for mode in ("LA", "PA", "RGBA", "RGBa", "La")] == ["RGBA"] * 5


def raw_tiff(**tags) -> bytes:
    grey = chart().convert("L").tobytes()
    return tiff_bytes([(WIDTH, HEIGHT, grey)], bits=8, samples_per_pixel=1, photometric=1, **tags)


def tiff_float_rgb() -> bytes:
    values = [value / 255 for value in chart().tobytes()]
    pixels = struct.pack(f"<{len(values)}f", *values)
    return tiff_bytes([(WIDTH, HEIGHT, pixels)], bits=32, samples_per_pixel=3, photometric=2, sample_format=3)


# name -> (the file, words the refusal must hold)
REFUSED = {
    "32-bit floating-point RGB TIFF": (tiff_float_rgb, ["TIFF", "3 samples of 32-bit floating-point"]),
    "DNG": (lambda: raw_tiff(extra_tags=((50706, 1, 4, 0x01040000),)), ["Camera raw", "DNG"]),
    "NEF (a thumbnail first)": (lambda: raw_tiff(extra_tags=((254, 4, 1, 1),)), ["Camera raw", "NEF"]),
    "CR2": (lambda: raw_tiff()[:8] + b"CR\x02\x00" + raw_tiff()[12:], ["Camera raw", "CR2"]),
    "CR3": (lambda: b"\x00\x00\x00\x18ftypcrx " + bytes(200), ["Camera raw", "CR3"]),
    "RAF": (lambda: b"FUJIFILMCCD-RAW 0201" + bytes(200), ["Camera raw", "RAF"]),
    "JPEG XL": (lambda: b"\xff\x0a" + bytes(200), ["JPEG XL"]),
    "GIF": (gif_bytes, ["GIF"]),
    "BMP": (lambda: encoded(chart(), "BMP"), ["BMP"]),
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_kinds_no_decoder_here_reads_are_refused_naming_what_they_are(kind):
    make, words = REFUSED[kind]
    with pytest.raises(ImageError) as refused:
        process_image(make())
    assert refused.value.code == "unsupported_format"
    for word in words:
        assert word in refused.value.message


def test_every_kind_through_the_api_is_a_photo_or_a_415_never_a_500(aws, gallery_id, upload):
    """Each kind uploaded as a curator would (multipart): a photo with renditions, or 415 with the envelope
    naming the file and what it is."""
    for kind, make in KINDS.items():
        data, _ = make()
        response = upload(gallery_id, {f"{kind}.bin": data})
        assert response.status_code == 201, (kind, response.content)
        [photo] = response.json()["photos"]
        assert {image["width"] for image in photo["images"]} == {WIDTH}, kind
    for kind, (make, words) in REFUSED.items():
        response = upload(gallery_id, {f"{kind}.bin": make()})
        assert response.status_code == 415, (kind, response.content)
        body = response.json()
        assert set(body) == {"error", "details"}
        [failure] = body["details"]["files"]
        assert failure["code"] == "unsupported_format" and words[0] in failure["error"], (kind, failure)


def test_the_fixtures_are_what_they_say():
    """The hand-made files decode as the kind they claim (a fixture that silently became 8-bit RGB would
    make the tests above prove nothing)."""
    expected = {
        "16-bit grey PNG": "I;16", "16-bit grey TIFF": "I;16", "12-bit grey TIFF": "I;16",
        "32-bit floating-point grey TIFF": "F", "CMYK JPEG (Adobe, inverted)": "CMYK", "YCCK JPEG": "CMYK",
        "16-bit CMYK TIFF": "CMYK", "YCbCr TIFF": "YCbCr", "Lab TIFF": "LAB",
        "palette PNG with transparency": "P",
        "grey and alpha PNG": "LA", "1-bit PNG": "1", "16-bit RGBA TIFF": "RGBA", "HEIC": "RGB",
    }  # fmt: skip
    for kind, mode in expected.items():
        with Image.open(io.BytesIO(KINDS[kind]()[0])) as opened:
            assert opened.mode == mode, kind
    for kind in ("16-bit RGB PNG", "16-bit RGBA PNG", "16-bit grey PNG"):
        assert KINDS[kind]()[0][24] == 16, kind  # IHDR's bit depth
    with Image.open(io.BytesIO(KINDS["YCCK JPEG"]()[0])) as opened:
        assert opened.info.get("adobe_transform") == 2
    with Image.open(io.BytesIO(KINDS["multi-page TIFF (first page)"]()[0])) as opened:
        assert opened.n_frames == 2
    assert KINDS["HEIC"]()[0][4:12] == b"ftypheic"


def test_a_tiff_directory_of_many_entries_is_refused_in_milliseconds():
    """A crafted directory of 1,000 entries pointing into a file of several MB: each entry is read in place,
    not by copying the rest of the file (which took seconds a file)."""
    entry = struct.pack("<HHII", 258, 3, 3, 8)
    data = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1000) + entry * 1000
    data += bytes(6 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(ImageError) as refused:
        process_image(data)
    assert time.perf_counter() - started < 1.0
    assert refused.value.code in ("unsupported_format", "corrupt", "not_an_image")
