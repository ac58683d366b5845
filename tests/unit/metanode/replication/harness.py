"""A shard of real replicas in one process, for the replication tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from coordinator.registry import NodeWatcher, Registration, register_node
from metanode.client import MetadataClient
from metanode.core import MetadataCore
from metanode.kv import KV
from metanode.replication.leader import Leader
from metanode.replication.node import ShardNode
from metanode.server import bound_port, start_server
from strata.testing.etcd import free_port


def _core(kv: KV, leader: Leader) -> MetadataCore:
    return MetadataCore(kv, replication=leader)


@dataclass
class Replica:
    node_id: str
    port: int
    node: ShardNode | None = None
    server: grpc.aio.Server | None = None
    registration: Registration | None = None
    peers: NodeWatcher | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class Shard:
    etcd: EtcdClient
    cluster: str
    root: Path
    replicas: int = 3
    shard_id: str = "s1"
    lag_timeout_s: float = 1.0
    commit_timeout_s: float = 3.0
    log_retention: int = 50_000
    members: dict[str, Replica] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for index in range(1, self.replicas + 1):
            node_id = f"metanode-{index}"
            self.members[node_id] = Replica(node_id, free_port())
        self.keys = Keyspace(self.cluster)

    async def start(self, node_id: str) -> ShardNode:
        replica = self.members[node_id]
        replica.peers = NodeWatcher(self.etcd, self.cluster, "metanode")
        await replica.peers.start()
        node = ShardNode(
            etcd=self.etcd,
            keyspace=self.keys,
            shard=self.shard_id,
            node_id=node_id,
            address=replica.address,
            data_dir=self.root / node_id,
            replicas=self.replicas,
            peers=replica.peers,
            core_factory=_core,
            lag_timeout_s=self.lag_timeout_s,
            commit_timeout_s=self.commit_timeout_s,
            log_retention=self.log_retention,
        )
        await node.open()
        replica.server = await start_server(node, replica.address)
        assert bound_port(replica.server) == replica.port
        replica.registration = await register_node(
            self.etcd, self.cluster, "metanode", node_id,
            {"node_id": node_id, "address": replica.address, "shard": self.shard_id},
        )  # fmt: skip
        node.start()
        replica.node = node
        return node

    async def start_all(self) -> None:
        for node_id in self.members:
            await self.start(node_id)

    async def stop(self, node_id: str) -> None:
        """A graceful stop: the replica leaves, its lease is revoked."""
        replica = self.members[node_id]
        if replica.registration is not None:
            await replica.registration.close()
            replica.registration = None
        if replica.server is not None:
            await replica.server.stop(0)
            replica.server = None
        if replica.node is not None:
            await replica.node.close()
            replica.node = None
        if replica.peers is not None:
            await replica.peers.close()
            replica.peers = None

    async def stop_all(self) -> None:
        for node_id in list(self.members):
            with contextlib.suppress(Exception):
                await self.stop(node_id)

    def node(self, node_id: str) -> ShardNode:
        node = self.members[node_id].node
        assert node is not None, f"{node_id} is not running"
        return node

    async def leader_id(self) -> str | None:
        current = await self.etcd.leader(self.keys.shard_leader(self.shard_id))
        if current is None:
            return None
        node_id = str(json.loads(current.value)["node_id"])
        node = self.members[node_id].node
        if node is None or node.core is None:
            return None
        return node_id

    async def wait_for_leader(self, other_than: str = "") -> str:
        while True:
            found = await self.leader_id()
            if found is not None and found != other_than:
                return found
            await asyncio.sleep(0.05)

    async def isr(self) -> tuple[str, ...]:
        raw = await self.etcd.get(self.keys.shard_isr(self.shard_id))
        assert raw is not None
        return tuple(json.loads(raw)["members"])

    async def wait_for_isr(self, members: set[str], timeout_s: float = 20.0) -> None:
        async with asyncio.timeout(timeout_s):
            while True:
                if set(await self.isr()) == members:
                    return
                await asyncio.sleep(0.05)

    def client(self, node_id: str) -> MetadataClient:
        return MetadataClient(self.members[node_id].address, timeout_s=10)
