from __future__ import annotations

import http.client
import urllib.parse
import uuid

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    ACCESS_KEY,
    OTHER_ACCESS_KEY,
    OTHER_SECRET_KEY,
    SECRET_KEY,
    other_location,
    s3_client,
)
from tests.integration.test_buckets import error_of

LONG_KEY = "k" * 1025
MAX_KEY = "k" * 1024


def test_key_of_1024_bytes_is_accepted(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key=MAX_KEY, Body=b"x")
    assert s3.get_object(Bucket=bucket, Key=MAX_KEY)["Body"].read() == b"x"
    s3.delete_object(Bucket=bucket, Key=MAX_KEY)


@pytest.mark.parametrize("key", [LONG_KEY, "é" * 513])
def test_key_too_long_on_put(s3, bucket, key: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert error_of(excinfo) == ("KeyTooLongError", 400)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_key_too_long_on_other_object_operations(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    calls = [
        lambda: s3.get_object(Bucket=bucket, Key=LONG_KEY),
        lambda: s3.copy_object(Bucket=bucket, Key=LONG_KEY, CopySource={"Bucket": bucket, "Key": "src"}),
        lambda: s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": LONG_KEY}),
        lambda: s3.get_object_tagging(Bucket=bucket, Key=LONG_KEY),
        lambda: s3.put_object_tagging(Bucket=bucket, Key=LONG_KEY, Tagging={"TagSet": []}),
    ]
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("KeyTooLongError", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key=LONG_KEY)
    assert error_of(excinfo)[1] == 400
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["src"]


def test_user_metadata_limit(s3, bucket) -> None:
    # 2 KiB counts names and values (without the x-amz-meta- prefix).
    s3.put_object(Bucket=bucket, Key="fits", Body=b"x", Metadata={"a": "v" * 2047})
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="too-big", Body=b"x", Metadata={"a": "v" * 2048})
    assert error_of(excinfo) == ("MetadataTooLarge", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(
            Bucket=bucket,
            Key="too-big",
            CopySource={"Bucket": bucket, "Key": "fits"},
            MetadataDirective="REPLACE",
            Metadata={"b": "v" * 3000},
        )
    assert error_of(excinfo) == ("MetadataTooLarge", 400)
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["fits"]


def raw_request(url: str, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """Sends only the request head (a body of the declared size is never sent)."""
    headers = {**headers, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    request = AWSRequest(method=method, url=url + path, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(request)
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in request.headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_single_put_over_5_gib_is_entity_too_large(server, s3, bucket) -> None:
    status, body = raw_request(server.url, "PUT", f"/{bucket}/huge", {"Content-Length": str(5 * 1024**3 + 1)})
    assert status == 400
    assert b"<Code>EntityTooLarge</Code>" in body
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_unknown_subresource_is_not_implemented(server, bucket) -> None:
    status, body = raw_request(server.url, "GET", f"/{bucket}?analytics&id=x", {})
    assert status == 501
    assert b"<Code>NotImplemented</Code>" in body


def test_invalid_tagging_header_names_the_argument(server, bucket) -> None:
    status, body = raw_request(
        server.url, "PUT", f"/{bucket}/k", {"Content-Length": "0", "x-amz-tagging": "a=%FF"}
    )
    assert status == 400
    assert b"<Code>InvalidArgument</Code>" in body
    assert b"<ArgumentName>x-amz-tagging</ArgumentName>" in body


def test_bucket_owned_by_you_in_us_east_1_is_ok(s3) -> None:
    name = f"owned-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    try:
        # legacyAwsBehavior (us-east-1): re-creating your own bucket answers 200.
        assert s3.create_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        s3.delete_bucket(Bucket=name)


def test_bucket_owned_by_you_elsewhere_is_conflict(server, s3) -> None:
    name = f"owned-{uuid.uuid4().hex[:12]}"
    config = {"LocationConstraint": other_location(server)}
    s3.create_bucket(Bucket=name, CreateBucketConfiguration=config)
    try:
        with pytest.raises(ClientError) as excinfo:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration=config)
        assert error_of(excinfo) == ("BucketAlreadyOwnedByYou", 409)
    finally:
        s3.delete_bucket(Bucket=name)


def test_another_accounts_bucket(server, s3) -> None:
    name = f"theirs-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    other = s3_client(server.url, OTHER_ACCESS_KEY, OTHER_SECRET_KEY)
    try:
        with pytest.raises(ClientError) as excinfo:
            other.create_bucket(Bucket=name)
        assert error_of(excinfo) == ("BucketAlreadyExists", 409)
        for call in (
            lambda: other.list_objects_v2(Bucket=name),
            lambda: other.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}),
            lambda: other.get_bucket_tagging(Bucket=name),
        ):
            with pytest.raises(ClientError) as excinfo:
                call()
            assert error_of(excinfo) == ("AccessDenied", 403)
        mine, theirs = s3.list_buckets(), other.list_buckets()
        assert name in [b["Name"] for b in mine["Buckets"]]
        assert name not in [b["Name"] for b in theirs["Buckets"]]
        assert mine["Owner"]["ID"] != theirs["Owner"]["ID"]
        assert mine["Owner"]["DisplayName"] != theirs["Owner"]["DisplayName"]
    finally:
        s3.delete_bucket(Bucket=name)
