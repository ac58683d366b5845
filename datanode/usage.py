"""How much a datanode stores and how much room it has, published in its registration.

For a disk backend: the filesystem's size and free space (``statvfs`` of the data directory,
asked every time: one syscall) and the bytes the blob files take (a walk of the blob tree,
repeated only as often as keeps it under a small share of one thread: a store of millions of
blobs is walked every few minutes, a small one every ``interval_s``). For the memory backend:
the bytes held. Other backends (remote clouds) report nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from datanode.backend import Backend
from datanode.disk import DiskBackend, _list_blob_names, _list_shard_dirs
from datanode.memory import MemoryBackend
from protos.errors import StrataError
from strata.runtime.periodic import PeriodicTask

_log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 10.0
WALK_SHARE = 0.05  # the blob walk may take at most this share of the time between walks


@dataclass(frozen=True)
class StorageUsage:
    used_bytes: int  # what the blobs take
    capacity_bytes: int | None = None  # the filesystem's size; None when there is no such limit to tell
    available_bytes: int | None = None  # what an unprivileged writer may still use
    blobs: int | None = None  # blobs stored, as of the last walk (not published in the registration)

    def to_json(self) -> dict[str, Any]:
        return {
            "used_bytes": self.used_bytes,
            "capacity_bytes": self.capacity_bytes,
            "available_bytes": self.available_bytes,
        }


def _filesystem(path: str) -> tuple[int, int]:
    stat = os.statvfs(path)
    return stat.f_blocks * stat.f_frsize, stat.f_bavail * stat.f_frsize


def _blob_bytes(root: str) -> tuple[int, int]:
    """(bytes, count) of the blob files under ``root``."""
    total = count = 0
    if not os.path.isdir(root):
        return 0, 0
    for shard_dir in _list_shard_dirs(root):
        for name in _list_blob_names(shard_dir):
            try:
                total += os.stat(os.path.join(shard_dir, name)).st_size
            except FileNotFoundError:  # deleted during the walk
                continue
            count += 1
    return total, count


class UsageMeter:
    """Measures one backend; the blob walk is spaced so it costs at most ``WALK_SHARE`` of a thread."""

    def __init__(self, backend: Backend, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self._backend = backend
        self._interval_s = interval_s
        self._blob_bytes = 0
        self._blobs = 0
        self._next_walk = 0.0

    async def measure(self) -> StorageUsage | None:
        backend = self._backend
        if isinstance(backend, DiskBackend):
            try:
                capacity, available = await asyncio.to_thread(_filesystem, backend.root)
            except OSError:  # not created yet, or gone: nothing to tell
                return None
            if time.monotonic() >= self._next_walk:
                started = time.monotonic()
                self._blob_bytes, self._blobs = await asyncio.to_thread(_blob_bytes, backend.root)
                took = time.monotonic() - started
                self._next_walk = time.monotonic() + max(self._interval_s, took / WALK_SHARE)
            return StorageUsage(self._blob_bytes, capacity, available, self._blobs)
        if isinstance(backend, MemoryBackend):
            used = blobs = 0
            async for blob_id in backend.list_blobs():
                used += await backend.head(blob_id) or 0
                blobs += 1
            return StorageUsage(used, blobs=blobs)
        return None


class UsagePublisher:
    """Every ``interval_s``, measures and hands the usage to ``publish`` when it changed."""

    def __init__(
        self,
        meter: UsageMeter,
        publish: Callable[[dict[str, Any]], Awaitable[object]],
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self._meter = meter
        self._publish = publish
        self._last: StorageUsage | None = None
        self._task = PeriodicTask("datanode-usage", self._once, lambda: interval_s, _log)

    async def _once(self) -> None:
        usage = await self._meter.measure()
        if usage is None or usage == self._last:
            return
        try:
            await self._publish(usage.to_json())
        except StrataError as error:  # etcd away for a moment: the next pass publishes again
            _log.warning("could not publish this datanode's storage usage: %s", error.message)
            return
        self._last = usage

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
