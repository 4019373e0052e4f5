"""Where the local stand-ins live and listen, and the dummy credentials they accept."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CODE_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = CODE_ROOT / "node_modules"

LOOPBACK = "127.0.0.1"
DEFAULT_DYNAMODB_PORT = 8001
DEFAULT_S3_PORT = 4568
LOCAL_REGION = "us-east-1"
# s3rver only knows this one key pair (SigV4 signatures are not checked); DynamoDB Local with -sharedDb
# accepts any credentials, so the same pair serves both.
LOCAL_ACCESS_KEY_ID = "S3RVER"
LOCAL_SECRET_ACCESS_KEY = "S3RVER"  # noqa: S105 (a public dummy, not a secret)
LOCAL_BUCKET_NAME = "photography-gallery-local"


def project_root() -> Path:
    return Path(os.environ.get("GALLERY_PROJECT_ROOT") or CODE_ROOT).resolve()


def dynamodb_port() -> int:
    return int(os.environ.get("LOCAL_DYNAMODB_PORT") or DEFAULT_DYNAMODB_PORT)


def s3_port() -> int:
    return int(os.environ.get("LOCAL_S3_PORT") or DEFAULT_S3_PORT)


def loopback_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


@dataclass(frozen=True)
class LocalDirs:
    root: Path

    @property
    def local(self) -> Path:
        return self.root / ".local"

    @property
    def run(self) -> Path:
        return self.local / "run"

    @property
    def log(self) -> Path:
        return self.local / "log"

    @property
    def tmp(self) -> Path:
        return self.local / "tmp"

    @property
    def lock(self) -> Path:
        return self.run / "services.lock"

    @property
    def env_file(self) -> Path:
        return self.local / "env"

    @property
    def s3_events_pending(self) -> Path:
        """The local store's object-created events, one file each, until they are delivered."""
        return self.local / "s3-events" / "pending"

    @property
    def s3_events_failed(self) -> Path:
        """Events whose delivery kept failing, each with its error beside it (AWS's failure destination)."""
        return self.local / "s3-events" / "failed"

    @property
    def rating_stream_checkpoint(self) -> Path:
        """Where the local courier of the PhotoRatings stream got to in each shard (rating_stream.py)."""
        return self.local / "rating-stream" / "checkpoint.json"

    @property
    def static(self) -> Path:
        """Static files as `collectstatic` writes them for `make run` (hashed names, gzip copies)."""
        return self.local / "static"
