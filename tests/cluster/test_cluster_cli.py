"""``strata cluster`` and ``strata config`` as a user runs them: real processes, real etcd."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from strata.localcluster import port_is_free
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster

CLI = [sys.executable, "-m", "strata.cli"]


def strata(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def free_port_pair() -> int:
    """A port whose next port is free too (the test's --port-base, never the default 8000)."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = int(sock.getsockname()[1])
        if base < 65535 and port_is_free(base + 1):
            return base
    raise AssertionError("no two consecutive free ports")


def status_lines(cluster_dir: Path, cwd: Path) -> dict[str, list[str]]:
    done = strata("cluster", "status", "--dir", str(cluster_dir), cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout.split("\n\n", 1)[0]  # the process table ends at the first blank line
    return {line.split()[1]: line.split() for line in table.splitlines()}


@pytest.fixture
def cli_cluster(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    base = free_port_pair()
    up = strata(
        "cluster", "up", "--datanodes", "1", "--replicas", "1", "--port-base", str(base), cwd=tmp_path
    )
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield tmp_path / ".strata-cluster", base
    finally:
        strata("cluster", "down", cwd=tmp_path)


@pytest.mark.timeout(240)
def test_gateways_get_the_ports_asked_for_and_restart_and_down_tell_the_truth(
    cli_cluster: tuple[Path, int], tmp_path: Path
) -> None:
    cluster_dir, base = cli_cluster
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    processes = status_lines(cluster_dir, elsewhere)
    assert f"http://127.0.0.1:{base}" in processes["gateway-1"]
    assert f"http://127.0.0.1:{base + 1}" in processes["gateway-2"]
    assert all(words[-1] == "running" for words in processes.values())

    pid = int(processes["gateway-2"][2].removeprefix("pid="))
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while status_lines(cluster_dir, elsewhere)["gateway-2"][-1] != "dead":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    restarted = strata("cluster", "restart", "gateway-2", "--dir", str(cluster_dir), cwd=elsewhere)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "restarted gateway-2" in restarted.stdout and f":{base + 1}" in restarted.stdout
    s3 = s3_client(f"http://127.0.0.1:{base + 1}")
    s3.create_bucket(Bucket="after-restart")
    s3.delete_bucket(Bucket="after-restart")

    unknown = strata("cluster", "restart", "gateway-9", "--dir", str(cluster_dir), cwd=elsewhere)
    assert unknown.returncode == 2 and unknown.stderr.startswith("strata: ") and "gateway-9" in unknown.stderr

    os.kill(int(status_lines(cluster_dir, elsewhere)["datanode-1"][2].removeprefix("pid=")), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while status_lines(cluster_dir, elsewhere)["datanode-1"][-1] != "dead":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    down = strata("cluster", "down", "--dir", str(cluster_dir), cwd=elsewhere)
    assert down.returncode == 0
    assert "stopped 5 processes: gateway-2, gateway-1, coordinator-1, metanode-1, etcd" in down.stdout
    assert "1 already not running: datanode-1" in down.stdout
    assert strata("cluster", "status", "--dir", str(cluster_dir), cwd=elsewhere).returncode == 1


@pytest.mark.timeout(120)
def test_up_on_a_taken_port_is_one_line_and_leaves_nothing_running(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = int(holder.getsockname()[1])
        up = strata("cluster", "up", "--datanodes", "1", "--port-base", str(taken), cwd=tmp_path)
    assert up.returncode == 2, up.stdout + up.stderr
    lines = up.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("strata: ") and str(taken) in lines[0], up.stderr
    assert "--port-base" in lines[0] and "Traceback" not in up.stderr
    assert strata("cluster", "status", cwd=tmp_path).returncode == 1


NEW_ACCOUNT = {
    "name": "Maggie",
    "email": "maggie@strata.local",
    "arn": "arn:aws:iam::123456789099:root",
    "canonicalID": "ab" * 32,
    "shortid": "123456789099",
    "keys": [{"access": "maggieKey", "secret": "maggieSecret"}],
}


@pytest.mark.timeout(240)
def test_config_import_merges_accounts_that_running_gateways_serve_at_once(
    cli_cluster: tuple[Path, int], tmp_path: Path
) -> None:
    cluster_dir, base = cli_cluster
    newcomer = s3_client(f"http://127.0.0.1:{base + 1}", "maggieKey", "maggieSecret")
    with pytest.raises(ClientError) as refused:
        newcomer.list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"

    (tmp_path / "authdata.json").write_text(json.dumps({"accounts": [NEW_ACCOUNT]}))
    imported = strata(
        "config", "import", "--authdata", "authdata.json", "--dir", str(cluster_dir), cwd=tmp_path
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "1 added (maggieKey)" in imported.stdout
    assert "published default access keys accessKey1, accessKey2 are still valid" in imported.stderr

    deadline = time.monotonic() + 15
    while True:
        try:
            newcomer.list_buckets()
            break
        except ClientError:
            assert time.monotonic() < deadline, "the gateway never served the imported account"
            time.sleep(0.1)
    # Merged, not replaced: the accounts already in use still work.
    s3_client(f"http://127.0.0.1:{base}").list_buckets()

    exported = strata("config", "export", "--out", "out", "--dir", str(cluster_dir), cwd=tmp_path)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    authdata = json.loads((tmp_path / "out" / "conf" / "authdata.json").read_text())
    access_keys = {key["access"] for account in authdata["accounts"] for key in account["keys"]}
    assert {"accessKey1", "accessKey2", "maggieKey"} <= access_keys

    replaced = strata(
        "config",
        "import",
        "--authdata",
        "authdata.json",
        "--replace",
        "--dir",
        str(cluster_dir),
        cwd=tmp_path,
    )
    assert replaced.returncode == 0 and "removed (accessKey1, accessKey2)" in replaced.stdout, replaced.stdout
    assert "published default" not in replaced.stderr
    old = s3_client(f"http://127.0.0.1:{base}")
    deadline = time.monotonic() + 15
    while True:
        try:
            old.list_buckets()
        except ClientError as error:
            assert error.response["Error"]["Code"] == "InvalidAccessKeyId"
            break
        assert time.monotonic() < deadline, "the gateway kept serving a removed account"
        time.sleep(0.1)
