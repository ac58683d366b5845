"""``strata cluster up|down|status`` and ``strata config import|export``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from protos.errors import StrataError
from strata.localcluster import ClusterError, ClusterSpec, LocalClusterLauncher
from strata.settings import SettingsError
from strata.testing.etcd import EtcdNotFoundError

CLUSTER_DIR = ".strata-cluster"


def _launcher() -> LocalClusterLauncher:
    return LocalClusterLauncher(Path.cwd() / CLUSTER_DIR)


def _up(args: argparse.Namespace) -> int:
    spec = ClusterSpec(datanodes=args.datanodes, gateways=args.gateways, gateway_base_port=args.port)
    launcher = _launcher()
    try:
        launcher.up(spec)
    except (ClusterError, EtcdNotFoundError, SettingsError) as error:
        print(f"strata cluster up: {error}", file=sys.stderr)
        return 1
    print("\n".join(launcher.status_lines()))
    return 0


def _down(args: argparse.Namespace) -> int:
    stopped = _launcher().down()
    print(f"stopped {len(stopped)} processes" if stopped else "no cluster is running here")
    return 0


def _status(args: argparse.Namespace) -> int:
    lines = _launcher().status_lines()
    if not lines:
        print("no cluster is running here")
        return 1
    print("\n".join(lines))
    return 0


def _config(args: argparse.Namespace) -> int:
    from coordinator.config_io import export_files, import_files
    from coordinator.etcd import EtcdClient

    endpoint = args.etcd
    if endpoint is None:
        state = _launcher().state()
        endpoint = state.etcd if state else "127.0.0.1:2379"

    async def run() -> None:
        client = await EtcdClient.connect(endpoint)
        try:
            if args.action == "import":
                summary = await import_files(client, args.cluster, args.config, args.locations, args.authdata)
                print(f"imported into etcd {endpoint}: {summary}")
            else:
                for path in await export_files(client, args.cluster, args.out):
                    print(f"wrote {path}")
        finally:
            await client.close()

    try:
        asyncio.run(run())
    except StrataError as error:
        print(f"strata config {args.action}: {error.message}", file=sys.stderr)
        return 1
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cluster = commands.add_parser("cluster", help="a local multi-process cluster on 127.0.0.1")
    actions = cluster.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start etcd, a metanode, datanodes and gateways")
    up.add_argument("--datanodes", type=int, default=2, help="how many data nodes (default 2)")
    up.add_argument("--gateways", type=int, default=2, help="how many S3 gateways (default 2)")
    up.add_argument("--port", type=int, default=8000, help="first gateway port, if free")
    up.set_defaults(run=_up)
    actions.add_parser("down", help="stop every process of the cluster").set_defaults(run=_down)
    actions.add_parser("status", help="one line per process").set_defaults(run=_status)

    config = commands.add_parser("config", help="CloudServer-format configuration in etcd")
    config.add_argument(
        "action", choices=("import", "export"), help="import files into etcd, or export etcd into files"
    )
    config.add_argument(
        "--etcd",
        default=None,
        help="etcd endpoint(s) host:port[,host:port] (default: the local cluster's, else 127.0.0.1:2379)",
    )
    config.add_argument("--cluster", default="local", help="cluster name (etcd key prefix)")
    config.add_argument("--config", help="config.json to import")
    config.add_argument("--locations", help="locationConfig.json to import")
    config.add_argument("--authdata", help="conf/authdata.json to import")
    config.add_argument("--out", default=".", help="directory export writes the three files to")
    config.set_defaults(run=_config)
