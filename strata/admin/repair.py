"""``strata admin repair``: one repair pass now, on the metanode that owns the metadata.

Copies every blob short of its replication factor from a live replica to live datanodes
that lack it and records the new replicas. Exit status 0 when nothing is left short,
3 when some blobs still cannot be repaired (e.g. their location has too few live nodes, or
a copy an earlier pass abandoned there still waits for the GC to delete it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

EXIT_STILL_SHORT = 3


async def _repair(etcd_address: str, cluster: str, metanode: str | None) -> tuple[int, int]:
    from coordinator.etcd import EtcdClient
    from coordinator.registry import NodeWatcher
    from metanode.client import MetadataClient
    from protos.metadata_pb2 import RunRepairRequest

    address = metanode
    if address is None:
        etcd = await EtcdClient.connect(etcd_address)
        try:
            async with NodeWatcher(etcd, cluster, "metanode") as metanodes:
                nodes = metanodes.nodes()
                if not nodes:
                    raise SystemExit(f"strata admin repair: no metanode is registered in cluster {cluster!r}")
                address = str(nodes[0]["address"])
        finally:
            await etcd.close()
    # A pass copies whole blobs: give it far longer than a metadata call.
    client = MetadataClient(address, timeout_s=3600.0)
    try:
        response = await client.run_repair(RunRepairRequest())
    finally:
        await client.close()
    return response.blobs_repaired, response.entries_remaining


def _run(args: argparse.Namespace) -> int:
    from protos.errors import StrataError

    try:
        repaired, remaining = asyncio.run(_repair(args.etcd, args.cluster, args.metanode))
    except StrataError as error:
        print(f"strata admin repair: the repair pass could not run: {error.message}", file=sys.stderr)
        return 2
    print(f"{repaired} blobs repaired; {remaining} objects still under-replicated")
    return EXIT_STILL_SHORT if remaining else 0


def add_command(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = actions.add_parser("repair", help="copy under-replicated blobs to their missing replicas now")
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
    parser.add_argument("--metanode", default=None, help="metanode gRPC address (default: found in etcd)")
    parser.set_defaults(run=_run)
