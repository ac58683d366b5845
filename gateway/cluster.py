"""The gateway's cluster-mode MetadataPort: the metanode over gRPC, bucket names claimed in etcd.

Every call goes to the shard's registered metanode (``MetadataClient`` resolves the
address per call); only bucket creation and deletion add the cluster-wide name claim.
"""

from __future__ import annotations

from coordinator.buckets import assign_bucket, release_bucket
from coordinator.etcd import EtcdClient
from coordinator.registry import NodeWatcher
from metanode.client import MetadataClient
from protos.common_pb2 import Empty, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import BucketInfo, BucketName, CreateBucketRequest

DEFAULT_SHARD = "s1"


class ClusterMetadata(MetadataClient):
    def __init__(self, etcd: EtcdClient, cluster: str, metanodes: NodeWatcher) -> None:
        super().__init__(self._metanode_address)
        self._etcd = etcd
        self._cluster = cluster
        self._metanodes = metanodes

    def _metanode_address(self) -> str:
        nodes = sorted(self._metanodes.nodes(), key=lambda info: str(info.get("node_id", "")))
        if not nodes:
            raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, "no metanode is registered")
        return str(nodes[0]["address"])

    async def create_bucket(self, request: CreateBucketRequest) -> BucketInfo:
        name = request.bucket.name
        created, shard = await assign_bucket(self._etcd, self._cluster, name, DEFAULT_SHARD)
        if not created:
            # The name is claimed: it is ours to (re)create only if no metanode has it (a crash in between).
            try:
                await self.get_bucket(BucketName(name=name))
            except StrataError as error:
                if error.reason != ErrorReason.NO_SUCH_BUCKET:
                    raise
            else:
                return await super().create_bucket(request)
        request.bucket.shard = shard
        try:
            return await super().create_bucket(request)
        except StrataError as error:
            if created and error.reason not in (ErrorReason.BUCKET_EXISTS, ErrorReason.BUCKET_OWNED_BY_YOU):
                await release_bucket(self._etcd, self._cluster, name)
            raise

    async def delete_bucket(self, request: BucketName) -> Empty:
        result = await super().delete_bucket(request)
        await release_bucket(self._etcd, self._cluster, request.name)
        return result
