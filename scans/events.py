"""Lambda entry points for scheduled scans (Zappa ``events``): each calls the same service as the API.

Zappa calls ``scans.events.update_gallery_photos(event, context)`` on its schedule. The event may name
one gallery (``{"galleryId": "..."}``, at the top level or under ``detail``), ``dryRun`` /
``createMissingGalleries`` / ``rerender`` flags and ``resumeFrom`` (a run that stopped at its deadline
says where);
the return value is the run summary (or, for a gallery that does not exist, the error body of
``core.entrypoints``). S3's object-created events and PhotoRatings' stream come here too.
"""

import logging

from core.entrypoints import lambda_event
from core.errors import DomainError, storage_errors
from photos.services.rating_stream import rating_changes_apply
from scans.galleries_scan import galleries_metadata_scan
from scans.object_events import TryLater, created_keys, object_created
from scans.photos_scan import gallery_photos_scan

logger = logging.getLogger(__name__)


@lambda_event
def update_gallery_photos(event, context=None) -> dict:
    options = _options(event)
    summary = gallery_photos_scan(
        gallery_id=options.get("galleryId"),
        dry_run=bool(options.get("dryRun", False)),
        create_missing_galleries=bool(options.get("createMissingGalleries", False)),
        resume_from=options.get("resumeFrom") or None,
        rerender=bool(options.get("rerender", False)),
    )
    logger.info("update_gallery_photos: %s", summary.message)
    return summary.as_dict()


@lambda_event
def update_galleries_metadata(event, context=None) -> dict:
    options = _options(event)
    summary = galleries_metadata_scan(
        gallery_id=options.get("galleryId"), dry_run=bool(options.get("dryRun", False))
    )
    logger.info("update_galleries_metadata: %s", summary.message)
    return summary.as_dict()


@lambda_event
def photo_object_created(event, context=None) -> dict:
    """An S3 ObjectCreated notification: each new object's photo, exactly once (``scans.object_events``).

    Every object of the event is tried; when any failed in a way a later attempt may get past (S3 or
    DynamoDB failed or throttled), ``TryLater`` is raised at the end, so Lambda delivers the event again
    (the objects already made answer "exists" then)."""
    outcomes, failures = [], []
    for key in created_keys(event):
        try:
            outcome = object_created(key)
        except TryLater as later:
            failures += later.failures
            outcome = "failed, to be tried again"
        except storage_errors() as error:
            logger.exception("object created: %s failed", key)
            failures.append({"key": key, "reason": f"Storage failed: {error}"})
            outcome = "failed, to be tried again"
        outcomes.append({"key": key, "outcome": outcome})
        logger.info("object created: %s -> %s", key, outcome)
    if failures:
        raise TryLater(failures)
    return {"objects": outcomes}


@lambda_event
def rating_changes(event, context=None) -> dict:
    """A batch of PhotoRatings' stream (Lambda's event source mapping, with partial batch responses):
    the streamed ratings of hot photos added to their aggregates, each once
    (``photos.services.rating_stream``). Answers the changes not applied as ``batchItemFailures``, which
    Lambda delivers again from the lowest (anything else that fails is raised: Lambda delivers the whole
    batch again; a record taken for done would be an aggregate left behind for good)."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        logger.error("rating changes: an event without records: %.300r", event)
        return {"batchItemFailures": []}
    try:
        failed = rating_changes_apply(records)
    except DomainError:
        # Never answered as a body (lambda_event's way for other events): Lambda would count it as done.
        logger.exception("rating changes: the batch failed; delivered again")
        failed = [str(record.get("dynamodb", {}).get("SequenceNumber", "")) for record in records[:1]]
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}


def _options(event) -> dict:
    """The scan options of an event: a scheduled rule's constant input, or its ``detail``."""
    if not isinstance(event, dict):
        return {}
    detail = event["detail"] if isinstance(event.get("detail"), dict) else {}
    return {**detail, **{key: value for key, value in event.items() if key != "detail"}}
