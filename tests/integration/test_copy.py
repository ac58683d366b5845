from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import OTHER_ACCESS_KEY, OTHER_SECRET_KEY, s3_client
from tests.integration.test_buckets import error_of


@pytest.fixture
def other_bucket(s3):
    name = f"copy-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def put_source(s3, bucket: str, body: bytes, key: str = "src") -> dict:
    return s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType="text/plain",
        CacheControl="max-age=60",
        Metadata={"color": "blue"},
        Tagging="team=storage",
    )


@pytest.mark.parametrize("size", [0, 1000, 3 * 1024 * 1024 + 7])
def test_copy_within_bucket_copies_data_and_metadata(s3, bucket, size: int) -> None:
    body = os.urandom(size)
    put = put_source(s3, bucket, body)
    result = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert result["CopyObjectResult"]["ETag"] == put["ETag"]
    assert result["CopyObjectResult"]["LastModified"]
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["CacheControl"] == "max-age=60"
    assert got["Metadata"] == {"color": "blue"}
    assert got["TagCount"] == 1


def test_copy_across_buckets_with_special_key(s3, bucket, other_bucket) -> None:
    key = "dir/a b+c?d&é"
    s3.put_object(Bucket=bucket, Key=key, Body=b"special")
    s3.copy_object(Bucket=other_bucket, Key="copied", CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=other_bucket, Key="copied")["Body"].read() == b"special"
    # The string form (botocore percent-encodes it), with a leading slash.
    s3.put_object(Bucket=bucket, Key="sub/x y+z", Body=b"plain")
    s3.copy_object(Bucket=other_bucket, Key="copied2", CopySource=f"/{bucket}/sub/x y+z")
    assert s3.get_object(Bucket=other_bucket, Key="copied2")["Body"].read() == b"plain"


def test_replace_directive_takes_the_request_metadata(s3, bucket) -> None:
    put_source(s3, bucket, b"data")
    s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        ContentType="application/json",
        Metadata={"shape": "round"},
    )
    got = s3.head_object(Bucket=bucket, Key="dst")
    assert got["ContentType"] == "application/json"
    assert got["Metadata"] == {"shape": "round"}
    assert "CacheControl" not in got


def test_copy_onto_itself_needs_replace(s3, bucket) -> None:
    put_source(s3, bucket, b"data")
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    assert error_of(excinfo) == ("InvalidRequest", 400)
    s3.copy_object(
        Bucket=bucket,
        Key="src",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        Metadata={"new": "value"},
    )
    got = s3.get_object(Bucket=bucket, Key="src")
    assert got["Body"].read() == b"data"
    assert got["Metadata"] == {"new": "value"}


def test_tagging_directive(s3, bucket) -> None:
    put_source(s3, bucket, b"data")
    s3.copy_object(Bucket=bucket, Key="copied-tags", CopySource={"Bucket": bucket, "Key": "src"})
    assert s3.get_object_tagging(Bucket=bucket, Key="copied-tags")["TagSet"] == [
        {"Key": "team", "Value": "storage"}
    ]
    s3.copy_object(
        Bucket=bucket,
        Key="new-tags",
        CopySource={"Bucket": bucket, "Key": "src"},
        TaggingDirective="REPLACE",
        Tagging="a=1&b=2",
    )
    tags = s3.get_object_tagging(Bucket=bucket, Key="new-tags")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "2")]
    s3.copy_object(
        Bucket=bucket, Key="no-tags", CopySource={"Bucket": bucket, "Key": "src"}, TaggingDirective="REPLACE"
    )
    assert s3.get_object_tagging(Bucket=bucket, Key="no-tags")["TagSet"] == []


@pytest.mark.parametrize(
    ("header", "value"),
    [("MetadataDirective", "MOVE"), ("TaggingDirective", "KEEP")],
)
def test_unknown_directive_is_invalid_argument(s3, bucket, header: str, value: str) -> None:
    put_source(s3, bucket, b"data")
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(
            Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, **{header: value}
        )
    assert error_of(excinfo) == ("InvalidArgument", 400)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="dst")


def test_copy_source_conditions(s3, bucket) -> None:
    etag = put_source(s3, bucket, b"data")["ETag"]
    source = {"Bucket": bucket, "Key": "src"}
    past = datetime.now(UTC) - timedelta(days=1)
    future = datetime.now(UTC) + timedelta(days=1)
    s3.copy_object(Bucket=bucket, Key="ok1", CopySource=source, CopySourceIfMatch=etag)
    s3.copy_object(Bucket=bucket, Key="ok2", CopySource=source, CopySourceIfNoneMatch='"other"')
    s3.copy_object(Bucket=bucket, Key="ok3", CopySource=source, CopySourceIfModifiedSince=past)
    s3.copy_object(Bucket=bucket, Key="ok4", CopySource=source, CopySourceIfUnmodifiedSince=future)
    failing = [
        {"CopySourceIfMatch": '"other"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": future},
        {"CopySourceIfUnmodifiedSince": past},
    ]
    for condition in failing:
        with pytest.raises(ClientError) as excinfo:
            s3.copy_object(Bucket=bucket, Key="failed", CopySource=source, **condition)
        assert error_of(excinfo) == ("PreconditionFailed", 412), condition
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert "failed" not in keys


def test_missing_source_errors(s3, bucket) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "absent"})
    assert error_of(excinfo) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": "no-such-bucket-here", "Key": "k"})
    assert error_of(excinfo) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}")
    assert error_of(excinfo) == ("InvalidArgument", 400)


def test_copy_from_another_accounts_bucket_is_denied(s3, server, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="private", Body=b"secret")
    other = s3_client(server.url, OTHER_ACCESS_KEY, OTHER_SECRET_KEY)
    name = f"other-{uuid.uuid4().hex[:12]}"
    other.create_bucket(Bucket=name)
    try:
        with pytest.raises(ClientError) as excinfo:
            other.copy_object(Bucket=name, Key="stolen", CopySource={"Bucket": bucket, "Key": "private"})
        assert error_of(excinfo) == ("AccessDenied", 403)
        assert other.list_objects_v2(Bucket=name).get("KeyCount") == 0
    finally:
        other.delete_bucket(Bucket=name)


def test_copy_over_an_existing_object_replaces_it(s3, bucket) -> None:
    put_source(s3, bucket, b"new data")
    s3.put_object(Bucket=bucket, Key="dst", Body=b"old data that is longer")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"new data"


def test_copy_a_specific_source_version(s3, bucket) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    try:
        old = s3.put_object(Bucket=bucket, Key="src", Body=b"old")["VersionId"]
        s3.put_object(Bucket=bucket, Key="src", Body=b"new")
        result = s3.copy_object(
            Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": old}
        )
        assert result["CopySourceVersionId"] == old
        assert result["VersionId"]
        assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"old"
        # Restoring an old version onto the same key is a legal self copy.
        s3.copy_object(
            Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src", "VersionId": old}
        )
        assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == b"old"
        s3.delete_object(Bucket=bucket, Key="src")
        with pytest.raises(ClientError) as excinfo:
            s3.copy_object(Bucket=bucket, Key="dst2", CopySource={"Bucket": bucket, "Key": "src"})
        assert error_of(excinfo) == ("NoSuchKey", 404)
    finally:
        for kind in ("Versions", "DeleteMarkers"):
            for version in s3.list_object_versions(Bucket=bucket).get(kind, []):
                s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
