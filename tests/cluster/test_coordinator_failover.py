"""One coordinator is active, the other stands by; killing the active one hands the work over.

The standby takes the election key once the dead one's lease expires, and from then on it is the
one driving repair: a blob written while a datanode was down regains its third replica when the
datanode returns. The killed coordinator, restarted, stands by, and takes over again when the
active one is stopped gracefully.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from metanode.client import MetadataClient
from protos.metadata_pb2 import GetObjectRequest
from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster


def ready(cluster: LocalCluster, name: str) -> dict[str, object]:
    record = next(p for p in cluster.processes("coordinator") if p.name == name)
    with urllib.request.urlopen(f"http://{record.address}/ready", timeout=5) as response:
        assert response.status == 200
        return json.loads(response.read())  # type: ignore[no-any-return]


def elected(cluster: LocalCluster) -> str | None:
    async def read() -> str | None:
        etcd = await EtcdClient.connect(cluster.etcd)
        try:
            raw = await etcd.get(Keyspace("local").coordinator_leader)
        finally:
            await etcd.close()
        return str(json.loads(raw)["node_id"]) if raw is not None else None

    return asyncio.run(read())


def replicas(cluster: LocalCluster, bucket: str, key: str) -> list[list[str]]:
    async def read() -> list[list[str]]:
        client = MetadataClient(cluster.processes("metanode")[0].address)
        try:
            md = await client.get_object(GetObjectRequest(bucket=bucket, key=key))
        finally:
            await client.close()
        return [sorted(blob.replicas) for blob in md.blobs]

    return asyncio.run(read())


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.timeout(120)
def test_a_standby_coordinator_takes_over_when_the_active_one_is_killed(tmp_path: Path) -> None:
    spec = ClusterSpec(
        gateway_base_port=None,
        gateways=1,
        datanodes=3,
        coordinators=2,
        gc_interval_s=3600.0,
        repair_interval_s=0.5,
    )
    with LocalCluster(tmp_path / "c", spec) as cluster:
        names = ["coordinator-1", "coordinator-2"]
        wait_until(lambda: elected(cluster) in names, 20, "a coordinator to be elected")
        active = elected(cluster)
        standby = next(name for name in names if name != active)
        assert ready(cluster, str(active))["leading"] is True
        assert ready(cluster, standby)["leading"] is False

        cluster.kill(str(active), signal.SIGKILL)
        wait_until(lambda: elected(cluster) == standby, 30, f"{standby} to take over")
        wait_until(lambda: ready(cluster, standby)["leading"] is True, 10, f"{standby} to lead")

        # The new leader drives repair: a blob written with two replicas gets its third back.
        s3 = s3_client(cluster.gateway_urls[0])
        s3.create_bucket(Bucket="failover")
        cluster.stop_process("datanode-2")
        body = b"x" * 100_000
        s3.put_object(Bucket="failover", Key="k", Body=body)
        assert replicas(cluster, "failover", "k") == [["datanode-1", "datanode-3"]]
        cluster.start_process("datanode-2")
        wait_until(
            lambda: replicas(cluster, "failover", "k") == [["datanode-1", "datanode-2", "datanode-3"]],
            30,
            "the standby's repair rounds to restore the third replica",
        )
        assert s3.get_object(Bucket="failover", Key="k")["Body"].read() == body

        cluster.start_process(str(active))
        assert ready(cluster, str(active))["leading"] is False
        assert elected(cluster) == standby

        # A graceful stop resigns: the restarted coordinator takes over.
        cluster.stop_process(standby, signal.SIGTERM)
        wait_until(lambda: elected(cluster) == active, 30, f"{active} to take over again")
        log = next(p for p in cluster.processes("coordinator") if p.name == standby).log
        assert f"coordinator {standby} stopping" in Path(log).read_text()
