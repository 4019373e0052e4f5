"""Lambda entry points for scheduled scans (Zappa ``events``): each calls the same service as the API.

Zappa calls ``photos.events.update_gallery_photos(event, context)`` on its schedule. The event may name
one gallery (``{"galleryId": "..."}``, at the top level or under ``detail``) and ``dryRun`` /
``createMissingGalleries`` flags; the return value is the run summary.
"""

import logging

logger = logging.getLogger(__name__)


def update_gallery_photos(event, context=None) -> dict:
    from photos.scans import gallery_photos_scan

    options = _options(event)
    summary = gallery_photos_scan(
        gallery_id=options.get("galleryId"),
        dry_run=bool(options.get("dryRun", False)),
        create_missing_galleries=bool(options.get("createMissingGalleries", False)),
    )
    logger.info("update_gallery_photos: %s", summary.message)
    return summary.as_dict()


def update_galleries_metadata(event, context=None) -> dict:
    from galleries.scans import galleries_metadata_scan

    options = _options(event)
    summary = galleries_metadata_scan(
        gallery_id=options.get("galleryId"), dry_run=bool(options.get("dryRun", False))
    )
    logger.info("update_galleries_metadata: %s", summary.message)
    return summary.as_dict()


def _options(event) -> dict:
    """The scan options of an event: a scheduled rule's constant input, or its ``detail``."""
    _django_ready()
    if not isinstance(event, dict):
        return {}
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    return {**detail, **{key: value for key, value in event.items() if key != "detail"}}


def _django_ready() -> None:
    """Zappa sets DJANGO_SETTINGS_MODULE for events but a bare Lambda may not have set Django up."""
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
