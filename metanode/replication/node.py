"""One metanode's replica of a shard: follower until elected, leader until deposed.

The replica joins the shard in etcd, then loops: wait until it is in the ISR, campaign
for the shard's election key with a kept-alive lease, and lead for as long as the term
lasts. While it leads, a ``MetadataCore`` over its store serves requests through a
writer whose batches the ``Leader`` replicates; the term's first entry (empty) commits
everything the log held before. Otherwise it is a follower: it appends the leader's
entries (``append``) or installs its snapshot, and answers clients ``NOT_LEADER``.

Reads are linearizable: a response leaves the leader only once every entry the read
could have seen is committed and the lease still proves the leadership (``confirm``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import grpc

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from coordinator.registry import NodeWatcher
from metanode.core import MetadataCore
from metanode.kv import KV, RocksKV
from metanode.replication import log as replog
from metanode.replication import snapshot
from metanode.replication.leader import Leader
from metanode.replication.membership import ShardMembership
from metanode.writer import LogEntry, merge_entries
from protos import metadata_pb2_grpc
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import AppendRequest, AppendResponse, SnapshotChunk
from strata.runtime.grpc_context import QUICK_RECONNECT
from strata.runtime.metrics import CLIENT_INTERCEPTORS

log = logging.getLogger("metanode.replication")

CoreFactory = Callable[[KV, Leader], MetadataCore]
LeadingScope = Callable[[MetadataCore], AbstractAsyncContextManager[None]]

_ELIGIBILITY_POLL_S = 0.2
_PROGRESS_EVERY_S = 1.0
_TRIM_EVERY_S = 5.0


def not_leader(shard: str, leader: str = "") -> StrataError:
    hint = f"; the leader is {leader}" if leader else ""
    return StrataError(ErrorReason.NOT_LEADER, f"this metanode does not lead shard {shard}{hint}")


class ShardNode:
    def __init__(
        self,
        *,
        etcd: EtcdClient,
        keyspace: Keyspace,
        shard: str,
        node_id: str,
        address: str,
        data_dir: Path,
        replicas: int,
        peers: NodeWatcher,
        core_factory: CoreFactory,
        leading: LeadingScope | None = None,
        lease_ttl_s: int = 2,
        lag_timeout_s: float = 1.0,
        commit_timeout_s: float = 5.0,
        log_retention: int = 50_000,
    ) -> None:
        self._etcd = etcd
        self.shard = shard
        self.node_id = node_id
        self.address = address
        self.data_dir = data_dir
        self._replicas = replicas
        self._peers = peers
        self._core_factory = core_factory
        self._leading = leading
        self._lease_ttl_s = lease_ttl_s
        self._lag_timeout_s = lag_timeout_s
        self._commit_timeout_s = commit_timeout_s
        self._log_retention = log_retention
        self.membership = ShardMembership(etcd, keyspace, shard)
        self.rocks: RocksKV | None = None
        self.known_term = 0
        self.leader_hint = ""
        self.leader: Leader | None = None
        self.core: MetadataCore | None = None
        self.installing = False
        self._tip = replog.Position(0, 0)
        self._lease_valid_until = 0.0
        self._append_lock = asyncio.Lock()
        self._not_leading = asyncio.Event()
        self._not_leading.set()
        self._channels: dict[str, tuple[grpc.aio.Channel, metadata_pb2_grpc.ReplicationServiceStub]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # Client calls still running on a core (one of a term that may have ended): the store
        # is not swapped for a snapshot under them.
        self._in_flight = 0
        self._no_calls = asyncio.Event()
        self._no_calls.set()

    @property
    def tip_index(self) -> int:
        """The last log index this replica holds (as a follower; a leader's is its Leader's)."""
        return self._tip.index

    @property
    def kv(self) -> RocksKV:
        assert self.rocks is not None, "the replica is not open"
        return self.rocks

    # ---- lifecycle ----

    async def open(self, open_store: Callable[[str], Awaitable[RocksKV]] | None = None) -> None:
        """Opens the store (finishing a snapshot swap a crash interrupted) and joins the shard."""
        await asyncio.to_thread(snapshot.recover, self.data_dir)
        if open_store is None:
            self.rocks = await asyncio.to_thread(RocksKV, str(self.data_dir))
        else:
            self.rocks = await open_store(str(self.data_dir))
        self._tip = await asyncio.to_thread(replog.tip, self.rocks)
        await self.membership.join(self.node_id, self._replicas)
        current = await self._etcd.leader(self.membership.leader_key)
        self.known_term = max(self._tip.term, current.create_revision if current else 0)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"shard-replica:{self.shard}"),
            asyncio.create_task(self._watch_term(), name=f"shard-term:{self.shard}"),
            asyncio.create_task(self._trim_log(), name=f"shard-trim:{self.shard}"),
        ]

    async def close_leadership(self) -> None:
        """Steps down (if leading) and stops campaigning; the replica still follows until ``close``."""
        if self._tasks and not self._tasks[0].done():
            self._tasks[0].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tasks[0]

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for channel, _ in self._channels.values():
            await channel.close()
        self._channels = {}
        if self.rocks is not None:
            await asyncio.to_thread(self.rocks.close)
            self.rocks = None

    # ---- serving clients ----

    def lease_valid(self) -> bool:
        return time.monotonic() < self._lease_valid_until

    def serving_core(self) -> MetadataCore:
        """The core to run a client request on; NOT_LEADER unless this replica leads now."""
        core, leader = self.core, self.leader
        if core is None or leader is None or leader.ended.is_set() or not self.lease_valid():
            raise not_leader(self.shard, self.leader_hint)
        self._in_flight += 1
        self._no_calls.clear()
        return core

    def release(self, core: MetadataCore) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._no_calls.set()

    async def confirm(self, core: MetadataCore) -> None:
        """Waits until whatever ``core`` may have read is committed under a live leadership."""
        leader = self.leader
        if leader is None or self.core is not core:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE, "the shard leader stepped down during the call"
            )
        await leader.wait_committed(core.writer.visible_index, self._commit_timeout_s)

    async def read_snapshot(self, shard: str) -> AsyncGenerator[SnapshotChunk, None]:
        """A backup of the shard: the leader's checkpoint, once everything in it is committed."""
        if shard != self.shard:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, f"this replica is of shard {self.shard}")
        leader = self.leader
        if leader is None or leader.ended.is_set() or not self.lease_valid():
            raise not_leader(self.shard, self.leader_hint)
        chunks = leader.snapshot_chunks("backup")
        try:
            header = await anext(chunks)
            await leader.wait_committed(header.last_index, self._commit_timeout_s)
            log.info("shard %s: backup at %d (term %d) read", self.shard, header.last_index, header.term)
            yield header
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    # ---- the follower's side ----

    def _observe_term(self, term: int) -> None:
        if term < self.known_term:
            raise StrataError(ErrorReason.STALE_EPOCH, f"term {term} is older than {self.known_term}")
        if term > self.known_term:
            self.known_term = term
        leader = self.leader
        if leader is not None and leader.term < term:
            leader.end(f"term {term} began")

    async def append(self, request: AppendRequest) -> AppendResponse:
        if request.shard != self.shard:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, f"this replica is of shard {self.shard}")
        self._observe_term(request.term)
        if self.leader is not None and self.leader.term == request.term:
            raise StrataError(ErrorReason.STALE_EPOCH, "two leaders of one term")
        async with self._append_lock:
            await self._not_leading.wait()
            self.leader_hint = request.leader_id
            tip = self._tip
            if (request.prev_index, request.prev_term) != (tip.index, tip.term):
                return AppendResponse(ok=False, last_index=tip.index, last_term=tip.term)
            if request.entries:
                entries = [LogEntry.from_record(record) for record in request.entries]
                if any(entry.index != tip.index + 1 + offset for offset, entry in enumerate(entries)):
                    raise StrataError(ErrorReason.INVALID_ARGUMENT, "log entries are not contiguous")
                puts, deletes = merge_entries(entries, logged=True)
                await asyncio.to_thread(self.kv.write, puts, deletes, True)
                self._tip = replog.Position(entries[-1].index, entries[-1].term)
            return AppendResponse(ok=True, last_index=self._tip.index, last_term=self._tip.term)

    async def install_snapshot(self, chunks: AsyncIterator[SnapshotChunk]) -> AppendResponse:
        header = await anext(chunks)
        if header.shard != self.shard:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, f"this replica is of shard {self.shard}")
        self._observe_term(header.term)
        async with self._append_lock:
            await self._not_leading.wait()
            # Calls of the last term still running here fail once their writer is gone; let them end.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_calls.wait(), 30)
            self.installing = True
            log.warning(
                "shard %s: installing %s's snapshot at %d (log was at %d)",
                self.shard, header.leader_id, header.last_index, self._tip.index,
            )  # fmt: skip
            try:
                target = await asyncio.to_thread(snapshot.start_incoming, self.data_dir)
                async for chunk in chunks:
                    await asyncio.to_thread(snapshot.append, target, chunk.file, chunk.data)
                await asyncio.to_thread(snapshot.finish_incoming, target)
                await asyncio.to_thread(self.kv.close)
                self.rocks = None
                await asyncio.to_thread(snapshot.swap_in, self.data_dir)
            finally:
                if self.rocks is None:
                    self.rocks = await asyncio.to_thread(RocksKV, str(self.data_dir))
                self._tip = await asyncio.to_thread(replog.tip, self.kv)
                self.installing = False
            return AppendResponse(ok=True, last_index=self._tip.index, last_term=self._tip.term)

    # ---- peers ----

    def peer_stub(self, peer: str) -> metadata_pb2_grpc.ReplicationServiceStub | None:
        info = self._peers.info(peer)
        if info is None or not info.get("address"):
            return None
        address = str(info["address"])
        entry = self._channels.get(address)
        if entry is None:
            channel = grpc.aio.insecure_channel(
                address, options=QUICK_RECONNECT, interceptors=CLIENT_INTERCEPTORS
            )
            entry = self._channels[address] = (channel, metadata_pb2_grpc.ReplicationServiceStub(channel))
        return entry[1]

    def checkpoint_dir(self, name: str) -> Path:
        return self.data_dir.with_name(f"{self.data_dir.name}.checkpoint-{name}")

    # ---- elections ----

    async def _watch_term(self) -> None:
        """Keeps the known term and leader current from etcd (fencing before the new leader calls)."""
        while True:
            with contextlib.suppress(StrataError):
                current = await self._etcd.leader(self.membership.leader_key)
                if current is not None:
                    if current.create_revision > self.known_term:
                        self._observe_term(current.create_revision)
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        self.leader_hint = str(json.loads(current.value)["node_id"])
            await asyncio.sleep(_ELIGIBILITY_POLL_S)

    async def _eligible(self) -> bool:
        if self.installing:
            return False
        isr = await self.membership.isr()
        return self.node_id in isr.members

    async def _run(self) -> None:
        while True:
            try:
                if not await self._eligible():
                    await asyncio.sleep(_ELIGIBILITY_POLL_S)  # etcd is polled: the ISR has no local event
                    continue
                await self._campaign_and_lead()
            except asyncio.CancelledError:
                raise
            except StrataError as error:
                log.warning("shard %s: %s; campaigning again", self.shard, error.message)
                await asyncio.sleep(_ELIGIBILITY_POLL_S)
            except Exception:
                log.exception("shard %s: replica loop failed; campaigning again", self.shard)
                await asyncio.sleep(_ELIGIBILITY_POLL_S)

    async def _campaign_and_lead(self) -> None:
        lease_id, ttl_s = await self._etcd.grant_lease(self._lease_ttl_s)
        self._lease_valid_until = 0.0
        keeper = asyncio.create_task(self._keep_lease(lease_id, ttl_s), name="shard-lease")
        try:
            term = await self._campaign(lease_id)
            if term is not None:
                await self._lead(term, lease_id)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            self._lease_valid_until = 0.0
            with contextlib.suppress(StrataError):
                await self._etcd.revoke_lease(lease_id)  # drops the election key if we hold it

    async def _campaign(self, lease_id: int) -> int | None:
        """The term won, or None once this replica is no longer eligible."""
        value = json.dumps({"node_id": self.node_id, "address": self.address})
        campaign = asyncio.create_task(self._etcd.campaign(self.membership.leader_key, value, lease_id))
        try:
            while True:
                done, _ = await asyncio.wait({campaign}, timeout=_ELIGIBILITY_POLL_S * 2)
                if done:
                    return campaign.result()
                if not await self._eligible():
                    return None
        finally:
            if not campaign.done():
                campaign.cancel()
                with contextlib.suppress(asyncio.CancelledError, StrataError):
                    await campaign

    async def _keep_lease(self, lease_id: int, ttl_s: int) -> None:
        """Keeps the lease alive; the leadership is proven only while a recent refresh says so."""
        interval_s = max(ttl_s / 4, 0.1)
        # A hung etcd member holds a call until it times out: give up on it soon enough that the
        # retry (the channel sends it to the next member) still beats the lease.
        attempt_timeout_s = max(ttl_s / 6, 0.3)
        while True:
            sent = time.monotonic()
            try:
                remaining_s = await self._etcd.keep_alive_once(lease_id, attempt_timeout_s)
            except StrataError as error:
                log.warning("shard %s lease refresh failed: %s", self.shard, error.message)
                await asyncio.sleep(0.1)
                continue
            if remaining_s <= 0:
                self._lease_valid_until = 0.0
                if self.leader is not None:
                    self.leader.end("its lease expired")
                return
            # Counted from before the refresh was sent, with a margin: etcd counts from its receipt.
            self._lease_valid_until = sent + remaining_s * 0.75
            await asyncio.sleep(interval_s)

    async def _lead(self, term: int, lease_id: int) -> None:
        self._observe_term(term)
        async with self._append_lock:
            isr = await self.membership.isr()
            if self.node_id not in isr.members:
                return
            replicas, members = await self.membership.replicas()
            tip = await asyncio.to_thread(replog.tip, self.kv)
            self._tip = tip
            leader = Leader(
                self, term, isr, replicas, members, tip,
                lag_timeout_s=self._lag_timeout_s,
                commit_timeout_s=self._commit_timeout_s,
                lease_valid=self.lease_valid,
            )  # fmt: skip
            if not await leader.take_isr():
                return
            self._not_leading.clear()
            self.leader = leader
        core: MetadataCore | None = None
        try:
            leader.start()
            core = await asyncio.to_thread(self._core_factory, self.kv, leader)
            await core.writer.submit([])  # this term's first entry: commits the log before it
            self.core = core
            log.info("shard %s: %s leads (term %d, log at %d)", self.shard, self.node_id, term, tip.index)
            scope = self._leading(core) if self._leading is not None else contextlib.nullcontext()
            async with scope:  # type: ignore[attr-defined]
                await self._while_leading(leader, lease_id)
        finally:
            self.core = None
            if core is not None:
                core.writer.fail(not_leader(self.shard))
            await leader.stop()
            if core is not None:
                await core.release()
            self._tip = await asyncio.to_thread(replog.tip, self.kv)
            self.leader = None
            self._not_leading.set()

    async def _while_leading(self, leader: Leader, lease_id: int) -> None:
        next_progress = 0.0
        while not leader.ended.is_set():
            if not self.lease_valid():
                leader.end("its lease can no longer be proven live")
                break
            if time.monotonic() >= next_progress:
                next_progress = time.monotonic() + _PROGRESS_EVERY_S
                with contextlib.suppress(StrataError):
                    await self.membership.publish_progress(leader.progress(), lease_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(leader.ended.wait(), 0.1)

    async def _trim_log(self) -> None:
        while True:
            await asyncio.sleep(_TRIM_EVERY_S)
            try:
                dropped = await self.trim(self._log_retention)
            except Exception:
                log.exception("shard %s: trimming the log failed", self.shard)
                continue
            if dropped:
                log.debug("shard %s: trimmed %d log entries", self.shard, dropped)

    async def trim(self, retain: int) -> int:
        """Drops all but about ``retain`` of the newest log entries; followers further behind will
        need a snapshot. Returns how many were dropped."""
        async with self._append_lock:
            if self.rocks is None:
                return 0
            dropped = await asyncio.to_thread(replog.trim, self.rocks, retain)
            if dropped and self.leader is not None:
                self.leader.forget_through((await asyncio.to_thread(replog.base, self.rocks)).index)
            return dropped

    def status(self) -> dict[str, object]:
        leader = self.leader
        return {
            "shard": self.shard,
            "node_id": self.node_id,
            "role": "leader" if leader is not None and self.core is not None else "follower",
            "term": self.known_term,
            "last_index": self._tip.index if leader is None else leader.durable_index,
        }
