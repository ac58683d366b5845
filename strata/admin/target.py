"""Which cluster an admin command talks to, and the shard leaders it runs a pass on.

``--etcd`` names etcd; without it, the etcd of the local cluster recorded in ``--dir``, else
``STRATA_ETCD``, else that of a local cluster recorded in ``./.strata-cluster``, else
127.0.0.1:2379. ``--metanode`` skips discovery and talks to that one metanode (with etcd only if
``--etcd`` or ``--dir`` is given: without it, no datanode is known to be down).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from coordinator.etcd import EtcdClient
    from coordinator.registry import NodeWatcher
    from metanode.client import MetadataClient

# A pass copies or deletes whole blobs: give it far longer than a metadata call.
PASS_TIMEOUT_S = 3600.0
POLL_INTERVAL_S = 0.25
DEFAULT_ETCD = "127.0.0.1:2379"
LOCAL_CLUSTER_DIR = ".strata-cluster"

T = TypeVar("T")


def etcd_endpoint(args: argparse.Namespace) -> str:
    from strata.localcluster import ClusterState

    if args.etcd:
        return str(args.etcd)
    if args.dir:
        state = ClusterState.load(Path(args.dir))
        if state is None or not state.etcd:
            raise SystemExit(f"no local cluster is recorded in {args.dir}")
        return state.etcd
    if os.environ.get("STRATA_ETCD"):
        return os.environ["STRATA_ETCD"]
    state = ClusterState.load(Path.cwd() / LOCAL_CLUSTER_DIR)
    return state.etcd if state is not None and state.etcd else DEFAULT_ETCD


@dataclass
class Cluster:
    """The connections an admin command needs; ``shards`` lists (shard id, its leader's client)."""

    etcd: EtcdClient | None
    datanodes: NodeWatcher | None
    shards: list[tuple[str, MetadataClient]]


async def _answers(client: MetadataClient) -> MetadataClient:
    from protos.common_pb2 import Empty

    await client.repair_status(Empty())  # a follower answers NOT_LEADER
    return client


@asynccontextmanager
async def connect(args: argparse.Namespace, command: str) -> AsyncIterator[Cluster]:
    from coordinator.etcd import EtcdClient
    from coordinator.registry import NodeWatcher
    from coordinator.shard_leaders import ShardLeaders
    from metanode.client import MetadataClient

    if args.metanode:
        client = MetadataClient(args.metanode, timeout_s=PASS_TIMEOUT_S)
        etcd = await EtcdClient.connect(etcd_endpoint(args)) if args.etcd or args.dir else None
        datanodes = NodeWatcher(etcd, args.cluster, "datanode") if etcd is not None else None
        try:
            if datanodes is not None:
                await datanodes.start()
            yield Cluster(etcd, datanodes, [("(given)", client)])
        finally:
            await client.close()
            if datanodes is not None:
                await datanodes.close()
            if etcd is not None:
                await etcd.close()
        return
    etcd = await EtcdClient.connect(etcd_endpoint(args))
    metanodes = NodeWatcher(etcd, args.cluster, "metanode")
    datanodes = NodeWatcher(etcd, args.cluster, "datanode")
    leaders = ShardLeaders(etcd, args.cluster, metanodes, timeout_s=PASS_TIMEOUT_S)
    try:
        await metanodes.start()
        await datanodes.start()
        shard_ids = leaders.shard_ids()
        if not shard_ids:
            raise SystemExit(f"strata admin {command}: no metanode is registered in cluster {args.cluster!r}")
        shards = [(shard_id, await leaders.call(shard_id, _answers)) for shard_id in shard_ids]
        yield Cluster(etcd, datanodes, shards)
    finally:
        await leaders.close()
        await datanodes.close()
        await metanodes.close()
        await etcd.close()


async def while_polling(running: Awaitable[T], poll: Callable[[], Awaitable[None]]) -> T:
    """Awaits ``running``, calling ``poll()`` every quarter second meanwhile."""
    task = asyncio.ensure_future(running)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=POLL_INTERVAL_S)
            if done:
                return task.result()
            await poll()
    finally:
        if not task.done():
            task.cancel()


def add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--etcd",
        default=None,
        help="etcd endpoint(s) host:port[,host:port] (default: the local cluster's, else STRATA_ETCD, "
        f"else {DEFAULT_ETCD})",
    )
    parser.add_argument(
        "--cluster",
        default=os.environ.get("STRATA_CLUSTER", "local"),
        help="cluster name: the etcd key prefix (STRATA_CLUSTER)",
    )
    parser.add_argument(
        "--dir", default=None, help=f"a local cluster's state directory (default: ./{LOCAL_CLUSTER_DIR})"
    )
    parser.add_argument(
        "--metanode", default=None, help="metanode gRPC address (default: each shard's leader)"
    )
