"""What an application's integration tests would check against an S3 store."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

MIB = 1024 * 1024


def test_put_then_get_returns_the_same_bytes(s3: Any, bucket: str) -> None:
    body = os.urandom(70_000)
    s3.put_object(Bucket=bucket, Key="reports/2026/q4.bin", Body=body, ContentType="application/octet-stream")

    got = s3.get_object(Bucket=bucket, Key="reports/2026/q4.bin")

    assert got["Body"].read() == body
    assert got["ContentType"] == "application/octet-stream"
    assert got["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'


def test_missing_key_is_no_such_key(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="never-written")
    assert raised.value.response["Error"]["Code"] == "NoSuchKey"


def test_list_by_prefix_and_delimiter(s3: Any, bucket: str) -> None:
    for key in ("photos/2025/a.jpg", "photos/2026/b.jpg", "photos/2026/c.jpg", "notes.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())

    everything = s3.list_objects_v2(Bucket=bucket)
    folders = s3.list_objects_v2(Bucket=bucket, Prefix="photos/", Delimiter="/")
    paged = s3.list_objects_v2(Bucket=bucket, Prefix="photos/", MaxKeys=2)

    assert [o["Key"] for o in everything["Contents"]] == [
        "notes.txt",
        "photos/2025/a.jpg",
        "photos/2026/b.jpg",
        "photos/2026/c.jpg",
    ]
    assert [p["Prefix"] for p in folders["CommonPrefixes"]] == ["photos/2025/", "photos/2026/"]
    assert paged["IsTruncated"] and paged["KeyCount"] == 2
    rest = s3.list_objects_v2(
        Bucket=bucket, Prefix="photos/", ContinuationToken=paged["NextContinuationToken"]
    )
    assert [o["Key"] for o in rest["Contents"]] == ["photos/2026/c.jpg"]


def test_multipart_upload_assembles_the_parts_in_order(s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(123)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="backup.tar")
    etags = [
        s3.upload_part(Bucket=bucket, Key="backup.tar", UploadId=upload["UploadId"], PartNumber=n, Body=part)[
            "ETag"
        ]
        for n, part in enumerate(parts, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="backup.tar",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, start=1)]},
    )

    got = s3.get_object(Bucket=bucket, Key="backup.tar")

    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"].endswith('-3"')


def test_versioning_keeps_old_versions_and_delete_leaves_a_marker(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="config.json", Body=b'{"v": 1}')["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="config.json", Body=b'{"v": 2}')["VersionId"]

    s3.delete_object(Bucket=bucket, Key="config.json")

    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="config.json")
    assert raised.value.response["Error"]["Code"] == "NoSuchKey"
    old = s3.get_object(Bucket=bucket, Key="config.json", VersionId=first)["Body"].read()
    assert old == b'{"v": 1}'
    versions = s3.list_object_versions(Bucket=bucket, Prefix="config.json")
    assert [v["VersionId"] for v in versions["Versions"]] == [second, first]
    assert len(versions["DeleteMarkers"]) == 1 and versions["DeleteMarkers"][0]["IsLatest"]
