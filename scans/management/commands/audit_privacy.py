"""``manage.py audit_privacy``: the privacy audit of the bucket (scans.audit); non-zero exit on a finding."""

import json

from django.core.management.base import CommandError

from core.entrypoints import DomainCommand
from scans.audit import AREAS, Finding, PrivacyAudit, privacy_audit


class Command(DomainCommand):
    help = (
        "Check that the bucket keeps originals private: its policy, ACLs, Block Public Access and Object "
        "Ownership, every rendition and download copy for metadata, and private galleries' renditions "
        "left under renditions/. Reads only. Exits 1 when it finds something (warnings alone do not fail "
        "it), so it can run as a scheduled job."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--gallery-id",
            help="Walk only this gallery's objects (the bucket's settings are judged all the same).",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        audit = privacy_audit(gallery_id=options["gallery_id"])
        if options["json"]:
            self.stdout.write(json.dumps(audit.as_dict(), indent=2))
        else:
            for line in report_lines(audit):
                self.stdout.write(line)
        if audit.finding_count:
            # From manage.py: the sentence on stderr and exit status 1; stdout keeps the report alone.
            raise CommandError(
                f"{audit.finding_count} privacy finding{'s' if audit.finding_count != 1 else ''} in bucket "
                f"{audit.bucket}; see the report."
            )


def report_lines(audit: PrivacyAudit) -> list[str]:
    """The report as a person reads it: each finding and warning with where and why, then what was read."""
    scope = f" (gallery {audit.gallery_id})" if audit.gallery_id else ""
    warning_count = len(audit.warnings) + audit.warnings_not_listed
    lines = [
        f"Privacy audit of bucket {audit.bucket}{scope}: {_count(audit.finding_count, 'finding')}, "
        f"{_count(warning_count, 'warning')}."
    ]
    if audit.findings:
        lines.append("Findings:")
        lines += _entries(audit.findings)
        for kind, count in sorted(audit.not_listed.items()):
            lines.append(f"  ... and {_count(count, 'more ' + kind + ' finding')}")
    if audit.warnings:
        lines.append("Warnings:")
        lines += _entries(audit.warnings)
        if audit.warnings_not_listed:
            lines.append(f"  ... and {_count(audit.warnings_not_listed, 'more warning')}")
    lines += [f"Note: {note}" for note in audit.notes]
    checked = ", ".join(
        f"{audit.checked[area]} {one if audit.checked[area] == 1 else many}"
        for area, (one, many) in AREAS.items()
    )
    lines.append(f"Checked: {checked}; {_count(audit.acls_read, 'object ACL')} read.")
    return lines


def _entries(entries: list[Finding]) -> list[str]:
    return [line for entry in entries for line in (f"  {entry.kind}: {entry.where}", f"      {entry.why}")]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
