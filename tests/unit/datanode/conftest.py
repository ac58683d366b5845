"""Backends for the conformance suite: every backend must pass the same tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from datanode.backend import Backend
from datanode.disk import DiskBackend
from datanode.memory import MemoryBackend


@pytest.fixture(params=["disk", "memory"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    factories: dict[str, Callable[[], Backend]] = {
        "disk": lambda: DiskBackend(tmp_path / "data"),
        "memory": MemoryBackend,
    }
    instance = factories[request.param]()
    yield instance
    await instance.close()
