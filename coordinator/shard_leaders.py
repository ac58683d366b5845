"""Calls to each shard's leader metanode from outside the gateway (the coordinator, the admin CLI).

A shard's metanodes register under ``nodes/metanode/<id>`` with ``"shard": "<id>"``; its
leader holds ``shards/<id>/leader`` (JSON with ``address``). A call goes to the address the
election key names first, then to every other registered metanode of the shard: one that is
not the leader answers ``NOT_LEADER`` and one that cannot be reached fails with
``BACKEND_UNAVAILABLE``; both mean "try the next". Any other error is the leader's answer.

Each metanode is first asked a cheap question with a short deadline, so a stopped or hung one
costs seconds before the next is tried, not the long deadline a repair pass gets.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace, keyspace
from coordinator.registry import NodeWatcher
from metanode.client import MetadataClient
from protos.common_pb2 import Empty, ErrorReason
from protos.errors import StrataError

log = logging.getLogger(__name__)

DEFAULT_SHARD = "s1"
PROBE_TIMEOUT_S = 10.0
# Not the leader, or not reachable: another metanode of the shard may be the leader.
_TRY_NEXT = frozenset({ErrorReason.NOT_LEADER, ErrorReason.BACKEND_UNAVAILABLE})

T = TypeVar("T")


class ShardLeaders:
    """Finds and calls each shard's leader; ``timeout_s`` bounds each call (repair passes are long)."""

    def __init__(
        self, etcd: EtcdClient, cluster: str | Keyspace, metanodes: NodeWatcher, timeout_s: float
    ) -> None:
        self._etcd = etcd
        self._keyspace = keyspace(cluster)
        self._metanodes = metanodes
        self._timeout_s = timeout_s
        self._clients: dict[tuple[str, float], MetadataClient] = {}

    def shard_ids(self) -> list[str]:
        """Every shard some live metanode serves."""
        return sorted({str(info.get("shard") or DEFAULT_SHARD) for info in self._metanodes.nodes()})

    async def _elected_address(self, shard_id: str) -> str | None:
        try:
            raw = await self._etcd.get(self._keyspace.shard_leader(shard_id))
        except StrataError as error:
            log.warning("cannot read the leader of shard %s: %s", shard_id, error.message)
            return None
        if raw is None:
            return None
        try:
            address = json.loads(raw).get("address")
        except (ValueError, AttributeError):
            return None
        return str(address) if address else None

    async def candidates(self, shard_id: str) -> list[str]:
        """The shard's metanode addresses, the elected leader's first."""
        registered = [
            str(info.get("address", ""))
            for info in self._metanodes.nodes()
            if str(info.get("shard") or DEFAULT_SHARD) == shard_id and info.get("address")
        ]
        elected = await self._elected_address(shard_id)
        ordered = [elected] if elected else []
        ordered.extend(address for address in registered if address != elected)
        return ordered

    def client(self, address: str, timeout_s: float | None = None) -> MetadataClient:
        """A client of ``address`` whose calls get ``timeout_s`` (default: the long one)."""
        deadline = self._timeout_s if timeout_s is None else timeout_s
        client = self._clients.get((address, deadline))
        if client is None:
            client = self._clients[(address, deadline)] = MetadataClient(address, timeout_s=deadline)
        return client

    async def call(self, shard_id: str, call: Callable[[MetadataClient], Awaitable[T]]) -> T:
        """``call(client)`` on the shard's leader; raises the last failure if no metanode leads."""
        last: StrataError | None = None
        for address in await self.candidates(shard_id):
            try:
                await self.client(address, PROBE_TIMEOUT_S).repair_status(Empty())
                return await call(self.client(address))
            except StrataError as error:
                if error.reason not in _TRY_NEXT:
                    raise
                last = error
        raise StrataError(
            last.reason if last is not None else ErrorReason.NOT_LEADER,
            f"no metanode of shard {shard_id} answered as its leader"
            + (f" (last: {last.message})" if last is not None else ": none is registered"),
        )

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()
