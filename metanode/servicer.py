"""The gRPC face of the metadata core: every RPC delegates to ``MetadataCore``.

A ``StrataError`` ends the call with its reason (``abort_with``); anything else is
logged and answered as INTERNAL, so no request can take the server down.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from metanode.core import MetadataCore
from protos import metadata_pb2_grpc
from protos.common_pb2 import Empty, ErrorReason
from protos.errors import StrataError, abort_with
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
from strata.runtime.log import log_fields

log = logging.getLogger("metanode.servicer")

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")


async def _serve(
    context: grpc.aio.ServicerContext,
    method: str,
    handler: Callable[[RequestT], Awaitable[ResponseT]],
    request: RequestT,
) -> ResponseT:
    try:
        return await handler(request)
    except StrataError as error:
        failure = error
    except Exception:
        log.exception("unexpected failure in %s", method, extra=log_fields(method=method))
        failure = StrataError(ErrorReason.INTERNAL, f"internal error in {method}")
    await abort_with(context, failure)
    raise AssertionError("unreachable: abort raises")


class MetadataServicer(metadata_pb2_grpc.MetadataServiceServicer):
    def __init__(self, core: MetadataCore) -> None:
        self._core = core

    async def CreateBucket(
        self, request: CreateBucketRequest, context: grpc.aio.ServicerContext
    ) -> BucketInfo:  # noqa: N802 - gRPC method name
        return await _serve(context, "CreateBucket", self._core.create_bucket, request)

    async def GetBucket(self, request: BucketName, context: grpc.aio.ServicerContext) -> BucketInfo:  # noqa: N802
        return await _serve(context, "GetBucket", self._core.get_bucket, request)

    async def UpdateBucket(self, request: BucketInfo, context: grpc.aio.ServicerContext) -> BucketInfo:  # noqa: N802
        return await _serve(context, "UpdateBucket", self._core.update_bucket, request)

    async def DeleteBucket(self, request: BucketName, context: grpc.aio.ServicerContext) -> Empty:  # noqa: N802
        return await _serve(context, "DeleteBucket", self._core.delete_bucket, request)

    async def ListBuckets(  # noqa: N802
        self, request: ListBucketsRequest, context: grpc.aio.ServicerContext
    ) -> ListBucketsResponse:
        return await _serve(context, "ListBuckets", self._core.list_buckets, request)

    async def GetObject(self, request: GetObjectRequest, context: grpc.aio.ServicerContext) -> ObjectMD:  # noqa: N802
        return await _serve(context, "GetObject", self._core.get_object, request)

    async def PutObject(  # noqa: N802
        self, request: PutObjectRequest, context: grpc.aio.ServicerContext
    ) -> PutObjectResponse:
        return await _serve(context, "PutObject", self._core.put_object, request)

    async def DeleteObject(  # noqa: N802
        self, request: DeleteObjectRequest, context: grpc.aio.ServicerContext
    ) -> DeleteObjectResponse:
        return await _serve(context, "DeleteObject", self._core.delete_object, request)

    async def ListObjects(  # noqa: N802
        self, request: ListObjectsRequest, context: grpc.aio.ServicerContext
    ) -> ListObjectsResponse:
        return await _serve(context, "ListObjects", self._core.list_objects, request)

    async def CreateIntent(self, request: CreateIntentRequest, context: grpc.aio.ServicerContext) -> Intent:  # noqa: N802
        return await _serve(context, "CreateIntent", self._core.create_intent, request)

    async def AbortIntent(self, request: AbortIntentRequest, context: grpc.aio.ServicerContext) -> Empty:  # noqa: N802
        return await _serve(context, "AbortIntent", self._core.abort_intent, request)

    async def RunRepair(
        self, request: RunRepairRequest, context: grpc.aio.ServicerContext
    ) -> RunRepairResponse:  # noqa: N802
        return await _serve(context, "RunRepair", self._core.run_repair, request)

    async def RepairStatus(self, request: Empty, context: grpc.aio.ServicerContext) -> RepairStatusResponse:  # noqa: N802
        return await _serve(context, "RepairStatus", self._core.repair_status, request)

    async def GcStatus(self, request: Empty, context: grpc.aio.ServicerContext) -> GcStatusResponse:  # noqa: N802
        return await _serve(context, "GcStatus", self._core.gc_status, request)

    async def RenewIntent(self, request: RenewIntentRequest, context: grpc.aio.ServicerContext) -> Intent:  # noqa: N802
        return await _serve(context, "RenewIntent", self._core.renew_intent, request)

    async def QueueGarbage(self, request: QueueGarbageRequest, context: grpc.aio.ServicerContext) -> Empty:  # noqa: N802
        return await _serve(context, "QueueGarbage", self._core.queue_garbage, request)

    async def RunGc(self, request: RunGcRequest, context: grpc.aio.ServicerContext) -> RunGcResponse:  # noqa: N802
        return await _serve(context, "RunGc", self._core.run_gc, request)

    async def CreateUpload(
        self, request: CreateUploadRequest, context: grpc.aio.ServicerContext
    ) -> UploadInfo:  # noqa: N802
        return await _serve(context, "CreateUpload", self._core.create_upload, request)

    async def GetUpload(self, request: UploadRef, context: grpc.aio.ServicerContext) -> UploadInfo:  # noqa: N802
        return await _serve(context, "GetUpload", self._core.get_upload, request)

    async def PutPart(self, request: PutPartRequest, context: grpc.aio.ServicerContext) -> PutPartResponse:  # noqa: N802
        return await _serve(context, "PutPart", self._core.put_part, request)

    async def ListParts(
        self, request: ListPartsRequest, context: grpc.aio.ServicerContext
    ) -> ListPartsResponse:  # noqa: N802
        return await _serve(context, "ListParts", self._core.list_parts, request)

    async def CompleteUpload(
        self, request: CompleteUploadRequest, context: grpc.aio.ServicerContext
    ) -> CompleteUploadResponse:  # noqa: N802
        return await _serve(context, "CompleteUpload", self._core.complete_upload, request)

    async def AbortUpload(self, request: UploadRef, context: grpc.aio.ServicerContext) -> Empty:  # noqa: N802
        return await _serve(context, "AbortUpload", self._core.abort_upload, request)

    async def ListUploads(
        self, request: ListUploadsRequest, context: grpc.aio.ServicerContext
    ) -> ListUploadsResponse:  # noqa: N802
        return await _serve(context, "ListUploads", self._core.list_uploads, request)
