"""ShardLeaders: a call goes to the elected address first and skips metanodes that do not lead.

The metanodes here are real gRPC servers whose only behaviour is to lead or not: a follower
answers every call with NOT_LEADER, as the replicated metanodes will.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import grpc
import pytest

from coordinator import shard_leaders
from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from coordinator.registry import NodeWatcher, register_node
from coordinator.shard_leaders import ShardLeaders
from metanode.client import MetadataClient
from protos import metadata_pb2_grpc
from protos.common_pb2 import Empty, ErrorReason
from protos.errors import StrataError, abort_with
from protos.metadata_pb2 import RepairStatusResponse


class Metanode(metadata_pb2_grpc.MetadataServiceServicer):
    def __init__(self, leads: bool, hangs: bool = False) -> None:
        self.leads = leads
        self.hangs = hangs  # as a stopped (SIGSTOP) process: the call is never answered
        self.calls = 0

    async def RepairStatus(  # noqa: N802
        self, request: Empty, context: grpc.aio.ServicerContext
    ) -> RepairStatusResponse:
        self.calls += 1
        if self.hangs:
            await asyncio.Event().wait()
        if not self.leads:
            await abort_with(context, StrataError(ErrorReason.NOT_LEADER, "not the leader"))
        return RepairStatusResponse(entries=7)


async def serve(servicer: Metanode) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    metadata_pb2_grpc.add_MetadataServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


async def entries(client: MetadataClient) -> int:
    return (await client.repair_status(Empty())).entries


@pytest.fixture
async def metanodes() -> AsyncIterator[list[tuple[Metanode, str]]]:
    servicers = [Metanode(leads=False), Metanode(leads=True)]
    started = [await serve(servicer) for servicer in servicers]
    try:
        yield [(servicer, address) for servicer, (_, address) in zip(servicers, started, strict=True)]
    finally:
        for server, _ in started:
            await server.stop(grace=None)


async def test_followers_and_unreachable_metanodes_are_skipped(
    client: EtcdClient, cluster: str, metanodes: list[tuple[Metanode, str]]
) -> None:
    (follower, follower_address), (leader, leader_address) = metanodes
    registrations = [
        await register_node(client, cluster, "metanode", node_id, {"address": address, "shard": "s1"})
        for node_id, address in (("m-0", "127.0.0.1:1"), ("m-1", follower_address), ("m-2", leader_address))
    ]
    # A stale election key names the follower: it is asked first, answers NOT_LEADER, and is skipped.
    await client.put(
        Keyspace(cluster).shard_leader("s1"), json.dumps({"node_id": "m-1", "address": follower_address})
    )
    async with NodeWatcher(client, cluster, "metanode") as watcher:
        shards = ShardLeaders(client, cluster, watcher, timeout_s=5)
        try:
            assert shards.shard_ids() == ["s1"]
            assert (await shards.candidates("s1"))[0] == follower_address
            assert await shards.call("s1", entries) == 7
            assert follower.calls == 1 and leader.calls == 2  # the probe, then the call

            leader.leads = False
            with pytest.raises(StrataError) as caught:
                await shards.call("s1", entries)
            assert caught.value.reason == ErrorReason.NOT_LEADER
            assert "shard s1" in caught.value.message
        finally:
            await shards.close()
    for registration in registrations:
        await registration.close()


async def test_a_hung_metanode_costs_the_probe_deadline_only(
    client: EtcdClient, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shard_leaders, "PROBE_TIMEOUT_S", 0.5)
    hung, leader = Metanode(leads=True, hangs=True), Metanode(leads=True)
    (hung_server, hung_address), (leader_server, leader_address) = await serve(hung), await serve(leader)
    registrations = [
        await register_node(client, cluster, "metanode", node_id, {"address": address, "shard": "s1"})
        for node_id, address in (("m-1", hung_address), ("m-2", leader_address))
    ]
    await client.put(
        Keyspace(cluster).shard_leader("s1"), json.dumps({"node_id": "m-1", "address": hung_address})
    )
    async with NodeWatcher(client, cluster, "metanode") as watcher:
        shards = ShardLeaders(client, cluster, watcher, timeout_s=3600)
        try:
            assert await asyncio.wait_for(shards.call("s1", entries), 10) == 7
            assert hung.calls == 1 and leader.calls == 2
        finally:
            await shards.close()
            for server in (hung_server, leader_server):
                await server.stop(grace=None)
    for registration in registrations:
        await registration.close()
