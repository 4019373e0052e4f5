"""What a scan did (or, in a dry run, would do): the one summary both scans report everywhere.

``as_dict`` is the answer of the API actions, the ``--json`` of the commands and the Lambda events' result.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

MAX_REPORTED_FAILURES = 100


@dataclass
class ScanSummary:
    """What a scan did (or, in a dry run, would do); ``as_dict`` is the API, command and Lambda output."""

    scan: str
    gallery_id: str | None = None
    dry_run: bool = False
    scanned: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    failures: list[dict] = field(default_factory=list)
    # Objects this run saw and left as they are, by key with the reason (an upload writing them, another
    # run adopting them...): never a silent skip.
    left_count: int = 0
    left: list[dict] = field(default_factory=list)
    missing_galleries: list[str] = field(default_factory=list)
    galleries_created: list[str] = field(default_factory=list)
    orphan_objects_removed: int = 0
    # What crashes, hangs and races left behind (scans.leftovers).
    failed_writes_cleaned: int = 0
    galleries_deleted: list[str] = field(default_factory=list)
    orphan_galleries: list[str] = field(default_factory=list)
    abandoned_uploads_removed: int = 0
    duplicates: int = 0  # originals whose bytes a photo of the gallery has: not adopted
    # Photos whose renditions moved to where their gallery's visibility asks (photos.services.placement).
    renditions_placed: int = 0
    # Photos made again with the current renditions and placeholders (the photos scan's --rerender).
    rerendered: int = 0
    # False when the scan stopped at its deadline; the next run starts at ``resume_from``.
    complete: bool = True
    resume_from: str | None = None

    def fail(self, reason: str, **where) -> None:
        self.failed += 1
        if len(self.failures) < MAX_REPORTED_FAILURES:
            self.failures.append({**where, "reason": reason})

    def leave(self, key: str, reason: str) -> None:
        self.left_count += 1
        if len(self.left) < MAX_REPORTED_FAILURES:
            self.left.append({"key": key, "reason": reason})

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.updated
            or self.removed
            or self.orphan_objects_removed
            or self.galleries_created
            or self.failed_writes_cleaned
            or self.galleries_deleted
            or self.orphan_galleries
            or self.abandoned_uploads_removed
            or self.renditions_placed
            or self.rerendered
        )

    @property
    def message(self) -> str:
        verb = "would be " if self.dry_run else ""
        parts = [
            f"{count} {verb}{label}"
            for count, label in (
                (self.created, "created"),
                (self.updated, "updated"),
                (self.removed, "removed"),
                (self.orphan_objects_removed, "orphan objects removed"),
                (len(self.galleries_created), "galleries created"),
                (self.failed_writes_cleaned, "failed photo writes cleaned up"),
                (len(self.galleries_deleted), "interrupted gallery deletes finished"),
                (len(self.orphan_galleries), "photo partitions without a gallery purged"),
                (self.abandoned_uploads_removed, "abandoned uploads removed"),
                (self.duplicates, "duplicates of existing photos not adopted"),
                (self.renditions_placed, "photos' renditions moved for their gallery's visibility"),
                (self.rerendered, "photos re-rendered with the current renditions"),
            )
            if count
        ]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.left_count:
            parts.append(f"{self.left_count} left as they are (see left)")
        if self.missing_galleries:
            parts.append(f"{len(self.missing_galleries)} galleries missing")
        head = f"Scanned {self.scanned}: "
        tail = "" if self.complete else f" Stopped at the deadline; resume from gallery {self.resume_from}."
        if not self.complete and self.resume_from is None:
            tail = " Stopped at the deadline; run it again to finish."
        return head + (", ".join(parts) if parts else "nothing to change") + "." + tail

    def as_dict(self) -> dict:
        return {
            "scan": self.scan,
            "galleryId": self.gallery_id,
            "dryRun": self.dry_run,
            "scanned": self.scanned,
            "created": self.created,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "failures": self.failures,
            "leftCount": self.left_count,
            "left": self.left,
            "missingGalleries": self.missing_galleries,
            "galleriesCreated": self.galleries_created,
            "orphanObjectsRemoved": self.orphan_objects_removed,
            "failedWritesCleaned": self.failed_writes_cleaned,
            "galleriesDeleted": self.galleries_deleted,
            "orphanGalleries": self.orphan_galleries,
            "abandonedUploadsRemoved": self.abandoned_uploads_removed,
            "duplicates": self.duplicates,
            "renditionsPlaced": self.renditions_placed,
            "rerendered": self.rerendered,
            "complete": self.complete,
            "resumeFrom": self.resume_from,
            "changed": self.changed,
            "message": self.message,
        }


Progress = Callable[[ScanSummary], None]


def no_progress(summary: ScanSummary) -> None:
    return None
