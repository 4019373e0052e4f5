"""Photos-scan benchmark under moto; run `.venv/bin/python bench/scan.py [--photos 2000] [--new 100]`."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from isolated import isolate

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _configure() -> None:
    """The tests' isolation, moto before any client."""
    isolate(
        BUCKET_NAME="bench-photography-bucket",
        MEDIA_PUBLIC_BASE_URL="https://media.example.test",
        # moto's TransactWriteItems deep-copies every table without a lock: parallel adoptions crash it.
        PHOTO_PROCESSING_WORKERS="1",
    )


def _count_calls() -> Counter:
    """Count every AWS API call with a botocore hook registered on each client as it is created."""
    import botocore.session

    calls: Counter = Counter()
    create_client = botocore.session.Session.create_client

    def counting_create_client(self, service_name, *args, **kwargs):
        client = create_client(self, service_name, *args, **kwargs)
        client.meta.events.register(
            "before-call", lambda model, **_: calls.update([f"{service_name}:{model.name}"])
        )
        return client

    botocore.session.Session.create_client = counting_create_client
    return calls


def _seed(gallery_id: str, photos: int) -> int:
    """Known photos: an original and four renditions each, and an item per photo (batch-written)."""
    from django.conf import settings
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    from photos.models import GalleryPhoto

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    with GalleryPhoto.batch_write() as batch:
        for number in range(1, photos + 1):
            original = f"galleries/{gallery_id}/photo{number}.jpg"
            renditions = [
                f"renditions/{gallery_id}/photo{number}-{name}.{ext}"
                for name in ("thumb", "web")
                for ext in ("jpg", "webp")
            ]
            for key in (original, *renditions):
                backend.put_object(settings.BUCKET_NAME, key, b"x")
            etag = backend.get_object(settings.BUCKET_NAME, original).etag.strip('"')
            batch.save(
                GalleryPhoto(
                    gallery_id,
                    f"p{number:06d}",
                    photo_number=number,
                    s3_key=original,
                    uploaded_at="2024-01-01T00:00:00.000Z",
                    rendition_keys=renditions,
                    original_etag=etag,
                    original_size=1,
                )
            )
    return photos * 5


def _report(label: str, calls: Counter, objects: int, seconds: float, summary) -> None:
    per_thousand = 1000 / max(objects, 1)
    dynamodb = sum(count for name, count in calls.items() if name.startswith("dynamodb:"))
    s3 = sum(count for name, count in calls.items() if name.startswith("s3:"))
    print(f"{label}: {objects} objects in {seconds:.2f} s = {objects / seconds:,.0f} objects/s")
    print(f"  DynamoDB calls per 1,000 objects: {dynamodb * per_thousand:.1f}   S3: {s3 * per_thousand:.1f}")
    print(f"  calls: {dict(sorted(calls.items()))}")
    print(f"  summary: {summary.message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=2000, help="known photos (5 objects each)")
    parser.add_argument("--new", type=int, default=100, help="new originals to adopt (tiny JPEGs)")
    args = parser.parse_args()
    _configure()
    calls = _count_calls()
    from moto import mock_aws

    with mock_aws():
        import django

        django.setup()
        from django.conf import settings

        from core.aws import s3_client
        from galleries.services import gallery_create
        from gallery_project.resources import resources_ensure
        from scans import photos_scan as scans
        from tests.factories import jpeg_bytes

        settings.SCAN_SETTLE_SECONDS = 0  # objects were put a moment ago
        resources_ensure()
        gallery_id = gallery_create(name="Bench", continent="Europe", country="France").gallery_id
        objects = _seed(gallery_id, args.photos)
        tiny = jpeg_bytes(64, 48)
        for index in range(args.new):
            s3_client().put_object(
                Bucket=settings.BUCKET_NAME, Key=f"galleries/{gallery_id}/new-{index:05d}.jpg", Body=tiny
            )
        print(f"workers: {settings.PHOTO_PROCESSING_WORKERS} (PHOTO_PROCESSING_WORKERS)")
        # Objects in the bucket during each run: the second also lists the renditions the first made.
        for label, listed in (
            (f"first run ({args.new} to adopt)", objects + args.new),
            ("second run (nothing to change)", objects + 5 * args.new),
        ):
            calls.clear()
            started = time.perf_counter()
            summary = scans.gallery_photos_scan()
            _report(label, calls, listed, time.perf_counter() - started, summary)


if __name__ == "__main__":
    main()
