"""``strata admin scrub``: one scrub and heal pass now, over every live datanode of the cluster.

Each datanode re-reads its blobs at ``--rate`` MB/s and checks them against their stored
checksums; corrupt ones are quarantined and copied back from a good replica (see
``coordinator/scrub.py``). Exit status 0 when every corrupt replica was healed, 3 when some
could not be (no good copy anywhere, a copy failed, or a datanode's pass broke off).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TYPE_CHECKING

from strata.admin.output import add_json_option, print_json
from strata.admin.progress import ProgressBar, human_bytes

EXIT_NOT_HEALED = 3

if TYPE_CHECKING:
    from coordinator.scrub import ScrubStats


async def _scrub(etcd_address: str, cluster: str, rate_mb_per_s: float, bar: ProgressBar) -> ScrubStats:
    from coordinator.etcd import EtcdClient
    from coordinator.registry import NodeWatcher
    from coordinator.scrub import Scrubber
    from datanode.client import ReplicatedDataClient
    from protos.data_pb2 import ScrubProgress

    latest: dict[str, ScrubProgress] = {}
    corrupt = 0

    def show(node_id: str, progress: ScrubProgress) -> None:
        nonlocal corrupt
        latest[node_id] = progress
        corrupt += len(progress.corrupt_blob_ids)
        done = sum(message.blobs_checked for message in latest.values())
        total = sum(message.blobs_total for message in latest.values())
        checked = human_bytes(sum(message.bytes_checked for message in latest.values()))
        bar.update(done, total, f"blobs, {checked}, {corrupt} corrupt, {len(latest)} datanodes")

    etcd = await EtcdClient.connect(etcd_address)
    try:
        async with NodeWatcher(etcd, cluster, "datanode") as datanodes:
            if not datanodes.nodes():
                raise SystemExit(f"strata admin scrub: no datanode is registered in cluster {cluster!r}")
            data = ReplicatedDataClient(datanodes)
            try:
                return await Scrubber(datanodes, data, rate_mb_per_s=rate_mb_per_s).run_once(show)
            finally:
                await data.close()
    finally:
        await etcd.close()


def _run(args: argparse.Namespace) -> int:
    from protos.errors import StrataError

    if not args.rate >= 0:
        print("strata admin scrub: --rate must be >= 0 MB/s", file=sys.stderr)
        return 2
    bar = ProgressBar("scrub", enabled=not args.json)
    try:
        stats = asyncio.run(_scrub(args.etcd, args.cluster, args.rate, bar))
    except StrataError as error:
        print(f"strata admin scrub: the scrub pass could not run: {error.message}", file=sys.stderr)
        return 2
    finally:
        bar.finish()
    if args.json:
        print_json(
            {
                name: getattr(stats, name)
                for name in (
                    "nodes_scrubbed",
                    "nodes_failed",
                    "blobs_checked",
                    "bytes_checked",
                    "corrupt",
                    "healed",
                    "unrecoverable",
                    "heal_failed",
                )
            }
        )
    else:
        print(
            f"{stats.nodes_scrubbed} datanodes scrubbed, {stats.nodes_failed} failed; "
            f"{stats.blobs_checked} blobs ({human_bytes(stats.bytes_checked)}) checked; "
            f"{stats.corrupt} corrupt, {stats.healed} healed, {stats.unrecoverable} unrecoverable, "
            f"{stats.heal_failed} not healed yet"
        )
    not_healed = stats.unrecoverable or stats.heal_failed or stats.nodes_failed
    return EXIT_NOT_HEALED if not_healed else 0


def add_command(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = actions.add_parser("scrub", help="verify every datanode's blobs now and heal corrupt replicas")
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
    add_json_option(parser)
    parser.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="MB/s each datanode reads to verify (0: unbounded; default 50)",
    )
    parser.set_defaults(run=_run)
