"""Object sub-resources on a delete marker answer as the seed's "Delete Markers" section lists."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_buckets import error_of

TAGS = {"TagSet": [{"Key": "k", "Value": "v"}]}


@pytest.fixture
def marker(s3, bucket) -> tuple[str, str, str]:
    """A versioned bucket whose key "doc" has one version under a delete marker."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="doc", Body=b"v1")["VersionId"]
    marker_id = s3.delete_object(Bucket=bucket, Key="doc")["VersionId"]
    yield bucket, version, marker_id
    for entry in s3.list_object_versions(Bucket=bucket).get("Versions", []) + s3.list_object_versions(
        Bucket=bucket
    ).get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])


def test_put_tagging_on_a_delete_marker_is_method_not_allowed(s3, marker) -> None:
    bucket, _, marker_id = marker
    with pytest.raises(ClientError) as excinfo:
        s3.put_object_tagging(Bucket=bucket, Key="doc", Tagging=TAGS)
    assert error_of(excinfo) == ("MethodNotAllowed", 405)
    with pytest.raises(ClientError) as excinfo:
        s3.put_object_tagging(Bucket=bucket, Key="doc", VersionId=marker_id, Tagging=TAGS)
    assert error_of(excinfo) == ("MethodNotAllowed", 405)


def test_reads_of_a_delete_marker(s3, marker) -> None:
    bucket, version, marker_id = marker
    for call in (s3.get_object_tagging, s3.get_object_acl):
        with pytest.raises(ClientError) as excinfo:
            call(Bucket=bucket, Key="doc")
        assert error_of(excinfo) == ("NoSuchKey", 404)
        with pytest.raises(ClientError) as excinfo:
            call(Bucket=bucket, Key="doc", VersionId=marker_id)
        assert error_of(excinfo) == ("MethodNotAllowed", 405)
    # The version under the marker is still reachable by id.
    s3.put_object_tagging(Bucket=bucket, Key="doc", VersionId=version, Tagging=TAGS)
    assert s3.get_object_tagging(Bucket=bucket, Key="doc", VersionId=version)["TagSet"] == TAGS["TagSet"]
    acl = s3.get_object_acl(Bucket=bucket, Key="doc", VersionId=version)
    assert acl["Grants"][0]["Permission"] == "FULL_CONTROL"


def test_object_from_before_versioning_reads_as_the_null_version(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="old", Body=b"before")
    assert "VersionId" not in s3.head_object(Bucket=bucket, Key="old")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.head_object(Bucket=bucket, Key="old")["VersionId"] == "null"
    assert s3.get_object(Bucket=bucket, Key="old", VersionId="null")["Body"].read() == b"before"
    s3.delete_object(Bucket=bucket, Key="old", VersionId="null")
