"""Timestamps as the guide stores them: ISO 8601 in UTC with milliseconds and a Z."""

from datetime import UTC, datetime


def now_iso() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    """A UTC moment as the guide stores times."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
