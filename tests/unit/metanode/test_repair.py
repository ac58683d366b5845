"""The repair queue: filled by commits of short blobs, settled under the object's lock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from metanode.core import MetadataCore
from protos.common_pb2 import BlobRef, Empty
from protos.metadata_pb2 import (
    LISTING_DELIMITER_VERSIONS,
    VERSIONING_ENABLED,
    BucketInfo,
    CompletedPart,
    CompleteUploadRequest,
    CreateBucketRequest,
    CreateUploadRequest,
    DeleteObjectRequest,
    GetObjectRequest,
    ListObjectsRequest,
    ObjectMD,
    PartInfo,
    PutObjectRequest,
    PutPartRequest,
    RunRepairRequest,
    UploadInfo,
    UploadRef,
)


def blob(blob_id: str, replicas: list[str], wanted: int = 2) -> BlobRef:
    return BlobRef(location="us-east-1", blob_id=blob_id, size=1, replicas=replicas, replicas_wanted=wanted)


class Replicator:
    """Copies by decree: every short blob gains ``gives``; ``during`` runs while it "copies"."""

    def __init__(self, core: MetadataCore, gives: list[str]) -> None:
        self.core = core
        self.gives = gives
        self.copied: list[str] = []
        self.during: Callable[[], Awaitable[object]] | None = None

    async def replicate(self, target: BlobRef) -> list[str]:
        self.copied.append(target.blob_id)
        if self.during is not None:
            await self.during()
        return list(self.gives)


async def make_bucket(core: MetadataCore, versioned: bool = False) -> None:
    info = BucketInfo(name="bucket", owner_id="alice")
    if versioned:
        info.versioning = VERSIONING_ENABLED
    await core.create_bucket(CreateBucketRequest(bucket=info))


async def put(core: MetadataCore, key: str, *blobs: BlobRef, versioning: bool = False) -> None:
    md = ObjectMD(key=key, etag="e", size=len(blobs), blobs=list(blobs))
    await core.put_object(PutObjectRequest(bucket="bucket", object=md, versioning=versioning))


async def replicas(core: MetadataCore, key: str) -> list[list[str]]:
    md = await core.get_object(GetObjectRequest(bucket="bucket", key=key))
    return [sorted(b.replicas) for b in md.blobs]


async def gc_blobs(core: MetadataCore) -> list[tuple[str, list[str]]]:
    return sorted(
        (b.blob_id, list(b.replicas)) for _, entry in await core.gc_entries(100) for b in entry.blobs
    )


async def test_only_a_commit_with_a_short_blob_is_queued(core: MetadataCore) -> None:
    await make_bucket(core)
    await put(core, "full", blob("a", ["n1", "n2"]))
    await put(core, "embedded", BlobRef(location="us-east-1", blob_id="e", size=1))
    assert (await core.repair_status(Empty())).entries == 0
    await put(core, "short", blob("b", ["n1"]))
    status = await core.repair_status(Empty())
    assert status.entries == 1 and dict(status.entries_by_location) == {"us-east-1": 1}


async def test_repair_records_the_new_replica_in_every_version_and_empties_the_queue(
    core: MetadataCore,
) -> None:
    await make_bucket(core, versioned=True)
    await put(core, "k", blob("old", ["n1"]), versioning=True)
    await put(core, "k", blob("new", ["n1"]), versioning=True)
    replicator = Replicator(core, ["n2"])
    core.set_replicator(replicator)
    response = await core.run_repair(RunRepairRequest())
    assert (response.blobs_repaired, response.entries_remaining) == (2, 0)
    assert sorted(replicator.copied) == ["new", "old"]
    assert await replicas(core, "k") == [["n1", "n2"]]
    listed = await core.list_objects(
        ListObjectsRequest(bucket="bucket", listing_type=LISTING_DELIMITER_VERSIONS, max_keys=10)
    )
    assert [sorted(b.replicas) for e in listed.entries for b in e.object.blobs] == [
        ["n1", "n2"],
        ["n1", "n2"],
    ]
    assert (await core.repair_status(Empty())).entries == 0


async def test_no_node_to_copy_to_keeps_the_entry(core: MetadataCore) -> None:
    await make_bucket(core)
    await put(core, "k", blob("b", ["n1"]))
    core.set_replicator(Replicator(core, []))
    response = await core.run_repair(RunRepairRequest())
    assert (response.blobs_repaired, response.entries_remaining) == (0, 1)
    assert await replicas(core, "k") == [["n1"]]


@pytest.mark.parametrize("race", ["overwrite", "delete"])
async def test_copy_of_a_blob_overwritten_or_deleted_meanwhile_goes_to_gc(
    core: MetadataCore, race: str
) -> None:
    await make_bucket(core)
    await put(core, "k", blob("b", ["n1"]))
    replicator = Replicator(core, ["n2"])

    async def change() -> None:
        if race == "overwrite":
            await put(core, "k", blob("c", ["n1", "n2"]))
        else:
            await core.delete_object(DeleteObjectRequest(bucket="bucket", key="k"))

    replicator.during = change
    core.set_replicator(replicator)
    assert (await core.run_repair(RunRepairRequest())).entries_remaining == 0
    # The old blob was freed by the overwrite/delete (on n1); its new copy (on n2) is freed too.
    assert await gc_blobs(core) == [("b", ["n1"]), ("b", ["n2"])]
    if race == "overwrite":
        assert await replicas(core, "k") == [["n1", "n2"]]


async def test_short_parts_are_queued_and_repaired_after_completion(core: MetadataCore) -> None:
    await make_bucket(core)
    upload = await core.create_upload(
        CreateUploadRequest(upload=UploadInfo(bucket="bucket", key="mpu", object=ObjectMD()))
    )
    upload_ref = UploadRef(bucket="bucket", key="mpu", upload_id=upload.upload_id)
    part = PartInfo(part_number=1, etag="a1b2", size=1, blob=blob("part", ["n1"]))
    await core.put_part(PutPartRequest(upload=upload_ref, part=part))
    assert (await core.repair_status(Empty())).entries == 1
    await core.complete_upload(
        CompleteUploadRequest(
            upload=upload_ref,
            parts=[CompletedPart(part_number=1, etag='"a1b2"')],
            put=PutObjectRequest(object=ObjectMD(key="mpu")),
        )
    )
    assert (await core.repair_status(Empty())).entries == 2  # the upload's and the object's
    core.set_replicator(Replicator(core, ["n2"]))
    assert (await core.run_repair(RunRepairRequest())).entries_remaining == 0
    assert await replicas(core, "mpu") == [["n1", "n2"]]
    assert await gc_blobs(core) == []
