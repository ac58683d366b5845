"""Clients of the DataService: one node (DataNodeClient), and a location's replicas (ReplicatedDataClient).

``ReplicatedDataClient`` implements the gateway's ``DataPort`` and the metadata GC's blob
deleter. It depends only on ``protos`` and ``strata.runtime``, so the gateway and the
metanode can import it without the datanode's storage code.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import grpc

from datanode.backends.blobs import deletable, plan_remote
from datanode.backends.remote import ObjectMeta, RemoteObject, RemotePart, is_remote
from datanode.remote_client import RemoteLocationClient
from protos.common_pb2 import BlobRef, Empty, ErrorReason
from protos.data_pb2 import (
    BlobId,
    GetChunk,
    GetRequest,
    HealthResponse,
    PutChunk,
    PutEnd,
    PutHeader,
    PutResponse,
    RemoteMeta,
    RemoteRef,
    ScrubProgress,
    ScrubRequest,
)
from protos.data_pb2_grpc import DataServiceStub
from protos.errors import REASON_METADATA_KEY, StrataError, from_rpc_error
from strata.runtime.grpc_context import QUICK_RECONNECT, outgoing_metadata
from strata.runtime.log import log_fields
from strata.runtime.metrics import CLIENT_INTERCEPTORS

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
DEFAULT_CALL_TIMEOUT = 30.0
CLEANUP_TIMEOUT = 10.0
# A repair copy may take DEFAULT_COPY_TIMEOUT seconds plus one second per DEFAULT_COPY_RATE bytes.
DEFAULT_COPY_TIMEOUT = 30.0
DEFAULT_COPY_RATE = 10 * 1000 * 1000
# A datanode that answered INSUFFICIENT_STORAGE gets no new blobs placed on it for this long.
FULL_NODE_BACKOFF_S = 10.0
_STATUS_POLLS = 20
_STATUS_POLL_INTERVAL = 0.01

_PUT_METHOD = "/strata.DataService/Put"
_GET_METHOD = "/strata.DataService/Get"
_PUT_DATA_TAG = b"\x12"  # PutChunk.data: field 2, length-delimited
_GET_DATA_TAG = 0x0A  # GetChunk.data: field 1, length-delimited

_T = TypeVar("_T")


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_put_header(
    blob_id: str, location: str, remote_name: str = "", meta: RemoteMeta | None = None
) -> bytes:
    header = PutHeader(blob_id=blob_id, location=location, remote_name=remote_name, meta=meta)
    return PutChunk(header=header).SerializeToString()


def encode_put_end(size: int) -> bytes:
    return PutChunk(end=PutEnd(size=size)).SerializeToString()


def encode_put_data(chunks: bytes | bytearray | memoryview) -> list[bytes]:
    """Serialized PutChunk messages of at most 1 MiB of data each.

    Encoded by hand so each byte is copied once, and the same bytes can go to every replica.
    """
    view = memoryview(chunks).cast("B")
    return [
        b"".join((_PUT_DATA_TAG, _varint(len(piece)), piece))
        for piece in (view[start : start + CHUNK_SIZE] for start in range(0, len(view), CHUNK_SIZE))
    ]


def decode_get_chunk(raw: bytes) -> bytes:
    """GetChunk.data from a serialized GetChunk (one copy; protobuf's parser would make two)."""
    if not raw:
        return b""
    if raw[0] == _GET_DATA_TAG:
        length, shift, position = 0, 0, 1
        while position < len(raw):
            byte = raw[position]
            position += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if position + length == len(raw):
            return raw[position:]
    return GetChunk.FromString(raw).data


class PutStream:
    """One Put call in progress: write serialized chunks, then ``finish`` (or ``cancel``).

    Nothing is stored unless ``finish`` sends the end message, so cancelling stores nothing.
    """

    def __init__(self, call: grpc.aio.StreamUnaryCall) -> None:
        self._call = call

    async def write(self, message: bytes) -> None:
        try:
            await self._call.write(message)
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            raise await self._failure() from None

    async def finish(self, size: int) -> BlobRef:
        """Sends the end message (``size``: data bytes written) and waits for the stored blob."""
        await self.write(encode_put_end(size))
        try:
            await self._call.done_writing()
            response: PutResponse = await self._call
        except Exception:  # the call has ended; its status says why
            raise await self._failure() from None
        return response.blob

    def cancel(self) -> None:
        self._call.cancel()

    async def _failure(self) -> StrataError:
        try:
            await self._call
        except grpc.aio.AioRpcError as error:
            failure = error
        else:
            return StrataError(ErrorReason.INTERNAL, "the datanode ended the Put stream early")
        if failure.code() == grpc.StatusCode.INTERNAL:
            # A write racing the server's end of the call fails locally first; the server's status follows.
            for _ in range(_STATUS_POLLS):
                trailing = await self._call.trailing_metadata()
                if any(key == REASON_METADATA_KEY for key, _ in trailing or ()):
                    return from_rpc_error(
                        grpc.aio.AioRpcError(
                            await self._call.code(), grpc.aio.Metadata(), trailing, await self._call.details()
                        )
                    )
                await asyncio.sleep(_STATUS_POLL_INTERVAL)
            # A datanode's own failures always carry a reason (abort_with); a bare INTERNAL is the
            # transport breaking under the stream (the node died or was cut off mid-write).
            return StrataError(ErrorReason.BACKEND_UNAVAILABLE, "the Put stream to the datanode broke")
        return from_rpc_error(failure)


class DataNodeClient:
    """The DataService of one datanode; errors are raised as StrataError."""

    def __init__(self, address: str, *, call_timeout: float = DEFAULT_CALL_TIMEOUT) -> None:
        self.address = address
        self._call_timeout = call_timeout
        self._channel = grpc.aio.insecure_channel(
            address,
            interceptors=CLIENT_INTERCEPTORS,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                *QUICK_RECONNECT,
            ],
        )
        self._stub = DataServiceStub(self._channel)
        # Raw (de)serializers on the streams: the chunk messages are encoded by hand.
        self._put = self._channel.stream_unary(
            _PUT_METHOD, request_serializer=None, response_deserializer=PutResponse.FromString
        )
        self._get = self._channel.unary_stream(
            _GET_METHOD, request_serializer=GetRequest.SerializeToString, response_deserializer=None
        )

    def open_put(self) -> PutStream:
        """A raw Put stream: write ``encode_put_header(...)``, then ``encode_put_data(...)`` messages, then finish."""
        return PutStream(self._put(metadata=outgoing_metadata()))

    @property
    def stub(self) -> DataServiceStub:
        return self._stub

    def seems_down(self) -> bool:
        """The channel's last connection attempt failed (no call is made to find out)."""
        return self._channel.get_state(try_to_connect=False) == grpc.ChannelConnectivity.TRANSIENT_FAILURE

    async def put(
        self,
        blob_id: str,
        location: str,
        chunks: AsyncIterator[bytes],
        remote_name: str = "",
        meta: RemoteMeta | None = None,
    ) -> BlobRef:
        stream = self.open_put()
        try:
            await stream.write(encode_put_header(blob_id, location, remote_name, meta))
            size = 0
            async for chunk in chunks:
                size += memoryview(chunk).nbytes
                for message in encode_put_data(chunk):
                    await stream.write(message)
            return await stream.finish(size)
        except BaseException:
            stream.cancel()
            raise

    async def get(
        self, blob_id: str, offset: int = 0, length: int = -1, remote: RemoteRef | None = None
    ) -> AsyncGenerator[bytes, None]:
        call = self._get(
            GetRequest(blob_id=blob_id, offset=offset, length=length, remote=remote),
            metadata=outgoing_metadata(),
        )
        try:
            async for raw in call:
                yield decode_get_chunk(raw)
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        finally:
            call.cancel()

    async def head(self, blob_id: str, remote: RemoteRef | None = None) -> int | None:
        try:
            response = await self._stub.Head(
                BlobId(blob_id=blob_id, remote=remote),
                metadata=outgoing_metadata(),
                timeout=self._call_timeout,
            )
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        return response.size if response.exists else None

    async def delete(self, blob_id: str, remote: RemoteRef | None = None) -> None:
        try:
            await self._stub.Delete(
                BlobId(blob_id=blob_id, remote=remote),
                metadata=outgoing_metadata(),
                timeout=self._call_timeout,
            )
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None

    async def health(self) -> HealthResponse:
        try:
            return await self._stub.Health(Empty(), metadata=outgoing_metadata(), timeout=self._call_timeout)
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None

    async def list_blobs(self) -> AsyncGenerator[str, None]:
        call = self._stub.ListBlobs(Empty(), metadata=outgoing_metadata())
        try:
            async for batch in call:
                for blob_id in batch.blob_ids:
                    yield blob_id
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        finally:
            call.cancel()

    async def scrub(
        self, rate_mb_per_s: float, *, unhealed_only: bool = False
    ) -> AsyncGenerator[ScrubProgress, None]:
        """One scrub pass of the node at ``rate_mb_per_s`` (0: unbounded), as its progress messages
        (``unhealed_only``: just the quarantined blobs still waiting for a healed copy)."""
        request = ScrubRequest(rate_mb_per_s=rate_mb_per_s, unhealed_only=unhealed_only)
        call = self._stub.Scrub(request, metadata=outgoing_metadata())
        try:
            async for progress in call:
                yield progress
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        finally:
            call.cancel()

    async def close(self) -> None:
        await self._channel.close()


@dataclass(frozen=True)
class NodeInfo:
    node_id: str
    address: str
    location: str


class NodeDirectory(Protocol):
    def nodes_for_location(self, location: str) -> list[NodeInfo]:
        """The live datanodes serving ``location``."""
        ...

    def node(self, node_id: str) -> NodeInfo | None:
        """A live datanode by id, or None."""
        ...

    def members_for_location(self, location: str) -> list[str]:
        """Ids of every datanode that belongs to ``location``, live or not."""
        ...


class StaticNodeDirectory:
    """A fixed set of nodes, all considered live (tests, fixed deployments)."""

    def __init__(self, nodes: Iterable[NodeInfo]) -> None:
        self._nodes = {node.node_id: node for node in nodes}

    def nodes_for_location(self, location: str) -> list[NodeInfo]:
        return [node for node in self._nodes.values() if node.location == location]

    def node(self, node_id: str) -> NodeInfo | None:
        return self._nodes.get(node_id)

    def members_for_location(self, location: str) -> list[str]:
        return sorted(node.node_id for node in self.nodes_for_location(location))


def rendezvous_order(blob_id: str, nodes: Sequence[NodeInfo]) -> list[NodeInfo]:
    """Nodes ranked for ``blob_id`` by highest random weight: stable, and moves few blobs on changes."""

    def weight(node: NodeInfo) -> tuple[int, str]:
        digest = hashlib.blake2b(f"{node.node_id}\0{blob_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big"), node.node_id

    return sorted(nodes, key=weight, reverse=True)


_FALLBACK_REASONS = frozenset(
    {ErrorReason.BACKEND_UNAVAILABLE, ErrorReason.BLOB_NOT_FOUND, ErrorReason.BLOB_CORRUPT}
)


async def _settle(awaitables: Sequence[Awaitable[_T]]) -> list[_T | BaseException]:
    """Awaits all concurrently; each result is its value or the exception it raised."""
    if len(awaitables) == 1:
        try:
            return [await awaitables[0]]
        except Exception as error:
            return [error]
    return list(await asyncio.gather(*awaitables, return_exceptions=True))


def write_quorum(replicas_wanted: int) -> int:
    """How many replicas must hold a blob before its write is acknowledged: a majority (R/2 + 1)."""
    return replicas_wanted // 2 + 1


class ReplicatedDataClient:
    """Writes each blob to R datanodes of its location, reads from the first replica that answers."""

    def __init__(
        self,
        directory: NodeDirectory,
        replication_factor: int = 3,
        *,
        copy_timeout_s: float = DEFAULT_COPY_TIMEOUT,
        copy_rate: float = DEFAULT_COPY_RATE,
        locations: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
    ) -> None:
        """``locations`` (the location config) is needed to plan writes to external locations; reads
        and deletes of their blobs need only the blob's own reference."""
        if replication_factor < 1:
            raise ValueError("replication_factor must be at least 1")
        if copy_timeout_s <= 0 or copy_rate <= 0:
            raise ValueError("copy_timeout_s and copy_rate must be positive")
        self._copy_timeout_s = copy_timeout_s
        self._copy_rate = copy_rate
        self._directory = directory
        self._replication_factor = replication_factor
        self._clients: dict[str, DataNodeClient] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._full_until: dict[str, float] = {}  # node id -> monotonic time its full disk is retried
        self._locations = locations or dict
        self._remote = RemoteLocationClient(directory, self.client_for)

    def client_for(self, address: str) -> DataNodeClient:
        client = self._clients.get(address)
        if client is None:
            client = self._clients[address] = DataNodeClient(address)
        return client

    def is_remote(self, location: str) -> bool:
        config = self._locations().get(location)
        return config is not None and is_remote(str(config.get("type", "")))

    def plan(self, location: str, bucket: str = "", key: str = "") -> BlobRef:
        config = self._locations().get(location)
        if config is not None and is_remote(str(config.get("type", ""))):
            if not self._directory.nodes_for_location(location):
                raise StrataError(
                    ErrorReason.BACKEND_UNAVAILABLE, f"no live datanode serves location {location!r}"
                )
            return plan_remote(location, config, bucket, key)
        live = self._directory.nodes_for_location(location)
        if not live:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE, f"no live datanode serves location {location!r}"
            )
        # Nodes that said their disk is full are passed over: the next ones in rendezvous order take the blob.
        nodes = [node for node in live if not self._recently_full(node.node_id)]
        blob_id = secrets.token_hex(16)
        chosen = rendezvous_order(blob_id, nodes)[: self._replication_factor]
        wanted = self.replicas_wanted(location)
        quorum = write_quorum(wanted)
        if len(chosen) < quorum:
            # Acknowledging fewer copies than a majority would let one more failure lose the object.
            raise StrataError(
                ErrorReason.INSUFFICIENT_STORAGE
                if len(nodes) < len(live)
                else ErrorReason.BACKEND_UNAVAILABLE,
                f"only {len(chosen)} of the {wanted} datanodes a blob of location {location!r} is written "
                f"to are reachable; a write needs {quorum}",
            )
        return BlobRef(
            location=location,
            blob_id=blob_id,
            size=0,
            replicas=[node.node_id for node in chosen],
            replicas_wanted=wanted,
        )

    def replicas_wanted(self, location: str) -> int:
        """The location's replication factor: R, or every member datanode if it has fewer."""
        members = set(self._directory.members_for_location(location))
        members.update(node.node_id for node in self._directory.nodes_for_location(location))
        return min(self._replication_factor, len(members))

    def _recently_full(self, node_id: str) -> bool:
        until = self._full_until.get(node_id)
        if until is None:
            return False
        if time.monotonic() >= until:
            del self._full_until[node_id]
            return False
        return True

    def _drop_full_replicas(
        self, blob: BlobRef, streams: dict[str, PutStream], results: Sequence[object], quorum: int
    ) -> None:
        """Stops writing to the replicas whose disk is full (they removed what they had); raises any
        other failure, or INSUFFICIENT_STORAGE once fewer than ``quorum`` replicas are left."""
        for node_id, result in zip(list(streams), results, strict=True):
            if not isinstance(result, BaseException):
                continue
            if not (isinstance(result, StrataError) and result.reason == ErrorReason.INSUFFICIENT_STORAGE):
                raise result
            logger.warning(
                "a datanode's disk is full; the blob goes to the other replicas",
                extra=log_fields(blob_id=blob.blob_id, node_id=node_id, error=result.message),
            )
            self._full_until[node_id] = time.monotonic() + FULL_NODE_BACKOFF_S
            streams.pop(node_id).cancel()
        if len(streams) < quorum:
            raise StrataError(
                ErrorReason.INSUFFICIENT_STORAGE,
                f"only {len(streams)} datanodes had room for blob {blob.blob_id}; a write needs {quorum}",
            )

    async def put(
        self, blob: BlobRef, chunks: AsyncIterator[bytes], meta: ObjectMeta | None = None
    ) -> BlobRef:
        """Streams the blob to its planned replicas; returns it with the replicas that stored it.

        A replica whose disk fills up is dropped and the write goes on while a write quorum is left
        (the blob is then short of replicas, so its commit queues it for repair elsewhere). A blob
        of an external location goes through one of the location's relays (``meta`` goes with it).
        """
        if blob.remote_name:
            return await self._remote.put(blob, chunks, meta)
        if not blob.replicas:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "a planned BlobRef names its replicas")
        # plan() checked the quorum among live nodes; a full disk must not take the write below it.
        quorum = min(write_quorum(blob.replicas_wanted or len(blob.replicas)), len(blob.replicas))
        # Every replica's node is looked up before any stream opens: a missing one leaves no call behind.
        nodes = {node_id: self._live_node(node_id) for node_id in blob.replicas}
        streams = {node_id: self.client_for(node.address).open_put() for node_id, node in nodes.items()}
        opened = list(streams.values())
        finishing = False
        try:
            header = encode_put_header(blob.blob_id, blob.location)
            results = await _settle([stream.write(header) for stream in streams.values()])
            self._drop_full_replicas(blob, streams, results, quorum)
            size = 0
            async for chunk in chunks:
                size += memoryview(chunk).nbytes
                for message in encode_put_data(chunk):
                    results = await _settle([stream.write(message) for stream in streams.values()])
                    self._drop_full_replicas(blob, streams, results, quorum)
            finishing = True
            # Let every replica settle before reacting to a failure: a replica that already got the
            # end message may still be storing the blob, and the cleanup must come after that.
            settled = await asyncio.gather(
                *(stream.finish(size) for stream in streams.values()), return_exceptions=True
            )
            self._drop_full_replicas(blob, streams, settled, quorum)
            sizes = {result.size for result in settled if isinstance(result, BlobRef)}
        except BaseException as error:
            for stream in opened:
                stream.cancel()
            # Before the end of the stream is sent, a cancelled Put stores nothing; after it, some may have.
            if finishing:
                await self._discard(blob, cancelled=isinstance(error, asyncio.CancelledError))
            raise
        if len(sizes) != 1:
            await self._discard(blob, cancelled=False)
            raise StrataError(
                ErrorReason.INTERNAL, f"replicas disagree on the size of {blob.blob_id}: {sizes}"
            )
        return BlobRef(
            location=blob.location,
            blob_id=blob.blob_id,
            size=sizes.pop(),
            replicas=[node_id for node_id in blob.replicas if node_id in streams],
            replicas_wanted=blob.replicas_wanted,
        )

    async def get(self, blob: BlobRef, offset: int = 0, length: int = -1) -> AsyncGenerator[bytes, None]:
        """The blob's bytes from the first replica that serves them.

        A replica that fails (unreachable, missing, or corrupt: the datanode checks every chunk
        before sending it, and quarantines a corrupt blob) is replaced by the next, which resumes
        right after the bytes already yielded: blobs never change, so every replica holds the same.
        """
        if blob.remote_name:
            async with aclosing(self._remote.get(blob, offset, length)) as remote_pieces:
                async for piece in remote_pieces:
                    yield piece
            return
        last_error: StrataError | None = None
        sent = 0
        for node_id in self._replica_ids(blob):
            node = self._directory.node(node_id)
            if node is None:
                last_error = StrataError(ErrorReason.BACKEND_UNAVAILABLE, f"datanode {node_id} is not live")
                continue
            try:
                remaining = -1 if length == -1 else length - sent
                async with aclosing(
                    self.client_for(node.address).get(blob.blob_id, offset + sent, remaining)
                ) as pieces:
                    async for piece in pieces:
                        sent += len(piece)
                        yield piece
                return
            except StrataError as error:
                if error.reason not in _FALLBACK_REASONS:
                    raise
                last_error = error
                logger.warning(
                    "replica read failed, trying the next one",
                    extra=log_fields(
                        blob_id=blob.blob_id,
                        node_id=node_id,
                        reason=error.reason_name,
                        resume_at=offset + sent,
                    ),
                )
        if last_error is not None and last_error.reason == ErrorReason.BLOB_CORRUPT:
            # The datanodes quarantined their rotten copies, so every later read finds none: say so now.
            raise StrataError(
                ErrorReason.BLOB_NOT_FOUND,
                f"no sound replica of blob {blob.blob_id}: the corrupt ones were quarantined",
            )
        if last_error is not None and last_error.reason == ErrorReason.BACKEND_UNAVAILABLE:
            # Every replica failed, the last one because its node could not be reached.
            raise StrataError(
                ErrorReason.DATA_UNREACHABLE,
                f"no datanode holding blob {blob.blob_id} can be reached ({', '.join(self._replica_ids(blob))})",
            )
        raise last_error or StrataError(ErrorReason.BLOB_NOT_FOUND, f"blob {blob.blob_id} has no replica")

    def copy_deadline(self, size: int) -> float:
        """Seconds one repair copy of a ``size``-byte blob may take before it is abandoned."""
        return self._copy_timeout_s + size / self._copy_rate

    async def replicate(
        self,
        blob: BlobRef,
        *,
        exclude: Collection[str] = (),
        before_copy: Callable[[str], Awaitable[None]] | None = None,
    ) -> list[str]:
        """Copies ``blob`` from a live replica to live nodes of its location that lack it, until it has
        ``replicas_wanted`` copies (or no node is left); returns the ids of the nodes that now hold it.

        Nodes in ``exclude`` are never targets. ``before_copy(node_id)`` runs before anything is
        written to a target (to protect the copy); an error it raises ends the call. Each copy has
        :meth:`copy_deadline`; a failed or stalled copy is retried from the next source replica.
        """
        missing = blob.replicas_wanted - len(blob.replicas)
        if missing <= 0:
            return []
        sources = [node for node in map(self._directory.node, blob.replicas) if node is not None]
        if not sources:
            raise StrataError(
                ErrorReason.DATA_UNREACHABLE, f"no live replica of blob {blob.blob_id} to copy from"
            )
        holders = set(blob.replicas) | set(exclude)
        spare = [
            node for node in self._directory.nodes_for_location(blob.location) if node.node_id not in holders
        ]
        added: list[str] = []
        for target in rendezvous_order(blob.blob_id, spare):
            if len(added) >= missing:
                break
            if self._recently_full(target.node_id):
                continue  # no room there: the next node in rendezvous order takes the copy
            if before_copy is not None:
                await before_copy(target.node_id)
            for source in sources:
                if await self._copy(blob, source, target):
                    added.append(target.node_id)
                    break
                if self._recently_full(target.node_id):
                    break
        return added

    async def copy_blob(self, blob: BlobRef, source_id: str, target_id: str) -> bool:
        """Copies ``blob`` (``size`` known) from datanode ``source_id`` onto ``target_id``, as repair does:
        within :meth:`copy_deadline`, verified end to end; False (logged) if it failed."""
        return await self._copy(blob, self._live_node(source_id), self._live_node(target_id))

    async def _copy(self, blob: BlobRef, source: NodeInfo, target: NodeInfo) -> bool:
        """One copy of ``blob`` from ``source`` to ``target`` within its deadline; False if it failed."""
        try:
            async with asyncio.timeout(self.copy_deadline(blob.size)):
                async with aclosing(self.client_for(source.address).get(blob.blob_id)) as pieces:
                    written = await self.client_for(target.address).put(blob.blob_id, blob.location, pieces)
        except (StrataError, TimeoutError) as error:
            reason = error.reason_name if isinstance(error, StrataError) else "TIMEOUT"
            if isinstance(error, StrataError) and error.reason == ErrorReason.INSUFFICIENT_STORAGE:
                self._full_until[target.node_id] = time.monotonic() + FULL_NODE_BACKOFF_S
            logger.warning(
                "could not copy a blob to a new replica",
                extra=log_fields(
                    blob_id=blob.blob_id, node_id=target.node_id, source=source.node_id, reason=reason
                ),
            )
            return False
        if written.size != blob.size:
            logger.warning(
                "a copy of a blob has the wrong size, discarding it",
                extra=log_fields(
                    blob_id=blob.blob_id, node_id=target.node_id, source=source.node_id, size=written.size
                ),
            )
            await self._discard_now(
                BlobRef(location=blob.location, blob_id=blob.blob_id, replicas=[target.node_id])
            )
            return False
        return True

    async def delete(self, blob: BlobRef) -> None:
        if blob.remote_name:
            if deletable(blob):
                await self._remote.delete(blob)
            return
        results = await asyncio.gather(
            *(self._delete_on(node_id, blob.blob_id) for node_id in self._replica_ids(blob)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def location_health(self, location: str) -> str | None:
        return await self._remote.location_health(location)

    async def keeps_versions(self, location: str) -> bool:
        return not self.is_remote(location) or await self._remote.keeps_versions(location)

    async def create_multipart(self, location: str, name: str, meta: ObjectMeta) -> str:
        return await self._remote.create_multipart(location, name, meta)

    async def upload_part(
        self,
        location: str,
        name: str,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterator[bytes],
        size: int,
    ) -> RemotePart:
        return await self._remote.upload_part(location, name, upload_id, part_number, chunks, size)

    async def complete_multipart(
        self, location: str, name: str, upload_id: str, parts: Sequence[RemotePart], meta: ObjectMeta
    ) -> RemoteObject:
        return await self._remote.complete_multipart(location, name, upload_id, parts, meta)

    async def abort_multipart(self, location: str, name: str, upload_id: str) -> None:
        await self._remote.abort_multipart(location, name, upload_id)

    async def close(self) -> None:
        for task in list(self._background):
            await asyncio.gather(task, return_exceptions=True)
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()

    def _replica_ids(self, blob: BlobRef) -> list[str]:
        if blob.replicas:
            return list(blob.replicas)
        # A ref without replicas (written before they were recorded): every live node may hold it.
        return [node.node_id for node in self._directory.nodes_for_location(blob.location)]

    def _live_node(self, node_id: str) -> NodeInfo:
        node = self._directory.node(node_id)
        if node is None:
            raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, f"datanode {node_id} is not live")
        return node

    async def _delete_on(self, node_id: str, blob_id: str) -> None:
        await self.client_for(self._live_node(node_id).address).delete(blob_id)

    async def _discard(self, blob: BlobRef, *, cancelled: bool) -> None:
        """Best-effort removal of whatever a failed put left on its replicas."""
        cleanup = asyncio.ensure_future(self._discard_now(blob))
        if cancelled:
            # This task is being cancelled; finish the cleanup in the background.
            self._background.add(cleanup)
            cleanup.add_done_callback(self._background.discard)
            return
        await cleanup

    async def _discard_now(self, blob: BlobRef) -> None:
        try:
            async with asyncio.timeout(CLEANUP_TIMEOUT):
                await self.delete(blob)
        except (StrataError, TimeoutError) as error:
            logger.warning(
                "could not remove a failed put's blob; intent expiry will",
                extra=log_fields(blob_id=blob.blob_id, error=str(error)),
            )
