"""Filtered-page cost against DynamoDB Local, beside the unfiltered page of the same gallery in the same run.

Run `.venv/bin/python bench/filtered.py [--sizes 100 1000 10000] [--repeat 5]`. For each gallery size it
seeds that many photo items (one in 500 tagged "rare", the rest "common"), then times through the API (the
Django test client, no network): the first page of the gallery's photos (the baseline), the first page
of `?tag=rare`, the same page without the bound (as before it: a page reads until it is full), and
the whole `?tag=rare` walk (every `next` link), printing medians. A filtered page examines at most
`core.pagination.EXAMINED_MAX` items, so its cost stays flat as the gallery grows; the walk grows with
the gallery, one bounded page at a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from isolated import isolate

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _configure(endpoint: str) -> None:
    isolate(AWS_ENDPOINT_URL_DYNAMODB=endpoint, DJANGO_ALLOWED_HOSTS="testserver")


def _seed(gallery_id: str, photos: int) -> None:
    from photos.models import GalleryPhoto

    with GalleryPhoto.batch_write() as batch:
        for number in range(1, photos + 1):
            batch.save(
                GalleryPhoto(
                    gallery_id,
                    f"p{number:06d}",
                    photo_number=number,
                    tags=["rare"] if number % 500 == 0 else ["common"],
                    s3_key=f"galleries/{gallery_id}/photo{number}.jpg",
                    uploaded_at="2026-01-01T00:00:00Z",
                    exif_data={"make": "Bench", "model": "One"},
                )
            )


def _timed(client, url: str, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        runs.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content
    return statistics.median(runs) * 1000


def _walk(client, url: str) -> tuple[float, int, int]:
    started, pages, found = time.perf_counter(), 0, 0
    while url:
        body = client.get(url).json()
        pages, found, url = pages + 1, found + len(body["results"]), body["next"]
    return (time.perf_counter() - started) * 1000, pages, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    sys.path.insert(0, str(PROJECT_ROOT))
    from devtools.local_services.emulators import DynamoDBLocal

    server = DynamoDBLocal(in_memory=True).start()
    try:
        _configure(server.endpoint_url)
        import django

        django.setup()
        from django.test import Client
        from moto import mock_aws

        from core import pagination
        from galleries.services import gallery_create
        from gallery_project.resources import resources_ensure

        with mock_aws():  # S3 only; DynamoDB goes to DynamoDB Local (its endpoint is set)
            resources_ensure()
            client = Client()
            print(f"EXAMINED_MAX {pagination.EXAMINED_MAX}, EXAMINE_BATCH {pagination.EXAMINE_BATCH}")
            header = ["photos", "unfiltered page", "filtered page", "ratio", "unbounded", "walk", "pages"]
            print(" ".join(f"{name:>15}" for name in header))
            for size in args.sizes:
                gallery = gallery_create(name=f"Bench {size}", continent="Europe", country="France")
                _seed(gallery.gallery_id, size)
                base = f"/api/galleries/{gallery.gallery_id}/photos"
                unfiltered = _timed(client, base, args.repeat)
                filtered = _timed(client, f"{base}?tag=rare", args.repeat)
                walk_ms, pages, found = _walk(client, f"{base}?tag=rare")
                assert found == size // 500, (found, size)
                bound = pagination.EXAMINED_MAX
                pagination.EXAMINED_MAX = 10**9  # as before the bound: one page reads until it is full
                unbounded = _timed(client, f"{base}?tag=rare", args.repeat)
                pagination.EXAMINED_MAX = bound
                row = [
                    f"{size}",
                    f"{unfiltered:.1f} ms",
                    f"{filtered:.1f} ms",
                    f"{filtered / unfiltered:.2f}",
                    f"{unbounded:.1f} ms",
                    f"{walk_ms:.0f} ms",
                    f"{pages}",
                ]
                print(" ".join(f"{cell:>15}" for cell in row))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
