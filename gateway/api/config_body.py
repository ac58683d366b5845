"""Reading the small XML bodies of configuration requests (versioning, CORS, ownership, ...)."""

from __future__ import annotations

from gateway.api.checksums import verify_small_body
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.body import PayloadTrailers, iter_payload
from gateway.s3.xml import MAX_REQUEST_XML_BYTES


async def read_small_body(
    ctx: RequestContext, trailers: PayloadTrailers | None = None, limit: int = MAX_REQUEST_XML_BYTES
) -> bytes:
    """A configuration body (plain or aws-chunked), refused as MalformedXML past ``limit`` bytes."""
    pieces: list[bytes] = []
    size = 0
    payload = iter_payload(ctx.request.content, ctx.auth.payload, ctx.headers, trailers or PayloadTrailers())
    async for piece in payload:
        size += len(piece)
        if size > limit:
            raise errors.MalformedXML()
        pieces.append(piece)
    return b"".join(pieces)


async def read_config_body(ctx: RequestContext) -> bytes:
    """A non-empty configuration body, checked against its Content-MD5 or checksum header if sent."""
    body = await read_small_body(ctx)
    if not body.strip():
        raise errors.MalformedXML()
    verify_small_body(ctx.headers, body)
    return body
