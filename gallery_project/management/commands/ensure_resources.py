"""`manage.py ensure_resources`: create any missing table and the bucket, and bring the stage's settings
(the bucket's lifecycle, CORS and versioning; the tables' recovery and protection and the ratings
stream; the function's log retention, failed-events queue and stream mapping) to what the service wants;
safe to run again."""

from django.conf import settings

from core.entrypoints import DomainCommand
from gallery_project.resources import (
    LOG_RETENTION_CHOICES,
    function_ensure,
    resources_ensure,
    tables_protect,
)


class Command(DomainCommand):
    help = (
        "Create the DynamoDB tables and the S3 bucket if they are missing, and set the bucket's lifecycle "
        "rules, CORS and versioning, the tables' point-in-time recovery and deletion protection, the "
        "PhotoRatings stream, and, with --function, the function's log retention, failed-events queue and "
        "the mapping that feeds it the PhotoRatings stream. Says what it changed; a second run changes "
        "nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--skip-bucket", action="store_true", help="Leave the bucket alone.")
        parser.add_argument(
            "--function",
            metavar="NAME",
            help="The stage's Lambda function (e.g. gallery-backend-prod): its log group's retention, a "
            "queue for the S3 events it fails on and, once it is deployed, Lambda's retries into that "
            "queue and the mapping from the PhotoRatings stream (with the zappa_settings.json events entry "
            "it needs). Without it these are skipped.",
        )
        parser.add_argument(
            "--log-retention-days",
            type=int,
            default=settings.LOG_RETENTION_DAYS,
            choices=LOG_RETENTION_CHOICES,
            metavar="DAYS",
            help="How long CloudWatch keeps the function's logs (default: the stage's LOG_RETENTION_DAYS, "
            f"{settings.LOG_RETENTION_DAYS}; one of the values CloudWatch accepts: 1, 3, 5, 7, 14, 30, 60, "
            "90, ...).",
        )

    def handle(self, *args, skip_bucket: bool = False, function: str | None = None, **options):
        lines = resources_ensure(create_bucket=not skip_bucket)
        lines += tables_protect()
        lines += function_ensure(function, log_retention_days=options["log_retention_days"])
        for line in lines:
            self.stdout.write(line)
