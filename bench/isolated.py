"""The isolation a bench runs the service in, as the tests do: fake credentials, no local env file, no
endpoint from the shell, a bench-only secret key. Bench scripts call ``isolate`` before importing Django."""

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def isolate(**variables: str) -> None:
    """Clear AWS endpoints and profiles from the environment, set the bench defaults, then ``variables``
    (an endpoint of the bench's own emulator, say)."""
    sys.path.insert(0, str(PROJECT_ROOT))
    for variable in list(os.environ):
        if variable.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE")):
            del os.environ[variable]
    os.environ.update(
        {
            "GALLERY_ENV_FILE": "",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "DJANGO_SECRET_KEY": "bench-only-secret-key",
            "DJANGO_SETTINGS_MODULE": "gallery_project.settings",
            "LOG_LEVEL": "WARNING",
            **variables,
        }
    )
