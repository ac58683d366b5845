"""A datanode's storage usage: the filesystem's size and room, and the bytes its blobs take."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from datanode.backend import Backend
from datanode.disk import DiskBackend
from datanode.memory import MemoryBackend
from datanode.usage import UsageMeter, UsagePublisher
from tests.unit.datanode.datanode_testing import new_blob_id, stream


async def put(backend: Backend, size: int) -> str:
    blob_id = new_blob_id()
    await backend.put(blob_id, stream([os.urandom(size)]))
    return blob_id


async def test_disk_usage_is_the_blob_files_and_the_filesystem_around_them(
    backend: Backend, tmp_path: Path
) -> None:
    first = await put(backend, 1000)
    await put(backend, 3000)
    usage = await UsageMeter(backend, interval_s=0).measure()
    assert usage is not None
    if isinstance(backend, DiskBackend):
        files = sum(path.stat().st_size for path in (tmp_path / "data").glob("??/??/*"))
        assert usage.used_bytes == files >= 4000
        stat = os.statvfs(tmp_path)
        assert usage.capacity_bytes == stat.f_blocks * stat.f_frsize
        assert usage.available_bytes is not None and 0 < usage.available_bytes <= usage.capacity_bytes
        assert usage.blobs == 2
    else:
        assert usage == type(usage)(4000, None, None, blobs=2)
    await backend.delete(first)
    again = await UsageMeter(backend, interval_s=0).measure()
    assert again is not None and again.used_bytes < usage.used_bytes
    assert again.blobs == 1


async def test_a_disk_not_created_yet_reports_nothing(tmp_path: Path) -> None:
    backend = DiskBackend(tmp_path / "missing")
    try:
        assert await UsageMeter(backend).measure() is None
    finally:
        await backend.close()


async def test_publisher_publishes_a_first_measure_and_then_only_changes() -> None:
    backend = MemoryBackend()
    published: list[dict[str, Any]] = []

    async def publish(storage: dict[str, Any]) -> None:
        published.append(storage)

    publisher = UsagePublisher(UsageMeter(backend), publish)
    await publisher._once()
    await publisher._once()
    await put(backend, 10)
    await publisher._once()
    assert [entry["used_bytes"] for entry in published] == [0, 10]
