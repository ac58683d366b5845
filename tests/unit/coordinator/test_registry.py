"""Node registration and the watched node directory, against a real etcd."""

from __future__ import annotations

import asyncio
import json

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from coordinator.registry import NodeWatcher, register_node, wait_for
from datanode.client import NodeDirectory, NodeInfo
from strata.testing.etcd import EtcdProcess


async def test_registered_node_is_visible_in_the_watcher_and_close_removes_it(
    client: EtcdClient, cluster: str
) -> None:
    async with NodeWatcher(client, cluster, "datanode") as watcher:
        assert watcher.nodes() == []
        registration = await register_node(
            client, cluster, "datanode", "dn1", {"address": "127.0.0.1:9991", "location": "us-east-1"}
        )
        nodes = await watcher.wait_for(1, timeout_s=10)
        assert nodes[0]["node_id"] == "dn1" and nodes[0]["kind"] == "datanode"
        directory: NodeDirectory = watcher  # the datanode client's view of the registry
        node = directory.node("dn1")
        assert node == NodeInfo(node_id="dn1", address="127.0.0.1:9991", location="us-east-1")
        assert directory.nodes_for_location("us-east-1") == [node]
        assert directory.nodes_for_location("elsewhere") == []

        await registration.close()
        assert await client.get(Keyspace(cluster).node("datanode", "dn1")) is None
        await watcher.wait_until_gone("dn1", timeout_s=10)
        assert watcher.node("dn1") is None


async def test_watcher_loads_nodes_registered_before_it_started(client: EtcdClient, cluster: str) -> None:
    first = await register_node(client, cluster, "metanode", "m1", {"address": "a:1"})
    second = await register_node(client, cluster, "metanode", "m2", {"address": "a:2"})
    try:
        async with NodeWatcher(client, cluster, "metanode") as watcher:
            assert watcher.node_ids() == ["m1", "m2"]
        assert [info["node_id"] for info in await wait_for(client, cluster, "metanode", 2, 10)] == [
            "m1",
            "m2",
        ]
    finally:
        await first.close()
        await second.close()


async def test_node_stays_registered_while_kept_alive_and_expires_when_abandoned(
    client: EtcdClient, cluster: str
) -> None:
    key = Keyspace(cluster).node("gateway", "g1")
    # TTL 2 s (refresh every ~0.7 s) so a fully loaded CI machine cannot starve the keepalive.
    registration = await register_node(client, cluster, "gateway", "g1", {"address": "a:8000"}, ttl_s=2)
    async with NodeWatcher(client, cluster, "gateway") as watcher:
        await asyncio.sleep(5.0)  # well past the TTL: only the keepalive can keep it
        assert watcher.node_ids() == ["g1"]
        registration.abandon()  # what a crashed process does
        await watcher.wait_until_gone("g1", timeout_s=10)
    assert await client.get(key) is None


async def test_update_replaces_the_published_info(client: EtcdClient, cluster: str) -> None:
    registration = await register_node(
        client, cluster, "datanode", "dn1", {"address": "a:1", "location": "x"}
    )
    try:
        await registration.update({"address": "a:2", "location": "y"})
        raw = await client.get(Keyspace(cluster).node("datanode", "dn1"))
        assert raw is not None and json.loads(raw)["address"] == "a:2"
    finally:
        await registration.close()


async def test_registration_comes_back_after_its_lease_is_lost(client: EtcdClient, cluster: str) -> None:
    registration = await register_node(client, cluster, "datanode", "dn1", {"address": "a:1"}, ttl_s=1)
    try:
        async with NodeWatcher(client, cluster, "datanode") as watcher:
            lost_lease = registration.lease_id
            await client.revoke_lease(lost_lease)  # as if etcd had expired it
            await watcher.wait_until_gone("dn1", timeout_s=10)
            await watcher.wait_for(1, timeout_s=10)
            assert registration.lease_id != lost_lease
    finally:
        await registration.close()


async def test_watcher_follows_changes_across_an_etcd_restart(cluster: str) -> None:
    async with EtcdProcess() as etcd:
        client = await EtcdClient.connect(etcd.endpoint)
        try:
            async with NodeWatcher(client, cluster, "datanode") as watcher:
                await asyncio.to_thread(etcd.restart)
                registration = await register_node(client, cluster, "datanode", "dn9", {"address": "a:9"})
                await watcher.wait_for(1, timeout_s=20)
                assert watcher.node_ids() == ["dn9"]
                await registration.close()
        finally:
            await client.close()


async def test_a_draining_datanode_takes_no_new_blobs_but_is_still_found_for_reads(
    client: EtcdClient, cluster: str
) -> None:
    info = {"location": "us-east-1"}
    first = await register_node(client, cluster, "datanode", "dn1", {**info, "address": "127.0.0.1:1"})
    second = await register_node(client, cluster, "datanode", "dn2", {**info, "address": "127.0.0.1:2"})
    try:
        async with NodeWatcher(client, cluster, "datanode") as watcher:
            assert [node.node_id for node in watcher.nodes_for_location("us-east-1")] == ["dn1", "dn2"]
            await client.put(
                Keyspace(cluster).draining("dn2"), json.dumps({"location": "us-east-1"}).encode()
            )
            await watcher.wait_for_draining({"dn2"}, timeout_s=10)
            assert [node.node_id for node in watcher.nodes_for_location("us-east-1")] == ["dn1"]
            assert watcher.node("dn2") == NodeInfo("dn2", "127.0.0.1:2", "us-east-1")
            assert "dn2" in watcher.node_ids() and watcher.unreachable() == {}

            await client.delete(Keyspace(cluster).draining("dn2"))
            await watcher.wait_for_draining(set(), timeout_s=10)
            assert not watcher.draining()
            assert [node.node_id for node in watcher.nodes_for_location("us-east-1")] == ["dn1", "dn2"]
        async with NodeWatcher(client, cluster, "metanode") as metanodes:
            assert metanodes.draining() == set()
    finally:
        await first.close()
        await second.close()
