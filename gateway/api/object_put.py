"""PutObject, following the write protocol of DESIGN section 6.

intent -> stream data -> commit metadata (closing the intent) -> old blobs to GC.
A failure at any step deletes what was written; a crash leaves an intent whose
blobs the metanode's garbage collector removes when it expires.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.api.common import STORED_CONTENT_HEADERS, etag_header, owned_bucket, user_metadata
from gateway.api.versioning import put_request
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.body import iter_payload
from protos.common_pb2 import BlobRef
from protos.metadata_pb2 import (
    AbortIntentRequest,
    BucketInfo,
    CreateIntentRequest,
    ObjectMD,
    QueueGarbageRequest,
)

log = logging.getLogger("gateway.put")

LOCATION_HEADER = "x-amz-meta-scal-location-constraint"


def declared_length(ctx: RequestContext) -> int | None:
    """The object's size as announced by the client, when it is."""
    headers = ctx.headers
    raw = headers.get("x-amz-decoded-content-length")
    if raw is None and "aws-chunked" not in headers.get("Content-Encoding", ""):
        raw = headers.get("Content-Length")
    if raw is None:
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            return None
        raise errors.MissingContentLength()
    try:
        length = int(raw)
    except ValueError:
        raise errors.InvalidArgument("Invalid content length", ArgumentName="Content-Length") from None
    if length < 0:
        raise errors.InvalidArgument("Invalid content length", ArgumentName="Content-Length")
    if length > ctx.services.max_put_size:
        raise errors.EntityTooLarge(ProposedSize=str(length), MaxSizeAllowed=str(ctx.services.max_put_size))
    return length


def expected_md5(ctx: RequestContext) -> bytes | None:
    raw = ctx.headers.get("Content-MD5")
    if raw is None:
        return None
    try:
        digest = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidDigest() from None
    if len(digest) != 16:
        raise errors.InvalidDigest()
    return digest


def choose_location(ctx: RequestContext, bucket: BucketInfo) -> str:
    requested = ctx.headers.get(LOCATION_HEADER)
    if requested:
        if requested not in ctx.services.locations():
            raise errors.InvalidLocationConstraint(f"Location {requested} is not configured")
        return requested
    return bucket.location or ctx.host_location()


def new_object_md(ctx: RequestContext, bucket: BucketInfo, location: str) -> ObjectMD:
    account = ctx.principal.account
    assert account is not None
    md = ObjectMD(
        key=ctx.key,
        owner_id=account.canonical_id,
        owner_display_name=account.display_name,
        location=location,
        storage_class=ctx.headers.get("x-amz-storage-class", "STANDARD"),
        website_redirect_location=ctx.headers.get("x-amz-website-redirect-location", ""),
    )
    for header, field_name in STORED_CONTENT_HEADERS.items():
        value = ctx.headers.get(header)
        if value is not None:
            setattr(md, field_name, value)
    md.user_metadata.update(user_metadata(ctx.headers))
    return md


# Pieces this large are hashed in a worker thread (hashlib releases the GIL), so the
# event loop keeps serving other requests while a big upload is hashed.
HASH_OFFLOAD_BYTES = 256 * 1024


class _Digest:
    """MD5 of the bytes that pass through, for the ETag."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self.source = source
        self.md5 = hashlib.md5()
        self.size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for piece in self.source:
            if len(piece) >= HASH_OFFLOAD_BYTES:
                await asyncio.to_thread(self.md5.update, piece)
            else:
                self.md5.update(piece)
            self.size += len(piece)
            yield piece


async def put_object(ctx: RequestContext) -> web.StreamResponse:
    services = ctx.services
    length = declared_length(ctx)
    md5_expected = expected_md5(ctx)
    bucket = await owned_bucket(ctx)
    location = choose_location(ctx, bucket)
    md = new_object_md(ctx, bucket, location)
    body = iter_payload(ctx.request.content, ctx.auth.payload, ctx.headers)

    intent_id = ""
    blob: BlobRef | None = None
    digest = _Digest(body)
    if length is not None and length <= services.inline_threshold:
        data = b"".join([piece async for piece in digest])
        md.inline_data = data
    else:
        blob = services.data.plan(location)
        intent = await services.metadata.create_intent(
            CreateIntentRequest(bucket=bucket.name, key=ctx.key, blobs=[blob], ttl_ms=services.intent_ttl_ms)
        )
        intent_id = intent.id
        try:
            blob = await services.data.put(blob, digest.__aiter__())
        except BaseException:
            await _discard(ctx, intent_id, blob)
            raise
        md.blobs.append(blob)

    try:
        if length is not None and digest.size != length:
            raise errors.IncompleteBody()
        if md5_expected is not None and digest.md5.digest() != md5_expected:
            raise errors.BadDigest()
        md.size = digest.size
        md.etag = digest.md5.hexdigest()
        committed = await services.metadata.put_object(put_request(bucket, md, intent_id=intent_id))
    except BaseException:
        if blob is not None:
            await _discard(ctx, intent_id, blob)
        raise

    response = web.Response(status=200)
    response.headers["ETag"] = etag_header(md)
    if committed.version_id:
        response.headers["x-amz-version-id"] = committed.version_id
    return response


async def _discard(ctx: RequestContext, intent_id: str, blob: BlobRef) -> None:
    """Best effort: drop an uncommitted blob now rather than when its intent expires."""
    try:
        await ctx.services.metadata.abort_intent(AbortIntentRequest(intent_id=intent_id))
    except Exception:
        log.warning("could not abort intent %s; the garbage collector will", intent_id)
        try:
            await ctx.services.metadata.queue_garbage(QueueGarbageRequest(blobs=[blob]))
        except Exception:
            log.warning("could not queue blob %s for deletion", blob.blob_id)
