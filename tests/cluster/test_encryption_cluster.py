"""SSE-S3 across processes: an object sealed by one gateway opens through another (they share the
key directory), and the datanodes hold only its ciphertext."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from strata.testing.cluster import LocalCluster
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster

MIB = 1024 * 1024


def _datanode_bytes(cluster: LocalCluster) -> bytes:
    found = b""
    for path in Path(cluster.workdir).rglob("*"):
        if path.is_file() and "datanode" in str(path.relative_to(cluster.workdir)) and path.suffix != ".log":
            found += path.read_bytes()
    return found


def test_an_object_encrypted_through_one_gateway_reads_through_another(cluster: LocalCluster) -> None:
    first_url, second_url = cluster.gateway_urls[:2]
    writer, reader = s3_client(first_url), s3_client(second_url)
    bucket = f"cl-sse-{uuid.uuid4().hex[:8]}"
    writer.create_bucket(Bucket=bucket)
    secret = b"CLUSTER-SECRET-MARKER-91d2 " * (MIB // 8)  # ~3.4 MiB: several chunks, in blobs
    clear = b"CLUSTER-CLEAR-MARKER-4e77 " * (MIB // 8)
    put = writer.put_object(Bucket=bucket, Key="secret", Body=secret, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert put["ETag"] == f'"{hashlib.md5(secret).hexdigest()}"'
    writer.put_object(Bucket=bucket, Key="clear", Body=clear)

    got = reader.get_object(Bucket=bucket, Key="secret")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == secret
    ranged = reader.get_object(Bucket=bucket, Key="secret", Range=f"bytes={MIB - 3}-{MIB + 2}")
    assert ranged["Body"].read() == secret[MIB - 3 : MIB + 3]
    assert reader.head_object(Bucket=bucket, Key="secret")["ContentLength"] == len(secret)

    stored = _datanode_bytes(cluster)
    assert b"CLUSTER-CLEAR-MARKER-4e77" in stored  # the search does see the datanodes' data
    assert b"CLUSTER-SECRET-MARKER-91d2" not in stored
    for key in ("secret", "clear"):
        writer.delete_object(Bucket=bucket, Key=key)
    writer.delete_bucket(Bucket=bucket)


def test_default_encryption_and_multipart_parts_work_across_gateways(cluster: LocalCluster) -> None:
    first_url, second_url = cluster.gateway_urls[:2]
    writer, reader = s3_client(first_url), s3_client(second_url)
    bucket = f"cl-sse-default-{uuid.uuid4().hex[:8]}"
    writer.create_bucket(Bucket=bucket)
    writer.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    assert reader.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    first, last = b"P1-" * (5 * MIB // 3 + 1), b"P2-tail" * 1000
    upload = writer.create_multipart_upload(Bucket=bucket, Key="multi")  # no header: the default applies
    assert upload["ServerSideEncryption"] == "AES256"
    etags = [
        reader.upload_part(Bucket=bucket, Key="multi", UploadId=upload["UploadId"], PartNumber=n, Body=data)[
            "ETag"
        ]
        for n, data in ((1, first), (2, last))
    ]
    writer.complete_multipart_upload(
        Bucket=bucket, Key="multi", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags, strict=True)]},
    )  # fmt: skip
    got = reader.get_object(Bucket=bucket, Key="multi", Range=f"bytes={len(first) - 4}-{len(first) + 3}")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == (first + last)[len(first) - 4 : len(first) + 4]
    assert reader.get_object(Bucket=bucket, Key="multi")["Body"].read() == first + last
    writer.delete_object(Bucket=bucket, Key="multi")
    writer.delete_bucket(Bucket=bucket)
