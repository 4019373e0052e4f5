"""The `.local/env` file Django reads on a laptop: its default values, added when missing, and read back."""

from __future__ import annotations

import fcntl
import os
import secrets
from pathlib import Path

from devtools.local_services.config import (
    LOCAL_ACCESS_KEY_ID,
    LOCAL_BUCKET_NAME,
    LOCAL_REGION,
    LOCAL_SECRET_ACCESS_KEY,
    dynamodb_port,
    loopback_url,
    s3_port,
)

DJANGO_SECRET_KEY_LENGTH = 50


def local_env_defaults() -> dict[str, str]:
    """What `.local/env` should contain; the secret key is made fresh on each call."""
    s3_url = loopback_url(s3_port())
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": loopback_url(dynamodb_port()),
        "AWS_ENDPOINT_URL_S3": s3_url,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
        "BUCKET_NAME": LOCAL_BUCKET_NAME,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(DJANGO_SECRET_KEY_LENGTH)[:DJANGO_SECRET_KEY_LENGTH],
        # `make run` serves with DEBUG off and `make dev` with it on, whatever this says; it is what a
        # manage.py command or a hand-started server gets.
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # The local server speaks plain HTTP: cookies that need HTTPS would never come back.
        "DJANGO_SECURE_COOKIES": "false",
        "MEDIA_PUBLIC_BASE_URL": f"{s3_url}/{LOCAL_BUCKET_NAME}",
        # s3rver rejects the CRC checksums botocore ≥ 1.36 adds to every upload by default.
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
        # `make run` delivers PhotoRatings' stream itself (devtools/local_services/rating_stream.py), as
        # Lambda's mapping does on AWS: a hot photo's ratings are added to its aggregate from it.
        "RATING_STREAM_AGGREGATION": "true",
    }


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse `KEY=value` lines; `#` comments, blank lines and lines without `=` are skipped."""
    values = {}
    for raw_line in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def write_env_file(path: Path) -> list[str]:
    """Append whichever default keys `path` lacks (creating it, mode 0600); return the keys added."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "r+", encoding="utf-8") as env_file:
        # Two `make run`s at once must not both append the same keys.
        fcntl.flock(env_file, fcntl.LOCK_EX)
        existing_text = env_file.read()
        existing = read_env_file(path)
        missing = {key: value for key, value in local_env_defaults().items() if key not in existing}
        if missing:
            separator = "\n" if existing_text and not existing_text.endswith("\n") else ""
            env_file.write(separator + "".join(f"{key}={value}\n" for key, value in missing.items()))
    # The file holds a secret key, so it is tightened even when it was created by hand.
    os.chmod(path, 0o600)
    return list(missing)
