"""``manage.py restore_gallery``: put a deleted gallery back from restored tables and the bucket's
versions (scans.restore.gallery_restore)."""

from django.core.management.base import CommandError

from core.entrypoints import DomainCommand
from scans.restore import DEFAULT_SUFFIX, RestoredTables, gallery_restore, live_table


class Command(DomainCommand):
    help = (
        "Restore a deleted gallery: its gallery item, photos, ratings and tag entries are copied from tables "
        "the operator restored to a moment before the delete (aws dynamodb restore-table-to-point-in-time; "
        "this command starts none), and the delete markers of the objects its photos list are removed. "
        "Refused, with nothing written, while the gallery exists or a restored table is not ACTIVE. Prints "
        "one line per step and a summary; exits 1 on any problem."
    )

    def add_arguments(self, parser):
        parser.add_argument("gallery_id", help="The deleted gallery's id.")
        parser.add_argument(
            "--suffix",
            default=DEFAULT_SUFFIX,
            help=f"Restored tables are the live tables' names followed by this (default {DEFAULT_SUFFIX!r}: "
            f"{live_table('photos')}{DEFAULT_SUFFIX}).",
        )
        for role in ("galleries", "photos", "ratings", "tags"):
            parser.add_argument(
                f"--{role}-table",
                dest=f"{role}_table",
                help=f"The table restored from {live_table(role)} (instead of the suffix's name).",
            )
        parser.add_argument(
            "--dry-run", action="store_true", help="Read and report what would be done; write nothing."
        )

    def handle(self, *args, **options):
        tables = RestoredTables.named(
            options["suffix"],
            **{role: options[f"{role}_table"] for role in ("galleries", "photos", "ratings", "tags")},
        )
        report = gallery_restore(
            gallery_id=options["gallery_id"], tables=tables, dry_run=options["dry_run"], say=self.stdout.write
        )
        self.stdout.write(report.summary)
        if report.problems:
            # From manage.py: the sentence on stderr and exit status 1; stdout keeps the steps.
            raise CommandError(
                f"{len(report.problems)} problem{'s' if len(report.problems) != 1 else ''} restoring gallery "
                f"{report.gallery_id}; see the lines marked PROBLEM."
            )
