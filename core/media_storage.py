"""The bucket's storage backend (``settings.STORAGES["default"]``): django-storages' S3 storage whose
clients carry the service's time bounds and the request's deadline, like every client of ``core.aws``.

A module of its own so that boto3 (imported by django-storages) loads on the first S3 call, not on a
cold start that never touches S3.
"""

import boto3
from boto3.s3.transfer import TransferConfig
from storages.backends.s3 import S3Storage

from core.aws import botocore_session, client_config


class MediaStorage(S3Storage):
    def __init__(self, **options):
        options.setdefault("client_config", client_config(signature_version="s3v4"))
        # Puts run in the caller's thread, where the request's deadline lives (s3transfer's own worker
        # threads would carry none, and a hung S3 could then outlive the deadline). Photos are at most
        # PHOTO_MAX_BYTES, below the multipart threshold, so one thread loses nothing.
        options.setdefault("transfer_config", TransferConfig(use_threads=False))
        super().__init__(**options)

    def _get_write_parameters(self, name, content=None):
        # A put may carry its Cache-Control (core.storage.object_put); django-storages knows only
        # per-storage object parameters.
        params = super()._get_write_parameters(name, content)
        if cache_control := getattr(content, "cache_control", None):
            params["CacheControl"] = cache_control
        return params

    def _create_session(self):
        # Credentials and region from the SDK's own chain (environment, Lambda's role), as before.
        return boto3.session.Session(botocore_session=botocore_session())
