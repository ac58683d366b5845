"""x-amz-expected-bucket-owner (and x-amz-source-expected-bucket-owner for copies), through boto3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_buckets import error_of

OWNER_ACCOUNT_ID = "123456789012"  # accessKey1's account (default authdata arn)
OTHER_ACCOUNT_ID = "123456789013"


def _operations(bucket: str) -> dict[str, Callable[..., Any]]:
    """One call per bucket or object operation, each taking ExpectedBucketOwner as keyword."""
    return {
        "HeadBucket": lambda s3, **kw: s3.head_bucket(Bucket=bucket, **kw),
        "GetBucketLocation": lambda s3, **kw: s3.get_bucket_location(Bucket=bucket, **kw),
        "GetBucketVersioning": lambda s3, **kw: s3.get_bucket_versioning(Bucket=bucket, **kw),
        "GetBucketAcl": lambda s3, **kw: s3.get_bucket_acl(Bucket=bucket, **kw),
        "ListObjects": lambda s3, **kw: s3.list_objects(Bucket=bucket, **kw),
        "ListObjectsV2": lambda s3, **kw: s3.list_objects_v2(Bucket=bucket, **kw),
        "ListObjectVersions": lambda s3, **kw: s3.list_object_versions(Bucket=bucket, **kw),
        "ListMultipartUploads": lambda s3, **kw: s3.list_multipart_uploads(Bucket=bucket, **kw),
        "HeadObject": lambda s3, **kw: s3.head_object(Bucket=bucket, Key="present", **kw),
        "GetObject": lambda s3, **kw: s3.get_object(Bucket=bucket, Key="present", **kw),
        "GetObjectAcl": lambda s3, **kw: s3.get_object_acl(Bucket=bucket, Key="present", **kw),
        "GetObjectTagging": lambda s3, **kw: s3.get_object_tagging(Bucket=bucket, Key="present", **kw),
        "GetObjectAttributes": lambda s3, **kw: s3.get_object_attributes(
            Bucket=bucket, Key="present", ObjectAttributes=["ETag"], **kw
        ),
    }


@pytest.fixture
def with_object(s3, bucket: str) -> str:
    s3.put_object(Bucket=bucket, Key="present", Body=b"data")
    return bucket


@pytest.mark.parametrize(
    "operation",
    list(_operations("b")),
)
def test_wrong_expected_owner_is_access_denied(s3, with_object: str, operation: str) -> None:
    call = _operations(with_object)[operation]
    with pytest.raises(ClientError) as excinfo:
        call(s3, ExpectedBucketOwner=OTHER_ACCOUNT_ID)
    # HEAD answers carry no body, so botocore names the error by its status.
    expected_code = "403" if operation.startswith("Head") else "AccessDenied"
    assert error_of(excinfo) == (expected_code, 403)


@pytest.mark.parametrize("operation", list(_operations("b")))
def test_matching_account_id_or_canonical_id_is_accepted(s3, with_object: str, operation: str) -> None:
    call = _operations(with_object)[operation]
    canonical_id = s3.list_buckets()["Owner"]["ID"]
    for expected in (OWNER_ACCOUNT_ID, canonical_id):
        response = call(s3, ExpectedBucketOwner=expected)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_writes_with_wrong_expected_owner_change_nothing(s3, with_object: str) -> None:
    bucket = with_object
    denied: list[Callable[[], Any]] = [
        lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x", ExpectedBucketOwner=OTHER_ACCOUNT_ID),
        lambda: s3.delete_object(Bucket=bucket, Key="present", ExpectedBucketOwner=OTHER_ACCOUNT_ID),
        lambda: s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": "present"}]}, ExpectedBucketOwner=OTHER_ACCOUNT_ID
        ),
        lambda: s3.put_object_tagging(
            Bucket=bucket,
            Key="present",
            Tagging={"TagSet": [{"Key": "k", "Value": "v"}]},
            ExpectedBucketOwner=OTHER_ACCOUNT_ID,
        ),
        lambda: s3.put_bucket_versioning(
            Bucket=bucket,
            VersioningConfiguration={"Status": "Enabled"},
            ExpectedBucketOwner=OTHER_ACCOUNT_ID,
        ),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="mpu", ExpectedBucketOwner=OTHER_ACCOUNT_ID),
        lambda: s3.delete_bucket(Bucket=bucket, ExpectedBucketOwner=OTHER_ACCOUNT_ID),
    ]
    for call in denied:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("AccessDenied", 403)
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["present"]
    assert s3.get_object_tagging(Bucket=bucket, Key="present")["TagSet"] == []
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # The matching owner writes.
    s3.put_object(Bucket=bucket, Key="new", Body=b"x", ExpectedBucketOwner=OWNER_ACCOUNT_ID)
    s3.delete_object(Bucket=bucket, Key="new", ExpectedBucketOwner=OWNER_ACCOUNT_ID)


def test_copy_checks_source_and_destination_owners(s3, with_object: str) -> None:
    bucket = with_object
    source = {"Bucket": bucket, "Key": "present"}
    for headers in (
        {"ExpectedSourceBucketOwner": OTHER_ACCOUNT_ID},
        {"ExpectedBucketOwner": OTHER_ACCOUNT_ID},
        {"ExpectedSourceBucketOwner": OWNER_ACCOUNT_ID, "ExpectedBucketOwner": OTHER_ACCOUNT_ID},
    ):
        with pytest.raises(ClientError) as excinfo:
            s3.copy_object(Bucket=bucket, Key="copy", CopySource=source, **headers)
        assert error_of(excinfo) == ("AccessDenied", 403)
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["present"]
    s3.copy_object(
        Bucket=bucket,
        Key="copy",
        CopySource=source,
        ExpectedSourceBucketOwner=OWNER_ACCOUNT_ID,
        ExpectedBucketOwner=OWNER_ACCOUNT_ID,
    )
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"data"


def test_upload_part_copy_checks_the_source_owner(s3, with_object: str) -> None:
    bucket = with_object
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mpu")["UploadId"]
    try:
        with pytest.raises(ClientError) as excinfo:
            s3.upload_part_copy(
                Bucket=bucket,
                Key="mpu",
                UploadId=upload_id,
                PartNumber=1,
                CopySource={"Bucket": bucket, "Key": "present"},
                ExpectedSourceBucketOwner=OTHER_ACCOUNT_ID,
            )
        assert error_of(excinfo) == ("AccessDenied", 403)
        assert s3.list_parts(Bucket=bucket, Key="mpu", UploadId=upload_id).get("Parts", []) == []
        s3.upload_part_copy(
            Bucket=bucket,
            Key="mpu",
            UploadId=upload_id,
            PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "present"},
            ExpectedSourceBucketOwner=OWNER_ACCOUNT_ID,
        )
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="mpu", UploadId=upload_id)
