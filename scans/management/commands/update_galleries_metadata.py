"""``manage.py update_galleries_metadata``: the galleries scan (scans.galleries_scan)."""

from scans.galleries_scan import galleries_metadata_scan
from scans.management.scan_command import ScanCommand
from scans.summary import Progress, ScanSummary


class Command(ScanCommand):
    help = "Recompute every gallery's photoCount, cover and years from its photo items."

    def run_scan(self, *, progress: Progress, **options) -> ScanSummary:
        return galleries_metadata_scan(
            gallery_id=options["gallery_id"], dry_run=options["dry_run"], progress=progress
        )
