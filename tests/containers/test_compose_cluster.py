"""docker-compose.yml for real: one cluster for the module (three gateways behind HAProxy), reused by
every test in order: S3 clients through the load balancer, the spread over the gateways, the loss of
the metadata leader and of a datanode under a writer, a leader cut off the network, and ``down -v``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from strata.testing.checker import check_history
from strata.testing.history import WRITES, History, Workload, WorkloadSpec
from tests.containers.compose_project import ComposeProject, docker, free_port, s3_client, wait_until

# A shard's leadership can move on a busy host (its lease renewals come late); gateways then answer
# 503 ServiceUnavailable, which S3 clients retry, as these tests' clients do. Anything else fails them.
pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800), pytest.mark.allow_server_errors(503)]

GATEWAYS = 3
SHARD = "s1"
METANODES = ["metanode-1", "metanode-2", "metanode-3"]
UP_TIMEOUT_S = 300.0  # the whole cluster on a busy 2-core machine
FAILOVER_TIMEOUT_S = 120.0
RESTART_TIMEOUT_S = 300.0  # docker start of a killed node until it is healthy again, on a busy host


@pytest.fixture(scope="module")
def cluster(
    compose_images: tuple[str, ...], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ComposeProject]:
    workdir = tmp_path_factory.mktemp("compose-cluster")
    project = ComposeProject(
        "cluster",
        ["docker-compose.yml"],
        workdir,
        {"STRATA_S3_PORT": str(free_port()), "STRATA_LB_STATS_PORT": str(free_port())},
    )
    with project.running("--scale", f"gateway={GATEWAYS}"):
        wait_until(
            lambda: _in_sync(project, len(METANODES)),
            UP_TIMEOUT_S,
            "a shard leader with every replica in sync",
        )
        yield project


def endpoint(project: ComposeProject) -> str:
    return f"http://127.0.0.1:{project.env['STRATA_S3_PORT']}"


def _health(project: ComposeProject) -> dict[str, Any]:
    """The gateways' /_/healthcheck through the load balancer (its body also comes with a 503)."""
    try:
        with urllib.request.urlopen(f"{endpoint(project)}/_/healthcheck", timeout=5) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as error:
        return dict(json.load(error))


def _leader(project: ComposeProject) -> str | None:
    shard = _health(project).get("shards", {}).get(SHARD, {})
    leader = shard.get("leader")
    return str(leader) if leader else None


def _in_sync(project: ComposeProject, members: int) -> bool:
    shard = _health(project).get("shards", {}).get(SHARD, {})
    return bool(shard.get("leader")) and len(shard.get("isr") or []) >= members


def _workload(project: ComposeProject, name: str, workers: int = 3) -> Workload:
    spec = WorkloadSpec(
        workers=workers,
        plain_bucket=f"{name}-plain-{uuid.uuid4().hex[:6]}",
        versioned_bucket=f"{name}-versioned-{uuid.uuid4().hex[:6]}",
        request_timeout_s=20.0,
    )
    workload = Workload([endpoint(project)], spec)
    # Workload.prepare makes one attempt per call; through a balancer a retrying client is fairer.
    client = s3_client(endpoint(project))
    for bucket in workload.buckets:
        client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=spec.versioned_bucket, VersioningConfiguration={"Status": "Enabled"})
    return workload


def _acknowledged_after(history: History, instant: float) -> int:
    """Writes acknowledged that were sent after ``instant`` (monotonic)."""
    return sum(
        1
        for op in list(history.operations)
        if op.kind in WRITES and op.outcome == "ok" and op.invoked > instant
    )


def _check(workload: Workload, history: History) -> str:
    workload.abort_leftover_uploads()
    workload.read_final_state(history)
    report = check_history(history)
    assert report.ok, report.summary()
    assert report.acknowledged_writes > 0, report.summary()
    return report.summary()


def test_every_role_is_healthy_by_the_images_own_check(cluster: ComposeProject) -> None:
    # No service overrides the image's HEALTHCHECK: each role answers it from its own /ready.
    roles = [
        "metanode-1",
        "metanode-2",
        "metanode-3",
        "datanode-1",
        "datanode-2",
        "datanode-3",
        "coordinator",
    ]
    containers = [cluster.container(role) for role in roles] + cluster.containers("gateway")
    cluster.wait_healthy(containers, timeout=UP_TIMEOUT_S)
    for container in containers:
        checked = docker("exec", container, "python3", "-m", "strata.healthcheck", check=False)
        assert checked.returncode == 0, (container, checked.stdout)
        assert json.loads(checked.stdout)["ready"] is True, (container, checked.stdout)
    # Stopped, a datanode's check fails; the others stay healthy (a write quorum of 2 of 3 remains).
    datanode = cluster.container("datanode-3")
    docker("pause", datanode)
    try:
        checked = docker(
            "exec",
            cluster.containers("gateway")[0],
            "python3",
            "-m",
            "strata.healthcheck",
            "http://datanode-3:9100/ready",
            check=False,
        )
        assert checked.returncode == 1, checked.stdout
    finally:
        docker("unpause", datanode)
    cluster.wait_healthy(containers, timeout=UP_TIMEOUT_S)


def test_boto3_through_the_load_balancer(cluster: ComposeProject) -> None:
    client = s3_client(endpoint(cluster))
    bucket = f"boto3-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    bodies = {f"dir/key-{index}": os.urandom(1000 + index * 40_000) for index in range(4)}
    for key, body in bodies.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
    for key, body in bodies.items():
        assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    listed = client.list_objects_v2(Bucket=bucket, Prefix="dir/")
    assert sorted(item["Key"] for item in listed["Contents"]) == sorted(bodies)
    client.delete_object(Bucket=bucket, Key="dir/key-0")
    assert "dir/key-0" not in [item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]]


def test_aws_cli_through_the_load_balancer(cluster: ComposeProject, tmp_path: Path) -> None:
    config = tmp_path / "aws-config"
    config.write_text(
        "[default]\naws_access_key_id = accessKey1\naws_secret_access_key = verySecretKey1\nregion = us-east-1\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")} | {
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(config),
    }
    bucket = f"cli-{uuid.uuid4().hex[:10]}"
    source = tmp_path / "upload.bin"
    source.write_bytes(os.urandom(10 * 1024 * 1024))  # over the cli's 8 MiB threshold: a multipart upload
    fetched = tmp_path / "download.bin"

    def aws(*args: str) -> str:
        result = subprocess.run(
            ["aws", "--endpoint-url", endpoint(cluster), "s3", *args],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, f"aws s3 {' '.join(args)}: {result.stderr}"
        return result.stdout

    aws("mb", f"s3://{bucket}")
    aws("cp", str(source), f"s3://{bucket}/upload.bin")
    aws("cp", f"s3://{bucket}/upload.bin", str(fetched))
    assert fetched.read_bytes() == source.read_bytes()
    assert "upload.bin" in aws("ls", f"s3://{bucket}/")


_READ_METRICS = (
    "import urllib.request; "
    "print(urllib.request.urlopen('http://127.0.0.1:9100/metrics', timeout=5).read().decode())"
)


def _puts_per_gateway(cluster: ComposeProject) -> Counter[str]:
    """The PutObject answers each gateway has counted, read from its own ``/metrics`` (port 9100)."""
    counts: Counter[str] = Counter()
    for gateway in cluster.containers("gateway"):
        scraped = docker("exec", gateway, "python3", "-c", _READ_METRICS)
        assert scraped.returncode == 0, scraped.stderr
        for family in text_string_to_metric_families(scraped.stdout):
            for sample in family.samples:
                if (
                    sample.name == "strata_s3_requests_total"
                    and sample.labels.get("operation") == "PutObject"
                ):
                    counts[gateway] += int(sample.value)
    return counts


def test_requests_spread_over_every_scaled_gateway(cluster: ComposeProject) -> None:
    gateways = cluster.containers("gateway")
    assert len(gateways) == GATEWAYS
    # HAProxy found every scaled gateway through Docker's DNS and checks each one.
    wait_until(lambda: len(_lb_servers_up(cluster)) == GATEWAYS, 60, f"{GATEWAYS} gateways up in HAProxy")
    client = s3_client(endpoint(cluster))
    bucket = f"spread-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    before = _puts_per_gateway(cluster)
    requests = 30
    for index in range(requests):
        client.put_object(Bucket=bucket, Key=f"k{index}", Body=b"x" * 100)
    after = _puts_per_gateway(cluster)
    served = {gateway: after[gateway] - before[gateway] for gateway in gateways}
    assert sum(served.values()) == requests, served  # each PUT counted once, by the gateway that served it
    assert all(count >= requests // (GATEWAYS * 3) for count in served.values()), served


def _lb_servers_up(cluster: ComposeProject) -> list[str]:
    stats_port = cluster.env["STRATA_LB_STATS_PORT"]
    with urllib.request.urlopen(f"http://127.0.0.1:{stats_port}/stats;csv", timeout=5) as response:
        rows = response.read().decode().splitlines()
    header = rows[0].lstrip("# ").split(",")
    name, server, status = header.index("pxname"), header.index("svname"), header.index("status")
    return [
        fields[server]
        for fields in (row.split(",") for row in rows[1:])
        if fields[name] == "gateways" and fields[server] != "BACKEND" and fields[status].startswith("UP")
    ]


def _restart_and_wait(cluster: ComposeProject, containers: list[str]) -> None:
    for container in containers:
        docker("start", container)
    cluster.follow_logs()
    cluster.wait_healthy(containers, timeout=RESTART_TIMEOUT_S)
    wait_until(lambda: _in_sync(cluster, len(METANODES)), RESTART_TIMEOUT_S, "all metanodes back in sync")


# The killed leader's requests in flight answer 503 ServiceUnavailable until a new leader takes over.
def test_killing_the_metadata_leader_and_a_datanode_loses_no_acknowledged_write(
    cluster: ComposeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    wait_until(lambda: _in_sync(cluster, len(METANODES)), RESTART_TIMEOUT_S, "all metanodes in sync")
    workload = _workload(cluster, "kill")
    killed: list[str] = []

    def inject(history: History) -> None:
        wait_until(lambda: _acknowledged_after(history, 0) >= 20, 60, "the writer to get going")
        old_leader = _leader(cluster)
        assert old_leader is not None
        leader_container = cluster.container(old_leader)
        docker("kill", leader_container)
        killed.append(leader_container)
        history.faults.append((time.monotonic(), f"docker kill {old_leader}"))
        wait_until(
            lambda: _leader(cluster) not in (None, old_leader), FAILOVER_TIMEOUT_S, "a new metadata leader"
        )
        after_leader = time.monotonic()
        wait_until(
            lambda: _acknowledged_after(history, after_leader) >= 10,
            FAILOVER_TIMEOUT_S,
            "writes acknowledged under the new leader",
        )
        datanode = cluster.container("datanode-2")
        docker("kill", datanode)
        killed.append(datanode)
        history.faults.append((time.monotonic(), "docker kill datanode-2"))
        after_datanode = time.monotonic()
        wait_until(
            lambda: _acknowledged_after(history, after_datanode) >= 10,
            FAILOVER_TIMEOUT_S,
            "writes acknowledged with a datanode down",
        )

    try:
        history = workload.run(duration_s=4 * FAILOVER_TIMEOUT_S, during=inject, tail_s=2)
    finally:
        _restart_and_wait(cluster, killed)
    summary = _check(workload, history)
    with capsys.disabled():
        print(f"\n  leader and datanode killed: {summary}")


def test_a_leader_cut_off_the_network_is_replaced_and_writes_go_on(
    cluster: ComposeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    wait_until(lambda: _in_sync(cluster, len(METANODES)), RESTART_TIMEOUT_S, "all metanodes in sync")
    workload = _workload(cluster, "partition")
    cut: list[tuple[str, str]] = []

    def inject(history: History) -> None:
        wait_until(lambda: _acknowledged_after(history, 0) >= 20, 60, "the writer to get going")
        old_leader = _leader(cluster)
        assert old_leader is not None
        container = cluster.container(old_leader)
        docker("network", "disconnect", cluster.network, container)
        cut.append((old_leader, container))
        history.faults.append((time.monotonic(), f"docker network disconnect {old_leader}"))
        wait_until(
            lambda: _leader(cluster) not in (None, old_leader), FAILOVER_TIMEOUT_S, "a new metadata leader"
        )
        after = time.monotonic()
        wait_until(
            lambda: _acknowledged_after(history, after) >= 20,
            FAILOVER_TIMEOUT_S,
            "writes acknowledged under the new leader",
        )

    try:
        history = workload.run(duration_s=3 * FAILOVER_TIMEOUT_S, during=inject, tail_s=2)
    finally:
        for service, container in cut:
            # The service name is a network alias: without it peers could not find the node again.
            docker("network", "connect", "--alias", service, cluster.network, container)
        wait_until(
            lambda: _in_sync(cluster, len(METANODES)), RESTART_TIMEOUT_S, "the cut-off metanode back in sync"
        )
    summary = _check(workload, history)
    with capsys.disabled():
        print(f"\n  leader cut off: {summary}")


def test_down_with_volumes_leaves_no_container_network_or_volume(cluster: ComposeProject) -> None:
    assert cluster.resources()["volumes"], "the running project should have its named volumes"
    cluster.down()
    assert cluster.resources() == {}
