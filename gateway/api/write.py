"""The data half of the write protocol (DESIGN section 6), shared by every handler that stores bytes.

``store_data`` records an intent, streams the bytes to a new blob while hashing
them, and returns a ``StoredData``; the caller then commits metadata with
``stored.intent_id`` (which closes the intent) or calls ``discard`` on failure.
Small bodies of known length are kept inline (no intent, no blob).

While the bytes stream, ``IntentRenewal`` pushes the intent's deadline forward every
third of its TTL, so the collector never takes data that is still being written, however
slow the client; a writer that dies stops renewing and its intent expires. If the intent
is found gone (collected), the stream is stopped and the upload fails with a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from datanode.backends.remote import ObjectMeta
from gateway.api.versioning import put_request
from gateway.context import RequestContext
from gateway.crypto.envelope import sealed_size
from gateway.crypto.sse import seal_stream
from gateway.ports import MetadataPort
from gateway.s3 import errors
from protos.common_pb2 import BlobRef, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    AbortIntentRequest,
    BucketInfo,
    CreateIntentRequest,
    ObjectMD,
    PutObjectResponse,
    QueueGarbageRequest,
    RenewIntentRequest,
    SealedKey,
    UploadInfo,
)

log = logging.getLogger("gateway.write")

# Pieces this large are hashed in a worker thread (hashlib releases the GIL), so the
# event loop keeps serving other requests while a big upload is hashed.
HASH_OFFLOAD_BYTES = 256 * 1024


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


class Digest:
    """MD5 (for the ETag), size, and any extra hashers (flexible checksums) of the bytes that pass through."""

    def __init__(self, source: AsyncIterator[bytes], hashers: Sequence[Hasher] = ()) -> None:
        self.source = source
        self.md5 = hashlib.md5()
        self.size = 0
        self._hashers: tuple[Hasher, ...] = (self.md5, *hashers)

    def _update(self, piece: bytes) -> None:
        for hasher in self._hashers:
            hasher.update(piece)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for piece in self.source:
            if len(piece) >= HASH_OFFLOAD_BYTES:
                await asyncio.to_thread(self._update, piece)
            else:
                self._update(piece)
            self.size += len(piece)
            yield piece


@dataclass
class StoredData:
    size: int
    md5: bytes
    blobs: list[BlobRef] = field(default_factory=list)
    inline: bytes = b""
    intent_id: str = ""
    bucket: str = ""  # where the intent lives (routes its calls to the bucket's shard)
    # The intent was closed by someone else (expired and collected): its blobs are queued
    # already, but bytes written after the collector ran must be queued again.
    intent_lost: bool = False
    # Server-side encryption of a multipart part: its data key as wrapped (kept in the part record).
    sse_key: SealedKey | None = None

    @property
    def etag(self) -> str:
        return self.md5.hex()


async def store_data(
    ctx: RequestContext,
    bucket: str,
    key: str,
    location: str,
    chunks: AsyncIterator[bytes],
    length: int | None,
    allow_inline: bool = True,
    hashers: Sequence[Hasher] = (),
    meta: ObjectMeta | None = None,
    data_key: bytes | None = None,
) -> StoredData:
    """Streams ``chunks`` into storage; nothing is visible until the caller commits metadata.

    ``hashers`` (e.g. flexible checksums) see every byte, hashed with the MD5 in the same thread hop.
    ``meta`` describes the object to an external location (which keeps the data under the
    object's own name, so small objects are never kept inline there).
    ``data_key`` (server-side encryption) seals the bytes after they are hashed: the MD5 and the
    checksums are of the plaintext, the storage holds only ciphertext; ``length`` must be known.
    """
    services = ctx.services
    digest = Digest(chunks, hashers)
    stored_length = length
    stream: AsyncIterator[bytes] = digest.__aiter__()
    if data_key is not None:
        assert length is not None, "sealing needs the plaintext size up front"
        stored_length = sealed_size(length)
        stream = seal_stream(stream, data_key, length)
    remote = services.data.is_remote(location)
    if (
        allow_inline
        and not remote
        and stored_length is not None
        and stored_length <= services.inline_threshold
    ):
        data = b"".join([piece async for piece in stream])
        return StoredData(size=digest.size, md5=digest.md5.digest(), inline=data)
    blob = services.data.plan(location, bucket, key)
    if remote:
        meta = replace(meta or ObjectMeta(), size=-1 if stored_length is None else stored_length)
    intent = await services.metadata.create_intent(
        CreateIntentRequest(bucket=bucket, key=key, blobs=[blob], ttl_ms=services.intent_ttl_ms)
    )
    stored = StoredData(size=0, md5=b"", blobs=[blob], intent_id=intent.id, bucket=bucket)
    writing = asyncio.ensure_future(services.data.put(blob, stream, meta))
    renewal = IntentRenewal(services.metadata, intent.id, services.intent_ttl_ms, bucket)
    try:
        async with renewal.while_running(writing):
            try:
                written = await writing
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if renewal.lost is None or (current is not None and current.cancelling()):
                    raise
                stored.intent_lost = True
                raise renewal.lost from None
        stored.blobs = [written]
    except BaseException:
        await discard(ctx, stored)
        raise
    stored.size = digest.size
    stored.md5 = digest.md5.digest()
    return stored


# Renewal failures that say nothing about the intent itself: try again at the next tick.
_TRANSIENT_REASONS = frozenset(
    {ErrorReason.BACKEND_UNAVAILABLE, ErrorReason.NOT_LEADER, ErrorReason.OUTCOME_UNKNOWN}
)


class IntentRenewal:
    """Keeps one intent alive while its data streams: renews every ``ttl_ms / 3``.

    If the metanode says the intent is gone (or refuses it for good), ``lost`` holds why
    and the writing task is cancelled, so no more bytes go to blobs nothing protects.
    """

    def __init__(self, metadata: MetadataPort, intent_id: str, ttl_ms: int, bucket: str = "") -> None:
        self._metadata = metadata
        self._intent_id = intent_id
        self._bucket = bucket
        self._ttl_ms = ttl_ms
        self.interval_s = max(ttl_ms, 3) / 3000
        self.lost: StrataError | None = None
        self.renewals = 0

    @contextlib.asynccontextmanager
    async def while_running(self, writing: asyncio.Future[BlobRef]) -> AsyncIterator[None]:
        keeper = asyncio.ensure_future(self._keep_alive(writing))
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if not writing.done():
                writing.cancel()
                with contextlib.suppress(BaseException):
                    await writing

    async def _keep_alive(self, writing: asyncio.Future[BlobRef]) -> None:
        while not writing.done():
            await asyncio.sleep(self.interval_s)
            if writing.done():
                return
            try:
                await self._metadata.renew_intent(
                    RenewIntentRequest(intent_id=self._intent_id, ttl_ms=self._ttl_ms, bucket=self._bucket)
                )
                self.renewals += 1
            except StrataError as error:
                if error.reason in _TRANSIENT_REASONS:
                    log.warning(
                        "could not renew intent %s (%s); retrying", self._intent_id, error.reason_name
                    )
                    continue
                log.warning("intent %s lost while its data streamed: %s", self._intent_id, error.reason_name)
                self.lost = error
                writing.cancel()
                return
            except Exception:
                # Not a verdict on the intent: the next tick tries again (the commit still checks it).
                log.warning("could not renew intent %s; retrying", self._intent_id, exc_info=True)


@contextlib.contextmanager
def closing_intent(stored: StoredData) -> Iterator[None]:
    """Wraps the commit that closes ``stored``'s intent, noting when the intent turned out to be gone."""
    try:
        yield
    except StrataError as error:
        if error.reason == ErrorReason.NO_SUCH_INTENT:
            stored.intent_lost = True
        raise


async def discard(ctx: RequestContext, stored: StoredData) -> None:
    """Best effort: drop uncommitted blobs now rather than when their intent expires."""
    if not stored.blobs or all(blob.remote_part for blob in stored.blobs):
        return  # a native multipart part goes with its upload
    if stored.intent_lost:
        # The collector closed the intent (and may have deleted the blobs) while bytes still
        # flowed: queue them again so nothing written afterwards is left behind.
        try:
            await ctx.services.metadata.queue_garbage(
                QueueGarbageRequest(blobs=stored.blobs, bucket=stored.bucket)
            )
        except Exception:
            log.warning("could not queue blobs of lost intent %s for deletion", stored.intent_id)
        return
    if any(blob.remote_version for blob in stored.blobs):
        # The intent recorded the external write before the provider named its version: only the
        # written reference lets the collector delete exactly this write.
        with contextlib.suppress(Exception):
            await ctx.services.metadata.queue_garbage(
                QueueGarbageRequest(blobs=stored.blobs, bucket=stored.bucket)
            )
    try:
        await ctx.services.metadata.abort_intent(
            AbortIntentRequest(intent_id=stored.intent_id, bucket=stored.bucket)
        )
    except Exception:
        log.warning("could not abort intent %s; the garbage collector will", stored.intent_id)
        try:
            await ctx.services.metadata.queue_garbage(
                QueueGarbageRequest(blobs=stored.blobs, bucket=stored.bucket)
            )
        except Exception:
            log.warning("could not queue blobs of intent %s for deletion", stored.intent_id)


async def commit_object(
    ctx: RequestContext,
    bucket: BucketInfo,
    md: ObjectMD,
    stored: StoredData,
    *,
    if_match: str = "",
    if_none_match: bool = False,
) -> PutObjectResponse:
    """Points ``md`` at the stored data and commits it as the bucket's new current object.

    The commit closes the data's intent; the caller discards ``stored`` if this raises.
    """
    md.size = stored.size
    md.etag = stored.etag
    md.inline_data = stored.inline
    md.blobs.extend(stored.blobs)
    with closing_intent(stored):
        return await ctx.services.metadata.put_object(
            put_request(
                bucket, md, intent_id=stored.intent_id, if_match=if_match, if_none_match=if_none_match
            )
        )


async def store_remote_part(
    ctx: RequestContext,
    upload: UploadInfo,
    part_number: int,
    chunks: AsyncIterator[bytes],
    length: int | None,
    hashers: Sequence[Hasher] = (),
    data_key: bytes | None = None,
) -> StoredData:
    """Streams one part of a native multipart upload to its external location.

    The provider keeps the part inside its own upload (which completion or abort disposes of),
    so there is no intent: the part's reference carries the provider's token, never deleted alone.
    """
    if length is None:
        raise errors.MissingContentLength()  # providers take a part's length up front, as S3 does
    digest = Digest(chunks, hashers)
    stream: AsyncIterator[bytes] = digest.__aiter__()
    stored_length = length
    if data_key is not None:  # server-side encryption: the provider gets the sealed part
        stream, stored_length = seal_stream(stream, data_key, length), sealed_size(length)
    location = upload.object.location
    part = await ctx.services.data.upload_part(
        location, upload.remote_name, upload.remote_upload_id, part_number, stream, stored_length
    )
    blob = BlobRef(
        location=location,
        blob_id=uuid.uuid4().hex,
        size=part.size,
        remote_name=upload.remote_name,
        remote_version=part.token,
        remote_part=True,
    )
    return StoredData(size=digest.size, md5=digest.md5.digest(), blobs=[blob], bucket=upload.bucket)
