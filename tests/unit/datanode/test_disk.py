"""What only the disk backend promises: file layout, bitrot detection, crash leftovers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from datanode.backend import CHUNK_SIZE, BlobCheck
from datanode.disk import DiskBackend
from datanode.quarantine import quarantined_copies
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from tests.unit.datanode.datanode_testing import flip_byte, new_blob_id, pieces_of, read_all, stream


@pytest.fixture
async def disk(tmp_path: Path) -> AsyncIterator[DiskBackend]:
    backend = DiskBackend(tmp_path / "data")
    yield backend
    await backend.close()


async def put_random(backend: DiskBackend, size: int) -> tuple[str, bytes]:
    blob_id, data = new_blob_id(), os.urandom(size)
    await backend.put(blob_id, stream(pieces_of(data, CHUNK_SIZE)))
    return blob_id, data


async def test_blobs_are_sharded_in_two_directory_levels(disk: DiskBackend, tmp_path: Path) -> None:
    blob_id, _ = await put_random(disk, 10)
    path = tmp_path / "data" / blob_id[0:2] / blob_id[2:4] / blob_id
    assert path.is_file()
    assert disk.blob_path(blob_id) == str(path)
    # data, one CRC per chunk, and the 16-byte footer
    assert path.stat().st_size == 10 + 4 + 16


async def test_flipped_byte_is_detected_by_reads_that_cover_its_chunk(disk: DiskBackend) -> None:
    blob_id, data = await put_random(disk, 3 * CHUNK_SIZE)
    flip_byte(disk.blob_path(blob_id), CHUNK_SIZE + 5)

    assert await read_all(disk.get(blob_id, 0, CHUNK_SIZE)) == data[:CHUNK_SIZE]
    assert await read_all(disk.get(blob_id, 2 * CHUNK_SIZE, -1)) == data[2 * CHUNK_SIZE :]
    for offset, length in [(0, -1), (CHUNK_SIZE + 100, 1), (CHUNK_SIZE - 1, 2)]:
        rotten, _ = await put_random(disk, 3 * CHUNK_SIZE)
        flip_byte(disk.blob_path(rotten), CHUNK_SIZE + 5)
        with pytest.raises(StrataError) as raised:
            await read_all(disk.get(rotten, offset, length))
        assert raised.value.reason == ErrorReason.BLOB_CORRUPT


async def test_a_read_that_finds_bitrot_quarantines_the_blob(disk: DiskBackend) -> None:
    blob_id, data = await put_random(disk, 2 * CHUNK_SIZE)
    flip_byte(disk.blob_path(blob_id), CHUNK_SIZE + 5)
    with pytest.raises(StrataError) as raised:
        await read_all(disk.get(blob_id))
    assert raised.value.reason == ErrorReason.BLOB_CORRUPT
    # Never served again: missing for Head and Get, so repair sees the replica as gone.
    assert await disk.head(blob_id) is None
    with pytest.raises(StrataError) as missing:
        await read_all(disk.get(blob_id))
    assert missing.value.reason == ErrorReason.BLOB_NOT_FOUND
    assert blob_id not in {found async for found in disk.list_blobs()}
    # Kept for inspection, and waiting for a healed copy ...
    [kept] = quarantined_copies(disk.root, blob_id)
    assert await asyncio.to_thread(os.path.getsize, kept) > 2 * CHUNK_SIZE
    assert await disk.unhealed_quarantined() == [blob_id]
    # ... until one is stored again, which then verifies.
    await disk.put(blob_id, stream(pieces_of(data, CHUNK_SIZE)))
    assert await disk.unhealed_quarantined() == []
    assert await disk.verify(blob_id) == BlobCheck(2 * CHUNK_SIZE, False)
    assert await read_all(disk.get(blob_id)) == data


async def test_a_deleted_quarantined_blob_needs_no_healing(disk: DiskBackend) -> None:
    blob_id, _ = await put_random(disk, 100)
    flip_byte(disk.blob_path(blob_id), 3)
    assert (await disk.verify(blob_id)).corrupt
    assert await disk.unhealed_quarantined() == [blob_id]
    await disk.delete(blob_id)
    assert await disk.unhealed_quarantined() == []
    assert len(quarantined_copies(disk.root, blob_id)) == 1


async def test_damaged_checksum_table_is_detected(disk: DiskBackend) -> None:
    blob_id, _ = await put_random(disk, 100)
    flip_byte(disk.blob_path(blob_id), 100)  # first byte of the CRC table
    with pytest.raises(StrataError) as raised:
        await read_all(disk.get(blob_id))
    assert raised.value.reason == ErrorReason.BLOB_CORRUPT


async def test_truncated_blob_file_is_quarantined_by_head(disk: DiskBackend) -> None:
    blob_id, _ = await put_random(disk, CHUNK_SIZE + 10)
    os.truncate(disk.blob_path(blob_id), CHUNK_SIZE)
    assert await disk.head(blob_id) is None
    assert await disk.unhealed_quarantined() == [blob_id]
    other, _ = await put_random(disk, CHUNK_SIZE + 10)
    os.truncate(disk.blob_path(other), CHUNK_SIZE)
    with pytest.raises(StrataError) as raised:
        await read_all(disk.get(other))
    assert raised.value.reason == ErrorReason.BLOB_CORRUPT


async def test_scrub_returns_exactly_the_corrupt_blobs(disk: DiskBackend) -> None:
    healthy, _ = await put_random(disk, 2 * CHUNK_SIZE)
    rotten, _ = await put_random(disk, 2 * CHUNK_SIZE)
    empty, _ = await put_random(disk, 0)
    assert await disk.scrub() == []
    flip_byte(disk.blob_path(rotten), 2 * CHUNK_SIZE - 1)
    assert await disk.scrub() == [rotten]
    assert {found async for found in disk.list_blobs()} == {healthy, empty}
    assert await disk.scrub() == []


async def test_verify_paces_its_reads(disk: DiskBackend) -> None:
    blob_id, _ = await put_random(disk, 2 * CHUNK_SIZE + 3)
    paced: list[int] = []

    async def pace(read_bytes: int) -> None:
        paced.append(read_bytes)

    assert await disk.verify(blob_id, pace) == BlobCheck(2 * CHUNK_SIZE + 3, False)
    assert paced == [CHUNK_SIZE, CHUNK_SIZE, 3]


async def test_leftover_temporary_files_are_removed_at_startup(tmp_path: Path) -> None:
    tmp_dir = tmp_path / "data" / "tmp"
    tmp_dir.mkdir(parents=True)
    leftover = tmp_dir / f"{new_blob_id()}.abc.tmp"
    leftover.write_bytes(b"half a blob")
    backend = DiskBackend(tmp_path / "data")
    try:
        await backend.start()
        assert not leftover.exists()
        assert [found async for found in backend.list_blobs()] == []
    finally:
        await backend.close()


async def test_cancelled_put_removes_its_temporary_file(tmp_path: Path) -> None:
    backend = DiskBackend(tmp_path / "data")
    started = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b"z" * CHUNK_SIZE
        started.set()
        await asyncio.Event().wait()
        yield b""

    put = asyncio.create_task(backend.put(new_blob_id(), stalls()))
    await started.wait()
    assert len(os.listdir(tmp_path / "data" / "tmp")) == 1
    put.cancel()
    with pytest.raises(asyncio.CancelledError):
        await put
    await backend.close()  # waits for the cleanup submitted to the I/O threads
    assert os.listdir(tmp_path / "data" / "tmp") == []


async def test_abandoned_read_closes_its_file(disk: DiskBackend) -> None:
    blob_id, _ = await put_random(disk, 4 * CHUNK_SIZE)
    await read_all(disk.get(blob_id))  # warm up the I/O threads
    open_before = len(os.listdir("/proc/self/fd"))
    chunks = disk.get(blob_id)
    await anext(chunks)
    await chunks.aclose()
    await disk.close()  # the read-ahead, if still running, closes the file when it ends
    assert len(os.listdir("/proc/self/fd")) == open_before


async def test_health_fails_when_the_root_is_not_a_directory(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_bytes(b"")
    backend = DiskBackend(not_a_directory)
    try:
        with pytest.raises(StrataError) as raised:
            await backend.health()
        assert raised.value.reason == ErrorReason.BACKEND_UNAVAILABLE
    finally:
        await backend.close()
