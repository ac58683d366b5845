from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import OTHER_ACCESS_KEY, OTHER_SECRET_KEY, other_location, s3_client


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_created_bucket_is_listed_with_owner(s3) -> None:
    s3.create_bucket(Bucket="listed-bucket")
    try:
        listing = s3.list_buckets()
        assert "listed-bucket" in [b["Name"] for b in listing["Buckets"]]
        assert listing["Owner"]["ID"]
        assert listing["Owner"]["DisplayName"]
    finally:
        s3.delete_bucket(Bucket="listed-bucket")
    assert "listed-bucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_each_account_sees_only_its_buckets(s3, server) -> None:
    other = s3_client(server.url, OTHER_ACCESS_KEY, OTHER_SECRET_KEY)
    s3.create_bucket(Bucket="first-account-bucket")
    try:
        assert "first-account-bucket" not in [b["Name"] for b in other.list_buckets()["Buckets"]]
        assert other.list_buckets()["Owner"]["ID"] != s3.list_buckets()["Owner"]["ID"]
        with pytest.raises(ClientError) as excinfo:
            other.put_object(Bucket="first-account-bucket", Key="k", Body=b"x")
        assert error_of(excinfo) == ("AccessDenied", 403)
    finally:
        s3.delete_bucket(Bucket="first-account-bucket")


def test_head_and_location_of_bucket(s3, bucket) -> None:
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None


def test_bucket_with_location_constraint(server, s3) -> None:
    location = other_location(server)
    s3.create_bucket(Bucket="located-bucket", CreateBucketConfiguration={"LocationConstraint": location})
    try:
        assert s3.get_bucket_location(Bucket="located-bucket")["LocationConstraint"] == location
        s3.put_object(Bucket="located-bucket", Key="k", Body=b"on another location" * 10000)
        assert (
            s3.get_object(Bucket="located-bucket", Key="k")["Body"].read() == b"on another location" * 10000
        )
        s3.delete_object(Bucket="located-bucket", Key="k")
    finally:
        s3.delete_bucket(Bucket="located-bucket")


def test_unknown_location_constraint_is_rejected(s3) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket="nowhere-bucket", CreateBucketConfiguration={"LocationConstraint": "mars-1"})
    assert error_of(excinfo) == ("InvalidLocationConstraint", 400)
    assert "nowhere-bucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_bucket_name_taken_by_another_account(s3, server, bucket) -> None:
    other = s3_client(server.url, OTHER_ACCESS_KEY, OTHER_SECRET_KEY)
    with pytest.raises(ClientError) as excinfo:
        other.create_bucket(Bucket=bucket)
    assert error_of(excinfo) == ("BucketAlreadyExists", 409)


def test_delete_non_empty_bucket_fails(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket=bucket)
    assert error_of(excinfo) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=bucket, Key="keep")


def test_missing_bucket(s3) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.list_objects_v2(Bucket="no-such-bucket-here")
    assert error_of(excinfo) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket="no-such-bucket-here")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize("name", ["ab", "UpperCase", "under_score", "-leading", "a" * 64, "192.168.1.1"])
def test_invalid_bucket_names(s3, name: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket=name)
    assert error_of(excinfo) == ("InvalidBucketName", 400)
