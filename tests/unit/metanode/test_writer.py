"""Group commit: many concurrent entries, few batches, all durable."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from metanode import keys
from metanode.kv import MemoryKV, RocksKV
from metanode.writer import BatchWriter


class GateKV(MemoryKV):
    """Can hold a batch inside ``write`` until released, so later submissions pile up behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.fail_next = False
        self.hold_next = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def write(self, puts: Sequence[tuple[bytes, bytes]], deletes: Sequence[bytes], sync: bool = True) -> None:
        if self.hold_next:
            self.hold_next = False
            self.entered.set()
            self.release.wait(timeout=30)
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        self.batches.append(len(puts) + len(deletes))
        super().write(puts, deletes, sync)

    async def wait_until_held(self) -> None:
        await asyncio.to_thread(self.entered.wait, 30)


async def test_concurrent_submissions_share_batches_and_survive_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    store = RocksKV(path)
    writer = BatchWriter(store)
    indexes = await asyncio.gather(*(writer.submit([(b"k%04d" % n, b"v%d" % n)]) for n in range(200)))
    assert sorted(indexes) == list(range(1, 201))
    assert writer.entries_written == 200
    assert writer.batches_written < 200
    await writer.close()
    store.close()

    reopened = RocksKV(path)
    assert all(reopened.get(b"k%04d" % n) == b"v%d" % n for n in range(200))
    assert keys.decode_counter(reopened.get(keys.LAST_LOG_INDEX_KEY)) == 200
    assert BatchWriter(reopened).last_index == 200
    reopened.close()


async def test_waiting_entries_go_out_together() -> None:
    store = GateKV()
    writer = BatchWriter(store)
    store.hold_next = True
    first = asyncio.create_task(writer.submit([(b"first", b"1")]))
    await store.wait_until_held()
    rest = [asyncio.create_task(writer.submit([(b"k%d" % n, b"1")])) for n in range(50)]
    await asyncio.sleep(0)
    store.release.set()
    await asyncio.gather(first, *rest)
    assert len(store.batches) == 2  # 1 alone, then the 50 that waited, together
    await writer.close()


async def test_later_entries_win_within_a_batch() -> None:
    store = GateKV()
    writer = BatchWriter(store)
    store.hold_next = True
    blocker = asyncio.create_task(writer.submit([(b"x", b"0")]))
    await store.wait_until_held()
    later = [
        asyncio.create_task(writer.submit([(b"a", b"1")])),
        asyncio.create_task(writer.submit([], [b"a"])),
        asyncio.create_task(writer.submit([(b"b", b"1")])),
        asyncio.create_task(writer.submit([(b"b", b"2")])),
    ]
    await asyncio.sleep(0)
    store.release.set()
    await asyncio.gather(blocker, *later)
    assert len(store.batches) == 2
    assert store.get(b"a") is None and store.get(b"b") == b"2"
    await writer.close()


@pytest.mark.allow_server_errors(tracebacks=True)  # the store fails on purpose; the writer logs it
async def test_failed_batch_fails_its_entries_and_writer_recovers() -> None:
    store = GateKV()
    writer = BatchWriter(store)
    store.fail_next = True
    with pytest.raises(OSError):
        await writer.submit([(b"lost", b"1")])
    await writer.submit([(b"kept", b"1")])
    assert store.get(b"lost") is None and store.get(b"kept") == b"1"
    await writer.close()


async def test_closed_writer_refuses_entries() -> None:
    writer = BatchWriter(MemoryKV())
    await writer.close()
    with pytest.raises(RuntimeError):
        await writer.submit([(b"a", b"1")])
