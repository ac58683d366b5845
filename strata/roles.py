"""Cluster roles as processes: ``strata metanode``, ``strata datanode``, ``strata gateway``.

Each role serves its port, registers itself in etcd bound to a lease (a dead
process disappears from the cluster map), and on SIGTERM stops accepting,
finishes in-flight work within a grace period, revokes its lease and closes
its stores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket

from strata.runtime.lifecycle import GRACE_SECONDS, wait_for_stop_signal
from strata.runtime.log import setup_logging
from strata.settings import SettingsError

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
    parser.add_argument("--json-logs", action="store_true", default=None)


async def _metanode(args: argparse.Namespace) -> None:
    from coordinator.etcd import EtcdClient
    from coordinator.registry import NodeWatcher, register_node
    from datanode.client import ReplicatedDataClient
    from metanode.gc import GarbageCollector
    from metanode.server import open_core, start_server

    os.makedirs(args.data_dir, exist_ok=True)
    core = await open_core(args.data_dir, intent_ttl_ms=int(args.intent_ttl * 1000))
    etcd = await EtcdClient.connect(args.etcd)
    datanodes = NodeWatcher(etcd, args.cluster, "datanode")
    await datanodes.start()
    deleter = ReplicatedDataClient(datanodes)
    core.set_deleter(deleter)
    gc = GarbageCollector(core, deleter, interval_s=args.gc_interval, grace_s=args.gc_grace)
    server = await start_server(core, args.listen)
    registration = await register_node(
        etcd,
        args.cluster,
        "metanode",
        args.node_id,
        {"node_id": args.node_id, "address": advertised(args.listen, args.advertise), "shard": "s1"},
    )
    gc.start()
    log.info("metanode %s serving %s", args.node_id, args.listen)
    try:
        await wait_for_stop_signal()
    finally:
        log.info("metanode %s stopping", args.node_id)
        await registration.close()
        await server.stop(GRACE_SECONDS)
        await gc.stop()
        await datanodes.close()
        await deleter.close()
        await etcd.close()
        await core.close()


async def _datanode(args: argparse.Namespace) -> None:
    from coordinator.etcd import EtcdClient
    from coordinator.registry import register_node
    from datanode.backend import create_backend
    from datanode.server import start_server

    if args.data_dir:
        os.makedirs(args.data_dir, exist_ok=True)
    backend = create_backend(args.type, json.loads(args.details), data_dir=args.data_dir)
    server = await start_server(backend, args.listen, args.node_id, args.location)
    etcd = await EtcdClient.connect(args.etcd)
    registration = await register_node(
        etcd,
        args.cluster,
        "datanode",
        args.node_id,
        {
            "node_id": args.node_id,
            "address": advertised(args.listen, args.advertise),
            "location": args.location,
            "type": args.type,
        },
    )
    log.info("datanode %s serving %s for location %s", args.node_id, args.listen, args.location)
    try:
        await wait_for_stop_signal()
    finally:
        log.info("datanode %s stopping", args.node_id)
        await registration.close()
        await server.stop(GRACE_SECONDS)
        await etcd.close()
        await backend.close()


async def _gateway(args: argparse.Namespace) -> None:
    from coordinator.config_io import get_authdata, get_rest_endpoints
    from coordinator.etcd import EtcdClient
    from coordinator.locations import LocationWatcher, ensure_default_locations
    from coordinator.registry import NodeWatcher, register_node
    from datanode.client import ReplicatedDataClient
    from gateway.cluster import ClusterMetadata
    from gateway.context import GatewayServices
    from gateway.s3.accounts import AccountStore, load_accounts
    from gateway.s3.auth import Authenticator
    from gateway.serving import start_gateway
    from strata.settings import (
        default_rest_endpoints,
        load_certificates,
        load_gateway_options,
        server_ssl_context,
    )

    etcd = await EtcdClient.connect(args.etcd)
    await ensure_default_locations(etcd, args.cluster, "file")
    metanodes = NodeWatcher(etcd, args.cluster, "metanode")
    datanodes = NodeWatcher(etcd, args.cluster, "datanode")
    locations = LocationWatcher(etcd, args.cluster)
    for watcher in (metanodes, datanodes, locations):
        await watcher.start()
    stored_accounts = await get_authdata(etcd, args.cluster)
    if stored_accounts.get("accounts") and not os.environ.get("SCALITY_ACCESS_KEY_ID"):
        accounts = AccountStore.from_dict(stored_accounts)
    else:
        accounts = load_accounts(os.environ.get("S3AUTH_CONFIG"))
    metadata = ClusterMetadata(etcd, args.cluster, metanodes)
    data = ReplicatedDataClient(datanodes)
    rest_endpoints = await get_rest_endpoints(etcd, args.cluster) or default_rest_endpoints()
    services = GatewayServices(
        metadata=metadata,
        data=data,
        authenticator=Authenticator(accounts),
        rest_endpoints=lambda: rest_endpoints,
        locations=locations.locations,
        intent_ttl_ms=int(args.intent_ttl * 1000),
    )
    certificates = load_certificates()
    ssl_context = server_ssl_context(certificates) if certificates else None
    runner = await start_gateway(
        services, load_gateway_options(), args.host, args.port, ssl_context,
        access_log=None, handle_signals=False, shutdown_timeout=GRACE_SECONDS,
    )  # fmt: skip
    registration = await register_node(
        etcd,
        args.cluster,
        "gateway",
        args.node_id,
        {"node_id": args.node_id, "address": advertised(f"{args.host}:{args.port}", args.advertise)},
    )
    scheme = "https" if ssl_context else "http"
    log.info("gateway %s serving %s://%s:%d", args.node_id, scheme, args.host, args.port)
    try:
        await wait_for_stop_signal()
    finally:
        log.info("gateway %s stopping", args.node_id)
        await registration.close()
        await runner.cleanup()
        await metadata.close()
        await data.close()
        for watcher in (metanodes, datanodes, locations):
            await watcher.close()
        await etcd.close()


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
        try:
            asyncio.run(main(args))
        except SettingsError as error:
            log.error("%s cannot start: %s", role, error)
            return 2
        return 0

    return run


def add_role_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    metanode = commands.add_parser("metanode", help="run a metadata node (cluster role)")
    _common(metanode)
    metanode.add_argument("--listen", default="127.0.0.1:9990", help="gRPC address")
    metanode.add_argument("--data-dir", required=True, help="RocksDB directory")
    metanode.add_argument("--gc-interval", type=float, default=10.0, help="seconds between GC passes")
    metanode.add_argument(
        "--gc-grace",
        type=float,
        default=300.0,
        help="seconds unreferenced blobs are kept for reads in flight",
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
    datanode.set_defaults(run=_runner("datanode", _datanode))

    gateway = commands.add_parser("gateway", help="run an S3 gateway (cluster role)")
    _common(gateway)
    gateway.add_argument("--host", default="0.0.0.0")
    gateway.add_argument("--port", type=int, default=8000)
    gateway.add_argument("--intent-ttl", type=float, default=3600.0)
    gateway.set_defaults(run=_runner("gateway", _gateway))
