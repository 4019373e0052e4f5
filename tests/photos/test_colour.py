"""Wide-gamut originals make sRGB renditions; sRGB and untagged originals are left exactly as they were."""

from __future__ import annotations

import io

import pillow_heif
import pytest
from PIL import Image, ImageCms

from photos import imaging
from photos.imaging import DISPLAY_P3_PROFILE, SRGB_PROFILE, matrix_profile, process_image

SMALL = (64,)
ALL_FORMATS = ("jpeg", "webp", "avif")
# Adobe RGB (1998): its published primaries, D65 white, a pure gamma of 563/256.
ADOBE_RGB_PROFILE = matrix_profile(
    "Adobe RGB (1998)",
    ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06)),
    (0.3127, 0.3290),
    b"curv\0\0\0\0" + (1).to_bytes(4, "big") + (563).to_bytes(2, "big"),
)
# Published D65 matrices (both spaces share the white, so no adaptation): Display P3 to XYZ, XYZ to sRGB.
P3_TO_XYZ = (
    (0.4865709, 0.2656677, 0.1982173),
    (0.2289746, 0.6917385, 0.0792869),
    (0.0, 0.0451134, 1.0439444),
)
XYZ_TO_SRGB = (
    (3.2404542, -1.5371385, -0.4985314),
    (-0.9692660, 1.8760108, 0.0415560),
    (0.0556434, -0.2040259, 1.0572252),
)


def p3_to_srgb(colour: tuple[int, int, int]) -> tuple[int, ...]:
    """A Display P3 colour's sRGB value by matrix math alone (both use the sRGB tone curve), clipped."""

    def linear(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    def encoded(v: float) -> int:
        v = min(max(v, 0.0), 1.0)
        v = v * 12.92 if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055
        return round(v * 255)

    rgb = [linear(value) for value in colour]
    xyz = [sum(row[k] * rgb[k] for k in range(3)) for row in P3_TO_XYZ]
    return tuple(encoded(sum(row[k] * xyz[k] for k in range(3))) for row in XYZ_TO_SRGB)


def solid_png(colour, icc: bytes | None, mode: str = "RGB") -> bytes:
    image = Image.new(mode, (64, 48), colour)
    out = io.BytesIO()
    image.save(out, "PNG", **({"icc_profile": icc} if icc else {}))
    return out.getvalue()


def centre(data: bytes) -> tuple[int, ...]:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.getpixel((image.width // 2, image.height // 2))


def close(actual, expected, tolerance: int) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# Lossy codecs on a flat colour: JPEG and AVIF land within a step or two, WebP's YUV 4:2:0 a few more.
TOLERANCE = {"jpeg": 3, "webp": 5, "avif": 4}


def test_matrix_math_reference_is_right_for_a_known_colour():
    # P3 pure red is outside sRGB and clips to sRGB red; P3 white is sRGB white.
    assert p3_to_srgb((255, 0, 0))[0] == 255 and p3_to_srgb((255, 0, 0))[1:] == (0, 0)
    assert p3_to_srgb((255, 255, 255)) == (255, 255, 255)


@pytest.mark.parametrize("colour", [(200, 120, 80), (255, 0, 0), (40, 180, 90)])
def test_display_p3_colour_lands_on_its_srgb_value(colour):
    expected = p3_to_srgb(colour)
    assert not close(expected, colour, 3) or colour == (255, 0, 0)  # the conversion is visible
    processed = process_image(solid_png(colour, DISPLAY_P3_PROFILE), edges=SMALL, formats=ALL_FORMATS)
    assert {made.format for made in processed.renditions} == set(ALL_FORMATS)
    for made in processed.renditions:
        assert Image.open(io.BytesIO(made.data)).info.get("icc_profile") == SRGB_PROFILE, made.format
        assert close(centre(made.data)[:3], expected, TOLERANCE[made.format]), (
            made.format,
            centre(made.data),
        )


def test_in_gamut_p3_colour_is_exact_through_the_transform():
    """Without a lossy codec in the way: relative colorimetric keeps an in-gamut colour within one step."""
    image = Image.new("RGB", (4, 4), (200, 120, 80))
    assert imaging._to_srgb(image, DISPLAY_P3_PROFILE) == SRGB_PROFILE
    assert close(image.getpixel((0, 0)), p3_to_srgb((200, 120, 80)), 1)
    assert p3_to_srgb((200, 120, 80)) == (213, 115, 70)  # the value written out, for a reader


def test_transparent_p3_image_keeps_its_alpha():
    processed = process_image(
        solid_png((200, 120, 80, 77), DISPLAY_P3_PROFILE, "RGBA"), edges=SMALL, formats=("webp",)
    )
    (made,) = processed.renditions
    assert Image.open(io.BytesIO(made.data)).info.get("icc_profile") == SRGB_PROFILE
    pixel = centre(made.data)
    assert abs(pixel[3] - 77) <= 2
    # Premultiplied resizing and lossy alpha move the colour of a translucent pixel a little further.
    assert close(pixel[:3], p3_to_srgb((200, 120, 80)), 8), pixel


def test_adobe_rgb_original_is_converted():
    colour = (60, 160, 90)
    reference = Image.new("RGB", (1, 1), colour)
    expected = ImageCms.profileToProfile(
        reference,
        ImageCms.ImageCmsProfile(io.BytesIO(ADOBE_RGB_PROFILE)),
        ImageCms.ImageCmsProfile(io.BytesIO(SRGB_PROFILE)),
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )
    assert expected is not None
    expected_colour = expected.getpixel((0, 0))
    assert not close(expected_colour, colour, 5)  # Adobe RGB green is well outside sRGB's
    processed = process_image(solid_png(colour, ADOBE_RGB_PROFILE), edges=SMALL, formats=("jpeg",))
    (made,) = processed.renditions
    assert Image.open(io.BytesIO(made.data)).info.get("icc_profile") == SRGB_PROFILE
    assert close(centre(made.data), expected_colour, TOLERANCE["jpeg"])


@pytest.mark.parametrize("icc", [SRGB_PROFILE, None], ids=["srgb", "untagged"])
def test_srgb_and_untagged_originals_are_bytes_identical_to_no_conversion(icc, monkeypatch):
    data = solid_png((200, 120, 80), icc)
    with_conversion = process_image(data, edges=SMALL, formats=ALL_FORMATS)
    monkeypatch.setattr(imaging, "_to_srgb", lambda image, profile: profile)
    without = process_image(data, edges=SMALL, formats=ALL_FORMATS)
    assert [made.data for made in with_conversion.renditions] == [made.data for made in without.renditions]
    for made in with_conversion.renditions:
        assert Image.open(io.BytesIO(made.data)).info.get("icc_profile") == icc


def test_another_makers_srgb_profile_is_recognised_as_srgb():
    """sRGB written by another tool (a v2 matrix profile, not littleCMS's own bytes) is left alone."""
    other_srgb = matrix_profile(
        "sRGB IEC61966-2.1", ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06)), (0.3127, 0.3290), imaging.SRGB_CURVE
    )
    assert other_srgb != SRGB_PROFILE
    image = Image.new("RGB", (4, 4), (200, 120, 80))
    assert imaging._to_srgb(image, other_srgb) == other_srgb
    assert image.getpixel((0, 0)) == (200, 120, 80)


def test_grey_image_with_grey_profile_keeps_its_profile():
    image = Image.new("L", (4, 4), 100)
    fake_grey = bytes(16) + b"GRAY" + bytes(108)
    assert imaging._to_srgb(image, fake_grey) == fake_grey
    assert image.getpixel((0, 0)) == 100


def test_unreadable_rgb_profile_is_kept_unconverted():
    broken = bytes(16) + b"RGB " + bytes(20)
    image = Image.new("RGB", (4, 4), (200, 120, 80))
    assert imaging._to_srgb(image, broken) == broken
    assert image.getpixel((0, 0)) == (200, 120, 80)


def heif(colour, **nclx) -> bytes:
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (64, 48), colour)).save(out, quality=95, **nclx)
    return out.getvalue()


def test_heif_with_display_p3_nclx_is_converted():
    data = heif((200, 120, 80), color_primaries=12, transfer_characteristics=13, matrix_coefficients=6)
    processed = process_image(data, edges=SMALL, formats=("jpeg",))
    (made,) = processed.renditions
    assert Image.open(io.BytesIO(made.data)).info.get("icc_profile") == SRGB_PROFILE
    assert close(centre(made.data), p3_to_srgb((200, 120, 80)), 4), centre(made.data)


def test_heif_with_srgb_nclx_is_left_alone():
    data = heif((200, 120, 80), color_primaries=1, transfer_characteristics=13, matrix_coefficients=6)
    processed = process_image(data, edges=SMALL, formats=("jpeg",))
    (made,) = processed.renditions
    assert Image.open(io.BytesIO(made.data)).info.get("icc_profile") is None
    assert close(centre(made.data), (200, 120, 80), 4), centre(made.data)


def test_heif_with_p3_primaries_but_an_hdr_curve_is_left_alone():
    """PQ (16) is an HDR curve the Display P3 profile does not describe: no guessed conversion."""
    data = heif((200, 120, 80), color_primaries=12, transfer_characteristics=16, matrix_coefficients=6)
    processed = process_image(data, edges=SMALL, formats=("jpeg",))
    (made,) = processed.renditions
    assert Image.open(io.BytesIO(made.data)).info.get("icc_profile") is None
