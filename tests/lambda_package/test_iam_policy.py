"""Every DynamoDB and S3 call the service makes is allowed by docs/iam-policy.json, and nothing more is."""

import fnmatch
import json
import re
import uuid
from pathlib import Path

import botocore.client
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from core.aws import s3_client
from gallery_project.curators import curator_key_create
from gallery_project.resources import resources_ensure, table_models
from tests.factories import jpeg_bytes

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
POLICY = json.loads((DOCS_DIR / "iam-policy.json").read_text())
DEPLOY_DOC_POLICY = re.compile(
    r"<!-- iam-policy:begin -->\s*```json\n(.*?)```\s*<!-- iam-policy:end -->", re.S
)
ARN_PREFIX = "arn:aws:dynamodb:us-east-1:123456789012:table/"

# API operations whose IAM action has another name (the rest are `<service>:<Operation>`).
IAM_ACTIONS = {
    ("s3", "HeadObject"): {"s3:GetObject"},
    ("s3", "HeadBucket"): {"s3:ListBucket"},
    ("s3", "ListObjects"): {"s3:ListBucket"},
    ("s3", "ListObjectsV2"): {"s3:ListBucket"},
    ("s3", "DeleteObjects"): {"s3:DeleteObject"},
    ("s3", "CopyObject"): {"s3:GetObject", "s3:PutObject"},
    ("s3", "CreateMultipartUpload"): {"s3:PutObject"},
    ("s3", "UploadPart"): {"s3:PutObject"},
    ("s3", "CompleteMultipartUpload"): {"s3:PutObject"},
}
# IAM has no TransactWriteItems action: each item in the transaction is authorised as its own action.
TRANSACT_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Allowed although no flow below triggers them as an API call, with the reason.
GRANTED_WITHOUT_A_CALL = {
    # With MEDIA_PUBLIC_BASE_URL empty, image URLs are presigned with the function's credentials.
    "s3:GetObject",
    # Lambda reads the PhotoRatings stream for the function with the function's role (its event source
    # mapping); the function's code never calls these.
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}


def iam_actions(service: str, operation: str, params: dict) -> set[str]:
    if (service, operation) == ("dynamodb", "TransactWriteItems"):
        return {TRANSACT_ITEM_ACTIONS[kind] for item in params["TransactItems"] for kind in item}
    return IAM_ACTIONS.get((service, operation), {f"{service}:{operation}"})


def table_arns(service: str, operation: str, params: dict) -> set[str]:
    if service != "dynamodb":
        return set()
    if operation == "TransactWriteItems":
        items = [next(iter(item.values())) for item in params["TransactItems"]]
        return {ARN_PREFIX + item["TableName"] for item in items}
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return {ARN_PREFIX + table for table in params["RequestItems"]}
    if "TableName" not in params:
        return set()
    index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
    return {ARN_PREFIX + params["TableName"] + index}


def allowed(action: str, arn: str | None = None) -> bool:
    for statement in POLICY["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        in_scope = arn is None or any(fnmatch.fnmatchcase(arn, pattern) for pattern in resources)
        if statement["Effect"] == "Allow" and action in actions and in_scope:
            return True
    return False


def policy_actions(prefixes=("dynamodb:", "s3:")) -> set[str]:
    return {
        action
        for statement in POLICY["Statement"]
        for action in statement["Action"]
        if action.startswith(prefixes)
    }


@pytest.fixture
def aws_calls(aws, monkeypatch, settings):
    """(service, operation, params) of every botocore call from here on (PynamoDB's clients included)."""
    calls = []
    original = botocore.client.BaseClient._make_api_call

    def recording(client, operation_name, api_params):
        calls.append((client.meta.service_model.service_name, operation_name, api_params))
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls


# ---- the flows: one entry per thing the function does; add photos, ratings and scans as they land ----


def _curator() -> APIClient:
    key, _ = curator_key_create(label="iam-policy")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


def flow_galleries_crud():
    curator, visitor = _curator(), APIClient()
    body = {"name": "Fjords", "continent": "Europe", "country": "Norway", "years": [2021, 2022]}
    created = curator.post("/galleries", body, format="json")
    assert created.status_code == 201, created.json()
    gallery_id = created.json()["galleryId"]
    assert visitor.get("/galleries", {"id": gallery_id}).status_code == 200
    updated = curator.put("/galleries", {"galleryId": gallery_id, "name": "Fjords by night"}, format="json")
    assert updated.status_code == 200, updated.json()
    assert curator.delete(f"/galleries?id={gallery_id}").status_code == 200


def flow_galleries_list_with_filters_and_cursor():
    curator, visitor = _curator(), APIClient()
    for number in range(3):
        body = {"name": f"Dunes {number}", "continent": "Africa", "country": "Namibia", "years": [2020]}
        assert curator.post("/galleries", body, format="json").status_code == 201
    page = visitor.get(
        "/galleries", {"continent": "Africa", "country": "Namibia", "year": 2020, "page_size": 2}
    )
    assert page.status_code == 200, page.json()
    assert page.json()["next"]
    assert visitor.get(page.json()["next"]).status_code == 200


def flow_wrong_curator_key():
    intruder = APIClient()
    intruder.credentials(HTTP_AUTHORIZATION="Bearer gk_" + uuid.uuid4().hex)
    assert intruder.post("/galleries", {"name": "x"}, format="json").status_code == 401


def flow_photo_upload_and_delete():
    curator = _curator()
    body = {"name": "Harbour", "continent": "Asia", "country": "Japan", "years": [2024]}
    gallery_id = curator.post("/galleries", body, format="json").json()["galleryId"]
    photo = SimpleUploadedFile("boat.jpg", jpeg_bytes(), content_type="image/jpeg")
    uploaded = curator.post(
        f"/galleries?action=upload_photos&id={gallery_id}", {"photos": [photo]}, format="multipart"
    )
    assert uploaded.status_code == 201, uploaded.json()
    assert APIClient().get(f"/api/galleries/{gallery_id}/photos").status_code == 200
    assert curator.delete(f"/galleries?id={gallery_id}").status_code == 200


def _gallery_with_photo(curator) -> tuple[str, str]:
    body = {"name": "Ratings", "continent": "Oceania", "country": "Fiji"}
    gallery_id = curator.post("/galleries", body, format="json").json()["galleryId"]
    photo = SimpleUploadedFile("reef.jpg", jpeg_bytes(), content_type="image/jpeg")
    uploaded = curator.post(f"/api/galleries/{gallery_id}/photos", {"photos": [photo]}, format="multipart")
    return gallery_id, uploaded.json()["photos"][0]["photoId"]


def flow_ratings_and_photo_delete_with_ratings():
    curator, visitor = _curator(), APIClient()
    gallery_id, photo_id = _gallery_with_photo(curator)
    for stars in (4, 2, 2):  # new (takes the visitor id), re-rate, the same stars again
        rated = visitor.post(
            "/galleries?action=rate_photo",
            {"photoId": photo_id, "userId": "v1", "rating": stars},
            format="json",
        )
        assert rated.status_code in (200, 201), rated.json()
        visitor.credentials(HTTP_X_VISITOR_TOKEN=rated.json()["visitorToken"])
    query = {"action": "get_photo_rating", "photoId": photo_id, "userId": "v1"}
    assert visitor.get("/galleries", query).status_code == 200
    assert visitor.get(f"/api/photos/{photo_id}/ratings").status_code == 200
    assert visitor.delete(f"/api/photos/{photo_id}/ratings/v1").status_code == 200  # withdrawn
    issued = APIClient().post("/api/visitors").json()
    rated = APIClient().put(
        f"/api/photos/{photo_id}/ratings/{issued['userId']}",
        {"rating": 5},
        format="json",
        HTTP_X_VISITOR_TOKEN=issued["visitorToken"],
    )
    assert rated.status_code == 201, rated.json()
    deleted = curator.post(
        f"/galleries?action=delete_photo&id={gallery_id}", {"photoId": photo_id}, format="json"
    )
    assert deleted.status_code == 200, deleted.json()


def flow_metadata_scans():
    curator = _curator()
    gallery_id, _ = _gallery_with_photo(curator)
    key = f"galleries/{gallery_id}/synced-from-a-card.jpg"
    s3_client().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=jpeg_bytes(), ContentType="image/jpeg")
    for action in ("update_GalleryPhotos", "update_galleries_metadata"):
        scanned = curator.post(f"/galleries?action={action}", {}, format="json")
        assert scanned.status_code == 200, scanned.json()


def flow_direct_upload():
    import requests

    curator = _curator()
    body = {"name": "Large files", "continent": "Asia", "country": "Nepal"}
    gallery_id = curator.post("/galleries", body, format="json").json()["galleryId"]
    files = {"files": [{"contentType": "image/jpeg"}]}
    [slot] = curator.post(f"/api/galleries/{gallery_id}/uploads", files, format="json").json()["uploads"]
    image = {"file": ("p", jpeg_bytes(), "image/jpeg")}
    assert requests.post(slot["url"], data=slot["fields"], files=image, timeout=30).status_code == 204
    made = curator.post(
        f"/api/galleries/{gallery_id}/photos/from-uploads",
        {"uploads": [{"uploadKey": slot["uploadKey"]}]},
        format="json",
    )
    assert made.status_code == 201, made.json()


def flow_photo_orderings_and_tag_search():
    curator, visitor = _curator(), APIClient()
    gallery_id, _ = _gallery_with_photo(curator)
    for ordering in ("-averageRating", "takenAt", "-uploadedAt"):
        assert visitor.get(f"/api/galleries/{gallery_id}/photos", {"ordering": ordering}).status_code == 200
    for api in (visitor, curator):
        assert api.get("/api/photos", {"tag": "fjord"}).status_code == 200


FUNCTION_FLOWS = [
    flow_galleries_crud,
    flow_galleries_list_with_filters_and_cursor,
    flow_wrong_curator_key,
    flow_photo_upload_and_delete,
    flow_ratings_and_photo_delete_with_ratings,
    flow_metadata_scans,
    flow_direct_upload,
    flow_photo_orderings_and_tag_search,
]


def flow_operator_ensure_resources():
    resources_ensure()


def flow_operator_create_curator_key():
    curator_key_create(label="operator")


# Run by an operator with their own credentials (docs/deploy.md), not by the function.
OPERATOR_FLOWS = [flow_operator_ensure_resources, flow_operator_create_curator_key]
OPERATOR_ONLY_ACTIONS = {"dynamodb:CreateTable", "dynamodb:UpdateTimeToLive", "s3:CreateBucket"}


@pytest.mark.parametrize("flow", FUNCTION_FLOWS, ids=lambda flow: flow.__name__)
def test_function_calls_are_all_allowed(flow, aws_calls):
    flow()
    assert aws_calls, "the flow made no AWS call"
    for service, operation, params in aws_calls:
        for action in iam_actions(service, operation, params):
            arns = table_arns(service, operation, params) or {None}
            for arn in arns:
                assert allowed(action, arn), f"{service}.{operation} needs {action} on {arn or 'its bucket'}"


def test_policy_grants_only_what_the_function_uses(aws_calls):
    for flow in FUNCTION_FLOWS:
        flow()
    used = {action for call in aws_calls for action in iam_actions(*call)}
    assert policy_actions() - used - GRANTED_WITHOUT_A_CALL == set()
    assert all("*" not in action for action in policy_actions(("dynamodb:", "s3:", "logs:")))


def test_operator_commands_need_actions_the_function_is_denied(aws_calls):
    for model in table_models():  # a fresh stage: nothing exists yet
        model.delete_table()
    s3_client().delete_bucket(Bucket=settings.BUCKET_NAME)
    aws_calls.clear()
    for flow in OPERATOR_FLOWS:
        flow()
    used = {action for call in aws_calls for action in iam_actions(*call)}
    assert used >= OPERATOR_ONLY_ACTIONS
    assert not any(allowed(action) for action in OPERATOR_ONLY_ACTIONS)


def test_policy_scopes_the_bucket_and_the_tables():
    resources = {
        resource
        for statement in POLICY["Statement"]
        for resource in (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
    }
    bucket = "gallery-backend-prod-photos"
    assert {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"} <= resources
    dynamodb = {
        resource.rsplit(":", 1)[1] for resource in resources if resource.startswith("arn:aws:dynamodb")
    }
    tables = {
        settings.GALLERIES_TABLE,
        settings.GALLERY_PHOTOS_TABLE,
        settings.PHOTO_RATINGS_TABLE,
        settings.CURATOR_KEYS_TABLE,
        settings.SERVICE_RECORDS_TABLE,
        settings.PHOTO_TAGS_TABLE,
    }
    assert {resource.split("/")[1] for resource in dynamodb} == tables
    assert not any(resource.endswith(":*") or resource == "*" for resource in resources if ":s3:" in resource)


def test_deploy_doc_shows_the_same_policy():
    match = DEPLOY_DOC_POLICY.search((DOCS_DIR / "deploy.md").read_text())
    assert match, "docs/deploy.md lacks the <!-- iam-policy:begin --> ... <!-- iam-policy:end --> block"
    assert json.loads(match.group(1)) == POLICY
