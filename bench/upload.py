"""Batch upload throughput: one worker vs one per core; run `.venv/bin/python bench/upload.py [--photos 8]`.

Runs the real upload service (decode, renditions, S3 puts, DynamoDB transaction) under moto with
camera-like 12 MP JPEGs, first with PHOTO_PROCESSING_WORKERS=1, then with one worker per core, and
prints the wall time per batch and the speedup.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tests.isolation  # noqa: F401  (fake credentials, no local env file, moto before boto)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gallery_project.settings")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--megapixels", type=int, default=12)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from moto import mock_aws

    from bench.imaging import camera_jpeg
    from galleries.services import gallery_create
    from gallery_project.resources import resources_ensure
    from photos.prepare import IncomingPhoto
    from photos.services.upload import photos_upload

    cores = len(os.sched_getaffinity(0))
    sources = [camera_jpeg(args.megapixels, seed=n) for n in range(args.photos)]
    print(f"{args.photos} photos of {args.megapixels} MP, {cores} cores available")
    timings = {}
    with mock_aws():
        resources_ensure()
        for workers in sorted({1, cores}):
            settings.PHOTO_PROCESSING_WORKERS = workers
            gallery = gallery_create(name="bench", continent="Europe", country="France")
            files = [
                IncomingPhoto(filename=f"p{n}.jpg", size=len(data), read=lambda data=data: data)
                for n, data in enumerate(sources)
            ]
            started = time.perf_counter()
            result = photos_upload(gallery_id=gallery.gallery_id, files=files)
            timings[workers] = time.perf_counter() - started
            assert len(result.photos) == args.photos and not result.failures
            per_photo = timings[workers] / args.photos * 1000
            print(f"  workers={workers}: {timings[workers]:.2f} s per batch, {per_photo:.0f} ms per photo")
    if cores > 1:
        print(f"speedup with {cores} workers: {timings[1] / timings[cores]:.2f}x (ideal {cores}.00x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
