"""``strata cluster up|down|status|restart|kill`` and ``strata config import|export``."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protos.errors import StrataError
from strata.localcluster import (
    CLUSTER_NAME,
    ClusterError,
    ClusterSpec,
    LocalClusterLauncher,
    ProcessRecord,
    is_alive,
    process_state,
)
from strata.runtime.errors import StartupError
from strata.testing.etcd import EtcdNotFoundError

if TYPE_CHECKING:
    from coordinator.etcd import EtcdClient

CLUSTER_DIR = ".strata-cluster"
DEFAULT_PORT_BASE = 8000


def _launcher(args: argparse.Namespace) -> LocalClusterLauncher:
    return LocalClusterLauncher(Path(args.dir) if args.dir else Path.cwd() / CLUSTER_DIR)


def _names(records: list[ProcessRecord]) -> str:
    return ", ".join(record.name for record in records)


def _up(args: argparse.Namespace) -> int:
    spec = ClusterSpec(
        shards=args.shards,
        replicas=args.replicas,
        datanodes=args.datanodes,
        gateways=args.gateways,
        gateway_base_port=args.port_base,
        etcd_members=args.etcd_members,
        locations=_location_file(args.locations),
        relays=args.relays,
    )
    launcher = _launcher(args)
    try:
        launcher.up(spec)
    except EtcdNotFoundError as error:
        raise StartupError(str(error)) from None
    print("\n".join(launcher.status_lines()))
    return 0


def _location_file(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise StartupError(f"--locations {path}: {error}") from None
    if not isinstance(document, dict):
        raise StartupError(f"--locations {path}: not a locationConfig.json object")
    return document


def _down(args: argparse.Namespace) -> int:
    stopped, not_running = _launcher(args).down()
    if not stopped and not not_running:
        print("no cluster is recorded here")
        return 0
    if stopped:
        print(f"stopped {len(stopped)} process{'es' if len(stopped) != 1 else ''}: {_names(stopped)}")
    if not_running:
        print(f"{len(not_running)} already not running: {_names(not_running)}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from strata.cluster_report import ClusterReport, gather_report, render_report, report_json

    launcher = _launcher(args)
    state = launcher.state()
    lines = launcher.status_lines()
    if state is None or not lines:
        print(f"no cluster is recorded in {launcher.workdir}")
        return 1
    if any(is_alive(p.pid) for p in state.processes if p.role == "etcd"):
        report = asyncio.run(gather_report(state.etcd, CLUSTER_NAME))
    else:
        report = ClusterReport(error="etcd is not running")
    if args.json:
        processes = [
            {
                "role": p.role,
                "name": p.name,
                "pid": p.pid,
                "address": p.address,
                "state": process_state(p.pid),
            }
            for p in state.processes
        ]
        print(json.dumps({"processes": processes, **report_json(report)}, indent=2))
        return 0
    # The process table first, then a blank line: scripts read the table up to it.
    print("\n".join([*lines, "", *render_report(report)]))
    return 0


SIGNALS = {"KILL": signal.SIGKILL, "STOP": signal.SIGSTOP, "CONT": signal.SIGCONT, "TERM": signal.SIGTERM}


def _kill(args: argparse.Namespace) -> int:
    record = _launcher(args).signal_process(args.name, SIGNALS[args.signal])
    done = {
        "KILL": "killed",
        "TERM": "stopped",
        "STOP": "suspended",
        "CONT": "resumed",
    }[args.signal]
    print(f"{done} {record.name} pid={record.pid} (SIG{args.signal})")
    if args.signal == "STOP":
        print(f"resume it with: strata cluster kill {record.name} --signal CONT")
    return 0


def _restart(args: argparse.Namespace) -> int:
    launcher = _launcher(args)
    state = launcher.state()
    before = next((p for p in state.processes if p.name == args.name), None) if state else None
    if before is None:
        known = _names(state.processes) if state else "none: no cluster is recorded here"
        raise ClusterError(f"no process named {args.name!r} (processes: {known})")
    was_running = is_alive(before.pid)
    record = launcher.restart(args.name, signal.SIGTERM)
    how = "stopped and restarted" if was_running else "restarted"
    print(f"{how} {record.name} pid={record.pid} {record.address}")
    return 0


def _add_shard(args: argparse.Namespace) -> int:
    shard = _launcher(args).add_shard(ClusterSpec(replicas=args.replicas))
    print(f"started shard {shard} ({args.replicas} metanodes); new buckets go to it")
    return 0


def _config(args: argparse.Namespace) -> int:
    from coordinator.config_io import export_files, import_files
    from coordinator.etcd import EtcdClient

    endpoint = args.etcd
    if endpoint is None:
        state = _launcher(args).state()
        endpoint = state.etcd if state else "127.0.0.1:2379"

    async def run() -> None:
        client = await EtcdClient.connect(endpoint)
        try:
            if args.action == "import":
                summary = await import_files(
                    client,
                    args.cluster,
                    args.config,
                    args.locations,
                    args.authdata,
                    replace_accounts=args.replace,
                )
                print(f"imported into etcd {endpoint} (cluster {args.cluster}):")
                for line in summary.lines():
                    print(f"  {line}")
                if summary.accounts is not None:
                    await _warn_about_published_keys(client, args.cluster)
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


async def _warn_about_published_keys(client: EtcdClient, cluster: str) -> None:
    """A merge keeps the keys already stored: say so when those are the ones published in the docs."""
    from coordinator.config_io import get_authdata
    from gateway.s3.accounts import AccountStore, published_default_keys

    published = published_default_keys(AccountStore.from_dict(await get_authdata(client, cluster)))
    if published:
        print(
            f"warning: the published default access keys {', '.join(published)} are still valid; "
            "import with --replace to drop them",
            file=sys.stderr,
        )


def _dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        default=None,
        help=f"the cluster's state directory (default: ./{CLUSTER_DIR})",
    )


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cluster = commands.add_parser("cluster", help="a local multi-process cluster on 127.0.0.1")
    actions = cluster.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start etcd, metanodes, datanodes, a coordinator and gateways")
    up.add_argument("--shards", type=int, default=1, help="metadata shards (default 1)")
    up.add_argument(
        "--replicas", type=int, choices=(1, 3, 5), default=3, help="metanodes per shard (default 3)"
    )
    up.add_argument("--datanodes", type=int, default=3, help="how many data nodes (default 3)")
    up.add_argument("--gateways", type=int, default=2, help="how many S3 gateways (default 2)")
    up.add_argument(
        "--etcd",
        dest="etcd_members",
        type=int,
        choices=(1, 3),
        default=1,
        help="how many etcd members form the cluster's etcd (default 1; 3 survives the loss of one)",
    )
    up.add_argument(
        "--locations",
        default=None,
        help="a locationConfig.json to store in etcd; its external locations (aws_s3, azure, gcp, b2, swift) "
        "are each served by --relays stateless datanodes",
    )
    up.add_argument(
        "--relays", type=int, default=2, help="datanodes per external location of --locations (default 2)"
    )
    up.add_argument(
        "--port-base",
        type=int,
        default=DEFAULT_PORT_BASE,
        help=f"gateway N listens on PORT_BASE + N - 1 (default {DEFAULT_PORT_BASE}; a taken port is an "
        "error; 0 picks free ports)",
    )
    _dir_option(up)
    up.set_defaults(run=_up)
    down = actions.add_parser("down", help="stop every process of the cluster")
    _dir_option(down)
    down.set_defaults(run=_down)
    status = actions.add_parser(
        "status", help="one line per process, then each shard, each datanode and the repair queue"
    )
    status.add_argument("--json", action="store_true", help="print it all as one JSON document")
    _dir_option(status)
    status.set_defaults(run=_status)
    kill = actions.add_parser("kill", help="send one process a signal, for fault testing (default SIGKILL)")
    kill.add_argument("name", help="the process, as status names it (e.g. metanode-1, datanode-2)")
    kill.add_argument(
        "--signal",
        choices=sorted(SIGNALS),
        default="KILL",
        help="KILL (a crash), TERM (a graceful stop), STOP (freeze it; it stays recorded, so "
        "restart and down still work), CONT (resume a stopped one)",
    )
    _dir_option(kill)
    kill.set_defaults(run=_kill)
    restart = actions.add_parser("restart", help="start one process again (e.g. one that died)")
    restart.add_argument("name", help="the process, as status names it (e.g. gateway-1, datanode-2)")
    _dir_option(restart)
    restart.set_defaults(run=_restart)

    add_shard = actions.add_parser("add-shard", help="start the metanodes of one more metadata shard")
    add_shard.add_argument(
        "--replicas", type=int, choices=(1, 3, 5), default=3, help="metanodes of the new shard (default 3)"
    )
    _dir_option(add_shard)
    add_shard.set_defaults(run=_add_shard)

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
    config.add_argument(
        "--replace",
        action="store_true",
        help="import: the authdata file's accounts replace every stored account (default: merge by access key)",
    )
    config.add_argument("--out", default=".", help="directory export writes the three files to")
    _dir_option(config)
    config.set_defaults(run=_config)
