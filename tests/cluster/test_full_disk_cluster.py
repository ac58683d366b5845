"""Full disks on a real cluster: each datanode's data directory is a small tmpfs the test mounts.

datanode-1 has 4 MiB, the others 16 MiB. A 6 MiB object does not fit on datanode-1: it is
stored on the two others (a write quorum) and reads back. A 12 MiB object then fits nowhere:
the gateway answers 503 ServiceUnavailable and nothing of it stays visible or on disk.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.cluster.blobs import blob_file, blob_of
from tests.integration.conftest import s3_client
from tests.tmpfs import mounted_tmpfs

pytestmark = pytest.mark.cluster

MIB = 1024 * 1024
SIZES = {"datanode-1": "4m", "datanode-2": "16m", "datanode-3": "16m"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    with ExitStack() as mounts:
        for name, size in SIZES.items():
            mounts.enter_context(mounted_tmpfs(tmp_path / name, size))
        spec = ClusterSpec(gateway_base_port=None, gateways=1, datanodes=3, gc_interval_s=3600.0)
        with LocalCluster(tmp_path, spec) as running:
            yield running


def temporaries(cluster: LocalCluster) -> list[str]:
    workdir = Path(cluster.launcher.workdir)
    return [name for node in SIZES for name in os.listdir(workdir / node / "tmp")]


def wait_until_no_temporaries(cluster: LocalCluster, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while temporaries(cluster):
        assert time.monotonic() < deadline, f"temporary files left behind: {temporaries(cluster)}"
        time.sleep(0.05)


@pytest.mark.timeout(60)
@pytest.mark.allow_server_errors(503)
def test_a_full_datanode_is_written_around_and_a_full_location_answers_503(cluster: LocalCluster) -> None:
    s3 = s3_client(cluster.gateway_urls[0])
    s3.create_bucket(Bucket="full")
    fits_two = os.urandom(6 * MIB)

    s3.put_object(Bucket="full", Key="fits-two", Body=fits_two)

    assert s3.get_object(Bucket="full", Key="fits-two")["Body"].read() == fits_two
    blob = blob_of(cluster, "full", "fits-two")
    assert sorted(blob.replicas) == ["datanode-2", "datanode-3"] and blob.replicas_wanted == 3
    assert not blob_file(cluster, "datanode-1", blob.blob_id).exists()
    wait_until_no_temporaries(cluster)

    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="full", Key="fits-nowhere", Body=os.urandom(12 * MIB))

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert refused.value.response["Error"]["Code"] == "ServiceUnavailable"
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket="full", Key="fits-nowhere")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert [item["Key"] for item in s3.list_objects_v2(Bucket="full")["Contents"]] == ["fits-two"]
    wait_until_no_temporaries(cluster)
    assert s3.get_object(Bucket="full", Key="fits-two")["Body"].read() == fits_two
