"""``strata server --metrics-listen``: the embedded server's /metrics, /live and /ready, as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from prometheus_client.parser import text_string_to_metric_families

from strata.testing.pytest_plugin import watch_log_file


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(S3 url, metrics url) of a ``strata server`` whose metrics port comes from STRATA_METRICS_LISTEN."""
    port, metrics_port = free_port(), free_port()
    log_path = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3", "SCALITY_", "STRATA_"))}
    env["STRATA_METRICS_LISTEN"] = f"127.0.0.1:{metrics_port}"
    argv = [sys.executable, "-m", "strata.cli", "server", "--backend", "mem", "--port", str(port)]
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    watch_log_file(log_path)
    try:
        deadline = time.monotonic() + 20
        while get_or_none(f"http://127.0.0.1:{metrics_port}/live") != 200:
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "strata server's metrics port did not answer within 20 s"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get_or_none(url: str) -> int | None:
    try:
        return get(url)[0]
    except OSError:
        return None


def scrape(metrics_url: str) -> dict[str, Any]:
    status, body = get(f"{metrics_url}/metrics")
    assert status == 200
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def value(families: dict[str, Any], family: str, sample_name: str, **labels: str) -> float:
    return sum(
        sample.value
        for sample in families[family].samples
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def test_embedded_server_counts_requests_and_bytes(server: tuple[str, str]) -> None:
    s3_url, metrics_url = server
    status, body = get(f"{metrics_url}/ready")
    assert status == 200, body
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_url,
        aws_access_key_id="accessKey1",
        aws_secret_access_key="verySecretKey1",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket="metered")
    payload = b"x" * 10_000
    for index in range(4):
        s3.put_object(Bucket="metered", Key=f"k{index}", Body=payload)
    assert s3.get_object(Bucket="metered", Key="k1")["Body"].read() == payload

    families = scrape(metrics_url)
    requests = "strata_s3_requests"
    assert value(families, requests, "strata_s3_requests_total", operation="PutObject", status="200") == 4
    assert value(families, requests, "strata_s3_requests_total", operation="CreateBucket", status="200") == 1
    received = value(
        families, "strata_s3_received_bytes", "strata_s3_received_bytes_total", operation="PutObject"
    )
    assert received >= 4 * len(payload)
    sent = value(families, "strata_s3_sent_bytes", "strata_s3_sent_bytes_total", operation="GetObject")
    assert sent >= len(payload)
    histogram = "strata_s3_request_duration_seconds"
    assert value(families, histogram, f"{histogram}_count", operation="PutObject") == 4
    assert value(families, histogram, f"{histogram}_bucket", operation="PutObject", le="+Inf") == 4
    # The embedded metadata core group-commits its writes too.
    assert (
        value(families, "strata_metanode_group_commit_entries", "strata_metanode_group_commit_entries_count")
        >= 5
    )


def test_malformed_metrics_listen_is_refused_at_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3", "SCALITY_", "STRATA_"))}
    done = subprocess.run(
        [sys.executable, "-m", "strata.cli", "server", "--backend", "mem", "--port", "0"]
        + ["--metrics-listen", "no-port-here"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--metrics-listen must be HOST:PORT" in done.stderr
