"""A live in-memory copy of one etcd prefix: load once, then follow the watch.

The copy survives etcd restarts (the watch resumes after the last revision it
applied) and compaction (it reloads the whole prefix). Values are decoded once
per change; an undecodable value is logged and left out rather than stopping
the mirror.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from coordinator.etcd import EtcdClient, WatchCompactedError, WatchEventType
from protos.errors import StrataError

_log = logging.getLogger(__name__)

T = TypeVar("T")

_RETRY_S = 0.5


class PrefixMirror(Generic[T]):
    """Keeps ``{key: decode(key, value)}`` for every key under ``prefix`` up to date."""

    def __init__(self, client: EtcdClient, prefix: str, decode: Callable[[str, bytes], T]) -> None:
        self._client = client
        self._prefix = prefix
        self._decode = decode
        self._items: dict[str, T] = {}
        self._create_revisions: dict[str, int] = {}
        self._revision = 0
        self._changed = asyncio.Condition()
        self._listeners: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def revision(self) -> int:
        """The etcd revision this copy reflects."""
        return self._revision

    async def start(self) -> None:
        """Loads the prefix (raises if etcd is unreachable) and starts following it."""
        if self._task is not None:
            return
        await self._load()
        self._task = asyncio.create_task(self._follow(), name=f"mirror:{self._prefix}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def items(self) -> dict[str, T]:
        """A snapshot copy of the current ``{key: value}``."""
        return dict(self._items)

    def get(self, key: str) -> T | None:
        return self._items.get(key)

    def create_revision(self, key: str) -> int | None:
        """The revision that created the key's current incarnation (an election key's term), or None."""
        return self._create_revisions.get(key)

    def add_listener(self, listener: Callable[[], None]) -> None:
        """``listener()`` runs after every applied change (keep it quick; it runs on the loop)."""
        self._listeners.append(listener)

    async def wait_until(self, predicate: Callable[[dict[str, T]], bool], timeout_s: float) -> None:
        """Returns once ``predicate(items)`` holds; raises TimeoutError after ``timeout_s``."""
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(lambda: predicate(self._items))

    def _decoded(self, key: str, raw: bytes) -> tuple[bool, T | None]:
        try:
            return True, self._decode(key, raw)
        except Exception as error:  # a bad value written by hand must not stop the mirror
            _log.warning("ignoring undecodable etcd value at %s: %s", key, error)
            return False, None

    async def _load(self) -> None:
        snapshot = await self._client.range_prefix(self._prefix)
        items: dict[str, T] = {}
        create_revisions: dict[str, int] = {}
        for item in snapshot.items:
            ok, value = self._decoded(item.key, item.value)
            if ok:
                items[item.key] = value  # type: ignore[assignment]
                create_revisions[item.key] = item.create_revision
        self._items = items
        self._create_revisions = create_revisions
        self._revision = snapshot.revision
        await self._notify()

    async def _follow(self) -> None:
        while True:
            try:
                async for event in self._client.watch_prefix(self._prefix, start_revision=self._revision + 1):
                    if event.type is WatchEventType.DELETE:
                        self._items.pop(event.key, None)
                        self._create_revisions.pop(event.key, None)
                    else:
                        ok, value = self._decoded(event.key, event.value)
                        if ok:
                            self._items[event.key] = value  # type: ignore[assignment]
                            self._create_revisions[event.key] = event.create_revision
                        else:
                            self._items.pop(event.key, None)
                            self._create_revisions.pop(event.key, None)
                    self._revision = event.revision
                    await self._notify()
            except WatchCompactedError:
                await self._reload_until_done()
            except StrataError as error:
                _log.warning("watch on %s failed (%s); reloading", self._prefix, error.message)
                await asyncio.sleep(_RETRY_S)
                await self._reload_until_done()

    async def _reload_until_done(self) -> None:
        while True:
            try:
                await self._load()
                return
            except StrataError as error:
                _log.warning("reloading %s failed (%s); retrying", self._prefix, error.message)
                await asyncio.sleep(_RETRY_S)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                _log.exception("mirror listener failed for %s", self._prefix)
