"""Unexpected failures answer the envelope with a request id, never a stack trace or HTML."""

from botocore.exceptions import EndpointConnectionError

from galleries import selectors


def test_unexpected_exception_is_a_500_envelope_with_request_id(aws, client, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "gallery_get", explode)
    response = client.get("/api/galleries/abc", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 500
    body = response.json()
    assert body["details"] == {"requestId": "req-123"} and "secret" not in response.content.decode()
    assert response["X-Request-Id"] == "req-123"


def test_storage_outage_is_a_503_envelope(aws, client, monkeypatch):
    def unreachable(**kwargs):
        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    monkeypatch.setattr(selectors, "gallery_get", unreachable)
    response = client.get("/api/galleries/abc")
    assert response.status_code == 503 and set(response.json()) == {"error", "details"}


def test_ensure_resources_is_idempotent(aws, capsys):
    from django.core.management import call_command

    call_command("ensure_resources")  # the aws fixture created everything already
    report = capsys.readouterr().out.splitlines()
    assert len(report) == 6 and all(line.endswith(": exists") for line in report), report


def test_ensure_resources_adds_an_index_a_table_from_an_older_release_lacks(backend):
    from django.core.management import call_command

    from galleries.models import Gallery

    client = Gallery._get_connection().connection.client
    client.delete_table(TableName=Gallery.Meta.table_name)
    client.create_table(
        TableName=Gallery.Meta.table_name,
        AttributeDefinitions=[{"AttributeName": "galleryId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "galleryId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    call_command("ensure_resources")
    table = client.describe_table(TableName=Gallery.Meta.table_name)["Table"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["byCreatedAt"]
