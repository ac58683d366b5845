"""The README's first command: `strata server`, as a real process, keeps data across restarts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import s3_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


START_TIMEOUT_S = 60.0  # generous: on a loaded machine, importing everything alone can take many seconds


def start_server(workdir: Path, port: int, settings: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``strata server`` on ``port`` in ``workdir``, with none of this environment's S3 settings but ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3", "SCALITY_"))}
    env.update(settings or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "strata.cli", "server", "--port", str(port), "--host", "127.0.0.1"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode() if proc.stdout else "server exited")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    output = proc.communicate()[0].decode(errors="replace")
    raise AssertionError(f"strata server did not listen within {START_TIMEOUT_S:.0f} s:\n{output[-3000:]}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


@pytest.mark.timeout(120)
def test_file_backed_server_keeps_objects_across_restart(tmp_path: Path) -> None:
    port = free_port()
    proc = start_server(tmp_path, port)
    try:
        s3 = s3_client(f"http://127.0.0.1:{port}")
        s3.create_bucket(Bucket="durable")
        bodies = {f"k{i}": os.urandom(size) for i, size in enumerate((0, 10, 70_000, 3 * 1024 * 1024))}
        for key, body in bodies.items():
            s3.put_object(Bucket="durable", Key=key, Body=body)
    finally:
        stop_server(proc)
    assert (tmp_path / "localData").is_dir() and (tmp_path / "localMetadata").is_dir()
    proc = start_server(tmp_path, port)
    try:
        s3 = s3_client(f"http://127.0.0.1:{port}")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["durable"]
        for key, body in bodies.items():
            assert s3.get_object(Bucket="durable", Key=key)["Body"].read() == body
    finally:
        stop_server(proc)


def _refused_start(workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("S3", "SCALITY_"))}
    return subprocess.run(
        [sys.executable, "-m", "strata.cli", "server", "--port", str(free_port()), "--host", "127.0.0.1"],
        cwd=workdir,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("location", "named"),
    [
        ({"type": "mem", "legacyAwsBehavior": False, "details": {}}, "'scratch' has type 'mem'"),
        (
            {"type": "azure", "legacyAwsBehavior": False, "details": {"azureContainerName": "c"}},
            "location scratch: details.azureStorageEndpoint",
        ),
    ],
)
def test_server_refuses_a_location_it_cannot_keep(tmp_path: Path, location: dict, named: str) -> None:
    config = tmp_path / "locationConfig.json"
    config.write_text(
        json.dumps(
            {"us-east-1": {"type": "file", "legacyAwsBehavior": True, "details": {}}, "scratch": location}
        )
    )
    result = _refused_start(tmp_path, {"S3_LOCATION_FILE": str(config)})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr
    assert not (tmp_path / "localMetadata").exists()


def start_and_read_log(workdir: Path, args: list[str], env: dict[str, str]) -> tuple[str, list[str]]:
    """Starts `strata server ARGS --port 0`, returns (its listen line, the log lines before it), stops it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("S3", "SCALITY_", "LISTEN_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "strata.cli", "server", "--backend", "mem", "--port", "0", *args],
        cwd=workdir,
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "S3 server listening on" in line:
                return line, lines
            lines.append(line)
        raise AssertionError(f"strata server exited: {''.join(lines)}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


@pytest.mark.timeout(120)
def test_server_listens_on_loopback_by_default(tmp_path: Path) -> None:
    listening, before = start_and_read_log(tmp_path, [], {})
    assert "http://127.0.0.1:" in listening
    assert not [line for line in before if "published default credentials" in line]


@pytest.mark.timeout(120)
def test_server_on_every_address_with_default_keys_warns(tmp_path: Path) -> None:
    listening, before = start_and_read_log(tmp_path, ["--host", "0.0.0.0"], {})
    assert "http://0.0.0.0:" in listening
    warnings = [line for line in before if "published default credentials" in line]
    assert len(warnings) == 1 and "accessKey1" in warnings[0] and '"warning"' in warnings[0]


@pytest.mark.timeout(120)
def test_server_on_every_address_with_own_keys_does_not_warn(tmp_path: Path) -> None:
    own = {"SCALITY_ACCESS_KEY_ID": "myOwnKey", "SCALITY_SECRET_ACCESS_KEY": "myOwnSecret"}
    listening, before = start_and_read_log(tmp_path, [], {"LISTEN_ADDR": "0.0.0.0", **own})
    assert "http://0.0.0.0:" in listening
    assert not [line for line in before if "published default credentials" in line]
