"""The background collector keeps freshly unreferenced blobs for a grace period."""

from __future__ import annotations

from metanode.core import MetadataCore
from metanode.gc import GarbageCollector
from metanode.kv import MemoryKV
from protos.common_pb2 import BlobRef
from protos.metadata_pb2 import QueueGarbageRequest, RunGcRequest


class RecordingDeleter:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def delete(self, blob: BlobRef) -> None:
        self.deleted.append(blob.blob_id)


class Clock:
    def __init__(self) -> None:
        self.now_ms = 1_000_000

    def __call__(self) -> int:
        return self.now_ms


async def test_blobs_inside_the_grace_period_wait_for_a_later_pass() -> None:
    clock = Clock()
    core = MetadataCore(MemoryKV(), clock_ms=clock)
    deleter = RecordingDeleter()
    collector = GarbageCollector(core, deleter, interval_s=3600, grace_s=5.0, clock_ms=clock)
    await core.queue_garbage(QueueGarbageRequest(blobs=[BlobRef(blob_id="a" * 32)]))
    clock.now_ms += 2_000
    await core.queue_garbage(QueueGarbageRequest(blobs=[BlobRef(blob_id="b" * 32)]))

    clock.now_ms += 1_000  # "a" is 3 s old, "b" 1 s
    stats = await collector.run_once()
    assert (deleter.deleted, stats.entries_remaining) == ([], 2)

    clock.now_ms += 3_000  # "a" is 6 s old, "b" 4 s
    stats = await collector.run_once()
    assert (deleter.deleted, stats.entries_remaining) == (["a" * 32], 1)

    clock.now_ms += 2_000
    await collector.run_once()
    assert deleter.deleted == ["a" * 32, "b" * 32]
    await core.close()


async def test_an_explicit_gc_request_ignores_the_grace_period() -> None:
    clock = Clock()
    deleter = RecordingDeleter()
    core = MetadataCore(MemoryKV(), clock_ms=clock)
    core.set_deleter(deleter)
    await core.queue_garbage(QueueGarbageRequest(blobs=[BlobRef(blob_id="c" * 32)]))
    response = await core.run_gc(RunGcRequest())
    assert (response.blobs_deleted, deleter.deleted) == (1, ["c" * 32])
    await core.close()
