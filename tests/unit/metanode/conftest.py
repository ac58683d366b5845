"""Fixtures for the metadata node tests: both KV stores, and a core over each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from metanode.core import MetadataCore
from metanode.kv import KV, MemoryKV, RocksKV


@pytest.fixture(params=["memory", "rocksdb"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KV]:
    store: KV = MemoryKV() if request.param == "memory" else RocksKV(str(tmp_path / "rocks"))
    yield store
    store.close()


@pytest.fixture
async def core(kv: KV) -> AsyncIterator[MetadataCore]:
    metadata = MetadataCore(kv)
    yield metadata
    await metadata.writer.close()
