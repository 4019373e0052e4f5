"""The bucket's storage backend (``settings.STORAGES["default"]``): django-storages' S3 storage whose
clients carry the service's time bounds and the request's deadline, like every client of ``core.aws``.

A module of its own so that boto3 (imported by django-storages) loads on the first S3 call, not on a
cold start that never touches S3.
"""

import boto3
from storages.backends.s3 import S3Storage

from core.aws import botocore_session, client_config


class MediaStorage(S3Storage):
    def __init__(self, **options):
        options.setdefault("client_config", client_config(signature_version="s3v4"))
        super().__init__(**options)

    def _create_session(self):
        # Credentials and region from the SDK's own chain (environment, Lambda's role), as before.
        return boto3.session.Session(botocore_session=botocore_session())
