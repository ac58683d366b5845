"""Backends for the conformance suite (every backend must pass the same tests), and real gRPC datanodes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from datanode.backend import Backend
from datanode.disk import DiskBackend
from datanode.memory import MemoryBackend
from datanode.server import bound_port, start_server
from tests.unit.datanode.datanode_testing import RunningDataNode


@pytest.fixture(params=["disk", "memory"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    factories: dict[str, Callable[[], Backend]] = {
        "disk": lambda: DiskBackend(tmp_path / "data"),
        "memory": MemoryBackend,
    }
    instance = factories[request.param]()
    yield instance
    await instance.close()


@pytest.fixture
async def start_datanode(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[RunningDataNode]]]:
    """Starts real gRPC datanodes on 127.0.0.1 with free ports, each over its own DiskBackend."""
    running: list[RunningDataNode] = []

    async def start(
        node_id: str, location: str = "us-east-1", *, root: Path | None = None, reserve_bytes: int = 0
    ) -> RunningDataNode:
        backend = DiskBackend(root or tmp_path / node_id, reserve_bytes=reserve_bytes)
        server = await start_server(backend, "127.0.0.1:0", node_id, location)
        node = RunningDataNode(node_id, location, backend, server, f"127.0.0.1:{bound_port(server)}")
        running.append(node)
        return node

    yield start
    for node in running:
        await node.stop()
        await node.backend.close()
