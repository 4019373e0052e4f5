"""Rendition pipeline benchmark: the full responsive set (every edge of RENDITION_EDGES x JPEG + WebP) from
one decode, against libvips making the same set in the same run; run
`.venv/bin/python bench/imaging.py [--sizes 12,24,45] [--heic-sizes 12,45] [--cmyk-sizes 24] [--repeat N]
[--avif-sweep]`.

Sources, all synthetic camera photos (``camera_photo``):

- ``jpeg``: a 3:2 JPEG q90 stored sideways (EXIF orientation 6), at each of ``--sizes``;
- ``heic``: a 4:3 HEIC as phones write them (HEVC 4:2:0, 8-bit, upright, EXIF without orientation),
  encoded by pillow-heif's x265, at each of ``--heic-sizes``: 12 MP is an iPhone's default, 45 MP the
  largest photo the service takes (cameras such as Canon's R5 write HEIF at that size). HEIC has no
  shrink-on-load: the whole image is decoded, so this is where memory is tightest;
- ``cmyk``: the 3:2 photo as a CMYK JPEG (Adobe APP14, inverted CMYK as Photoshop writes it, no ICC
  profile), at each of ``--cmyk-sizes``; PSNR is against the RGB photo it was made from, so a negative or
  colour-shifted rendition shows as a low figure.

A pipeline that cannot read a source (this checkout's ``photos.imaging`` refusing HEIC, libvips without an
HEVC decoder) is reported with its reason, in the same run, instead of a row.

Pipelines, each making every size of ``photos.imaging.rendition_specs`` in JPEG q85 (baseline, 4:2:0) and
WebP q80 at libwebp method/effort ``WEBP_METHOD``, upright, without metadata:

- ``ours``: ``photos.imaging.process_image`` (one draft decode at the scale the largest size needs, each
  smaller size resized from the one before it, placeholders included);
- ``vips``: pyvips, one auto-rotating shrink-on-load decode (``thumbnail_buffer``) to the largest size, kept
  in memory, each smaller size made from the one before it (``thumbnail_image``, lanczos3);
- ``vips-each``: pyvips, one shrink-on-load ``thumbnail_buffer`` per size (libjpeg decodes at 1/2, 1/4 or
  1/8 scale for the small ones): the other way libvips is used to make a set;
- ``ours+avif``: ``process_image`` with AVIF twins too, for what they add (JPEG sources only).

Both libraries run single-threaded and pinned to one core (``VIPS_CONCURRENCY=1``): a Lambda function of
512 MB gets about 0.3 of a vCPU (a whole one at 1,769 MB), so threads add no speed there, and the service
already works on the photos of a batch in parallel. Timings interleave the pipelines in one process, round
after round (the machine is shared: whatever slows one round slows every pipeline in it), and report the
median of ``--repeat`` rounds with the spread, wall clock and CPU time. Peak RSS is measured per pipeline
in a fresh process (VmHWM), beside its RSS at rest (imports done, the file read); at 45 MP ours is measured
once more in a fresh process that has set up Django and imported every view first, as a warm Lambda has,
and the 512 MB verdicts hold both figures. PSNR compares each pipeline's 1600 px JPEG with a
full-resolution Lanczos resize of the whole decode, so no pipeline wins by cutting quality.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
JPEG_QUALITY = 85
WEBP_QUALITY = 80
SOURCE_QUALITY = 90
PSNR_EDGE = 1600  # the rendition whose quality is compared
FLOOR_SIZE_MP = 24
FLOOR_RATIO = 1.2  # ours / the faster libvips pipeline, ms per photo
FLOOR_PSNR_MARGIN_DB = 0.3  # ours may be at most this much below libvips
FLOOR_RSS_MB = 150
BIG_SIZE_MP = 45
BIG_RSS_MB = 512
LAMBDA_MEMORY_MB = 512
# The HEIC sources: x265's fastest preset (a 45 MP encode takes about half a minute, not minutes) at a
# quality that gives a 12 MP file of about 3 MB, an iPhone's size; the decode costs about the same as at
# slower presets (measured here: 0.85-1.1 s for 12 MP whichever preset).
HEIC_QUALITY = 50
HEIC_PRESET = "ultrafast"
HEIC_BIG_SIZE_MP = 45
# Renditions of the RGB JPEG are ~35 dB from its full decode; a negative or a wrong conversion is far below.
CMYK_MIN_PSNR_DB = 30


# ---------------------------------------------------------------- synthetic camera photos


def camera_jpeg(megapixels: int, seed: int = 1) -> bytes:
    """A 3:2 JPEG with smooth light, soft shapes, texture and sensor noise, stored sideways (EXIF 6)."""
    return _jpeg(camera_photo(megapixels, seed), megapixels, "")


def camera_cmyk_jpeg(megapixels: int, seed: int = 1) -> bytes:
    """The photo of ``camera_jpeg`` as a CMYK JPEG: Pillow writes the Adobe APP14 marker and inverted CMYK,
    as Photoshop does, and no ICC profile (so its colours are the plain inverse of the RGB photo's)."""
    return _jpeg(camera_photo(megapixels, seed).convert("CMYK"), megapixels, " CMYK")


def camera_heic(megapixels: int, seed: int = 1) -> bytes:
    """A 4:3 HEIC (HEVC, 8-bit, 4:2:0) of the same kind of scene, upright, camera EXIF without orientation."""
    import pillow_heif
    from PIL import Image

    photo = camera_photo(megapixels, seed, aspect=4 / 3)
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"
    exif[0x0110] = f"Synthetic {megapixels} MP HEIC"
    out = io.BytesIO()
    pillow_heif.from_pillow(photo).save(
        out, quality=HEIC_QUALITY, enc_params={"preset": HEIC_PRESET}, exif=exif.tobytes()
    )
    return out.getvalue()


def _jpeg(photo, megapixels: int, label: str) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "BenchCam"
    exif[0x0110] = f"Synthetic {megapixels} MP{label}"
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=SOURCE_QUALITY, exif=exif.tobytes())
    return out.getvalue()


def camera_photo(megapixels: int, seed: int = 1, aspect: float = 1.5):
    """RGB pixels of a landscape photo: smooth light, soft shapes, texture and sensor noise."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    rng = random.Random(seed)
    width = round(math.sqrt(megapixels * 1_000_000 * aspect) / 16) * 16
    height = round(width / aspect / 16) * 16
    size = (width, height)

    # Smooth light falloff: three gradients at different angles as the colour channels.
    gradient = Image.linear_gradient("L")
    channels = [
        gradient.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False) for angle in (20, 75, 140)
    ]
    light = Image.merge("RGB", channels).filter(ImageFilter.GaussianBlur(12))

    # Objects: coloured shapes drawn small then blurred, like out-of-focus and in-focus subjects.
    small = (width // 8, height // 8)
    shapes = Image.new("RGB", small, (110, 120, 100))
    draw = ImageDraw.Draw(shapes)
    for _ in range(900):
        x, y = rng.randrange(small[0]), rng.randrange(small[1])
        radius = rng.randrange(2, max(3, small[0] // rng.choice((8, 20, 60))))
        colour = tuple(rng.randrange(20, 236) for _ in range(3))
        box = (x - radius, y - rng.randrange(2, radius + 3), x + radius, y + radius)
        (draw.ellipse if rng.random() < 0.6 else draw.rectangle)(box, fill=colour)
    shapes = shapes.filter(ImageFilter.GaussianBlur(1.2))
    scene = Image.blend(light.resize(small, Image.Resampling.BILINEAR), shapes, 0.7)

    # Fine texture (foliage, fabric) at quarter scale, then everything upsampled to sensor size.
    texture = Image.effect_noise((width // 4, height // 4), 64).filter(ImageFilter.GaussianBlur(0.8))
    scene = scene.resize(texture.size, Image.Resampling.BICUBIC)
    scene = ImageChops.add(scene, Image.merge("RGB", (texture,) * 3), 1.0, -128)
    photo = scene.resize(size, Image.Resampling.BICUBIC)
    del scene, texture

    # Sensor noise: luminance grain on every pixel.
    grain = Image.effect_noise(size, 6.4)
    return ImageChops.add(photo, Image.merge("RGB", (grain,) * 3), 1.0, -128)


# What each kind of source is: how it is made, its file extension, how its header line names it.
SOURCES = {
    "jpeg": (camera_jpeg, "jpg", f"JPEG q{SOURCE_QUALITY}, orientation 6"),
    "heic": (camera_heic, "heic", f"HEIC (x265 q{HEIC_QUALITY}, preset {HEIC_PRESET}), upright"),
    "cmyk": (camera_cmyk_jpeg, "jpg", f"CMYK JPEG q{SOURCE_QUALITY} (Adobe, no ICC profile), orientation 6"),
}


def open_any(data: bytes):
    """Pillow's view of a source, HEIC included (pillow-heif's opener, registered in this process only)."""
    from PIL import Image

    if data[4:8] == b"ftyp":
        import pillow_heif

        pillow_heif.register_heif_opener()
    return Image.open(io.BytesIO(data))


# ---------------------------------------------------------------- pipelines (run in child processes)
#
# Each returns {(long edge, format): encoded bytes}.


def pipeline_ours(data: bytes) -> dict:
    from photos.imaging import process_image

    processed = process_image(data, jpeg_quality=JPEG_QUALITY, webp_quality=WEBP_QUALITY)
    return {(max(r.width, r.height), r.format): r.data for r in processed.renditions}


def pipeline_ours_avif(data: bytes) -> dict:
    from photos.imaging import process_image

    processed = process_image(
        data, formats=("jpeg", "webp", "avif"), jpeg_quality=JPEG_QUALITY, webp_quality=WEBP_QUALITY
    )
    return {(max(r.width, r.height), r.format): r.data for r in processed.renditions}


def _vips_edges(data: bytes) -> list[int]:
    """The long edges of the set, largest first: the same rule as ours (``rendition_specs``)."""
    import pyvips

    from photos.imaging import rendition_specs

    header = pyvips.Image.new_from_buffer(data, "", access="sequential", autorotate=True)
    return [spec.long_edge for spec in reversed(rendition_specs(header.width, header.height))]


def _vips_encode(image, edge: int, made: dict) -> None:
    from photos.imaging import WEBP_METHOD

    made[(edge, "jpeg")] = image.jpegsave_buffer(Q=JPEG_QUALITY, keep="none")
    made[(edge, "webp")] = image.webpsave_buffer(Q=WEBP_QUALITY, effort=WEBP_METHOD, keep="none")


def pipeline_vips(data: bytes) -> dict:
    """libvips: one auto-rotating shrink-on-load decode to the largest size, each smaller from the last."""
    import pyvips

    made: dict = {}
    edges = _vips_edges(data)
    # copy_memory: libvips is lazy, so without it each save would decode and resize all over again.
    image = pyvips.Image.thumbnail_buffer(data, edges[0], height=edges[0], size="down").copy_memory()
    for edge in edges:
        if max(image.width, image.height) != edge:
            image = image.thumbnail_image(edge, height=edge, size="down").copy_memory()
        _vips_encode(image, edge, made)
    return made


def pipeline_vips_each(data: bytes) -> dict:
    """libvips: one shrink-on-load decode per size (smaller sizes decode at 1/4 or 1/8 scale)."""
    import pyvips

    made: dict = {}
    for edge in _vips_edges(data):
        image = pyvips.Image.thumbnail_buffer(data, edge, height=edge, size="down").copy_memory()
        _vips_encode(image, edge, made)
    return made


PIPELINES = {
    "ours": pipeline_ours,
    "vips": pipeline_vips,
    "vips-each": pipeline_vips_each,
    "ours+avif": pipeline_ours_avif,
}


def _child_setup() -> None:
    sys.path.insert(0, str(PROJECT_ROOT))
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _status_mb(field_name: str) -> float:
    """A /proc/self/status figure in MB (VmHWM, not ru_maxrss: Linux carries the parent's peak into
    ru_maxrss across fork+exec)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith(field_name))) / 1024


def child_time(source: Path, output: Path, pipelines: list[str], repeat: int) -> None:
    """Time the pipelines interleaved, one core; write each pipeline's renditions and the timings."""
    _child_setup()
    data = source.read_bytes()
    runs = {name: PIPELINES[name] for name in pipelines}
    made, refused = {}, {}
    for name, run in list(runs.items()):  # warm-up: imports and codec set-up
        try:
            made[name] = run(data)
        except Exception as error:  # whatever a library raises for a file it cannot read
            refused[name] = _reason(error)
            del runs[name]
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for round_number in range(repeat if runs else 0):  # none left when no pipeline could read it
        names = list(runs)
        names = names[round_number % len(names) :] + names[: round_number % len(names)]  # rotate the order
        for name in names:
            started, started_cpu = time.perf_counter(), time.process_time()
            made[name] = runs[name](data)
            wall[name].append((time.perf_counter() - started) * 1000)
            cpu[name].append((time.process_time() - started_cpu) * 1000)
    placeholder_ms = _placeholder_cost(made["ours"], repeat) if "ours" in made else []
    for name, renditions in made.items():
        for (edge, format_name), encoded in renditions.items():
            (output / f"{name}_{edge}.{format_name}").write_bytes(encoded)
    print(json.dumps({"wall": wall, "cpu": cpu, "placeholder_ms": placeholder_ms, "refused": refused}))


def _reason(error: Exception) -> str:
    """One line: the exception's type and message; of libvips' error log (pyvips puts it in the message)
    the first line and the last two, where the cause is."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) > 3:
        lines = [lines[0], "...", *lines[-2:]]
    return f"{type(error).__name__}: {' / '.join(lines)}"


def _placeholder_cost(renditions: dict, repeat: int) -> list[float]:
    """What the ThumbHash and dominant colour add: ``placeholders`` on the smallest rendition's pixels, as
    ``process_image`` calls it (decoded here from the JPEG; the pipeline has them before encoding)."""
    from PIL import Image

    from photos.imaging import placeholders

    smallest = min(renditions)
    image = Image.open(io.BytesIO(renditions[smallest]))
    image.load()
    timings = []  # CPU time: a few ms, which a busy machine's scheduling would swamp in wall time
    for _ in range(max(repeat, 20)):
        started = time.process_time()
        placeholders(image)
        timings.append((time.process_time() - started) * 1000)
    return timings


def child_rss(pipeline: str, source: Path, *, with_app: bool = False) -> None:
    """Peak RSS of one pipeline in this fresh process: imports, then the photo twice (a warm function).

    ``with_app``: Django set up and the app's URLs imported first (every view and service, as a warm
    Lambda has them), so the peak is the function's, not the pipeline's alone.
    """
    _child_setup()
    data = source.read_bytes()
    run = PIPELINES[pipeline]
    if with_app:
        os.environ.update(
            {"DJANGO_SETTINGS_MODULE": "gallery_project.settings", "GALLERY_ENV_FILE": ""},
        )
        os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")
        import django

        django.setup()
        import gallery_project.urls  # noqa: F401
    if pipeline.startswith("vips"):
        import pyvips  # noqa: F401
    else:
        import photos.imaging  # noqa: F401
    before = _status_mb("VmRSS:")
    run(data)
    run(data)
    print(json.dumps({"before_mb": before, "peak_mb": _status_mb("VmHWM:")}))


def run_child(arguments: list[str]) -> dict:
    environment = {**os.environ, "VIPS_CONCURRENCY": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, __file__, "--child", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    if result.returncode != 0:
        raise RuntimeError(f"{arguments} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- quality


def psnr(candidate, reference) -> float:
    from PIL import Image, ImageChops, ImageStat

    candidate = (
        Image.open(io.BytesIO(candidate)).convert("RGB") if isinstance(candidate, bytes) else candidate
    )
    if candidate.size != reference.size:
        raise ValueError(f"size {candidate.size} differs from reference {reference.size}")
    squared = ImageStat.Stat(ImageChops.difference(candidate, reference)).sum2
    mse = sum(squared) / (3 * candidate.width * candidate.height)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def full_resolution_reference(data: bytes, size: tuple[int, int]):
    """Full decode, upright, in RGB, one Lanczos pass straight to `size`: the best Pillow can do. For a CMYK
    file, Pillow's RGB is the plain inverse of how it was made from the RGB photo (no profile in it)."""
    from PIL import Image, ImageOps

    upright = ImageOps.exif_transpose(open_any(data)).convert("RGB")
    return upright.resize(size, Image.Resampling.LANCZOS)


# ---------------------------------------------------------------- main


def vips_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import pyvips"], capture_output=True, check=False)
    return probe.returncode == 0


def spread(values: list[float]) -> str:
    """Median and the range of the middle half (the quartiles), in ms."""
    quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return f"{statistics.median(values):7.0f} ({quartiles[0]:.0f}-{quartiles[2]:.0f})"


def bench_size(kind: str, megapixels: int, repeat: int, workdir: Path, pipelines: list[str]) -> dict:
    from PIL import Image

    make, extension, description = SOURCES[kind]
    started = time.perf_counter()
    data = make(megapixels)
    source = workdir / f"camera_{kind}_{megapixels}mp.{extension}"
    source.write_bytes(data)
    with open_any(data) as image:
        width, height = image.size
    print(
        f"\n{megapixels} MP {kind} source: {width}x{height}, {description}, {len(data) / 1e6:.1f} MB "
        f"(made in {time.perf_counter() - started:.1f} s)"
    )
    output = workdir / f"out_{kind}_{megapixels}"
    output.mkdir()
    timed = run_child(["time", str(source), str(output), ",".join(pipelines), "--repeat", str(repeat)])
    results: dict = {"placeholder_ms": timed["placeholder_ms"], "pipelines": {}, "refused": timed["refused"]}
    reference = None
    for name in [name for name in pipelines if name not in timed["refused"]]:
        files = {
            (int(path.stem.split("_")[-1]), path.suffix[1:]): path.stat().st_size
            for path in output.glob(f"{name}_*")
        }
        jpeg = (output / f"{name}_{PSNR_EDGE}.jpeg").read_bytes()
        if reference is None:
            reference = full_resolution_reference(data, Image.open(io.BytesIO(jpeg)).size)
        measured = {
            "wall": timed["wall"][name],
            "cpu": timed["cpu"][name],
            "bytes": files,
            "psnr": psnr(jpeg, reference),
            **run_child(["rss", name, str(source)]),
        }
        if name == "ours" and megapixels in (BIG_SIZE_MP, HEIC_BIG_SIZE_MP):
            with_app = run_child(["rss-app", name, str(source)])
            measured["app_before_mb"], measured["app_peak_mb"] = with_app["before_mb"], with_app["peak_mb"]
        if name == "ours+avif":
            avif = Image.open(output / f"{name}_{PSNR_EDGE}.avif").convert("RGB")
            webp = Image.open(output / f"{name}_{PSNR_EDGE}.webp").convert("RGB")
            measured["psnr_avif"], measured["psnr_webp"] = psnr(avif, reference), psnr(webp, reference)
        results["pipelines"][name] = measured
    report_size(results, pipelines)
    return results


def report_size(results: dict, pipelines: list[str]) -> None:
    measured = results["pipelines"]
    for name, reason in results["refused"].items():
        print(f"  {name}: cannot make renditions of this file: {reason}")
    if not measured:
        return
    print(
        f"  {'pipeline':<10} {'wall ms (IQR)':>19} {'CPU ms (IQR)':>19} {'peak RSS MB':>12} {'at rest':>8} "
        f"{'PSNR ' + str(PSNR_EDGE) + ' jpg':>14} {'set KB':>8}  sizes"
    )
    for name in [name for name in pipelines if name in measured]:
        m = measured[name]
        edges = sorted({edge for edge, _ in m["bytes"]})
        total = sum(m["bytes"].values()) / 1024
        print(
            f"  {name:<10} {spread(m['wall']):>19} {spread(m['cpu']):>19} {m['peak_mb']:12.1f} "
            f"{m['before_mb']:8.1f} {m['psnr']:11.2f} dB {total:8.0f}  {'/'.join(map(str, edges))}"
        )
        if "app_peak_mb" in m:
            print(
                f"  {name:<10} with the app loaded (Django, every view and service, as a warm Lambda): "
                f"peak RSS {m['app_peak_mb']:.1f} MB, {m['app_before_mb']:.1f} MB at rest"
            )
    if "ours" not in measured:
        return
    ours = measured["ours"]
    for name in ("vips", "vips-each"):
        if name in measured:
            other = measured[name]
            pairs = [a / b for a, b in zip(ours["wall"], other["wall"], strict=True)]
            wall = statistics.median(ours["wall"]) / statistics.median(other["wall"])
            cpu = statistics.median(ours["cpu"]) / statistics.median(other["cpu"])
            print(
                f"  ours / {name:<9} wall {wall:.2f} (round by round: median {statistics.median(pairs):.2f}, "
                f"{min(pairs):.2f}-{max(pairs):.2f}); CPU {cpu:.2f}"
            )
    placeholder = results["placeholder_ms"]
    print(
        f"  placeholders (ThumbHash + dominant colour, from the smallest rendition): "
        f"{statistics.median(placeholder):.1f} CPU ms median ({min(placeholder):.1f}-{max(placeholder):.1f})"
    )
    if "ours+avif" in measured:
        avif = measured["ours+avif"]
        added = statistics.median(avif["wall"]) - statistics.median(ours["wall"])
        added_cpu = statistics.median(avif["cpu"]) - statistics.median(ours["cpu"])
        avif_bytes = sum(size for (_, kind), size in avif["bytes"].items() if kind == "avif")
        webp_bytes = sum(size for (_, kind), size in avif["bytes"].items() if kind == "webp")
        print(
            f"  AVIF twins add {added:.0f} ms a photo (CPU {added_cpu:.0f} ms, "
            f"{added_cpu / statistics.median(ours['cpu']):.0%} more) and "
            f"{avif_bytes / 1024:.0f} KB against WebP's {webp_bytes / 1024:.0f} KB "
            f"({avif_bytes / webp_bytes:.0%}); {PSNR_EDGE} px PSNR AVIF {avif['psnr_avif']:.2f} dB, "
            f"WebP {avif['psnr_webp']:.2f} dB"
        )


def avif_sweep(workdir: Path) -> None:
    """AVIF quality and speed against WebP q80 on the 1600 px rendition of a 24 MP photo: ms, bytes, PSNR."""
    from PIL import Image, ImageOps

    from photos.imaging import WEBP_METHOD

    data = camera_jpeg(24)
    decoded = Image.open(io.BytesIO(data))
    decoded.draft("RGB", (PSNR_EDGE, PSNR_EDGE))
    upright = ImageOps.exif_transpose(decoded)
    image = upright.resize(
        (PSNR_EDGE * upright.width // upright.height, PSNR_EDGE), Image.Resampling.LANCZOS
    )  # the pixels the encoders get (a 3:2 photo, upright)
    reference = full_resolution_reference(data, image.size)
    print(f"\nAVIF sweep on a {image.width}x{image.height} rendition (one thread), against WebP:")

    def encode(format_name: str, **options) -> tuple[float, int, float]:
        timings = []
        for _ in range(3):
            out = io.BytesIO()
            started = time.perf_counter()
            image.save(out, format_name, **options)
            timings.append((time.perf_counter() - started) * 1000)
        decoded = Image.open(io.BytesIO(out.getvalue())).convert("RGB")
        return statistics.median(timings), len(out.getvalue()), psnr(decoded, reference)

    ms, size, quality = encode("WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    print(
        f"  {f'WebP q{WEBP_QUALITY} m{WEBP_METHOD}':<17} {ms:6.0f} ms {size / 1024:6.0f} KB {quality:6.2f} dB"
    )
    ms, size, quality = encode("JPEG", quality=JPEG_QUALITY)
    print(f"  {f'JPEG q{JPEG_QUALITY}':<17} {ms:6.0f} ms {size / 1024:6.0f} KB {quality:6.2f} dB")
    for speed in (6, 8, 9, 10):
        for avif_quality in (50, 60, 65, 67, 70):
            ms, size, quality = encode("AVIF", quality=avif_quality, speed=speed, max_threads=1)
            label = f"AVIF q{avif_quality} speed {speed}"
            print(f"  {label:<17} {ms:6.0f} ms {size / 1024:6.0f} KB {quality:6.2f} dB")


def verdict(label: str, passed: bool) -> bool:
    print(f"{'PASS' if passed else 'FAIL'}: {label}")
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="12,24,45", help="JPEG sizes in megapixels, comma separated")
    parser.add_argument("--heic-sizes", default="12,45", help="HEIC sizes in megapixels ('' for none)")
    parser.add_argument("--cmyk-sizes", default="24", help="CMYK JPEG sizes in megapixels ('' for none)")
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds (after one warm-up)")
    parser.add_argument("--no-avif", action="store_true", help="leave out the AVIF twins' pipeline")
    parser.add_argument("--avif-sweep", action="store_true", help="also sweep AVIF quality and speed")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "time":
            source, output, pipelines = rest
            child_time(Path(source), Path(output), pipelines.split(","), args.repeat)
        else:
            pipeline, source = rest
            child_rss(pipeline, Path(source), with_app=kind == "rss-app")
        return 0

    sys.path.insert(0, str(PROJECT_ROOT))
    cases = [
        (kind, int(size))
        for kind, sizes in (("jpeg", args.sizes), ("heic", args.heic_sizes), ("cmyk", args.cmyk_sizes))
        for size in sizes.split(",")
        if size.strip()
    ]
    pipelines = ["ours"]
    if vips_available():
        pipelines += ["vips", "vips-each"]
    else:
        print("pyvips: not importable here (pip install -r requirements-bench.txt); no libvips pipeline")
    jpeg_pipelines = pipelines if args.no_avif else [*pipelines, "ours+avif"]
    import photos.imaging

    print(f"photos.imaging from {photos.imaging.__file__}")
    print(
        f"single-threaded, one core (VIPS_CONCURRENCY=1): a 512 MB Lambda has ~0.3 vCPU; median of "
        f"{args.repeat} interleaved rounds after a warm-up (IQR in brackets); PSNR vs full-res Lanczos"
    )

    all_results: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-imaging-") as workdir:
        for kind, megapixels in cases:
            chosen = jpeg_pipelines if kind == "jpeg" else pipelines
            all_results[kind, megapixels] = bench_size(kind, megapixels, args.repeat, Path(workdir), chosen)
        if args.avif_sweep:
            avif_sweep(Path(workdir))

    print()
    passed = True
    if ("jpeg", FLOOR_SIZE_MP) in all_results:
        measured = all_results["jpeg", FLOOR_SIZE_MP]["pipelines"]
        ours = measured["ours"]
        label = f"{FLOOR_SIZE_MP} MP"
        vips_names = [name for name in ("vips", "vips-each") if name in measured]
        if vips_names:
            fastest = min(vips_names, key=lambda name: statistics.median(measured[name]["wall"]))
            vips = measured[fastest]
            ratio = statistics.median(ours["wall"]) / statistics.median(vips["wall"])
            passed &= verdict(
                f"{label} ours / {fastest} (the faster libvips) {ratio:.2f} <= {FLOOR_RATIO}",
                ratio <= FLOOR_RATIO,
            )
            floor = vips["psnr"] - FLOOR_PSNR_MARGIN_DB
            passed &= verdict(
                f"{label} PSNR {ours['psnr']:.2f} dB >= {fastest} - {FLOOR_PSNR_MARGIN_DB} = {floor:.2f} dB",
                ours["psnr"] >= floor,
            )
        passed &= verdict(
            f"{label} peak RSS {ours['peak_mb']:.1f} MB < {FLOOR_RSS_MB} MB", ours["peak_mb"] < FLOOR_RSS_MB
        )
    if ("jpeg", BIG_SIZE_MP) in all_results:
        measured = all_results["jpeg", BIG_SIZE_MP]["pipelines"]
        for name in ("ours", "ours+avif"):
            if name in measured:
                peak = measured[name]["peak_mb"]
                passed &= verdict(
                    f"{BIG_SIZE_MP} MP {name} peak RSS {peak:.1f} MB < a {LAMBDA_MEMORY_MB} MB Lambda",
                    peak < BIG_RSS_MB,
                )
        if "app_peak_mb" in measured.get("ours", {}):
            peak = measured["ours"]["app_peak_mb"]
            passed &= verdict(
                f"{BIG_SIZE_MP} MP ours with the app loaded: peak RSS {peak:.1f} MB "
                f"< a {LAMBDA_MEMORY_MB} MB Lambda",
                peak < BIG_RSS_MB,
            )
    if ("heic", HEIC_BIG_SIZE_MP) in all_results:
        results = all_results["heic", HEIC_BIG_SIZE_MP]
        label = f"{HEIC_BIG_SIZE_MP} MP HEIC ours"
        if "ours" in results["pipelines"]:
            ours = results["pipelines"]["ours"]
            for peak, where in ((ours["peak_mb"], "alone"), (ours["app_peak_mb"], "with the app loaded")):
                passed &= verdict(
                    f"{label} {where}: peak RSS {peak:.1f} MB (a fresh process) < a {LAMBDA_MEMORY_MB} MB "
                    "Lambda",
                    peak < BIG_RSS_MB,
                )
        else:
            passed &= verdict(f"{label}: not measured, {results['refused'].get('ours')}", False)
    for (kind, megapixels), results in all_results.items():
        if kind == "cmyk" and "ours" in results["pipelines"]:
            ours = results["pipelines"]["ours"]
            passed &= verdict(
                f"{megapixels} MP CMYK ours colours: PSNR {ours['psnr']:.2f} dB against the RGB photo "
                f">= {CMYK_MIN_PSNR_DB} dB (a negative would be far below)",
                ours["psnr"] >= CMYK_MIN_PSNR_DB,
            )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
