"""The asyncio locks that make a metadata mutation's read-check-write atomic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _KeyedEntry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class KeyedLocks:
    """One mutex per key, created on demand and dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _KeyedEntry] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _KeyedEntry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


class SharedExclusiveLock:
    """Many shared holders or one exclusive holder; a waiting exclusive holder blocks new shared ones.

    Object writes in a bucket hold it shared; deleting or updating the bucket holds it exclusive, so
    "is the bucket empty?" cannot race with a write that is still in flight.
    """

    def __init__(self) -> None:
        self._shared = 0
        self._exclusive = False
        self._exclusive_waiting = 0
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            await self._changed.wait()

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        await self._wait_until(lambda: not self._exclusive and not self._exclusive_waiting)
        self._shared += 1
        try:
            yield
        finally:
            self._shared -= 1
            self._notify()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        self._exclusive_waiting += 1
        acquired = False
        try:
            await self._wait_until(lambda: not self._exclusive and self._shared == 0)
            acquired = True
        finally:
            self._exclusive_waiting -= 1
            if not acquired:
                self._notify()
        self._exclusive = True
        try:
            yield
        finally:
            self._exclusive = False
            self._notify()
