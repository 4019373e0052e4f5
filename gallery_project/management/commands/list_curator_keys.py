"""`manage.py list_curator_keys`: every curator key's id, label, creation, last use and revocation."""

import json

from core.entrypoints import DomainCommand
from gallery_project.curators import curator_keys


class Command(DomainCommand):
    help = "List curator keys (never the keys or their hashes): id, label, created, last used, revoked."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the list as JSON.")

    def handle(self, *args, **options):
        rows = [
            {
                "keyId": record.key_id,
                "label": record.label,
                "createdAt": record.created_at,
                "lastUsedAt": record.last_used_at,
                "revokedAt": record.revoked_at,
            }
            for record in curator_keys()
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        self.stdout.write(
            f"{'KEY ID':<14}{'LABEL':<30}{'CREATED':<26}{'LAST USED (within an hour)':<28}REVOKED"
        )
        for row in rows:
            self.stdout.write(
                f"{row['keyId']:<14}{row['label'][:28]:<30}{row['createdAt']:<26}"
                f"{row['lastUsedAt'] or 'never':<28}{row['revokedAt'] or '-'}"
            )
