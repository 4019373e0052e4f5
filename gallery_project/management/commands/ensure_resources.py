"""`manage.py ensure_resources`: create any missing table (and the bucket); safe to run again."""

from core.entrypoints import DomainCommand
from gallery_project.resources import resources_ensure


class Command(DomainCommand):
    help = "Create the DynamoDB tables and the S3 bucket if they are missing. Changes nothing that exists."

    def add_arguments(self, parser):
        parser.add_argument("--skip-bucket", action="store_true", help="Only the tables.")

    def handle(self, *args, skip_bucket: bool = False, **options):
        for line in resources_ensure(create_bucket=not skip_bucket):
            self.stdout.write(line)
