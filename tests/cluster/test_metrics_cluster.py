"""Every process of a real cluster serves /metrics, /live and /ready; the counters follow real traffic."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from prometheus_client.parser import text_string_to_metric_families

from strata.localcluster import ClusterSpec, ProcessRecord
from strata.testing.cluster import LocalCluster

pytestmark = pytest.mark.cluster

DASHBOARD = Path(__file__).resolve().parents[2] / "docker" / "grafana-dashboard.json"
ROLES = ("metanode", "datanode", "coordinator", "gateway")
PAYLOAD = b"m" * 4096


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    spec = ClusterSpec(gateway_base_port=None, gateways=1, gc_interval_s=3600.0)
    with LocalCluster(tmp_path_factory.mktemp("metrics-cluster"), spec) as running:
        yield running


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def probe_url(record: ProcessRecord, path: str) -> str:
    assert record.metrics_port, f"{record.name} has no metrics port"
    host = record.address.split("://")[-1].rpartition(":")[0]
    return f"http://{host}:{record.metrics_port}{path}"


def scrape(record: ProcessRecord) -> dict[str, Any]:
    """The parsed /metrics of one process: family name -> family."""
    status, body = get(probe_url(record, "/metrics"))
    assert status == 200, (record.name, status, body[:200])
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def value(families: dict[str, Any], sample_name: str, **labels: str) -> float:
    """Sum of the samples named ``sample_name`` whose labels include ``labels``."""
    family = families.get(sample_name.removesuffix("_total").removesuffix("_bucket").removesuffix("_count"))
    if family is None:
        family = families.get(re.sub(r"_(sum|count|bucket)$", "", sample_name))
    if family is None:
        return 0.0
    return sum(
        sample.value
        for sample in family.samples
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def wait_for(check: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def s3_client(cluster: LocalCluster) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=cluster.gateway_urls[0],
        aws_access_key_id="accessKey1",
        aws_secret_access_key="verySecretKey1",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def ready(record: ProcessRecord) -> bool:
    return get(probe_url(record, "/ready"))[0] == 200


def test_every_process_serves_metrics_live_and_ready(cluster: LocalCluster) -> None:
    expected = {
        "gateway": "strata_s3_requests",
        "metanode": "strata_metanode_shard_term",
        "datanode": "strata_datanode_used_bytes",
        "coordinator": "strata_coordinator_leader",
    }
    for role in ROLES:
        records = cluster.processes(role)
        assert records, role
        for record in records:
            families = scrape(record)
            assert expected[role] in families, (record.name, sorted(families))
            assert "strata_process_resident_memory_bytes" in families
            assert get(probe_url(record, "/live"))[0] == 200
            wait_for(lambda record=record: ready(record), f"{record.name} to be ready")
    for record in cluster.processes("coordinator"):  # the --listen probe port serves /metrics too
        status, body = get(f"http://{record.address}/metrics")
        assert status == 200
        assert "strata_coordinator_leader" in {f.name for f in text_string_to_metric_families(body.decode())}
    leaders = [
        record
        for record in cluster.processes("metanode")
        if value(scrape(record), "strata_metanode_shard_leader", shard="s1") == 1
    ]
    assert len(leaders) == 1


def metanode_leader(cluster: LocalCluster) -> ProcessRecord:
    def find() -> ProcessRecord | None:
        for record in cluster.processes("metanode"):
            if value(scrape(record), "strata_metanode_shard_leader", shard="s1") == 1:
                return record
        return None

    found: ProcessRecord = wait_for(find, "a metanode to lead shard s1")
    return found


def test_counters_move_with_traffic(cluster: LocalCluster) -> None:
    gateway = cluster.processes("gateway")[0]
    leader = metanode_leader(cluster)
    s3 = s3_client(cluster)
    s3.create_bucket(Bucket="metrics-traffic")
    before = scrape(gateway)
    leader_before = scrape(leader)
    for index in range(3):
        s3.put_object(Bucket="metrics-traffic", Key=f"object-{index}", Body=PAYLOAD)
    assert s3.get_object(Bucket="metrics-traffic", Key="object-0")["Body"].read() == PAYLOAD
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="metrics-traffic", Key="missing")

    after = scrape(gateway)
    puts = "strata_s3_requests_total"
    assert value(after, puts, operation="PutObject", status="200") == (
        value(before, puts, operation="PutObject", status="200") + 3
    )
    assert value(after, puts, operation="GetObject", status="404") == (
        value(before, puts, operation="GetObject", status="404") + 1
    )
    received = "strata_s3_received_bytes_total"
    assert value(after, received, operation="PutObject") >= (
        value(before, received, operation="PutObject") + 3 * len(PAYLOAD)
    )
    sent = "strata_s3_sent_bytes_total"
    assert value(after, sent, operation="GetObject") >= value(before, sent, operation="GetObject") + len(
        PAYLOAD
    )
    latency = "strata_s3_request_duration_seconds_count"
    assert value(after, latency, operation="PutObject") >= value(before, latency, operation="PutObject") + 3
    # The gateway's gRPC client calls, and the metadata leader's side of them.
    client_puts = "strata_grpc_client_handled_total"
    assert value(after, client_puts, service="MetadataService", method="PutObject", code="OK") >= (
        value(before, client_puts, service="MetadataService", method="PutObject", code="OK") + 3
    )
    leader_after = scrape(leader)
    served = "strata_grpc_server_handled_total"
    assert value(leader_after, served, service="MetadataService", method="PutObject", code="OK") >= (
        value(leader_before, served, service="MetadataService", method="PutObject", code="OK") + 3
    )
    commits = "strata_metanode_group_commit_entries_count"
    assert value(leader_after, commits) > value(leader_before, commits)
    assert value(leader_after, "strata_metanode_rocksdb_estimated_keys", shard="s1") > 0
    followers = [
        sample
        for sample in leader_after["strata_metanode_replication_lag_entries"].samples
        if sample.labels["shard"] == "s1"
    ]
    assert len(followers) == 2  # three replicas: the leader reports on the other two


def test_datanodes_report_capacity_and_blobs(cluster: LocalCluster) -> None:
    s3 = s3_client(cluster)
    s3.create_bucket(Bucket="metrics-blobs")
    served = "strata_grpc_server_handled_total"
    puts_before = sum(
        value(scrape(d), served, service="DataService", method="Put", code="OK")
        for d in cluster.processes("datanode")
    )
    big = b"b" * (1024 * 1024)  # above the inline threshold: stored as blobs on datanodes
    s3.put_object(Bucket="metrics-blobs", Key="big", Body=big)
    puts_after = sum(
        value(scrape(d), served, service="DataService", method="Put", code="OK")
        for d in cluster.processes("datanode")
    )
    assert puts_after >= puts_before + 2  # at least a write quorum of the three replicas

    def stored() -> bool:
        records = cluster.processes("datanode")
        blobs = [value(scrape(d), "strata_datanode_blobs", location="us-east-1") for d in records]
        return sum(1 for count in blobs if count >= 1) >= 2  # a write quorum holds it

    wait_for(stored, "datanodes to count the blob", timeout_s=60.0)
    for record in cluster.processes("datanode"):
        families = scrape(record)
        assert value(families, "strata_datanode_capacity_bytes", location="us-east-1") > 0
        assert value(families, "strata_datanode_available_bytes", location="us-east-1") > 0


def test_dashboard_uses_only_metric_names_the_processes_export(cluster: LocalCluster) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    used = {name for expr in expressions for name in re.findall(r"\bstrata_[a-z0-9_]+", expr)}
    assert len(used) > 30
    exported: set[str] = set()
    for record in cluster.processes():
        if record.role in ROLES:
            for family in scrape(record).values():
                exported.update(sample.name for sample in family.samples)
                exported.add(family.name)
    missing = sorted(used - exported)
    assert not missing, f"the dashboard uses metrics no process exports: {missing}"


def test_gateway_turns_unready_while_no_metadata_replica_answers(cluster: LocalCluster) -> None:
    gateway = cluster.processes("gateway")[0]
    wait_for(lambda: ready(gateway), "the gateway to be ready")
    metanodes = [record.name for record in cluster.processes("metanode")]
    for name in metanodes:
        cluster.launcher.signal_process(name, signal.SIGSTOP)
    try:

        def unready() -> dict[str, Any] | None:
            status, body = get(probe_url(gateway, "/ready"))
            return json.loads(body) if status == 503 else None

        detail = wait_for(unready, "the gateway's /ready to answer 503")
        assert detail["ready"] is False
        assert "metadata" in detail
        assert get(probe_url(gateway, "/live"))[0] == 200  # alive, only unable to serve
    finally:
        for name in metanodes:
            cluster.launcher.signal_process(name, signal.SIGCONT)
    wait_for(lambda: ready(gateway), "the gateway to be ready again", timeout_s=60.0)
