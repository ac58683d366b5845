"""The Scrub RPC over real gRPC: every blob re-verified at a bounded rate, corrupt ones quarantined."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import pytest

from datanode.backend import CHUNK_SIZE
from datanode.client import DataNodeClient
from datanode.memory import MemoryBackend
from datanode.scrubbing import Pacer, scrub_pass
from protos.common_pb2 import ErrorReason
from protos.data_pb2 import ScrubProgress
from protos.errors import StrataError
from tests.unit.datanode.datanode_testing import (
    RunningDataNode,
    flip_byte,
    new_blob_id,
    pieces_of,
    read_all,
    stream,
)

StartDataNode = Callable[..., Awaitable[RunningDataNode]]


async def put_blob(client: DataNodeClient, size: int) -> tuple[str, bytes]:
    blob_id, data = new_blob_id(), os.urandom(size)
    await client.put(blob_id, "us-east-1", stream(pieces_of(data, CHUNK_SIZE)))
    return blob_id, data


async def scrub(client: DataNodeClient, rate_mb_per_s: float = 0) -> list[ScrubProgress]:
    return [progress async for progress in client.scrub(rate_mb_per_s)]


def corrupt_ids(messages: list[ScrubProgress]) -> list[str]:
    return [blob_id for message in messages for blob_id in message.corrupt_blob_ids]


async def test_scrub_streams_progress_and_quarantines_what_is_corrupt(start_datanode: StartDataNode) -> None:
    node = await start_datanode("dn-a")
    client = DataNodeClient(node.address)
    try:
        healthy, healthy_data = await put_blob(client, 2 * CHUNK_SIZE + 5)
        rotten, _ = await put_blob(client, 3 * CHUNK_SIZE)
        empty, _ = await put_blob(client, 0)
        flip_byte(node.backend.blob_path(rotten), 2 * CHUNK_SIZE + 7)

        messages = await scrub(client, rate_mb_per_s=1000)
        assert messages[0].blobs_total == 3 and messages[0].blobs_checked == 0
        last = messages[-1]
        assert last.done and [m.done for m in messages].count(True) == 1
        assert last.blobs_checked == 3
        # The rotten blob's first two chunks were read before the third failed its check.
        assert last.bytes_checked == 2 * CHUNK_SIZE + 5 + 2 * CHUNK_SIZE
        assert corrupt_ids(messages) == [rotten]
        counts = [m.blobs_checked for m in messages]
        assert counts == sorted(counts)

        # Quarantined: missing for Head and Get over gRPC, while the others still serve.
        assert await client.head(rotten) is None
        with pytest.raises(StrataError) as missing:
            await read_all(client.get(rotten))
        assert missing.value.reason == ErrorReason.BLOB_NOT_FOUND
        assert await read_all(client.get(healthy)) == healthy_data
        assert await client.head(empty) == 0

        # The next pass still names it (nothing healed it yet) and checks the two left.
        again = await scrub(client)
        assert list(again[0].corrupt_blob_ids) == [rotten] and again[-1].blobs_checked == 2
        assert corrupt_ids(again) == [rotten]
    finally:
        await client.close()


async def test_a_healed_blob_is_no_longer_reported(start_datanode: StartDataNode) -> None:
    node = await start_datanode("dn-a")
    client = DataNodeClient(node.address)
    try:
        blob_id, data = await put_blob(client, 1000)
        flip_byte(node.backend.blob_path(blob_id), 10)
        assert corrupt_ids(await scrub(client)) == [blob_id]
        await client.put(blob_id, "us-east-1", stream([data]))  # the heal: a good copy put back
        messages = await scrub(client)
        assert corrupt_ids(messages) == [] and messages[-1].blobs_checked == 1
        assert messages[-1].bytes_checked == 1000
    finally:
        await client.close()


@pytest.mark.parametrize("rate", [-1.0, float("nan")])
async def test_scrub_refuses_a_negative_rate(start_datanode: StartDataNode, rate: float) -> None:
    node = await start_datanode("dn-a")
    client = DataNodeClient(node.address)
    try:
        with pytest.raises(StrataError) as refused:
            await scrub(client, rate)
        assert refused.value.reason == ErrorReason.INVALID_ARGUMENT
    finally:
        await client.close()


async def test_pacer_waits_until_the_bytes_read_fit_the_rate() -> None:
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pace = Pacer(1_000_000, clock=lambda: now[0], sleep=sleep)
    await pace(500_000)
    now[0] += 0.2  # the next read took 0.2 s itself
    await pace(500_000)
    now[0] += 2.0  # a slow read: already behind the rate, so no wait
    await pace(1_000_000)
    assert waits == pytest.approx([0.5, 0.3])
    unbounded = Pacer(None, clock=lambda: now[0], sleep=sleep)
    await unbounded(10**9)
    assert len(waits) == 2


async def test_memory_backend_scrubs_without_finding_anything() -> None:
    backend = MemoryBackend()
    blob_id = new_blob_id()
    await backend.put(blob_id, stream([b"abc"]))
    messages = [message async for message in scrub_pass(backend, None)]
    assert messages[-1].done and messages[-1].blobs_checked == 1 and messages[-1].bytes_checked == 3
    assert corrupt_ids(messages) == []
