"""``strata admin repair`` moves the blobs of a datanode that is down now; ``strata admin gc`` collects.

The coordinator here waits an hour before writing a datanode off, so what moves is the
command's doing: it finds the cluster from ``--dir``, names the down datanode as lost (grace 0),
shows a progress bar on stderr and prints its counts.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
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

BUCKET = "admin"
BODIES = {f"object-{index}": os.urandom(100_000 + index) for index in range(5)}


def replicas(cluster: LocalCluster) -> dict[str, list[str]]:
    async def read() -> dict[str, list[str]]:
        client = MetadataClient(cluster.processes("metanode")[0].address)
        try:
            found = {}
            for key in BODIES:
                md = await client.get_object(GetObjectRequest(bucket=BUCKET, key=key))
                (blob,) = md.blobs
                found[key] = sorted(blob.replicas)
            return found
        finally:
            await client.close()

    return asyncio.run(read())


def wait_until_not_live(cluster: LocalCluster, node: str) -> None:
    async def live() -> bool:
        etcd = await EtcdClient.connect(cluster.etcd)
        try:
            return await etcd.get(Keyspace("local").node("datanode", node)) is not None
        finally:
            await etcd.close()

    deadline = time.monotonic() + 30
    while asyncio.run(live()):
        assert time.monotonic() < deadline, f"{node} still registered"
        time.sleep(0.2)


def admin(workdir: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "STRATA_ETCD"}
    return subprocess.run(
        [sys.executable, "-m", "strata.cli", "admin", *command, "--dir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=workdir.parent,
    )


@pytest.mark.timeout(120)
def test_admin_repair_moves_blobs_off_a_down_datanode_and_gc_collects(tmp_path: Path) -> None:
    spec = ClusterSpec(
        gateway_base_port=None,
        gateways=1,
        datanodes=4,
        gc_interval_s=3600.0,
        repair_interval_s=3600.0,
        repair_grace_s=3600.0,
    )
    workdir = tmp_path / "c"
    with LocalCluster(workdir, spec) as cluster:
        s3 = s3_client(cluster.gateway_urls[0])
        s3.create_bucket(Bucket=BUCKET)
        for key, body in BODIES.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        before = replicas(cluster)
        holders = [node for nodes in before.values() for node in nodes]
        victim = max(sorted(set(holders)), key=holders.count)
        on_victim = holders.count(victim)
        cluster.stop_process(victim, signal.SIGKILL)
        wait_until_not_live(cluster, victim)

        repaired = admin(workdir, "repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        lines = repaired.stdout.splitlines()
        assert lines[0] == f"re-replicating the blobs of datanodes that are down: {victim}"
        assert lines[-1] == (
            f"{on_victim} blobs checked, {on_victim} copied, {on_victim} repaired, 0 remaining; "
            "0 objects still under-replicated"
        )
        bar = f"shard s1 [{'#' * 24}] {on_victim}/{on_victim} blobs checked, {on_victim} copied, 0 remaining"
        assert bar in repaired.stderr.splitlines()
        after = replicas(cluster)
        assert all(len(nodes) == 3 and victim not in nodes for nodes in after.values()), after
        for key, body in BODIES.items():
            assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body

        # Nothing is short any more: a second pass checks nothing.
        again = admin(workdir, "repair")
        assert again.returncode == 0 and again.stdout.splitlines()[-1].startswith("0 blobs checked, 0 copied")

        for key in list(BODIES)[:2]:
            s3.delete_object(Bucket=BUCKET, Key=key)
        collected = admin(workdir, "gc")
        assert collected.returncode == 0, collected.stdout + collected.stderr
        assert (
            collected.stdout.splitlines()[-1] == "2 blobs deleted, 0 intents expired; 0 entries still queued"
        )
        assert re.search(r"^shard s1 \[#+\] 2/2 entries done, 2 blobs deleted$", collected.stderr, re.M)
