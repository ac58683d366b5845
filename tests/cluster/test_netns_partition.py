"""A cluster process in a network namespace of its own can be cut off for real, and comes back."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path

import pytest

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from strata.localcluster import CLUSTER_NAME, ClusterSpec
from strata.testing.cluster import LocalCluster
from strata.testing.faults import Faults, require_namespaces
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster


def reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, int(port))) == 0


async def registered_datanodes(etcd: str) -> set[str]:
    async with await EtcdClient.connect(etcd) as client:
        prefix = Keyspace(CLUSTER_NAME).nodes_prefix("datanode")
        return {Keyspace.last_segment(key) for key, _ in await client.get_prefix(prefix)}


def wait_for(condition: object, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} within {timeout_s:.0f}s"
        time.sleep(0.2)


def strata_namespaces() -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in listed.splitlines() if line.startswith("strata")]


@pytest.mark.timeout(240)
# While datanode-2 is cut off, a write that chose it may be refused with 503.
@pytest.mark.allow_server_errors(503)
def test_partitioned_datanode_is_cut_off_and_rejoins(tmp_path: Path) -> None:
    require_namespaces()
    before = strata_namespaces()
    spec = ClusterSpec(gateway_base_port=None, datanodes=2, namespaced=("datanode-2",))
    with LocalCluster(tmp_path / "cluster", spec) as cluster:
        inside = next(p for p in cluster.processes("datanode") if p.name == "datanode-2")
        outside = next(p for p in cluster.processes("datanode") if p.name == "datanode-1")
        assert inside.address.rpartition(":")[0] != outside.address.rpartition(":")[0]
        assert len(strata_namespaces()) == len(before) + 1
        s3 = s3_client(cluster.gateway_urls[0])
        s3.create_bucket(Bucket="cut")
        assert {"datanode-1", "datanode-2"} == asyncio.run(registered_datanodes(cluster.etcd))

        faults = Faults(cluster)
        with faults.partitioned("datanode-2"):
            assert not reachable(inside.address)
            assert reachable(outside.address)
            # It cannot keep its lease alive: etcd drops its registration, though the process runs on.
            wait_for(
                lambda: asyncio.run(registered_datanodes(cluster.etcd)) == {"datanode-1"},
                "the cut-off datanode's registration expired",
            )
        assert reachable(inside.address)
        wait_for(
            lambda: asyncio.run(registered_datanodes(cluster.etcd)) == {"datanode-1", "datanode-2"},
            "the datanode registered again once its link was back",
        )
        s3.put_object(Bucket="cut", Key="after", Body=b"x" * 100_000)
        assert s3.get_object(Bucket="cut", Key="after")["Body"].read() == b"x" * 100_000
    assert strata_namespaces() == before  # the namespaces and the bridge are gone with the cluster
