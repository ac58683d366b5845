"""The gRPC DataService over one Backend."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any, TypeVar

import grpc

from datanode.backend import Backend, validate_blob_id
from datanode.scrubbing import rate_from_mb_per_s, scrub_pass
from protos import data_pb2_grpc
from protos.common_pb2 import BlobRef, Empty, ErrorReason
from protos.data_pb2 import (
    BlobId,
    GetChunk,
    GetRequest,
    HeadResponse,
    HealthResponse,
    ListBlobsResponse,
    PutChunk,
    PutResponse,
    ScrubProgress,
    ScrubRequest,
    UploadPartChunk,
)
from protos.errors import StrataError, abort_with
from strata.runtime.log import log_fields

logger = logging.getLogger(__name__)

LIST_BATCH_SIZE = 1000


Answer = TypeVar("Answer")


def unary_rpc(
    method: Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[Answer]],
) -> Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[Answer]]:
    """One unary (or client-streaming) DataService method: a StrataError ends the call with its reason,
    anything else is logged and ends it as INTERNAL."""

    @functools.wraps(method)
    async def answer(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Answer:
        try:
            return await method(self, request, context)
        except StrataError as error:
            await abort_with(context, error)
        except Exception:
            await abort_internal(context, method.__name__)
        raise AssertionError("unreachable: abort raises")

    return answer


class DataServicer(data_pb2_grpc.DataServiceServicer):
    """Blobs never change once written, and a Delete always wins over a Put of the same blob still
    streaming: the Put's copy is removed once it lands and the Put fails with BLOB_NOT_FOUND.

    Without that, a Put that lands late (its node was paused, or a repair or heal copy was slow)
    after the garbage collector's Delete of the blob reached this node would leave a copy that no
    metadata names and nothing would ever delete.
    """

    def __init__(self, backend: Backend, node_id: str, location: str) -> None:
        self.backend = backend
        self.node_id = node_id
        self.location = location
        self._writing: dict[str, int] = {}  # blob id -> Puts of it streaming now
        self._deleted_while_writing: set[str] = set()

    async def Put(  # noqa: N802 - gRPC method name
        self, request_iterator: AsyncIterator[PutChunk], context: grpc.aio.ServicerContext
    ) -> PutResponse:
        try:
            first = await anext(aiter(request_iterator), None)
            if first is None or first.WhichOneof("part") != "header":
                raise StrataError(ErrorReason.INVALID_ARGUMENT, "a Put stream starts with its header")
            header = first.header
            blob_id = validate_blob_id(header.blob_id)
            if header.location and self.location and header.location != self.location:
                raise StrataError(
                    ErrorReason.INVALID_ARGUMENT,
                    f"this node serves location {self.location!r}, not {header.location!r}",
                )
            # The backend stores the blob only if the stream reaches its end message; else it discards it.
            self._writing[blob_id] = self._writing.get(blob_id, 0) + 1
            try:
                size = await self.backend.put(blob_id, data_chunks(request_iterator))
            except StrataError as error:
                if error.reason == ErrorReason.INSUFFICIENT_STORAGE:
                    # Read the stream to its end first: an abort racing the client's writes reaches it
                    # as a bare local INTERNAL error, without the reason that sends the blob elsewhere.
                    async for _ in request_iterator:
                        pass
                raise
            finally:
                deleted_meanwhile = self._put_ended(blob_id)
            if deleted_meanwhile:
                await self.backend.delete(blob_id)
                logger.info(
                    "a blob deleted while it was being written was removed when it landed",
                    extra=log_fields(blob_id=blob_id),
                )
                raise StrataError(
                    ErrorReason.BLOB_NOT_FOUND, f"blob {blob_id} was deleted while it was written"
                )
            blob = BlobRef(
                location=header.location or self.location, blob_id=blob_id, size=size, replicas=[self.node_id]
            )
            return PutResponse(blob=blob)
        except StrataError as error:
            await abort_with(context, error)
        except Exception:
            await abort_internal(context, "Put")
        raise AssertionError("unreachable: abort raises")

    async def Get(  # noqa: N802
        self, request: GetRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[GetChunk]:
        try:
            # aclosing: a cancelled call releases the backend's open file at once.
            async with aclosing(self.backend.get(request.blob_id, request.offset, request.length)) as pieces:
                async for piece in pieces:
                    yield GetChunk(data=piece)
        except StrataError as error:
            await abort_with(context, error)
        except Exception:
            await abort_internal(context, "Get")

    @unary_rpc
    async def Head(self, request: BlobId, context: grpc.aio.ServicerContext) -> HeadResponse:  # noqa: N802
        size = await self.backend.head(request.blob_id)
        return HeadResponse(exists=False) if size is None else HeadResponse(exists=True, size=size)

    def _put_ended(self, blob_id: str) -> bool:
        """Counts one Put of ``blob_id`` as ended; True if a Delete of it came while it streamed."""
        left = self._writing[blob_id] - 1
        if left:
            self._writing[blob_id] = left
            return blob_id in self._deleted_while_writing
        del self._writing[blob_id]
        if blob_id in self._deleted_while_writing:
            self._deleted_while_writing.discard(blob_id)
            return True
        return False

    @unary_rpc
    async def Delete(self, request: BlobId, context: grpc.aio.ServicerContext) -> Empty:  # noqa: N802
        if request.blob_id in self._writing:
            # Marked before the backend deletes, so the streaming Put removes its copy when it lands.
            self._deleted_while_writing.add(request.blob_id)
        await self.backend.delete(request.blob_id)
        return Empty()

    async def Health(self, request: Empty, context: grpc.aio.ServicerContext) -> HealthResponse:  # noqa: N802
        try:
            await self.backend.health()
            return HealthResponse(ok=True, node_id=self.node_id, location=self.location)
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
        try:
            batch: list[str] = []
            async with aclosing(self.backend.list_blobs()) as blob_ids:
                async for blob_id in blob_ids:
                    batch.append(blob_id)
                    if len(batch) >= LIST_BATCH_SIZE:
                        yield ListBlobsResponse(blob_ids=batch)
                        batch = []
            if batch:
                yield ListBlobsResponse(blob_ids=batch)
        except StrataError as error:
            await abort_with(context, error)
        except Exception:
            await abort_internal(context, "ListBlobs")

    async def Scrub(  # noqa: N802
        self, request: ScrubRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[ScrubProgress]:
        try:
            rate = rate_from_mb_per_s(request.rate_mb_per_s)
            scrubbing = scrub_pass(self.backend, rate, unhealed_only=request.unhealed_only)
            async with aclosing(scrubbing) as progress:
                async for message in progress:
                    yield message
        except StrataError as error:
            await abort_with(context, error)
        except Exception:
            await abort_internal(context, "Scrub")


async def data_chunks(
    request_iterator: AsyncIterator[PutChunk] | AsyncIterator[UploadPartChunk],
) -> AsyncIterator[bytes]:
    """The data of a Put (or UploadPart) stream; raises unless the stream ends with a matching end message."""
    received = 0
    async for message in request_iterator:
        part = message.WhichOneof("part")
        if part == "data":
            data = message.data
            received += len(data)
            yield data
        elif part == "end":
            if message.end.size != received:
                raise StrataError(
                    ErrorReason.INVALID_ARGUMENT,
                    f"Put stream sent {received} bytes, its end says {message.end.size}",
                )
            return
        else:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "only data and the end may follow a Put header")
    # A cancelled or broken call can look like a normal end of stream: store nothing.
    raise StrataError(ErrorReason.INVALID_ARGUMENT, "Put stream ended before its end message")


async def abort_internal(context: grpc.aio.ServicerContext, method: str) -> None:
    logger.exception("DataService.%s failed", method, extra=log_fields(method=method))
    await abort_with(context, StrataError(ErrorReason.INTERNAL, f"internal error in {method}"))
