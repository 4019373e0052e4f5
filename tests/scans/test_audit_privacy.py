"""``manage.py audit_privacy`` on moto: a bucket set up as docs/deploy.md says is clean; each mistake planted
alone (a rendition with GPS, a public original, a public or too wide policy, a download copy with GPS, a
private gallery's rendition left public) fails the run and is named; what cannot be judged is a warning."""

import io
import json
import re
import zlib
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from PIL import Image

from core import storage
from core.aws import s3_client
from galleries.services import gallery_create
from photos import keys
from scans import audit as scans_audit
from tests.aws_faults import fail_nth
from tests.factories import jpeg_bytes

ORIGINAL_GPS = (48.8584, 2.2945)
DEPLOY_DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
DEPLOY_DOC_POLICY = re.compile(
    r"<!-- bucket-policy:begin -->\s*```json\n(.*?)```\s*<!-- bucket-policy:end -->", re.S
)
XMP_WITH_GPS = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.5N" '
    b'exif:GPSLongitude="2,17.67E"/></rdf:RDF></x:xmpmeta>'
)


def audit(*args: str) -> tuple[dict, CommandError | None]:
    """The JSON report, and the error the command ended with (None: it succeeded)."""
    out = io.StringIO()
    try:
        call_command("audit_privacy", "--json", *args, stdout=out)
    except CommandError as error:
        return json.loads(out.getvalue()), error
    return json.loads(out.getvalue()), None


def s3():
    return s3_client()


def bucket_keys(prefix: str) -> list[str]:
    listing = s3().list_objects_v2(Bucket=settings.BUCKET_NAME, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", ()))


def policy_put(*statements: dict) -> None:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    s3().put_bucket_policy(Bucket=settings.BUCKET_NAME, Policy=json.dumps(document))


def deploy_doc_policy() -> dict:
    """The bucket policy docs/deploy.md gives, for this bucket, an account and a distribution."""
    match = DEPLOY_DOC_POLICY.search(DEPLOY_DOC.read_text())
    assert match, "docs/deploy.md lacks the <!-- bucket-policy:begin --> ... <!-- bucket-policy:end --> block"
    text = match.group(1).replace("<bucket>", settings.BUCKET_NAME)
    return json.loads(text.replace("<account>", "111122223333").replace("<id>", "EDFDVBD6EXAMPLE"))


def cloudfront_statement(resource: str) -> dict:
    """The statement of docs/deploy.md, on ``resource``."""
    [statement] = deploy_doc_policy()["Statement"]
    return {**statement, "Resource": resource}


def block_public_access() -> None:
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    s3().put_public_access_block(
        Bucket=settings.BUCKET_NAME, PublicAccessBlockConfiguration=dict.fromkeys(flags, True)
    )


def object_ownership(value: str) -> None:
    s3().put_bucket_ownership_controls(
        Bucket=settings.BUCKET_NAME, OwnershipControls={"Rules": [{"ObjectOwnership": value}]}
    )


def jpeg_with(*, gps: tuple[float, float] | None = None, xmp: bytes | None = None) -> bytes:
    """A small JPEG carrying what is asked (what a rendition must never carry)."""
    exif = Image.Exif()
    if gps:
        exif[0x010F] = "Canon"
        exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (30, 60, 90)).save(out, "JPEG", exif=exif, **({"xmp": xmp} if xmp else {}))
    return out.getvalue()


def webp_with_gps(size: tuple[int, int] = (600, 400)) -> bytes:
    """A WebP larger than the audit's first read (noise does not compress), its EXIF chunk at the end."""
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 30.0)})
    out = io.BytesIO()
    noise = Image.effect_noise(size, 120).convert("RGB")
    noise.save(out, "WEBP", exif=exif, quality=95)
    assert len(out.getvalue()) > 64 * 1024
    return out.getvalue()


def png_with_gps_after_its_pixels() -> bytes:
    """A PNG larger than the audit's first read whose eXIf chunk follows the image data (allowed by the
    PNG spec; Pillow itself writes it before)."""
    out = io.BytesIO()
    Image.effect_noise((400, 300), 120).convert("RGB").save(out, "PNG")
    data = out.getvalue()
    assert len(data) > 64 * 1024
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 30.0)})
    payload = exif.tobytes()
    chunk = (
        len(payload).to_bytes(4, "big") + b"eXIf" + payload + zlib.crc32(b"eXIf" + payload).to_bytes(4, "big")
    )
    end = data.rindex(b"IEND") - 4
    return data[:end] + chunk + data[end:]


def upload(curator, gallery_id: str) -> dict:
    """One photo with a location, uploaded as a curator would."""
    photo = SimpleUploadedFile("home.jpg", jpeg_bytes(640, 480, gps=ORIGINAL_GPS), content_type="image/jpeg")
    response = curator.post(f"/api/galleries/{gallery_id}/photos", {"photos": [photo]}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["photos"][0]


def new_gallery(**settings_) -> str:
    return gallery_create(name="Nests", continent="Europe", country="France", **settings_).gallery_id


@pytest.fixture
def photos(aws, curator, client):
    """A public gallery whose visitors may download originals (without their location), with a photo
    and a visitor's download copy, and a private gallery with a photo: everything the audit walks."""
    public = new_gallery(visibility="public", allow_original_download=True, location_privacy="hidden")
    private = new_gallery(visibility="private")
    photo = upload(curator, public)
    upload(curator, private)
    response = client.get(f"/api/galleries/{public}/photos/{photo['photoId']}/original")
    assert response.status_code in (301, 302, 303, 307), response.content
    [download] = bucket_keys(f"private/downloads/{public}/")
    return {"public": public, "private": private, "photo": photo, "download": download}


@pytest.fixture
def hardened(photos):
    """The bucket as docs/deploy.md sets it up: CloudFront reads renditions/ only, public access blocked,
    ACLs off."""
    s3().put_bucket_policy(Bucket=settings.BUCKET_NAME, Policy=json.dumps(deploy_doc_policy()))
    block_public_access()
    object_ownership("BucketOwnerEnforced")
    return photos


@pytest.fixture
def acls_on(photos):
    """Public access blocked, but ACLs in force (Object Ownership ObjectWriter): object ACLs are read."""
    block_public_access()
    object_ownership("ObjectWriter")
    return photos


def rendition(prefix: str, extension: str = "jpg", *, largest: bool = True) -> str:
    """The key of photo 1's largest (or smallest) rendition in ``extension`` under ``prefix``."""
    found = sorted(
        (int(parts.name), key)
        for key in bucket_keys(prefix)
        if (parts := keys.rendition_file(key)) and parts.number == 1 and parts.extension == extension
    )
    return found[-1 if largest else 0][1]


def kinds(report: dict) -> list[tuple[str, str]]:
    return [(finding["kind"], finding.get("key") or finding["setting"]) for finding in report["findings"]]


def test_a_bucket_set_up_as_deploy_md_says_is_clean(hardened):
    report, error = audit()
    assert error is None
    assert report["clean"] and report["findings"] == [] and report["warnings"] == []
    assert any("BucketOwnerEnforced" in note for note in report["notes"])
    # Everything was walked: 4 public renditions, 4 private ones, the download copy, 2 originals.
    assert report["checked"] == {
        "renditions": 4, "privateRenditions": 4, "downloads": 1, "originals": 2, "uploads": 0, "other": 0,
        "objectAcls": 0,
    }  # fmt: skip


def test_without_block_public_access_the_audit_warns_and_still_succeeds(photos):
    report, error = audit()
    assert error is None and report["findings"] == []
    warnings = {warning["kind"]: warning for warning in report["warnings"]}
    assert warnings["public-access-block"]["setting"] == "Block Public Access"
    assert "object-ownership" in warnings  # ACLs in force: every object's ACL was read, all private
    assert report["checked"]["objectAcls"] == 2 + 4 + 1


def test_some_public_access_block_settings_off_are_named(photos):
    flags = {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": True}
    s3().put_public_access_block(
        Bucket=settings.BUCKET_NAME, PublicAccessBlockConfiguration={**flags, "RestrictPublicBuckets": False}
    )
    report, error = audit()
    assert error is None
    [warning] = [warning for warning in report["warnings"] if warning["kind"] == "public-access-block"]
    assert "IgnorePublicAcls, RestrictPublicBuckets off" in warning["why"]


@pytest.mark.parametrize("extension", ["jpg", "webp"])
def test_a_rendition_carrying_gps_is_a_finding(hardened, extension):
    key = rendition(f"renditions/{hardened['public']}/", extension)
    body = jpeg_with(gps=ORIGINAL_GPS) if extension == "jpg" else webp_with_gps()
    s3().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=body, ContentType=f"image/{extension}")
    report, error = audit()
    assert error is not None and "1 privacy finding in bucket" in str(error)
    assert kinds(report) == [("rendition-metadata", key)]
    assert "GPS" in report["findings"][0]["why"] and "publicly served" in report["findings"][0]["why"]


def test_a_private_rendition_carrying_xmp_is_a_finding(hardened):
    key = rendition(f"private/renditions/{hardened['private']}/", largest=False)
    s3().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=jpeg_with(xmp=XMP_WITH_GPS))
    report, error = audit()
    assert error is not None
    assert kinds(report) == [("rendition-metadata", key)]
    assert "GPS, XMP" in report["findings"][0]["why"]


def test_an_original_readable_by_all_users_is_a_finding(acls_on):
    original = acls_on["photo"]["s3Key"]
    s3().put_object_acl(Bucket=settings.BUCKET_NAME, Key=original, ACL="public-read")
    report, error = audit()
    assert error is not None
    assert kinds(report) == [("public-acl", original)]
    assert "AllUsers READ" in report["findings"][0]["why"]


def test_a_download_copy_readable_by_authenticated_users_is_a_finding(acls_on):
    s3().put_object_acl(Bucket=settings.BUCKET_NAME, Key=acls_on["download"], ACL="authenticated-read")
    report, error = audit()
    assert error is not None
    assert kinds(report) == [("public-acl", acls_on["download"])]


def test_acls_are_not_read_when_the_bucket_owner_enforces_ownership(hardened):
    """With BucketOwnerEnforced S3 ignores ACLs (and refuses new ones); the report says none was read."""
    report, error = audit()
    assert error is None and report["checked"]["objectAcls"] == 0
    assert any("no ACL was read" in note for note in report["notes"])


@pytest.mark.parametrize(
    "principal, action",
    [("*", "s3:GetObject"), ({"AWS": "*"}, "s3:Get*"), ({"AWS": ["*"]}, "s3:*"), ("*", "*")],
)
def test_a_policy_letting_anyone_read_the_bucket_is_a_finding(photos, principal, action):
    resource = f"arn:aws:s3:::{settings.BUCKET_NAME}/*"
    policy_put(
        {
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": principal,
            "Action": action,
            "Resource": resource,
        }
    )
    report, error = audit()
    assert error is not None
    assert ("public-policy", "bucket policy statement PublicRead") in kinds(report)
    assert resource in report["findings"][0]["why"]


def test_a_policy_letting_anyone_read_originals_only_is_a_finding(photos):
    resource = f"arn:aws:s3:::{settings.BUCKET_NAME}/galleries/*"
    policy_put({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": [resource]})
    report, error = audit()
    assert error is not None
    assert kinds(report) == [("public-policy", "bucket policy statement 0")]


def test_anyone_reading_renditions_alone_is_no_finding(photos):
    """renditions/ is public by design (docs/deploy.md serves it through CloudFront instead)."""
    resource = f"arn:aws:s3:::{settings.BUCKET_NAME}/renditions/*"
    policy_put({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": resource})
    report, error = audit()
    assert error is None and report["findings"] == []


def test_a_policy_letting_anyone_list_the_bucket_is_a_finding(photos):
    resource = f"arn:aws:s3:::{settings.BUCKET_NAME}"
    policy_put(
        {"Sid": "List", "Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": resource}
    )
    report, error = audit()
    assert error is not None
    assert kinds(report) == [("public-listing", "bucket policy statement List")]


def test_cloudfront_reading_the_whole_bucket_is_a_finding(hardened):
    policy_put(cloudfront_statement(f"arn:aws:s3:::{settings.BUCKET_NAME}/*"))
    report, error = audit()
    assert error is not None
    assert kinds(report) == [("cdn-policy-too-wide", "bucket policy statement CloudFrontReadsRenditionsOnly")]
    assert "renditions/*" in report["findings"][0]["why"]


def test_cloudfront_reading_renditions_only_is_clean_and_without_its_condition_a_warning(hardened):
    statement = cloudfront_statement(f"arn:aws:s3:::{settings.BUCKET_NAME}/renditions/*")
    del statement["Condition"]
    policy_put(statement)
    report, error = audit()
    assert error is None and report["findings"] == []
    assert [warning["kind"] for warning in report["warnings"]] == ["cdn-policy-unconditioned"]


@pytest.mark.parametrize("where", ["exif", "xmp"])
def test_a_download_copy_carrying_gps_is_a_finding(hardened, where):
    key = hardened["download"]
    body = jpeg_with(gps=ORIGINAL_GPS) if where == "exif" else jpeg_with(xmp=XMP_WITH_GPS)
    s3().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=body, ContentType="image/jpeg")
    report, error = audit()
    assert error is not None
    assert kinds(report) == [("download-location", key)]
    assert f"{where.upper()} GPS" in report["findings"][0]["why"]


def test_a_png_download_copy_with_gps_after_its_pixels_is_a_finding(hardened):
    key = f"private/downloads/{hardened['public']}/{hardened['photo']['photoId']}-00112233aabbccdd.png"
    body = png_with_gps_after_its_pixels()
    assert Image.open(io.BytesIO(body)).getexif().get_ifd(0x8825)  # Pillow reads it there too
    s3().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=body, ContentType="image/png")
    report, error = audit()
    assert error is not None
    assert kinds(report) == [("download-location", key)]


def test_findings_past_the_listed_number_are_counted(hardened, monkeypatch):
    monkeypatch.setattr(scans_audit, "LISTED_PER_KIND", 1)
    planted = [f"renditions/{hardened['public']}/photo1-{name}.jpg" for name in ("thumb", "web")]
    for key in planted:
        s3().put_object(Bucket=settings.BUCKET_NAME, Key=key, Body=jpeg_with(gps=ORIGINAL_GPS))
    report, error = audit()
    assert error is not None and "2 privacy findings" in str(error)
    assert report["findingCount"] == 2 and report["findingsNotListed"] == {"rendition-metadata": 1}
    assert kinds(report) == [("rendition-metadata", planted[0])]


def test_a_private_gallerys_rendition_left_under_the_public_prefix_is_a_finding(hardened):
    private = hardened["private"]
    source = rendition(f"private/renditions/{private}/")
    left = source.removeprefix("private/")
    s3().copy_object(
        Bucket=settings.BUCKET_NAME, Key=left, CopySource={"Bucket": settings.BUCKET_NAME, "Key": source}
    )
    report, error = audit()
    assert error is not None
    assert kinds(report) == [("private-rendition-public", left)]
    why = report["findings"][0]["why"]
    assert f"manage.py update_gallery_photos --gallery-id {private} " in why
    assert f'create-invalidation --distribution-id <id> --paths "/renditions/{private}/*"' in why


def test_renditions_of_no_gallery_under_the_public_prefix_are_a_warning(hardened):
    s3().put_object(Bucket=settings.BUCKET_NAME, Key="renditions/gone/photo1-web.jpg", Body=jpeg_with())
    report, error = audit()
    assert error is None
    assert [(w["kind"], w["key"]) for w in report["warnings"]] == [
        ("renditions-of-no-gallery", "renditions/gone/")
    ]


def test_user_metadata_naming_a_location_on_a_rendition_is_a_finding(hardened):
    key = rendition(f"renditions/{hardened['public']}/", "webp", largest=False)
    s3().copy_object(
        Bucket=settings.BUCKET_NAME,
        Key=key,
        CopySource={"Bucket": settings.BUCKET_NAME, "Key": key},
        Metadata={"gps-lat": "48.8584", "camera": "Canon"},
        MetadataDirective="REPLACE",
    )
    report, error = audit()
    assert error is not None
    assert kinds(report) == [("rendition-user-metadata", key)]
    assert "x-amz-meta-gps-lat" in report["findings"][0]["why"]


def test_gallery_id_limits_the_walk_to_that_gallerys_objects(hardened):
    planted = f"renditions/{hardened['public']}/photo1-web.jpg"
    s3().put_object(Bucket=settings.BUCKET_NAME, Key=planted, Body=jpeg_with(gps=ORIGINAL_GPS))
    report, error = audit("--gallery-id", hardened["private"])
    assert error is None and report["galleryId"] == hardened["private"]
    assert report["checked"]["privateRenditions"] == 4 and report["checked"]["renditions"] == 0
    report, error = audit("--gallery-id", hardened["public"])
    assert error is not None and kinds(report) == [("rendition-metadata", planted)]


@pytest.mark.parametrize("command", ["audit_privacy", "update_gallery_photos", "update_galleries_metadata"])
def test_the_audit_names_the_gallery_as_the_scans_do(command):
    """One spelling for every command an operator runs on a gallery: --gallery-id, read as gallery_id."""
    parser = load_command_class("scans", command).create_parser("manage.py", command)
    [action] = [action for action in parser._actions if "--gallery-id" in action.option_strings]
    assert action.option_strings == ["--gallery-id"] and action.dest == "gallery_id"


def test_a_gallery_id_that_cannot_be_one_is_refused(aws):
    with pytest.raises(CommandError, match="cannot be a gallery id"):
        call_command("audit_privacy", "--gallery-id", "../galleries", stdout=io.StringIO())


def test_the_text_report_names_each_finding_and_the_exit_is_an_error(acls_on):
    original = acls_on["photo"]["s3Key"]
    s3().put_object_acl(Bucket=settings.BUCKET_NAME, Key=original, ACL="public-read")
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("audit_privacy", stdout=out)
    text = out.getvalue()
    assert text.startswith(f"Privacy audit of bucket {settings.BUCKET_NAME}: 1 finding, 1 warning.")
    assert f"  public-acl: {original}\n" in text and "AllUsers READ" in text
    assert "Checked: 4 public renditions, 4 private renditions, 1 download copy, 2 originals" in text
    assert raised.value.returncode == 1  # manage.py exits with it


def test_what_the_local_emulator_cannot_answer_is_a_warning_and_the_audit_succeeds(photos, monkeypatch):
    """s3rver answers MethodNotAllowed for a bucket policy and NotImplemented for Block Public Access,
    bucket ACLs and (here) Object Ownership: the audit says each was not judged and exits 0."""
    monkeypatch.setattr(storage, "_on_aws", lambda: False)  # the emulator's endpoint, not AWS's
    answers = {
        "GetBucketPolicy": "MethodNotAllowed",
        "GetPublicAccessBlock": "NotImplemented",
        "GetBucketOwnershipControls": "NotImplemented",
        "GetBucketAcl": "NotImplemented",
    }
    with ExitStack() as stack:
        for operation, code in answers.items():
            stack.enter_context(fail_nth(operation, 1, times=100, code=code))
        report, error = audit()
    assert error is None and report["findings"] == []
    assert {warning["setting"] for warning in report["warnings"]} == {
        "bucket policy", "Block Public Access", "Object Ownership", "bucket ACL",
    }  # fmt: skip
    assert all(warning["kind"] == "not-judged" for warning in report["warnings"])
    assert report["checked"]["objectAcls"] == 7  # object ACLs still read one by one
