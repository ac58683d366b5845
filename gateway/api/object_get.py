"""GetObject and HeadObject: metadata lookup, conditions, ranges, streamed body."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from gateway.api.checksums import checksum_mode_enabled, object_checksum_headers
from gateway.api.common import ByteRange, check_conditions, object_headers, owned_bucket, parse_range
from gateway.api.versioning import find_object, requested_version_id
from gateway.context import GatewayServices, RequestContext
from gateway.crypto import sse
from gateway.crypto.envelope import sealed_size
from gateway.lifecycle import EXPIRATION_HEADER, expiration_header
from gateway.ports import DataPort
from gateway.s3 import errors
from gateway.s3.validation import validate_key
from protos.errors import StrataError
from protos.metadata_pb2 import VERSIONING_UNSET, ObjectMD
from strata.runtime.log import log_fields

log = logging.getLogger("gateway.get")

RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


async def _lookup(ctx: RequestContext) -> tuple[ObjectMD, dict[str, str]]:
    """The object and the headers its bucket's configuration adds (x-amz-expiration)."""
    validate_key(ctx.key)
    bucket = await owned_bucket(ctx)
    # A delete marker answers 404 (current) or 405 (named version) with x-amz-delete-marker.
    version_id = requested_version_id(ctx)
    md = await find_object(ctx, bucket, ctx.key, version_id)
    if not md.version_id and bucket.versioning != VERSIONING_UNSET:
        # An object from before versioning is the null version once versioning is configured.
        md.version_id = "null"
    bucket_headers: dict[str, str] = {}
    # -- lifecycle: when a rule's Expiration applies to the current version
    expiration = expiration_header(bucket, md, ctx.services.lifecycle_day_ms) if version_id is None else None
    if expiration is not None:
        bucket_headers[EXPIRATION_HEADER] = expiration
    return md, bucket_headers


def _read_headers(ctx: RequestContext, md: ObjectMD) -> tuple[int, dict[str, str], ByteRange | None] | None:
    """Status, headers and range of a read, or None for 304 Not Modified."""
    if not check_conditions(ctx.headers, md):
        return None
    headers = object_headers(md)
    for parameter, header in RESPONSE_OVERRIDES.items():
        value = ctx.query.get(parameter)
        if value is not None:
            headers[header] = value
    if ctx.endpoint.part_number is not None:
        byte_range: ByteRange | None = part_range(md, ctx.endpoint.part_number, ctx.headers.get("Range"))
        if md.parts_count:
            headers["x-amz-mp-parts-count"] = str(md.parts_count)
    else:
        byte_range = parse_range(ctx.headers.get("Range"), md.size)
    if byte_range is None:
        if checksum_mode_enabled(ctx.headers):
            # Whole-object checksums only: a client would check a range against them and fail.
            headers.update(object_checksum_headers(md))
        headers["Content-Length"] = str(md.size)
        return 200, headers, None
    headers["Content-Length"] = str(byte_range.length)
    headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{md.size}"
    return 206, headers, byte_range


def part_range(md: ObjectMD, part_number: int, range_header: str | None) -> ByteRange:
    """The bytes of one part (``partNumber``); an object not uploaded in parts has one part."""
    if range_header:
        raise errors.InvalidRequest("Cannot specify both Range header and partNumber query parameter.")
    sizes = list(md.part_sizes) if md.part_sizes else [md.size]
    if part_number > len(sizes):
        raise errors.InvalidPartNumber()
    start = sum(sizes[: part_number - 1])
    if sizes[part_number - 1] == 0:
        raise errors.InvalidPartNumber()
    return ByteRange(start, start + sizes[part_number - 1] - 1)


def _not_modified(md: ObjectMD) -> web.Response:
    headers = object_headers(md)
    return web.Response(status=304, headers={k: headers[k] for k in ("ETag", "Last-Modified")})


async def head_object(ctx: RequestContext) -> web.StreamResponse:
    md, bucket_headers = await _lookup(ctx)
    return await answer_read(ctx, md, head=True, extra_headers=bucket_headers)


async def get_object(ctx: RequestContext) -> web.StreamResponse:
    md, bucket_headers = await _lookup(ctx)
    return await answer_read(ctx, md, head=False, extra_headers=bucket_headers)


async def answer_read(
    ctx: RequestContext, md: ObjectMD, head: bool, extra_headers: Mapping[str, str] | None = None
) -> web.StreamResponse:
    """The GET (or HEAD) answer for the object ``md``: conditions, ranges, then its bytes."""
    decided = _read_headers(ctx, md)
    if decided is None:
        return _not_modified(md)
    status, headers, byte_range = decided
    headers.update(extra_headers or {})
    if head:
        # A StreamResponse keeps the object's Content-Length; a Response would use its empty body's.
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = int(headers["Content-Length"])
        return response
    start, length = (byte_range.start, byte_range.length) if byte_range else (0, md.size)
    return await stream_object(ctx, md, status, headers, start, length)


async def stream_object(
    ctx: RequestContext, md: ObjectMD, status: int, headers: dict[str, str], start: int, length: int
) -> web.StreamResponse:
    """Answers ``status`` with ``headers`` and the object's bytes [start, start+length)."""
    pieces = read_object(ctx.services, ctx.bucket, md, start, length)
    # Pull the first piece before answering, so a missing blob (or damaged ciphertext) is an error,
    # not a cut stream.
    first = await anext(pieces, b"")
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = length
    await response.prepare(ctx.request)
    try:
        if first:
            await response.write(first)
        async for piece in pieces:
            await response.write(piece)
    except (StrataError, errors.S3Error) as error:
        # The status line and part of the body are out: no error response can follow, and the rest
        # must never be made up. Cutting the connection leaves the client a body shorter than its
        # Content-Length, which every client treats as a failed download.
        reason = error.reason_name if isinstance(error, StrataError) else error.code
        log.warning(
            "the rest of an object being sent could not be read; the connection is cut",
            extra=log_fields(bucket=ctx.bucket, key=ctx.key, reason=reason, error=error.message),
        )
        if ctx.request.transport is not None:
            ctx.request.transport.abort()
        return response
    await response.write_eof()
    return response


async def read_object(
    services: GatewayServices, bucket: str, md: ObjectMD, start: int, length: int
) -> AsyncIterator[bytes]:
    """The object's plaintext bytes [start, start+length) (opened here when it is encrypted)."""
    if not sse.is_encrypted(md):
        async for piece in read_stored(services.data, md, start, length):
            yield piece
        return
    if length <= 0:
        return
    try:
        async for piece in _read_encrypted(services, bucket, md, start, length):
            yield piece
    except sse.ObjectDataDamaged as damage:
        log.warning(
            "an encrypted object's stored data failed its integrity check",
            extra=log_fields(bucket=bucket, key=md.key, error=str(damage)),
        )
        raise sse.damaged_data_error() from None


async def _read_encrypted(
    services: GatewayServices, bucket: str, md: ObjectMD, start: int, length: int
) -> AsyncIterator[bytes]:
    """Plaintext [start, start+length) of an encrypted object: each part (a single PUT is one) was
    sealed with its own key, and its sealed form follows the previous part's in the stored bytes."""
    multipart = len(md.sse_part_keys) > 0
    sizes = list(md.part_sizes) if multipart else [md.size]
    if multipart and len(sizes) != len(md.sse_part_keys):
        raise sse.ObjectDataDamaged("the object's metadata lists a different number of parts and keys")
    end = start + length
    plain_start = stored_start = 0
    for index, size in enumerate(sizes):
        plain_end = plain_start + size
        if size and plain_end > start and plain_start < end:
            if multipart:
                data_key = await sse.part_data_key(services.kms, bucket, md.key, md.sse_part_keys[index])
            else:
                data_key = await sse.object_data_key(services.kms, bucket, md)
            first = max(start, plain_start) - plain_start
            wanted = sse.stored_range(size, first, min(end, plain_end) - plain_start - first)
            stored = read_stored(
                services.data,
                md,
                stored_start + wanted.stored_start,
                wanted.stored_end - wanted.stored_start + 1,
            )
            async for piece in sse.open_stream(stored, data_key, size, wanted):
                yield piece
        plain_start = plain_end
        stored_start += sealed_size(size)
        if plain_start >= end:
            break


async def read_stored(data: DataPort, md: ObjectMD, start: int, length: int) -> AsyncIterator[bytes]:
    """The object's stored bytes [start, start+length), across its inline data or its blobs."""
    if length <= 0:
        return
    if md.inline_data or not md.blobs:
        yield md.inline_data[start : start + length]
        return
    blob_start = 0
    end = start + length
    for blob in md.blobs:
        blob_end = blob_start + blob.size
        if blob_end > start and blob_start < end:
            offset = max(start, blob_start) - blob_start
            count = min(end, blob_end) - blob_start - offset
            async for piece in data.get(blob, offset, count):
                yield piece
        blob_start = blob_end
        if blob_start >= end:
            break
