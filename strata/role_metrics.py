"""What each role's probe port reports: its readiness check and the state figures set at scrape time.

The metric definitions live in :mod:`strata.runtime.metrics`; this composition-root module reads
the roles' objects (gateway services, shard replica, datanode backend, coordinator election) for
them, so none of those packages grows a dependency on another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from strata.runtime import metrics
from strata.runtime.errors import StartupError, listen_error

if TYPE_CHECKING:  # each role imports only its own packages
    from datanode.backend import Backend
    from datanode.backends.blobs import RemoteLocations
    from datanode.usage import UsageMeter
    from gateway.context import GatewayServices
    from metanode.kv import RocksKV
    from metanode.replication.node import ShardNode

DEFAULT_REPLICAS = 3  # a local location's replication factor (or all its datanodes, if fewer)
READY_CHECK_TIMEOUT_S = 3.0


def write_quorum(members: int) -> int:
    """Replicas a write needs for a location of ``members`` datanodes (DESIGN section 6)."""
    return min(DEFAULT_REPLICAS, members) // 2 + 1


class Probes(Protocol):
    async def readiness(self) -> tuple[bool, dict[str, Any]]: ...
    async def refresh(self) -> None: ...


@dataclass
class ProbePort:
    """A role's probe port (None when ``--metrics-listen`` is off) and its scrape-time refresher."""

    server: metrics.MetricsServer | None
    _remove_refresher: Callable[[], None]

    @property
    def port(self) -> int | None:
        return self.server.port if self.server is not None else None

    async def close(self) -> None:
        self._remove_refresher()
        if self.server is not None:
            await self.server.close()


def check_metrics_listen(listen: str | None) -> None:
    """Fails at start-up, in one line, on a malformed ``--metrics-listen``."""
    try:
        metrics.parse_metrics_listen(listen)
    except ValueError as error:
        raise StartupError(f"{error} (--metrics-listen / {metrics.METRICS_LISTEN_ENV})") from None


async def serve_probes(listen: str | None, probes: Probes) -> ProbePort:
    """Registers ``probes`` (their figures are refreshed at every scrape) and serves the probe port."""
    check_metrics_listen(listen)
    refresh: Callable[[], Awaitable[None]] = probes.refresh
    remove = metrics.add_refresher(refresh)
    try:
        server = await metrics.start_metrics_server(listen, probes.readiness)
    except OSError as error:
        remove()
        host, port = metrics.parse_metrics_listen(listen) or ("", 0)
        raise listen_error(host, port, error) from None
    return ProbePort(server, remove)


# ---- gateway (and the embedded server) ----


class GatewayProbes:
    """``/ready``: the metadata answers and every local location with datanodes has a write quorum up.
    At scrape time: per-location health, datanodes up/unreachable, under-replicated objects, shard leaders."""

    def __init__(self, services: GatewayServices) -> None:
        self._services = services

    async def _report(self) -> dict[str, Any]:
        from gateway.health import health_report

        return await asyncio.wait_for(health_report(self._services), READY_CHECK_TIMEOUT_S)

    def _short_of_quorum(self) -> dict[str, str]:
        datanodes = self._services.datanodes
        if datanodes is None:
            return {}
        unreachable = datanodes.unreachable()
        short: dict[str, str] = {}
        for location in datanodes.locations():
            if self._services.data.is_remote(location):
                continue
            members = datanodes.members_for_location(location)
            up = len(members) - len(unreachable.get(location, []))
            if members and up < write_quorum(len(members)):
                short[location] = (
                    f"{up} of {len(members)} datanodes up, a write needs {write_quorum(len(members))}"
                )
        return short

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        try:
            report = await self._report()
        except TimeoutError:
            return False, {"metadata": "no answer within the check's time"}
        detail: dict[str, Any] = {"metadata": report["metadata"]["message"]}
        ok = report["metadata"]["code"] == 200
        short = self._short_of_quorum()
        if short:
            ok = False
            detail["data"] = short
        return ok, detail

    async def refresh(self) -> None:
        report = await self._report()
        for shard, entry in report.get("shards", {}).items():
            metrics.SHARD_HAS_LEADER.labels(shard).set(1 if entry["leader"] else 0)
        for location, entry in report["locations"].items():
            metrics.LOCATION_UP.labels(location).set(1 if entry["code"] == 200 else 0)
            if "datanodes" in entry:
                down = len(entry["unreachable"])
                metrics.LOCATION_DATANODES.labels(location, "up").set(entry["datanodes"] - down)
                metrics.LOCATION_DATANODES.labels(location, "unreachable").set(down)
                metrics.UNDER_REPLICATED_OBJECTS.labels(location).set(entry["under_replicated"])


# ---- metanode ----


ROCKSDB_PROPERTIES = (
    (metrics.ROCKSDB_ESTIMATED_KEYS, "rocksdb.estimate-num-keys"),
    (metrics.ROCKSDB_SST_BYTES, "rocksdb.live-sst-files-size"),
    (metrics.ROCKSDB_MEMTABLE_BYTES, "rocksdb.cur-size-all-mem-tables"),
)


def _rocksdb_figures(store: RocksKV) -> list[int | None]:
    db = store.db
    return [db.property_int_value(name) for _, name in ROCKSDB_PROPERTIES]


class MetanodeProbes:
    """``/ready``: serving — leading, or a follower known to the leader as in sync.
    At scrape time: RocksDB figures, leadership and term, replication lag per follower (leader),
    GC queue depth and open intents (leader)."""

    def __init__(self, node: ShardNode) -> None:
        self._node = node
        self._followers: set[str] = set()

    def _leading(self) -> bool:
        leader = self._node.leader
        return leader is not None and not leader.ended.is_set() and self._node.lease_valid()

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        node = self._node
        if node.rocks is None:
            return False, {"shard": node.shard, "why": "the store is not open"}
        if node.installing:
            return False, {"shard": node.shard, "why": "installing a snapshot from the leader"}
        if self._leading():
            return True, {"shard": node.shard, "role": "leader", "term": node.known_term}
        isr = await node.membership.isr()
        if isr is not None and node.node_id in isr.members:
            return True, {"shard": node.shard, "role": "follower", "term": node.known_term}
        return False, {"shard": node.shard, "role": "follower", "why": "not in the shard's in-sync replicas"}

    async def refresh(self) -> None:
        node = self._node
        shard = node.shard
        if node.rocks is not None:
            figures = await asyncio.to_thread(_rocksdb_figures, node.rocks)
            for (gauge, _), value in zip(ROCKSDB_PROPERTIES, figures, strict=True):
                if value is not None:
                    gauge.labels(shard).set(value)
        leading = self._leading()
        metrics.SHARD_LEADING.labels(shard).set(1 if leading else 0)
        metrics.SHARD_TERM.labels(shard).set(node.known_term)
        leader, core = node.leader, node.core
        followers: dict[str, Any] = {}
        log_index = node.tip_index
        if leading and leader is not None:
            progress = leader.progress()
            followers = dict(progress["followers"])  # type: ignore[call-overload]
            log_index = int(progress["last_index"])  # type: ignore[call-overload]
        metrics.LOG_INDEX.labels(shard).set(log_index)
        for gone in self._followers - set(followers):
            metrics.REPLICATION_LAG.remove(shard, gone)
            metrics.FOLLOWER_IN_SYNC.remove(shard, gone)
        self._followers = set(followers)
        for follower, state in followers.items():
            metrics.REPLICATION_LAG.labels(shard, follower).set(state["lag"])
            metrics.FOLLOWER_IN_SYNC.labels(shard, follower).set(1 if state["in_isr"] else 0)
        if leading and core is not None:
            metrics.GC_QUEUE_ENTRIES.labels(shard).set(await core.count_gc_entries())
            metrics.INTENTS_OPEN.labels(shard).set(await core.count_open_intents())


# ---- datanode ----


class DatanodeProbes:
    """``/ready``: the store is open. At scrape time: capacity, used and available bytes, blobs."""

    def __init__(self, backend: Backend, location: str, meter: UsageMeter) -> None:
        self._backend = backend
        self._location = location
        self._meter = meter
        self.closed = False

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        if self.closed:
            return False, {"location": self._location, "why": "the store is closed"}
        return True, {"location": self._location}

    async def refresh(self) -> None:
        usage = await self._meter.measure()
        if usage is None:
            return
        location = self._location
        metrics.DATANODE_USED_BYTES.labels(location).set(usage.used_bytes)
        if usage.capacity_bytes is not None:
            metrics.DATANODE_CAPACITY_BYTES.labels(location).set(usage.capacity_bytes)
        if usage.available_bytes is not None:
            metrics.DATANODE_AVAILABLE_BYTES.labels(location).set(usage.available_bytes)
        if usage.blobs is not None:
            metrics.DATANODE_BLOBS.labels(location).set(usage.blobs)


class RelayProbes:
    """A relay to an external location: ``/ready`` and ``strata_location_up`` say whether the cloud answers."""

    def __init__(self, remotes: RemoteLocations, location: str) -> None:
        from datanode.backends.blobs import HealthCache

        self._remotes = remotes
        self._location = location
        self._health = HealthCache()

    async def _problem(self) -> str | None:
        async def check() -> None:
            await self._remotes.backend(self._location).health()

        return await self._health.probe(self._location, check)

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        problem = await self._problem()
        return problem is None, {"location": self._location, **({"why": problem} if problem else {})}

    async def refresh(self) -> None:
        metrics.LOCATION_UP.labels(self._location).set(0 if await self._problem() else 1)


# ---- coordinator ----


class CoordinatorProbes:
    """``/ready``: running (a standby is ready too: it waits to take over)."""

    def __init__(self, node_id: str, leading: Callable[[], bool]) -> None:
        self._node_id = node_id
        self._leading = leading

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        return True, {"node_id": self._node_id, "leading": self._leading()}

    async def refresh(self) -> None:
        metrics.COORDINATOR_LEADING.set(1 if self._leading() else 0)
