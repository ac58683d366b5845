"""Prometheus metrics and the probe port every process serves: ``/metrics``, ``/live``, ``/ready``.

One registry per process (``REGISTRY``); every metric Strata exports is defined here, named
``strata_...`` with its unit in the name. Hot paths observe through pre-bound label children
(:class:`S3RequestMetrics`, :func:`observe_grpc_server`, the gRPC client interceptor), so a request
costs a dict lookup and a few additions, never a new label set. Figures that are state rather than
events (RocksDB sizes, leadership, replication lag, capacity) are set at scrape time by the
*refreshers* a role registers with :func:`add_refresher`: nothing is computed between scrapes.

Like the rest of ``strata/runtime``, this module imports no project package: roles hand it
callables.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

log = logging.getLogger("strata.metrics")

METRICS_LISTEN_ENV = "STRATA_METRICS_LISTEN"

# The *_created series double every counter's output and no dashboard reads them.
disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(namespace="strata", registry=REGISTRY)

# Request latencies from a cached metadata read (~1 ms) to a large upload (minutes).
LATENCY_BUCKETS_S = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    120.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

# ---- gateway ----
S3_REQUESTS = Counter(
    "strata_s3_requests", "S3 requests answered, by operation and HTTP status", ["operation", "status"],
    registry=REGISTRY,
)  # fmt: skip
S3_REQUEST_SECONDS = Histogram(
    "strata_s3_request_duration_seconds", "Time from a request's arrival to its answer, by S3 operation",
    ["operation"], buckets=LATENCY_BUCKETS_S, registry=REGISTRY,
)  # fmt: skip
S3_RECEIVED_BYTES = Counter(
    "strata_s3_received_bytes",
    "Request body bytes received, by S3 operation",
    ["operation"],
    registry=REGISTRY,
)
S3_SENT_BYTES = Counter(
    "strata_s3_sent_bytes", "Response body bytes sent, by S3 operation", ["operation"], registry=REGISTRY
)
LOCATION_UP = Gauge(
    "strata_location_up", "1 when a location can be written (its datanodes or cloud answer), else 0",
    ["location"], registry=REGISTRY,
)  # fmt: skip
LOCATION_DATANODES = Gauge(
    "strata_location_datanodes", "Datanodes registered for a location, by state (up, unreachable)",
    ["location", "state"], registry=REGISTRY,
)  # fmt: skip
UNDER_REPLICATED_OBJECTS = Gauge(
    "strata_under_replicated_objects", "Objects with blobs short of their replicas, by location",
    ["location"], registry=REGISTRY,
)  # fmt: skip
SHARD_HAS_LEADER = Gauge(
    "strata_shard_has_leader", "1 when the gateway sees a leader for the metadata shard", ["shard"],
    registry=REGISTRY,
)  # fmt: skip

# ---- gRPC, in every process ----
GRPC_SERVER_HANDLED = Counter(
    "strata_grpc_server_handled", "gRPC calls served, by service, method and status code",
    ["service", "method", "code"], registry=REGISTRY,
)  # fmt: skip
GRPC_SERVER_SECONDS = Histogram(
    "strata_grpc_server_handling_seconds", "Time to serve a gRPC call, by service and method",
    ["service", "method"], buckets=LATENCY_BUCKETS_S, registry=REGISTRY,
)  # fmt: skip
GRPC_CLIENT_HANDLED = Counter(
    "strata_grpc_client_handled", "gRPC calls made, by service, method and status code",
    ["service", "method", "code"], registry=REGISTRY,
)  # fmt: skip
GRPC_CLIENT_SECONDS = Histogram(
    "strata_grpc_client_handling_seconds", "Time until a gRPC call made got its answer, by service and method",
    ["service", "method"], buckets=LATENCY_BUCKETS_S, registry=REGISTRY,
)  # fmt: skip

# ---- metanode ----
GROUP_COMMIT_ENTRIES = Histogram(
    "strata_metanode_group_commit_entries", "Log entries written per group-commit batch (one WAL sync each)",
    buckets=BATCH_BUCKETS, registry=REGISTRY,
)  # fmt: skip
ROCKSDB_ESTIMATED_KEYS = Gauge(
    "strata_metanode_rocksdb_estimated_keys", "RocksDB's estimate of the keys in the store", ["shard"],
    registry=REGISTRY,
)  # fmt: skip
ROCKSDB_SST_BYTES = Gauge(
    "strata_metanode_rocksdb_sst_bytes", "Bytes of the store's live SST files", ["shard"], registry=REGISTRY
)
ROCKSDB_MEMTABLE_BYTES = Gauge(
    "strata_metanode_rocksdb_memtable_bytes", "Bytes in the store's memtables", ["shard"], registry=REGISTRY
)
SHARD_LEADING = Gauge(
    "strata_metanode_shard_leader",
    "1 while this replica leads its shard, else 0",
    ["shard"],
    registry=REGISTRY,
)
SHARD_TERM = Gauge(
    "strata_metanode_shard_term",
    "The newest term this replica knows for its shard",
    ["shard"],
    registry=REGISTRY,
)
LOG_INDEX = Gauge(
    "strata_metanode_log_index",
    "This replica's last durable replication log index",
    ["shard"],
    registry=REGISTRY,
)
REPLICATION_LAG = Gauge(
    "strata_metanode_replication_lag_entries", "Log entries a follower is behind the leader (leader only)",
    ["shard", "follower"], registry=REGISTRY,
)  # fmt: skip
FOLLOWER_IN_SYNC = Gauge(
    "strata_metanode_follower_in_sync", "1 when the follower is in the shard's in-sync replica set (leader only)",
    ["shard", "follower"], registry=REGISTRY,
)  # fmt: skip
GC_QUEUE_ENTRIES = Gauge(
    "strata_metanode_gc_queue_entries", "Entries waiting in the GC queue (leader only)", ["shard"],
    registry=REGISTRY,
)  # fmt: skip
INTENTS_OPEN = Gauge(
    "strata_metanode_intents_open", "Write intents not yet committed or collected (leader only)", ["shard"],
    registry=REGISTRY,
)  # fmt: skip

# ---- datanode ----
DATANODE_USED_BYTES = Gauge(
    "strata_datanode_used_bytes", "Bytes the stored blobs take", ["location"], registry=REGISTRY
)
DATANODE_CAPACITY_BYTES = Gauge(
    "strata_datanode_capacity_bytes",
    "Size of the filesystem the blobs are on",
    ["location"],
    registry=REGISTRY,
)
DATANODE_AVAILABLE_BYTES = Gauge(
    "strata_datanode_available_bytes", "Bytes writers may still use", ["location"], registry=REGISTRY
)
DATANODE_BLOBS = Gauge("strata_datanode_blobs", "Blobs stored", ["location"], registry=REGISTRY)

# ---- coordinator ----
COORDINATOR_LEADING = Gauge(
    "strata_coordinator_leader", "1 while this coordinator is the active one, else 0", registry=REGISTRY
)
REPAIR_ROUNDS = Counter(
    "strata_coordinator_repair_rounds", "Repair rounds finished, by outcome (ok, failed: a shard did not answer)",
    ["outcome"], registry=REGISTRY,
)  # fmt: skip
REPAIR_BLOBS_COPIED = Counter(
    "strata_coordinator_repair_copied_blobs", "Blob replicas the repair passes copied, by shard", ["shard"],
    registry=REGISTRY,
)  # fmt: skip
REPAIR_BLOBS_REMAINING = Gauge(
    "strata_coordinator_repair_remaining_blobs", "Blobs still short of their replicas after the last pass, by shard",
    ["shard"], registry=REGISTRY,
)  # fmt: skip
REPAIR_LAST_ROUND = Gauge(
    "strata_coordinator_repair_last_round_timestamp_seconds", "When the last repair round finished (Unix time)",
    registry=REGISTRY,
)  # fmt: skip
SCRUB_PASSES = Counter(
    "strata_coordinator_scrub_passes", "Full scrub passes finished over all live datanodes", registry=REGISTRY
)
SCRUB_BLOBS_CHECKED = Counter(
    "strata_coordinator_scrub_checked_blobs", "Blob replicas the scrubber verified", registry=REGISTRY
)
SCRUB_BYTES_CHECKED = Counter(
    "strata_coordinator_scrub_checked_bytes", "Bytes the scrubber verified", registry=REGISTRY
)
SCRUB_BLOBS_HEALED = Counter(
    "strata_coordinator_scrub_healed_blobs",
    "Replicas the scrubber rewrote from a good copy",
    registry=REGISTRY,
)
SCRUB_BLOBS_CORRUPT = Gauge(
    "strata_coordinator_scrub_corrupt_blobs", "Corrupt replicas not yet healed, as of the last pass",
    registry=REGISTRY,
)  # fmt: skip
SCRUB_BLOBS_UNRECOVERABLE = Gauge(
    "strata_coordinator_scrub_unrecoverable_blobs", "Blobs with no good replica left, as of the last pass",
    registry=REGISTRY,
)  # fmt: skip
SCRUB_LAST_PASS = Gauge(
    "strata_coordinator_scrub_last_pass_timestamp_seconds", "When the last full scrub pass finished (Unix time)",
    registry=REGISTRY,
)  # fmt: skip


# ---- hot paths ----


class S3RequestMetrics:
    """Pre-bound children per operation (and per operation and status): one dict hit per request."""

    __slots__ = ("_by_operation", "_by_status")

    def __init__(self) -> None:
        self._by_operation: dict[str, tuple[Any, Any, Any]] = {}
        self._by_status: dict[tuple[str, int], Any] = {}

    def observe(self, operation: str, status: int, seconds: float, received: int, sent: int) -> None:
        series = self._by_operation.get(operation)
        if series is None:
            series = self._by_operation[operation] = (
                S3_REQUEST_SECONDS.labels(operation),
                S3_RECEIVED_BYTES.labels(operation),
                S3_SENT_BYTES.labels(operation),
            )
        counter = self._by_status.get((operation, status))
        if counter is None:
            counter = self._by_status[(operation, status)] = S3_REQUESTS.labels(operation, str(status))
        counter.inc()
        series[0].observe(seconds)
        if received:
            series[1].inc(received)
        if sent:
            series[2].inc(sent)


S3_REQUEST_METRICS = S3RequestMetrics()


@dataclass(frozen=True, slots=True)
class _GrpcSeries:
    seconds: Any
    by_code: dict[str, Any]
    service: str
    method: str


def _split_method(full_method: str) -> tuple[str, str]:
    """``/strata.MetadataService/PutObject`` -> (``MetadataService``, ``PutObject``)."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service.rpartition(".")[2], method


class _GrpcMetrics:
    def __init__(self, handled: Counter, seconds: Histogram) -> None:
        self._handled = handled
        self._seconds = seconds
        self._series: dict[str, _GrpcSeries] = {}

    def observe(self, full_method: str, code: str, seconds: float) -> None:
        series = self._series.get(full_method)
        if series is None:
            service, method = _split_method(full_method)
            series = self._series[full_method] = _GrpcSeries(
                self._seconds.labels(service, method), {}, service, method
            )
        counter = series.by_code.get(code)
        if counter is None:
            counter = series.by_code[code] = self._handled.labels(series.service, series.method, code)
        counter.inc()
        series.seconds.observe(seconds)


_GRPC_SERVER = _GrpcMetrics(GRPC_SERVER_HANDLED, GRPC_SERVER_SECONDS)
_GRPC_CLIENT = _GrpcMetrics(GRPC_CLIENT_HANDLED, GRPC_CLIENT_SECONDS)


def observe_grpc_server(full_method: str, code: grpc.StatusCode | None, seconds: float) -> None:
    """Counts one served call (called by the request-id server interceptor, which times every call)."""
    _GRPC_SERVER.observe(full_method, code.name if code is not None else "OK", seconds)


class ClientMetricsInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Counts and times every unary call made on a channel, by method and status code.

    Only unary calls: the datanode's chunk streams are driven by hand (``write``/status polling),
    which grpc.aio's intercepted stream calls do not support the same way; they are counted where
    they are made (:func:`observe_grpc_client`).
    """

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        started = time.perf_counter()
        method = client_call_details.method
        full_method = method.decode() if isinstance(method, bytes) else str(method)
        code = "UNKNOWN"
        try:
            call = await continuation(client_call_details, request)
            await call
            code = "OK"
            return call
        except grpc.aio.AioRpcError as error:
            code = error.code().name
            raise
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        finally:
            _GRPC_CLIENT.observe(full_method, code, time.perf_counter() - started)


CLIENT_INTERCEPTORS: tuple[grpc.aio.ClientInterceptor, ...] = (ClientMetricsInterceptor(),)


def observe_grpc_client(full_method: str, code: grpc.StatusCode | None, seconds: float) -> None:
    """Counts one call made outside the interceptor (a hand-driven stream)."""
    _GRPC_CLIENT.observe(full_method, code.name if code is not None else "OK", seconds)


# ---- scrape-time figures ----

Refresher = Callable[[], Awaitable[None]]
_refreshers: list[Refresher] = []
REFRESH_TIMEOUT_S = 5.0  # a stuck figure must not hang the scrape; the others still answer


def add_refresher(refresher: Refresher) -> Callable[[], None]:
    """Runs ``refresher`` before every scrape (to set state gauges); returns its removal."""
    _refreshers.append(refresher)
    return lambda: _refreshers.remove(refresher) if refresher in _refreshers else None


async def _refresh_all() -> None:
    for refresher in list(_refreshers):
        try:
            await asyncio.wait_for(refresher(), REFRESH_TIMEOUT_S)
        except Exception as error:  # a figure that cannot be read now is left as it was
            log.warning("a metrics refresher failed: %s", error)


async def render_metrics() -> bytes:
    """The Prometheus text exposition of this process, its state figures refreshed first."""
    await _refresh_all()
    return await asyncio.to_thread(generate_latest, REGISTRY)


# ---- the probe port ----

Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
"""Says whether the process can serve now, and why not (a JSON-able detail)."""


async def always_ready() -> tuple[bool, dict[str, Any]]:
    return True, {}


async def metrics_handler(request: web.Request) -> web.Response:
    body = await render_metrics()
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response


def add_probe_routes(app: web.Application, readiness: Readiness) -> None:
    """``/metrics``, ``/live`` and ``/ready`` on ``app`` (the coordinator adds them to its probe port)."""

    async def live(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "pid": os.getpid()})

    async def ready(request: web.Request) -> web.Response:
        try:
            ok, detail = await readiness()
        except Exception as error:  # a check that cannot run says "not ready", with why
            ok, detail = False, {"error": str(error) or type(error).__name__}
        return web.Response(
            text=json.dumps({"ready": ok, **detail}),
            status=200 if ok else 503,
            content_type="application/json",
        )

    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/live", live)
    app.router.add_get("/ready", ready)


def parse_metrics_listen(text: str | None) -> tuple[str, int] | None:
    """``HOST:PORT`` (port 0 picks one) -> (host, port); empty or None: no metrics port."""
    if not text:
        return None
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--metrics-listen must be HOST:PORT, not {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass
class MetricsServer:
    runner: web.AppRunner
    host: str
    port: int

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_metrics_server(
    listen: str | None, readiness: Readiness = always_ready
) -> MetricsServer | None:
    """Serves the probe port on ``listen`` (``HOST:PORT``); None (nothing served) when ``listen`` is empty."""
    address = parse_metrics_listen(listen)
    if address is None:
        return None
    app = web.Application()
    add_probe_routes(app, readiness)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, address[0], address[1])
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1] if runner.addresses else address[1]
    log.info("metrics and probes on http://%s:%d", address[0], bound)
    return MetricsServer(runner, address[0], bound)


def default_metrics_listen() -> str | None:
    return os.environ.get(METRICS_LISTEN_ENV) or None
