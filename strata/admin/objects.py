"""``strata admin object stat BUCKET KEY``: an object's metadata and where every copy of its data is.

The metadata comes from the leader of the bucket's shard (``GetObject``); then every replica
datanode a blob lists is asked whether it holds the blob (``Head``) and at which size. A blob
on an external location is asked of one live datanode serving that location, which asks the
provider. A replica whose datanode is not live is reported as unreachable, not as missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from strata.admin.output import add_json_option, print_json, print_table, run_command
from strata.admin.target import Cluster, add_target_options, connect

if TYPE_CHECKING:
    from metanode.client import MetadataClient
    from protos.common_pb2 import BlobRef
    from protos.metadata_pb2 import ObjectMD

PRESENT, MISSING, WRONG_SIZE, UNREACHABLE = "present", "missing", "wrong size", "unreachable"
HEAD_TIMEOUT_S = 10.0


@dataclass
class ReplicaState:
    node_id: str
    address: str
    state: str  # PRESENT, MISSING, WRONG_SIZE or UNREACHABLE
    size: int | None = None
    detail: str = ""


@dataclass
class BlobState:
    blob_id: str
    location: str
    size: int
    replicas_wanted: int
    remote_name: str
    replicas: list[ReplicaState] = field(default_factory=list)


async def _leader_for(cluster: Cluster, cluster_name: str, bucket: str) -> MetadataClient:
    from coordinator.buckets import bucket_shard
    from protos.common_pb2 import ErrorReason
    from protos.errors import StrataError

    if len(cluster.shards) == 1 and cluster.etcd is None:
        return cluster.shards[0][1]  # --metanode without etcd: that one metanode
    shard = await bucket_shard(cluster.etcd, cluster_name, bucket) if cluster.etcd is not None else None
    if shard is None:
        raise StrataError(ErrorReason.NO_SUCH_BUCKET, f"no bucket {bucket!r} in cluster {cluster_name!r}")
    for shard_id, client in cluster.shards:
        if shard_id in (shard, "(given)"):
            return client
    raise StrataError(ErrorReason.NOT_LEADER, f"no leader of shard {shard} (bucket {bucket!r}) answered")


async def _member_addresses(cluster: Cluster, cluster_name: str) -> dict[str, str]:
    """node id -> address of every datanode that ever registered (live ones as registered now)."""
    from coordinator.keyspace import Keyspace, keyspace

    addresses: dict[str, str] = {}
    if cluster.etcd is not None:
        for key, raw in await cluster.etcd.get_prefix(keyspace(cluster_name).members_prefix("datanode")):
            info = json.loads(raw)
            addresses[Keyspace.last_segment(key)] = str(info.get("address", ""))
    if cluster.datanodes is not None:
        for info in cluster.datanodes.nodes():
            addresses[str(info["node_id"])] = str(info.get("address", ""))
    return addresses


async def _head(address: str, blob: BlobRef, node_id: str, live: bool) -> ReplicaState:
    from datanode.client import DataNodeClient
    from protos.data_pb2 import RemoteRef
    from protos.errors import StrataError

    if not live or not address:
        return ReplicaState(node_id, address, UNREACHABLE, detail="not live")
    remote = (
        RemoteRef(name=blob.remote_name, version=blob.remote_version, size=blob.size)
        if blob.remote_name
        else None
    )
    client = DataNodeClient(address, call_timeout=HEAD_TIMEOUT_S)
    try:
        size = await client.head(blob.blob_id, remote)
    except StrataError as error:
        return ReplicaState(node_id, address, UNREACHABLE, detail=f"{error.reason_name}: {error.message}")
    finally:
        await client.close()
    if size is None:
        return ReplicaState(node_id, address, MISSING)
    return ReplicaState(node_id, address, PRESENT if size == blob.size else WRONG_SIZE, size=size)


async def blob_states(cluster: Cluster, cluster_name: str, record: ObjectMD) -> list[BlobState]:
    addresses = await _member_addresses(cluster, cluster_name)
    live = set(cluster.datanodes.node_ids()) if cluster.datanodes is not None else set(addresses)
    states = []
    for blob in record.blobs:
        state = BlobState(blob.blob_id, blob.location, blob.size, blob.replicas_wanted, blob.remote_name)
        holders = list(blob.replicas)
        if blob.remote_name and not holders and cluster.datanodes is not None:
            # Nobody holds an external blob but the provider: ask one relay of its location.
            relays = cluster.datanodes.nodes_for_location(blob.location)
            holders = [relays[0].node_id] if relays else []
        state.replicas = list(
            await asyncio.gather(
                *(_head(addresses.get(node, ""), blob, node, node in live) for node in holders)
            )
        )
        states.append(state)
    return states


def _metadata(record: ObjectMD, version_id: str) -> dict[str, Any]:
    return {
        "key": record.key,
        "version_id": version_id,
        "size": record.size,
        "etag": record.etag,
        "last_modified_ms": record.last_modified_ms,
        "owner_id": record.owner_id,
        "content_type": record.content_type,
        "location": record.location,
        "storage_class": record.storage_class or "STANDARD",
        "is_delete_marker": record.is_delete_marker,
        "parts_count": record.parts_count,
        "inline_bytes": len(record.inline_data),
        "user_metadata": dict(record.user_metadata),
    }


async def _stat(args: argparse.Namespace) -> int:
    from metanode.keys import decode_version_id, encode_version_id
    from protos.metadata_pb2 import GetObjectRequest

    request = GetObjectRequest(bucket=args.bucket, key=args.key)
    if args.version_id is not None:
        request.version_id = decode_version_id(args.version_id)
        request.has_version_id = True
    async with connect(args, "object stat") as cluster:
        leader = await _leader_for(cluster, args.cluster, args.bucket)
        record = await leader.get_object(request)
        blobs = await blob_states(cluster, args.cluster, record)
    metadata = _metadata(record, encode_version_id(record.version_id))
    if args.json:
        print_json({"bucket": args.bucket, "object": metadata, "blobs": [asdict(blob) for blob in blobs]})
        return 0
    for name in ("key", "version_id", "size", "etag", "last_modified_ms", "content_type", "location"):
        print(f"{name + ':':18} {metadata[name] if metadata[name] != '' else '-'}")
    print(
        f"{'data:':18} {len(blobs)} blobs"
        + (f", {metadata['inline_bytes']} bytes inline" if metadata["inline_bytes"] else "")
    )
    rows = [
        (
            blob.blob_id,
            blob.location,
            blob.size,
            f"{sum(r.state == PRESENT for r in blob.replicas)}/{blob.replicas_wanted or len(blob.replicas)}",
            replica.node_id,
            replica.address,
            replica.state,
            replica.size,
            blob.remote_name or None,
        )
        for blob in blobs
        for replica in (blob.replicas or [ReplicaState("-", "", MISSING)])
    ]
    if rows:
        print_table(
            ("BLOB", "LOCATION", "SIZE", "COPIES", "DATANODE", "ADDRESS", "STATE", "HELD", "REMOTE"), rows
        )
    return 0


def _run(args: argparse.Namespace) -> int:
    return run_command("object stat", _stat(args))


def add_commands(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    obj = actions.add_parser("object", help="one object's metadata and data")
    object_actions = obj.add_subparsers(dest="object_command", required=True)
    stat = object_actions.add_parser(
        "stat", help="an object's metadata and where every blob replica is (asking the datanodes)"
    )
    add_target_options(stat)
    add_json_option(stat)
    stat.add_argument("bucket", help="the bucket's name")
    stat.add_argument("key", help="the object's key")
    stat.add_argument(
        "--version-id", default=None, help="a version id as S3 returns it (default: the latest)"
    )
    stat.set_defaults(run=_run)
