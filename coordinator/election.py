"""Leader election on one etcd key, held through a kept-alive lease.

    election = LeaderElection(client, Keyspace(cluster).coordinator_leader, "coord-1")
    term = await election.campaign()      # blocks until this process leads
    ...                                   # lead; fence writes with `term`
    await election.lost.wait()            # leadership ended (lease expired, key removed)
    await election.resign()

The term is the revision at which the key was created: it grows with every new
leadership, so a deposed leader's term is always smaller than its successor's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from coordinator.etcd import EtcdClient, KeyValue, Value, WatchCompactedError, WatchEventType
from protos.errors import StrataError

_log = logging.getLogger(__name__)


class LeaderElection:
    """One candidate for one election key."""

    def __init__(self, client: EtcdClient, key: str, value: Value, ttl_s: int = 5) -> None:
        self._client = client
        self.key = key
        self._value = value
        self._ttl_s = ttl_s
        self._lease_id = 0
        self.term: int | None = None
        self.lost = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def is_leader(self) -> bool:
        return self.term is not None and not self.lost.is_set()

    async def campaign(self) -> int:
        """Waits until this candidate holds the key; returns the term."""
        if self.is_leader:
            assert self.term is not None
            return self.term
        self.lost.clear()
        lease_id, granted_ttl_s = await self._client.grant_lease(self._ttl_s)
        self._lease_id = lease_id
        keeper = asyncio.create_task(self._keep_lease(granted_ttl_s), name=f"election-lease:{self.key}")
        try:
            self.term = await self._client.campaign(self.key, self._value, lease_id)
        except BaseException:
            keeper.cancel()
            with contextlib.suppress(StrataError):
                await self._client.revoke_lease(lease_id)
            raise
        self._tasks = [
            keeper,
            asyncio.create_task(self._watch_key(self.term), name=f"election-watch:{self.key}"),
        ]
        return self.term

    async def _keep_lease(self, ttl_s: int) -> None:
        await self._client.keep_lease_alive(self._lease_id, ttl_s)
        self._lose("lease expired")

    async def _watch_key(self, term: int) -> None:
        while not self.lost.is_set():
            try:
                async for event in self._client.watch_key(self.key, start_revision=term + 1):
                    if event.type is WatchEventType.DELETE:
                        self._lose("election key deleted")
                        return
            except (WatchCompactedError, StrataError):
                current = await self._current_or_none()
                if current is None or current.create_revision != term:
                    self._lose("election key changed")
                    return

    async def _current_or_none(self) -> KeyValue | None:
        try:
            return await self._client.leader(self.key)
        except StrataError:
            await asyncio.sleep(0.5)
            return await self._current_or_none()

    def _lose(self, why: str) -> None:
        if not self.lost.is_set():
            _log.warning("leadership of %s lost: %s", self.key, why)
            self.lost.set()

    async def leader(self) -> KeyValue | None:
        """Who leads now (value and term as ``create_revision``), whoever it is."""
        return await self._client.leader(self.key)

    async def resign(self) -> None:
        """Steps down (if leading) and releases the lease."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.term is not None:
            with contextlib.suppress(StrataError):
                await self._client.resign(self.key, self.term)
        if self._lease_id:
            await self._client.revoke_lease(self._lease_id)
            self._lease_id = 0
        self.term = None
        self.lost.set()
