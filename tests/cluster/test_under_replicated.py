"""Writes while a datanode is down are repaired when it returns, and the healthcheck tells the truth.

Two datanodes (replication factor 2): stop one, write, start it again, repair (the
``strata admin repair`` command, or the metanode's periodic pass), then lose the other
node: every object must still read back. With every replica down a GET is a 503.
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


def write_while_datanode_2_is_down(cluster: LocalCluster, bucket: str) -> None:
    s3 = s3_client(cluster.gateway_urls[0])
    s3.create_bucket(Bucket=bucket)
    cluster.stop_process("datanode-2")
    report = wait_for_health(cluster, lambda r: location(r)["unreachable"] == ["datanode-2"])
    assert report["status"] == "degraded" and location(report)["datanodes"] == 2
    s3.put_object(Bucket=bucket, Key="plain", Body=BODY)
    # A multipart object: its parts are blobs too (queued as parts, then as the completed object).
    s3.upload_fileobj(
        io.BytesIO(BIG),
        bucket,
        "multipart",
        Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024),
    )
    assert replicas_of(cluster, bucket, "plain") == [(["datanode-1"], 2)]
    assert all(replicas == ["datanode-1"] for replicas, _ in replicas_of(cluster, bucket, "multipart"))
    report = health(cluster)
    assert report["status"] == "degraded" and location(report)["under_replicated"] >= 2


def lose_datanode_1_and_read_everything(cluster: LocalCluster, bucket: str) -> None:
    assert replicas_of(cluster, bucket, "plain") == [(["datanode-1", "datanode-2"], 2)]
    assert all(
        replicas == ["datanode-1", "datanode-2"] for replicas, _ in replicas_of(cluster, bucket, "multipart")
    )
    cluster.stop_process("datanode-1", signal.SIGKILL)
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
    spec = ClusterSpec(gateway_base_port=None, gateways=1, gc_interval_s=3600.0, repair_interval_s=3600.0)
    with LocalCluster(tmp_path / "c", spec) as cluster:
        write_while_datanode_2_is_down(cluster, "degraded")
        # With no node to copy to, the command says so and fails.
        refused = admin_repair(cluster)
        assert refused.returncode == 3, refused.stderr
        assert refused.stdout.startswith("0 blobs repaired")
        cluster.start_process("datanode-2")
        report = wait_for_health(cluster, lambda r: location(r)["unreachable"] == [])
        # Back, but nothing has copied the blobs yet.
        assert report["status"] == "degraded" and location(report)["under_replicated"] >= 2
        repaired = admin_repair(cluster)
        assert repaired.returncode == 0, repaired.stderr
        assert "0 objects still under-replicated" in repaired.stdout
        report = health(cluster)
        assert report["status"] == "ok" and location(report)["under_replicated"] == 0, report
        lose_datanode_1_and_read_everything(cluster, "degraded")

        # Every replica down: an honest 503, not a 500 or a "slow down".
        cluster.stop_process("datanode-2", signal.SIGKILL)
        s3 = s3_client(cluster.gateway_urls[0])
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket="degraded", Key="plain")
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert error["Error"]["Code"] == "ServiceUnavailable"
        assert "datanodes that cannot be reached" in error["Error"]["Message"]
        assert error["ResponseMetadata"]["RequestId"]
        report = wait_for_health(cluster, lambda r: len(location(r)["unreachable"]) == 2)
        assert report["status"] == "degraded" and location(report)["code"] == 503


@pytest.mark.timeout(180)
@pytest.mark.allow_server_errors(503)
def test_periodic_repair_pass_restores_the_replication_factor(tmp_path: Path) -> None:
    spec = ClusterSpec(gateway_base_port=None, gateways=1, gc_interval_s=3600.0, repair_interval_s=0.5)
    with LocalCluster(tmp_path / "c", spec) as cluster:
        write_while_datanode_2_is_down(cluster, "periodic")
        cluster.start_process("datanode-2")
        wait_for_health(cluster, lambda r: r["status"] == "ok")
        lose_datanode_1_and_read_everything(cluster, "periodic")
