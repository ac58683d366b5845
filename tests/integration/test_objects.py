from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
from datetime import UTC, datetime, timedelta

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.integration.test_buckets import error_of


def test_put_get_small_object_with_metadata(s3, bucket) -> None:
    body = os.urandom(1024)
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/small.bin",
        Body=body,
        ContentType="image/png",
        Metadata={"color": "blue"},
        ContentDisposition="attachment",
        CacheControl="max-age=60",
        ContentEncoding="identity",
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/small.bin")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "image/png"
    assert got["Metadata"] == {"color": "blue"}
    assert got["ContentDisposition"] == "attachment"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentLength"] == 1024
    head = s3.head_object(Bucket=bucket, Key="dir/small.bin")
    assert head["ContentLength"] == 1024 and head["ETag"] == put["ETag"]


def test_put_get_large_object_streams(s3, bucket) -> None:
    body = os.urandom(5 * 1024 * 1024 + 123)
    put = s3.put_object(Bucket=bucket, Key="large.bin", Body=body)
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert s3.get_object(Bucket=bucket, Key="large.bin")["Body"].read() == body


def test_empty_object(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ETag"] == f'"{hashlib.md5(b"").hexdigest()}"'


def test_overwrite_replaces_object(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"a" * 200_000)
    s3.put_object(Bucket=bucket, Key="k", Body=b"b" * 100)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"b" * 100


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", slice(0, 10)),
        ("bytes=100-", slice(100, None)),
        ("bytes=-50", slice(-50, None)),
        ("bytes=1048570-1048600", slice(1048570, 1048601)),
        ("bytes=10-999999999", slice(10, None)),
    ],
)
def test_ranged_get(s3, bucket, header: str, expected: slice) -> None:
    body = os.urandom(2 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="ranged", Body=body)
    got = s3.get_object(Bucket=bucket, Key="ranged", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == body[expected]
    assert got["ContentRange"].startswith("bytes ")


def test_unsatisfiable_range(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="short", Body=b"0123456789")
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="short", Range="bytes=10-20")
    assert error_of(excinfo) == ("InvalidRange", 416)


def test_conditional_get(s3, bucket) -> None:
    etag = s3.put_object(Bucket=bucket, Key="cond", Body=b"data")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag)["Body"].read() == b"data"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="cond", IfMatch='"0000"')
    assert error_of(excinfo) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    future = datetime.now(UTC) + timedelta(days=1)
    past = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="cond", IfModifiedSince=future)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=past)
    assert error_of(excinfo) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="cond", IfModifiedSince=past)["Body"].read() == b"data"


def test_content_md5_mismatch_is_bad_digest_and_stores_nothing(s3, bucket) -> None:
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    for size in (10, 300_000):
        with pytest.raises(ClientError) as excinfo:
            s3.put_object(Bucket=bucket, Key="digest", Body=b"x" * size, ContentMD5=wrong)
        assert error_of(excinfo) == ("BadDigest", 400)
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_content_md5_match_is_accepted(s3, bucket) -> None:
    body = b"checked" * 1000
    digest = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="digest-ok", Body=body, ContentMD5=digest)
    assert s3.get_object(Bucket=bucket, Key="digest-ok")["Body"].read() == body


def test_missing_key(s3, bucket) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="nope")
    assert error_of(excinfo) == ("NoSuchKey", 404)
    assert excinfo.value.response["ResponseMetadata"]["RequestId"]


def test_delete_object_then_missing(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="gone")
    # Deleting a missing key succeeds, as on S3.
    assert s3.delete_object(Bucket=bucket, Key="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204


@pytest.mark.parametrize(
    "key", ["a b", "plus+sign", "percent%20", "unicodé/ключ", "trailing/", "a//b", "~!@$&*()=:;,'"]
)
def test_keys_with_special_characters(s3, bucket, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    s3.delete_object(Bucket=bucket, Key=key)


def test_upload_fileobj_and_download(s3, bucket) -> None:
    body = os.urandom(9 * 1024 * 1024)
    single_part = TransferConfig(multipart_threshold=64 * 1024 * 1024)
    s3.upload_fileobj(io.BytesIO(body), bucket, "managed", Config=single_part)
    out = io.BytesIO()
    s3.download_fileobj(bucket, "managed", out)
    assert out.getvalue() == body


def test_a_gzip_encoded_body_is_stored_as_sent(s3, bucket) -> None:
    compressed = gzip.compress(b"hello " * 1000)
    put = s3.put_object(Bucket=bucket, Key="page.html.gz", Body=compressed, ContentEncoding="gzip")
    assert put["ETag"] == f'"{hashlib.md5(compressed).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="page.html.gz")
    assert got["ContentEncoding"] == "gzip"
    assert got["ContentLength"] == len(compressed)
    assert got["Body"].read() == compressed
