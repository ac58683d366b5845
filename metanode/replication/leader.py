"""The leader's side of replication: ship every batch to the followers, decide when it is committed.

A batch is committed once every member of the in-sync replica set (ISR) holds it
durably and the ISR is a majority of the shard's replicas. A follower that stays behind
longer than ``lag_timeout_s`` is removed from the ISR (a compare-and-set in etcd under
this leader's term) before anything is committed without it; one that has caught up
is added back. So every ISR member always holds every committed entry, and only ISR
members may lead: a new leader never lacks an acknowledged write.

One link per follower sends entries in order (from memory for recent ones, from the
log in RocksDB for older ones, a snapshot when the log no longer has them) and learns
where the follower's log ends. The leader acknowledges nothing once its etcd lease can
no longer be proven live (``lease_valid``), and a follower refuses entries from an older
term (STALE_EPOCH), so a deposed leader can never acknowledge a write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from metanode.replication import log as replog
from metanode.replication import snapshot
from metanode.replication.membership import Isr, quorum
from metanode.writer import LogEntry
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError, from_rpc_error
from protos.metadata_pb2 import AppendRequest, AppendResponse, SnapshotChunk

if TYPE_CHECKING:
    from metanode.replication.node import ShardNode

log = logging.getLogger("metanode.replication.leader")

HEARTBEAT_S = 0.25
WINDOW_ENTRIES = 8192
MAX_SEND_ENTRIES = 512
APPEND_TIMEOUT_S = 5.0
SNAPSHOT_TIMEOUT_S = 3600.0


class Deposed(Exception):
    """This leadership ended (a newer term exists, the lease lapsed, or the node stops)."""


def outcome_unknown(why: str) -> StrataError:
    # Not NOT_LEADER: the entry may still be committed by the next leader, so it must not be retried blindly.
    return StrataError(ErrorReason.OUTCOME_UNKNOWN, f"{why}; the write's outcome is unknown")


class Leader:
    """Replication for one term of leadership (the writer's ``CommitHook``)."""

    def __init__(
        self,
        node: ShardNode,
        term: int,
        isr: Isr,
        replicas: int,
        members: Sequence[str],
        tip: replog.Position,
        *,
        lag_timeout_s: float,
        commit_timeout_s: float,
        lease_valid: Callable[[], bool],
    ) -> None:
        self._node = node
        self._term = term
        self.isr = isr
        self.replicas = replicas
        self.members = list(members)
        self.quorum = quorum(replicas)
        self._lag_timeout_s = lag_timeout_s
        self._commit_timeout_s = commit_timeout_s
        self._lease_valid = lease_valid
        self.last_index = tip.index  # the last entry handed to the writer's store
        self.durable_index = tip.index  # the last entry durable here
        self.commit_index = 0  # unknown until the first batch of this term commits
        # The last entry trimmed from this log during the term: a follower behind it needs a snapshot.
        self.log_base = 0
        self._terms: dict[int, int] = {tip.index: tip.term}
        self._window: dict[int, LogEntry] = {}
        self._appended_at: dict[int, float] = {}
        self.match: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._new_entries = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._isr_lock = asyncio.Lock()
        self.ended = asyncio.Event()
        self.end_reason = ""
        # Followers get one lag timeout from the start of the term to be found in sync.
        self._started_at = time.monotonic()

    @property
    def term(self) -> int:
        return self._term

    @property
    def node_id(self) -> str:
        return self._node.node_id

    # ---- lifecycle ----

    def start(self) -> None:
        self._linked: set[str] = set()
        self._link_members(self.members)
        self._tasks.append(asyncio.create_task(self._watch_isr(), name="replication-isr"))
        self._tasks.append(asyncio.create_task(self._watch_members(), name="replication-members"))

    def _link_members(self, members: Sequence[str]) -> None:
        for peer in members:
            if peer != self.node_id and peer not in self._linked:
                self._linked.add(peer)
                self._tasks.append(asyncio.create_task(self._link(peer), name=f"replication-link:{peer}"))
        self.members = list(dict.fromkeys([*self.members, *members]))

    async def _watch_members(self) -> None:
        """Replicas that join the shard later (a new node, or one starting after this leader)."""
        while not self.ended.is_set():
            await asyncio.sleep(0.5)
            with contextlib.suppress(StrataError):
                replicas, members = await self._node.membership.replicas()
                self.replicas, self.quorum = replicas, quorum(replicas)
                self._link_members(members)

    def end(self, why: str) -> None:
        if not self.ended.is_set():
            log.warning("leadership of shard %s (term %d) ends: %s", self._node.shard, self._term, why)
            self.end_reason = why
            self.ended.set()
            self._new_entries.set()

    async def stop(self) -> None:
        self.end("stopping")
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        async with self._changed:
            self._changed.notify_all()

    # ---- the writer's hook ----

    async def commit(self, entries: Sequence[LogEntry], local_write: Awaitable[None]) -> None:
        if self.ended.is_set():
            with contextlib.suppress(Exception):
                await local_write
            raise outcome_unknown("the shard leader stepped down")
        now = time.monotonic()
        for entry in entries:
            self._window[entry.index] = entry
            self._terms[entry.index] = entry.term
            self._appended_at[entry.index] = now
        self.last_index = entries[-1].index
        self._prune_window()
        self._new_entries.set()
        try:
            await local_write
        except Exception as error:
            self.end(f"local write failed: {error}")
            raise outcome_unknown("the leader could not write the entry") from error
        self.durable_index = entries[-1].index
        await self._advance()
        await self.wait_committed(entries[-1].index, self._commit_timeout_s)

    async def wait_committed(self, index: int, timeout_s: float) -> None:
        """Returns once ``index`` is committed and this leadership is proven live; raises otherwise."""
        deadline = time.monotonic() + timeout_s
        async with self._changed:
            while self.commit_index < index:
                if self.ended.is_set():
                    raise outcome_unknown("the shard leader stepped down before the entry was replicated")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise outcome_unknown(
                        f"not enough in-sync replicas of shard {self._node.shard} to commit"
                    )
                # The wait runs in this task (asyncio.timeout, not wait_for's inner task): cancelled,
                # Condition.wait() takes the lock back before the cancellation leaves it, so the
                # ``async with`` above always releases a lock this call holds.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._changed.wait()
        if not self._lease_valid():
            self.end("its lease can no longer be proven live")
            raise outcome_unknown("the shard leader's lease lapsed")

    def _prune_window(self) -> None:
        # Entries go in in index order, so the oldest are first; the undurable tail is never dropped.
        while len(self._window) > WINDOW_ENTRIES:
            oldest = next(iter(self._window))
            if oldest > self.durable_index:
                return
            del self._window[oldest]
            self._appended_at.pop(oldest, None)
            self._terms.pop(oldest, None)

    def forget_through(self, index: int) -> None:
        """The log was trimmed through ``index``: followers behind it get a snapshot, not memory."""
        self.log_base = max(self.log_base, index)
        for known in [known for known in self._window if known <= index]:
            del self._window[known]
            self._appended_at.pop(known, None)
            self._terms.pop(known, None)

    async def _advance(self) -> None:
        """Moves the commit index to what every ISR member holds, if the ISR is a majority."""
        if len(self.isr.members) < self.quorum or self.node_id not in self.isr.members:
            return
        held = [self.durable_index]
        held.extend(self.match.get(peer, 0) for peer in self.isr.members if peer != self.node_id)
        candidate = min(held)
        if candidate > self.commit_index:
            self.commit_index = candidate
            async with self._changed:
                self._changed.notify_all()

    # ---- the log as the links read it ----

    async def _term_at(self, index: int) -> int | None:
        known = self._terms.get(index)
        if known is not None:
            return known
        return await asyncio.to_thread(replog.term_at, self._node.kv, index)

    async def _entries_from(self, first: int) -> list[LogEntry] | None:
        """Up to MAX_SEND_ENTRIES entries from ``first`` (None: trimmed, a snapshot is needed)."""
        last = min(self.last_index, first + MAX_SEND_ENTRIES - 1)
        if first in self._window:
            found = []
            for index in range(first, last + 1):
                entry = self._window.get(index)
                if entry is None:
                    break
                found.append(entry)
            return found
        return await asyncio.to_thread(replog.read, self._node.kv, first, min(last, self.durable_index))

    # ---- one follower ----

    async def _link(self, peer: str) -> None:
        matched: int | None = None
        failures = 0
        while not self.ended.is_set():
            try:
                if matched is None:
                    matched = await self._find_match(peer)
                    if matched is None:
                        matched = await self._send_snapshot(peer)
                    await self._record_match(peer, matched)
                    failures = 0
                    continue
                if matched < self.last_index:
                    entries = await self._entries_from(matched + 1)
                    if entries is None:  # trimmed from this log: only a snapshot brings it up
                        matched = await self._send_snapshot(peer)
                        await self._record_match(peer, matched)
                        continue
                    response = await self._append(peer, matched, entries)
                else:
                    await self._wait_for_entries(HEARTBEAT_S)
                    if matched < self.last_index:
                        continue
                    response = await self._append(peer, matched, [])
                if not response.ok:
                    matched = None
                    continue
                matched = response.last_index
                await self._record_match(peer, matched)
                failures = 0
            except Deposed:
                return
            except asyncio.CancelledError:
                raise
            except _Unreachable as unreachable:
                matched = None
                failures += 1
                if failures in (10, 50) or failures % 200 == 0:
                    log.warning(
                        "shard %s: replication link to %s failing (%d attempts): %s",
                        self._node.shard, peer, failures, unreachable.__cause__ or "no address registered",
                    )  # fmt: skip
                await asyncio.sleep(min(0.05 * failures, 0.5))
            except Exception:
                log.exception("replication link to %s failed", peer)
                matched = None
                failures += 1
                await asyncio.sleep(min(0.05 * failures, 0.5))

    async def _wait_for_entries(self, timeout_s: float) -> None:
        self._new_entries.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._new_entries.wait(), timeout_s)

    async def _record_match(self, peer: str, index: int) -> None:
        self.match[peer] = index
        await self._advance()
        if peer not in self.isr.members and index >= self.commit_index and self._in_sync(peer):
            await self._change_isr(add=peer)

    async def _find_match(self, peer: str) -> int | None:
        """Where ``peer``'s log stops agreeing with ours (None: nowhere we still have)."""
        tip_index = self.last_index
        tip_term = await self._term_at(tip_index)
        response = await self._append_raw(peer, tip_index, tip_term or 0, [])
        if response.ok:
            return tip_index
        if response.last_index > tip_index:
            return None  # it holds entries this leader never had: diverged
        if await self._term_at(response.last_index) == response.last_term:
            return response.last_index
        return None

    async def _append(self, peer: str, prev_index: int, entries: Sequence[LogEntry]) -> AppendResponse:
        prev_term = await self._term_at(prev_index)
        if prev_term is None:
            return AppendResponse(ok=False)
        return await self._append_raw(peer, prev_index, prev_term, entries)

    async def _append_raw(
        self, peer: str, prev_index: int, prev_term: int, entries: Sequence[LogEntry]
    ) -> AppendResponse:
        stub = self._node.peer_stub(peer)
        if stub is None:
            raise _Unreachable(peer)
        request = AppendRequest(
            shard=self._node.shard,
            term=self._term,
            leader_id=self.node_id,
            prev_index=prev_index,
            prev_term=prev_term,
            entries=[entry.record() for entry in entries],
            commit_index=self.commit_index,
        )
        try:
            return await stub.Append(request, timeout=APPEND_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            self._raise_for(from_rpc_error(error), peer)
            raise AssertionError("unreachable") from error

    def _raise_for(self, error: StrataError, peer: str) -> None:
        if error.reason == ErrorReason.STALE_EPOCH:
            self.end(f"{peer} knows a newer term")
            raise Deposed()
        raise _Unreachable(peer) from error

    async def snapshot_chunks(self, label: str) -> AsyncGenerator[SnapshotChunk, None]:
        """A fresh checkpoint of this leader's store: a header (term, the log position it is at),
        then its files in pieces. The checkpoint is removed once the stream ends."""
        directory = self._node.checkpoint_dir(f"{label}-{uuid.uuid4().hex[:8]}")
        try:
            position = await asyncio.to_thread(snapshot.create, self._node.kv, directory)
            yield SnapshotChunk(
                shard=self._node.shard,
                term=self._term,
                leader_id=self.node_id,
                last_index=position.index,
                last_term=position.term,
            )
            pieces = snapshot.files(directory)
            while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
                yield SnapshotChunk(file=piece[0], data=piece[1])
        finally:
            await asyncio.to_thread(shutil.rmtree, Path(directory), True)

    async def _send_snapshot(self, peer: str) -> int:
        stub = self._node.peer_stub(peer)
        if stub is None:
            raise _Unreachable(peer)
        chunks = self.snapshot_chunks(peer)
        try:
            header = await anext(chunks)
            log.info("sending shard %s snapshot at %d to %s", self._node.shard, header.last_index, peer)

            async def stream() -> AsyncIterator[SnapshotChunk]:
                yield header
                async for chunk in chunks:
                    yield chunk

            try:
                response = await stub.InstallSnapshot(stream(), timeout=SNAPSHOT_TIMEOUT_S)
            except grpc.aio.AioRpcError as error:
                self._raise_for(from_rpc_error(error), peer)
                raise AssertionError("unreachable") from error
            self._terms.setdefault(header.last_index, header.last_term)
            return response.last_index
        finally:
            await chunks.aclose()

    # ---- the ISR ----

    def _in_sync(self, peer: str) -> bool:
        held = self.match.get(peer)
        if held is not None and held >= self.durable_index:
            return True
        # Entries from before this term count as appended when it started.
        oldest_missing = self._appended_at.get(held + 1, self._started_at) if held is not None else None
        behind_since = max(oldest_missing or self._started_at, self._started_at)
        return time.monotonic() - behind_since < self._lag_timeout_s

    async def _watch_isr(self) -> None:
        """Removes followers that stay behind (while the rest is still a majority)."""
        while not self.ended.is_set():
            await asyncio.sleep(min(0.1, self._lag_timeout_s / 4))
            for peer in list(self.isr.members):
                if peer == self.node_id or self._in_sync(peer):
                    continue
                if len(self.isr.members) - 1 < self.quorum:
                    continue  # commits wait for it instead: a minority must not commit alone
                await self._change_isr(remove=peer)

    async def _change_isr(self, *, add: str = "", remove: str = "") -> None:
        async with self._isr_lock:
            members = [member for member in self.isr.members if member != remove]
            if add and add not in members:
                members.append(add)
            if tuple(members) == self.isr.members and self.isr.term == self._term:
                return
            try:
                changed = await self._node.membership.change_isr(self.isr, self._term, tuple(sorted(members)))
            except StrataError as error:
                # etcd did not answer: the ISR stays as it is (commits wait) and the change is tried again.
                log.warning("shard %s: could not change the ISR: %s", self._node.shard, error.message)
                return
            if changed is None:
                self.end("the ISR changed under another term")
                return
            log.info(
                "shard %s ISR is now %s (%s)",
                self._node.shard,
                ",".join(changed.members),
                f"added {add}" if add else f"removed {remove}",
            )
            self.isr = changed
        await self._advance()

    async def take_isr(self) -> bool:
        """Stamps the ISR with this term (fencing older leaders' changes); False if no longer leader."""
        async with self._isr_lock:
            changed = await self._node.membership.change_isr(self.isr, self._term, self.isr.members)
            if changed is None:
                return False
            self.isr = changed
            return True

    def progress(self) -> dict[str, object]:
        followers = {
            peer: {
                "match_index": self.match.get(peer, 0),
                "lag": max(0, self.durable_index - self.match.get(peer, 0)),
                "in_isr": peer in self.isr.members,
            }
            for peer in self.members
            if peer != self.node_id
        }
        return {
            "term": self._term,
            "leader": self.node_id,
            "commit_index": self.commit_index,
            "last_index": self.durable_index,
            "log_base": self.log_base,
            "isr": list(self.isr.members),
            "followers": followers,
            "updated_ms": time.time_ns() // 1_000_000,
        }


class _Unreachable(Exception):
    pass
