"""A real cluster of processes: etcd, a metanode, two datanodes, two gateways."""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from metanode.client import MetadataClient
from protos.metadata_pb2 import LISTING_DELIMITER_VERSIONS, ListObjectsRequest, RunGcRequest
from strata.testing.cluster import LocalCluster
from tests.cluster.blobs import datanode_blob_ids
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster


def test_status_shows_every_process(cluster: LocalCluster) -> None:
    lines = cluster.launcher.status_lines()
    roles = [line.split()[0] for line in lines]
    assert sorted(roles) == sorted(
        ["etcd", *["datanode"] * 3, *["metanode"] * 3, "coordinator", "gateway", "gateway"]
    )
    assert all(line.endswith("running") for line in lines)
    assert sum("http://127.0.0.1:" in line for line in lines) == 2


def test_object_written_through_one_gateway_is_read_through_the_other(cluster: LocalCluster) -> None:
    first, second = (s3_client(url) for url in cluster.gateway_urls)
    first.create_bucket(Bucket="shared")
    body = os.urandom(3 * 1024 * 1024 + 7)
    first.put_object(Bucket="shared", Key="big", Body=body)
    first.put_object(Bucket="shared", Key="small", Body=b"tiny")
    assert second.get_object(Bucket="shared", Key="big")["Body"].read() == body
    assert second.get_object(Bucket="shared", Key="small")["Body"].read() == b"tiny"
    assert [o["Key"] for o in second.list_objects_v2(Bucket="shared")["Contents"]] == ["big", "small"]
    second.delete_object(Bucket="shared", Key="big")
    second.delete_object(Bucket="shared", Key="small")
    first.delete_bucket(Bucket="shared")


def test_bucket_names_are_unique_across_gateways(cluster: LocalCluster) -> None:
    from botocore.exceptions import ClientError

    first = s3_client(cluster.gateway_urls[0])
    other = s3_client(cluster.gateway_urls[1], "accessKey2", "verySecretKey2")
    first.create_bucket(Bucket="claimed")
    try:
        with pytest.raises(ClientError) as excinfo:
            other.create_bucket(Bucket="claimed")
        assert excinfo.value.response["Error"]["Code"] == "BucketAlreadyExists"
    finally:
        first.delete_bucket(Bucket="claimed")
    other.create_bucket(Bucket="claimed")
    other.delete_bucket(Bucket="claimed")


def _start_raw_upload(
    url: str, bucket: str, key: str, size: int, sent_before_signal: int, sent: threading.Event
) -> threading.Thread:
    """Streams ``size`` bytes slowly; sets ``sent`` once ``sent_before_signal`` bytes are out."""
    target = f"{url}/{bucket}/{key}"
    request = AWSRequest(
        method="PUT",
        url=target,
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", "Content-Length": str(size)},
    )
    S3SigV4Auth(Credentials("accessKey1", "verySecretKey1"), "s3", "us-east-1").add_auth(request)
    parsed = urlparse(url)

    def upload() -> None:
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        try:
            connection.putrequest("PUT", f"/{bucket}/{key}", skip_accept_encoding=True)
            for name, value in request.headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            piece = os.urandom(1024 * 1024)
            written = 0
            while written < size:
                connection.send(piece)
                written += len(piece)
                if written >= sent_before_signal:
                    sent.set()
                    time.sleep(0.05)
        except OSError:
            pass
        finally:
            sent.set()
            connection.close()

    thread = threading.Thread(target=upload, daemon=True)
    thread.start()
    return thread


async def _live_and_stored_blobs(cluster: LocalCluster) -> tuple[set[str], set[str]]:
    metanode = MetadataClient(cluster.processes("metanode")[0].address)
    try:
        await metanode.run_gc(RunGcRequest(expire_all_intents=True))
        referenced: set[str] = set()
        listing = await metanode.list_objects(
            ListObjectsRequest(bucket="killed", listing_type=LISTING_DELIMITER_VERSIONS, max_keys=100000)
        )
        for entry in listing.entries:
            referenced.update(blob.blob_id for blob in entry.object.blobs)
    finally:
        await metanode.close()
    stored = await datanode_blob_ids(cluster)
    return referenced, stored


@pytest.mark.timeout(180)
def test_gateway_killed_mid_upload_leaves_no_object_and_no_orphan(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "c") as cluster:
        first_url, second_url = cluster.gateway_urls
        survivor = s3_client(second_url)
        survivor.create_bucket(Bucket="killed")
        survivor.put_object(Bucket="killed", Key="kept", Body=os.urandom(200_000))
        sent = threading.Event()
        uploader = _start_raw_upload(
            first_url, "killed", "partial", 100 * 1024 * 1024, 30 * 1024 * 1024, sent
        )
        assert sent.wait(60)
        cluster.kill("gateway-1", signal.SIGKILL)
        uploader.join(60)
        assert [o["Key"] for o in survivor.list_objects_v2(Bucket="killed")["Contents"]] == ["kept"]
        referenced, stored = asyncio.run(_live_and_stored_blobs(cluster))
        assert len(referenced) == 1
        # Every datanode copy belongs to a live object: the half-written blob is gone.
        assert stored == referenced


@pytest.mark.timeout(120)
def test_cluster_cli_up_status_down(tmp_path: Path) -> None:
    env = {**os.environ}
    cli = [sys.executable, "-m", "strata.cli", "cluster"]
    up = subprocess.run(
        [*cli, "up", "--port-base", "0"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90
    )
    try:
        assert up.returncode == 0, up.stderr
        status = subprocess.run([*cli, "status"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert status.returncode == 0
        lines = status.stdout.split("\n\n", 1)[0].splitlines()  # the process table, before the blank line
        assert len(lines) == 10  # etcd, 3 metanodes (one shard), 3 datanodes, a coordinator, 2 gateways
        gateway_urls = [word for line in lines for word in line.split() if word.startswith("http://")]
        assert len(gateway_urls) == 2
        s3 = s3_client(gateway_urls[0])
        s3.create_bucket(Bucket="from-cli")
        s3.delete_bucket(Bucket="from-cli")
    finally:
        down = subprocess.run([*cli, "down"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert down.returncode == 0 and "stopped 10 processes" in down.stdout
    after = subprocess.run([*cli, "status"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert after.returncode == 1
    assert (tmp_path / ".strata-cluster").is_dir()


@pytest.mark.timeout(60)
def test_config_import_then_export_round_trips_through_etcd(cluster: LocalCluster, tmp_path: Path) -> None:
    import json

    locations = {
        "us-east-1": {"type": "file", "legacyAwsBehavior": True, "details": {}},
        "cold": {"type": "file", "legacyAwsBehavior": False, "details": {}},
    }
    (tmp_path / "locationConfig.json").write_text(json.dumps(locations))
    cli = [sys.executable, "-m", "strata.cli", "config"]
    imported = subprocess.run(
        [*cli, "import", "--etcd", cluster.etcd, "--locations", str(tmp_path / "locationConfig.json")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / "out"
    exported = subprocess.run(
        [*cli, "export", "--etcd", cluster.etcd, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert exported.returncode == 0, exported.stderr
    assert json.loads((out / "locationConfig.json").read_text()) == locations
    # A location added in etcd is usable at once by the running gateways.
    s3 = s3_client(cluster.gateway_urls[1])
    deadline = time.monotonic() + 10
    while True:
        try:
            s3.create_bucket(Bucket="cold-bucket", CreateBucketConfiguration={"LocationConstraint": "cold"})
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert s3.get_bucket_location(Bucket="cold-bucket")["LocationConstraint"] == "cold"
    s3.delete_bucket(Bucket="cold-bucket")


def test_request_id_is_logged_by_every_process_that_served_it(cluster: LocalCluster) -> None:
    import json

    s3 = s3_client(cluster.gateway_urls[0])
    s3.create_bucket(Bucket="traced")
    response = s3.put_object(Bucket="traced", Key="k", Body=os.urandom(300_000))
    request_id = response["ResponseMetadata"]["RequestId"]
    s3.delete_object(Bucket="traced", Key="k")
    s3.delete_bucket(Bucket="traced")
    roles_seen = set()
    for record in cluster.processes():
        if record.role == "etcd":
            continue
        for line in Path(record.log).read_text().splitlines():
            if request_id in line:
                entry = json.loads(line)
                assert entry["req_id"] == request_id
                roles_seen.add(record.role)
    assert roles_seen == {"gateway", "metanode", "datanode"}
