"""``strata cluster status`` beyond the process table: shards, datanodes and the repair queue.

A real etcd holds the documented ``shards/<id>/...`` keys and registrations; a real metanode
answers RepairStatus over gRPC, beside one that answers NOT_LEADER as followers will.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from coordinator.registry import register_node
from metanode.core import MetadataCore
from metanode.kv import MemoryKV
from metanode.server import bound_port, start_server
from protos import metadata_pb2_grpc
from protos.common_pb2 import BlobRef, Empty, ErrorReason
from protos.errors import StrataError, abort_with
from protos.metadata_pb2 import (
    BucketInfo,
    CreateBucketRequest,
    ObjectMD,
    PutObjectRequest,
    RepairStatusResponse,
)
from strata.cluster_report import gather_report, render_report, report_json, size_text
from strata.testing.etcd import EtcdProcess

CLUSTER = "report"


class Follower(metadata_pb2_grpc.MetadataServiceServicer):
    async def RepairStatus(self, request: Empty, context: grpc.aio.ServicerContext) -> RepairStatusResponse:  # noqa: N802
        await abort_with(context, StrataError(ErrorReason.NOT_LEADER, "not the leader"))
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess() as process:
        yield process


@pytest.fixture
async def leader_address() -> AsyncIterator[str]:
    """A real metanode with one object short of a replica queued for repair."""
    core = MetadataCore(MemoryKV())
    await core.create_bucket(CreateBucketRequest(bucket=BucketInfo(name="bucket", owner_id="alice")))
    short = BlobRef(location="us-east-1", blob_id="b", size=1, replicas=["datanode-1"], replicas_wanted=2)
    await core.put_object(
        PutObjectRequest(bucket="bucket", object=ObjectMD(key="k", etag="e", size=1, blobs=[short]))
    )
    server = await start_server(core, "127.0.0.1:0")
    yield f"127.0.0.1:{bound_port(server)}"
    await server.stop(None)
    await core.writer.close()


@pytest.fixture
async def follower_address() -> AsyncIterator[str]:
    server = grpc.aio.server()
    metadata_pb2_grpc.add_MetadataServiceServicer_to_server(Follower(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(None)


async def put_cluster(client: EtcdClient, leader: str, follower: str) -> None:
    space = Keyspace(CLUSTER)
    await client.delete_prefix(space.root)
    members = ["metanode-1", "metanode-2", "metanode-3"]
    await client.put(space.shard_members("s1"), json.dumps({"replicas": 3, "members": members}))
    await client.put(space.shard_isr("s1"), json.dumps({"term": 5, "members": members[:2]}))
    # The follower's address is the recorded leader's: the report must move on to the real leader.
    await client.put(space.shard_leader("s1"), json.dumps({"node_id": "metanode-1", "address": follower}))
    progress = {
        "term": 5,
        "leader": "metanode-1",
        "commit_index": 900,
        "followers": {"metanode-2": {"match_index": 900, "lag": 0, "in_isr": True}},
        "updated_ms": 1,
    }
    await client.put(space.shard_progress("s1"), json.dumps(progress))
    await client.put(space.shard_members("s2"), json.dumps({"replicas": 3, "members": ["metanode-4"]}))
    for node, shard, address in [("metanode-1", "s1", leader), ("metanode-4", "s2", follower)]:
        await client.put(space.node("metanode", node), json.dumps({"address": address, "shard": shard}))
    storage = {"used_bytes": 3 * 1024**2, "capacity_bytes": 100 * 1024**3, "available_bytes": 40 * 1024**3}
    await client.put(
        space.node("datanode", "datanode-1"),
        json.dumps({"node_id": "datanode-1", "location": "us-east-1", "storage": storage}),
    )
    await client.put(space.member("datanode", "datanode-2"), json.dumps({"location": "us-east-1"}))


async def test_report_shows_leaders_lag_capacity_and_the_repair_queue(
    etcd: EtcdProcess, leader_address: str, follower_address: str
) -> None:
    async with await EtcdClient.connect(etcd.endpoint) as client:
        await put_cluster(client, leader_address, follower_address)
        term = (await client.get_item(Keyspace(CLUSTER).shard_leader("s1"))).create_revision  # type: ignore[union-attr]
    report = await gather_report(etcd.endpoint, CLUSTER)
    assert render_report(report) == [
        f"shard s1: leader metanode-1 term {term}, ISR metanode-1,metanode-2 (2 of 3), commit index 900",
        "  metanode-2     lag 0 entries (in ISR, match index 900)",
        "  metanode-3     no progress yet",
        "shard s2: no leader, no ISR recorded",
        "  metanode-4     no progress yet",
        "datanode-1     us-east-1    live  used 3.0 MiB, disk 40.0 GiB free of 100.0 GiB",
        "datanode-2     us-east-1    down",
        "under-replicated: 1 objects waiting for repair (us-east-1: 1); shard s2: no metanode answered as leader",
    ]
    document = report_json(report)
    assert document["shards"]["s1"]["term"] == term and document["shards"]["s1"]["isr"] == [
        "metanode-1",
        "metanode-2",
    ]
    assert document["shards"]["s2"]["leader"] is None and document["shards"]["s2"]["progress"] is None
    assert document["datanodes"]["datanode-1"]["storage"]["capacity_bytes"] == 100 * 1024**3
    assert document["under_replicated"] == {
        "entries": 1,
        "by_location": {"us-east-1": 1},
        "unanswered": {"s2": "no metanode answered as leader"},
    }


async def test_a_cluster_of_today_without_shard_keys_says_what_is_not_known(etcd: EtcdProcess) -> None:
    async with await EtcdClient.connect(etcd.endpoint) as client:
        await client.delete_prefix(Keyspace(CLUSTER).root)
        registration = await register_node(
            client, CLUSTER, "metanode", "metanode-1", {"address": "127.0.0.1:1", "shard": "s1"}
        )
        try:
            lines = render_report(await gather_report(etcd.endpoint, CLUSTER, timeout_s=1.0))
        finally:
            await registration.close()
    assert lines[:2] == [
        "shard s1: no leader, no ISR recorded, registered metanode-1",
        "  metanode-1     no progress yet",
    ]
    assert lines[2].startswith("under-replicated: unknown; shard s1: no metanode answered (")


async def test_an_unreachable_etcd_is_one_line() -> None:
    report = await gather_report("127.0.0.1:1", CLUSTER, timeout_s=0.5)
    assert render_report(report)[0].startswith("cluster state unavailable: ")
    assert list(report_json(report)) == ["error"]


def test_sizes_read_like_people_write_them() -> None:
    assert [size_text(n) for n in (0, 1023, 1536, 5 * 1024**3)] == ["0 B", "1023 B", "1.5 KiB", "5.0 GiB"]
