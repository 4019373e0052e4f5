"""Tables as something other than this release made them (an older release, another tool), for the tests
of what ensure_resources and the stream's readers do with them."""


def table_made_again(model, *, stream_view: str | None = None) -> None:
    """Drop a model's table and make it again with its keys alone: no index, no time to live, and a
    stream only when ``stream_view`` names what it shows (``"KEYS_ONLY"``...)."""
    keys = [
        attribute
        for attribute in model.get_attributes().values()
        if attribute.is_hash_key or attribute.is_range_key
    ]
    stream = (
        {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": stream_view}} if stream_view else {}
    )
    client = model._get_connection().connection.client
    client.delete_table(TableName=model.Meta.table_name)
    client.create_table(
        TableName=model.Meta.table_name,
        AttributeDefinitions=[
            {"AttributeName": key.attr_name, "AttributeType": key.attr_type} for key in keys
        ],
        KeySchema=[
            {"AttributeName": key.attr_name, "KeyType": "HASH" if key.is_hash_key else "RANGE"}
            for key in sorted(keys, key=lambda key: not key.is_hash_key)
        ],
        BillingMode="PAY_PER_REQUEST",
        **stream,
    )
