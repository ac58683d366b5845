"""Re-replication off lost datanodes: the scan that finds their blobs, and the pass that moves them.

A lost node's replica counts as missing: the blob is copied from its other replicas, and the
lost replica leaves the BlobRef only once the blob is whole without it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import grpc
import pytest

from datanode.client import DataNodeClient, NodeInfo, ReplicatedDataClient, StaticNodeDirectory
from datanode.memory import MemoryBackend
from datanode.server import bound_port, start_server
from metanode import keys
from metanode.core import MetadataCore
from metanode.repair_scan import scan_lost_replicas
from protos.common_pb2 import BlobRef, Empty
from protos.metadata_pb2 import (
    LISTING_DELIMITER_VERSIONS,
    CreateUploadRequest,
    ListObjectsRequest,
    ObjectMD,
    PartInfo,
    PutPartRequest,
    RunRepairRequest,
    UploadInfo,
    UploadRef,
)
from tests.unit.datanode.datanode_testing import stream
from tests.unit.metanode.test_repair import Replicator, blob, make_bucket, put, replicas

LOST = frozenset({"n3"})


async def start_upload(core: MetadataCore, key: str, *parts: BlobRef) -> str:
    upload = await core.create_upload(
        CreateUploadRequest(upload=UploadInfo(bucket="bucket", key=key, object=ObjectMD()))
    )
    ref = UploadRef(bucket="bucket", key=key, upload_id=upload.upload_id)
    for number, part_blob in enumerate(parts, start=1):
        part = PartInfo(part_number=number, etag="a1b2", size=1, blob=part_blob)
        await core.put_part(PutPartRequest(upload=ref, part=part))
    return upload.upload_id


async def all_version_replicas(core: MetadataCore) -> list[list[str]]:
    listed = await core.list_objects(
        ListObjectsRequest(bucket="bucket", listing_type=LISTING_DELIMITER_VERSIONS, max_keys=100)
    )
    return [list(b.replicas) for e in listed.entries for b in e.object.blobs]


async def test_scan_finds_every_version_and_part_with_a_replica_on_a_lost_node(core: MetadataCore) -> None:
    await make_bucket(core, versioned=True)
    await put(core, "old-and-new", blob("v1", ["n1", "n3"]), versioning=True)
    await put(core, "old-and-new", blob("v2", ["n1", "n2"]), versioning=True)
    await put(core, "elsewhere", blob("e", ["n1", "n2"]))
    upload_id = await start_upload(core, "mpu", blob("p1", ["n1", "n2"]), blob("p2", ["n3", "n2"]))
    scan = await core._off_loop(scan_lost_replicas, core.kv, LOST)
    bucket = await core._load_bucket("bucket")
    assert sorted(scan.entries) == sorted(
        [keys.repair_key(bucket.uid, "old-and-new"), keys.repair_key(bucket.uid, "mpu", upload_id)]
    )
    by_key = {(entry.key, entry.upload_id): entry for entry in scan.entries.values()}
    assert list(by_key[("old-and-new", "")].locations) == ["us-east-1"]
    assert by_key[("mpu", upload_id)].bucket == "bucket"
    # The noncurrent version and the one part; the master repeats the current version's blob.
    assert scan.blobs_on_lost_nodes == 2
    assert scan.blobs_scanned > 5  # every version, master and part was read
    assert (await core._off_loop(scan_lost_replicas, core.kv, frozenset({"n9"}))).entries == {}


async def test_lost_replicas_are_replaced_in_every_record_and_dropped(core: MetadataCore) -> None:
    await make_bucket(core, versioned=True)
    await put(core, "k", blob("old", ["n1", "n2", "n3"], wanted=3), versioning=True)
    await put(core, "k", blob("new", ["n3", "n1", "n2"], wanted=3), versioning=True)
    await put(core, "untouched", blob("u", ["n1", "n2", "n4"], wanted=3))
    upload_id = await start_upload(core, "mpu", blob("part", ["n3", "n2", "n1"], wanted=3))
    replicator = Replicator(core, ["n4"])
    core.set_replicator(replicator)
    response = await core.run_repair(RunRepairRequest(lost_nodes=["n3"]))
    assert sorted(replicator.copied) == ["new", "old", "part"]
    assert (response.blobs_checked, response.blobs_copied, response.blobs_repaired) == (3, 3, 3)
    assert (response.entries_remaining, response.blobs_remaining, response.lost_blobs_remaining) == (0, 0, 0)
    assert await all_version_replicas(core) == [["n1", "n2", "n4"]] * 3  # k's two versions, untouched
    assert await replicas(core, "untouched") == [["n1", "n2", "n4"]]
    part_record = await core._get_record(keys.part_key(upload_id, 1), keys.decode_part)
    assert part_record is not None and list(part_record.blob.replicas) == ["n2", "n1", "n4"]
    status = await core.repair_status(Empty())
    assert status.entries == 0
    assert not status.progress.running and status.progress.blobs_total == 3
    assert status.progress.blobs_checked == 3


async def test_lost_replica_stays_listed_until_the_blob_is_whole_without_it(core: MetadataCore) -> None:
    await make_bucket(core)
    await put(core, "k", blob("b", ["n1", "n2", "n3"], wanted=3))
    core.set_replicator(Replicator(core, []))  # no live node to copy to
    response = await core.run_repair(RunRepairRequest(lost_nodes=["n3"]))
    assert (response.blobs_repaired, response.entries_remaining, response.lost_blobs_remaining) == (0, 1, 1)
    assert await replicas(core, "k") == [["n1", "n2", "n3"]]  # still read from n3 if it comes back
    # A pass without lost nodes sees nothing short and leaves the blob alone.
    assert (await core.run_repair(RunRepairRequest())).entries_remaining == 0
    assert await replicas(core, "k") == [["n1", "n2", "n3"]]


async def test_surplus_lost_replica_is_dropped_without_a_copy(core: MetadataCore) -> None:
    await make_bucket(core)
    await put(core, "k", blob("b", ["n1", "n2", "n3"], wanted=2))
    replicator = Replicator(core, [])  # nothing to copy: the blob has its two good replicas
    core.set_replicator(replicator)
    response = await core.run_repair(RunRepairRequest(lost_nodes=["n3"]))
    assert (response.blobs_copied, response.blobs_repaired, response.entries_remaining) == (0, 1, 0)
    assert await replicas(core, "k") == [["n1", "n2"]]


LOCATION = "us-east-1"


@pytest.fixture
async def four_datanodes() -> AsyncIterator[tuple[dict[str, MemoryBackend], dict[str, NodeInfo]]]:
    backends = {node_id: MemoryBackend() for node_id in ("n1", "n2", "n3", "n4")}
    servers: list[grpc.aio.Server] = []
    infos: dict[str, NodeInfo] = {}
    for node_id, backend in backends.items():
        server = await start_server(backend, "127.0.0.1:0", node_id, LOCATION)
        servers.append(server)
        infos[node_id] = NodeInfo(node_id, f"127.0.0.1:{bound_port(server)}", LOCATION)
    try:
        yield backends, infos
    finally:
        for server in servers:
            await server.stop(grace=None)


async def test_blob_moves_off_a_lost_node_over_grpc(
    core: MetadataCore, four_datanodes: tuple[dict[str, MemoryBackend], dict[str, NodeInfo]]
) -> None:
    backends, infos = four_datanodes
    body = os.urandom(200_000)
    for node_id in ("n1", "n2", "n3"):
        node = DataNodeClient(infos[node_id].address)
        try:
            await node.put("ab" * 16, LOCATION, stream([body]))
        finally:
            await node.close()
    # n3 is lost: no longer live, so it is neither a source nor a target.
    live = StaticNodeDirectory([infos["n1"], infos["n2"], infos["n4"]])
    client = ReplicatedDataClient(live)
    core.set_deleter(client)
    core.set_replicator(client)
    try:
        await make_bucket(core)
        ref = BlobRef(
            location=LOCATION,
            blob_id="ab" * 16,
            size=len(body),
            replicas=["n1", "n3", "n2"],
            replicas_wanted=3,
        )
        await put(core, "k", ref)
        # Only on the lost node: no source to copy from, so the ref keeps naming where the data was.
        stranded = BlobRef(location=LOCATION, blob_id="cd" * 16, size=1, replicas=["n3"], replicas_wanted=3)
        await put(core, "stranded", stranded)
        response = await core.run_repair(RunRepairRequest(lost_nodes=["n3"]))
        assert (response.blobs_checked, response.blobs_copied) == (2, 1)
        assert (response.lost_blobs_remaining, response.entries_remaining) == (1, 1)
        assert await replicas(core, "k") == [["n1", "n2", "n4"]]
        assert await replicas(core, "stranded") == [["n3"]]
        copy = DataNodeClient(infos["n4"].address)
        try:
            assert b"".join([piece async for piece in copy.get("ab" * 16)]) == body
        finally:
            await copy.close()
        # The copy's intent was closed with the record: nothing is queued for deletion.
        assert await core.gc_entries(10) == []
        assert len(backends) == 4
    finally:
        await client.close()


async def test_a_blob_without_a_replication_factor_is_left_alone(core: MetadataCore) -> None:
    await make_bucket(core)
    await put(core, "k", blob("b", ["n3"], wanted=0))
    core.set_replicator(Replicator(core, ["n4"]))
    response = await core.run_repair(RunRepairRequest(lost_nodes=["n3"]))
    assert (response.blobs_checked, response.entries_remaining) == (0, 0)
    assert await replicas(core, "k") == [["n3"]]  # emptied, it would mean "on every node"
