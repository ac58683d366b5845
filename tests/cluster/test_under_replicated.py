"""Writes while a datanode is down are repaired when it returns, and the healthcheck tells the truth.

Three datanodes (replication factor 3, write quorum 2): stop one, write (two copies),
start it again, repair (the ``strata admin repair`` command, or the coordinator's periodic
round), then lose the two that took the write: every object must still read back from the
repaired copy. With every replica down a GET is a 503; with only one datanode of two left,
a write is refused rather than acknowledged with a single copy.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from metanode.client import MetadataClient
from protos.metadata_pb2 import GetObjectRequest
from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster

BODY = os.urandom(300_000)
BIG = os.urandom(6 * 1024 * 1024)


def health(cluster: LocalCluster) -> dict[str, Any]:
    with urllib.request.urlopen(cluster.gateway_urls[0] + "/_/healthcheck", timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())  # type: ignore[no-any-return]


def wait_for_health(
    cluster: LocalCluster, condition: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        report = health(cluster)
        if condition(report):
            return report
        assert time.monotonic() < deadline, f"healthcheck never reached the condition: {report}"
        time.sleep(0.2)


def location(report: dict[str, Any]) -> dict[str, Any]:
    return report["locations"]["us-east-1"]  # type: ignore[no-any-return]


def replicas_of(cluster: LocalCluster, bucket: str, key: str) -> list[tuple[list[str], int]]:
    async def read() -> list[tuple[list[str], int]]:
        client = MetadataClient(cluster.processes("metanode")[0].address)
        try:
            md = await client.get_object(GetObjectRequest(bucket=bucket, key=key))
        finally:
            await client.close()
        return [(sorted(blob.replicas), blob.replicas_wanted) for blob in md.blobs]

    return asyncio.run(read())


SURVIVORS = ["datanode-1", "datanode-3"]
EVERY_NODE = ["datanode-1", "datanode-2", "datanode-3"]
SPEC = {"gateway_base_port": None, "gateways": 1, "datanodes": 3, "gc_interval_s": 3600.0}


def write_while_datanode_2_is_down(cluster: LocalCluster, bucket: str) -> None:
    s3 = s3_client(cluster.gateway_urls[0])
    s3.create_bucket(Bucket=bucket)
    cluster.stop_process("datanode-2")
    report = wait_for_health(cluster, lambda r: location(r)["unreachable"] == ["datanode-2"])
    assert report["status"] == "degraded" and location(report)["datanodes"] == 3
    s3.put_object(Bucket=bucket, Key="plain", Body=BODY)
    # A multipart object: its parts are blobs too (queued as parts, then as the completed object).
    s3.upload_fileobj(
        io.BytesIO(BIG),
        bucket,
        "multipart",
        Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024),
    )
    assert replicas_of(cluster, bucket, "plain") == [(SURVIVORS, 3)]
    assert all(replicas == SURVIVORS for replicas, _ in replicas_of(cluster, bucket, "multipart"))
    report = health(cluster)
    assert report["status"] == "degraded" and location(report)["under_replicated"] >= 2


def lose_the_first_copies_and_read_everything(cluster: LocalCluster, bucket: str) -> None:
    assert replicas_of(cluster, bucket, "plain") == [(EVERY_NODE, 3)]
    assert all(replicas == EVERY_NODE for replicas, _ in replicas_of(cluster, bucket, "multipart"))
    for name in SURVIVORS:
        cluster.stop_process(name, signal.SIGKILL)
    s3 = s3_client(cluster.gateway_urls[0])
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == BODY
    assert s3.get_object(Bucket=bucket, Key="multipart")["Body"].read() == BIG


def admin_repair(cluster: LocalCluster) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strata.cli", "admin", "repair", "--etcd", cluster.etcd, "--cluster", "local"],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.timeout(180)
@pytest.mark.allow_server_errors(503)
def test_admin_repair_copies_blobs_written_while_a_datanode_was_down(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "c", ClusterSpec(**SPEC, repair_interval_s=3600.0)) as cluster:
        write_while_datanode_2_is_down(cluster, "degraded")
        # With no node to copy to, the command says so and fails.
        refused = admin_repair(cluster)
        assert refused.returncode == 3, refused.stderr
        # datanode-2 is down, but it holds none of these blobs: there is nothing to move off it.
        assert "re-replicating the blobs of datanodes that are down: datanode-2" in refused.stdout
        assert " 0 copied, 0 repaired" in refused.stdout
        cluster.start_process("datanode-2")
        report = wait_for_health(cluster, lambda r: location(r)["unreachable"] == [])
        # Back, but nothing has copied the blobs yet.
        assert report["status"] == "degraded" and location(report)["under_replicated"] >= 2
        repaired = admin_repair(cluster)
        assert repaired.returncode == 0, repaired.stderr
        assert "0 objects still under-replicated" in repaired.stdout
        report = health(cluster)
        assert report["status"] == "ok" and location(report)["under_replicated"] == 0, report
        lose_the_first_copies_and_read_everything(cluster, "degraded")
        s3 = s3_client(cluster.gateway_urls[0])
        # One datanode of three: no majority can take a new write, so none is acknowledged.
        wait_for_health(cluster, lambda r: sorted(location(r)["unreachable"]) == SURVIVORS)
        with pytest.raises(ClientError) as refused_write:
            s3.put_object(Bucket="degraded", Key="single-copy", Body=BODY)
        assert refused_write.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503

        # Every replica down: an honest 503, not a 500 or a "slow down".
        cluster.stop_process("datanode-2", signal.SIGKILL)
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket="degraded", Key="plain")
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert error["Error"]["Code"] == "ServiceUnavailable"
        assert "datanodes that cannot be reached" in error["Error"]["Message"]
        assert error["ResponseMetadata"]["RequestId"]
        report = wait_for_health(cluster, lambda r: len(location(r)["unreachable"]) == 3)
        assert report["status"] == "degraded" and location(report)["code"] == 503


@pytest.mark.timeout(180)
@pytest.mark.allow_server_errors(503)
def test_periodic_repair_pass_restores_the_replication_factor(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "c", ClusterSpec(**SPEC, repair_interval_s=0.5)) as cluster:
        write_while_datanode_2_is_down(cluster, "periodic")
        cluster.start_process("datanode-2")
        wait_for_health(cluster, lambda r: r["status"] == "ok")
        lose_the_first_copies_and_read_everything(cluster, "periodic")
