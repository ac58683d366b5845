"""``/_/healthcheck`` answers 503 when the gateway cannot reach its metadata, 200 otherwise.

Shards and datanodes come from a real etcd, through the watchers the gateway uses.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from coordinator.registry import NodeWatcher, register_node
from coordinator.shards import ShardWatcher
from gateway.app import build_app
from gateway.context import GatewayServices
from gateway.ports import DatanodeMembership, ShardMap
from gateway.s3.accounts import AccountStore
from gateway.s3.auth import Authenticator
from protos.common_pb2 import Empty, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import RepairStatusResponse
from strata.embedded import LocalData
from strata.testing.etcd import EtcdProcess


class _Metadata:
    def __init__(self, reachable: bool) -> None:
        self.reachable = reachable

    async def repair_status(self, request: Empty) -> RepairStatusResponse:
        if not self.reachable:
            raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, "metanode unreachable")
        return RepairStatusResponse()


async def _health(
    reachable: bool, shards: ShardMap | None = None, datanodes: DatanodeMembership | None = None
) -> tuple[int, dict[str, Any]]:
    services = GatewayServices(
        metadata=_Metadata(reachable),  # type: ignore[arg-type]
        data=LocalData({}, {}),  # no external location to probe
        authenticator=Authenticator(AccountStore.from_file("gateway/s3/default_authdata.json")),
        rest_endpoints=lambda: {"localhost": "us-east-1"},
        locations=lambda: {"us-east-1": {"type": "file", "legacyAwsBehavior": True, "details": {}}},
        shards=shards,
        datanodes=datanodes,
    )
    server = TestServer(build_app(services), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{server.port}/_/healthcheck") as response:
                return response.status, await response.json()
    finally:
        await server.close()


async def test_healthcheck_is_200_when_metadata_answers() -> None:
    status, report = await _health(reachable=True)
    assert status == 200 and report["status"] == "ok"


async def test_healthcheck_is_503_when_metadata_is_unreachable() -> None:
    status, report = await _health(reachable=False)
    assert status == 503
    assert report["status"] == "degraded" and report["metadata"]["code"] == 503


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess() as process:
        yield process


async def _cluster_health(
    etcd: EtcdProcess, shards: dict[str, list[str] | None]
) -> tuple[int, dict[str, Any]]:
    """Health with the shard map and datanodes in a real etcd: ``{shard: ISR members, or None for no leader}``.

    Every shard has 3 replicas; datanode-1 is live and reports its storage, datanode-2 is a member that is down.
    """
    cluster = f"health-{uuid.uuid4().hex[:8]}"
    space = Keyspace(cluster)
    async with await EtcdClient.connect(etcd.endpoint) as client:
        for shard, isr in shards.items():
            members = {"replicas": 3, "members": ["m1", "m2", "m3"]}
            await client.put(space.shard_members(shard), json.dumps(members))
            if isr is not None:
                await client.put(space.shard_isr(shard), json.dumps({"term": 1, "members": isr}))
                await client.put(space.shard_leader(shard), json.dumps({"node_id": isr[0], "address": "h:1"}))
        storage = {"used_bytes": 10, "capacity_bytes": 1000, "available_bytes": 400}
        info = {"location": "us-east-1", "address": "h:2", "storage": storage}
        registration = await register_node(client, cluster, "datanode", "datanode-1", info)
        await client.put(space.member("datanode", "datanode-2"), json.dumps({"location": "us-east-1"}))
        try:
            async with (
                ShardWatcher(client, cluster) as watcher,
                NodeWatcher(client, cluster, "datanode") as nodes,
            ):
                return await _health(True, shards=watcher, datanodes=nodes)
        finally:
            await registration.close()


async def test_healthcheck_reports_a_shard_short_of_in_sync_replicas(etcd: EtcdProcess) -> None:
    status, report = await _cluster_health(etcd, {"s1": ["m1", "m2"]})
    assert status == 200 and report["status"] == "degraded"
    assert report["shards"]["s1"] == {
        "code": 200,
        "message": "degraded: 2 of 3 replicas in sync",
        "leader": "m1",
        "term": report["shards"]["s1"]["term"],
        "isr": ["m1", "m2"],
        "replicas": 3,
    }
    assert report["shards"]["s1"]["term"] > 0


async def test_a_leaderless_shard_is_503_in_its_entry_and_every_shard_leaderless_is_a_503(
    etcd: EtcdProcess,
) -> None:
    status, report = await _cluster_health(etcd, {"s1": ["m1", "m2", "m3"], "s2": None})
    assert status == 200 and report["status"] == "degraded"
    assert report["shards"]["s1"]["message"] == "OK" and report["shards"]["s1"]["code"] == 200
    assert (
        report["shards"]["s2"]["code"] == 503 and report["shards"]["s2"]["message"] == "degraded: no leader"
    )
    status, report = await _cluster_health(etcd, {"s1": None})
    assert status == 503 and report["metadata"] == {"code": 503, "message": "no metadata shard has a leader"}


async def test_healthcheck_lists_each_datanode_with_its_storage(etcd: EtcdProcess) -> None:
    _, report = await _cluster_health(etcd, {"s1": ["m1", "m2", "m3"]})
    location = report["locations"]["us-east-1"]
    assert location["unreachable"] == ["datanode-2"] and location["code"] == 200
    assert location["nodes"] == {
        "datanode-1": {
            "code": 200,
            "message": "OK",
            "used_bytes": 10,
            "capacity_bytes": 1000,
            "available_bytes": 400,
        },
        "datanode-2": {"code": 503, "message": "unreachable"},
    }
