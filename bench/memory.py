"""Bounded memory: peak RSS of the prepare step next to the Lambda's memory; run
`.venv/bin/python bench/memory.py [--calibrate] [--budget-fraction 0.45] [--skip-slow]
[--small-function-only]`.

Each case runs in a fresh child process that configures Django and imports the app (its URLs, hence every
view and service) as a warm Lambda has, prepares a small JPEG and PNG to load the codecs, then prepares its
files through ``photos.prepare.photo_prepare``: a batch on a thread pool of PHOTO_PROCESSING_WORKERS, as
``photos.services.upload.photos_upload`` does, twice in the same process (a warm Lambda reuses it). The
child reports its peak RSS (VmHWM), its RSS before the case, and the most bytes the decode budget held.

Cases: the largest file of each kind the default budget accepts (searched from the rule), the files of the
issue (a 9,999 x 10,000 16-bit RGBA PNG; four 100 MP PNGs in one request), batches of files that each take
just under half the budget (two decode at once), and the four 100 MP PNGs with the budget off, for the
figure before it, and once more with glibc's malloc as it is without ``photos.imaging``'s allocator setting.
Then a 512 MB function (AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512, its default budget and reserve): a 45 MP HEIC
(over the shared budget: it decodes alone), alone and in a batch with two 12 MP JPEGs.
``--calibrate`` adds a table of the rule against measured peaks, mode by mode, with and without AVIF twins
(those rows call ``photos.imaging.process_image`` directly, with ``formats`` naming AVIF);
``--calibrate-only`` prints that table alone.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
# Besides decodes, a request holds its body and parsed files (API Gateway: 6 MB, base64), one file per
# worker while it is prepared (direct uploads: up to PHOTO_MAX_BYTES each) and the renditions of its
# batch (~0.5 MB a photo, 50 photos): counted with PHOTO_MAX_BYTES x workers when a fraction is proposed.
REQUEST_BYTES = 6 * MIB * 3 + 50 * MIB // 2
LAMBDA_HEADROOM = 0.10  # keep a tenth of the function's memory free: allocator slack, the runtime, logs


# ---------------------------------------------------------------- files (header-true, cheap to make)


def png_bytes(width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A real PNG of the given depth and colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA),
    its rows compressed one by one so a 100 MP file is made without holding its pixels."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    row_bytes = (width * channels * bit_depth + 7) // 8
    row = b"\0" + bytes((index * 37) & 0xFF for index in range(row_bytes))
    compressor = zlib.compressobj(6)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return _png(width, height, bit_depth, colour_type, idat)


def noise_png_bytes(width: int, height: int, seed: int = 0, every: int = 6) -> bytes:
    """An 8-bit RGB PNG whose every ``every``-th row is noise (zlib cannot shrink it) and the rest black:
    a file of about width x height x 3 / every bytes (8,000 x 8,000: ~32 MB)."""
    import random

    generator = random.Random(seed)
    compressor = zlib.compressobj(1)
    row_bytes = width * 3
    black = bytes(row_bytes)
    rows = (generator.randbytes(row_bytes) if y % every == 0 else black for y in range(height))
    idat = b"".join(compressor.compress(b"\0" + row) for row in rows) + compressor.flush()
    return _png(width, height, 8, 2, idat)


def png_header(width: int, height: int, bit_depth: int, colour_type: int) -> bytes:
    """A PNG whose header says width x height and whose pixels are missing: enough for the rule."""
    return _png(width, height, bit_depth, colour_type, zlib.compress(b"\0"))


def _png(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    palette = chunk(b"PLTE", bytes(range(256)) * 3) if colour_type == 3 else b""
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + palette + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def pillow_bytes(width: int, height: int, mode: str, format_name: str, **options) -> bytes:
    """A gradient in ``mode`` saved by Pillow (JPEG, WebP, TIFF)."""
    from PIL import Image

    grey = Image.linear_gradient("L").resize((width, height))
    image = (
        grey if mode == "L" else Image.merge("RGB", (grey, grey.transpose(Image.Transpose.ROTATE_180), grey))
    )
    if mode not in ("L", "RGB"):
        image = image.convert(mode)
    if mode == "RGBA":
        image.putalpha(grey)
    out = io.BytesIO()
    image.save(out, format_name, **options)
    return out.getvalue()


def noise_png(width: int, height: int, mode: str) -> bytes:
    """Noise (the hardest for libwebp's alpha coder) in ``mode``, EXIF orientation 6: the worst encode."""
    from PIL import Image

    bands = [Image.effect_noise((width, height), 60 + 10 * band) for band in range(len(mode))]
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    Image.merge(mode, bands).save(out, "PNG", exif=exif.tobytes())
    return out.getvalue()


def rule_bytes(data: bytes, formats: tuple[str, ...] | None = None) -> int:
    from photos import imaging

    options = {"formats": formats} if formats else {}
    return imaging.peak_bytes(imaging.decode_plan(data, max_pixels=None, **options))


def largest_png_within(budget: int, bit_depth: int, colour_type: int, max_pixels: int) -> tuple[int, int]:
    """The largest square PNG of this kind within ``budget`` by the rule and within ``max_pixels``
    (searched on headers: the rule never decodes)."""
    low, high = 16, 16_000
    while low < high:
        side = (low + high + 1) // 2
        fits = (
            side * side <= max_pixels and rule_bytes(png_header(side, side, bit_depth, colour_type)) <= budget
        )
        low, high = (side, high) if fits else (low, side - 1)
    return low, low


# ---------------------------------------------------------------- cases


@dataclass
class Case:
    label: str
    files: list[Path]
    env: dict[str, str] = field(default_factory=dict)
    rounds: int = 1
    mmap_threshold: int = 0  # set glibc's threshold back to this (its dynamic maximum: 32 MiB)
    formats: tuple[str, ...] = ()  # when set, process_image with these formats, outside photo_prepare
    measured: dict = field(default_factory=dict)


def child_main(spec_path: Path) -> None:
    """Prepare the case's files in this fresh process; print peak RSS and the budget's high-water mark."""
    spec = json.loads(spec_path.read_text())
    sys.path.insert(0, str(PROJECT_ROOT))
    os.environ.update(spec["env"])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gallery_project.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")
    os.environ["GALLERY_ENV_FILE"] = ""
    from concurrent.futures import ThreadPoolExecutor

    import django

    django.setup()
    from django.conf import settings

    import gallery_project.urls  # noqa: F401  (every view and service, as a warm function has them)
    from core.errors import DomainError
    from photos import prepare

    def outcome(file: tuple[str, bytes]) -> str:
        name, data = file
        if spec["formats"]:
            imaging = prepare.load_imaging()
            imaging.process_image(data, formats=tuple(spec["formats"]), max_pixels=settings.PHOTO_MAX_PIXELS)
            return "ok"
        incoming = prepare.IncomingPhoto(filename=name, size=len(data), read=lambda: data)
        try:
            prepare.photo_prepare(incoming)
        except DomainError as refused:
            return refused.code
        return "ok"

    if spec["mmap_threshold"]:  # undo photos.imaging's allocator setting, to show what it is for
        import ctypes

        prepare.load_imaging()
        ctypes.CDLL(None).mallopt(-3, spec["mmap_threshold"])  # M_MMAP_THRESHOLD
    for path in sorted(Path(spec["warm"]).iterdir()):
        assert outcome((path.name, path.read_bytes())) == "ok", path
    # The request's files are in memory before any is decoded (Django has parsed the body): "before"
    # counts them, so the peak above it is what decoding added.
    files = [(Path(path).name, Path(path).read_bytes()) for path in spec["files"]]
    before = _status("VmRSS")
    prepare.decode_budget.high_water = 0
    workers = max(1, min(settings.PHOTO_PROCESSING_WORKERS, len(files)))
    rounds = []
    started = time.perf_counter()
    for _ in range(spec["rounds"]):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(outcome, files))
        rounds.append({"rss": _status("VmRSS"), "hwm": _status("VmHWM")})
    print(
        json.dumps(
            {
                "before": before,
                "peak": _status("VmHWM"),
                "rounds": rounds,
                "outcomes": outcomes,
                "high_water": prepare.decode_budget.high_water,
                "budget": settings.PHOTO_DECODE_BUDGET_BYTES,
                "memory_mb": settings.FUNCTION_MEMORY_MB,
                "workers": workers,
                "seconds": time.perf_counter() - started,
            }
        )
    )


def _status(field_name: str) -> int:
    """A /proc/self/status figure in bytes (VmHWM, not ru_maxrss: Linux carries the parent's peak into
    ru_maxrss across fork+exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field_name)


def run_case(case: Case, workdir: Path) -> dict:
    spec = workdir / "case.json"
    spec.write_text(
        json.dumps(
            {
                "files": [str(path) for path in case.files],
                "env": case.env,
                "rounds": case.rounds,
                "warm": str(workdir / "warm"),
                "mmap_threshold": case.mmap_threshold,
                "formats": list(case.formats),
            }
        )
    )
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(spec)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{case.label} failed:\n{result.stderr}")
    case.measured = json.loads(result.stdout.strip().splitlines()[-1])
    return case.measured


def write(workdir: Path, name: str, data: bytes) -> Path:
    path = workdir / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--budget-fraction", type=float, help="PHOTO_DECODE_BUDGET_BYTES as a fraction of memory"
    )
    parser.add_argument(
        "--calibrate", action="store_true", help="also compare the rule with peaks, mode by mode"
    )
    parser.add_argument("--calibrate-only", action="store_true", help="the rule against peaks, nothing else")
    parser.add_argument(
        "--skip-slow", action="store_true", help="no WebP or progressive JPEG cases (~40 s less)"
    )
    parser.add_argument(
        "--small-function-only", action="store_true", help="only the 45 MP HEIC in a 512 MB function"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return 0

    sys.path.insert(0, str(PROJECT_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gallery_project.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")
    os.environ["GALLERY_ENV_FILE"] = ""
    import django

    django.setup()
    from django.conf import settings

    from photos import imaging

    if args.small_function_only:
        return 0 if small_function() else 1
    memory = settings.FUNCTION_MEMORY_MB * MIB
    env = {}
    budget = settings.PHOTO_DECODE_BUDGET_BYTES
    if args.budget_fraction:
        budget = int(memory * args.budget_fraction)
        env["PHOTO_DECODE_BUDGET_BYTES"] = str(budget)
    max_pixels = settings.PHOTO_MAX_PIXELS
    print(
        f"Lambda memory {settings.FUNCTION_MEMORY_MB} MiB; decode budget {budget / MIB:,.0f} MiB "
        f"({budget / memory:.0%}); PHOTO_MAX_PIXELS {max_pixels:,}; "
        f"workers {settings.PHOTO_PROCESSING_WORKERS}; Pillow {imaging.Image.__version__}"
    )

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        workdir = Path(tmp)
        warm = workdir / "warm"
        warm.mkdir()
        write(warm, "warm.jpg", pillow_bytes(640, 480, "RGB", "JPEG", quality=85))
        write(warm, "warm.png", png_bytes(300, 200, 8, 6))
        if args.calibrate_only:
            calibrate(workdir, env)
            return 0
        started = time.perf_counter()
        singles, batches = make_cases(
            workdir, budget, settings.PHOTO_DECODE_ALONE_BYTES, max_pixels, env, slow=not args.skip_slow
        )
        print(f"(files made in {time.perf_counter() - started:.0f} s)")

        if args.calibrate:
            calibrate(workdir, env)

        print("\nSingle files (one file per request):")
        for case in singles:
            report(case, run_case(case, workdir), memory)
        print(f"\nBatches (one request, {settings.PHOTO_PROCESSING_WORKERS} workers, each batch run twice):")
        for case in batches:
            report(case, run_case(case, workdir), memory)

    passed = verdicts(singles, batches, memory, budget, settings) == 0
    return 0 if small_function() and passed else 1


SMALL_FUNCTION_MB = 512


def small_function() -> bool:
    """A 45 MP HEIC in a 512 MB function, through photo_prepare with that function's default budget (45%)
    and what may decode alone (memory less PHOTO_DECODE_RESERVE_BYTES): PASS when it is accepted and the
    process peaks inside the function's memory, alone and beside two 12 MP JPEGs."""
    from bench.imaging import camera_heic, camera_jpeg

    memory = SMALL_FUNCTION_MB * MIB
    env = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(SMALL_FUNCTION_MB)}
    print(f"\nIn a {SMALL_FUNCTION_MB} MB function (its default budget and reserve):")
    passed = True
    with tempfile.TemporaryDirectory(prefix="bench-memory-small-") as tmp:
        workdir = Path(tmp)
        warm = workdir / "warm"
        warm.mkdir()
        write(warm, "warm.jpg", pillow_bytes(640, 480, "RGB", "JPEG", quality=85))
        heic = write(workdir, "camera45.heic", camera_heic(45))
        jpegs = [write(workdir, f"camera12_{n}.jpg", camera_jpeg(12, seed=n + 2)) for n in range(2)]
        # Two large files whose decodes run alone, each fitting alone with its own file (64 MP: 340 MiB by the
        # rule, a ~32 MB file) but not beside the other's: one decodes, the other is busy (503, try again),
        # and neither pushes the function over.
        noisy = [write(workdir, f"noisy_{n}.png", noise_png_bytes(8000, 8000, seed=n)) for n in range(2)]
        cases = [
            Case("45 MP HEIC, one file", [heic], env, rounds=2),
            Case("45 MP HEIC and two 12 MP JPEGs, one request (2 workers)", [heic, *jpegs],
                 {**env, "PHOTO_PROCESSING_WORKERS": "2"}, rounds=2),
            Case("two 64 MP PNGs of ~32 MB, one request (2 workers)", noisy,
                 {**env, "PHOTO_PROCESSING_WORKERS": "2"}),
        ]  # fmt: skip
        before = Case("before: the same HEIC, nothing decodes alone", [heic],
                      {**env, "PHOTO_DECODE_ALONE_BYTES": "0"})  # fmt: skip
        print(f"  {before.label}: {', '.join(run_case(before, workdir)['outcomes'])}")
        for case in cases:
            measured = run_case(case, workdir)
            report(case, measured, memory)
            peak, accepted = measured["peak"], measured["outcomes"].count("ok")
            # The two large files do not both fit: busy (503, try again) is right, a kill is not.
            enough = accepted >= (1 if case is cases[-1] else len(case.files))
            inside = peak < memory and enough
            passed &= inside
            print(
                f"{'PASS' if inside else 'FAIL'}: {case.label}: {accepted}/{len(case.files)} accepted, "
                f"peak {peak / MIB:,.0f} MiB < {SMALL_FUNCTION_MB} MiB, {(memory - peak) / MIB:,.0f} MiB "
                f"to spare (shared budget {measured['budget'] / MIB:,.0f} MiB, the decode alone held "
                f"{measured['high_water'] / MIB:,.0f} MiB)"
            )
    return passed


def make_cases(workdir: Path, budget: int, alone: int, max_pixels: int, env: dict, *, slow: bool):
    """The files of each case: the largest accepted per kind, the issue's files, and half-budget batches."""
    singles: list[Case] = []
    batches: list[Case] = []

    issue_png = write(workdir, "issue_rgba16.png", png_bytes(9_999, 10_000, 16, 6))
    singles.append(Case("issue: 9,999 x 10,000 16-bit RGBA PNG", [issue_png], env))
    for label, depth, colour in (
        ("16-bit RGBA PNG", 16, 6),
        ("8-bit RGB PNG", 8, 2),
        ("16-bit grey PNG", 16, 0),
    ):
        width, height = largest_png_within(budget, depth, colour, max_pixels)
        path = write(workdir, f"largest_{depth}_{colour}.png", png_bytes(width, height, depth, colour))
        singles.append(Case(f"largest {label}: {width:,} x {height:,}", [path], env))
    # Over the shared budget, a file decodes alone up to PHOTO_DECODE_ALONE_BYTES: the largest such one.
    width, height = largest_png_within(alone, 16, 6, max_pixels)
    path = write(workdir, "largest_alone_16_6.png", png_bytes(width, height, 16, 6))
    singles.append(Case(f"largest 16-bit RGBA PNG decoding alone: {width:,} x {height:,}", [path], env))
    if slow:
        # WebP holds ~16 bytes per pixel (libwebp's canvases): the largest 3:2 one within the budget.
        side = int((budget / 16.5 / 1.5) ** 0.5)
        while (
            rule_bytes(data := pillow_bytes(side * 3 // 2, side, "RGB", "WEBP", quality=50, method=0))
            > budget
        ):
            side = side * 49 // 50
        webp = write(workdir, "largest.webp", data)
        singles.append(Case(f"largest WebP: {side * 3 // 2:,} x {side:,}", [webp], env))
        # Decoding alone, WebP holds the most a pixel (its canvases): the largest within PHOTO_MAX_PIXELS.
        side = int(max_pixels**0.5)
        alone_webp = pillow_bytes(side, side, "RGB", "WEBP", quality=50, method=0)
        if rule_bytes(alone_webp) + len(alone_webp) <= alone:
            webp = write(workdir, "alone.webp", alone_webp)
            singles.append(Case(f"WebP decoding alone: {side:,} x {side:,}", [webp], env))
        side = int(max_pixels**0.5)
        jpeg = write(
            workdir,
            "progressive.jpg",
            pillow_bytes(side, side, "RGB", "JPEG", quality=80, progressive=True, subsampling=0),
        )
        singles.append(Case(f"progressive 4:4:4 JPEG: {side:,} x {side:,}", [jpeg], env))

    side = int(max_pixels**0.5)
    hundred = [write(workdir, f"rgb100_{n}.png", png_bytes(side, side, 8, 2)) for n in range(4)]
    batches.append(Case(f"issue: four {side:,} x {side:,} RGB PNGs", hundred, env, rounds=2))
    batches.append(
        Case(
            "the same, budget off (before)",
            hundred,
            {**env, "PHOTO_DECODE_BUDGET_BYTES": str(10**13)},
            rounds=2,
        )
    )
    batches.append(
        Case(
            "the same, budget on, glibc's grown threshold (without photos.imaging's allocator setting)",
            hundred,
            env,
            rounds=2,
            mmap_threshold=32 * MIB,
        )
    )
    for label, depth, colour in (("16-bit RGBA PNGs", 16, 6), ("16-bit grey PNGs", 16, 0)):
        width, height = largest_png_within(budget // 2, depth, colour, max_pixels)
        data = png_bytes(width, height, depth, colour)
        files = [write(workdir, f"half_{depth}_{colour}_{n}.png", data) for n in range(4)]
        batches.append(Case(f"four {label} of half the budget: {width:,} x {height:,}", files, env, rounds=2))
    return singles, batches


def calibrate(workdir: Path, env: dict) -> None:
    """The rule against measured peaks (minus the RSS before the file), mode by mode."""
    print("\nThe rule against measured peaks (one file, one worker):")
    print(f"  {'file':<50} {'rule MiB':>9} {'peak-before MiB':>16}")
    files = [
        ("L PNG 5000x5000", png_bytes(5000, 5000, 8, 0)),
        ("1-bit PNG 5000x5000", png_bytes(5000, 5000, 1, 0)),
        ("P PNG 5000x5000", png_bytes(5000, 5000, 8, 3)),
        ("RGB PNG 5000x5000", png_bytes(5000, 5000, 8, 2)),
        ("16-bit RGB PNG 5000x5000", png_bytes(5000, 5000, 16, 2)),
        ("LA PNG 5000x5000", png_bytes(5000, 5000, 8, 4)),
        ("RGBA PNG 5000x5000", png_bytes(5000, 5000, 8, 6)),
        ("16-bit RGBA PNG 5000x5000", png_bytes(5000, 5000, 16, 6)),
        ("I;16 PNG 5000x5000", png_bytes(5000, 5000, 16, 0)),
        ("RGBA PNG 2560x2560", png_bytes(2560, 2560, 8, 6)),
        ("RGB PNG 1200x800", png_bytes(1200, 800, 8, 2)),
        ("noise L, turned (EXIF 6), PNG 2560x2560", noise_png(2560, 2560, "L")),
        ("noise RGB, turned (EXIF 6), PNG 2560x2560", noise_png(2560, 2560, "RGB")),
        ("noise RGBA, turned (EXIF 6), PNG 2560x2560", noise_png(2560, 2560, "RGBA")),
        ("L JPEG 6000x4000", pillow_bytes(6000, 4000, "L", "JPEG", quality=90)),
        ("RGB JPEG 6000x4000", pillow_bytes(6000, 4000, "RGB", "JPEG", quality=90)),
        (
            "progressive RGB JPEG 6000x4000",
            pillow_bytes(6000, 4000, "RGB", "JPEG", quality=90, progressive=True),
        ),
        ("CMYK JPEG 6000x4000", pillow_bytes(6000, 4000, "CMYK", "JPEG", quality=90)),
        ("RGB LZW TIFF 6000x4000", pillow_bytes(6000, 4000, "RGB", "TIFF", compression="tiff_lzw")),
        ("CMYK LZW TIFF 6000x4000", pillow_bytes(6000, 4000, "CMYK", "TIFF", compression="tiff_lzw")),
        ("RGB WebP 6000x4000", pillow_bytes(6000, 4000, "RGB", "WEBP", quality=80, method=0)),
        ("RGBA WebP 6000x4000", pillow_bytes(6000, 4000, "RGBA", "WEBP", quality=80, method=0)),
    ]
    avif = ("jpeg", "webp", "avif")
    with_avif = [
        (label, data, avif)
        for label, data in files
        if label.startswith("noise") or label in ("RGB JPEG 6000x4000", "RGBA PNG 2560x2560")
    ]
    for label, data, formats in [(label, data, ()) for label, data in files] + with_avif:
        extension = {"PNG": "png", "JPEG": "jpg", "TIFF": "tif", "WebP": "webp"}[label.split()[-2]]
        path = write(workdir, f"calibrate.{extension}", data)
        case = Case(label, [path], {**env, "PHOTO_PROCESSING_WORKERS": "1"}, formats=formats)
        measured = run_case(case, workdir)
        grew = measured["peak"] - measured["before"]
        [outcome] = measured["outcomes"]
        label = f"{label}{' +AVIF' if formats else ''}"
        print(f"  {label:<50} {rule_bytes(data, formats) / MIB:9.1f} {grew / MIB:16.1f}  {outcome}")


def report(case: Case, measured: dict, memory: int) -> None:
    outcomes = measured["outcomes"]
    accepted = outcomes.count("ok")
    codes = sorted(set(outcomes) - {"ok"})
    rule = max(rule_bytes(path.read_bytes()) for path in case.files)
    size = sum(path.stat().st_size for path in case.files)
    growth = ""
    if len(measured["rounds"]) > 1:
        growth = "  RSS after each round " + " / ".join(f"{r['rss'] / MIB:,.0f}" for r in measured["rounds"])
    print(
        f"  {case.label}\n"
        f"    {len(case.files)} file(s), {size / 1e6:.1f} MB; rule {rule / MIB:,.0f} MiB per file; "
        f"accepted {accepted}/{len(outcomes)}{' refused: ' + ', '.join(codes) if codes else ''}; "
        f"budget high-water {measured['high_water'] / MIB:,.0f} MiB; {measured['seconds']:.1f} s\n"
        f"    peak RSS {measured['peak'] / MIB:,.0f} MiB ({measured['peak'] / memory:.0%} of the Lambda's "
        f"{memory / MIB:,.0f} MiB); {measured['before'] / MIB:,.0f} MiB with the files read, before decoding"
        f"{growth}"
    )


def verdicts(singles: list[Case], batches: list[Case], memory: int, budget: int, settings) -> int:
    """PASS when the largest accepted file and the worst accepted batch peak inside the Lambda's memory;
    then the fraction of memory the measured overhead would allow."""
    limited = [
        case for case in singles + batches if "budget off" not in case.label and not case.mmap_threshold
    ]
    accepted = [case for case in limited if "ok" in case.measured["outcomes"]]
    largest = max((case for case in accepted if case in singles), key=lambda case: case.measured["peak"])
    worst = max((case for case in accepted if case in batches), key=lambda case: case.measured["peak"])
    print()
    passed = True
    for name, case in (("largest accepted file", largest), ("worst accepted batch", worst)):
        peak = case.measured["peak"]
        inside = peak < memory
        passed &= inside
        print(
            f"{'PASS' if inside else 'FAIL'}: {name} ({case.label}) peaks at {peak / MIB:,.0f} MiB "
            f"< {memory / MIB:,.0f} MiB, {(memory - peak) / MIB:,.0f} MiB to spare"
        )
    # RSS per byte the budget held, over every accepted case: how far the real peak runs past the rule.
    ratio = max((c.measured["peak"] - c.measured["before"]) / c.measured["high_water"] for c in accepted)
    before = max(case.measured["before"] for case in accepted)
    workers, file_bytes = settings.PHOTO_PROCESSING_WORKERS, settings.PHOTO_MAX_BYTES
    other = REQUEST_BYTES + file_bytes * workers
    room = memory * (1 - LAMBDA_HEADROOM) - before - other
    print(
        f"measured: peak - before <= {ratio:.2f} x the bytes the budget held; {before / MIB:,.0f} MiB "
        f"before decoding; a request's other bytes <= {other / MIB:,.0f} MiB (body, {workers} files of "
        f"{file_bytes / MIB:,.0f} MiB, renditions); keeping {LAMBDA_HEADROOM:.0%} free, the budget may "
        f"reach {room / ratio / MIB:,.0f} MiB = {room / ratio / memory:.0%} of memory "
        f"(now {budget / memory:.0%})"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
