"""GetBucketStats (``metanode/stats.py``) on both KV stores: objects, versions, delete markers, uploads, bytes."""

from __future__ import annotations

import pytest

from metanode.core import MetadataCore
from metanode.stats import bucket_stats
from protos.common_pb2 import BlobRef, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    BucketInfo,
    BucketStatsRequest,
    CreateBucketRequest,
    CreateIntentRequest,
    CreateUploadRequest,
    ObjectMD,
    PartInfo,
    PutObjectRequest,
    PutPartRequest,
    UploadInfo,
    UploadRef,
)


def blob(blob_id: str, size: int) -> BlobRef:
    return BlobRef(location="us-east-1", blob_id=blob_id * 32, size=size)


async def put(core: MetadataCore, bucket: str, key: str, data: BlobRef | None, **options: object) -> None:
    md = ObjectMD(key=key, size=data.size if data else 0, blobs=[data] if data else [])
    if options.pop("delete_marker", False):
        md.is_delete_marker = True
    await core.put_object(PutObjectRequest(bucket=bucket, object=md, **options))  # type: ignore[arg-type]


async def stats_of(core: MetadataCore, bucket: str = "") -> dict[str, dict[str, int]]:
    response = await bucket_stats(core, BucketStatsRequest(bucket=bucket))
    return {
        entry.bucket: {
            "objects": entry.objects,
            "bytes": entry.bytes,
            "versions": entry.versions,
            "delete_markers": entry.delete_markers,
            "uploads": entry.uploads,
            "stored_bytes": entry.stored_bytes,
        }
        for entry in response.buckets
    }


async def test_counts_current_objects_versions_markers_and_the_data_kept(core: MetadataCore) -> None:
    for name in ("plain", "plain-2", "versioned"):
        await core.create_bucket(CreateBucketRequest(bucket=BucketInfo(name=name, owner_id="alice")))
    await put(core, "plain", "a", blob("1", 10))
    await put(core, "plain", "a", blob("2", 15))  # overwrites: the first blob is no one's any more
    await put(core, "plain", "b", blob("3", 7))
    await put(core, "plain-2", "c", blob("4", 100))
    await put(core, "versioned", "k", blob("5", 20), versioning=True)
    await put(core, "versioned", "k", blob("6", 30), versioning=True)
    await put(core, "versioned", "k", None, versioning=True, delete_marker=True)
    await put(core, "versioned", "other", blob("7", 5), versioning=True)

    upload = await core.create_upload(
        CreateUploadRequest(upload=UploadInfo(bucket="versioned", key="big", object=ObjectMD()))
    )
    part_blob = blob("8", 1000)
    intent = await core.create_intent(CreateIntentRequest(bucket="versioned", key="big", blobs=[part_blob]))
    await core.put_part(
        PutPartRequest(
            upload=UploadRef(bucket="versioned", key="big", upload_id=upload.upload_id),
            part=PartInfo(part_number=1, etag="e" * 32, size=1000, blob=part_blob),
            intent_id=intent.id,
        )
    )

    assert await stats_of(core) == {
        "plain": {"objects": 2, "bytes": 22, "versions": 2, "delete_markers": 0, "uploads": 0, "stored_bytes": 22},
        "plain-2": {"objects": 1, "bytes": 100, "versions": 1, "delete_markers": 0, "uploads": 0, "stored_bytes": 100},
        # "k" is hidden by its delete marker; its two versions and "other" keep 55 bytes, the part 1000.
        "versioned": {
            "objects": 1, "bytes": 5, "versions": 4, "delete_markers": 1, "uploads": 1, "stored_bytes": 1055,
        },
    }  # fmt: skip
    # One bucket only, not the others whose names start with its name.
    assert list(await stats_of(core, "plain")) == ["plain"]


async def test_a_bucket_not_on_the_shard_is_no_such_bucket(core: MetadataCore) -> None:
    with pytest.raises(StrataError) as caught:
        await bucket_stats(core, BucketStatsRequest(bucket="absent"))
    assert caught.value.reason == ErrorReason.NO_SUCH_BUCKET
    assert await stats_of(core) == {}
