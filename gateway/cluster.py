"""The gateway's cluster-mode MetadataPort: the metanode over gRPC, bucket names claimed in etcd."""

from __future__ import annotations

from coordinator.buckets import assign_bucket, release_bucket
from coordinator.etcd import EtcdClient
from coordinator.registry import NodeWatcher
from metanode.client import MetadataClient
from protos.common_pb2 import Empty, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    AbortIntentRequest,
    BucketInfo,
    BucketName,
    CompleteUploadRequest,
    CompleteUploadResponse,
    CreateBucketRequest,
    CreateIntentRequest,
    CreateUploadRequest,
    DeleteObjectRequest,
    DeleteObjectResponse,
    GetObjectRequest,
    Intent,
    ListBucketsRequest,
    ListBucketsResponse,
    ListObjectsRequest,
    ListObjectsResponse,
    ListPartsRequest,
    ListPartsResponse,
    ListUploadsRequest,
    ListUploadsResponse,
    ObjectMD,
    PutObjectRequest,
    PutObjectResponse,
    PutPartRequest,
    PutPartResponse,
    QueueGarbageRequest,
    RunGcRequest,
    RunGcResponse,
    UploadInfo,
    UploadRef,
)

DEFAULT_SHARD = "s1"


class ClusterMetadata:
    """Sends each call to the shard's metanode; bucket names are made unique cluster-wide in etcd."""

    def __init__(self, etcd: EtcdClient, cluster: str, metanodes: NodeWatcher) -> None:
        self._etcd = etcd
        self._cluster = cluster
        self._metanodes = metanodes
        self._clients: dict[str, MetadataClient] = {}

    def _metanode(self) -> MetadataClient:
        nodes = sorted(self._metanodes.nodes(), key=lambda info: str(info.get("node_id", "")))
        if not nodes:
            raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, "no metanode is registered")
        address = str(nodes[0]["address"])
        client = self._clients.get(address)
        if client is None:
            client = self._clients[address] = MetadataClient(address)
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()

    async def create_bucket(self, request: CreateBucketRequest) -> BucketInfo:
        name = request.bucket.name
        created, shard = await assign_bucket(self._etcd, self._cluster, name, DEFAULT_SHARD)
        if not created:
            # The name is claimed: it is ours to (re)create only if no metanode has it (a crash in between).
            try:
                await self._metanode().get_bucket(BucketName(name=name))
            except StrataError as error:
                if error.reason != ErrorReason.NO_SUCH_BUCKET:
                    raise
            else:
                return await self._metanode().create_bucket(request)
        request.bucket.shard = shard
        try:
            return await self._metanode().create_bucket(request)
        except StrataError as error:
            if created and error.reason not in (ErrorReason.BUCKET_EXISTS, ErrorReason.BUCKET_OWNED_BY_YOU):
                await release_bucket(self._etcd, self._cluster, name)
            raise

    async def delete_bucket(self, request: BucketName) -> Empty:
        result = await self._metanode().delete_bucket(request)
        await release_bucket(self._etcd, self._cluster, request.name)
        return result

    async def get_bucket(self, request: BucketName) -> BucketInfo:
        return await self._metanode().get_bucket(request)

    async def update_bucket(self, request: BucketInfo) -> BucketInfo:
        return await self._metanode().update_bucket(request)

    async def list_buckets(self, request: ListBucketsRequest) -> ListBucketsResponse:
        return await self._metanode().list_buckets(request)

    async def get_object(self, request: GetObjectRequest) -> ObjectMD:
        return await self._metanode().get_object(request)

    async def put_object(self, request: PutObjectRequest) -> PutObjectResponse:
        return await self._metanode().put_object(request)

    async def delete_object(self, request: DeleteObjectRequest) -> DeleteObjectResponse:
        return await self._metanode().delete_object(request)

    async def list_objects(self, request: ListObjectsRequest) -> ListObjectsResponse:
        return await self._metanode().list_objects(request)

    async def create_intent(self, request: CreateIntentRequest) -> Intent:
        return await self._metanode().create_intent(request)

    async def abort_intent(self, request: AbortIntentRequest) -> Empty:
        return await self._metanode().abort_intent(request)

    async def queue_garbage(self, request: QueueGarbageRequest) -> Empty:
        return await self._metanode().queue_garbage(request)

    async def run_gc(self, request: RunGcRequest) -> RunGcResponse:
        return await self._metanode().run_gc(request)

    async def create_upload(self, request: CreateUploadRequest) -> UploadInfo:
        return await self._metanode().create_upload(request)

    async def get_upload(self, request: UploadRef) -> UploadInfo:
        return await self._metanode().get_upload(request)

    async def put_part(self, request: PutPartRequest) -> PutPartResponse:
        return await self._metanode().put_part(request)

    async def list_parts(self, request: ListPartsRequest) -> ListPartsResponse:
        return await self._metanode().list_parts(request)

    async def complete_upload(self, request: CompleteUploadRequest) -> CompleteUploadResponse:
        return await self._metanode().complete_upload(request)

    async def abort_upload(self, request: UploadRef) -> Empty:
        return await self._metanode().abort_upload(request)

    async def list_uploads(self, request: ListUploadsRequest) -> ListUploadsResponse:
        return await self._metanode().list_uploads(request)
