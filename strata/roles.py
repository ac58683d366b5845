"""Cluster roles as processes: ``strata metanode``, ``datanode``, ``gateway`` and ``coordinator``.

Each role serves its port, registers itself in etcd bound to a lease (a dead
process disappears from the cluster map), and on SIGTERM stops accepting,
finishes in-flight work within a grace period, revokes its lease and closes
its stores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import TYPE_CHECKING

from datanode.backends.remote import is_remote
from protos.errors import StrataError
from strata.role_metrics import (
    CoordinatorProbes,
    DatanodeProbes,
    GatewayProbes,
    MetanodeProbes,
    RelayProbes,
    check_metrics_listen,
    serve_probes,
)
from strata.runtime.errors import StartupError, listen_error
from strata.runtime.lifecycle import GRACE_SECONDS, wait_for_stop_signal
from strata.runtime.log import setup_logging
from strata.settings import (
    DEFAULT_HOST,
    SettingsError,
    check_can_listen,
    parse_listen,
    usable_directory,
    validate_port,
)

if TYPE_CHECKING:
    import grpc

    from coordinator.etcd import EtcdClient
    from coordinator.leadership import Worker
    from coordinator.registry import NodeWatcher
    from coordinator.shard_leaders import ShardLeaders
    from datanode.client import ReplicatedDataClient

log = logging.getLogger("strata.roles")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--etcd",
        default=os.environ.get("STRATA_ETCD", "127.0.0.1:2379"),
        help="etcd endpoint(s) host:port[,host:port] (STRATA_ETCD)",
    )
    parser.add_argument(
        "--cluster",
        default=os.environ.get("STRATA_CLUSTER", "local"),
        help="cluster name: the etcd key prefix (STRATA_CLUSTER)",
    )
    parser.add_argument(
        "--node-id", default=None, help="unique id of this process in the cluster (default: the host name)"
    )
    parser.add_argument(
        "--advertise",
        default=None,
        help="address other processes use to reach this one (default: the listen "
        "address, with a wildcard host replaced by the host name)",
    )
    parser.add_argument(
        "--json-logs",
        action="store_true",
        default=None,
        help="log JSON lines (the default for cluster roles)",
    )
    # ---- metrics ----
    parser.add_argument(
        "--metrics-listen",
        default=os.environ.get("STRATA_METRICS_LISTEN") or None,
        help="HOST:PORT serving /metrics, /live and /ready (STRATA_METRICS_LISTEN; default: off)",
    )


async def _metanode(args: argparse.Namespace) -> None:
    from coordinator.keyspace import Keyspace
    from coordinator.registry import NodeWatcher, register_node
    from datanode.client import ReplicatedDataClient
    from metanode.core import MetadataCore
    from metanode.gc import GarbageCollector
    from metanode.kv import KV
    from metanode.lifecycle.positions import KVPositions
    from metanode.lifecycle.worker import LifecycleWorker
    from metanode.replication.leader import Leader
    from metanode.replication.node import ShardNode
    from metanode.server import open_store, start_server

    await asyncio.to_thread(check_can_listen, *parse_listen(args.listen, "--listen"))
    check_metrics_listen(args.metrics_listen)
    await asyncio.to_thread(usable_directory, args.data_dir, "metadata directory (--data-dir)")
    intent_ttl_ms = int(args.intent_ttl * 1000)
    # The directory first: a held LOCK is this machine's problem, whatever etcd says.
    (await open_store(args.data_dir)).close()
    etcd = await _connect_etcd(args.etcd)
    try:
        group = await _replication_group_id(etcd, args.cluster)
    except BaseException:
        await etcd.close()
        raise
    metanodes = NodeWatcher(etcd, args.cluster, "metanode")
    datanodes = NodeWatcher(etcd, args.cluster, "datanode")
    for watcher in (metanodes, datanodes):
        await watcher.start()
    deleter = ReplicatedDataClient(
        datanodes, copy_timeout_s=args.repair_copy_timeout, copy_rate=args.repair_copy_rate * 1_000_000
    )

    def make_core(kv: KV, leader: Leader) -> MetadataCore:
        core = MetadataCore(kv, group, intent_ttl_ms=intent_ttl_ms, replication=leader, deleter=deleter)
        return core

    @contextlib.asynccontextmanager
    async def leading(core: MetadataCore) -> AsyncIterator[None]:
        """GC and lifecycle run on the shard's leader only (it owns the shard's keys and their locks); so do
        repair passes (when the coordinator asks, RunRepair)."""
        gc = GarbageCollector(core, deleter, interval_s=args.gc_interval, grace_s=args.gc_grace)
        lifecycle = LifecycleWorker(
            core,
            args.lifecycle_interval,
            day_s=args.lifecycle_day_seconds,
            positions=KVPositions(core.kv, core.writer),
        )
        repairer = core.set_replicator(deleter)
        assert repairer is not None
        gc.start()
        lifecycle.start()
        try:
            yield
        finally:
            await lifecycle.stop()
            await gc.stop()
            await repairer.close()

    address = advertised(args.listen, args.advertise)
    node = ShardNode(
        etcd=etcd,
        keyspace=Keyspace(args.cluster),
        shard=args.shard,
        node_id=args.node_id,
        address=address,
        data_dir=Path(args.data_dir),
        replicas=args.replicas,
        peers=metanodes,
        core_factory=make_core,
        leading=leading,
        lease_ttl_s=args.lease_ttl,
        lag_timeout_s=args.lag_timeout,
        commit_timeout_s=args.commit_timeout,
        log_retention=args.log_retention,
    )
    try:
        await node.open(open_store)
        server = await _start_grpc(start_server(node, args.listen), args.listen)
    except BaseException:
        await node.close()
        for watcher in (metanodes, datanodes):
            await watcher.close()
        await etcd.close()
        raise
    registration = await register_node(
        etcd,
        args.cluster,
        "metanode",
        args.node_id,
        {"node_id": args.node_id, "address": address, "shard": args.shard},
    )
    node.start()
    probes = await serve_probes(args.metrics_listen, MetanodeProbes(node))
    log.info("metanode %s serving %s (shard %s)", args.node_id, args.listen, args.shard)
    try:
        await wait_for_stop_signal()
    finally:
        log.info("metanode %s stopping", args.node_id)
        await probes.close()
        # Leadership first, so another replica takes over while this one finishes its calls.
        await node.close_leadership()
        await registration.close()
        await server.stop(GRACE_SECONDS)
        await node.close()
        for watcher in (metanodes, datanodes):
            await watcher.close()
        await deleter.close()
        await etcd.close()


async def _datanode(args: argparse.Namespace) -> None:
    from coordinator.registry import register_node
    from datanode.backend import create_backend
    from datanode.server import start_server
    from datanode.usage import UsageMeter, UsagePublisher

    await asyncio.to_thread(check_can_listen, *parse_listen(args.listen, "--listen"))
    check_metrics_listen(args.metrics_listen)
    if is_remote(args.type):
        await _remote_datanode(args)
        return
    if args.data_dir:
        await asyncio.to_thread(usable_directory, args.data_dir, "data directory (--data-dir)")
    details = _datanode_details(args)
    if args.type == "file" and args.disk_reserve_mb:
        details.setdefault("reserveBytes", int(args.disk_reserve_mb * 1_000_000))
    backend = create_backend(args.type, details, data_dir=args.data_dir)
    server = await _start_grpc(start_server(backend, args.listen, args.node_id, args.location), args.listen)
    etcd = await _connect_etcd(args.etcd)
    info = {
        "node_id": args.node_id,
        "address": advertised(args.listen, args.advertise),
        "location": args.location,
        "type": args.type,
    }
    meter = UsageMeter(backend)
    usage = await meter.measure()
    registration = await register_node(
        etcd, args.cluster, "datanode", args.node_id, {**info, "storage": usage.to_json() if usage else None}
    )
    # Capacity and used bytes, kept current for `strata cluster status` and the health check.
    usage_publisher = UsagePublisher(meter, lambda storage: registration.update({**info, "storage": storage}))
    usage_publisher.start()
    datanode_probes = DatanodeProbes(backend, args.location, meter)
    probes = await serve_probes(args.metrics_listen, datanode_probes)
    log.info("datanode %s serving %s for location %s", args.node_id, args.listen, args.location)
    try:
        await wait_for_stop_signal()
    finally:
        log.info("datanode %s stopping", args.node_id)
        datanode_probes.closed = True
        await probes.close()
        await usage_publisher.stop()
        await registration.close()
        await server.stop(GRACE_SECONDS)
        await etcd.close()
        await backend.close()


async def _remote_datanode(args: argparse.Namespace) -> None:
    """A stateless relay to external location ``--location``, whose config (with its credentials)
    is read from etcd and followed there: a changed location is used without a restart."""
    from coordinator.locations import LocationWatcher
    from coordinator.registry import register_node
    from datanode.backends.blobs import RemoteLocations
    from datanode.server import start_server

    etcd = await _connect_etcd(args.etcd)
    locations = LocationWatcher(etcd, args.cluster)
    remotes = RemoteLocations(locations.locations)
    try:
        await locations.start()
        try:
            config = await locations.wait_for_location(args.location, timeout_s=REMOTE_LOCATION_WAIT_S)
        except TimeoutError:
            raise StartupError(
                f"location {args.location!r} is not in the cluster's location config (strata config import "
                "or strata location add it first)"
            ) from None
        if config.get("type") != args.type:
            raise StartupError(
                f"location {args.location!r} has type {config.get('type')!r} in the cluster's config, not {args.type!r}"
            )
        try:
            remotes.backend(args.location)  # its details are checked now, not at the first request
        except StrataError as error:
            raise StartupError(error.message) from None
        server = await _start_grpc(
            start_server(remotes, args.listen, args.node_id, args.location), args.listen
        )
    except BaseException:
        await remotes.close()
        await locations.close()
        await etcd.close()
        raise
    info = {
        "node_id": args.node_id,
        "address": advertised(args.listen, args.advertise),
        "location": args.location,
        "type": args.type,
    }
    registration = await register_node(
        etcd, args.cluster, "datanode", args.node_id, {**info, "storage": None}
    )
    probes = await serve_probes(args.metrics_listen, RelayProbes(remotes, args.location))
    log.info("datanode %s relaying %s for external location %s", args.node_id, args.listen, args.location)
    try:
        await wait_for_stop_signal()
    finally:
        log.info("datanode %s stopping", args.node_id)
        await probes.close()
        await registration.close()
        await server.stop(GRACE_SECONDS)
        await remotes.close()
        await locations.close()
        await etcd.close()


def _datanode_details(args: argparse.Namespace) -> dict[str, object]:
    """The backend details, once the location it serves is known to be one this datanode can store."""
    from coordinator.locations import validate_location
    from protos.errors import StrataError

    try:
        details = json.loads(args.details)
    except json.JSONDecodeError as error:
        raise SettingsError(f"--details is not valid JSON: {error}") from None
    try:
        validate_location(args.location, {"type": args.type, "legacyAwsBehavior": False, "details": details})
    except StrataError as error:
        raise SettingsError(error.message) from None
    return dict(details)


async def _stored_locations(etcd: EtcdClient, cluster: str) -> None:
    """Seeds the default locations if none exist; refuses to serve a stored config it cannot store to."""
    from coordinator.locations import ensure_default_locations, validate_locations
    from protos.errors import StrataError

    try:
        validate_locations(await ensure_default_locations(etcd, cluster, "file"))
    except StrataError as error:
        raise SettingsError(f"location config in etcd: {error.message}") from None


async def _replication_group_id(etcd: EtcdClient, cluster: str) -> str:
    """config.json's ``replicationGroupId`` as imported into etcd (read at start: it is part of every
    version id this metanode makes), or the default."""
    from coordinator.config_io import get_settings
    from metanode.keys import DEFAULT_REPLICATION_GROUP_ID, validate_replication_group_id

    group = str((await get_settings(etcd, cluster)).get("replicationGroupId", DEFAULT_REPLICATION_GROUP_ID))
    try:
        validate_replication_group_id(group)
    except StrataError as error:
        raise SettingsError(f"replicationGroupId in etcd: {error.message}") from None
    return group


async def _gateway(args: argparse.Namespace) -> None:
    from coordinator.config_io import import_authdata
    from coordinator.config_watch import ConfigWatcher
    from coordinator.locations import LocationWatcher
    from coordinator.registry import NodeWatcher, register_node
    from coordinator.shards import ShardWatcher
    from datanode.client import ReplicatedDataClient
    from gateway.cluster import ClusterMetadata
    from gateway.context import GatewayServices
    from gateway.crypto.file_kms import FileKMS
    from gateway.s3.accounts import (
        DEFAULT_AUTHDATA_PATH,
        ENV_ACCESS_KEY,
        AccountStore,
        AuthDataError,
        load_accounts,
        warn_if_exposed_with_default_keys,
    )
    from gateway.s3.auth import Authenticator
    from gateway.serving import start_gateway
    from strata.settings import (
        DEFAULT_WEBSITE_ENDPOINTS,
        default_rest_endpoints,
        load_certificates,
        load_gateway_options,
        server_ssl_context,
        with_env_endpoints,
    )

    port = validate_port(args.port, "--port")
    await asyncio.to_thread(check_can_listen, args.host, port)
    check_metrics_listen(args.metrics_listen)
    certificates = await asyncio.to_thread(load_certificates)
    gateway_options = load_gateway_options()
    env_accounts = await asyncio.to_thread(load_accounts, os.environ.get("S3AUTH_CONFIG"))
    etcd = await _connect_etcd(args.etcd)
    try:
        await _stored_locations(etcd, args.cluster)
    except SettingsError:
        await etcd.close()
        raise
    shards = ShardWatcher(etcd, args.cluster)
    datanodes = NodeWatcher(etcd, args.cluster, "datanode")
    locations = LocationWatcher(etcd, args.cluster)
    for watcher in (shards, datanodes, locations):
        await watcher.start()
    config = ConfigWatcher(etcd, args.cluster)
    await config.start()
    env_overrides = bool(os.environ.get(ENV_ACCESS_KEY))
    if not env_overrides and not config.authdata()["accounts"]:
        # The first gateway stores the accounts it was given, so etcd holds what is in use.
        authdata_path = Path(os.environ.get("S3AUTH_CONFIG") or DEFAULT_AUTHDATA_PATH)
        file_accounts = json.loads(await asyncio.to_thread(authdata_path.read_text))
        await import_authdata(etcd, args.cluster, file_accounts)
    authenticator = Authenticator(env_accounts)

    def use_stored_accounts() -> None:
        document = config.authdata()
        if env_overrides or not document["accounts"]:
            authenticator.replace_accounts(env_accounts)
            return
        try:
            authenticator.replace_accounts(AccountStore.from_dict(document))
        except AuthDataError as error:
            log.warning("keeping the previous accounts: the stored ones are unusable: %s", error)

    use_stored_accounts()
    config.on_accounts_change(use_stored_accounts)
    metadata = ClusterMetadata(etcd, args.cluster, shards)
    data = ReplicatedDataClient(datanodes, locations=locations.locations)
    services = GatewayServices(
        metadata=metadata,
        data=data,
        authenticator=authenticator,
        rest_endpoints=lambda: with_env_endpoints(config.rest_endpoints() or default_rest_endpoints()),
        website_endpoints=lambda: _or_default(config.website_endpoints(), DEFAULT_WEBSITE_ENDPOINTS),
        locations=locations.locations,
        intent_ttl_ms=int(args.intent_ttl * 1000),
        datanodes=datanodes,
        shards=shards,
        lifecycle_day_ms=int(args.lifecycle_day_seconds * 1000),
        # encryption at rest: every gateway of the cluster shares this key directory
        kms=FileKMS(gateway_options.kms_dir) if gateway_options.kms_dir else None,
    )
    ssl_context = server_ssl_context(certificates) if certificates else None
    try:
        runner = await start_gateway(
            services, gateway_options, args.host, port, ssl_context,
            access_log=None, handle_signals=False, shutdown_timeout=GRACE_SECONDS,
        )  # fmt: skip
    except OSError as error:
        raise listen_error(args.host, port, error) from None
    warn_if_exposed_with_default_keys(runner.addresses, authenticator.accounts())
    registration = await register_node(
        etcd,
        args.cluster,
        "gateway",
        args.node_id,
        {"node_id": args.node_id, "address": advertised(f"{args.host}:{port}", args.advertise)},
    )
    probes = await serve_probes(args.metrics_listen, GatewayProbes(services))
    scheme = "https" if ssl_context else "http"
    log.info("gateway %s serving %s://%s:%d", args.node_id, scheme, args.host, port)
    try:
        await wait_for_stop_signal()
    finally:
        log.info("gateway %s stopping", args.node_id)
        await probes.close()
        await registration.close()
        await runner.cleanup()
        await metadata.close()
        await data.close()
        await config.close()
        for watcher in (shards, datanodes, locations):
            await watcher.close()
        await etcd.close()


# A repair pass copies whole blobs: the coordinator waits far longer for it than for a metadata call.
REPAIR_CALL_TIMEOUT_S = 3600.0
REMOTE_LOCATION_WAIT_S = 10.0  # a relay started with its location just being configured waits this long


def _coordinator_workers(
    args: argparse.Namespace,
    etcd: EtcdClient,
    shards: ShardLeaders,
    datanodes: NodeWatcher,
    data: ReplicatedDataClient,
) -> list[Worker]:
    """What the active coordinator runs, started in order when it is elected and stopped in reverse."""
    from coordinator.down_nodes import DownNodes
    from coordinator.repair import RepairWorker
    from coordinator.scrub import scrubber_from_args

    down_nodes = DownNodes(etcd, args.cluster, datanodes)
    return [
        RepairWorker(shards, down_nodes, interval_s=args.repair_interval, grace_s=args.repair_grace),
        scrubber_from_args(args, datanodes, data),
    ]


async def _coordinator(args: argparse.Namespace) -> None:
    from coordinator.election import LeaderElection
    from coordinator.health import start_probe_server
    from coordinator.keyspace import Keyspace
    from coordinator.leadership import lead_while_elected
    from coordinator.registry import NodeWatcher, register_node
    from coordinator.shard_leaders import ShardLeaders

    host, port = parse_listen(args.listen, "--listen")
    await asyncio.to_thread(check_can_listen, host, port)
    check_metrics_listen(args.metrics_listen)
    etcd = await _connect_etcd(args.etcd)
    metanodes = NodeWatcher(etcd, args.cluster, "metanode")
    datanodes = NodeWatcher(etcd, args.cluster, "datanode")
    for watcher in (metanodes, datanodes):
        await watcher.start()
    shards = ShardLeaders(etcd, args.cluster, metanodes, timeout_s=REPAIR_CALL_TIMEOUT_S)
    from datanode.client import ReplicatedDataClient as DataClient

    scrub_data = DataClient(datanodes)
    workers = _coordinator_workers(args, etcd, shards, datanodes, scrub_data)
    info = {"node_id": args.node_id, "address": advertised(args.listen, args.advertise)}
    election = LeaderElection(etcd, Keyspace(args.cluster).coordinator_leader, json.dumps(info))
    try:
        probes = await start_probe_server(host, port, args.node_id, lambda: election.is_leader)
    except OSError as error:
        raise listen_error(host, port, error) from None
    # The --listen probe port serves /metrics too; --metrics-listen adds a second port if asked for.
    try:
        metrics_port = await serve_probes(
            args.metrics_listen, CoordinatorProbes(args.node_id, lambda: election.is_leader)
        )
    except BaseException:
        await probes.cleanup()
        raise
    registration = await register_node(
        etcd, args.cluster, "coordinator", args.node_id, {**info, "leading": False}
    )

    async def publish_role(leading: bool) -> None:
        await registration.update({**info, "leading": leading})

    stopping = asyncio.Event()
    leading = asyncio.create_task(lead_while_elected(election, workers, stopping, publish_role))
    log.info("coordinator %s standing for election (probes on %s)", args.node_id, args.listen)
    stop_signal = asyncio.create_task(wait_for_stop_signal())
    try:
        # The leadership loop ends only when told to; if it fails, the process must not linger.
        await asyncio.wait({stop_signal, leading}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        log.info("coordinator %s stopping", args.node_id)
        stop_signal.cancel()
        stopping.set()
        try:
            await leading
        finally:
            await registration.close()
            await metrics_port.close()
            await probes.cleanup()
            await shards.close()
            await scrub_data.close()
            for watcher in (metanodes, datanodes):
                await watcher.close()
            await etcd.close()


async def _connect_etcd(endpoints: str) -> EtcdClient:
    """The cluster's etcd; an unreachable one is a StartupError (a role cannot work without it)."""
    from coordinator.etcd import EtcdClient

    try:
        return await EtcdClient.connect(endpoints)
    except StrataError as error:
        raise StartupError(f"{error.message} (--etcd / STRATA_ETCD)") from None


async def _start_grpc(starting: Awaitable[grpc.aio.Server], listen: str) -> grpc.aio.Server:
    """Awaits a role's gRPC server start; a bind failure becomes a StartupError."""
    try:
        return await starting
    except (RuntimeError, OSError, StrataError) as error:
        raise StartupError(f"cannot listen on {listen}: the address is in use or not on this machine") from (
            error
        )


def advertised(address: str, explicit: str | None) -> str:
    """The address to register: a wildcard listen host is useless to peers."""
    if explicit:
        return explicit
    host, _, port = address.rpartition(":")
    if host in ("0.0.0.0", "[::]", ""):
        host = socket.gethostname()
    return f"{host}:{port}"


def _runner(role: str, main):  # type: ignore[no-untyped-def]
    def run(args: argparse.Namespace) -> int:
        args.node_id = args.node_id or socket.gethostname()
        setup_logging(role, json_lines=args.json_logs if args.json_logs is not None else True)
        asyncio.run(main(args))  # a StartupError reaches strata.cli.main: one line, exit status 2
        return 0

    return run


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text}")
    return value


def add_role_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    metanode = commands.add_parser("metanode", help="run a metadata node (cluster role)")
    _common(metanode)
    metanode.add_argument("--listen", default="127.0.0.1:9990", help="gRPC address")
    metanode.add_argument("--data-dir", required=True, help="RocksDB directory")
    metanode.add_argument(
        "--shard", default=os.environ.get("STRATA_SHARD", "s1"), help="the shard this replica belongs to"
    )
    metanode.add_argument(
        "--replicas",
        type=int,
        choices=(1, 3, 5),
        default=3,
        help="replicas the shard has (set by its first replica; a write needs a majority in sync)",
    )
    metanode.add_argument(
        "--lease-ttl", type=int, default=2, help="seconds a silent leader keeps its shard (etcd lease TTL)"
    )
    metanode.add_argument(
        "--lag-timeout",
        type=_positive_float,
        default=1.0,
        help="seconds a follower may stay behind before the leader commits without it",
    )
    metanode.add_argument(
        "--commit-timeout",
        type=_positive_float,
        default=5.0,
        help="seconds a write waits for enough in-sync replicas before it fails with 503",
    )
    metanode.add_argument(
        "--log-retention",
        type=int,
        default=50_000,
        help="log entries each replica keeps for followers catching up (further behind: a snapshot)",
    )
    metanode.add_argument("--gc-interval", type=float, default=10.0, help="seconds between GC passes")
    metanode.add_argument(
        "--gc-grace",
        type=float,
        default=300.0,
        help="seconds unreferenced blobs are kept for reads in flight",
    )
    metanode.add_argument(
        "--lifecycle-interval",
        type=_positive_float,
        default=os.environ.get("STRATA_LIFECYCLE_INTERVAL") or "60",
        help="seconds between lifecycle ticks (STRATA_LIFECYCLE_INTERVAL)",
    )
    metanode.add_argument(
        "--lifecycle-day-seconds",
        type=_positive_float,
        default=os.environ.get("STRATA_LIFECYCLE_DAY_SECONDS") or "86400",
        help='seconds in a lifecycle "day" (STRATA_LIFECYCLE_DAY_SECONDS; shorter for tests)',
    )
    metanode.add_argument(
        "--repair-copy-timeout",
        type=_positive_float,
        default=30.0,
        help="seconds a repair copy may take, plus its size over --repair-copy-rate",
    )
    metanode.add_argument(
        "--repair-copy-rate",
        type=_positive_float,
        default=10.0,
        help="slowest copy rate (MB/s) a repair copy is allowed before it is abandoned",
    )
    metanode.add_argument(
        "--intent-ttl",
        type=float,
        default=3600.0,
        help="seconds after which an unfinished upload's blobs are collected",
    )
    metanode.set_defaults(run=_runner("metanode", _metanode))

    datanode = commands.add_parser("datanode", help="run a data node (cluster role)")
    _common(datanode)
    datanode.add_argument("--listen", default="127.0.0.1:9991", help="gRPC address")
    datanode.add_argument("--data-dir", default=None, help="blob directory (file backend)")
    datanode.add_argument("--location", default="us-east-1", help="location constraint served")
    datanode.add_argument("--type", default="file", help="backend type (file, mem, ...)")
    datanode.add_argument("--details", default="{}", help="backend details as JSON")
    datanode.add_argument(
        "--disk-reserve-mb",
        type=_non_negative_float,
        default=os.environ.get("STRATA_DISK_RESERVE_MB", "0"),
        help="free disk space (MB) writes never use; below it, puts are refused so they go elsewhere "
        "(file backend; STRATA_DISK_RESERVE_MB; default 0: until the disk is full)",
    )
    datanode.set_defaults(run=_runner("datanode", _datanode))

    gateway = commands.add_parser("gateway", help="run an S3 gateway (cluster role)")
    _common(gateway)
    gateway.add_argument(
        "--host",
        default=os.environ.get("LISTEN_ADDR", DEFAULT_HOST),
        help="listen address (LISTEN_ADDR; default 127.0.0.1; 0.0.0.0 listens on every address)",
    )
    gateway.add_argument("--port", default="8000", help="S3 port (default 8000)")
    gateway.add_argument(
        "--lifecycle-day-seconds",
        type=_positive_float,
        default=os.environ.get("STRATA_LIFECYCLE_DAY_SECONDS") or "86400",
        help='seconds in a lifecycle "day", as the metanodes count it, for x-amz-expiration '
        "(STRATA_LIFECYCLE_DAY_SECONDS)",
    )
    gateway.add_argument(
        "--intent-ttl",
        type=float,
        default=3600.0,
        help="seconds after which an unfinished upload's blobs are collected",
    )
    gateway.set_defaults(run=_runner("gateway", _gateway))

    coordinator = commands.add_parser(
        "coordinator", help="run a cluster coordinator (one is elected active; others stand by)"
    )
    _common(coordinator)
    coordinator.add_argument("--listen", default="127.0.0.1:8003", help="HTTP address of /live and /ready")
    coordinator.add_argument(
        "--repair-interval",
        type=_positive_float,
        default=30.0,
        help="seconds between repair rounds (each asks every shard leader for one pass)",
    )
    coordinator.add_argument(
        "--repair-grace",
        type=float,
        default=600.0,
        help="seconds a datanode may be down before its blobs are re-replicated to other datanodes",
    )
    from coordinator.scrub import add_scrub_arguments

    add_scrub_arguments(coordinator)
    coordinator.set_defaults(run=_runner("coordinator", _coordinator))


def _or_default(stored: tuple[str, ...] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """What etcd stores (an empty list too: no website endpoints), else the default."""
    return default if stored is None else stored
