"""``MetadataClient``: the MetadataPort over gRPC (cluster mode).

Depends only on ``protos`` and ``strata.runtime``, so the gateway may import it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from protos import metadata_pb2_grpc
from protos.common_pb2 import Empty
from protos.errors import from_rpc_error
from protos.metadata_pb2 import (
    AbortIntentRequest,
    BucketInfo,
    BucketName,
    BucketStatsRequest,
    BucketStatsResponse,
    CompleteUploadRequest,
    CompleteUploadResponse,
    CreateBucketRequest,
    CreateIntentRequest,
    CreateUploadRequest,
    DeleteObjectRequest,
    DeleteObjectResponse,
    GcStatusResponse,
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
from strata.runtime.grpc_context import QUICK_RECONNECT, outgoing_metadata
from strata.runtime.metrics import CLIENT_INTERCEPTORS

DEFAULT_TIMEOUT_S = 30.0

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")


class MetadataClient:
    """``address`` is fixed, or a function asked on every call (e.g. "the shard's current metanode")."""

    def __init__(self, address: str | Callable[[], str], timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._resolve: Callable[[], str] = address if callable(address) else (lambda: address)
        self.timeout_s = timeout_s
        self._channels: dict[str, tuple[grpc.aio.Channel, metadata_pb2_grpc.MetadataServiceStub]] = {}

    @property
    def address(self) -> str:
        return self._resolve()

    @property
    def _stub(self) -> metadata_pb2_grpc.MetadataServiceStub:
        address = self._resolve()
        entry = self._channels.get(address)
        if entry is None:
            channel = grpc.aio.insecure_channel(
                address, options=QUICK_RECONNECT, interceptors=CLIENT_INTERCEPTORS
            )
            entry = self._channels[address] = (channel, metadata_pb2_grpc.MetadataServiceStub(channel))
        return entry[1]

    async def connected(self, timeout_s: float) -> bool:
        """Whether a connection to the current address is (or within ``timeout_s`` becomes) ready:
        a call that fails after this may have reached the server; one refused before it did not."""
        self._stub  # noqa: B018 - opens the channel for the current address
        channel = self._channels[self._resolve()][0]
        if channel.get_state() == grpc.ChannelConnectivity.READY:
            return True  # the common case, on every call: nothing to wait for
        try:
            await asyncio.wait_for(channel.channel_ready(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def _call(self, method: Callable[..., Awaitable[ResponseT]], request: RequestT) -> ResponseT:
        try:
            return await method(request, metadata=outgoing_metadata(), timeout=self.timeout_s)
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from error

    async def create_bucket(self, request: CreateBucketRequest) -> BucketInfo:
        return await self._call(self._stub.CreateBucket, request)

    async def get_bucket(self, request: BucketName) -> BucketInfo:
        return await self._call(self._stub.GetBucket, request)

    async def update_bucket(self, request: BucketInfo) -> BucketInfo:
        return await self._call(self._stub.UpdateBucket, request)

    async def delete_bucket(self, request: BucketName) -> Empty:
        return await self._call(self._stub.DeleteBucket, request)

    async def list_buckets(self, request: ListBucketsRequest) -> ListBucketsResponse:
        return await self._call(self._stub.ListBuckets, request)

    async def get_object(self, request: GetObjectRequest) -> ObjectMD:
        return await self._call(self._stub.GetObject, request)

    async def put_object(self, request: PutObjectRequest) -> PutObjectResponse:
        return await self._call(self._stub.PutObject, request)

    async def delete_object(self, request: DeleteObjectRequest) -> DeleteObjectResponse:
        return await self._call(self._stub.DeleteObject, request)

    async def list_objects(self, request: ListObjectsRequest) -> ListObjectsResponse:
        return await self._call(self._stub.ListObjects, request)

    async def create_intent(self, request: CreateIntentRequest) -> Intent:
        return await self._call(self._stub.CreateIntent, request)

    async def abort_intent(self, request: AbortIntentRequest) -> Empty:
        return await self._call(self._stub.AbortIntent, request)

    async def run_repair(self, request: RunRepairRequest) -> RunRepairResponse:
        return await self._call(self._stub.RunRepair, request)

    async def repair_status(self, request: Empty) -> RepairStatusResponse:
        return await self._call(self._stub.RepairStatus, request)

    async def gc_status(self, request: Empty) -> GcStatusResponse:
        return await self._call(self._stub.GcStatus, request)

    async def bucket_stats(self, request: BucketStatsRequest) -> BucketStatsResponse:
        return await self._call(self._stub.GetBucketStats, request)

    async def renew_intent(self, request: RenewIntentRequest) -> Intent:
        return await self._call(self._stub.RenewIntent, request)

    async def queue_garbage(self, request: QueueGarbageRequest) -> Empty:
        return await self._call(self._stub.QueueGarbage, request)

    async def run_gc(self, request: RunGcRequest) -> RunGcResponse:
        return await self._call(self._stub.RunGc, request)

    async def create_upload(self, request: CreateUploadRequest) -> UploadInfo:
        return await self._call(self._stub.CreateUpload, request)

    async def get_upload(self, request: UploadRef) -> UploadInfo:
        return await self._call(self._stub.GetUpload, request)

    async def put_part(self, request: PutPartRequest) -> PutPartResponse:
        return await self._call(self._stub.PutPart, request)

    async def list_parts(self, request: ListPartsRequest) -> ListPartsResponse:
        return await self._call(self._stub.ListParts, request)

    async def complete_upload(self, request: CompleteUploadRequest) -> CompleteUploadResponse:
        return await self._call(self._stub.CompleteUpload, request)

    async def abort_upload(self, request: UploadRef) -> Empty:
        return await self._call(self._stub.AbortUpload, request)

    async def list_uploads(self, request: ListUploadsRequest) -> ListUploadsResponse:
        return await self._call(self._stub.ListUploads, request)

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel, _ in channels:
            await channel.close()
