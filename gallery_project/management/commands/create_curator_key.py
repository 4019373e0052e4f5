"""`manage.py create_curator_key`: make a curator key, print it once, store only its hash."""

from core.entrypoints import DomainCommand
from gallery_project.curators import curator_from_key, curator_key_create


def _holds_valid_key(path: str) -> bool:
    try:
        with open(path) as handle:
            return curator_from_key(handle.read().strip(), note_use=False) is not None
    except FileNotFoundError:
        return False


class Command(DomainCommand):
    help = "Create a curator key. The key is printed once and never stored; keep it somewhere safe."

    def add_arguments(self, parser):
        parser.add_argument(
            "--label", required=True, help="Who or what the key is for, e.g. 'alice laptop' (required)."
        )
        parser.add_argument("--output", help="Write the key to this file (mode 0600) instead of stdout.")
        parser.add_argument(
            "--keep-valid",
            action="store_true",
            help="With --output: do nothing if that file already holds a key that works (used by make run).",
        )

    def handle(self, *args, label: str = "", output: str | None = None, keep_valid: bool = False, **options):
        if keep_valid and output and _holds_valid_key(output):
            self.stderr.write(f"{output} already holds a valid curator key")
            return
        key, record = curator_key_create(label=label)
        if output:
            import os

            descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(key + "\n")
            self.stderr.write(f"curator key {record.key_id} written to {output}")
        else:
            self.stdout.write(key)
            self.stderr.write(f"curator key {record.key_id} created; it will not be shown again")
