"""DownNodes: when a datanode was first seen down is kept in etcd, so a new coordinator continues the count."""

from __future__ import annotations

from coordinator.down_nodes import DownNodes
from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from coordinator.registry import NodeWatcher, register_node


class Clock:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


async def test_down_time_survives_a_new_coordinator_and_ends_when_the_node_returns(
    client: EtcdClient, cluster: str
) -> None:
    info = {"address": "127.0.0.1:1", "location": "us-east-1"}
    live = await register_node(client, cluster, "datanode", "dn-1", info)
    gone = await register_node(client, cluster, "datanode", "dn-2", info)
    await gone.close()
    async with NodeWatcher(client, cluster, "datanode") as watcher:
        clock = Clock(1_000_000)
        first = DownNodes(client, cluster, watcher, clock_ms=clock)
        down = await first.refresh()
        assert list(down) == ["dn-2"] and down["dn-2"].since_ms == 1_000_000
        assert first.lost(down.values(), grace_s=600) == []

        # Another coordinator, 10 minutes later, counts from the first sighting.
        later = Clock(1_000_000 + 600_000)
        successor = DownNodes(client, cluster, watcher, clock_ms=later)
        down = await successor.refresh()
        assert down["dn-2"].since_ms == 1_000_000
        assert successor.lost(down.values(), grace_s=600) == ["dn-2"]
        assert successor.lost(down.values(), grace_s=601) == []

        await successor.mark_evacuated(down.values())
        down = await successor.refresh()
        assert down["dn-2"].evacuated and down["dn-2"].since_ms == 1_000_000
        assert successor.lost(down.values(), grace_s=0) == []  # nothing left to move off it

        back = await register_node(client, cluster, "datanode", "dn-2", info)
        await watcher._mirror.wait_until(lambda items: len(items) == 2, 10)
        assert await successor.refresh() == {}
        assert await client.get(Keyspace(cluster).coordinator_down("dn-2")) is None
        await back.close()
    await live.close()
