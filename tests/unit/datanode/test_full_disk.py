"""A full disk (ENOSPC on a real tmpfs, or free space under the reserve) refuses writes with a reason,
leaves nothing behind, and makes the replicated client place blobs on the nodes that have room."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from datanode.backend import CHUNK_SIZE
from datanode.client import DataNodeClient, ReplicatedDataClient, StaticNodeDirectory
from datanode.disk import DiskBackend, free_bytes
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from tests.tmpfs import fill, mounted_tmpfs
from tests.unit.datanode.datanode_testing import (
    RunningDataNode,
    eventually,
    files_in,
    new_blob_id,
    pieces_of,
    read_all,
    stream,
)

StartDataNode = Callable[..., Awaitable[RunningDataNode]]
LOCATION = "us-east-1"


async def test_a_put_that_fills_the_disk_fails_and_removes_its_temporary_file(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "small", "4m") as root:
        backend = DiskBackend(root)
        try:
            too_big = os.urandom(6 * CHUNK_SIZE)
            with pytest.raises(StrataError) as refused:
                await backend.put(new_blob_id(), stream(pieces_of(too_big, CHUNK_SIZE)))
            assert refused.value.reason == ErrorReason.INSUFFICIENT_STORAGE
            await eventually(lambda: files_in(root / "tmp") == [])
            assert [blob async for blob in backend.list_blobs()] == []
            # The space came back: a blob that fits is stored.
            blob_id, data = new_blob_id(), os.urandom(CHUNK_SIZE)
            await backend.put(blob_id, stream([data]))
            assert await read_all(backend.get(blob_id)) == data
        finally:
            await backend.close()


async def test_free_space_under_the_reserve_refuses_the_put(tmp_path: Path) -> None:
    backend = DiskBackend(tmp_path / "data", reserve_bytes=free_bytes(str(tmp_path)) + 2**40)
    try:
        with pytest.raises(StrataError) as refused:
            await backend.put(new_blob_id(), stream([b"x"]))
        assert refused.value.reason == ErrorReason.INSUFFICIENT_STORAGE
        assert files_in(tmp_path / "data" / "tmp") == []
    finally:
        await backend.close()


async def test_a_full_replica_is_passed_over_while_a_write_quorum_has_room(
    start_datanode: StartDataNode, tmp_path: Path
) -> None:
    with mounted_tmpfs(tmp_path / "full", "4m") as full_root:
        fill(full_root)
        nodes = [
            await start_datanode("dn-full", root=full_root / "blobs"),
            await start_datanode("dn-b"),
            await start_datanode("dn-c"),
        ]
        client = ReplicatedDataClient(StaticNodeDirectory(node.info for node in nodes), replication_factor=3)
        try:
            data = os.urandom(2 * CHUNK_SIZE + 10)
            planned = client.plan(LOCATION)
            assert sorted(planned.replicas) == ["dn-b", "dn-c", "dn-full"]
            blob = await client.put(planned, stream(pieces_of(data, CHUNK_SIZE)))
            # Stored on the two with room; short of one replica, so its commit queues it for repair.
            assert sorted(blob.replicas) == ["dn-b", "dn-c"] and blob.replicas_wanted == 3
            assert await read_all(client.get(blob)) == data
            await eventually(lambda: files_in(full_root / "blobs" / "tmp") == [])
            assert await nodes[0].backend.head(blob.blob_id) is None
            # The next writes are placed on the nodes with room, without trying the full one first.
            assert sorted(client.plan(LOCATION).replicas) == ["dn-b", "dn-c"]
        finally:
            await client.close()


async def test_a_write_no_quorum_has_room_for_fails_and_leaves_nothing(start_datanode: StartDataNode) -> None:
    huge = 2**50
    nodes = [
        await start_datanode("dn-a", reserve_bytes=huge),
        await start_datanode("dn-b", reserve_bytes=huge),
        await start_datanode("dn-c"),
    ]
    client = ReplicatedDataClient(StaticNodeDirectory(node.info for node in nodes), replication_factor=3)
    try:
        planned = client.plan(LOCATION)
        with pytest.raises(StrataError) as refused:
            await client.put(planned, stream(pieces_of(os.urandom(3 * CHUNK_SIZE), CHUNK_SIZE)))
        assert refused.value.reason == ErrorReason.INSUFFICIENT_STORAGE
        for node in nodes:
            assert await node.backend.head(planned.blob_id) is None
            await eventually(lambda node=node: files_in(Path(node.backend.root) / "tmp") == [])
        # With both full nodes remembered, no write can reach a quorum: refused before any byte moves.
        with pytest.raises(StrataError) as planning:
            client.plan(LOCATION)
        assert planning.value.reason == ErrorReason.INSUFFICIENT_STORAGE
    finally:
        await client.close()


async def test_the_datanode_answers_a_full_disk_with_its_reason(start_datanode: StartDataNode) -> None:
    node = await start_datanode("dn-a", reserve_bytes=2**50)
    client = DataNodeClient(node.address)
    try:
        with pytest.raises(StrataError) as refused:
            await client.put(new_blob_id(), LOCATION, stream([b"x" * 100]))
        assert refused.value.reason == ErrorReason.INSUFFICIENT_STORAGE
    finally:
        await client.close()


async def test_repair_copies_go_to_the_next_node_when_a_target_is_full(start_datanode: StartDataNode) -> None:
    holder = await start_datanode("dn-a")
    nodes = [holder, await start_datanode("dn-full", reserve_bytes=2**50), await start_datanode("dn-c")]
    client = ReplicatedDataClient(StaticNodeDirectory(node.info for node in nodes), replication_factor=3)
    try:
        data = os.urandom(CHUNK_SIZE + 1)
        planned = client.plan(LOCATION)
        del planned.replicas[:]
        planned.replicas.append("dn-a")  # as if only dn-a had been live at write time
        blob = await client.put(planned, stream(pieces_of(data, CHUNK_SIZE)))
        protected: list[str] = []

        async def before_copy(node_id: str) -> None:
            protected.append(node_id)

        assert await client.replicate(blob, before_copy=before_copy) == ["dn-c"]
        assert await read_all(nodes[2].backend.get(blob.blob_id)) == data
        assert sorted(protected) == ["dn-c", "dn-full"]  # two copies were missing: both were tried
        # Once it said it is full, the next pass does not even try it.
        protected.clear()
        blob.replicas.append("dn-c")
        assert await client.replicate(blob, before_copy=before_copy) == []
        assert protected == []
    finally:
        await client.close()
