"""``strata cluster up --etcd 3``: three etcd members, and the cluster outlives the loss of one."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from strata.localcluster import CLUSTER_NAME
from strata.testing.cluster import LocalCluster
from strata.testing.faults import Faults, etcd_leader_name
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster

CLI = [sys.executable, "-m", "strata.cli"]
REGISTRATION_LEASE_S = 5  # coordinator.registry.DEFAULT_TTL_S: a lease not kept alive is gone after this


def strata(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=180)


def put_and_get(urls: list[str], key: str) -> str | None:
    """None when a PUT through one gateway and a GET through the other both succeed; else the error."""
    body = key.encode() * 100
    try:
        s3_client(urls[0], connect_timeout=3, read_timeout=10).put_object(Bucket="etcd3", Key=key, Body=body)
        read = s3_client(urls[-1], connect_timeout=3, read_timeout=10).get_object(Bucket="etcd3", Key=key)
        return None if read["Body"].read() == body else f"{key}: wrong body"
    except (ClientError, BotoCoreError) as error:
        return f"{key}: {error}"


async def registered_names(endpoints: str, kind: str) -> set[str]:
    return {Keyspace.last_segment(key) for key in await registered(endpoints, kind)}


async def registered(endpoints: str, kind: str) -> list[str]:
    async with await EtcdClient.connect(endpoints) as client:
        return [key for key, _ in await client.get_prefix(Keyspace(CLUSTER_NAME).nodes_prefix(kind))]


@pytest.mark.timeout(300)
# Requests caught in flight while etcd elects a new leader may be refused with 503 (never 500).
@pytest.mark.allow_server_errors(503)
def test_three_member_etcd_survives_killing_its_leader(tmp_path: Path) -> None:
    up = strata("cluster", "up", "--etcd", "3", "--datanodes", "2", "--port-base", "0", cwd=tmp_path)
    assert up.returncode == 0, up.stdout + up.stderr
    cluster = LocalCluster(tmp_path / ".strata-cluster")
    try:
        cluster.state = cluster.launcher.state()
        assert cluster.state is not None
        members = cluster.processes("etcd")
        assert [member.name for member in members] == ["etcd-1", "etcd-2", "etcd-3"]
        endpoints = cluster.etcd.split(",")
        assert sorted(endpoints) == sorted(member.address for member in members)
        # Every role is given all three endpoints.
        for record in cluster.processes():
            if record.role != "etcd":
                assert record.argv[record.argv.index("--etcd") + 1] == cluster.etcd, record.name
        cluster._watch_logs()

        urls = cluster.gateway_urls
        s3_client(urls[0]).create_bucket(Bucket="etcd3")
        assert put_and_get(urls, "before") is None

        victim = etcd_leader_name(cluster)
        assert victim is not None
        faults = Faults(cluster)
        faults.kill(victim)
        survivors = ",".join(m.address for m in members if m.name != victim)

        # The survivors elect a leader and the clients move to them: PUT/GET work again, bounded.
        deadline = time.monotonic() + 30
        index = 0
        while (error := put_and_get(urls, f"recovering-{index}")) is not None:
            assert time.monotonic() < deadline, (
                f"no PUT/GET succeeded within 30 s of killing {victim}: {error}"
            )
            index += 1
        while etcd_leader_name(cluster) in (None, victim):
            assert time.monotonic() < deadline, "the surviving etcd members elected no leader"
            time.sleep(0.1)
        # Then they keep working past the registrations' lease: the keepalives moved to a survivor.
        keep_until = time.monotonic() + 2 * REGISTRATION_LEASE_S + 1
        failures = []
        while time.monotonic() < keep_until:
            index += 1
            error = put_and_get(urls, f"after-{index}")
            if error is not None:
                failures.append(error)
        assert not failures, failures
        for kind, count in (("gateway", 2), ("datanode", 2), ("metanode", 3)):
            assert len(asyncio.run(registered(survivors, kind))) == count, kind

        # The killed member rejoins and catches up.
        faults.start(victim)
        revived = next(m.address for m in cluster.processes("etcd") if m.name == victim)
        assert put_and_get(urls, "after-rejoin") is None
        assert len(asyncio.run(registered(revived, "gateway"))) == 2

        # etcd's leader hangs (SIGSTOP: its connections stay open, nothing answers) past the lease:
        # calls and watches caught on it must give up and move on in time to keep every registration
        # alive, and the shard elects its leader through the others.
        hung_name = etcd_leader_name(cluster)
        assert hung_name is not None
        hung = next(m for m in cluster.processes("etcd") if m.name == hung_name)
        others = ",".join(m.address for m in cluster.processes("etcd") if m.name != hung.name)
        with faults.paused(hung.name):
            watch_until = time.monotonic() + 2 * REGISTRATION_LEASE_S + 1
            while time.monotonic() < watch_until:
                assert asyncio.run(registered_names(others, "datanode")) == {"datanode-1", "datanode-2"}
                time.sleep(0.2)
            # Writes are served while it hangs. If it was etcd's leader, etcd itself paused until the
            # others elected one, which can outlast a shard leader's 2 s lease: allow one failover.
            deadline = time.monotonic() + 15
            while (error := put_and_get(urls, f"while-{hung.name}-hangs-{index}")) is not None:
                assert time.monotonic() < deadline, error
                index += 1
                time.sleep(0.2)
    finally:
        down = strata("cluster", "down", cwd=tmp_path)
        assert down.returncode == 0, down.stdout + down.stderr
