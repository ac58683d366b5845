"""Where each bucket's lifecycle scan is, kept in the shard's own replicated KV.

Only key boundaries are kept (the last key whose versions were all planned), so a new leader
resumes at the next key with nothing half read. One small write per bucket per tick that moved.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from metanode import keys
from metanode.kv import KV
from metanode.writer import BatchWriter


class ScanPositions(Protocol):
    async def load(self, bucket_uid: str) -> str: ...
    async def save(self, bucket_uid: str, finished_key: str) -> None: ...


class MemoryPositions:
    """Positions that last as long as the worker (tests, or no KV to keep them in)."""

    def __init__(self) -> None:
        self._positions: dict[str, str] = {}

    async def load(self, bucket_uid: str) -> str:
        return self._positions.get(bucket_uid, "")

    async def save(self, bucket_uid: str, finished_key: str) -> None:
        self._positions[bucket_uid] = finished_key


class KVPositions:
    """Positions read from ``kv`` and written through the core's replicated ``writer``."""

    def __init__(self, kv: KV, writer: BatchWriter) -> None:
        self._kv = kv
        self._writer = writer

    async def load(self, bucket_uid: str) -> str:
        raw = await asyncio.to_thread(self._kv.get, keys.lifecycle_position_key(bucket_uid))
        return keys.decode_text(raw)

    async def save(self, bucket_uid: str, finished_key: str) -> None:
        position_key = keys.lifecycle_position_key(bucket_uid)
        if finished_key:
            await self._writer.submit([(position_key, keys.encode_text(finished_key))])
        else:
            await self._writer.submit([], [position_key])
