"""strata.runtime.metrics: the metric helpers, the probe port, and the gRPC interceptors over real sockets."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from datanode.client import DataNodeClient
from datanode.memory import MemoryBackend
from datanode.server import bound_port, start_server
from protos.errors import StrataError
from strata.runtime import metrics

pytestmark = pytest.mark.asyncio


def sample(name: str, **labels: str) -> float:
    """The current value of one sample of this process's registry (0 when it does not exist yet)."""
    value = metrics.REGISTRY.get_sample_value(name, labels)
    return value or 0.0


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


async def test_s3_request_metrics_count_by_operation_and_status() -> None:
    before = sample("strata_s3_requests_total", operation="TestPutObject", status="200")
    received = sample("strata_s3_received_bytes_total", operation="TestPutObject")
    observations = sample("strata_s3_request_duration_seconds_count", operation="TestPutObject")
    metrics.S3_REQUEST_METRICS.observe("TestPutObject", 200, 0.003, 4096, 0)
    metrics.S3_REQUEST_METRICS.observe("TestPutObject", 200, 0.002, 4096, 0)
    metrics.S3_REQUEST_METRICS.observe("TestPutObject", 503, 0.002, 0, 180)
    assert sample("strata_s3_requests_total", operation="TestPutObject", status="200") == before + 2
    assert sample("strata_s3_requests_total", operation="TestPutObject", status="503") >= 1
    assert sample("strata_s3_received_bytes_total", operation="TestPutObject") == received + 8192
    assert sample("strata_s3_request_duration_seconds_count", operation="TestPutObject") == observations + 3
    assert sample("strata_s3_sent_bytes_total", operation="TestPutObject") >= 180


async def test_rendered_metrics_parse_and_refreshers_run_before_each_scrape() -> None:
    calls = []

    async def refresh() -> None:
        calls.append(1)
        metrics.DATANODE_BLOBS.labels("test-location").set(len(calls))

    remove = metrics.add_refresher(refresh)
    try:
        first = families((await metrics.render_metrics()).decode())
        second = families((await metrics.render_metrics()).decode())
    finally:
        remove()
    assert len(calls) == 2
    for parsed in (first, second):
        assert "strata_datanode_blobs" in parsed
        assert "strata_process_cpu_seconds" in parsed
    blobs = [
        s for s in second["strata_datanode_blobs"].samples if s.labels.get("location") == "test-location"
    ]
    assert blobs[0].value == 2
    await metrics.render_metrics()
    assert len(calls) == 2  # removed: no longer called


async def test_a_failing_refresher_leaves_the_scrape_answering() -> None:
    async def broken() -> None:
        raise RuntimeError("store closed")

    remove = metrics.add_refresher(broken)
    try:
        parsed = families((await metrics.render_metrics()).decode())
    finally:
        remove()
    assert "strata_s3_requests" in parsed


@pytest.mark.parametrize("text", ["8000", "host:", "host:port", "host:70000"])
async def test_metrics_listen_must_be_host_and_port(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        metrics.parse_metrics_listen(text)


async def test_metrics_listen_empty_means_off() -> None:
    assert metrics.parse_metrics_listen("") is None
    assert metrics.parse_metrics_listen(None) is None
    assert await metrics.start_metrics_server(None) is None
    assert metrics.parse_metrics_listen("[::1]:9100") == ("::1", 9100)


@pytest.fixture
async def probe_server() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    state: dict[str, Any] = {"ready": True, "detail": {}}

    async def readiness() -> tuple[bool, dict[str, Any]]:
        if state.get("raise"):
            raise RuntimeError("cannot tell")
        return state["ready"], state["detail"]

    server = await metrics.start_metrics_server("127.0.0.1:0", readiness)
    assert server is not None
    try:
        yield f"http://127.0.0.1:{server.port}", state
    finally:
        await server.close()


async def test_probe_port_serves_metrics_live_and_ready(probe_server: tuple[str, dict[str, Any]]) -> None:
    url, state = probe_server
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            assert "strata_s3_requests" in families(await response.text())
        async with session.get(f"{url}/live") as response:
            assert response.status == 200
        async with session.get(f"{url}/ready") as response:
            assert response.status == 200
            assert (await response.json())["ready"] is True
        state.update(ready=False, detail={"metadata": "metadata unreachable (UNAVAILABLE)"})
        async with session.get(f"{url}/ready") as response:
            assert response.status == 503
            body = json.loads(await response.text())
            assert body == {"ready": False, "metadata": "metadata unreachable (UNAVAILABLE)"}
        state["raise"] = True
        async with session.get(f"{url}/ready") as response:
            assert response.status == 503
            assert (await response.json())["error"] == "cannot tell"


async def test_grpc_calls_are_counted_on_both_sides_by_method_and_code() -> None:
    backend = MemoryBackend()
    server = await start_server(backend, "127.0.0.1:0", "node-1", "us-east-1")
    client = DataNodeClient(f"127.0.0.1:{bound_port(server)}")
    labels = {"service": "DataService", "method": "Head"}
    before_server = sample("strata_grpc_server_handled_total", **labels, code="OK")
    before_client = sample("strata_grpc_client_handled_total", **labels, code="OK")
    before_latency = sample("strata_grpc_client_handling_seconds_count", **labels)
    refused_server = sample("strata_grpc_server_handled_total", **labels, code="INVALID_ARGUMENT")
    refused_client = sample("strata_grpc_client_handled_total", **labels, code="INVALID_ARGUMENT")
    try:
        assert await client.head(uuid.uuid4().hex) is None
        assert await client.head(uuid.uuid4().hex) is None
        with pytest.raises(StrataError):
            await client.head("not a blob id")
        assert sample("strata_grpc_server_handled_total", **labels, code="OK") == before_server + 2
        assert sample("strata_grpc_client_handled_total", **labels, code="OK") == before_client + 2
        assert sample("strata_grpc_client_handling_seconds_count", **labels) == before_latency + 3
        assert (
            sample("strata_grpc_server_handled_total", **labels, code="INVALID_ARGUMENT")
            == refused_server + 1
        )
        assert (
            sample("strata_grpc_client_handled_total", **labels, code="INVALID_ARGUMENT")
            == refused_client + 1
        )
    finally:
        await client.close()
        await server.stop(None)
        await backend.close()


async def test_a_failed_grpc_call_is_counted_under_its_status_code() -> None:
    # Nothing listens on this address: the call fails UNAVAILABLE on the client side.
    client = DataNodeClient("127.0.0.1:1", call_timeout=2.0)
    labels = {"service": "DataService", "method": "Health"}
    before = sample("strata_grpc_client_handled_total", **labels, code="UNAVAILABLE")
    try:
        with pytest.raises(StrataError):
            await client.health()
    finally:
        await client.close()
    assert sample("strata_grpc_client_handled_total", **labels, code="UNAVAILABLE") == before + 1


async def test_grpc_method_names_are_split_into_service_and_method() -> None:
    assert metrics._split_method("/strata.MetadataService/PutObject") == ("MetadataService", "PutObject")
    metrics.observe_grpc_server("/strata.TestService/Call", grpc.StatusCode.NOT_FOUND, 0.01)
    assert (
        sample("strata_grpc_server_handled_total", service="TestService", method="Call", code="NOT_FOUND")
        >= 1
    )


REPO = Path(__file__).resolve().parents[3]


def registered_names() -> set[str]:
    """Every sample name this registry can export (counters with _total, histograms' series)."""
    names: set[str] = set()
    for family in metrics.REGISTRY.collect():
        names.add(family.name)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


async def test_monitoring_doc_describes_every_metric() -> None:
    doc = (REPO / "docs" / "monitoring.md").read_text()
    documented = set(re.findall(r"`(strata_[a-z0-9_]+)`", doc))
    exported = {
        f"{family.name}_total" if family.type == "counter" else family.name
        for family in metrics.REGISTRY.collect()
        if not family.name.startswith("strata_test")
    }
    assert not exported - documented, (
        f"metrics missing from docs/monitoring.md: {sorted(exported - documented)}"
    )
    assert not documented - registered_names(), (
        f"documented but not exported: {documented - registered_names()}"
    )


async def test_dashboard_is_valid_json_over_registered_metrics() -> None:
    dashboard = json.loads((REPO / "docker" / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    used = {name for expr in expressions for name in re.findall(r"\bstrata_[a-z0-9_]+", expr)}
    assert used and not used - registered_names(), sorted(used - registered_names())
