"""PutBucketLifecycleConfiguration, GetBucketLifecycleConfiguration and DeleteBucketLifecycle.

The configuration is validated by :mod:`gateway.lifecycle` and stored in ``BucketInfo.lifecycle`` in
the neutral form of :mod:`metanode.lifecycle.rules`, which the metanode's lifecycle worker applies.
Like S3, PutBucketLifecycleConfiguration needs an integrity header (Content-MD5 or an SDK checksum).
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.bucket_versioning import read_small_body
from gateway.api.common import owned_bucket, update_bucket_settings
from gateway.api.object_delete import verify_integrity
from gateway.context import RequestContext
from gateway.lifecycle import (
    MAX_LIFECYCLE_DOCUMENT_BYTES,
    configuration_document,
    parse_lifecycle_configuration,
)
from gateway.s3 import errors
from gateway.s3.body import PayloadTrailers
from metanode.lifecycle.rules import decode_configuration, encode_configuration


async def put_bucket_lifecycle_configuration(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    trailers = PayloadTrailers()
    # Read past the limit so an oversized document is refused as such, not as a cut-off one.
    body = await read_small_body(ctx, trailers, limit=MAX_LIFECYCLE_DOCUMENT_BYTES + 1)
    verify_integrity(ctx, body, trailers)
    configuration = parse_lifecycle_configuration(body)
    await update_bucket_settings(ctx, bucket, lifecycle=encode_configuration(configuration))
    return web.Response(status=200)


async def get_bucket_lifecycle_configuration(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    if not bucket.lifecycle:
        raise errors.NoSuchLifecycleConfiguration(BucketName=bucket.name)
    body = configuration_document(decode_configuration(bucket.lifecycle))
    return web.Response(status=200, body=body, content_type="application/xml")


async def delete_bucket_lifecycle(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    await update_bucket_settings(ctx, bucket, lifecycle=b"")
    return web.Response(status=204)
