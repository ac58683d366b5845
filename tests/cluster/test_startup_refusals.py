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
    "details": {"awsEndpoint": "s3.amazonaws.com", "bucketName": "b", "credentialsProfile": "p"},
}


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


def test_datanode_refuses_a_remote_backend_type(tmp_path: Path) -> None:
    result = _strata(
        "datanode",
        "--etcd",
        f"127.0.0.1:{free_port()}",
        "--listen",
        f"127.0.0.1:{free_port()}",
        "--location",
        "aws-archive",
        "--type",
        "aws_s3",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    line = _one_line(result)
    assert "'aws-archive'" in line and "'aws_s3'" in line


def test_gateway_refuses_a_remote_location_stored_in_etcd(etcd: EtcdProcess, tmp_path: Path) -> None:
    cluster = "refusal"

    async def store() -> None:
        client = await EtcdClient.connect(etcd.endpoint)
        try:
            for name, location in {**default_locations("file"), "aws-archive": REMOTE_LOCATION}.items():
                # Written as an older release would have, past today's validation.
                await client.put(keyspace(cluster).location(name), json.dumps(location).encode())
        finally:
            await client.close()

    asyncio.run(store())
    port = free_port()
    result = _strata(
        "gateway",
        "--etcd",
        etcd.endpoint,
        "--cluster",
        cluster,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    line = _one_line(result)
    assert "'aws-archive'" in line and "'aws_s3'" in line


def test_config_import_refuses_a_remote_location(etcd: EtcdProcess, tmp_path: Path) -> None:
    locations = tmp_path / "locationConfig.json"
    locations.write_text(json.dumps({**default_locations("file"), "aws-archive": REMOTE_LOCATION}))
    result = _strata(
        "config",
        "import",
        "--etcd",
        etcd.endpoint,
        "--cluster",
        "imported",
        "--locations",
        str(locations),
        cwd=tmp_path,
    )
    assert result.returncode != 0
    line = _one_line(result)
    assert "'aws-archive'" in line and "'aws_s3'" in line

    async def stored() -> dict:
        client = await EtcdClient.connect(etcd.endpoint)
        try:
            return await get_locations(client, "imported")
        finally:
            await client.close()

    assert asyncio.run(stored()) == {}
