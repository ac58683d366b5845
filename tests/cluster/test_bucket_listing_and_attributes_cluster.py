"""ListBuckets paging, GetObjectAttributes and the expected bucket owner through gateways and a metanode
in separate processes (the metanode pages buckets and records parts behind gRPC)."""

from __future__ import annotations

import os
import uuid

import pytest
from botocore.exceptions import ClientError

from strata.testing.cluster import LocalCluster
from tests.integration.conftest import OTHER_ACCESS_KEY, OTHER_SECRET_KEY, s3_client
from tests.integration.test_buckets import error_of

pytestmark = pytest.mark.cluster

MIB = 1024 * 1024


def test_list_buckets_pages_across_gateways(cluster: LocalCluster) -> None:
    first, second = (s3_client(url) for url in cluster.gateway_urls)
    other = s3_client(cluster.gateway_urls[0], OTHER_ACCESS_KEY, OTHER_SECRET_KEY)
    prefix = f"cl-{uuid.uuid4().hex[:8]}-"
    names = [f"{prefix}{index}" for index in range(5)]
    for index, name in enumerate(names):
        config = {"CreateBucketConfiguration": {"LocationConstraint": "mem"}} if index == 2 else {}
        first.create_bucket(Bucket=name, **config)
    other.create_bucket(Bucket=f"{prefix}other")
    try:
        pages = list(
            second.get_paginator("list_buckets").paginate(Prefix=prefix, PaginationConfig={"PageSize": 2})
        )
        assert [[b["Name"] for b in page["Buckets"]] for page in pages] == [names[:2], names[2:4], names[4:]]
        assert all(page["Prefix"] == prefix for page in pages)
        page = second.list_buckets(Prefix=prefix, MaxBuckets=3)
        rest = first.list_buckets(Prefix=prefix, MaxBuckets=3, ContinuationToken=page["ContinuationToken"])
        assert [b["Name"] for b in rest["Buckets"]] == names[3:] and "ContinuationToken" not in rest
        in_mem = second.list_buckets(Prefix=prefix, BucketRegion="mem")["Buckets"]
        assert [(b["Name"], b["BucketRegion"]) for b in in_mem] == [(names[2], "mem")]
    finally:
        for name in names:
            first.delete_bucket(Bucket=name)
        other.delete_bucket(Bucket=f"{prefix}other")


def test_get_object_attributes_of_a_multipart_object(cluster: LocalCluster) -> None:
    first, second = (s3_client(url) for url in cluster.gateway_urls)
    bucket = f"cl-goa-{uuid.uuid4().hex[:8]}"
    first.create_bucket(Bucket=bucket)
    pieces = [os.urandom(5 * MIB), os.urandom(4321)]
    try:
        upload_id = first.create_multipart_upload(Bucket=bucket, Key="mpu", ChecksumAlgorithm="CRC32")[
            "UploadId"
        ]
        parts = []
        for number, piece in enumerate(pieces, start=1):
            uploaded = first.upload_part(
                Bucket=bucket,
                Key="mpu",
                UploadId=upload_id,
                PartNumber=number,
                Body=piece,
                ChecksumAlgorithm="CRC32",
            )
            parts.append(
                {"PartNumber": number, "ETag": uploaded["ETag"], "ChecksumCRC32": uploaded["ChecksumCRC32"]}
            )
        completed = first.complete_multipart_upload(
            Bucket=bucket, Key="mpu", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
        attributes = second.get_object_attributes(
            Bucket=bucket,
            Key="mpu",
            ObjectAttributes=["ETag", "Checksum", "ObjectParts", "ObjectSize"],
            MaxParts=1,
        )
        assert attributes["ETag"] == completed["ETag"].strip('"')
        assert attributes["Checksum"]["ChecksumCRC32"] == completed["ChecksumCRC32"]
        assert attributes["ObjectSize"] == sum(len(piece) for piece in pieces)
        object_parts = attributes["ObjectParts"]
        assert object_parts["TotalPartsCount"] == 2 and object_parts["IsTruncated"] is True
        assert [(p["PartNumber"], p["Size"], p["ChecksumCRC32"]) for p in object_parts["Parts"]] == [
            (1, len(pieces[0]), parts[0]["ChecksumCRC32"])
        ]
        with pytest.raises(ClientError) as excinfo:
            second.get_object_attributes(
                Bucket=bucket, Key="mpu", ObjectAttributes=["ETag"], ExpectedBucketOwner="123456789013"
            )
        assert error_of(excinfo) == ("AccessDenied", 403)
        owned = second.get_object_attributes(
            Bucket=bucket, Key="mpu", ObjectAttributes=["ObjectSize"], ExpectedBucketOwner="123456789012"
        )
        assert owned["ObjectSize"] == attributes["ObjectSize"]
    finally:
        first.delete_object(Bucket=bucket, Key="mpu")
        first.delete_bucket(Bucket=bucket)
