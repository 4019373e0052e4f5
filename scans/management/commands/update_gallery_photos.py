"""``manage.py update_gallery_photos``: the photos scan (scans.photos_scan.gallery_photos_scan)."""

from scans.management.scan_command import ScanCommand
from scans.photos_scan import gallery_photos_scan
from scans.summary import Progress, ScanSummary


class Command(ScanCommand):
    help = "Bring photo items in line with the originals in the bucket (adopt, re-render, remove)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--create-missing-galleries",
            action="store_true",
            help="Create a gallery for objects under galleries/{id}/ that has no gallery item.",
        )
        parser.add_argument(
            "--rerender",
            action="store_true",
            help="Also make again the photos whose renditions an older release made (new sizes, formats, "
            "placeholders); current ones are skipped, so a repeated run goes on where one stopped.",
        )
        parser.add_argument(
            "--resume-from", help="Start at this gallery (a run that stopped at its deadline names it)."
        )

    def run_scan(self, *, progress: Progress, **options) -> ScanSummary:
        return gallery_photos_scan(
            gallery_id=options["gallery_id"],
            dry_run=options["dry_run"],
            create_missing_galleries=options["create_missing_galleries"],
            resume_from=options["resume_from"],
            rerender=options["rerender"],
            progress=progress,
        )
