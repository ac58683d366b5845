"""``strata admin bucket list`` and ``strata admin usage``: what each bucket and account holds.

Both ask every shard's leader metanode for its buckets (``ListBuckets``) and their figures
(``GetBucketStats``, a scan of the leader's store: see ``metanode/stats.py``). ``usage`` adds
the figures up per owning account and names each account from the accounts stored in etcd.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass

from strata.admin.output import add_json_option, print_json, print_table, run_command
from strata.admin.target import Cluster, add_target_options, connect

DEFAULT_LOCATION = "us-east-1"


@dataclass(frozen=True)
class BucketRow:
    name: str
    owner_id: str
    owner_name: str
    location: str
    shard: str
    objects: int
    bytes: int
    versions: int
    delete_markers: int
    uploads: int
    stored_bytes: int


async def bucket_rows(cluster: Cluster) -> list[BucketRow]:
    from protos.metadata_pb2 import BucketStatsRequest, ListBucketsRequest

    rows: list[BucketRow] = []
    for shard_id, client in cluster.shards:
        buckets = (await client.list_buckets(ListBucketsRequest())).buckets
        stats = {entry.bucket: entry for entry in (await client.bucket_stats(BucketStatsRequest())).buckets}
        for bucket in buckets:
            figures = stats.get(bucket.name)
            rows.append(
                BucketRow(
                    name=bucket.name,
                    owner_id=bucket.owner_id,
                    owner_name=bucket.owner_display_name,
                    location=bucket.location or DEFAULT_LOCATION,
                    shard=bucket.shard or shard_id,
                    objects=figures.objects if figures else 0,
                    bytes=figures.bytes if figures else 0,
                    versions=figures.versions if figures else 0,
                    delete_markers=figures.delete_markers if figures else 0,
                    uploads=figures.uploads if figures else 0,
                    stored_bytes=figures.stored_bytes if figures else 0,
                )
            )
    return sorted(rows, key=lambda row: row.name)


async def _account_names(cluster: Cluster, cluster_name: str) -> dict[str, str]:
    """canonical id -> account name, from the accounts stored in etcd."""
    from coordinator.config_io import get_authdata

    if cluster.etcd is None:
        return {}
    accounts = (await get_authdata(cluster.etcd, cluster_name))["accounts"]
    return {str(account["canonicalID"]): str(account["name"]) for account in accounts}


async def _bucket_list(args: argparse.Namespace) -> int:
    async with connect(args, "bucket list") as cluster:
        rows = await bucket_rows(cluster)
    if args.json:
        print_json({"buckets": [asdict(row) for row in rows]})
        return 0
    print_table(
        ("NAME", "OWNER", "LOCATION", "SHARD", "OBJECTS", "BYTES", "VERSIONS", "UPLOADS", "STORED"),
        [
            (
                row.name,
                row.owner_name or row.owner_id,
                row.location,
                row.shard,
                row.objects,
                row.bytes,
                row.versions,
                row.uploads,
                row.stored_bytes,
            )
            for row in rows
        ],
    )
    return 0


@dataclass
class AccountUsage:
    canonical_id: str
    name: str
    buckets: int = 0
    objects: int = 0
    bytes: int = 0
    versions: int = 0
    stored_bytes: int = 0


def usage_by_account(rows: list[BucketRow], names: dict[str, str]) -> list[AccountUsage]:
    """Per owning account, the sums of its buckets' figures; accounts with no bucket listed too."""
    usage: dict[str, AccountUsage] = {
        canonical_id: AccountUsage(canonical_id, name) for canonical_id, name in names.items()
    }
    for row in rows:
        account = usage.setdefault(row.owner_id, AccountUsage(row.owner_id, row.owner_name))
        account.buckets += 1
        account.objects += row.objects
        account.bytes += row.bytes
        account.versions += row.versions
        account.stored_bytes += row.stored_bytes
    return sorted(usage.values(), key=lambda account: (account.name, account.canonical_id))


async def _usage(args: argparse.Namespace) -> int:
    async with connect(args, "usage") as cluster:
        rows = await bucket_rows(cluster)
        names = await _account_names(cluster, args.cluster)
    accounts = usage_by_account(rows, names)
    if args.json:
        print_json({"accounts": [asdict(account) for account in accounts]})
        return 0
    print_table(
        ("ACCOUNT", "CANONICAL ID", "BUCKETS", "OBJECTS", "BYTES", "STORED"),
        [
            (
                account.name,
                account.canonical_id,
                account.buckets,
                account.objects,
                account.bytes,
                account.stored_bytes,
            )
            for account in accounts
        ],
    )
    return 0


def add_commands(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bucket = actions.add_parser("bucket", help="the buckets of the cluster")
    bucket_actions = bucket.add_subparsers(dest="bucket_command", required=True)
    listing = bucket_actions.add_parser(
        "list", help="every bucket with its owner, location, shard, object count and bytes"
    )
    add_target_options(listing)
    add_json_option(listing)
    listing.set_defaults(run=lambda args: run_command("bucket list", _bucket_list(args)))

    usage = actions.add_parser("usage", help="per account: buckets, objects and bytes")
    add_target_options(usage)
    add_json_option(usage)
    usage.set_defaults(run=lambda args: run_command("usage", _usage(args)))
