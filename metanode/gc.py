"""Deletes blobs nothing references any more: queued GC entries and expired write intents (DESIGN 6).

Expired intents are first closed under their object's lock (their blobs move to
the GC queue), so a commit can never reference a blob the collector deletes.
Queue entries are removed only after every blob in them was deleted; a failure
leaves the entry for the next pass. Deleting is idempotent, so retries are safe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from protos.common_pb2 import BlobRef
from protos.metadata_pb2 import GcEntry, GcProgress
from strata.runtime.periodic import PeriodicTask

log = logging.getLogger("metanode.gc")

DEFAULT_BATCH_SIZE = 256
DEFAULT_CONCURRENCY = 16


class BlobDeleter(Protocol):
    async def delete(self, blob: BlobRef) -> None:
        """Deletes the blob everywhere; a missing blob is not an error."""
        ...


class GcSource(Protocol):
    """What the collector needs from the metadata core."""

    gc_lock: asyncio.Lock

    async def expire_intents(self, expire_all: bool = False) -> int: ...
    async def gc_entries(self, limit: int, after: bytes = b"") -> list[tuple[bytes, GcEntry]]: ...
    async def remove_gc_entries(self, entry_keys: Sequence[bytes]) -> None: ...
    async def count_gc_entries(self) -> int: ...


@dataclass(frozen=True)
class GcStats:
    blobs_deleted: int = 0
    intents_expired: int = 0
    entries_remaining: int = 0


class GarbageCollector:
    def __init__(
        self,
        core: GcSource,
        deleter: BlobDeleter,
        interval_s: float = 30.0,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        grace_s: float = 0.0,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self._core = core
        self._deleter = deleter
        self.interval_s = interval_s
        # Queued blobs younger than this are left for a later pass, so a GET that started
        # before an overwrite or delete can still finish reading the old data.
        self.grace_s = grace_s
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._batch_size = batch_size
        self._concurrency = asyncio.Semaphore(concurrency)
        self._periodic = PeriodicTask("gc", self._logged_pass, lambda: self.interval_s, log)
        self.progress = GcProgress()

    async def run_once(self, expire_all_intents: bool = False, grace_s: float | None = None) -> GcStats:
        """One pass; ``grace_s`` overrides the collector's grace (0: everything queued goes now)."""
        grace_ms = int((self.grace_s if grace_s is None else grace_s) * 1000)
        queued_before_ms = self._clock_ms() - grace_ms
        async with self._core.gc_lock:
            progress = self.progress = GcProgress(running=True)
            try:
                return await self._collect(expire_all_intents, grace_ms, queued_before_ms, progress)
            finally:
                progress.running = False

    async def _collect(
        self, expire_all_intents: bool, grace_ms: int, queued_before_ms: int, progress: GcProgress
    ) -> GcStats:
        intents_expired = await self._core.expire_intents(expire_all_intents)
        progress.entries_total = await self._core.count_gc_entries()
        blobs_deleted = 0
        after = b""
        while True:
            entries = await self._core.gc_entries(self._batch_size, after)
            # Entries still inside their grace stay queued; the queue is in enqueue order,
            # so nothing after the first of them is old enough either.
            old_enough = [item for item in entries if not grace_ms or item[1].queued_ms <= queued_before_ms]
            complete_batch = len(old_enough) == len(entries)
            entries = old_enough
            if not entries:
                break
            outcomes = await asyncio.gather(*(self._delete_entry(entry) for _, entry in entries))
            done = [
                entry_key for (entry_key, _), deleted in zip(entries, outcomes, strict=True) if deleted >= 0
            ]
            blobs_deleted += sum(deleted for deleted in outcomes if deleted > 0)
            await self._core.remove_gc_entries(done)
            progress.entries_done += len(done)
            progress.blobs_deleted = blobs_deleted
            after = entries[-1][0]
            if not complete_batch:
                break
        remaining = await self._core.count_gc_entries()
        return GcStats(blobs_deleted, intents_expired, remaining)

    async def _delete_entry(self, entry: GcEntry) -> int:
        """How many blobs were deleted, or -1 if any failed (the entry then stays queued)."""
        deleted = 0
        failed = False
        for blob in entry.blobs:
            try:
                async with self._concurrency:
                    await self._deleter.delete(blob)
                deleted += 1
            except Exception as error:
                failed = True
                log.warning("could not delete blob %s at %s: %s", blob.blob_id, blob.location, error)
        return -1 if failed else deleted

    def start(self) -> None:
        """Runs a pass every ``interval_s`` in the background until :meth:`stop`."""
        self._periodic.start()

    async def _logged_pass(self) -> None:
        stats = await self.run_once()
        if stats.blobs_deleted or stats.intents_expired:
            log.info(
                "gc pass: %d blobs deleted, %d intents expired, %d entries left",
                stats.blobs_deleted,
                stats.intents_expired,
                stats.entries_remaining,
            )

    async def stop(self) -> None:
        await self._periodic.stop()
