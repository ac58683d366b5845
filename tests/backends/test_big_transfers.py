"""A 1 GiB multipart upload to every external location keeps the gateway's memory small.

Once through ``strata server`` (one process: gateway and backend together) and once through a
local cluster whose relay datanodes serve the locations; the peak RSS (``VmHWM``) of the
process that streams the bytes must stay under 300 MB. The object is then read back whole
through Strata and compared by MD5. Behind ``STRATA_SLOW=1``: each emulator takes a GiB.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from strata.testing.emulators import Emulator
from tests.backends.test_through_strata import MIB, s3_client
from tests.integration.test_memory_bound import PatternReader, peak_rss
from tests.integration.test_server_process import free_port, start_server, stop_server

GIB = 1024**3
RSS_LIMIT_BYTES = 300 * 1000**2
PARTS = TransferConfig(multipart_threshold=16 * MIB, multipart_chunksize=16 * MIB, max_concurrency=4)

pytestmark = [
    pytest.mark.skipif(os.environ.get("STRATA_SLOW") != "1", reason="1 GiB transfers run with STRATA_SLOW=1"),
    pytest.mark.timeout(1800),
]


def expected_md5(size: int) -> str:
    digest = hashlib.md5()
    reader = PatternReader(size)
    while chunk := reader.read(8 * MIB):
        digest.update(chunk)
    return digest.hexdigest()


def upload_and_check(s3: BaseClient, location: str, bucket: str) -> None:
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": location})
    s3.upload_fileobj(io.BufferedReader(PatternReader(GIB), MIB), bucket, "one-gib", Config=PARTS)
    head = s3.head_object(Bucket=bucket, Key="one-gib")
    assert head["ContentLength"] == GIB and head["ETag"].endswith(f'-{GIB // (16 * MIB)}"')
    received = hashlib.md5()
    size = 0
    for chunk in s3.get_object(Bucket=bucket, Key="one-gib")["Body"].iter_chunks(MIB):
        received.update(chunk)
        size += len(chunk)
    assert size == GIB and received.hexdigest() == expected_md5(GIB)
    s3.delete_object(Bucket=bucket, Key="one-gib")


@pytest.fixture
def server_url(tmp_path: Path, location: dict[str, Any]) -> Iterator[tuple[str, int]]:
    locations = {"us-east-1": {"type": "file", "legacyAwsBehavior": True, "details": {}}, "remote": location}
    (tmp_path / "locationConfig.json").write_text(json.dumps(locations))
    port = free_port()
    proc = start_server(tmp_path, port, {"S3_LOCATION_FILE": str(tmp_path / "locationConfig.json")})
    try:
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        stop_server(proc)


@pytest.mark.parametrize("bucket_match", [True], ids=["bucketMatch"])
def test_one_gib_multipart_to_the_location_through_the_embedded_server(
    server_url: tuple[str, int], emulator: Emulator
) -> None:
    url, pid = server_url
    upload_and_check(s3_client(url), "remote", "big-embedded")
    rss = peak_rss(pid)
    print(
        f"{emulator.location_type}: server peak RSS after 1 GiB multipart up and down: {rss / 2**20:.0f} MiB"
    )
    assert rss < RSS_LIMIT_BYTES


@pytest.mark.cluster
@pytest.mark.parametrize("bucket_match", [False], ids=["bucketPrefix"])
def test_one_gib_multipart_to_the_location_through_a_cluster_relay(
    tmp_path: Path, emulator: Emulator, location: dict[str, Any]
) -> None:
    spec = ClusterSpec(
        gateway_base_port=None,
        replicas=1,
        datanodes=1,
        gateways=1,
        locations={
            "us-east-1": {"type": "file", "legacyAwsBehavior": True, "details": {}},
            "remote": location,
        },
        relays=1,
    )
    with LocalCluster(tmp_path / "cluster", spec) as cluster:
        upload_and_check(s3_client(cluster.gateway_urls[0]), "remote", "big-cluster")
        relays = [p for p in cluster.processes("datanode") if p.name.startswith("datanode-remote-")]
        assert relays, "the cluster runs no relay for the location"
        for record in cluster.processes("gateway") + relays:
            rss = peak_rss(record.pid)
            print(f"{emulator.location_type}: {record.name} peak RSS after 1 GiB: {rss / 2**20:.0f} MiB")
            assert rss < RSS_LIMIT_BYTES, record.name
