"""Cluster processes refuse, at startup and in one line, a location they could not store to."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coordinator.etcd import EtcdClient
from coordinator.keyspace import keyspace
from coordinator.locations import default_locations, get_locations
from strata.testing.etcd import EtcdProcess, free_port

REMOTE_LOCATION = {
    "type": "aws_s3",
    "legacyAwsBehavior": True,
    "details": {
        "awsEndpoint": "127.0.0.1:9",
        "https": False,
        "bucketName": "b",
        "credentials": {"accessKey": "a", "secretKey": "s"},
    },
}
UNKNOWN_LOCATION = {"type": "tape_library", "legacyAwsBehavior": False, "details": {}}


def _strata(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3", "SCALITY_", "STRATA_"))}
    return subprocess.run(
        [sys.executable, "-m", "strata.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, result.stdout + result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def etcd():
    with EtcdProcess() as process:
        yield process


def _store(etcd: EtcdProcess, cluster: str, extra: dict[str, dict]) -> None:
    async def store() -> None:
        client = await EtcdClient.connect(etcd.endpoint)
        try:
            for name, location in {**default_locations("file"), **extra}.items():
                # Written as an older release (or a hand edit) would have, past today's validation.
                await client.put(keyspace(cluster).location(name), json.dumps(location).encode())
        finally:
            await client.close()

    asyncio.run(store())


def _relay(
    etcd: EtcdProcess, cluster: str, location: str, location_type: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    return _strata(
        "datanode", "--etcd", etcd.endpoint, "--cluster", cluster, "--listen", f"127.0.0.1:{free_port()}",
        "--location", location, "--type", location_type, cwd=cwd,
    )  # fmt: skip


def test_a_relay_datanode_refuses_a_location_the_cluster_does_not_have(
    etcd: EtcdProcess, tmp_path: Path
) -> None:
    _store(etcd, "no-such-location", {})
    result = _relay(etcd, "no-such-location", "aws-archive", "aws_s3", tmp_path)
    assert result.returncode == 2
    line = _one_line(result)
    assert "'aws-archive'" in line and "not in the cluster's location config" in line


def test_a_relay_datanode_refuses_a_location_of_another_type_or_with_broken_details(
    etcd: EtcdProcess, tmp_path: Path
) -> None:
    broken = {**REMOTE_LOCATION, "details": {"bucketName": "b"}}
    _store(etcd, "relay-refusals", {"aws-archive": REMOTE_LOCATION, "aws-broken": broken})
    result = _relay(etcd, "relay-refusals", "aws-archive", "azure", tmp_path)
    assert result.returncode == 2
    assert "has type 'aws_s3'" in _one_line(result)
    result = _relay(etcd, "relay-refusals", "aws-broken", "aws_s3", tmp_path)
    assert result.returncode == 2
    line = _one_line(result)
    assert "aws-broken" in line and "details." in line


def test_gateway_refuses_an_unknown_location_type_stored_in_etcd(etcd: EtcdProcess, tmp_path: Path) -> None:
    cluster = "refusal"
    _store(etcd, cluster, {"aws-archive": REMOTE_LOCATION, "tape": UNKNOWN_LOCATION})
    result = _strata(
        "gateway", "--etcd", etcd.endpoint, "--cluster", cluster, "--host", "127.0.0.1",
        "--port", str(free_port()), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    line = _one_line(result)
    assert "'tape'" in line and "'tape_library'" in line


def test_config_import_refuses_an_unknown_location_type_and_keeps_remote_ones(
    etcd: EtcdProcess, tmp_path: Path
) -> None:
    locations = tmp_path / "locationConfig.json"
    locations.write_text(
        json.dumps({**default_locations("file"), "aws-archive": REMOTE_LOCATION, "tape": UNKNOWN_LOCATION})
    )
    result = _strata(
        "config", "import", "--etcd", etcd.endpoint, "--cluster", "imported", "--locations", str(locations),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0
    line = _one_line(result)
    assert "'tape'" in line and "'tape_library'" in line

    async def stored() -> dict:
        client = await EtcdClient.connect(etcd.endpoint)
        try:
            return await get_locations(client, "imported")
        finally:
            await client.close()

    assert asyncio.run(stored()) == {}
    locations.write_text(json.dumps({**default_locations("file"), "aws-archive": REMOTE_LOCATION}))
    result = _strata(
        "config", "import", "--etcd", etcd.endpoint, "--cluster", "imported", "--locations", str(locations),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert asyncio.run(stored())["aws-archive"] == REMOTE_LOCATION
