"""``strata admin gc``: one garbage-collection pass now on every shard's leader metanode.

Deletes every blob queued for deletion (overwritten, deleted, abandoned copies), without the
background pass's grace, and with ``--expire-intents`` also the blobs of every unfinished
upload's intent. A progress bar on stderr shows the queue entries done as the pass runs; the
counts are printed at the end. Exit status 0 when the queue is empty, 3 when some entries stay
(a datanode holding their blobs cannot be reached).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from strata.admin.output import add_json_option, print_json
from strata.admin.progress import ProgressBar
from strata.admin.target import add_target_options, connect, while_polling

if TYPE_CHECKING:
    from metanode.client import MetadataClient
    from protos.metadata_pb2 import RunGcResponse

EXIT_ENTRIES_LEFT = 3


@dataclass
class Totals:
    deleted: int = 0
    expired: int = 0
    remaining: int = 0


async def _gc_shard(
    shard_id: str, client: MetadataClient, expire_intents: bool, show_progress: bool
) -> RunGcResponse:
    from protos.common_pb2 import Empty
    from protos.metadata_pb2 import RunGcRequest

    bar = ProgressBar(f"shard {shard_id}", enabled=show_progress)

    async def poll() -> None:
        progress = (await client.gc_status(Empty())).progress
        if progress.running:
            bar.update(
                progress.entries_done,
                progress.entries_total,
                f"entries done, {progress.blobs_deleted} blobs deleted",
            )

    response = await while_polling(client.run_gc(RunGcRequest(expire_all_intents=expire_intents)), poll)
    final = (await client.gc_status(Empty())).progress  # the figures of the pass just run
    bar.finish(
        final.entries_done, final.entries_total, f"entries done, {response.blobs_deleted} blobs deleted"
    )
    return response


async def _gc(args: argparse.Namespace) -> Totals:
    totals = Totals()
    async with connect(args, "gc") as cluster:
        for shard_id, client in cluster.shards:
            response = await _gc_shard(shard_id, client, args.expire_intents, not args.json)
            totals.deleted += response.blobs_deleted
            totals.expired += response.intents_expired
            totals.remaining += response.entries_remaining
    return totals


def _run(args: argparse.Namespace) -> int:
    from protos.errors import StrataError

    try:
        totals = asyncio.run(_gc(args))
    except StrataError as error:
        print(f"strata admin gc: the GC pass could not run: {error.message}", file=sys.stderr)
        return 2
    if args.json:
        print_json(asdict(totals))
    else:
        print(
            f"{totals.deleted} blobs deleted, {totals.expired} intents expired; "
            f"{totals.remaining} entries still queued"
        )
    return EXIT_ENTRIES_LEFT if totals.remaining else 0


def add_command(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = actions.add_parser("gc", help="delete the blobs queued for deletion now")
    add_target_options(parser)
    add_json_option(parser)
    parser.add_argument(
        "--expire-intents",
        action="store_true",
        help="also collect the blobs of every upload still in progress (only when none is running!)",
    )
    parser.set_defaults(run=_run)
