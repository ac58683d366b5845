"""The one write path of the metadata node: log entries, group-committed (DESIGN section 5).

Every mutation is a log entry (puts and deletes applied together). Entries
submitted while a batch is being written wait and go out together in the next
one: one WriteBatch, one WAL sync, many requests released at once. Each entry
gets the next log index.

On a replicated shard the writer runs on the leader with a ``CommitHook``: each
batch also stores its entries under ``L<index>`` (with the leader's term) so
followers can be sent them, is handed to the hook while it is written locally,
and its requests are answered only once the hook says the batch is committed
(held durably by every in-sync replica). A batch is one replication round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from metanode import keys
from metanode.kv import KV
from protos.metadata_pb2 import KeyValue, LogRecord
from strata.runtime.metrics import GROUP_COMMIT_ENTRIES

log = logging.getLogger("metanode.writer")

DEFAULT_MAX_BATCH_ENTRIES = 1024


@dataclass(frozen=True)
class LogEntry:
    index: int
    puts: tuple[tuple[bytes, bytes], ...]
    deletes: tuple[bytes, ...]
    term: int = 0

    def record(self) -> LogRecord:
        return LogRecord(
            index=self.index,
            term=self.term,
            puts=[KeyValue(key=key, value=value) for key, value in self.puts],
            deletes=list(self.deletes),
        )

    @staticmethod
    def from_record(record: LogRecord) -> LogEntry:
        return LogEntry(
            record.index,
            tuple((pair.key, pair.value) for pair in record.puts),
            tuple(record.deletes),
            record.term,
        )


class CommitHook(Protocol):
    """Replication of the leader's batches (``metanode.replication.leader.Leader``)."""

    @property
    def term(self) -> int: ...

    async def commit(self, entries: Sequence[LogEntry], local_write: Awaitable[None]) -> None:
        """Returns once ``entries`` are committed (``local_write`` is this node's own durable write);
        raises a StrataError when that cannot be known."""
        ...


def merge_entries(
    entries: Sequence[LogEntry], *, logged: bool
) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """One WriteBatch for ``entries``: later entries win, exactly as if they were applied one by one.

    ``logged`` also stores every entry under its log key and the log's tip (index and term),
    as every replica of a replicated shard does.
    """
    final: dict[bytes, bytes | None] = {}
    for entry in entries:
        for key in entry.deletes:
            final[key] = None
        for key, value in entry.puts:
            final[key] = value
    last = entries[-1]
    final[keys.LAST_LOG_INDEX_KEY] = keys.encode_counter(last.index)
    if logged:
        final[keys.LAST_LOG_TERM_KEY] = keys.encode_counter(last.term)
        for entry in entries:
            final[keys.log_key(entry.index)] = keys.encode_record(entry.record())
    puts = [(key, value) for key, value in final.items() if value is not None]
    deletes = [key for key, value in final.items() if value is None]
    return puts, deletes


class BatchWriter:
    """Group-commits submitted entries in a dedicated worker thread.

    Construct it where blocking is allowed (it reads the last log index when
    ``last_index`` is not given).
    """

    def __init__(
        self,
        kv: KV,
        *,
        last_index: int | None = None,
        sync: bool = True,
        max_batch_entries: int = DEFAULT_MAX_BATCH_ENTRIES,
        replication: CommitHook | None = None,
    ) -> None:
        self._kv = kv
        self._sync = sync
        self._max_batch_entries = max_batch_entries
        self._replication = replication
        if last_index is None:
            last_index = keys.decode_counter(kv.get(keys.LAST_LOG_INDEX_KEY))
        self._last_index = last_index
        # The last index of every batch handed to the store so far: what a read may already see.
        self.visible_index = last_index
        self._pending: list[tuple[LogEntry, asyncio.Future[int]]] = []
        self._worker: asyncio.Task[None] | None = None
        # One thread: batches are applied strictly in submission order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metanode-writer")
        self._closed = False
        self._failure: BaseException | None = None
        self.batches_written = 0
        self.entries_written = 0

    @property
    def last_index(self) -> int:
        """The index given to the most recently submitted entry."""
        return self._last_index

    async def submit(self, puts: Sequence[tuple[bytes, bytes]], deletes: Sequence[bytes] = ()) -> int:
        """Appends one entry; returns its log index once it is durable (committed, when replicated)."""
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise RuntimeError("writer is closed")
        self._last_index += 1
        term = self._replication.term if self._replication is not None else 0
        entry = LogEntry(self._last_index, tuple(puts), tuple(deletes), term)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        if self._worker is None:
            self._worker = asyncio.create_task(self._drain(), name="metanode-writer")
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The entry may still be applied: callers hold key locks until it is settled.
            with contextlib.suppress(BaseException):
                await future
            raise

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                group = self._pending[: self._max_batch_entries]
                del self._pending[: self._max_batch_entries]
                entries = [entry for entry, _ in group]
                puts, deletes = merge_entries(entries, logged=self._replication is not None)
                self.visible_index = entries[-1].index
                local = loop.run_in_executor(self._executor, self._kv.write, puts, deletes, self._sync)
                try:
                    if self._replication is None:
                        await local
                    else:
                        await self._replication.commit(entries, local)
                except Exception as error:
                    if self._replication is None:
                        log.exception("metadata batch write failed (%d entries)", len(group))
                    for _, future in group:
                        if not future.done():
                            future.set_exception(error)
                    continue
                self.batches_written += 1
                self.entries_written += len(group)
                GROUP_COMMIT_ENTRIES.observe(len(group))
                for entry, future in group:
                    if not future.done():
                        future.set_result(entry.index)
        finally:
            self._worker = None

    def fail(self, error: BaseException) -> None:
        """Refuses every entry not yet handed to the store, and every later one, with ``error``."""
        self._failure = error
        pending, self._pending = self._pending, []
        for _, future in pending:
            if not future.done():
                future.set_exception(error)

    async def close(self) -> None:
        """Waits for every submitted entry, then stops the worker thread."""
        self._closed = True
        while self._worker is not None:
            await asyncio.shield(self._worker)
        self._executor.shutdown(wait=True)
