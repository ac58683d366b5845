"""Multipart uploads through the process cluster: parts through both gateways, metadata over gRPC,
and after aborts and overwritten parts the datanodes hold exactly the blobs live objects reference."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import os

import pytest
from boto3.s3.transfer import TransferConfig

from datanode.client import DataNodeClient
from metanode.client import MetadataClient
from protos.metadata_pb2 import LISTING_DELIMITER_VERSIONS, ListObjectsRequest, RunGcRequest
from strata.testing.cluster import LocalCluster
from tests.cluster.blobs import datanode_blob_ids
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster

MIB = 1024 * 1024
PART = 5 * MIB


async def _live_and_stored(cluster: LocalCluster, bucket: str) -> tuple[set[str], list[str]]:
    metanode = MetadataClient(cluster.processes("metanode")[0].address)
    try:
        await metanode.run_gc(RunGcRequest(expire_all_intents=True))
        listing = await metanode.list_objects(
            ListObjectsRequest(bucket=bucket, listing_type=LISTING_DELIMITER_VERSIONS, max_keys=100000)
        )
        referenced = {blob.blob_id for entry in listing.entries for blob in entry.object.blobs}
    finally:
        await metanode.close()
    stored: list[str] = []
    for record in cluster.processes("datanode"):
        client = DataNodeClient(record.address)
        try:
            stored.extend([blob_id async for blob_id in client.list_blobs()])
        finally:
            await client.close()
    return referenced, stored


@pytest.mark.timeout(300)
def test_multipart_through_two_gateways_leaves_only_live_blobs(cluster: LocalCluster) -> None:
    first, second = (s3_client(url) for url in cluster.gateway_urls)
    bucket = "mpu-cluster"
    first.create_bucket(Bucket=bucket)
    pieces = [os.urandom(PART), os.urandom(PART), os.urandom(1000)]
    upload_id = first.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    parts = []
    for number, piece in enumerate(pieces, start=1):
        client = first if number % 2 else second
        answer = client.upload_part(
            Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=number, Body=piece
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    # Overwrite a part, and upload one that the completion leaves out.
    pieces[1] = os.urandom(PART)
    parts[1]["ETag"] = second.upload_part(
        Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=2, Body=pieces[1]
    )["ETag"]
    first.upload_part(Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=9, Body=b"unused")
    listed = second.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["UploadId"] for u in listed] == [upload_id]
    second.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    body = first.get_object(Bucket=bucket, Key="big")["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(b"".join(pieces)).digest()
    assert second.get_object(Bucket=bucket, Key="big", PartNumber=2)["Body"].read() == pieces[1]
    aborted = first.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    second.upload_part(Bucket=bucket, Key="gone", UploadId=aborted, PartNumber=1, Body=b"x" * 100)
    second.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=aborted)
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=4)
    first.upload_fileobj(io.BytesIO(os.urandom(3 * PART + 7)), bucket, "managed", Config=config)

    referenced, stored = asyncio.run(_live_and_stored(cluster, bucket))
    assert len(referenced) == 3 + 4
    # Every datanode copy belongs to a live object, and every live blob has its copies.
    assert set(stored) == referenced
    for key in ("big", "managed"):
        first.delete_object(Bucket=bucket, Key=key)
    first.delete_bucket(Bucket=bucket)


async def _stored_blob_ids(cluster: LocalCluster) -> set[str]:
    metanode = MetadataClient(cluster.processes("metanode")[0].address)
    try:
        await metanode.run_gc(RunGcRequest(expire_all_intents=True))
    finally:
        await metanode.close()
    return await datanode_blob_ids(cluster)


@pytest.mark.timeout(300)
def test_delete_bucket_with_only_uploads_in_progress_aborts_them_across_gateways(
    cluster: LocalCluster,
) -> None:
    first, second = (s3_client(url) for url in cluster.gateway_urls)
    before = asyncio.run(_stored_blob_ids(cluster))
    bucket = "mpu-cluster-uploads-only"
    first.create_bucket(Bucket=bucket)
    upload_id = first.create_multipart_upload(Bucket=bucket, Key="pending")["UploadId"]
    for number in (1, 2):
        second.upload_part(
            Bucket=bucket, Key="pending", UploadId=upload_id, PartNumber=number, Body=b"p" * 1000
        )
    assert len(asyncio.run(_stored_blob_ids(cluster)) - before) == 2
    second.delete_bucket(Bucket=bucket)
    # The name is free again cluster-wide, and the new bucket has no uploads.
    first.create_bucket(Bucket=bucket)
    assert second.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    first.delete_bucket(Bucket=bucket)
    # The aborted parts' blobs are gone from every datanode: no orphan.
    assert asyncio.run(_stored_blob_ids(cluster)) == before


def _version_headers(response: dict) -> dict[str, str]:
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    names = ("x-amz-version-id", "x-amz-copy-source-version-id", "x-amz-delete-marker")
    return {name: headers[name] for name in names if name in headers}


@pytest.mark.timeout(300)
def test_version_headers_follow_the_bucket_versioning_state_through_the_cluster(
    cluster: LocalCluster,
) -> None:
    first, second = (s3_client(url) for url in cluster.gateway_urls)
    bucket = "versions-cluster"
    first.create_bucket(Bucket=bucket)
    assert _version_headers(first.put_object(Bucket=bucket, Key="src", Body=b"x")) == {}
    copied = second.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    assert _version_headers(copied) == {}
    upload_id = second.create_multipart_upload(Bucket=bucket, Key="mpu")["UploadId"]
    etag = first.upload_part(Bucket=bucket, Key="mpu", UploadId=upload_id, PartNumber=1, Body=b"p")["ETag"]
    completed = second.complete_multipart_upload(
        Bucket=bucket,
        Key="mpu",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert _version_headers(completed) == {}
    assert _version_headers(first.delete_object(Bucket=bucket, Key="copy")) == {}
    assert first.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "mpu"}]})["Deleted"] == [
        {"Key": "mpu"}
    ]
    first.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert _version_headers(second.delete_object(Bucket=bucket, Key="src")) == {
        "x-amz-delete-marker": "true",
        "x-amz-version-id": "null",
    }
    second.delete_object(Bucket=bucket, Key="src", VersionId="null")
    first.delete_bucket(Bucket=bucket)


@pytest.mark.timeout(300)
def test_gateway_processes_store_gzip_bodies_as_sent(cluster: LocalCluster) -> None:
    first, second = (s3_client(url) for url in cluster.gateway_urls)
    bucket = "gzip-cluster"
    first.create_bucket(Bucket=bucket)
    compressed = gzip.compress(b"hello " * 1000)
    first.put_object(
        Bucket=bucket, Key="k.gz", Body=compressed, ContentEncoding="gzip", ChecksumAlgorithm="CRC32"
    )
    got = second.get_object(Bucket=bucket, Key="k.gz")
    assert got["ContentEncoding"] == "gzip" and got["Body"].read() == compressed
    second.delete_object(Bucket=bucket, Key="k.gz")
    first.delete_bucket(Bucket=bucket)
