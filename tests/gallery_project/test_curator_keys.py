"""Curator keys are manageable (issue 10, must-show 7): labels required, listed with their last use (kept
to the hour, not written on every request) and their revocation."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from core.errors import Rejected
from gallery_project import curators
from gallery_project.curators import curator_key_create
from gallery_project.models import CuratorKey
from tests.aws_faults import aws_calls
from tests.clock import clock_at


def listed(capsys) -> list[dict]:
    capsys.readouterr()
    call_command("list_curator_keys", "--json")
    return json.loads(capsys.readouterr().out)


def with_key(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


def test_a_key_needs_a_label(aws):
    with pytest.raises(Rejected):
        curator_key_create(label="   ")
    with pytest.raises(CommandError):
        call_command("create_curator_key")  # --label is required
    with pytest.raises(CommandError, match="label"):
        call_command("create_curator_key", "--label", " ")


def test_keys_are_listed_with_last_use_and_revocation_never_the_key(aws, capsys):
    laptop, _ = curator_key_create(label="alice laptop")
    _, ci_record = curator_key_create(label="ci")
    assert with_key(laptop).get("/api/galleries").status_code == 200
    rows = {row["label"]: row for row in listed(capsys)}
    assert set(rows) == {"alice laptop", "ci"}
    assert rows["alice laptop"]["lastUsedAt"] is not None and rows["ci"]["lastUsedAt"] is None
    assert all(row["revokedAt"] is None for row in rows.values())

    call_command("revoke_curator_key", ci_record.key_id)
    rows = {row["label"]: row for row in listed(capsys)}
    assert rows["ci"]["revokedAt"] is not None  # revoked keys stay listed
    call_command("list_curator_keys")
    table = capsys.readouterr().out
    assert "alice laptop" in table and laptop not in table and ci_record.key_hash not in table


def test_last_use_is_written_at_most_once_an_hour_per_key(backend, monkeypatch):
    key, record = curator_key_create(label="busy script")
    writes = aws_calls(monkeypatch, "UpdateItem", table=CuratorKey.Meta.table_name)
    api = with_key(key)
    for _ in range(5):
        assert api.get("/api/galleries").status_code == 200
    assert len(writes) == 1  # five requests, one write

    clock_at(monkeypatch, curators, datetime.now(UTC) + timedelta(hours=1, minutes=1))
    assert api.get("/api/galleries").status_code == 200
    assert len(writes) == 2
    assert CuratorKey.get(record.key_hash).last_used_at is not None


def test_a_revoked_key_stops_working_and_cannot_be_revoked_twice(backend, capsys):
    key, record = curator_key_create(label="lost phone")
    call_command("revoke_curator_key", record.key_id)
    assert with_key(key).post("/api/galleries", {}, format="json").status_code == 401
    with pytest.raises(CommandError):
        call_command("revoke_curator_key", record.key_id)
