"""The gRPC DataService of a datanode serving an external location (a cloud or S3-compatible service).

Such a datanode holds no data and no state: it relays each call to the location's backend
(``datanode.backends``), so any number of them may serve one location. Blobs are addressed
by their provider name and version (``RemoteRef``), not by blob id; listing and scrubbing
have nothing local to walk, so they report nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing

import grpc

from datanode.backends.blobs import (
    RemoteLocations,
    from_remote_ref,
    meta_from_proto,
    remote_ref,
)
from datanode.backends.remote import RemoteBackend, RemotePart
from datanode.servicer import abort_internal, data_chunks, unary_rpc
from protos import data_pb2_grpc
from protos.common_pb2 import BlobRef, Empty, ErrorReason
from protos.data_pb2 import (
    AbortMultipartRequest,
    BlobId,
    CompleteMultipartRequest,
    CreateMultipartRequest,
    CreateMultipartResponse,
    GetChunk,
    GetRequest,
    HeadResponse,
    HealthResponse,
    ListBlobsResponse,
    PutChunk,
    PutResponse,
    RemotePartRef,
    RemoteRef,
    ScrubProgress,
    ScrubRequest,
    UploadPartChunk,
)
from protos.errors import StrataError, abort_with

logger = logging.getLogger(__name__)


class RemoteDataServicer(data_pb2_grpc.DataServiceServicer):
    def __init__(self, remotes: RemoteLocations, node_id: str, location: str) -> None:
        self.remotes = remotes
        self.node_id = node_id
        self.location = location

    def _backend(self, location: str = "") -> RemoteBackend:
        if location and location != self.location:
            raise StrataError(
                ErrorReason.INVALID_ARGUMENT, f"this node serves location {self.location!r}, not {location!r}"
            )
        return self.remotes.backend(self.location)

    @unary_rpc
    async def Put(  # noqa: N802 - gRPC method name
        self, request_iterator: AsyncIterator[PutChunk], context: grpc.aio.ServicerContext
    ) -> PutResponse:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "header":
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "a Put stream starts with its header")
        header = first.header
        if not header.remote_name:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "a Put to an external location names its object")
        backend = self._backend(header.location)
        written = await backend.put(
            header.remote_name, data_chunks(request_iterator), meta_from_proto(header.meta)
        )
        blob = BlobRef(
            location=self.location,
            blob_id=header.blob_id,
            size=written.size,
            remote_name=written.name,
            remote_version=written.version,
        )
        return PutResponse(blob=blob)

    async def Get(  # noqa: N802
        self, request: GetRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[GetChunk]:
        try:
            pieces = self._backend().get(from_remote_ref(request.remote), request.offset, request.length)
            async with aclosing(pieces) as reading:
                async for piece in reading:
                    yield GetChunk(data=piece)
        except StrataError as error:
            await abort_with(context, error)
        except Exception:
            await abort_internal(context, "Get")

    @unary_rpc
    async def Head(self, request: BlobId, context: grpc.aio.ServicerContext) -> HeadResponse:  # noqa: N802
        size = await self._backend().head(from_remote_ref(request.remote))
        return HeadResponse(exists=False) if size is None else HeadResponse(exists=True, size=size)

    @unary_rpc
    async def Delete(self, request: BlobId, context: grpc.aio.ServicerContext) -> Empty:  # noqa: N802
        if not request.remote.name or not request.remote.version:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "a Delete names exactly one external write")
        await self._backend().delete(from_remote_ref(request.remote))
        return Empty()

    async def Health(self, request: Empty, context: grpc.aio.ServicerContext) -> HealthResponse:  # noqa: N802
        try:
            backend = self._backend()
            await backend.health()
            return HealthResponse(
                ok=True, node_id=self.node_id, location=self.location, keeps_versions=backend.keeps_versions
            )
        except StrataError as error:
            return HealthResponse(
                ok=False, node_id=self.node_id, location=self.location, detail=error.message
            )
        except Exception:
            await abort_internal(context, "Health")
        raise AssertionError("unreachable: abort raises")

    async def ListBlobs(  # noqa: N802
        self, request: Empty, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[ListBlobsResponse]:
        # Nothing is stored here: the provider holds the objects, under their own names.
        for _ in ():
            yield ListBlobsResponse()

    async def Scrub(  # noqa: N802
        self, request: ScrubRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[ScrubProgress]:
        # The provider checks its own data; there is no local copy to verify.
        yield ScrubProgress(done=True)

    @unary_rpc
    async def CreateMultipart(  # noqa: N802
        self, request: CreateMultipartRequest, context: grpc.aio.ServicerContext
    ) -> CreateMultipartResponse:
        upload_id = await self._backend().create_multipart(request.remote_name, meta_from_proto(request.meta))
        return CreateMultipartResponse(upload_id=upload_id)

    @unary_rpc
    async def UploadPart(  # noqa: N802
        self, request_iterator: AsyncIterator[UploadPartChunk], context: grpc.aio.ServicerContext
    ) -> RemotePartRef:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "header":
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "an UploadPart stream starts with its header")
        header = first.header
        part = await self._backend().upload_part(
            header.remote_name,
            header.upload_id,
            header.part_number,
            data_chunks(request_iterator),
            header.size,
        )
        return RemotePartRef(part_number=part.part_number, token=part.token, size=part.size)

    @unary_rpc
    async def CompleteMultipart(  # noqa: N802
        self, request: CompleteMultipartRequest, context: grpc.aio.ServicerContext
    ) -> RemoteRef:
        parts = [RemotePart(part.part_number, part.token, part.size) for part in request.parts]
        written = await self._backend().complete_multipart(
            request.remote_name, request.upload_id, parts, meta_from_proto(request.meta)
        )
        return remote_ref(written)

    @unary_rpc
    async def AbortMultipart(  # noqa: N802
        self, request: AbortMultipartRequest, context: grpc.aio.ServicerContext
    ) -> Empty:
        await self._backend().abort_multipart(request.remote_name, request.upload_id)
        return Empty()
