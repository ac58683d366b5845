"""The one write path of the metadata node: log entries, group-committed (DESIGN section 5).

Every mutation is a log entry (puts and deletes applied together). Entries
submitted while a batch is being written wait and go out together in the next
one: one WriteBatch, one WAL sync, many requests released at once. Each entry
gets the next log index, the seam replication will ship to followers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from metanode import keys
from metanode.kv import KV

log = logging.getLogger("metanode.writer")

DEFAULT_MAX_BATCH_ENTRIES = 1024


@dataclass(frozen=True)
class LogEntry:
    index: int
    puts: tuple[tuple[bytes, bytes], ...]
    deletes: tuple[bytes, ...]


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
    ) -> None:
        self._kv = kv
        self._sync = sync
        self._max_batch_entries = max_batch_entries
        if last_index is None:
            last_index = keys.decode_counter(kv.get(keys.LAST_LOG_INDEX_KEY))
        self._last_index = last_index
        self._pending: list[tuple[LogEntry, asyncio.Future[int]]] = []
        self._worker: asyncio.Task[None] | None = None
        # One thread: batches are applied strictly in submission order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metanode-writer")
        self._closed = False
        self.batches_written = 0
        self.entries_written = 0

    @property
    def last_index(self) -> int:
        """The index given to the most recently submitted entry."""
        return self._last_index

    async def submit(self, puts: Sequence[tuple[bytes, bytes]], deletes: Sequence[bytes] = ()) -> int:
        """Appends one entry; returns its log index once it is durable."""
        if self._closed:
            raise RuntimeError("writer is closed")
        self._last_index += 1
        entry = LogEntry(self._last_index, tuple(puts), tuple(deletes))
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
                puts, deletes = self._merge([entry for entry, _ in group])
                try:
                    await loop.run_in_executor(self._executor, self._kv.write, puts, deletes, self._sync)
                except Exception as error:
                    log.exception("metadata batch write failed (%d entries)", len(group))
                    for _, future in group:
                        if not future.done():
                            future.set_exception(error)
                    continue
                self.batches_written += 1
                self.entries_written += len(group)
                for entry, future in group:
                    if not future.done():
                        future.set_result(entry.index)
        finally:
            self._worker = None

    @staticmethod
    def _merge(entries: Sequence[LogEntry]) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
        """Later entries win, exactly as if the entries were applied one by one."""
        final: dict[bytes, bytes | None] = {}
        for entry in entries:
            for key in entry.deletes:
                final[key] = None
            for key, value in entry.puts:
                final[key] = value
        final[keys.LAST_LOG_INDEX_KEY] = keys.encode_counter(entries[-1].index)
        puts = [(key, value) for key, value in final.items() if value is not None]
        deletes = [key for key, value in final.items() if value is None]
        return puts, deletes

    async def close(self) -> None:
        """Waits for every submitted entry, then stops the worker thread."""
        self._closed = True
        while self._worker is not None:
            await asyncio.shield(self._worker)
        self._executor.shutdown(wait=True)
