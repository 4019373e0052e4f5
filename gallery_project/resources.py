"""Create the tables and the bucket the service needs, if they are missing (idempotent)."""

from django.conf import settings

from gallery_project.aws import s3_client, table_models


def resources_ensure(*, create_bucket: bool = True) -> list[str]:
    """Create what is missing and return one line per resource saying what was done."""
    report = []
    for model in table_models():
        name = model.Meta.table_name
        if model.exists():
            added = _global_indexes_ensure(model)
            report.append(f"table {name}: exists" + (f", added index {', '.join(added)}" if added else ""))
        else:
            model.create_table(wait=True)
            report.append(f"table {name}: created")
    if create_bucket:
        report.append(_bucket_ensure(settings.BUCKET_NAME))
    return report


def _global_indexes_ensure(model) -> list[str]:
    """Add global indexes a newer release declares to a table made by an older one (DynamoDB fills
    them from the existing items). Local indexes cannot be added after creation."""
    from pynamodb.indexes import GlobalSecondaryIndex

    client = model._get_connection().connection.client
    table = client.describe_table(TableName=model.Meta.table_name)["Table"]
    existing = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
    added = []
    for index in model._indexes.values():
        if not isinstance(index, GlobalSecondaryIndex) or index.Meta.index_name in existing:
            continue
        schema = index._get_schema()
        client.update_table(
            TableName=model.Meta.table_name,
            AttributeDefinitions=schema["attribute_definitions"],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": schema["index_name"],
                        # DynamoDB wants HASH before RANGE; the schema lists them in attribute order.
                        "KeySchema": sorted(schema["key_schema"], key=lambda key: key["KeyType"] != "HASH"),
                        "Projection": schema["projection"],
                    }
                }
            ],
        )
        added.append(schema["index_name"])
    return added


def _bucket_ensure(bucket: str) -> str:
    from botocore.exceptions import ClientError

    client = s3_client()
    try:
        client.head_bucket(Bucket=bucket)
        return f"bucket {bucket}: exists"
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    region = client.meta.region_name
    if region and region != "us-east-1":
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    else:
        client.create_bucket(Bucket=bucket)
    return f"bucket {bucket}: created"
