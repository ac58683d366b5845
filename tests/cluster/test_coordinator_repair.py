"""The elected coordinator re-replicates the blobs of a datanode gone past the grace period.

Four datanodes, replication factor 3: a datanode is killed for good and its directory deleted.
Once it has been down for the grace period (2 s here), the coordinator's next round has the
shard leader copy each of its blobs to the live node that lacks it and record the move, so every
blob is back to three replicas, none on the dead node, and every object reads back whole.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from datanode.client import DataNodeClient
from metanode.client import MetadataClient
from protos.common_pb2 import BlobRef
from protos.metadata_pb2 import GetObjectRequest
from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster

BUCKET = "durable"
# Above the gateway's inline threshold (64 KiB), so each object has a blob on the datanodes.
BODIES = {f"object-{index}": os.urandom(100_000 + index) for index in range(6)}
BIG = os.urandom(6 * 1024 * 1024)
FIVE_MIB = 5 * 1024 * 1024


def blob_refs(cluster: LocalCluster, keys: list[str]) -> dict[str, list[BlobRef]]:
    async def read() -> dict[str, list[BlobRef]]:
        client = MetadataClient(cluster.processes("metanode")[0].address)
        try:
            return {
                key: list((await client.get_object(GetObjectRequest(bucket=BUCKET, key=key))).blobs)
                for key in keys
            }
        finally:
            await client.close()

    return asyncio.run(read())


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def stored_on(cluster: LocalCluster, node: str, blob_id: str) -> bool:
    async def head() -> bool:
        record = next(p for p in cluster.processes("datanode") if p.name == node)
        client = DataNodeClient(record.address)
        try:
            return await client.head(blob_id) is not None
        finally:
            await client.close()

    return asyncio.run(head())


def down_record(cluster: LocalCluster, node: str) -> dict[str, object] | None:
    async def read() -> dict[str, object] | None:
        etcd = await EtcdClient.connect(cluster.etcd)
        try:
            raw = await etcd.get(Keyspace("local").coordinator_down(node))
        finally:
            await etcd.close()
        return json.loads(raw) if raw is not None else None

    return asyncio.run(read())


@pytest.mark.timeout(120)
def test_blobs_of_a_datanode_gone_past_the_grace_period_are_re_replicated(tmp_path: Path) -> None:
    spec = ClusterSpec(
        gateway_base_port=None,
        gateways=1,
        datanodes=4,
        gc_interval_s=3600.0,
        repair_interval_s=0.5,
        repair_grace_s=2.0,
    )
    with LocalCluster(tmp_path / "c", spec) as cluster:
        s3 = s3_client(cluster.gateway_urls[0])
        s3.create_bucket(Bucket=BUCKET)
        for key, body in BODIES.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        s3.upload_fileobj(
            io.BytesIO(BIG),
            BUCKET,
            "multipart",
            Config=TransferConfig(multipart_threshold=FIVE_MIB, multipart_chunksize=FIVE_MIB),
        )
        keys = [*BODIES, "multipart"]
        before = blob_refs(cluster, keys)
        assert all(blobs for blobs in before.values())
        assert all(len(blob.replicas) == 3 for blobs in before.values() for blob in blobs)
        # The datanode holding the most blobs dies for good, its data with it.
        counts: dict[str, int] = {}
        for blobs in before.values():
            for blob in blobs:
                for node in blob.replicas:
                    counts[node] = counts.get(node, 0) + 1
        victim = max(sorted(counts), key=lambda node: counts[node])
        assert counts[victim] >= 6  # 8 blobs x 3 replicas over 4 datanodes
        cluster.stop_process(victim, signal.SIGKILL)
        shutil.rmtree(tmp_path / "c" / victim)

        def moved() -> bool:
            refs = blob_refs(cluster, keys)
            return all(
                len(blob.replicas) == 3 and victim not in blob.replicas
                for blobs in refs.values()
                for blob in blobs
            )

        wait_until(moved, 60, f"every blob to have 3 replicas off {victim}")
        after = blob_refs(cluster, keys)
        for blobs in after.values():
            for blob in blobs:
                assert len(set(blob.replicas)) == 3
                assert all(stored_on(cluster, node, blob.blob_id) for node in blob.replicas)
        for key, body in BODIES.items():
            assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body
        assert s3.get_object(Bucket=BUCKET, Key="multipart")["Body"].read() == BIG
        # Nothing is left on the dead node: later rounds stop scanning for it.
        wait_until(
            lambda: (down_record(cluster, victim) or {}).get("evacuated") is True, 30, "evacuated mark"
        )
