"""`manage.py revoke_curator_key <keyId>`: revoke a curator key at once."""

from django.core.management.base import BaseCommand, CommandError

from gallery_project.curators import curator_key_revoke


class Command(BaseCommand):
    help = "Revoke the curator key with this key id (printed when it was created)."

    def add_arguments(self, parser):
        parser.add_argument("key_id")

    def handle(self, *args, key_id: str, **options):
        if not curator_key_revoke(key_id=key_id):
            raise CommandError(f"No active curator key has the id {key_id} (unknown, or revoked already).")
        self.stdout.write(f"curator key {key_id} revoked")
