"""The Scrubber over real gRPC datanodes: corrupt replicas found, quarantined, and healed from good ones."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coordinator.scrub import Scrubber, ScrubStats
from datanode.backend import CHUNK_SIZE, BlobCheck
from datanode.client import NodeInfo, ReplicatedDataClient, StaticNodeDirectory
from datanode.disk import DiskBackend
from datanode.quarantine import quarantined_copies
from datanode.server import bound_port, start_server
from protos.common_pb2 import BlobRef
from protos.data_pb2 import ScrubProgress
from protos.errors import StrataError
from tests.unit.datanode.datanode_testing import RunningDataNode, flip_byte, pieces_of, read_all, stream

LOCATION = "us-east-1"


class Datanodes(StaticNodeDirectory):
    def locations(self) -> list[str]:
        return sorted({node.location for node in self.nodes_for_location(LOCATION)})


@pytest.fixture
async def trio(tmp_path: Path) -> AsyncIterator[list[RunningDataNode]]:
    """Three real gRPC datanodes of one location, each over its own disk directory."""
    running = []
    for node_id in ("dn-a", "dn-b", "dn-c"):
        backend = DiskBackend(tmp_path / node_id)
        server = await start_server(backend, "127.0.0.1:0", node_id, LOCATION)
        running.append(RunningDataNode(node_id, LOCATION, backend, server, f"127.0.0.1:{bound_port(server)}"))
    yield running
    for datanode in running:
        await datanode.stop()
        await datanode.backend.close()


@pytest.fixture
async def data(trio: list[RunningDataNode]) -> AsyncIterator[ReplicatedDataClient]:
    client = ReplicatedDataClient(StaticNodeDirectory(node.info for node in trio), replication_factor=3)
    yield client
    await client.close()


@pytest.fixture
def scrubber(trio: list[RunningDataNode], data: ReplicatedDataClient) -> Scrubber:
    return Scrubber(Datanodes(node.info for node in trio), data, rate_mb_per_s=0)


async def put_random(data: ReplicatedDataClient, size: int) -> tuple[BlobRef, bytes]:
    body = os.urandom(size)
    blob = await data.put(data.plan(LOCATION), stream(pieces_of(body, CHUNK_SIZE)))
    assert len(blob.replicas) == 3
    return blob, body


def node(trio: list[RunningDataNode], node_id: str) -> RunningDataNode:
    return next(candidate for candidate in trio if candidate.node_id == node_id)


async def test_a_pass_heals_a_rotten_replica_from_a_good_one(
    trio: list[RunningDataNode], data: ReplicatedDataClient, scrubber: Scrubber
) -> None:
    blob, body = await put_random(data, 2 * CHUNK_SIZE + 100)
    sound, _ = await put_random(data, 5000)
    rotten_on = node(trio, "dn-b")
    flip_byte(rotten_on.backend.blob_path(blob.blob_id), CHUNK_SIZE + 3)
    seen: dict[str, list[ScrubProgress]] = {}

    stats = await scrubber.run_once(lambda node_id, message: seen.setdefault(node_id, []).append(message))

    assert stats == ScrubStats(
        nodes_scrubbed=3,
        blobs_checked=6,
        # dn-b read one good chunk of the rotten blob before its second failed.
        bytes_checked=3 * (2 * CHUNK_SIZE + 100 + 5000) - (CHUNK_SIZE + 100),
        corrupt=1,
        healed=1,
    )
    assert sorted(seen) == ["dn-a", "dn-b", "dn-c"] and all(messages[-1].done for messages in seen.values())
    # The healed copy is a sound file again, at the same path: the recorded replicas are whole.
    assert await rotten_on.backend.verify(blob.blob_id) == BlobCheck(2 * CHUNK_SIZE + 100, False)
    assert await read_all(rotten_on.backend.get(blob.blob_id)) == body
    assert await rotten_on.backend.unhealed_quarantined() == []
    assert (await rotten_on.backend.verify(sound.blob_id)).bytes_checked == 5000
    assert await scrubber.run_once() == ScrubStats(
        nodes_scrubbed=3, blobs_checked=6, bytes_checked=3 * (2 * CHUNK_SIZE + 100 + 5000)
    )


async def test_a_replica_a_read_quarantined_is_healed_by_the_quick_pass(
    trio: list[RunningDataNode], data: ReplicatedDataClient, scrubber: Scrubber
) -> None:
    blob, body = await put_random(data, 3000)
    first = node(trio, blob.replicas[0])
    flip_byte(first.backend.blob_path(blob.blob_id), 7)
    assert await read_all(data.get(blob)) == body  # served by the next replica; the first is quarantined
    assert await first.backend.head(blob.blob_id) is None

    stats = await scrubber.run_once(unhealed_only=True)

    assert stats == ScrubStats(nodes_scrubbed=3, corrupt=1, healed=1)
    assert await first.backend.verify(blob.blob_id) == BlobCheck(3000, False)


async def test_a_blob_rotten_everywhere_is_reported_lost_at_every_pass(
    trio: list[RunningDataNode],
    data: ReplicatedDataClient,
    scrubber: Scrubber,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blob, _ = await put_random(data, 4000)
    for replica in trio:
        flip_byte(replica.backend.blob_path(blob.blob_id), 11)
    first = await scrubber.run_once()
    assert first.corrupt >= 3 and first.healed == 0
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="coordinator.scrub"):
        again = await scrubber.run_once(unhealed_only=True)
    assert again == ScrubStats(nodes_scrubbed=3, corrupt=3, unrecoverable=3)
    assert sum("BLOB LOST" in record.getMessage() for record in caplog.records) == 3
    for replica in trio:  # every copy kept for inspection, none served
        assert await replica.backend.unhealed_quarantined() == [blob.blob_id]


async def test_a_datanode_that_is_down_fails_its_part_and_the_rest_goes_on(
    trio: list[RunningDataNode], data: ReplicatedDataClient, scrubber: Scrubber
) -> None:
    blob, body = await put_random(data, 2000)
    flip_byte(node(trio, "dn-a").backend.blob_path(blob.blob_id), 5)
    await node(trio, "dn-c").stop()

    stats = await scrubber.run_once()

    assert stats.nodes_failed == 1 and stats.nodes_scrubbed == 2
    assert stats.corrupt == 1 and stats.healed == 1  # from dn-b, the one good copy left reachable
    assert await read_all(node(trio, "dn-a").backend.get(blob.blob_id)) == body


async def healed_after(datanode: RunningDataNode, blob: BlobRef, quarantines: int) -> None:
    """Waits (bounded) until ``blob`` was quarantined ``quarantines`` times on the node and is back."""
    for _ in range(500):
        back = await datanode.backend.head(blob.blob_id) == blob.size
        if back and len(quarantined_copies(datanode.backend.root, blob.blob_id)) == quarantines:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"blob {blob.blob_id} was not healed on {datanode.node_id}")


async def verified_whole(datanode: RunningDataNode, blob: BlobRef) -> None:
    for _ in range(250):
        check = await datanode.backend.verify(blob.blob_id)
        if check == BlobCheck(blob.size, False):
            return
        assert check == BlobCheck(0, False), check  # never corrupt, never a partial check
        await asyncio.sleep(0.02)
    raise AssertionError(f"blob {blob.blob_id} never checked whole on {datanode.node_id}")


async def test_once_started_the_scrubber_heals_without_being_asked(
    trio: list[RunningDataNode], data: ReplicatedDataClient
) -> None:
    blob, body = await put_random(data, 4096)
    rotten_on = node(trio, "dn-c")
    flip_byte(rotten_on.backend.blob_path(blob.blob_id), 100)
    scrubber = Scrubber(
        Datanodes(replica.info for replica in trio),
        data,
        rate_mb_per_s=0,
        interval_s=3600,
        heal_interval_s=0.05,
    )
    scrubber.start()
    try:
        # The first full pass finds the rot and heals it ...
        await healed_after(rotten_on, blob, quarantines=1)
        # A verify that meets a heal still writing its copy checks nothing (0 bytes, not corrupt);
        # once the heal is through, the copy checks whole.
        await verified_whole(rotten_on, blob)
        # ... and a read that quarantines it later is healed by a quick pass, long before the next full one.
        flip_byte(rotten_on.backend.blob_path(blob.blob_id), 200)
        with pytest.raises(StrataError):
            await read_all(rotten_on.backend.get(blob.blob_id))
        await healed_after(rotten_on, blob, quarantines=2)
        assert await read_all(rotten_on.backend.get(blob.blob_id)) == body
    finally:
        await scrubber.stop()


async def test_a_blob_whose_only_sound_copy_may_be_on_a_datanode_that_is_down_is_not_called_lost(
    trio: list[RunningDataNode], data: ReplicatedDataClient
) -> None:
    blob, _ = await put_random(data, 3000)
    for replica in trio[:2]:
        flip_byte(replica.backend.blob_path(blob.blob_id), 9)

    class DnCDown(Datanodes):
        def nodes_for_location(self, location: str) -> list[NodeInfo]:
            return [info for info in super().nodes_for_location(location) if info.node_id != "dn-c"]

        def members_for_location(self, location: str) -> list[str]:
            return ["dn-a", "dn-b", "dn-c"]

    scrubber = Scrubber(DnCDown(replica.info for replica in trio), data, rate_mb_per_s=0)
    await scrubber.run_once()
    stats = await scrubber.run_once(unhealed_only=True)
    assert stats == ScrubStats(nodes_scrubbed=2, corrupt=2, heal_failed=2)
