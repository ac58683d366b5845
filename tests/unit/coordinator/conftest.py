"""A real etcd per test module, and a connected client plus a fresh cluster name per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from coordinator.etcd import EtcdClient
from strata.testing.etcd import EtcdProcess


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess() as process:
        yield process


@pytest.fixture
async def client(etcd: EtcdProcess) -> AsyncIterator[EtcdClient]:
    etcd_client = await EtcdClient.connect(etcd.endpoint)
    try:
        yield etcd_client
    finally:
        await etcd_client.close()


@pytest.fixture
def cluster() -> str:
    """A cluster name no other test uses, so tests sharing one etcd never see each other's keys."""
    return f"test-{uuid.uuid4().hex[:12]}"
