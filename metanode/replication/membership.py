"""A shard's replicas and in-sync replica set, as etcd holds them (DESIGN section 7).

``shards/<id>/members``: ``{"replicas": N, "members": [...]}`` -- the replicas a shard should
have; a write is committed only with a majority of N in sync. ``shards/<id>/isr``:
``{"term": T, "members": [...]}`` -- the replicas holding every committed entry. Only the
leader of term T changes the ISR, by a transaction guarded by its election key, so a
deposed leader can never change it; only ISR members may become leader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError


@dataclass(frozen=True)
class Isr:
    term: int
    members: tuple[str, ...]
    revision: int  # the key's mod revision, for compare-and-set

    def encode(self) -> bytes:
        return json.dumps({"term": self.term, "members": list(self.members)}).encode()


def quorum(replicas: int) -> int:
    return replicas // 2 + 1


def _decode(raw: bytes, what: str) -> dict[str, object]:
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise StrataError(ErrorReason.INTERNAL, f"malformed {what} in etcd: {raw!r}") from error
    if not isinstance(value, dict):
        raise StrataError(ErrorReason.INTERNAL, f"malformed {what} in etcd: {raw!r}")
    return value


class ShardMembership:
    """The etcd records of one shard, for one of its replicas."""

    def __init__(self, etcd: EtcdClient, keyspace: Keyspace, shard: str) -> None:
        self._etcd = etcd
        self.keys = keyspace
        self.shard = shard

    @property
    def leader_key(self) -> str:
        return self.keys.shard_leader(self.shard)

    @property
    def isr_key(self) -> str:
        return self.keys.shard_isr(self.shard)

    async def join(self, node_id: str, replicas: int) -> tuple[int, list[str]]:
        """Adds ``node_id`` to the shard's members (creating the shard with ``replicas``) and, on a new
        shard, makes it the first in-sync replica. Returns (replicas, members)."""
        key = self.keys.shard_members(self.shard)
        while True:
            current = await self._etcd.get(key)
            if current is None:
                document: dict[str, object] = {"replicas": replicas, "members": [node_id]}
                if await self._etcd.compare_and_set(key, None, json.dumps(document)):
                    break
                continue
            document = _decode(current, "shard members")
            members = [str(member) for member in document.get("members", [])]  # type: ignore[attr-defined]
            if node_id in members:
                break
            document["members"] = [*members, node_id]
            if await self._etcd.compare_and_set(key, current, json.dumps(document)):
                break
        # The first replica of a new shard is in sync with nothing to hold.
        await self._etcd.compare_and_set(self.isr_key, None, Isr(0, (node_id,), 0).encode())
        return await self.replicas()

    async def replicas(self) -> tuple[int, list[str]]:
        raw = await self._etcd.get(self.keys.shard_members(self.shard))
        if raw is None:
            raise StrataError(ErrorReason.INTERNAL, f"shard {self.shard} has no members in etcd")
        document = _decode(raw, "shard members")
        members = [str(member) for member in document.get("members", [])]  # type: ignore[attr-defined]
        return int(document.get("replicas", len(members))), members  # type: ignore[call-overload]

    async def isr(self) -> Isr:
        item = await self._etcd.get_item(self.isr_key)
        if item is None:
            return Isr(0, (), 0)
        document = _decode(item.value, "ISR")
        members = tuple(str(member) for member in document.get("members", []))  # type: ignore[attr-defined]
        return Isr(int(document.get("term", 0)), members, item.mod_revision)  # type: ignore[call-overload]

    async def change_isr(self, current: Isr, term: int, members: tuple[str, ...]) -> Isr | None:
        """Replaces ``current`` (as read) under leadership ``term``; None if either changed meanwhile."""
        proposed = Isr(term, members, 0)
        if not await self._etcd.put_if_revisions(
            self.isr_key, proposed.encode(), current.revision, self.leader_key, term
        ):
            return None
        return await self.isr()

    async def publish_progress(self, document: dict[str, object], lease: int) -> None:
        await self._etcd.put(self.keys.shard_progress(self.shard), json.dumps(document), lease=lease)
