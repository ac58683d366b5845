"""Blob replicas on a LocalCluster's datanodes against the replicas its metadata references.

    report = asyncio.run(account_blobs(cluster, ["bucket-a", "bucket-b"]))
    assert report.ok, report.summary()

The metadata side runs a GC pass first (every intent expired, so nothing written by a dead upload
stays protected) on the shard's leader: each metanode is tried, and one answering ``NOT_LEADER``
is skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from datanode.client import DataNodeClient
from metanode.client import MetadataClient
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import LISTING_DELIMITER_VERSIONS, ListObjectsRequest, RunGcRequest, RunRepairRequest
from strata.localcluster import is_alive
from strata.testing.checker import BlobReport, check_blobs
from strata.testing.cluster import LocalCluster

_T = TypeVar("_T")
_PAGE = 1000


async def stored_replicas(cluster: LocalCluster) -> set[tuple[str, str]]:
    """(datanode id, blob id) for every blob on every running datanode."""
    stored: set[tuple[str, str]] = set()
    for record in cluster.processes("datanode"):
        if not is_alive(record.pid):
            continue
        client = DataNodeClient(record.address)
        try:
            stored.update([(record.name, blob_id) async for blob_id in client.list_blobs()])
        finally:
            await client.close()
    return stored


# Right after a fault run the shard may still be electing (or proving) a leader: every replica
# refusing with NOT_LEADER is tried again for this long.
LEADER_WAIT_S = 30.0


async def on_leader(cluster: LocalCluster, call: Callable[[MetadataClient], Awaitable[_T]]) -> _T:
    """``call`` on the first running metanode that is not refusing with NOT_LEADER (all of them
    refusing is retried for up to LEADER_WAIT_S)."""
    deadline = time.monotonic() + LEADER_WAIT_S
    while True:
        last: StrataError | None = None
        for record in cluster.processes("metanode"):
            if not is_alive(record.pid):
                continue
            client = MetadataClient(record.address)
            try:
                return await call(client)
            except StrataError as error:
                if error.reason != ErrorReason.NOT_LEADER:
                    raise
                last = error
            finally:
                await client.close()
        if last is None:
            raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, "no metanode is running")
        if time.monotonic() >= deadline:
            raise last
        await asyncio.sleep(0.2)


async def referenced_replicas(cluster: LocalCluster, buckets: Iterable[str]) -> set[tuple[str, str]]:
    """(datanode id, blob id) for every replica recorded by any version of any object of ``buckets``."""

    async def collect(client: MetadataClient) -> set[tuple[str, str]]:
        referenced: set[tuple[str, str]] = set()
        for bucket in buckets:
            marker, version_marker = "", ""
            while True:
                page = await client.list_objects(
                    ListObjectsRequest(
                        bucket=bucket,
                        listing_type=LISTING_DELIMITER_VERSIONS,
                        marker=marker,
                        version_id_marker=version_marker,
                        max_keys=_PAGE,
                    )
                )
                for entry in page.entries:
                    for blob in entry.object.blobs:
                        referenced.update((node, blob.blob_id) for node in blob.replicas)
                if not page.is_truncated:
                    break
                marker, version_marker = page.next_marker, page.next_version_id_marker
        return referenced

    return await on_leader(cluster, collect)


async def collect_garbage(cluster: LocalCluster, repair: bool = True) -> None:
    """One repair pass (when asked), then one GC pass with every open intent expired."""
    if repair:
        await on_leader(cluster, lambda client: client.run_repair(RunRepairRequest()))
    await on_leader(cluster, lambda client: client.run_gc(RunGcRequest(expire_all_intents=True)))


async def account_blobs(
    cluster: LocalCluster, buckets: Iterable[str], ignore_nodes: Iterable[str] = (), repair: bool = True
) -> BlobReport:
    """Repairs and collects garbage, then compares stored replicas with referenced ones."""
    await collect_garbage(cluster, repair)
    referenced = await referenced_replicas(cluster, list(buckets))
    stored = await stored_replicas(cluster)
    return check_blobs(stored, referenced, ignore_nodes)
