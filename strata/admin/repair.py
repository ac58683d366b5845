"""``strata admin repair``: one repair pass now on every shard's leader metanode.

Copies every blob short of its replication factor from a live replica to live datanodes that
lack it, and re-replicates every blob with a replica on a datanode that is down now (``--grace
0``, the default: the coordinator waits ``--repair-grace`` first) onto other live datanodes,
recording the moves. A progress bar on stderr shows the blobs checked and copied as the pass
runs; the counts are printed at the end. Exit status 0 when nothing is left short, 3 when some
blobs still cannot be repaired (e.g. their location has too few live nodes, or a copy an earlier
pass abandoned there still waits for the GC to delete it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from strata.admin.output import add_json_option, print_json
from strata.admin.progress import ProgressBar
from strata.admin.target import Cluster, add_target_options, connect, while_polling

if TYPE_CHECKING:
    from metanode.client import MetadataClient
    from protos.metadata_pb2 import RunRepairResponse

EXIT_STILL_SHORT = 3


@dataclass
class Totals:
    checked: int = 0
    copied: int = 0
    repaired: int = 0
    remaining: int = 0
    entries_remaining: int = 0


async def repair_shard(
    shard_id: str, client: MetadataClient, lost: list[str], show_progress: bool = True
) -> RunRepairResponse:
    """One repair pass on a shard's leader (``lost``: datanodes whose replicas count as missing)."""
    from protos.common_pb2 import Empty
    from protos.metadata_pb2 import RunRepairRequest

    bar = ProgressBar(f"shard {shard_id}", enabled=show_progress)

    async def poll() -> None:
        progress = (await client.repair_status(Empty())).progress
        if progress.running:
            bar.update(
                progress.blobs_checked,
                progress.blobs_total,
                f"blobs checked, {progress.blobs_copied} copied, "
                f"{progress.blobs_total - progress.blobs_checked} remaining",
            )

    response = await while_polling(client.run_repair(RunRepairRequest(lost_nodes=lost)), poll)
    bar.finish(
        response.blobs_checked,
        response.blobs_checked,
        f"blobs checked, {response.blobs_copied} copied, {response.blobs_remaining} remaining",
    )
    return response


async def _repair(args: argparse.Namespace) -> Totals:
    totals = Totals()
    async with connect(args, "repair") as cluster:
        lost = await _lost_nodes_for(cluster, args)
        if lost and not args.json:
            print(f"re-replicating the blobs of datanodes that are down: {', '.join(lost)}")
        for shard_id, client in cluster.shards:
            response = await repair_shard(shard_id, client, lost, not args.json)
            totals.checked += response.blobs_checked
            totals.copied += response.blobs_copied
            totals.repaired += response.blobs_repaired
            totals.remaining += response.blobs_remaining
            totals.entries_remaining += response.entries_remaining
    return totals


async def _lost_nodes_for(cluster: Cluster, args: argparse.Namespace) -> list[str]:
    from coordinator.down_nodes import DownNodes

    if args.no_lost or cluster.etcd is None or cluster.datanodes is None:
        return []
    down_nodes = DownNodes(cluster.etcd, args.cluster, cluster.datanodes)
    if args.grace <= 0:
        return down_nodes.unreachable()
    return down_nodes.lost((await down_nodes.refresh()).values(), args.grace)


def _run(args: argparse.Namespace) -> int:
    from protos.errors import StrataError

    try:
        totals = asyncio.run(_repair(args))
    except StrataError as error:
        print(f"strata admin repair: the repair pass could not run: {error.message}", file=sys.stderr)
        return 2
    if args.json:
        print_json(asdict(totals))
    else:
        print(
            f"{totals.checked} blobs checked, {totals.copied} copied, {totals.repaired} repaired, "
            f"{totals.remaining} remaining; {totals.entries_remaining} objects still under-replicated"
        )
    return EXIT_STILL_SHORT if totals.entries_remaining else 0


def add_command(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = actions.add_parser(
        "repair", help="copy under-replicated blobs, and the blobs of down datanodes, to live datanodes now"
    )
    add_target_options(parser)
    add_json_option(parser)
    parser.add_argument(
        "--grace",
        type=float,
        default=0.0,
        help="re-replicate off datanodes down at least this many seconds (default 0: every one down now)",
    )
    parser.add_argument(
        "--no-lost",
        action="store_true",
        help="only top up under-replicated blobs; leave the replicas on down datanodes listed",
    )
    parser.set_defaults(run=_run)
