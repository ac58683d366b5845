"""The client side of external locations in a cluster: any live datanode of the location relays.

Datanodes serving an external location are stateless relays (``datanode.remote_servicer``),
so a blob there has no replicas: each call goes to one live node of the location, and a
read that finds a node unreachable tries the next.
"""

from __future__ import annotations

import random
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import grpc

from datanode.backends.blobs import HealthCache, from_remote_ref, meta_to_proto, remote_object, remote_ref
from datanode.backends.remote import ObjectMeta, RemoteObject, RemotePart
from protos.common_pb2 import BlobRef, ErrorReason
from protos.data_pb2 import (
    AbortMultipartRequest,
    CompleteMultipartRequest,
    CreateMultipartRequest,
    PutEnd,
    RemotePartRef,
    UploadPartChunk,
    UploadPartHeader,
)
from protos.errors import StrataError, from_rpc_error
from strata.runtime.grpc_context import outgoing_metadata

if TYPE_CHECKING:  # datanode.client imports this module
    from datanode.client import DataNodeClient, NodeDirectory, NodeInfo

CHUNK_SIZE = 1024 * 1024
CALL_TIMEOUT_S = 120.0  # one provider call, relayed (the backend has its own, shorter, per-request timeouts)


class RemoteLocationClient:
    def __init__(self, directory: NodeDirectory, client_for: Callable[[str], DataNodeClient]) -> None:
        self._directory = directory
        self._client_for = client_for
        self._health = HealthCache()
        self._keeps_versions: dict[str, bool] = {}  # per location, from the last healthy answer

    async def location_health(self, location: str) -> str | None:
        async def check() -> str | None:
            answer = await self._client(location).health()
            if answer.ok:
                self._keeps_versions[location] = answer.keeps_versions
            return None if answer.ok else f"{answer.detail or 'unhealthy'} (seen by {answer.node_id})"

        return await self._health.probe(location, check)

    async def keeps_versions(self, location: str) -> bool:
        problem = await self.location_health(location)
        known = self._keeps_versions.get(location)
        if problem is not None or known is None:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE, f"location {location}: {problem or 'no answer yet'}"
            )
        return known

    def _nodes(self, location: str) -> list[NodeInfo]:
        nodes = list(self._directory.nodes_for_location(location))
        if not nodes:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE, f"no live datanode serves location {location!r}"
            )
        random.shuffle(nodes)  # spread the relaying over the location's nodes
        # A relay that just died stays registered until its lease ends: try it last meanwhile.
        nodes.sort(key=lambda node: self._client_for(node.address).seems_down())
        return nodes

    def _client(self, location: str) -> DataNodeClient:
        return self._client_for(self._nodes(location)[0].address)

    async def put(self, blob: BlobRef, chunks: AsyncIterator[bytes], meta: ObjectMeta | None) -> BlobRef:
        written = await self._client(blob.location).put(
            blob.blob_id, blob.location, chunks, blob.remote_name, meta_to_proto(meta or ObjectMeta())
        )
        return BlobRef(
            location=blob.location,
            blob_id=blob.blob_id,
            size=written.size,
            remote_name=written.remote_name,
            remote_version=written.remote_version,
        )

    async def get(self, blob: BlobRef, offset: int = 0, length: int = -1) -> AsyncGenerator[bytes, None]:
        ref = remote_ref(remote_object(blob))
        sent = 0
        last_error: StrataError | None = None
        for node in self._nodes(blob.location):
            try:
                remaining = -1 if length == -1 else length - sent
                reading = self._client_for(node.address).get(blob.blob_id, offset + sent, remaining, ref)
                async with aclosing(reading) as pieces:
                    async for piece in pieces:
                        sent += len(piece)
                        yield piece
                return
            except StrataError as error:
                # Another relay may reach the provider; any other answer is the provider's own.
                if error.reason != ErrorReason.BACKEND_UNAVAILABLE:
                    raise
                last_error = error
        assert last_error is not None
        raise last_error

    async def head(self, blob: BlobRef) -> int | None:
        return await self._client(blob.location).head(blob.blob_id, remote_ref(remote_object(blob)))

    async def delete(self, blob: BlobRef) -> None:
        await self._client(blob.location).delete(blob.blob_id, remote_ref(remote_object(blob)))

    async def create_multipart(self, location: str, name: str, meta: ObjectMeta) -> str:
        request = CreateMultipartRequest(remote_name=name, meta=meta_to_proto(meta))
        try:
            response = await self._client(location).stub.CreateMultipart(request, **_call_options())
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        return response.upload_id

    async def upload_part(
        self,
        location: str,
        name: str,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterator[bytes],
        size: int,
    ) -> RemotePart:
        async def messages() -> AsyncIterator[UploadPartChunk]:
            header = UploadPartHeader(
                remote_name=name, upload_id=upload_id, part_number=part_number, size=size
            )
            yield UploadPartChunk(header=header)
            sent = 0
            async for chunk in chunks:
                view = memoryview(chunk)
                for start in range(0, len(view), CHUNK_SIZE):
                    piece = bytes(view[start : start + CHUNK_SIZE])
                    sent += len(piece)
                    yield UploadPartChunk(data=piece)
            yield UploadPartChunk(end=PutEnd(size=sent))

        client = self._client(location)
        try:
            part: RemotePartRef = await client.stub.UploadPart(messages(), metadata=outgoing_metadata())
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        return RemotePart(part.part_number, part.token, part.size)

    async def complete_multipart(
        self, location: str, name: str, upload_id: str, parts: Sequence[RemotePart], meta: ObjectMeta
    ) -> RemoteObject:
        request = CompleteMultipartRequest(
            remote_name=name,
            upload_id=upload_id,
            parts=[RemotePartRef(part_number=p.part_number, token=p.token, size=p.size) for p in parts],
            meta=meta_to_proto(meta),
        )
        try:
            ref = await self._client(location).stub.CompleteMultipart(request, **_call_options())
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        return from_remote_ref(ref)

    async def abort_multipart(self, location: str, name: str, upload_id: str) -> None:
        request = AbortMultipartRequest(remote_name=name, upload_id=upload_id)
        try:
            await self._client(location).stub.AbortMultipart(request, **_call_options())
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None


def _call_options() -> dict[str, Any]:
    return {"metadata": outgoing_metadata(), "timeout": CALL_TIMEOUT_S}
