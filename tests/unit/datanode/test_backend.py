"""The backend conformance suite: DiskBackend and MemoryBackend must behave the same."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from datanode.backend import CHUNK_SIZE, Backend, create_backend, registered_location_types
from datanode.disk import DiskBackend
from datanode.memory import MemoryBackend
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from tests.unit.datanode.datanode_testing import new_blob_id, pieces_of, read_all, stream

SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + CHUNK_SIZE // 2]


def payload(size: int) -> bytes:
    return os.urandom(size)


@pytest.mark.parametrize("size", SIZES)
async def test_put_then_get_returns_the_same_bytes(backend: Backend, size: int) -> None:
    data = payload(size)
    blob_id = new_blob_id()
    # Irregular input pieces, so chunk boundaries never line up with them.
    assert await backend.put(blob_id, stream(pieces_of(data, 300_001))) == size
    pieces = [piece async for piece in backend.get(blob_id)]
    assert b"".join(pieces) == data
    assert all(0 < len(piece) <= CHUNK_SIZE for piece in pieces)


async def test_put_accepts_memoryview_and_empty_pieces(backend: Backend) -> None:
    data = payload(5000)
    blob_id = new_blob_id()
    await backend.put(blob_id, stream([b"", memoryview(data)[:10], b"", memoryview(data)[10:]]))
    assert await read_all(backend.get(blob_id)) == data


RANGES = [
    (0, 0),
    (0, 1),
    (10, 100),
    (CHUNK_SIZE - 10, 20),  # spans the first chunk boundary
    (CHUNK_SIZE, CHUNK_SIZE),  # exactly the second chunk
    (CHUNK_SIZE - 1, CHUNK_SIZE + 2),  # touches three chunks
    (CHUNK_SIZE + 5, -1),  # to the end
    (2 * CHUNK_SIZE + 100, 10**12),  # past the end is clamped
    (3 * CHUNK_SIZE - 7, -1),  # the last bytes
]


@pytest.mark.parametrize(("offset", "length"), RANGES)
async def test_ranged_get_returns_the_requested_slice(backend: Backend, offset: int, length: int) -> None:
    data = payload(3 * CHUNK_SIZE - 7)
    blob_id = new_blob_id()
    await backend.put(blob_id, stream(pieces_of(data, CHUNK_SIZE)))
    expected = data[offset:] if length == -1 else data[offset : offset + length]
    assert await read_all(backend.get(blob_id, offset, length)) == expected


async def test_get_at_the_end_is_empty_and_beyond_it_is_invalid(backend: Backend) -> None:
    blob_id = new_blob_id()
    await backend.put(blob_id, stream([b"abc"]))
    assert await read_all(backend.get(blob_id, 3)) == b""
    for offset, length in [(4, -1), (-1, 1), (0, -2)]:
        with pytest.raises(StrataError) as raised:
            await read_all(backend.get(blob_id, offset, length))
        assert raised.value.reason == ErrorReason.INVALID_ARGUMENT


async def test_missing_blob_raises_not_found_on_first_iteration(backend: Backend) -> None:
    chunks = backend.get(new_blob_id())  # creating the iterator does no I/O
    with pytest.raises(StrataError) as raised:
        await anext(chunks)
    assert raised.value.reason == ErrorReason.BLOB_NOT_FOUND


async def test_head_reports_size_or_none(backend: Backend) -> None:
    blob_id = new_blob_id()
    assert await backend.head(blob_id) is None
    await backend.put(blob_id, stream([b"x" * 1234]))
    assert await backend.head(blob_id) == 1234


async def test_delete_removes_the_blob_and_is_idempotent(backend: Backend) -> None:
    blob_id = new_blob_id()
    await backend.put(blob_id, stream([b"data"]))
    await backend.delete(blob_id)
    assert await backend.head(blob_id) is None
    await backend.delete(blob_id)
    await backend.delete(new_blob_id())
    with pytest.raises(StrataError) as raised:
        await anext(backend.get(blob_id))
    assert raised.value.reason == ErrorReason.BLOB_NOT_FOUND


async def test_list_blobs_returns_every_stored_id(backend: Backend) -> None:
    assert [blob_id async for blob_id in backend.list_blobs()] == []
    blob_ids = {new_blob_id() for _ in range(5)}
    for blob_id in blob_ids:
        await backend.put(blob_id, stream([blob_id.encode()]))
    assert {blob_id async for blob_id in backend.list_blobs()} == blob_ids


async def test_failed_put_leaves_nothing(backend: Backend) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * CHUNK_SIZE
        raise ConnectionResetError("client went away")

    blob_id = new_blob_id()
    with pytest.raises(ConnectionResetError):
        await backend.put(blob_id, broken())
    assert await backend.head(blob_id) is None
    assert [found async for found in backend.list_blobs()] == []


async def test_cancelled_put_leaves_nothing(backend: Backend) -> None:
    first_piece_sent = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b"y" * 1000
        first_piece_sent.set()
        await asyncio.Event().wait()
        yield b"never"

    blob_id = new_blob_id()
    put = asyncio.create_task(backend.put(blob_id, stalls()))
    await first_piece_sent.wait()
    put.cancel()
    with pytest.raises(asyncio.CancelledError):
        await put
    assert await backend.head(blob_id) is None
    assert [found async for found in backend.list_blobs()] == []


@pytest.mark.parametrize("bad_id", ["", "abc", "G" * 32, "A" * 32, "../" + "a" * 29, "a" * 33])
async def test_invalid_blob_ids_are_rejected(backend: Backend, bad_id: str) -> None:
    calls = [
        backend.put(bad_id, stream([b"x"])),
        read_all(backend.get(bad_id)),
        backend.head(bad_id),
        backend.delete(bad_id),
    ]
    for call in calls:
        with pytest.raises(StrataError) as raised:
            await call
        assert raised.value.reason == ErrorReason.INVALID_ARGUMENT


async def test_health_passes_on_a_usable_backend(backend: Backend) -> None:
    await backend.health()


async def test_registry_builds_backends_by_location_type(tmp_path: Path) -> None:
    assert {"file", "mem"} <= set(registered_location_types())
    memory = create_backend("mem", {}, data_dir=None)
    disk = create_backend("file", {}, data_dir=str(tmp_path))
    assert isinstance(memory, MemoryBackend)
    assert isinstance(disk, DiskBackend) and disk.root == str(tmp_path)
    await disk.close()
    for location_type, data_dir in [("file", None), ("no-such-type", str(tmp_path))]:
        with pytest.raises(StrataError) as raised:
            create_backend(location_type, {}, data_dir=data_dir)
        assert raised.value.reason == ErrorReason.INVALID_ARGUMENT
