"""``strata admin node drain|decommission|undrain DATANODE_ID``: move every blob replica off a datanode.

Draining reuses the repair pass's handling of lost datanodes (``metanode/repair.py``): each shard
leader is asked for a repair pass naming the datanode as lost, which finds every object version
and upload part with a replica on it, copies each such blob from its other replicas onto other
datanodes of its location (protected by an intent, verified end to end) and, once the blob has
its replication factor without the drained node, drops that replica from the metadata. Nothing
is dropped before the new copies are recorded, so an interruption at any point leaves every
blob with at least the replicas it had; running the command again continues where it stopped.

First the datanode is marked draining (``draining/<id>`` in etcd). Every process's datanode
directory follows that key: new blobs and repair copies go to other nodes, while the replicas
the drained node still holds are read from it until they have moved. Passes repeat until one
copies nothing (a write that started before the mark may commit after a pass), at most five.

``decommission`` drains, then removes the datanode from the membership (``members/datanode/<id>``
and the coordinator's down record), so the cluster no longer counts it towards any location
and does not wait for it; the draining mark stays, so the process, while it still runs, takes no
new blob. Stop it afterwards. ``undrain`` removes the mark (the node takes new blobs again).

The drained node is not used as a copy source: a blob whose only good replica is on it (a
location with a replication factor of 1) cannot move, and the command says how many are left.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from strata.admin.output import add_json_option, print_json
from strata.admin.target import Cluster, add_target_options, connect

if TYPE_CHECKING:
    from coordinator.keyspace import Keyspace

EXIT_BLOBS_LEFT = 3
MAX_PASSES = 5


@dataclass
class DrainResult:
    node_id: str
    location: str
    passes: int = 0
    blobs_copied: int = 0
    blobs_moved: int = 0
    blobs_left: int = 0
    decommissioned: bool = False


async def _member(cluster: Cluster, cluster_name: str, node_id: str) -> dict[str, object] | None:
    from coordinator.keyspace import keyspace

    assert cluster.etcd is not None
    raw = await cluster.etcd.get(keyspace(cluster_name).member("datanode", node_id))
    return json.loads(raw) if raw is not None else None


async def _mark(cluster: Cluster, space: Keyspace, node_id: str) -> dict[str, object] | None:
    assert cluster.etcd is not None
    raw = await cluster.etcd.get(space.draining(node_id))
    return json.loads(raw) if raw is not None else None


async def _one_pass(cluster: Cluster, node_id: str, show_progress: bool) -> tuple[int, int, int]:
    """One repair pass on every shard with the node counted lost; (copied, repaired, blobs still on it)."""
    from strata.admin.repair import repair_shard

    copied = repaired = left = 0
    for shard_id, client in cluster.shards:
        response = await repair_shard(shard_id, client, [node_id], show_progress)
        copied += response.blobs_copied
        repaired += response.blobs_repaired
        left += response.lost_blobs_remaining
    return copied, repaired, left


async def drain(args: argparse.Namespace, decommission: bool) -> DrainResult:
    from coordinator.keyspace import keyspace

    space = keyspace(args.cluster)
    async with connect(args, "node drain") as cluster:
        if cluster.etcd is None or cluster.datanodes is None:
            raise SystemExit("strata admin node: needs etcd (--etcd or --dir)")
        # A decommissioned node is no member any more, but its draining mark names its location.
        member = await _member(cluster, args.cluster, args.node_id) or await _mark(
            cluster, space, args.node_id
        )
        if member is None:
            raise SystemExit(
                f"strata admin node: {args.node_id!r} is not a datanode of cluster {args.cluster!r}"
            )
        location = str(member.get("location", ""))
        result = DrainResult(args.node_id, location)
        targets = [
            node for node in cluster.datanodes.nodes_for_location(location) if node.node_id != args.node_id
        ]
        if not targets:
            raise SystemExit(
                f"strata admin node: no other live datanode serves location {location!r}: nowhere to move to"
            )
        mark = {"since_ms": time.time_ns() // 1_000_000, "location": location}
        await cluster.etcd.create_if_absent(space.draining(args.node_id), json.dumps(mark).encode())
        if not args.json:
            print(
                f"{args.node_id} ({location}) draining: new blobs go to {', '.join(n.node_id for n in targets)}"
            )
        # Passes until one copies nothing: then either nothing is left (that pass confirmed it,
        # catching writes that started before the mark), or what is left cannot move now (too
        # few other nodes) and a later run will retry. Bounded, as writes may keep arriving.
        while result.passes < MAX_PASSES:
            copied, repaired, left = await _one_pass(cluster, args.node_id, not args.json)
            result.passes += 1
            result.blobs_copied += copied
            result.blobs_moved += repaired
            result.blobs_left = left
            if copied == 0:
                break
        if decommission and result.blobs_left == 0:
            await cluster.etcd.delete(space.member("datanode", args.node_id))
            await cluster.etcd.delete(space.coordinator_down(args.node_id))
            result.decommissioned = True
    return result


async def undrain(args: argparse.Namespace) -> bool:
    from coordinator.etcd import EtcdClient
    from coordinator.keyspace import keyspace
    from strata.admin.target import etcd_endpoint

    client = await EtcdClient.connect(etcd_endpoint(args))
    try:
        return await client.delete(keyspace(args.cluster).draining(args.node_id))
    finally:
        await client.close()


def _report(result: DrainResult, as_json: bool) -> None:
    if as_json:
        print_json(asdict(result))
        return
    print(
        f"{result.node_id}: {result.passes} passes, {result.blobs_copied} blobs copied, "
        f"{result.blobs_moved} moved off; {result.blobs_left} still on it"
    )
    if result.decommissioned:
        print(f"{result.node_id}: removed from the membership; stop its process now")
    elif result.blobs_left:
        print(
            f"{result.node_id}: some blobs cannot move yet (too few other live datanodes of "
            f"{result.location}?); run the command again later",
            file=sys.stderr,
        )


def _run(args: argparse.Namespace) -> int:
    from protos.errors import StrataError

    try:
        if args.node_command == "undrain":
            removed = asyncio.run(undrain(args))
            if args.json:
                print_json({"node_id": args.node_id, "was_draining": removed})
            else:
                print(f"{args.node_id}: {'takes new blobs again' if removed else 'was not draining'}")
            return 0
        result = asyncio.run(drain(args, decommission=args.node_command == "decommission"))
    except StrataError as error:
        print(f"strata admin node {args.node_command}: {error.message}", file=sys.stderr)
        return 2
    _report(result, args.json)
    return EXIT_BLOBS_LEFT if result.blobs_left else 0


def add_commands(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    node = actions.add_parser("node", help="drain or decommission a datanode")
    node_actions = node.add_subparsers(dest="node_command", required=True)
    for name, text in (
        ("drain", "move every blob replica off a datanode onto others of its location"),
        ("decommission", "drain a datanode, then remove it from the membership"),
        ("undrain", "let a drained datanode take new blobs again"),
    ):
        parser = node_actions.add_parser(name, help=text)
        add_target_options(parser)
        add_json_option(parser)
        parser.add_argument(
            "node_id",
            metavar="DATANODE_ID",
            help="the datanode's node id (as strata cluster status shows it)",
        )
        parser.set_defaults(run=_run)
