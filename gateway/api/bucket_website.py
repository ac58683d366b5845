"""PutBucketWebsite, GetBucketWebsite, DeleteBucketWebsite: the configuration gateway.website serves.

The document is validated by :mod:`gateway.website.config` and stored, parsed, in
``BucketInfo.website``; changing nothing else of the bucket.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.checksums import verify_small_body
from gateway.api.common import owned_bucket, update_bucket_settings, xml_response
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.xml import MAX_REQUEST_XML_BYTES
from gateway.website.config import WebsiteConfig, parse_website, website_document


async def put_bucket_website(ctx: RequestContext) -> web.StreamResponse:
    body = await ctx.request.content.read(MAX_REQUEST_XML_BYTES + 1)
    if len(body) > MAX_REQUEST_XML_BYTES or not body.strip():
        raise errors.MalformedXML()
    verify_small_body(ctx.headers, body)
    bucket = await owned_bucket(ctx)
    config = parse_website(body)
    await update_bucket_settings(ctx, bucket, website=config.to_bytes())
    return web.Response(status=200)


async def get_bucket_website(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    if not bucket.website:
        raise errors.NoSuchWebsiteConfiguration(BucketName=bucket.name)
    return xml_response(website_document(WebsiteConfig.from_bytes(bucket.website)))


async def delete_bucket_website(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    await update_bucket_settings(ctx, bucket, website=b"")
    return web.Response(status=204)
