"""The cluster's shard map as etcd holds it (``shards/<id>/...``), kept current by a watch.

Gateways route each bucket's calls to its shard's leader with it; status and health
read members, ISR and progress from it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace, keyspace
from coordinator.mirror import PrefixMirror

_PARTS = ("members", "isr", "leader", "progress")


@dataclass(frozen=True)
class ShardLeader:
    node_id: str
    address: str
    term: int  # as stamped on the ISR by the leader; 0 until it has done so


def _decode(key: str, raw: bytes) -> dict[str, Any]:
    if key.rsplit("/", 1)[-1] not in _PARTS:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("shard record is not a JSON object")
    return value


class ShardWatcher:
    def __init__(self, client: EtcdClient, cluster: str | Keyspace) -> None:
        self._keys = keyspace(cluster)
        self._mirror: PrefixMirror[dict[str, Any]] = PrefixMirror(client, self._keys.shards_prefix, _decode)
        self._changed = asyncio.Event()
        self._mirror.add_listener(self._changed.set)

    async def start(self) -> None:
        await self._mirror.start()

    async def close(self) -> None:
        await self._mirror.close()

    def _part(self, shard: str, part: str) -> dict[str, Any] | None:
        return self._mirror.get(f"{self._keys.shards_prefix}{shard}/{part}")

    def shards(self) -> list[str]:
        found = {
            key[len(self._keys.shards_prefix) :].split("/", 1)[0]
            for key in self._mirror.items()
            if key.endswith("/members")
        }
        return sorted(found)

    def leader(self, shard: str) -> ShardLeader | None:
        value = self._part(shard, "leader")
        if not value or not value.get("address"):
            return None
        isr = self._part(shard, "isr") or {}
        term = int(isr.get("term", 0)) if str(value.get("node_id")) in isr.get("members", []) else 0
        return ShardLeader(str(value.get("node_id", "")), str(value["address"]), term)

    def isr(self, shard: str) -> list[str]:
        return [str(member) for member in (self._part(shard, "isr") or {}).get("members", [])]

    def members(self, shard: str) -> list[str]:
        return [str(member) for member in (self._part(shard, "members") or {}).get("members", [])]

    def replicas(self, shard: str) -> int:
        members = self._part(shard, "members") or {}
        return int(members.get("replicas", len(members.get("members", []))))

    def progress(self, shard: str) -> dict[str, Any] | None:
        return self._part(shard, "progress")

    def add_listener(self, listener: Callable[[], None]) -> None:
        self._mirror.add_listener(listener)

    async def wait_for_change(self, timeout_s: float) -> None:
        """Returns after the next change of the shard map, or after ``timeout_s``."""
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            pass

    async def wait_for_leader(self, shard: str, timeout_s: float) -> ShardLeader:
        """Raises TimeoutError if ``shard`` has no leader within ``timeout_s``."""
        await self._mirror.wait_until(lambda _: self.leader(shard) is not None, timeout_s)
        leader = self.leader(shard)
        assert leader is not None
        return leader
