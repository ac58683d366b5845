"""Shards of real replicas in one process: RocksDB each, real gRPC servers, a real etcd."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from coordinator.etcd import EtcdClient
from strata.testing.etcd import EtcdProcess
from tests.unit.metanode.replication.harness import Shard


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess() as process:
        yield process


@pytest.fixture
async def etcd_client(etcd: EtcdProcess) -> AsyncIterator[EtcdClient]:
    client = await EtcdClient.connect(etcd.endpoint)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def shard(etcd_client: EtcdClient, tmp_path: Path) -> AsyncIterator[Shard]:
    replicas = Shard(etcd_client, f"test-{uuid.uuid4().hex[:12]}", tmp_path, replicas=3)
    try:
        await replicas.start_all()
        await asyncio.wait_for(replicas.wait_for_leader(), 20)
        yield replicas
    finally:
        await replicas.stop_all()
