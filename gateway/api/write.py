"""The data half of the write protocol (DESIGN section 6), shared by every handler that stores bytes.

``store_data`` records an intent, streams the bytes to a new blob while hashing
them, and returns a ``StoredData``; the caller then commits metadata with
``stored.intent_id`` (which closes the intent) or calls ``discard`` on failure.
Small bodies of known length are kept inline (no intent, no blob).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.api.versioning import put_request
from gateway.context import RequestContext
from protos.common_pb2 import BlobRef
from protos.metadata_pb2 import (
    AbortIntentRequest,
    BucketInfo,
    CreateIntentRequest,
    ObjectMD,
    PutObjectResponse,
    QueueGarbageRequest,
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
) -> StoredData:
    """Streams ``chunks`` into storage; nothing is visible until the caller commits metadata.

    ``hashers`` (e.g. flexible checksums) see every byte, hashed with the MD5 in the same thread hop.
    """
    services = ctx.services
    digest = Digest(chunks, hashers)
    if allow_inline and length is not None and length <= services.inline_threshold:
        data = b"".join([piece async for piece in digest])
        return StoredData(size=digest.size, md5=digest.md5.digest(), inline=data)
    blob = services.data.plan(location)
    intent = await services.metadata.create_intent(
        CreateIntentRequest(bucket=bucket, key=key, blobs=[blob], ttl_ms=services.intent_ttl_ms)
    )
    stored = StoredData(size=0, md5=b"", blobs=[blob], intent_id=intent.id)
    try:
        stored.blobs = [await services.data.put(blob, digest.__aiter__())]
    except BaseException:
        await discard(ctx, stored)
        raise
    stored.size = digest.size
    stored.md5 = digest.md5.digest()
    return stored


async def discard(ctx: RequestContext, stored: StoredData) -> None:
    """Best effort: drop uncommitted blobs now rather than when their intent expires."""
    if not stored.blobs:
        return
    try:
        await ctx.services.metadata.abort_intent(AbortIntentRequest(intent_id=stored.intent_id))
    except Exception:
        log.warning("could not abort intent %s; the garbage collector will", stored.intent_id)
        try:
            await ctx.services.metadata.queue_garbage(QueueGarbageRequest(blobs=stored.blobs))
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
    return await ctx.services.metadata.put_object(
        put_request(bucket, md, intent_id=stored.intent_id, if_match=if_match, if_none_match=if_none_match)
    )
