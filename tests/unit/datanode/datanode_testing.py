"""Small stream utilities shared by the datanode tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterable


def new_blob_id() -> str:
    return secrets.token_hex(16)


async def stream(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def pieces_of(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([piece async for piece in chunks])
