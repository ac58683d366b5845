"""External locations through a local cluster: relay datanodes serve each emulator's location.

One cluster for the module (1 metanode, 1 disk datanode, 2 relays per external location, one
gateway), with a location ``remote-<emulator id>`` per emulator; each test runs per emulator.
"""

from __future__ import annotations

import http.client
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from strata.testing.emulators import Emulator, EmulatorMissing, load_emulator, selected_emulators
from tests.backends.test_through_strata import MIB, _Reader, eventually, payload, s3_client

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def remote_locations(emulators: dict[str, Emulator]) -> dict[str, tuple[Emulator, dict[str, Any]]]:
    """Every emulator that runs here, with a fresh location (bucketMatch: false) on it."""
    found: dict[str, tuple[Emulator, dict[str, Any]]] = {}
    for emulator_id in selected_emulators():
        if emulator_id not in emulators:
            try:
                started = load_emulator(emulator_id)
                started.start()
            except EmulatorMissing as missing:
                if os.environ.get("CI") == "true":
                    pytest.fail(f"{emulator_id}: {missing}")
                continue
            emulators[emulator_id] = started
        found[emulator_id] = (emulators[emulator_id], emulators[emulator_id].location(bucket_match=False))
    return found


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, remote_locations: dict[str, tuple[Emulator, dict[str, Any]]]
) -> Iterator[LocalCluster]:
    locations: dict[str, dict[str, Any]] = {
        "us-east-1": {"type": "file", "legacyAwsBehavior": True, "details": {}},
        **{f"remote-{emulator_id}": location for emulator_id, (_, location) in remote_locations.items()},
    }
    spec = ClusterSpec(
        gateway_base_port=None,
        replicas=1,
        datanodes=1,
        gateways=1,
        gc_interval_s=0.5,
        gc_grace_s=0.0,
        locations=locations,
        relays=2,
    )
    with LocalCluster(Path(tmp_path_factory.mktemp("relays")), spec) as running:
        yield running


@pytest.fixture(params=selected_emulators())
def target(
    request: pytest.FixtureRequest, remote_locations: dict[str, tuple[Emulator, dict[str, Any]]]
) -> tuple[str, Emulator, dict[str, Any]]:
    emulator_id: str = request.param
    if emulator_id not in remote_locations:
        pytest.skip(f"{emulator_id} cannot run here")
    emulator, location = remote_locations[emulator_id]
    return f"remote-{emulator_id}", emulator, location


@pytest.fixture(scope="module")
def s3(cluster: LocalCluster) -> BaseClient:
    return s3_client(cluster.gateway_urls[0])


# Killing a relay may fail the one call in flight to it (503, which S3 clients retry).
@pytest.mark.allow_server_errors(503)
def test_objects_and_multipart_uploads_reach_the_provider_through_the_relays(
    cluster: LocalCluster, s3: BaseClient, target: tuple[str, Emulator, dict[str, Any]]
) -> None:
    location_name, emulator, location = target
    bucket = location_name.replace("_", "-").lower()
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": location_name})
    small = b"through a relay"
    s3.put_object(Bucket=bucket, Key="small", Body=small, Metadata={"origin": "cluster"})
    assert s3.get_object(Bucket=bucket, Key="small")["Body"].read() == small
    assert emulator.read_direct(location, f"{bucket}/small") == small
    data = payload(11 * MIB + 1, seed=7)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=2)
    s3.upload_fileobj(_Reader(data), bucket, "multi", Config=config)
    assert s3.get_object(Bucket=bucket, Key="multi")["Body"].read() == data
    assert emulator.read_direct(location, f"{bucket}/multi") == data
    # One relay of the location dies: the other carries on.
    relay = f"datanode-{location_name}-1"
    cluster.stop_process(relay, signal.SIGKILL)
    try:
        eventually(lambda: _reads(s3, bucket, "small", small))
        eventually(lambda: _puts(s3, bucket, "after", b"one relay left"))
        assert emulator.read_direct(location, f"{bucket}/after") == b"one relay left"
    finally:
        cluster.start_process(relay)
    s3.delete_object(Bucket=bucket, Key="multi")
    eventually(lambda: _gone_from_provider(emulator, location, f"{bucket}/multi"))


def _gone_from_provider(emulator: Any, location: dict[str, Any], name: str) -> bool:
    try:
        return emulator.read_direct(location, name) is None
    except http.client.IncompleteRead:
        return False  # a large object's segments are being deleted while it is read: not gone yet


def _reads(s3: BaseClient, bucket: str, key: str, expected: bytes) -> bool:
    try:
        return bool(s3.get_object(Bucket=bucket, Key=key)["Body"].read() == expected)
    except Exception:
        return False


def _puts(s3: BaseClient, bucket: str, key: str, body: bytes) -> bool:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    except Exception:
        return False
    return True
