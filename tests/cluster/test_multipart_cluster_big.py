"""2 GiB multipart round trips through the gateways of a process cluster, by boto3's transfer manager
(default config) and the aws cli v1 (8MB parts); every gateway's peak RSS stays under 300 MB
(STRATA_SLOW=1)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.compat.conftest import clean_env, run, tool
from tests.compat.test_multipart_tools import sha256_of, write_random
from tests.integration.conftest import s3_client
from tests.integration.test_memory_bound import peak_rss

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(os.environ.get("STRATA_SLOW") != "1", reason="2 GiB transfers run with STRATA_SLOW=1"),
]

MIB = 1024**2
SIZE = 2 * 1024 * MIB
RSS_LIMIT_BYTES = 300 * 1000**2


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    workdir = tmp_path_factory.mktemp("big-cluster")
    spec = ClusterSpec(gateway_base_port=None, gc_interval_s=5.0, intent_ttl_s=3600.0)
    with LocalCluster(workdir, spec) as running:
        yield running


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A 2 GiB file written in 8 MiB pieces (never whole in memory) and its sha256."""
    path = tmp_path_factory.mktemp("big-source") / "source.bin"
    digest = write_random(path, SIZE)
    yield path, digest
    path.unlink(missing_ok=True)


def gateway_peaks(cluster: LocalCluster) -> dict[str, int]:
    return {record.name: peak_rss(record.pid) for record in cluster.processes("gateway")}


def report_and_check(cluster: LocalCluster, what: str, seconds: float) -> None:
    peaks = gateway_peaks(cluster)
    figures = ", ".join(f"{name} {rss / 2**20:.0f} MiB" for name, rss in peaks.items())
    print(f"\n{what}: 2 GiB up and down in {seconds:.1f} s; gateway peak RSS (VmHWM): {figures}")
    for name, rss in peaks.items():
        assert rss < RSS_LIMIT_BYTES, f"{name} peaked at {rss} bytes"


@pytest.mark.timeout(1800)
def test_boto3_transfer_manager_2gib_through_cluster_gateway(
    cluster: LocalCluster, source: tuple[Path, str], tmp_path: Path
) -> None:
    path, expected = source
    s3 = s3_client(cluster.gateway_urls[0])
    bucket = "big-boto3"
    s3.create_bucket(Bucket=bucket)
    started = time.monotonic()
    s3.upload_file(str(path), bucket, "two-gib", Config=TransferConfig())
    head = s3.head_object(Bucket=bucket, Key="two-gib")
    assert head["ContentLength"] == SIZE and "-" in head["ETag"]
    target = tmp_path / "down.bin"
    s3.download_file(bucket, "two-gib", str(target), Config=TransferConfig())
    elapsed = time.monotonic() - started
    assert target.stat().st_size == SIZE
    assert sha256_of(target) == expected
    target.unlink()
    s3.delete_object(Bucket=bucket, Key="two-gib")
    s3.delete_bucket(Bucket=bucket)
    report_and_check(cluster, "boto3 transfer manager (default config) via gateway-1", elapsed)


def aws_cli_v1(home: Path, endpoint: str, chunksize: str) -> list[str]:
    """argv prefix and a config home for the aws cli v1 with ``chunksize`` parts."""
    aws = tool("aws")
    version = subprocess.run([aws, "--version"], capture_output=True, text=True, check=True)
    assert (version.stdout + version.stderr).startswith("aws-cli/1."), version
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = accessKey1\naws_secret_access_key = verySecretKey1\n"
    )
    (home / ".aws" / "config").write_text(
        "[default]\nregion = us-east-1\n"
        f"s3 =\n    multipart_chunksize = {chunksize}\n    multipart_threshold = {chunksize}\n"
    )
    return [aws, "--endpoint-url", endpoint]


@pytest.mark.timeout(1800)
def test_aws_cli_v1_small_chunks_2gib_through_cluster_gateway(
    cluster: LocalCluster, source: tuple[Path, str], tmp_path: Path
) -> None:
    path, expected = source
    home = tmp_path / "home"
    aws = aws_cli_v1(home, cluster.gateway_urls[1], "8MB")
    env = clean_env(home)
    env["AWS_CONFIG_FILE"] = str(home / ".aws" / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(home / ".aws" / "credentials")
    bucket = "big-awscli"
    run([*aws, "s3", "mb", f"s3://{bucket}"], env, cwd=home)
    started = time.monotonic()
    run([*aws, "s3", "cp", "--only-show-errors", str(path), f"s3://{bucket}/two-gib"], env, cwd=home)
    head = s3_client(cluster.gateway_urls[0]).head_object(Bucket=bucket, Key="two-gib")
    # The aws cli reads "8MB" as 8 MiB: 256 parts.
    assert head["ContentLength"] == SIZE and head["ETag"].endswith('-256"')
    target = tmp_path / "down.bin"
    run([*aws, "s3", "cp", "--only-show-errors", f"s3://{bucket}/two-gib", str(target)], env, cwd=home)
    elapsed = time.monotonic() - started
    assert target.stat().st_size == SIZE
    assert sha256_of(target) == expected
    target.unlink()
    run([*aws, "s3", "rm", f"s3://{bucket}/two-gib"], env, cwd=home)
    run([*aws, "s3", "rb", f"s3://{bucket}"], env, cwd=home)
    report_and_check(cluster, "aws cli v1 s3 cp (multipart_chunksize 8MB) via gateway-2", elapsed)
