"""Bitrot on a real cluster: bytes flipped in a blob file under one datanode's data directory.

Reads are still right (served by another replica, resumed after the bytes already sent), the
rotten replica is quarantined, and ``strata admin scrub`` heals it so the file verifies again.
A blob rotten on every replica cuts a GET short instead of sending wrong bytes, and the scrub
reports it as unrecoverable.
"""

from __future__ import annotations

import asyncio
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import crc32c
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from datanode.client import DataNodeClient
from protos.common_pb2 import BlobRef
from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.cluster.blobs import blob_file, blob_of
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster

MIB = 1024 * 1024
BUCKET = "rot"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    spec = ClusterSpec(gateway_base_port=None, gateways=1, datanodes=3, gc_interval_s=3600.0)
    with LocalCluster(tmp_path_factory.mktemp("scrub"), spec) as running:
        s3_client(running.gateway_urls[0]).create_bucket(Bucket=BUCKET)
        yield running


def flip_bytes(path: Path, position: int, count: int = 4) -> None:
    with open(path, "r+b") as rotten:
        rotten.seek(position)
        original = rotten.read(count)
        rotten.seek(position)
        rotten.write(bytes(byte ^ 0xFF for byte in original))


def verifies(path: Path, body: bytes) -> bool:
    """The file holds ``body`` and a CRC32C per 1 MiB chunk that matches it (the disk format)."""
    raw = path.read_bytes()
    chunks = [body[start : start + MIB] for start in range(0, len(body), MIB)]
    table = raw[len(body) : len(body) + 4 * len(chunks)]
    return raw[: len(body)] == body and list(struct.unpack(f"<{len(chunks)}I", table)) == [
        crc32c.crc32c(chunk) for chunk in chunks
    ]


def put(cluster: LocalCluster, key: str, size: int) -> tuple[bytes, BlobRef]:
    body = os.urandom(size)
    s3_client(cluster.gateway_urls[0]).put_object(Bucket=BUCKET, Key=key, Body=body)
    blob = blob_of(cluster, BUCKET, key)
    assert len(blob.replicas) == 3
    return body, blob


def admin_scrub(cluster: LocalCluster) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strata.cli", "admin", "scrub", "--etcd", cluster.etcd, "--rate", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def unhealed_on(cluster: LocalCluster, node_id: str) -> list[str]:
    async def ask() -> list[str]:
        address = next(p.address for p in cluster.processes("datanode") if p.name == node_id)
        client = DataNodeClient(address)
        try:
            return [
                blob_id
                async for message in client.scrub(0, unhealed_only=True)
                for blob_id in message.corrupt_blob_ids
            ]
        finally:
            await client.close()

    return asyncio.run(ask())


@pytest.mark.timeout(60)
def test_a_rotten_replica_is_read_around_and_healed_by_admin_scrub(cluster: LocalCluster) -> None:
    s3 = s3_client(cluster.gateway_urls[0])
    # Rotten in its second chunk on the replica read first: one chunk is sent before the rot is met.
    midway_body, midway = put(cluster, "midway", 3 * MIB + 5)
    flip_bytes(blob_file(cluster, midway.replicas[0], midway.blob_id), MIB + 100)
    # Rotten in its first chunk: nothing is sent before the next replica takes over.
    early_body, early = put(cluster, "early", 200_000)
    flip_bytes(blob_file(cluster, early.replicas[0], early.blob_id), 10)
    # Rotten on a replica no read touches: only the scrub finds it.
    quiet_body, quiet = put(cluster, "quiet", 2 * MIB)
    quiet_file = blob_file(cluster, quiet.replicas[2], quiet.blob_id)
    flip_bytes(quiet_file, 2 * MIB - 10)

    assert s3.get_object(Bucket=BUCKET, Key="midway")["Body"].read() == midway_body
    assert s3.get_object(Bucket=BUCKET, Key="early")["Body"].read() == early_body
    ranged = s3.get_object(Bucket=BUCKET, Key="midway", Range=f"bytes={MIB - 10}-{MIB + 200}")
    assert ranged["Body"].read() == midway_body[MIB - 10 : MIB + 201]
    # The reads quarantined the rotten copies: gone from their paths, waiting for a heal.
    for blob in (midway, early):
        assert not blob_file(cluster, blob.replicas[0], blob.blob_id).exists()
        assert blob.blob_id in unhealed_on(cluster, blob.replicas[0])

    scrubbed = admin_scrub(cluster)

    assert scrubbed.returncode == 0, scrubbed.stdout + scrubbed.stderr
    assert "3 datanodes scrubbed, 0 failed" in scrubbed.stdout
    assert "3 corrupt, 3 healed, 0 unrecoverable, 0 not healed yet" in scrubbed.stdout
    assert "scrub [" in scrubbed.stderr  # the progress bar
    for body, blob, node_id in (
        (midway_body, midway, midway.replicas[0]),
        (early_body, early, early.replicas[0]),
        (quiet_body, quiet, quiet.replicas[2]),
    ):
        assert verifies(blob_file(cluster, node_id, blob.blob_id), body)
        assert unhealed_on(cluster, node_id) == []
    # Each rotten copy is kept for inspection.
    assert list((Path(cluster.launcher.workdir) / quiet.replicas[2] / "quarantine" / quiet.blob_id).iterdir())
    assert s3.get_object(Bucket=BUCKET, Key="quiet")["Body"].read() == quiet_body


@pytest.mark.timeout(60)
@pytest.mark.allow_server_errors(503)
def test_a_blob_rotten_everywhere_cuts_the_get_short_and_is_reported_unrecoverable(
    cluster: LocalCluster,
) -> None:
    s3 = s3_client(cluster.gateway_urls[0])
    _, early = put(cluster, "lost-early", 100_000)
    for node_id in early.replicas:
        flip_bytes(blob_file(cluster, node_id, early.blob_id), 5)
    # Nothing sent yet: an S3 error, retryable like any missing data (and the same at every later try).
    for _ in range(2):
        with pytest.raises(ClientError) as unavailable:
            s3.get_object(Bucket=BUCKET, Key="lost-early")
        assert unavailable.value.response["Error"]["Code"] == "ServiceUnavailable"

    body, blob = put(cluster, "lost", 2 * MIB + 1)
    for node_id in blob.replicas:
        flip_bytes(blob_file(cluster, node_id, blob.blob_id), MIB + 1)
    response = s3.get_object(Bucket=BUCKET, Key="lost")
    assert response["ContentLength"] == len(body)
    received = b""
    with pytest.raises((BotoCoreError, ClientError, OSError)):
        for piece in response["Body"].iter_chunks(64 * 1024):
            received += piece
    # Only the first chunk, which every replica holds sound, ever went out.
    assert len(received) <= MIB and body.startswith(received)

    scrubbed = admin_scrub(cluster)

    assert scrubbed.returncode == 3, scrubbed.stdout + scrubbed.stderr
    assert "6 corrupt, 0 healed, 6 unrecoverable" in scrubbed.stdout
    assert "BLOB LOST" in scrubbed.stderr
