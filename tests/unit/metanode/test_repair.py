"""The repair queue: filled by commits of short blobs, settled under the object's lock.

The last tests run passes over real gRPC datanodes: copies that fail, stall or are
left unsettled must end up collected from their target, never from the healthy replica.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass

import grpc
import pytest

from datanode.client import NodeInfo, ReplicatedDataClient, StaticNodeDirectory
from datanode.memory import MemoryBackend
from datanode.server import bound_port, start_server
from metanode.core import MetadataCore
from metanode.repair import RepairQueue
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
    QueueGarbageRequest,
    RunGcRequest,
    RunRepairRequest,
    UploadInfo,
    UploadRef,
)
from tests.unit.datanode.datanode_testing import PausableBackend, stream


def blob(blob_id: str, replicas: list[str], wanted: int = 2) -> BlobRef:
    return BlobRef(location="us-east-1", blob_id=blob_id, size=1, replicas=replicas, replicas_wanted=wanted)


class Replicator:
    """Copies by decree: every short blob gains ``gives``; ``during`` runs while it "copies"."""

    def __init__(self, core: MetadataCore, gives: list[str], fails: bool = False) -> None:
        self.core = core
        self.gives = gives
        self.fails = fails  # every copy is attempted and fails
        self.copied: list[str] = []
        self.during: Callable[[], Awaitable[object]] | None = None

    async def replicate(
        self,
        target: BlobRef,
        *,
        exclude: Collection[str] = (),
        before_copy: Callable[[str], Awaitable[None]] | None = None,
    ) -> list[str]:
        self.copied.append(target.blob_id)
        given = [node for node in self.gives if node not in exclude]
        for node in given:
            if before_copy is not None:
                await before_copy(node)
        if self.during is not None:
            await self.during()
        return [] if self.fails else given

    def copy_deadline(self, size: int) -> float:
        return 30.0


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


async def test_copy_whose_intent_expired_meanwhile_is_not_recorded(core: MetadataCore) -> None:
    await make_bucket(core)
    await put(core, "k", blob("b", ["n1"]))
    replicator = Replicator(core, ["n2"])

    async def expire() -> None:
        assert await core.expire_intents(expire_all=True) == 1

    replicator.during = expire
    core.set_replicator(replicator)
    assert (await core.run_repair(RunRepairRequest())).entries_remaining == 1
    # The expired intent queued the copy for deletion: recording it would leave a dangling replica.
    assert await replicas(core, "k") == [["n1"]]
    assert await gc_blobs(core) == [("b", ["n2"])]


async def test_copy_failed_for_one_entry_is_not_made_again_for_another_in_the_pass(
    core: MetadataCore,
) -> None:
    await make_bucket(core)
    upload = await core.create_upload(
        CreateUploadRequest(upload=UploadInfo(bucket="bucket", key="mpu", object=ObjectMD()))
    )
    upload_ref = UploadRef(bucket="bucket", key="mpu", upload_id=upload.upload_id)
    part = PartInfo(part_number=1, etag="a1b2", size=1, blob=blob("part", ["n1"]))
    await core.put_part(PutPartRequest(upload=upload_ref, part=part))
    await core.complete_upload(
        CompleteUploadRequest(
            upload=upload_ref,
            parts=[CompletedPart(part_number=1, etag='"a1b2"')],
            put=PutObjectRequest(object=ObjectMD(key="mpu")),
        )
    )
    assert (await core.repair_status(Empty())).entries == 2  # both cover the part's blob
    core.set_replicator(Replicator(core, ["n2"], fails=True))
    assert (await core.run_repair(RunRepairRequest())).entries_remaining == 2
    # One failed copy to n2, queued once: a second copy there could be recorded, then deleted.
    assert await gc_blobs(core) == [("part", ["n2"])]
    assert await replicas(core, "mpu") == [["n1"]]


async def test_copy_still_queued_for_deletion_is_not_made_again(core: MetadataCore) -> None:
    await make_bucket(core)
    await put(core, "k", blob("b", ["n1"]))
    await core.queue_garbage(QueueGarbageRequest(blobs=[blob("b", ["n2"])]))
    replicator = Replicator(core, ["n2"])
    core.set_replicator(replicator)
    assert (await core.run_repair(RunRepairRequest())).entries_remaining == 1
    assert await replicas(core, "k") == [["n1"]]


LOCATION = "us-east-1"


@dataclass
class Datanodes:
    """A healthy replica ``a`` and a node ``b`` that can stall, behind one replicating client."""

    a: MemoryBackend
    b: PausableBackend
    client: ReplicatedDataClient


@pytest.fixture
async def datanodes(core: MetadataCore) -> AsyncIterator[Datanodes]:
    a, b = MemoryBackend(), PausableBackend()
    servers: list[grpc.aio.Server] = []
    infos = []
    for node_id, backend in (("dn-a", a), ("dn-b", b)):
        server = await start_server(backend, "127.0.0.1:0", node_id, LOCATION)
        servers.append(server)
        infos.append(NodeInfo(node_id, f"127.0.0.1:{bound_port(server)}", LOCATION))
    client = ReplicatedDataClient(StaticNodeDirectory(infos), copy_timeout_s=0.2)
    core.set_deleter(client)
    core.set_replicator(client)
    try:
        yield Datanodes(a, b, client)
    finally:
        b.running.set()
        await client.close()
        for server in servers:
            await server.stop(grace=None)


async def put_on_a(core: MetadataCore, datanodes: Datanodes, size: int = 3000) -> BlobRef:
    """An object whose only blob was written while dn-b was down: one replica of two."""
    planned = datanodes.client.plan(LOCATION)
    planned.replicas[:] = ["dn-a"]
    written = await datanodes.client.put(planned, stream([os.urandom(size)]))
    assert written.replicas_wanted == 2
    await make_bucket(core)
    await put(core, "k", written)
    return written


async def queued_for_gc(core: MetadataCore, expected: list[tuple[str, list[str]]]) -> None:
    """Waits (bounded) until the GC queue holds ``expected``; for work finished in the background."""
    for _ in range(1000):
        if await gc_blobs(core) == expected:
            return
        await asyncio.sleep(0.01)
    assert await gc_blobs(core) == expected


@pytest.mark.parametrize("failure", ["error", "cancel", "crash"])
async def test_copy_left_unsettled_is_collected_from_the_target_only(
    core: MetadataCore, datanodes: Datanodes, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    written = await put_on_a(core, datanodes)
    reached = asyncio.Event()

    async def settle_fails(*args: object) -> bool:
        reached.set()
        if failure == "cancel":
            await asyncio.Event().wait()  # until cancelled
        raise RuntimeError("the metadata store failed")

    async def abort_fails(*args: object) -> None:
        raise RuntimeError("the metanode is going down")

    monkeypatch.setattr(RepairQueue, "settle", settle_fails)
    if failure == "crash":
        # Nothing runs after the failure: only the intent's expiry can free the copy.
        monkeypatch.setattr(core, "abort_intent", abort_fails)
    repair = asyncio.ensure_future(core.run_repair(RunRepairRequest()))
    await reached.wait()
    if failure == "cancel":
        repair.cancel()  # as when the admin client gives up on RunRepair
    with pytest.raises(asyncio.CancelledError if failure == "cancel" else RuntimeError):
        await repair
    assert await datanodes.b.head(written.blob_id) == written.size  # copied, then abandoned
    monkeypatch.undo()

    if failure == "crash":
        assert await gc_blobs(core) == []
        await core.run_gc(RunGcRequest(expire_all_intents=True))
    else:
        # The failed pass closed its intent: the copy on dn-b alone is queued, without waiting.
        await queued_for_gc(core, [(written.blob_id, ["dn-b"])])
        await core.run_gc(RunGcRequest())
    assert await datanodes.b.head(written.blob_id) is None
    assert await datanodes.a.head(written.blob_id) == written.size
    assert await replicas(core, "k") == [["dn-a"]]
    # Nothing is left that the GC may delete, so the next pass repairs the blob.
    response = await core.run_repair(RunRepairRequest())
    assert (response.blobs_repaired, response.entries_remaining) == (1, 0)
    assert await replicas(core, "k") == [["dn-a", "dn-b"]]
    assert await datanodes.b.head(written.blob_id) == written.size


async def test_stalled_target_times_out_and_a_later_pass_repairs(
    core: MetadataCore, datanodes: Datanodes
) -> None:
    written = await put_on_a(core, datanodes)
    datanodes.b.running.clear()
    # Without a copy deadline this pass would wait for dn-b forever.
    response = await asyncio.wait_for(core.run_repair(RunRepairRequest()), 60)
    assert (response.blobs_repaired, response.entries_remaining) == (0, 1)
    assert datanodes.b.stalled.is_set()
    assert await replicas(core, "k") == [["dn-a"]]
    datanodes.b.running.set()
    # The abandoned copy is queued for deletion on dn-b only: no copy there until it is gone.
    assert await gc_blobs(core) == [(written.blob_id, ["dn-b"])]
    assert (await core.run_repair(RunRepairRequest())).entries_remaining == 1
    await core.run_gc(RunGcRequest())
    assert await datanodes.a.head(written.blob_id) == written.size
    response = await core.run_repair(RunRepairRequest())
    assert (response.blobs_repaired, response.entries_remaining) == (1, 0)
    assert await replicas(core, "k") == [["dn-a", "dn-b"]]
    assert await datanodes.b.head(written.blob_id) == written.size
    assert await gc_blobs(core) == []
