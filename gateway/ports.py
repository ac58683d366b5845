"""The two narrow interfaces the gateway talks to (DESIGN section 4).

``MetadataPort`` is the MetadataService RPC surface with snake_case names:
each method takes the request message and returns the response message, and
failures are raised as ``protos.errors.StrataError``. It is implemented by the
gRPC client (``metanode.client.MetadataClient``) and, in embedded mode, by the
metanode core itself (``metanode.core.MetadataCore``).

``DataPort`` stores and reads blobs by ``BlobRef``. It is implemented by
``datanode.client.ReplicatedDataClient`` (cluster) and by the in-process
adapter in ``strata.embedded`` (embedded mode).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from datanode.backends.remote import ObjectMeta, RemoteObject, RemotePart
from protos.common_pb2 import BlobRef, Empty
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
    RenewIntentRequest,
    RepairStatusResponse,
    RunGcRequest,
    RunGcResponse,
    RunRepairRequest,
    RunRepairResponse,
    UploadInfo,
    UploadRef,
)

if TYPE_CHECKING:
    from coordinator.shards import ShardState


class MetadataPort(Protocol):
    async def create_bucket(self, request: CreateBucketRequest) -> BucketInfo: ...
    async def get_bucket(self, request: BucketName) -> BucketInfo: ...
    async def update_bucket(self, request: BucketInfo) -> BucketInfo: ...
    async def delete_bucket(self, request: BucketName) -> Empty: ...
    async def list_buckets(self, request: ListBucketsRequest) -> ListBucketsResponse: ...

    async def get_object(self, request: GetObjectRequest) -> ObjectMD: ...
    async def put_object(self, request: PutObjectRequest) -> PutObjectResponse: ...
    async def delete_object(self, request: DeleteObjectRequest) -> DeleteObjectResponse: ...
    async def list_objects(self, request: ListObjectsRequest) -> ListObjectsResponse: ...

    async def create_intent(self, request: CreateIntentRequest) -> Intent: ...
    async def abort_intent(self, request: AbortIntentRequest) -> Empty: ...
    async def renew_intent(self, request: RenewIntentRequest) -> Intent: ...
    async def queue_garbage(self, request: QueueGarbageRequest) -> Empty: ...
    async def run_gc(self, request: RunGcRequest) -> RunGcResponse: ...
    async def run_repair(self, request: RunRepairRequest) -> RunRepairResponse: ...
    async def repair_status(self, request: Empty) -> RepairStatusResponse: ...

    async def create_upload(self, request: CreateUploadRequest) -> UploadInfo: ...
    async def get_upload(self, request: UploadRef) -> UploadInfo: ...
    async def put_part(self, request: PutPartRequest) -> PutPartResponse: ...
    async def list_parts(self, request: ListPartsRequest) -> ListPartsResponse: ...
    async def complete_upload(self, request: CompleteUploadRequest) -> CompleteUploadResponse: ...
    async def abort_upload(self, request: UploadRef) -> Empty: ...
    async def list_uploads(self, request: ListUploadsRequest) -> ListUploadsResponse: ...


class DataPort(Protocol):
    def plan(self, location: str, bucket: str = "", key: str = "") -> BlobRef:
        """A new BlobRef for ``location``: fresh blob id and chosen replicas (or, on an external
        location, the provider object name of ``bucket/key``), size 0, nothing written."""
        ...

    def is_remote(self, location: str) -> bool:
        """Whether ``location`` is an external one (a cloud or S3-compatible service)."""
        ...

    async def put(
        self, blob: BlobRef, chunks: AsyncIterator[bytes], meta: ObjectMeta | None = None
    ) -> BlobRef:
        """Streams ``chunks`` into the planned blob on every replica; returns it with its size.

        ``meta`` describes the object, for external locations that store it beside the data.
        """
        ...

    def get(self, blob: BlobRef, offset: int = 0, length: int = -1) -> AsyncIterator[bytes]:
        """Streams ``length`` bytes (-1: to the end) from ``offset``; tries replicas in order."""
        ...

    async def delete(self, blob: BlobRef) -> None:
        """Deletes the blob from every replica; deleting a missing blob is not an error."""
        ...

    async def location_health(self, location: str) -> str | None:
        """An external location's state: None when it answers with working credentials, else what is wrong."""
        ...

    async def keeps_versions(self, location: str) -> bool:
        """Whether an overwritten write on ``location`` stays readable (always, on Strata's own disks);
        BACKEND_UNAVAILABLE when an external location cannot tell now."""
        ...

    # Native multipart uploads on external locations (``is_remote``), passed through to the provider.

    async def create_multipart(self, location: str, name: str, meta: ObjectMeta) -> str: ...

    async def upload_part(
        self,
        location: str,
        name: str,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterator[bytes],
        size: int,
    ) -> RemotePart: ...

    async def complete_multipart(
        self, location: str, name: str, upload_id: str, parts: Sequence[RemotePart], meta: ObjectMeta
    ) -> RemoteObject: ...

    async def abort_multipart(self, location: str, name: str, upload_id: str) -> None: ...


class DatanodeMembership(Protocol):
    """Which datanodes belong to the cluster, live or not (``coordinator.registry.NodeWatcher``)."""

    def members_for_location(self, location: str) -> list[str]: ...
    def unreachable(self) -> dict[str, list[str]]: ...
    def locations(self) -> list[str]: ...
    def info(self, node_id: str) -> dict[str, Any] | None:
        """A live node's registration (address, location, storage usage), or None."""
        ...


class ShardMap(Protocol):
    """Each metadata shard's members, in-sync replicas and leader (``coordinator.shards.ShardWatcher``)."""

    def snapshot(self) -> Mapping[str, ShardState]: ...
