"""Create the tables and the bucket the service needs, if they are missing (idempotent)."""

from django.conf import settings

from gallery_project.aws import s3_client, table_models


def resources_ensure(*, create_bucket: bool = True) -> list[str]:
    """Create what is missing and return one line per resource saying what was done."""
    report = []
    for model in table_models():
        name = model.Meta.table_name
        if model.exists():
            report.append(f"table {name}: exists")
        else:
            model.create_table(wait=True)
            report.append(f"table {name}: created")
    if create_bucket:
        report.append(_bucket_ensure(settings.BUCKET_NAME))
    return report


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
