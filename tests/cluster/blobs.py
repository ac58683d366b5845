"""What the datanodes of a LocalCluster hold, for orphan checks."""

from __future__ import annotations

from datanode.client import DataNodeClient
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
