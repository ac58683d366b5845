"""What operators see and do by hand: ``strata cluster status`` figures and ``strata cluster kill``."""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from strata.localcluster import is_alive
from tests.cluster.test_cluster_cli import strata
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Iterator[Path]:
    up = strata("cluster", "up", "--datanodes", "1", "--gateways", "1", "--port-base", "0", cwd=tmp_path)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield tmp_path / ".strata-cluster"
    finally:
        strata("cluster", "down", cwd=tmp_path)


def status(cluster_dir: Path) -> dict[str, Any]:
    done = strata("cluster", "status", "--json", "--dir", str(cluster_dir), cwd=cluster_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def process(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in document["processes"] if p["name"] == name)


@pytest.mark.timeout(180)
def test_status_shows_datanode_capacity_and_the_bytes_stored(cluster_dir: Path) -> None:
    text = strata("cluster", "status", "--dir", str(cluster_dir), cwd=cluster_dir).stdout
    report = text.split("\n\n", 1)[1].splitlines()
    datanode = next(line for line in report if line.startswith("datanode-1"))
    assert " live  used " in datanode and " free of " in datanode, text
    assert report[-1].startswith("under-replicated: 0 objects"), text
    storage = status(cluster_dir)["datanodes"]["datanode-1"]["storage"]
    assert storage["capacity_bytes"] >= storage["available_bytes"] > 0

    gateway = process(status(cluster_dir), "gateway-1")["address"]
    s3 = s3_client(gateway)
    s3.create_bucket(Bucket="usage")
    s3.put_object(Bucket="usage", Key="big", Body=os.urandom(500_000))
    # The registration is refreshed every 10 s: wait, bounded, for the blob to show.
    deadline = time.monotonic() + 60
    while status(cluster_dir)["datanodes"]["datanode-1"]["storage"]["used_bytes"] < 500_000:
        assert time.monotonic() < deadline, "the datanode's used bytes never grew"
        time.sleep(0.5)


@pytest.mark.timeout(180)
def test_kill_stop_leaves_a_process_frozen_that_restart_and_down_still_stop(cluster_dir: Path) -> None:
    stopped = strata(
        "cluster", "kill", "datanode-1", "--signal", "STOP", "--dir", str(cluster_dir), cwd=cluster_dir
    )
    assert stopped.returncode == 0 and stopped.stdout.startswith("suspended datanode-1"), stopped.stderr
    document = status(cluster_dir)
    frozen = process(document, "datanode-1")
    assert frozen["state"] == "stopped" and is_alive(frozen["pid"])
    restarted = strata("cluster", "restart", "datanode-1", "--dir", str(cluster_dir), cwd=cluster_dir)
    assert restarted.stdout.startswith("stopped and restarted datanode-1"), (
        restarted.stdout + restarted.stderr
    )
    assert not is_alive(frozen["pid"]) and process(status(cluster_dir), "datanode-1")["state"] == "running"
    strata("cluster", "kill", "datanode-1", "--signal", "STOP", "--dir", str(cluster_dir), cwd=cluster_dir)
    frozen = process(status(cluster_dir), "datanode-1")
    assert frozen["state"] == "stopped"

    killed = strata("cluster", "kill", "gateway-1", "--dir", str(cluster_dir), cwd=cluster_dir)
    assert killed.returncode == 0 and killed.stdout.startswith("killed gateway-1"), killed.stderr
    assert process(status(cluster_dir), "gateway-1")["state"] == "dead"
    again = strata("cluster", "kill", "gateway-1", "--dir", str(cluster_dir), cwd=cluster_dir)
    assert again.returncode == 2 and "gateway-1 is not running" in again.stderr

    down = strata("cluster", "down", "--dir", str(cluster_dir), cwd=cluster_dir)
    assert down.returncode == 0 and "datanode-1" in down.stdout.splitlines()[0], down.stdout
    assert "1 already not running: gateway-1" in down.stdout
    assert not is_alive(frozen["pid"])


async def put_short_shard(etcd: str, shard: str) -> int:
    """A shard of 3 replicas with one in sync; returns its leader's term."""
    space = Keyspace("local")
    async with await EtcdClient.connect(etcd) as client:
        await client.put(
            space.shard_members(shard), json.dumps({"replicas": 3, "members": ["m1", "m2", "m3"]})
        )
        await client.put(space.shard_isr(shard), json.dumps({"term": 1, "members": ["m1"]}))
        return await client.put(
            space.shard_leader(shard), json.dumps({"node_id": "m1", "address": "127.0.0.1:1"})
        )


@pytest.mark.timeout(180)
def test_gateway_health_and_status_follow_the_shard_map_in_etcd(cluster_dir: Path) -> None:
    document = status(cluster_dir)
    term = asyncio.run(put_short_shard(process(document, "etcd")["address"], "s-test"))
    url = process(document, "gateway-1")["address"] + "/_/healthcheck"
    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            report = json.loads(response.read())
        if "s-test" in report["shards"]:
            break
        assert time.monotonic() < deadline, f"the gateway never saw the shard: {report}"
        time.sleep(0.1)
    assert report["status"] == "degraded"
    assert report["shards"]["s-test"]["message"] == "degraded: 1 of 3 replicas in sync"
    text = strata("cluster", "status", "--dir", str(cluster_dir), cwd=cluster_dir).stdout
    assert f"shard s-test: leader m1 term {term}, ISR m1 (1 of 3)" in text.splitlines(), text
