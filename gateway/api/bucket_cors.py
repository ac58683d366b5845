"""PutBucketCors, GetBucketCors, DeleteBucketCors and the CORS preflight (``OPTIONS``).

The configuration is validated by :mod:`gateway.cors` and stored as its canonical XML in
``BucketInfo.cors``; GetBucketCors returns those bytes. Like S3, PutBucketCors needs an integrity
header (Content-MD5 or an SDK checksum). A preflight is answered without authentication: it
carries no credentials, and it tells only whether a browser may send the request it describes.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from gateway.api.common import owned_bucket, update_bucket_settings
from gateway.api.config_body import read_small_body
from gateway.api.object_delete import verify_integrity
from gateway.context import GatewayServices, RequestContext
from gateway.cors import (
    CORS_METHODS,
    MAX_CORS_DOCUMENT_BYTES,
    configuration_document,
    parse_cors_configuration,
    requested_header_names,
    stored_configuration,
)
from gateway.s3 import errors
from gateway.s3.body import PayloadTrailers
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import BucketName

NOT_ALLOWED_MESSAGE = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
    "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
    "whitelisted by the resource's CORS spec."
)


async def put_bucket_cors(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    trailers = PayloadTrailers()
    # Read past the limit so an oversized document is refused as such, not as a cut-off one.
    body = await read_small_body(ctx, trailers, limit=MAX_CORS_DOCUMENT_BYTES + 1)
    verify_integrity(ctx, body, trailers)
    configuration = parse_cors_configuration(body)
    await update_bucket_settings(ctx, bucket, cors=configuration_document(configuration))
    return web.Response(status=200)


async def get_bucket_cors(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    if not bucket.cors:
        raise errors.NoSuchCORSConfiguration(BucketName=bucket.name)
    return web.Response(status=200, body=bucket.cors, content_type="application/xml")


async def delete_bucket_cors(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    await update_bucket_settings(ctx, bucket, cors=b"")
    return web.Response(status=204)


async def options_object(ctx: RequestContext) -> web.StreamResponse:
    """The preflight of a cross-origin request: 200 with what the first matching rule allows, else 403."""
    resource_type = "OBJECT" if ctx.endpoint.key is not None else "BUCKET"
    return await preflight(ctx.headers, ctx.services, ctx.bucket, resource_type)


async def preflight(
    headers: Mapping[str, str], services: GatewayServices, bucket_name: str, resource_type: str
) -> web.Response:
    """The answer to a preflight for ``bucket_name`` (S3 and website endpoints alike)."""
    origin = headers.get("Origin")
    if not origin:
        raise errors.BadRequest("Insufficient information. Origin request header needed.")
    method = headers.get("Access-Control-Request-Method")
    if method not in CORS_METHODS:
        raise errors.BadRequest(f"Invalid Access-Control-Request-Method: {method or 'null'}")
    details = {"Method": method, "ResourceType": resource_type}
    try:
        bucket = await services.metadata.get_bucket(BucketName(name=bucket_name))
    except StrataError as error:
        if error.reason == ErrorReason.NO_SUCH_BUCKET:
            raise errors.AccessForbidden("CORSResponse: Bucket not found", **details) from None
        raise
    if not bucket.cors:
        raise errors.AccessForbidden("CORSResponse: CORS is not enabled for this bucket.", **details)
    requested = requested_header_names(headers.get("Access-Control-Request-Headers"))
    match = stored_configuration(bucket.cors).match(origin, method, requested)
    if match is None:
        raise errors.AccessForbidden(NOT_ALLOWED_MESSAGE, **details)
    return web.Response(status=200, headers=match.preflight_headers(requested))
