"""The DataService over real gRPC on 127.0.0.1: servicer, server and DataNodeClient together."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest

from datanode.backend import CHUNK_SIZE
from datanode.client import DataNodeClient, encode_put_data, encode_put_header
from datanode.memory import MemoryBackend
from datanode.server import bound_port, start_server
from protos.common_pb2 import ErrorReason
from protos.data_pb2 import PutChunk, PutEnd, PutHeader
from protos.data_pb2_grpc import DataServiceStub
from protos.errors import StrataError, from_rpc_error
from strata.runtime.log import request_id_var
from tests.unit.datanode.datanode_testing import (
    RunningDataNode,
    eventually,
    files_in,
    flip_byte,
    new_blob_id,
    pieces_of,
    read_all,
    stream,
)

StartDataNode = Callable[..., Awaitable[RunningDataNode]]


@pytest.fixture
async def node(start_datanode: StartDataNode) -> RunningDataNode:
    return await start_datanode("dn-1", "us-east-1")


@pytest.fixture
async def client(node: RunningDataNode) -> AsyncIterator[DataNodeClient]:
    data_client = DataNodeClient(node.address)
    yield data_client
    await data_client.close()


async def expect_reason(reason: int, call: Awaitable[object]) -> None:
    with pytest.raises(StrataError) as raised:
        await call
    assert raised.value.reason == reason, raised.value


async def test_put_five_mib_then_read_it_back_whole_and_in_ranges(
    node: RunningDataNode, client: DataNodeClient
) -> None:
    data = os.urandom(5 * CHUNK_SIZE)
    blob_id = new_blob_id()
    blob = await client.put(blob_id, "us-east-1", stream(pieces_of(data, 700_000)))
    assert (blob.location, blob.blob_id, blob.size, list(blob.replicas)) == (
        "us-east-1",
        blob_id,
        len(data),
        ["dn-1"],
    )
    assert await node.backend.head(blob_id) == len(data)

    pieces = [piece async for piece in client.get(blob_id)]
    assert b"".join(pieces) == data
    assert max(len(piece) for piece in pieces) <= CHUNK_SIZE
    for offset, length in [(CHUNK_SIZE - 3, 7), (2 * CHUNK_SIZE, CHUNK_SIZE), (4 * CHUNK_SIZE + 1, -1)]:
        expected = data[offset:] if length == -1 else data[offset : offset + length]
        assert await read_all(client.get(blob_id, offset, length)) == expected


async def test_head_list_and_idempotent_delete(client: DataNodeClient) -> None:
    blob_id = new_blob_id()
    assert await client.head(blob_id) is None
    await client.put(blob_id, "", stream([b"hello"]))
    assert await client.head(blob_id) == 5
    assert [found async for found in client.list_blobs()] == [blob_id]
    await client.delete(blob_id)
    await client.delete(blob_id)
    assert await client.head(blob_id) is None
    assert [found async for found in client.list_blobs()] == []


async def test_errors_cross_the_wire_as_reasons(node: RunningDataNode, client: DataNodeClient) -> None:
    await expect_reason(ErrorReason.BLOB_NOT_FOUND, read_all(client.get(new_blob_id())))
    await expect_reason(ErrorReason.INVALID_ARGUMENT, client.put("not-hex", "us-east-1", stream([b"x"])))
    await expect_reason(ErrorReason.INVALID_ARGUMENT, client.head("nope"))
    await expect_reason(ErrorReason.INVALID_ARGUMENT, client.put(new_blob_id(), "eu-west-1", stream([b"x"])))

    blob_id = new_blob_id()
    await client.put(blob_id, "us-east-1", stream([os.urandom(2 * CHUNK_SIZE)]))
    await expect_reason(ErrorReason.INVALID_ARGUMENT, read_all(client.get(blob_id, 3 * CHUNK_SIZE)))
    flip_byte(node.backend.blob_path(blob_id), CHUNK_SIZE + 1)
    await expect_reason(ErrorReason.BLOB_CORRUPT, read_all(client.get(blob_id)))


async def test_put_stream_must_start_with_a_header(client: DataNodeClient) -> None:
    put = client.open_put()
    with pytest.raises(StrataError) as raised:
        for message in encode_put_data(b"data before header"):
            await put.write(message)
        await put.finish(18)
    assert raised.value.reason == ErrorReason.INVALID_ARGUMENT


async def raw_put(address: str, messages: list[PutChunk]) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            await DataServiceStub(channel).Put(iter(messages))
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None


async def test_put_stream_without_its_end_message_stores_nothing(node: RunningDataNode) -> None:
    blob_id = new_blob_id()
    header = PutChunk(header=PutHeader(blob_id=blob_id, location="us-east-1"))
    data = PutChunk(data=b"half an object")
    await expect_reason(ErrorReason.INVALID_ARGUMENT, raw_put(node.address, [header, data]))
    wrong_size = PutChunk(end=PutEnd(size=99))
    await expect_reason(ErrorReason.INVALID_ARGUMENT, raw_put(node.address, [header, data, wrong_size]))
    assert await node.backend.head(blob_id) is None
    await raw_put(node.address, [header, data, PutChunk(end=PutEnd(size=14))])
    assert await node.backend.head(blob_id) == 14


async def test_cancelled_put_stream_leaves_no_blob(node: RunningDataNode, client: DataNodeClient) -> None:
    blob_id = new_blob_id()
    put = client.open_put()
    await put.write(encode_put_header(blob_id, "us-east-1"))
    for message in encode_put_data(os.urandom(CHUNK_SIZE)):
        await put.write(message)
    tmp_dir = Path(node.backend.root) / "tmp"
    await eventually(lambda: bool(files_in(tmp_dir)))  # the server has started writing
    put.cancel()
    await eventually(lambda: not files_in(tmp_dir))  # and discards the partial blob
    assert await client.head(blob_id) is None


async def test_a_delete_during_a_put_of_the_same_blob_wins_when_the_put_lands(
    node: RunningDataNode, client: DataNodeClient
) -> None:
    """The collector's Delete reaching a node before a slow Put of that blob there has landed (a
    paused node, a slow repair or heal copy) must not leave a copy behind that nothing names."""
    blob_id = new_blob_id()
    put = client.open_put()
    await put.write(encode_put_header(blob_id, "us-east-1"))
    for message in encode_put_data(os.urandom(CHUNK_SIZE)):
        await put.write(message)
    tmp_dir = Path(node.backend.root) / "tmp"
    await eventually(lambda: bool(files_in(tmp_dir)))  # the server is writing the blob
    await client.delete(blob_id)  # nothing stored yet: the delete finds nothing to remove
    await expect_reason(ErrorReason.BLOB_NOT_FOUND, put.finish(CHUNK_SIZE))
    assert await client.head(blob_id) is None
    assert [listed async for listed in client.list_blobs()] == []
    # The blob id is not barred for good: a later Put of it (a repair copy, say) is stored.
    await client.put(blob_id, "us-east-1", stream([b"again"]))
    assert await client.head(blob_id) == 5


async def test_health_names_the_node_and_its_location(client: DataNodeClient) -> None:
    health = await client.health()
    assert (health.ok, health.node_id, health.location) == (True, "dn-1", "us-east-1")


class _SpyBackend(MemoryBackend):
    """Records the request id a handler runs under, and fails on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.seen_request_ids: list[str] = []
        self.explode = False

    async def head(self, blob_id: str) -> int | None:
        self.seen_request_ids.append(request_id_var.get())
        if self.explode:
            raise RuntimeError("disk on fire")
        return await super().head(blob_id)


@pytest.mark.allow_server_errors(tracebacks=True)  # the backend fails on purpose; the servicer logs it
async def test_request_id_travels_and_unexpected_errors_become_internal() -> None:
    backend = _SpyBackend()
    server = await start_server(backend, "127.0.0.1:0", "spy", "loc")
    data_client = DataNodeClient(f"127.0.0.1:{bound_port(server)}")
    try:
        token = request_id_var.set("REQ123")
        try:
            assert await data_client.head(new_blob_id()) is None
            backend.explode = True
            await expect_reason(ErrorReason.INTERNAL, data_client.head(new_blob_id()))
        finally:
            request_id_var.reset(token)
        assert backend.seen_request_ids == ["REQ123", "REQ123"]
    finally:
        await data_client.close()
        await server.stop(grace=None)


async def test_unreachable_node_is_backend_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data_client = DataNodeClient(f"127.0.0.1:{port}")
    try:
        await expect_reason(ErrorReason.BACKEND_UNAVAILABLE, data_client.head(new_blob_id()))
        await expect_reason(ErrorReason.BACKEND_UNAVAILABLE, read_all(data_client.get(new_blob_id())))
        await expect_reason(
            ErrorReason.BACKEND_UNAVAILABLE, data_client.put(new_blob_id(), "", stream([b"x"]))
        )
    finally:
        await data_client.close()
