"""How long each datanode has been down, kept in etcd so a new coordinator continues the count.

A datanode is *down* when it is a member (``members/datanode/<id>``) but not live
(``nodes/datanode/<id>`` is gone: its lease expired or it left). The first coordinator pass
that sees it down writes ``coordinator/down/<id>`` = ``{"since_ms": <wall clock>}`` (create if
absent, so concurrent coordinators agree on the first sighting); a pass that sees it live again
deletes the key. The down time is therefore measured from the first sighting by *some*
coordinator, not from the moment the node died: it is late by at most one repair interval
(plus any time no coordinator ran), never early, and a failover does not restart it.

Once every shard reports no blob left on a lost node, the key is marked ``"evacuated": true``
so later passes stop scanning the metadata for it; if the node comes back, the key goes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace, keyspace
from coordinator.registry import NodeWatcher


@dataclass(frozen=True)
class DownNode:
    node_id: str
    since_ms: int
    evacuated: bool = False

    def down_for_s(self, now_ms: int) -> float:
        return max(0, now_ms - self.since_ms) / 1000

    def encode(self) -> bytes:
        return json.dumps({"since_ms": self.since_ms, "evacuated": self.evacuated}).encode()


def _decode(node_id: str, raw: bytes) -> DownNode | None:
    try:
        document = json.loads(raw)
        return DownNode(node_id, int(document["since_ms"]), bool(document.get("evacuated", False)))
    except (ValueError, KeyError, TypeError):
        return None


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class DownNodes:
    """Reads and records the down datanodes of one cluster."""

    def __init__(
        self,
        etcd: EtcdClient,
        cluster: str | Keyspace,
        datanodes: NodeWatcher,
        clock_ms: Callable[[], int] = _wall_clock_ms,
    ) -> None:
        self._etcd = etcd
        self._keyspace = keyspace(cluster)
        self._datanodes = datanodes
        self.clock_ms = clock_ms

    def unreachable(self) -> list[str]:
        return sorted(node for nodes in self._datanodes.unreachable().values() for node in nodes)

    async def refresh(self) -> dict[str, DownNode]:
        """Records newly down datanodes, forgets returned ones; returns every down datanode."""
        down_now = set(self.unreachable())
        prefix = self._keyspace.coordinator_down_prefix
        stored: dict[str, DownNode | None] = {
            Keyspace.last_segment(key): _decode(Keyspace.last_segment(key), raw)
            for key, raw in await self._etcd.get_prefix(prefix)
        }
        for node_id in stored.keys() - down_now:
            await self._etcd.delete(self._keyspace.coordinator_down(node_id))
        found: dict[str, DownNode] = {}
        for node_id in sorted(down_now):
            known = stored.get(node_id)
            if known is None:
                fresh = DownNode(node_id, self.clock_ms())
                key = self._keyspace.coordinator_down(node_id)
                created, current = await self._etcd.create_if_absent(key, fresh.encode())
                known = fresh if created else _decode(node_id, current)
                if known is None:  # unreadable: start the count again
                    await self._etcd.put(key, fresh.encode())
                    known = fresh
            found[node_id] = known
        return found

    def lost(self, down: Iterable[DownNode], grace_s: float) -> list[str]:
        """The down nodes gone at least ``grace_s`` and not yet evacuated."""
        now_ms = self.clock_ms()
        return sorted(
            node.node_id for node in down if not node.evacuated and node.down_for_s(now_ms) >= grace_s
        )

    async def mark_evacuated(self, nodes: Iterable[DownNode]) -> None:
        """Records that no blob lists these nodes any more (skipped if one came back meanwhile)."""
        for node in nodes:
            key = self._keyspace.coordinator_down(node.node_id)
            evacuated = DownNode(node.node_id, node.since_ms, evacuated=True)
            await self._etcd.compare_and_set(key, node.encode(), evacuated.encode())
