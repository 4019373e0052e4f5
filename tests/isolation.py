"""Early pytest plugin: keep the test session away from a developer's local services and real AWS.

Loaded with ``-p tests.isolation`` (pyproject addopts) before pytest-django reads the settings, so
the settings never see `.local/env`, and moto is imported before any botocore client exists.
"""

import os

for variable in list(os.environ):
    if variable.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS")):
        del os.environ[variable]

os.environ.update(
    {
        "GALLERY_ENV_FILE": "",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DJANGO_SECRET_KEY": "test-only-secret-key-not-used-anywhere-else-0123456789",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        "BUCKET_NAME": "test-photography-bucket",
        "MEDIA_PUBLIC_BASE_URL": "https://media.example.test",
        # Generous time bounds: two workers, DynamoDB Local's JVM and image work share two cores, and a
        # slow answer must not fail a test. Tests of the bounds set short ones themselves; the production
        # budget is proven on the defaults (tests/core/test_deadline.py).
        "AWS_CONNECT_TIMEOUT_SECONDS": "10",
        "AWS_READ_TIMEOUT_SECONDS": "30",
        "REQUEST_DEADLINE_SECONDS": "120",
    }
)

import moto  # noqa: E402,F401  (must come before the first botocore client is created)
