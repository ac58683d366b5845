"""Streams, bitrot and a running datanode: what the datanode tests share."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

import grpc

from datanode.client import NodeInfo
from datanode.disk import DiskBackend
from datanode.memory import MemoryBackend


def new_blob_id() -> str:
    return secrets.token_hex(16)


async def stream(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def pieces_of(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([piece async for piece in chunks])


def flip_byte(path: str, position: int) -> None:
    """Simulates bitrot: inverts one byte of a file in place."""
    with open(path, "r+b") as damaged:
        damaged.seek(position)
        original = damaged.read(1)
        damaged.seek(position)
        damaged.write(bytes([original[0] ^ 0xFF]))


async def eventually(condition: Callable[[], bool], attempts: int = 1000) -> None:
    """Waits (up to ~10 s) for ``condition``; for effects another task or process completes."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


def files_in(directory: str | os.PathLike[str]) -> list[str]:
    try:
        return os.listdir(directory)
    except FileNotFoundError:
        return []


@dataclass
class RunningDataNode:
    node_id: str
    location: str
    backend: DiskBackend
    server: grpc.aio.Server
    address: str

    @property
    def info(self) -> NodeInfo:
        return NodeInfo(self.node_id, self.address, self.location)

    async def stop(self) -> None:
        await self.server.stop(grace=None)


class PausableBackend(MemoryBackend):
    """A datanode disk that stops answering puts while ``running`` is clear (a stalled node)."""

    def __init__(self) -> None:
        super().__init__()
        self.running = asyncio.Event()
        self.running.set()
        self.stalled = asyncio.Event()

    async def put(self, blob_id: str, chunks: AsyncIterator[bytes]) -> int:
        if not self.running.is_set():
            self.stalled.set()
            await self.running.wait()
        return await super().put(blob_id, chunks)
