"""What the python3.13 runtime's floor (Amazon Linux 2023, glibc 2.34) opens up: measured, not adopted.

Run `make bench-setup && .venv/bin/python bench/runtime_floor.py` (the candidates are bench-only packages).

For each candidate wheel: the cp313 x86_64 wheel pip picks for Lambda (the package builder's own platform
list), its size and unpacked size, the highest glibc its shared objects need and whether python3.11's
Amazon Linux 2 (glibc 2.26) could have loaded it. Then the effect of pillow-heif on one core: decoding a
12 MP iPhone-like HEIC beside decoding the same photo as JPEG and beside this project's whole rendition
pipeline on that JPEG (the baseline). libvips renditions beside ours: `bench/imaging.py` prints them once
pyvips is installed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from bench.imaging import camera_jpeg  # noqa: E402
from devtools.package_lambda.requirements import requirement_pins  # noqa: E402
from devtools.package_lambda.stage import zappa_stage  # noqa: E402
from devtools.package_lambda.target import (  # noqa: E402
    LambdaTarget,
    check_shared_objects,
    lambda_target,
    symbol_version,
)

AMAZON_LINUX_2_GLIBC = (2, 26)  # python3.11's, for comparison


def lambda_wheel(requirement: str, directory: Path, target: LambdaTarget) -> Path:
    """The wheel the package builder's pip arguments pick for the target (no dependencies)."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(directory)]
    subprocess.run([*command, *target.pip_args(), requirement], check=True, capture_output=True)
    name = requirement.split("==")[0].replace("-", "_").lower()
    return next(path for path in directory.glob("*.whl") if path.name.lower().startswith(name))


def wheel_figures(requirement: str, workdir: Path, target: LambdaTarget) -> None:
    try:
        wheel = lambda_wheel(requirement, workdir, target)
    except subprocess.CalledProcessError:
        print(
            f"  {requirement}: no binary wheel (a source distribution only; the package builder takes wheels)"
        )
        return
    unpacked = workdir / wheel.stem
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
        unpacked_bytes = sum(info.file_size for info in archive.infolist())
    needs = check_shared_objects(unpacked, target)  # raises if the target could not load it
    highest = needs.get("GLIBC", ())
    glibc = symbol_version("GLIBC", highest) if highest else "no glibc"
    if "GLIBCXX" in needs:
        glibc += f" and the system libstdc++ ({symbol_version('GLIBCXX', needs['GLIBCXX'])})"
    on_al2 = "loads" if highest <= AMAZON_LINUX_2_GLIBC else "could not load"
    print(
        f"  {wheel.name}\n"
        f"    wheel {wheel.stat().st_size / 2**20:5.1f} MiB, unpacked {unpacked_bytes / 2**20:5.1f} MiB, "
        f"needs {glibc}\n    {target.runtime} loads it; python3.11 (glibc 2.26) {on_al2} it by its glibc "
        "symbols"
    )


def best_and_median_ms(function, repeat: int) -> tuple[float, float]:
    function()  # warm-up: first-use imports and codec set-up
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return min(timings), statistics.median(timings)


def heic_effect(megapixels: int, repeat: int) -> None:
    import pillow_heif
    from PIL import Image

    from photos.imaging import process_image

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    jpeg = camera_jpeg(megapixels)
    with Image.open(io.BytesIO(jpeg)) as image:
        pixels = image.convert("RGB")
    heif = pillow_heif.from_pillow(pixels)
    encoded = io.BytesIO()
    heif.save(encoded, quality=80)
    heic = encoded.getvalue()
    print(
        f"\n{megapixels} MP photo ({pixels.width}x{pixels.height}): JPEG q90 {len(jpeg) / 1e6:.1f} MB, "
        f"HEIC q80 {len(heic) / 1e6:.1f} MB (libheif {pillow_heif.libheif_version()}); one core, "
        f"best and median of {repeat}"
    )

    def decode_heic():
        pillow_heif.open_heif(heic, convert_hdr_to_8bit=True).to_pillow().load()

    def decode_jpeg():
        Image.open(io.BytesIO(jpeg)).load()

    def pipeline_jpeg():
        process_image(jpeg)

    figures = {
        "our renditions from the JPEG (baseline)": best_and_median_ms(pipeline_jpeg, repeat),
        "JPEG full decode": best_and_median_ms(decode_jpeg, repeat),
        "HEIC full decode (pillow-heif)": best_and_median_ms(decode_heic, repeat),
    }
    baseline = figures["our renditions from the JPEG (baseline)"][0]
    for label, (best, median) in figures.items():
        print(f"  {label:<40} {best:7.1f} ms (median {median:7.1f})  {best / baseline:4.2f}x the baseline")
    print(
        "  HEIC cannot be decoded at a reduced size (no draft mode): a HEIC upload would cost its full "
        "decode plus the resizes, against the JPEG path's draft decode."
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--megapixels", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cli, _settings = zappa_stage("prod")
    target = lambda_target(cli.stage_config)
    print(f"Lambda wheels for the prod stage's {target.runtime} on {target.architecture}:")
    pins = requirement_pins((PROJECT_ROOT / "requirements-bench.txt").read_text().splitlines())
    pins["cffi"] = importlib.metadata.version("cffi")  # pyvips's compiled dependency
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as temp:
        for name in ("pillow-heif", "pyvips-binary", "pyvips", "cffi"):
            wheel_figures(f"{name}=={pins[name]}", Path(temp), target)
    heic_effect(args.megapixels, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
