"""Rendition pipeline benchmark; run `.venv/bin/python bench/imaging.py [--sizes 12,24,45] [--repeat N]`."""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
JPEG_QUALITY = 85
WEBP_QUALITY = 80
SOURCE_QUALITY = 90
RENDITION_EDGES = {"thumb": 400, "web": 1600}
FLOOR_SIZE_MP = 24
FLOOR_SPEEDUP = 2.2
FLOOR_PSNR_MARGIN_DB = 0.3
FLOOR_RSS_MB = 100
BIG_SIZE_MP = 45
BIG_RSS_MB = 512


# ---------------------------------------------------------------- synthetic camera photos


def camera_jpeg(megapixels: int, seed: int = 1) -> bytes:
    """A 3:2 JPEG with smooth light, soft shapes, texture and sensor noise, stored sideways (EXIF 6)."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    rng = random.Random(seed)
    width = round(math.sqrt(megapixels * 1_000_000 * 1.5) / 16) * 16
    height = round(width * 2 / 3 / 16) * 16
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
    photo = ImageChops.add(photo, Image.merge("RGB", (grain,) * 3), 1.0, -128)
    del grain

    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "BenchCam"
    exif[0x0110] = f"Synthetic {megapixels} MP"
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=SOURCE_QUALITY, exif=exif.tobytes())
    return out.getvalue()


# ---------------------------------------------------------------- pipelines (run in child processes)


def pipeline_ours(data: bytes) -> bytes:
    from photos.imaging import process_image

    processed = process_image(data)
    return next(r.data for r in processed.renditions if r.name == "web" and r.format == "jpeg")


def pipeline_naive(data: bytes) -> bytes:
    """Straightforward Pillow: full decode per rendition, same encoder settings as photos.imaging."""
    from PIL import Image, ImageOps

    from photos.imaging import WEBP_METHOD

    web = b""
    for name, edge in RENDITION_EDGES.items():
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
        image.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        jpeg, webp = io.BytesIO(), io.BytesIO()
        image.save(jpeg, "JPEG", quality=JPEG_QUALITY)
        image.save(webp, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
        if name == "web":
            web = jpeg.getvalue()
    return web


def pipeline_vips(data: bytes) -> bytes:
    """libvips: one auto-rotating shrink-on-load decode for the web size, the thumbnail made from it."""
    import pyvips

    from photos.imaging import WEBP_METHOD

    web = pyvips.Image.thumbnail_buffer(data, RENDITION_EDGES["web"], height=RENDITION_EDGES["web"])
    thumb = web.thumbnail_image(RENDITION_EDGES["thumb"], height=RENDITION_EDGES["thumb"])
    web_jpeg = b""
    for image in (thumb, web):
        web_jpeg = image.jpegsave_buffer(Q=JPEG_QUALITY, interlace=True, keep="none")
        image.webpsave_buffer(Q=WEBP_QUALITY, effort=WEBP_METHOD, keep="none")
    return web_jpeg


PIPELINES = {"ours": pipeline_ours, "naive": pipeline_naive, "vips": pipeline_vips}


def child_main(pipeline: str, source: Path, output: Path, repeat: int) -> None:
    """Time one pipeline on one core and report ms per photo and this process's peak RSS as JSON."""
    sys.path.insert(0, str(PROJECT_ROOT))
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    run = PIPELINES[pipeline]
    data = source.read_bytes()
    web = run(data)  # warm-up: first-use imports and codec setup are not per-photo costs
    timings = []  # the best run is reported: other processes on a shared machine only ever add time
    for _ in range(repeat):
        started = time.perf_counter()
        web = run(data)
        timings.append((time.perf_counter() - started) * 1000)
    output.write_bytes(web)
    # VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across fork+exec.
    status = Path("/proc/self/status").read_text()
    peak_mb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024
    print(json.dumps({"ms": min(timings), "rss_mb": peak_mb}))


def run_child(pipeline: str, source: Path, output: Path, repeat: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        pipeline,
        str(source),
        str(output),
        "--repeat",
        str(repeat),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{pipeline} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- quality


def psnr(candidate_jpeg: bytes, reference) -> float:
    from PIL import Image, ImageChops, ImageStat

    candidate = Image.open(io.BytesIO(candidate_jpeg)).convert("RGB")
    if candidate.size != reference.size:
        raise ValueError(f"size {candidate.size} differs from reference {reference.size}")
    squared = ImageStat.Stat(ImageChops.difference(candidate, reference)).sum2
    mse = sum(squared) / (3 * candidate.width * candidate.height)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def full_resolution_reference(data: bytes, size: tuple[int, int]):
    """Full decode, upright, one Lanczos pass straight to `size`: the best Pillow can do."""
    from PIL import Image, ImageOps

    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    return upright.resize(size, Image.Resampling.LANCZOS)


# ---------------------------------------------------------------- main


def vips_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import pyvips"], capture_output=True, check=False)
    return probe.returncode == 0


def bench_size(megapixels: int, repeat: int, workdir: Path, pipelines: list[str]) -> dict:
    from PIL import Image

    started = time.perf_counter()
    data = camera_jpeg(megapixels)
    source = workdir / f"camera_{megapixels}mp.jpg"
    source.write_bytes(data)
    with Image.open(source) as image:
        width, height = image.size
    print(
        f"\n{megapixels} MP source: {width}x{height}, orientation 6, {len(data) / 1e6:.1f} MB, "
        f"{len(data) / (width * height):.2f} bytes/pixel at q{SOURCE_QUALITY} "
        f"(made in {time.perf_counter() - started:.1f} s)"
    )
    results = {}
    references = {}
    for pipeline in pipelines:
        output = workdir / f"{pipeline}_{megapixels}mp_web.jpg"
        measured = run_child(pipeline, source, output, repeat)
        web = output.read_bytes()
        size = Image.open(io.BytesIO(web)).size
        if size not in references:
            references[size] = full_resolution_reference(data, size)
        measured["psnr"] = psnr(web, references[size])
        measured["web_size"] = size
        results[pipeline] = measured
    naive_ms = results["naive"]["ms"]
    for pipeline, measured in results.items():
        print(
            f"  {pipeline:<6} {measured['ms']:8.1f} ms/photo  peak RSS {measured['rss_mb']:6.1f} MB  "
            f"web {measured['web_size'][0]}x{measured['web_size'][1]} PSNR {measured['psnr']:6.2f} dB  "
            f"speedup vs naive {naive_ms / measured['ms']:4.2f}x"
        )
    return results


def verdict(label: str, passed: bool) -> bool:
    print(f"{'PASS' if passed else 'FAIL'}: {label}")
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="12,24,45", help="megapixel sizes, comma separated")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per pipeline (after one warm-up)")
    parser.add_argument("--child", nargs=3, metavar=("PIPELINE", "SOURCE", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        pipeline, source, output = args.child
        child_main(pipeline, Path(source), Path(output), args.repeat)
        return 0

    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    pipelines = ["ours", "naive"]
    if vips_available():
        pipelines.append("vips")
    else:
        print("pyvips: not importable here, skipping the libvips pipeline")
    print(f"one core per pipeline, best of {args.repeat} runs after a warm-up; PSNR vs full-res Lanczos")

    all_results = {}
    with tempfile.TemporaryDirectory(prefix="bench-imaging-") as workdir:
        for megapixels in sizes:
            all_results[megapixels] = bench_size(megapixels, args.repeat, Path(workdir), pipelines)

    print()
    passed = True
    if FLOOR_SIZE_MP in all_results:
        ours, naive = all_results[FLOOR_SIZE_MP]["ours"], all_results[FLOOR_SIZE_MP]["naive"]
        speedup = naive["ms"] / ours["ms"]
        psnr_floor = naive["psnr"] - FLOOR_PSNR_MARGIN_DB
        label = f"{FLOOR_SIZE_MP} MP"
        passed &= verdict(f"{label} speedup {speedup:.2f}x >= {FLOOR_SPEEDUP}x", speedup >= FLOOR_SPEEDUP)
        passed &= verdict(
            f"{label} PSNR {ours['psnr']:.2f} dB >= naive - {FLOOR_PSNR_MARGIN_DB} = {psnr_floor:.2f} dB",
            ours["psnr"] >= psnr_floor,
        )
        passed &= verdict(
            f"{label} peak RSS {ours['rss_mb']:.1f} MB < {FLOOR_RSS_MB} MB", ours["rss_mb"] < FLOOR_RSS_MB
        )
    if BIG_SIZE_MP in all_results:
        peak = all_results[BIG_SIZE_MP]["ours"]["rss_mb"]
        passed &= verdict(f"{BIG_SIZE_MP} MP peak RSS {peak:.1f} MB < {BIG_RSS_MB} MB", peak < BIG_RSS_MB)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
