"""The scan commands' base: run a scan with a progress display and print its summary."""

import json
import time

from core.entrypoints import DomainCommand
from scans.summary import Progress, ScanSummary


class ProgressDisplay:
    """One redrawn status line on a terminal; on a pipe or log, a plain line every ``every`` items.

    A scan streams the bucket, so the total is unknown: the bar is a sweeping block with the counts.
    """

    WIDTH = 20

    def __init__(self, stream, *, every: int = 500, interval: float = 0.1):
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every = every
        self.interval = interval
        self.last_drawn = 0.0
        self.last_count = 0

    def __call__(self, summary) -> None:
        done = summary.scanned + summary.removed
        if self.tty:
            now = time.monotonic()
            if now - self.last_drawn >= self.interval:
                self.last_drawn = now
                self.stream.write("\r" + self._bar(done) + " " + _counts(summary))
                self.stream.flush()
        elif done // self.every > self.last_count // self.every:
            self.stream.write(_counts(summary) + "\n")
        self.last_count = done

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def _bar(self, done: int) -> str:
        position = done % (2 * self.WIDTH - 2)
        position = position if position < self.WIDTH else 2 * self.WIDTH - 2 - position
        return "[" + " " * position + "#" + " " * (self.WIDTH - 1 - position) + "]"


def _counts(summary) -> str:
    return (
        f"scanned {summary.scanned}  created {summary.created}  updated {summary.updated}  "
        f"removed {summary.removed}  failed {summary.failed}"
    )


class ScanCommand(DomainCommand):
    """A thin command over one scan service: options in, summary out (text or ``--json``)."""

    def add_arguments(self, parser):
        parser.add_argument("--gallery-id", help="Scan only this gallery.")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")
        parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")

    def run_scan(self, *, progress: Progress, **options) -> ScanSummary:  # pragma: no cover
        raise NotImplementedError  # each command supplies its service

    def handle(self, *args, **options):
        display = ProgressDisplay(self.stderr._out)  # the raw stream: progress manages its own line ends
        try:
            summary = self.run_scan(progress=display, **options)
        finally:
            display.finish()
        if options["json"]:
            self.stdout.write(json.dumps(summary.as_dict(), indent=2))
            return
        self.stdout.write(summary.message)
        for failure in summary.failures:
            where = failure.get("key") or failure.get("galleryId")
            self.stdout.write(f"  failed: {where}: {failure['reason']}")
        for gallery_id in summary.missing_galleries:
            self.stdout.write(
                f"  no gallery item for objects under galleries/{gallery_id}/ (--create-missing-galleries)"
            )
