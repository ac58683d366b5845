"""The gRPC face of the metadata core: every RPC delegates to ``MetadataCore``.

A ``StrataError`` ends the call with its reason (``abort_with``); anything else is
logged and answered as INTERNAL, so no request can take the server down. Requests run
on the core a ``CoreSource`` gives: on a replicated shard, only the leader's, and its
answer leaves only once ``confirm`` says everything it saw is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol, TypeVar

import grpc

from metanode.core import MetadataCore
from metanode.stats import bucket_stats
from protos import metadata_pb2_grpc
from protos.common_pb2 import Empty, ErrorReason
from protos.errors import StrataError, abort_with
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
from strata.runtime.log import log_fields

log = logging.getLogger("metanode.servicer")

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")


_LEADERSHIP_REASONS = (ErrorReason.NOT_LEADER, ErrorReason.STALE_EPOCH, ErrorReason.OUTCOME_UNKNOWN)


class CoreSource(Protocol):
    """Where requests run: one core for good (embedded, tests), or a shard replica's while it leads."""

    def serving_core(self) -> MetadataCore:
        """The core to run a request on; raises NOT_LEADER when there is none here."""
        ...

    async def confirm(self, core: MetadataCore) -> None:
        """Returns once what ``core`` answered may leave (everything it read is committed)."""
        ...

    def release(self, core: MetadataCore) -> None:
        """The request that ``serving_core`` gave ``core`` to is over."""
        ...


class FixedCore:
    """A core that always serves and whose answers are final as soon as they are computed."""

    def __init__(self, core: MetadataCore) -> None:
        self.core = core

    def serving_core(self) -> MetadataCore:
        return self.core

    async def confirm(self, core: MetadataCore) -> None:
        return None

    def release(self, core: MetadataCore) -> None:
        return None


async def _serve(
    context: grpc.aio.ServicerContext,
    source: CoreSource,
    method: str,
    handler: Callable[[MetadataCore], Callable[[RequestT], Awaitable[ResponseT]]],
    request: RequestT,
) -> ResponseT:
    failure: StrataError
    try:
        core = source.serving_core()
        try:
            try:
                result = await handler(core)(request)
            except StrataError as error:
                if error.reason not in _LEADERSHIP_REASONS:
                    await source.confirm(core)  # an answer such as NoSuchKey is a read too
                raise error
            await source.confirm(core)
            return result
        finally:
            source.release(core)
    except StrataError as error:
        failure = error
    except Exception:
        log.exception("unexpected failure in %s", method, extra=log_fields(method=method))
        failure = StrataError(ErrorReason.INTERNAL, f"internal error in {method}")
    await abort_with(context, failure)
    raise AssertionError("unreachable: abort raises")


class MetadataServicer(metadata_pb2_grpc.MetadataServiceServicer):
    def __init__(self, source: MetadataCore | CoreSource) -> None:
        self._source: CoreSource = FixedCore(source) if isinstance(source, MetadataCore) else source

    async def CreateBucket(
        self, request: CreateBucketRequest, context: grpc.aio.ServicerContext
    ) -> BucketInfo:  # noqa: N802 - gRPC method name
        return await _serve(context, self._source, "CreateBucket", lambda core: core.create_bucket, request)

    async def GetBucket(self, request: BucketName, context: grpc.aio.ServicerContext) -> BucketInfo:  # noqa: N802
        return await _serve(context, self._source, "GetBucket", lambda core: core.get_bucket, request)

    async def UpdateBucket(self, request: BucketInfo, context: grpc.aio.ServicerContext) -> BucketInfo:  # noqa: N802
        return await _serve(context, self._source, "UpdateBucket", lambda core: core.update_bucket, request)

    async def DeleteBucket(self, request: BucketName, context: grpc.aio.ServicerContext) -> Empty:  # noqa: N802
        return await _serve(context, self._source, "DeleteBucket", lambda core: core.delete_bucket, request)

    async def ListBuckets(  # noqa: N802
        self, request: ListBucketsRequest, context: grpc.aio.ServicerContext
    ) -> ListBucketsResponse:
        return await _serve(context, self._source, "ListBuckets", lambda core: core.list_buckets, request)

    async def GetObject(self, request: GetObjectRequest, context: grpc.aio.ServicerContext) -> ObjectMD:  # noqa: N802
        return await _serve(context, self._source, "GetObject", lambda core: core.get_object, request)

    async def PutObject(  # noqa: N802
        self, request: PutObjectRequest, context: grpc.aio.ServicerContext
    ) -> PutObjectResponse:
        return await _serve(context, self._source, "PutObject", lambda core: core.put_object, request)

    async def DeleteObject(  # noqa: N802
        self, request: DeleteObjectRequest, context: grpc.aio.ServicerContext
    ) -> DeleteObjectResponse:
        return await _serve(context, self._source, "DeleteObject", lambda core: core.delete_object, request)

    async def ListObjects(  # noqa: N802
        self, request: ListObjectsRequest, context: grpc.aio.ServicerContext
    ) -> ListObjectsResponse:
        return await _serve(context, self._source, "ListObjects", lambda core: core.list_objects, request)

    async def CreateIntent(self, request: CreateIntentRequest, context: grpc.aio.ServicerContext) -> Intent:  # noqa: N802
        return await _serve(context, self._source, "CreateIntent", lambda core: core.create_intent, request)

    async def AbortIntent(self, request: AbortIntentRequest, context: grpc.aio.ServicerContext) -> Empty:  # noqa: N802
        return await _serve(context, self._source, "AbortIntent", lambda core: core.abort_intent, request)

    async def RunRepair(
        self, request: RunRepairRequest, context: grpc.aio.ServicerContext
    ) -> RunRepairResponse:  # noqa: N802
        return await _serve(context, self._source, "RunRepair", lambda core: core.run_repair, request)

    async def RepairStatus(self, request: Empty, context: grpc.aio.ServicerContext) -> RepairStatusResponse:  # noqa: N802
        return await _serve(context, self._source, "RepairStatus", lambda core: core.repair_status, request)

    async def GcStatus(self, request: Empty, context: grpc.aio.ServicerContext) -> GcStatusResponse:  # noqa: N802
        return await _serve(context, self._source, "GcStatus", lambda core: core.gc_status, request)

    async def GetBucketStats(  # noqa: N802
        self, request: BucketStatsRequest, context: grpc.aio.ServicerContext
    ) -> BucketStatsResponse:
        return await _serve(
            context, self._source, "GetBucketStats", lambda core: partial(bucket_stats, core), request
        )

    async def RenewIntent(self, request: RenewIntentRequest, context: grpc.aio.ServicerContext) -> Intent:  # noqa: N802
        return await _serve(context, self._source, "RenewIntent", lambda core: core.renew_intent, request)

    async def QueueGarbage(self, request: QueueGarbageRequest, context: grpc.aio.ServicerContext) -> Empty:  # noqa: N802
        return await _serve(context, self._source, "QueueGarbage", lambda core: core.queue_garbage, request)

    async def RunGc(self, request: RunGcRequest, context: grpc.aio.ServicerContext) -> RunGcResponse:  # noqa: N802
        return await _serve(context, self._source, "RunGc", lambda core: core.run_gc, request)

    async def CreateUpload(
        self, request: CreateUploadRequest, context: grpc.aio.ServicerContext
    ) -> UploadInfo:  # noqa: N802
        return await _serve(context, self._source, "CreateUpload", lambda core: core.create_upload, request)

    async def GetUpload(self, request: UploadRef, context: grpc.aio.ServicerContext) -> UploadInfo:  # noqa: N802
        return await _serve(context, self._source, "GetUpload", lambda core: core.get_upload, request)

    async def PutPart(self, request: PutPartRequest, context: grpc.aio.ServicerContext) -> PutPartResponse:  # noqa: N802
        return await _serve(context, self._source, "PutPart", lambda core: core.put_part, request)

    async def ListParts(
        self, request: ListPartsRequest, context: grpc.aio.ServicerContext
    ) -> ListPartsResponse:  # noqa: N802
        return await _serve(context, self._source, "ListParts", lambda core: core.list_parts, request)

    async def CompleteUpload(
        self, request: CompleteUploadRequest, context: grpc.aio.ServicerContext
    ) -> CompleteUploadResponse:  # noqa: N802
        return await _serve(
            context, self._source, "CompleteUpload", lambda core: core.complete_upload, request
        )

    async def AbortUpload(self, request: UploadRef, context: grpc.aio.ServicerContext) -> Empty:  # noqa: N802
        return await _serve(context, self._source, "AbortUpload", lambda core: core.abort_upload, request)

    async def ListUploads(
        self, request: ListUploadsRequest, context: grpc.aio.ServicerContext
    ) -> ListUploadsResponse:  # noqa: N802
        return await _serve(context, self._source, "ListUploads", lambda core: core.list_uploads, request)
