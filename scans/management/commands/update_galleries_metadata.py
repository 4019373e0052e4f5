"""``manage.py update_galleries_metadata``: the galleries scan (galleries.scans.galleries_metadata_scan)."""

from photos.management import ScanCommand


class Command(ScanCommand):
    help = "Recompute every gallery's photoCount, cover and years from its photo items."

    def run_scan(self, *, progress, **options):
        from galleries.scans import galleries_metadata_scan

        return galleries_metadata_scan(
            gallery_id=options["gallery_id"], dry_run=options["dry_run"], progress=progress
        )
