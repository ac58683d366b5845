"""RepairWorker: a datanode becomes lost only after the grace period, and is evacuated once.

Real etcd, a real metanode gRPC server over a real metadata core; the copies themselves are
decreed by a fake replicator (the copy machinery has its own tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from coordinator.down_nodes import DownNodes
from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from coordinator.registry import NodeWatcher, Registration, register_node
from coordinator.repair import RepairWorker
from coordinator.shard_leaders import ShardLeaders
from metanode.core import MetadataCore
from metanode.kv import MemoryKV
from metanode.server import bound_port, start_server
from protos.metadata_pb2 import GetObjectRequest
from tests.unit.metanode.test_repair import Replicator, blob, make_bucket, put

GRACE_S = 600.0


class Clock:
    def __init__(self) -> None:
        self.now_ms = 1_000_000

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
async def metanode(client: EtcdClient, cluster: str) -> AsyncIterator[MetadataCore]:
    core = MetadataCore(MemoryKV())
    core.set_replicator(Replicator(core, ["dn-3"]))
    server = await start_server(core, "127.0.0.1:0")
    registration = await register_node(
        client, cluster, "metanode", "m-1", {"address": f"127.0.0.1:{bound_port(server)}", "shard": "s1"}
    )
    try:
        yield core
    finally:
        await registration.close()
        await server.stop(grace=None)
        await core.writer.close()


async def datanodes(client: EtcdClient, cluster: str) -> list[Registration]:
    info = {"address": "127.0.0.1:1", "location": "us-east-1"}
    live = [await register_node(client, cluster, "datanode", node, info) for node in ("dn-1", "dn-3")]
    gone = await register_node(client, cluster, "datanode", "dn-2", info)
    await gone.close()
    return live


async def test_a_datanode_is_written_off_after_the_grace_period_and_evacuated_once(
    client: EtcdClient, cluster: str, metanode: MetadataCore
) -> None:
    registrations = await datanodes(client, cluster)
    await make_bucket(metanode)
    await put(metanode, "k", blob("b", ["dn-1", "dn-2"], wanted=2))
    clock = Clock()
    async with (
        NodeWatcher(client, cluster, "metanode") as metanodes,
        NodeWatcher(client, cluster, "datanode") as dns,
    ):
        shards = ShardLeaders(client, cluster, metanodes, timeout_s=10)
        worker = RepairWorker(shards, DownNodes(client, cluster, dns, clock_ms=clock), grace_s=GRACE_S)
        try:
            early = await worker.run_once()
            assert early.lost_nodes == [] and not early.failures
            assert early.responses["s1"].blobs_checked == 0  # nothing short, nobody lost yet
            clock.now_ms += int(GRACE_S * 1000)
            written_off = await worker.run_once()
            assert written_off.lost_nodes == ["dn-2"]
            response = written_off.responses["s1"]
            assert (response.blobs_copied, response.lost_blobs_remaining) == (1, 0)
            md = await metanode.get_object(GetObjectRequest(bucket="bucket", key="k"))
            assert [list(b.replicas) for b in md.blobs] == [["dn-1", "dn-3"]]
            assert b'"evacuated": true' in (
                await client.get(Keyspace(cluster).coordinator_down("dn-2")) or b""
            )
            later = await worker.run_once()
            assert later.lost_nodes == []  # evacuated: no more scans for it
        finally:
            await shards.close()
    for registration in registrations:
        await registration.close()
