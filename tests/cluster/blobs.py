"""What the datanodes of a LocalCluster hold: blob ids (for orphan checks), blob files, recorded replicas."""

from __future__ import annotations

import asyncio
from pathlib import Path

from datanode.client import DataNodeClient
from metanode.client import MetadataClient
from protos.common_pb2 import BlobRef
from protos.metadata_pb2 import GetObjectRequest
from strata.testing.cluster import LocalCluster


async def datanode_blob_ids(cluster: LocalCluster) -> set[str]:
    """Every blob id stored on any datanode of the cluster."""
    stored: set[str] = set()
    for record in cluster.processes("datanode"):
        client = DataNodeClient(record.address)
        try:
            stored.update([blob_id async for blob_id in client.list_blobs()])
        finally:
            await client.close()
    return stored


def blob_of(cluster: LocalCluster, bucket: str, key: str) -> BlobRef:
    """The one blob of a single-blob object, as its metadata records it."""

    async def read() -> BlobRef:
        client = MetadataClient(cluster.processes("metanode")[0].address)
        try:
            md = await client.get_object(GetObjectRequest(bucket=bucket, key=key))
        finally:
            await client.close()
        [blob] = md.blobs
        return blob

    return asyncio.run(read())


def blob_file(cluster: LocalCluster, node_id: str, blob_id: str) -> Path:
    """Where a datanode of the cluster keeps a blob's file (the disk backend's layout)."""
    return Path(cluster.launcher.workdir) / node_id / blob_id[0:2] / blob_id[2:4] / blob_id
