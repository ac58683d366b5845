"""The gRPC face of a follower: ``Append`` and ``InstallSnapshot`` from the shard's leader."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable

import grpc

from metanode.replication.node import ShardNode
from protos import metadata_pb2_grpc
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError, abort_with
from protos.metadata_pb2 import AppendRequest, AppendResponse, ReadSnapshotRequest, SnapshotChunk

log = logging.getLogger("metanode.replication.servicer")


async def _answer(
    context: grpc.aio.ServicerContext, method: str, call: Awaitable[AppendResponse]
) -> AppendResponse:
    try:
        return await call
    except StrataError as error:
        failure = error
    except Exception:
        log.exception("%s failed", method)
        failure = StrataError(ErrorReason.INTERNAL, f"internal error in {method}")
    await abort_with(context, failure)
    raise AssertionError("unreachable: abort raises")


class ReplicationServicer(metadata_pb2_grpc.ReplicationServiceServicer):
    def __init__(self, node: ShardNode) -> None:
        self._node = node

    async def Append(  # noqa: N802 - gRPC method name
        self, request: AppendRequest, context: grpc.aio.ServicerContext
    ) -> AppendResponse:
        return await _answer(context, "Append", self._node.append(request))

    async def InstallSnapshot(  # noqa: N802 - gRPC method name
        self, request_iterator: AsyncIterator[SnapshotChunk], context: grpc.aio.ServicerContext
    ) -> AppendResponse:
        return await _answer(context, "InstallSnapshot", self._node.install_snapshot(aiter(request_iterator)))

    async def ReadSnapshot(  # noqa: N802 - gRPC method name
        self, request: ReadSnapshotRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[SnapshotChunk]:
        try:
            async for chunk in self._node.read_snapshot(request.shard):
                yield chunk
            return
        except StrataError as error:
            failure = error
        except Exception:
            log.exception("ReadSnapshot failed")
            failure = StrataError(ErrorReason.INTERNAL, "internal error in ReadSnapshot")
        await abort_with(context, failure)
