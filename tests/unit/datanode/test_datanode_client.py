"""ReplicatedDataClient over real gRPC datanodes, and the client's wire encoding and placement."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from datanode.backend import CHUNK_SIZE
from datanode.client import (
    NodeInfo,
    ReplicatedDataClient,
    StaticNodeDirectory,
    decode_get_chunk,
    encode_put_data,
    rendezvous_order,
)
from datanode.memory import MemoryBackend
from datanode.server import bound_port, start_server
from protos.common_pb2 import BlobRef, ErrorReason
from protos.data_pb2 import GetChunk, PutChunk
from protos.errors import StrataError
from tests.unit.datanode.datanode_testing import (
    PausableBackend,
    RunningDataNode,
    flip_byte,
    new_blob_id,
    pieces_of,
    read_all,
    stream,
)

StartDataNode = Callable[..., Awaitable[RunningDataNode]]
LOCATION = "us-east-1"


@pytest.mark.parametrize("size", [0, 1, 127, 128, 300, CHUNK_SIZE - 1, CHUNK_SIZE, 2 * CHUNK_SIZE + 5])
def test_hand_encoded_messages_match_protobuf(size: int) -> None:
    data = os.urandom(size)
    messages = encode_put_data(data)
    assert b"".join(PutChunk.FromString(message).data for message in messages) == data
    assert all(len(PutChunk.FromString(message).data) <= CHUNK_SIZE for message in messages)
    assert decode_get_chunk(GetChunk(data=data).SerializeToString()) == data


def nodes(count: int, location: str = LOCATION) -> list[NodeInfo]:
    return [NodeInfo(f"dn-{index}", f"127.0.0.1:{9000 + index}", location) for index in range(count)]


def test_rendezvous_order_is_stable_and_independent_of_input_order() -> None:
    blob_id = new_blob_id()
    forward = rendezvous_order(blob_id, nodes(5))
    assert rendezvous_order(blob_id, list(reversed(nodes(5)))) == forward
    # Removing a node that was not chosen first leaves the first choice alone.
    remaining = [node for node in nodes(5) if node != forward[-1]]
    assert rendezvous_order(blob_id, remaining)[0] == forward[0]


def test_rendezvous_spreads_blobs_over_every_node() -> None:
    first_choices = Counter(rendezvous_order(new_blob_id(), nodes(4))[0].node_id for _ in range(400))
    assert set(first_choices) == {"dn-0", "dn-1", "dn-2", "dn-3"}


def test_plan_picks_min_of_replication_factor_and_live_nodes() -> None:
    directory = StaticNodeDirectory([*nodes(5), NodeInfo("dn-far", "127.0.0.1:9100", "elsewhere")])
    plan = ReplicatedDataClient(directory, replication_factor=3).plan(LOCATION)
    assert len(plan.blob_id) == 32 and int(plan.blob_id, 16) >= 0
    assert (plan.location, plan.size) == (LOCATION, 0)
    assert list(plan.replicas) == [node.node_id for node in rendezvous_order(plan.blob_id, nodes(5))[:3]]
    assert len(ReplicatedDataClient(directory, replication_factor=3).plan("elsewhere").replicas) == 1
    with pytest.raises(StrataError) as raised:
        ReplicatedDataClient(directory).plan("nowhere")
    assert raised.value.reason == ErrorReason.BACKEND_UNAVAILABLE


@pytest.fixture
async def pair(start_datanode: StartDataNode) -> list[RunningDataNode]:
    return [await start_datanode("dn-a"), await start_datanode("dn-b")]


@pytest.fixture
async def replicated(pair: list[RunningDataNode]) -> AsyncIterator[ReplicatedDataClient]:
    client = ReplicatedDataClient(StaticNodeDirectory(node.info for node in pair), replication_factor=3)
    yield client
    await client.close()


def by_id(pair: list[RunningDataNode], node_id: str) -> RunningDataNode:
    return next(node for node in pair if node.node_id == node_id)


async def put_random(client: ReplicatedDataClient, size: int) -> tuple[BlobRef, bytes]:
    data = os.urandom(size)
    blob = await client.put(client.plan(LOCATION), stream(pieces_of(data, 400_000)))
    return blob, data


async def test_put_lands_on_every_replica(
    pair: list[RunningDataNode], replicated: ReplicatedDataClient
) -> None:
    blob, data = await put_random(replicated, 3 * CHUNK_SIZE + 3)
    assert blob.size == len(data) and sorted(blob.replicas) == ["dn-a", "dn-b"]
    for node in pair:
        assert await read_all(node.backend.get(blob.blob_id)) == data
    assert await read_all(replicated.get(blob, CHUNK_SIZE - 1, 5)) == data[CHUNK_SIZE - 1 : CHUNK_SIZE + 4]


async def test_get_survives_the_first_replica_being_stopped(
    pair: list[RunningDataNode], replicated: ReplicatedDataClient
) -> None:
    blob, data = await put_random(replicated, 2 * CHUNK_SIZE)
    assert await read_all(replicated.get(blob)) == data  # the channel to the first replica is open
    await by_id(pair, blob.replicas[0]).stop()
    assert await read_all(replicated.get(blob)) == data


@pytest.mark.parametrize("damage", ["deleted", "rotten"])
async def test_get_falls_back_when_the_first_replica_lost_the_blob(
    pair: list[RunningDataNode], replicated: ReplicatedDataClient, damage: str
) -> None:
    blob, data = await put_random(replicated, 100_000)
    first = by_id(pair, blob.replicas[0])
    if damage == "deleted":
        await first.backend.delete(blob.blob_id)
    else:
        flip_byte(first.backend.blob_path(blob.blob_id), 10)
    assert await read_all(replicated.get(blob)) == data


async def test_get_resumes_on_the_next_replica_after_the_bytes_already_yielded(
    pair: list[RunningDataNode], replicated: ReplicatedDataClient
) -> None:
    blob, data = await put_random(replicated, 3 * CHUNK_SIZE)
    first = by_id(pair, blob.replicas[0])
    flip_byte(first.backend.blob_path(blob.blob_id), CHUNK_SIZE + 1)
    chunks = replicated.get(blob, 100, 3 * CHUNK_SIZE - 200)
    assert await anext(chunks) == data[100:CHUNK_SIZE]
    # The second chunk is rotten on the first replica: the rest comes from the other one.
    assert await read_all(chunks) == data[CHUNK_SIZE : 3 * CHUNK_SIZE - 100]
    # ... and the rotten copy is quarantined: never served again, missing for repair.
    assert await first.backend.head(blob.blob_id) is None
    assert await first.backend.unhealed_quarantined() == [blob.blob_id]


async def test_get_with_every_replica_rotten_after_bytes_were_yielded_raises(
    pair: list[RunningDataNode], replicated: ReplicatedDataClient
) -> None:
    blob, data = await put_random(replicated, 2 * CHUNK_SIZE)
    for node in pair:
        flip_byte(node.backend.blob_path(blob.blob_id), CHUNK_SIZE + 1)
    chunks = replicated.get(blob)
    assert await anext(chunks) == data[:CHUNK_SIZE]
    with pytest.raises(StrataError) as raised:
        await anext(chunks)
    # Every replica was rotten and is quarantined now: as missing as it will be for the next read.
    assert raised.value.reason == ErrorReason.BLOB_NOT_FOUND


async def test_get_with_every_replica_gone_raises_the_last_reason(replicated: ReplicatedDataClient) -> None:
    blob = replicated.plan(LOCATION)  # planned but never written
    with pytest.raises(StrataError) as raised:
        await read_all(replicated.get(blob))
    assert raised.value.reason == ErrorReason.BLOB_NOT_FOUND


async def test_delete_removes_from_every_replica_and_is_idempotent(
    pair: list[RunningDataNode], replicated: ReplicatedDataClient
) -> None:
    blob, _ = await put_random(replicated, 1000)
    await replicated.delete(blob)
    await replicated.delete(blob)
    for node in pair:
        assert await node.backend.head(blob.blob_id) is None


async def test_delete_with_an_unreachable_replica_raises_so_it_is_retried(
    pair: list[RunningDataNode], replicated: ReplicatedDataClient
) -> None:
    blob, _ = await put_random(replicated, 1000)
    await pair[0].stop()
    with pytest.raises(StrataError) as raised:
        await replicated.delete(blob)
    assert raised.value.reason == ErrorReason.BACKEND_UNAVAILABLE
    assert await pair[1].backend.head(blob.blob_id) is None


async def test_failed_replica_fails_the_put_and_leaves_nothing(start_datanode: StartDataNode) -> None:
    good = await start_datanode("dn-good", LOCATION)
    misconfigured = await start_datanode("dn-wrong", "another-location")  # rejects our header
    directory = StaticNodeDirectory([good.info, NodeInfo("dn-wrong", misconfigured.address, LOCATION)])
    client = ReplicatedDataClient(directory)
    try:
        blob = client.plan(LOCATION)
        with pytest.raises(StrataError) as raised:
            await client.put(blob, stream(pieces_of(os.urandom(3 * CHUNK_SIZE), CHUNK_SIZE)))
        # grpc can report a write racing the server's rejection as a bare INTERNAL, without the reason:
        # that reads as a broken stream, unavailable (a 503 the client retries, never a 500).
        assert raised.value.reason in (ErrorReason.INVALID_ARGUMENT, ErrorReason.BACKEND_UNAVAILABLE)
        assert await good.backend.head(blob.blob_id) is None
        assert [found async for found in good.backend.list_blobs()] == []
    finally:
        await client.close()


async def test_put_to_a_replica_missing_from_the_directory_is_unavailable(
    replicated: ReplicatedDataClient,
) -> None:
    blob = BlobRef(location=LOCATION, blob_id=new_blob_id(), replicas=["dn-a", "dn-gone"])
    with pytest.raises(StrataError) as raised:
        await replicated.put(blob, stream([b"x"]))
    assert raised.value.reason == ErrorReason.BACKEND_UNAVAILABLE


class _FullBackend(MemoryBackend):
    """Accepts the whole stream, waits until ``peer`` holds the blob, then fails to store it."""

    def __init__(self, peer: RunningDataNode) -> None:
        super().__init__()
        self.peer = peer

    async def put(self, blob_id: str, chunks: AsyncIterator[bytes]) -> int:
        async for _ in chunks:
            pass
        for _ in range(1000):
            if await self.peer.backend.head(blob_id) is not None:
                break
            await asyncio.sleep(0.01)
        raise StrataError(ErrorReason.QUOTA, "disk full")


async def test_replica_failing_at_the_end_makes_the_others_delete_their_copy(
    start_datanode: StartDataNode,
) -> None:
    good = await start_datanode("dn-good", LOCATION)
    full_server = await start_server(_FullBackend(good), "127.0.0.1:0", "dn-full", LOCATION)
    directory = StaticNodeDirectory(
        [good.info, NodeInfo("dn-full", f"127.0.0.1:{bound_port(full_server)}", LOCATION)]
    )
    client = ReplicatedDataClient(directory)
    try:
        blob = client.plan(LOCATION)
        with pytest.raises(StrataError) as raised:
            await client.put(blob, stream([os.urandom(CHUNK_SIZE + 1)]))
        assert raised.value.reason == ErrorReason.QUOTA
        assert await good.backend.head(blob.blob_id) is None
    finally:
        await client.close()
        await full_server.stop(grace=None)


async def test_plan_wants_every_member_of_the_location_even_when_some_are_down(
    pair: list[RunningDataNode],
) -> None:
    class ThirdDown(StaticNodeDirectory):
        def members_for_location(self, location: str) -> list[str]:
            return ["dn-a", "dn-b", "dn-c"]

    client = ReplicatedDataClient(ThirdDown(node.info for node in pair), replication_factor=3)
    try:
        blob, _ = await put_random(client, 10_000)
        assert sorted(blob.replicas) == ["dn-a", "dn-b"] and blob.replicas_wanted == 3
    finally:
        await client.close()


async def test_plan_refuses_a_write_that_no_majority_of_replicas_could_take(
    pair: list[RunningDataNode],
) -> None:
    class OneDown(StaticNodeDirectory):
        def nodes_for_location(self, location: str) -> list[NodeInfo]:
            return [node for node in super().nodes_for_location(location) if node.node_id == "dn-a"]

        def members_for_location(self, location: str) -> list[str]:
            return ["dn-a", "dn-b"]

    client = ReplicatedDataClient(OneDown(node.info for node in pair), replication_factor=3)
    try:
        with pytest.raises(StrataError) as refused:
            client.plan(LOCATION)
        assert refused.value.reason == ErrorReason.BACKEND_UNAVAILABLE
        assert "a write needs 2" in refused.value.message
    finally:
        await client.close()


async def test_replicate_copies_a_short_blob_to_the_node_that_lacks_it(
    pair: list[RunningDataNode], replicated: ReplicatedDataClient
) -> None:
    data = os.urandom(2 * CHUNK_SIZE + 17)
    planned = replicated.plan(LOCATION)
    del planned.replicas[1:]  # as if only the first node had been live at write time
    blob = await replicated.put(planned, stream(pieces_of(data, 300_000)))
    assert blob.replicas_wanted == 2 and len(blob.replicas) == 1
    missing = next(node for node in pair if node.node_id not in blob.replicas)
    assert await missing.backend.head(blob.blob_id) is None
    assert await replicated.replicate(blob) == [missing.node_id]
    assert await read_all(missing.backend.get(blob.blob_id)) == data
    blob.replicas.append(missing.node_id)
    assert await replicated.replicate(blob) == []  # nothing short any more


async def test_replicate_without_a_live_source_is_data_unreachable(
    pair: list[RunningDataNode], replicated: ReplicatedDataClient
) -> None:
    blob = BlobRef(location=LOCATION, blob_id=new_blob_id(), size=1, replicas=["dn-gone"], replicas_wanted=2)
    with pytest.raises(StrataError) as raised:
        await replicated.replicate(blob)
    assert raised.value.reason == ErrorReason.DATA_UNREACHABLE


async def test_get_with_every_replica_unreachable_is_data_unreachable(
    pair: list[RunningDataNode], replicated: ReplicatedDataClient
) -> None:
    blob, _ = await put_random(replicated, 10_000)
    for node in pair:
        await node.stop()
    with pytest.raises(StrataError) as raised:
        await read_all(replicated.get(blob))
    assert raised.value.reason == ErrorReason.DATA_UNREACHABLE


async def test_replicate_copies_from_the_next_replica_when_the_first_lost_the_blob(
    start_datanode: StartDataNode,
) -> None:
    nodes = [await start_datanode(f"dn-{name}", LOCATION) for name in "abc"]
    client = ReplicatedDataClient(StaticNodeDirectory(node.info for node in nodes), replication_factor=3)
    try:
        data = os.urandom(CHUNK_SIZE + 5)
        planned = client.plan(LOCATION)
        del planned.replicas[2:]
        blob = await client.put(planned, stream([data]))
        first, second = (by_id(nodes, node_id) for node_id in blob.replicas)
        await first.backend.delete(blob.blob_id)
        spare = next(node for node in nodes if node.node_id not in blob.replicas)
        assert await client.replicate(blob) == [spare.node_id]
        assert await read_all(spare.backend.get(blob.blob_id)) == data
        assert await read_all(second.backend.get(blob.blob_id)) == data
    finally:
        await client.close()


class WrongSizeBackend(MemoryBackend):
    """Stores the blob but reports one byte more than it received."""

    async def put(self, blob_id: str, chunks: AsyncIterator[bytes]) -> int:
        return await super().put(blob_id, chunks) + 1


async def test_replicate_abandons_a_stalled_copy_at_its_deadline(start_datanode: StartDataNode) -> None:
    source = await start_datanode("dn-source", LOCATION)
    stuck = PausableBackend()
    stuck.running.clear()
    stuck_server = await start_server(stuck, "127.0.0.1:0", "dn-stuck", LOCATION)
    directory = StaticNodeDirectory(
        [source.info, NodeInfo("dn-stuck", f"127.0.0.1:{bound_port(stuck_server)}", LOCATION)]
    )
    client = ReplicatedDataClient(directory, copy_timeout_s=0.2)
    try:
        planned = client.plan(LOCATION)
        planned.replicas[:] = [source.node_id]
        blob = await client.put(planned, stream([os.urandom(1000)]))
        # Without a deadline the copy waits for the stalled node forever.
        assert await asyncio.wait_for(client.replicate(blob), 60) == []
        assert stuck.stalled.is_set()
        stuck.running.set()
        assert await client.replicate(blob) == ["dn-stuck"]
        assert await stuck.head(blob.blob_id) == 1000
    finally:
        stuck.running.set()
        await client.close()
        await stuck_server.stop(grace=None)


def test_copy_deadline_grows_with_the_blob_size() -> None:
    client = ReplicatedDataClient(StaticNodeDirectory([]), copy_timeout_s=30.0, copy_rate=10_000_000)
    assert client.copy_deadline(0) == 30.0
    assert client.copy_deadline(1_000_000_000) == 130.0
    with pytest.raises(ValueError):
        ReplicatedDataClient(StaticNodeDirectory([]), copy_timeout_s=0)


async def test_replicate_discards_a_copy_of_the_wrong_size_and_keeps_the_good_ones(
    start_datanode: StartDataNode,
) -> None:
    source = await start_datanode("dn-source", LOCATION)
    good = await start_datanode("dn-good", LOCATION)
    wrong = WrongSizeBackend()
    wrong_server = await start_server(wrong, "127.0.0.1:0", "dn-wrong", LOCATION)
    directory = StaticNodeDirectory(
        [source.info, good.info, NodeInfo("dn-wrong", f"127.0.0.1:{bound_port(wrong_server)}", LOCATION)]
    )
    client = ReplicatedDataClient(directory, replication_factor=3)
    try:
        planned = client.plan(LOCATION)
        planned.replicas[:] = [source.node_id]
        blob = await client.put(planned, stream([os.urandom(5000)]))
        assert await client.replicate(blob) == ["dn-good"]
        assert await good.backend.head(blob.blob_id) == 5000
        assert await wrong.head(blob.blob_id) is None
        assert await source.backend.head(blob.blob_id) == 5000
    finally:
        await client.close()
        await wrong_server.stop(grace=None)
