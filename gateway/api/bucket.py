"""Bucket basics: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation."""

from __future__ import annotations

from xml.etree.ElementTree import ParseError, fromstring

from aiohttp import web

from gateway.api.common import iso_date, owned_bucket, xml_add, xml_document, xml_response
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.validation import validate_bucket_name
from protos.metadata_pb2 import BucketInfo, BucketName, CreateBucketRequest, ListBucketsRequest

MAX_CONFIGURATION_BYTES = 64 * 1024


async def list_buckets(ctx: RequestContext) -> web.StreamResponse:
    account = ctx.principal.account
    assert account is not None
    listing = await ctx.services.metadata.list_buckets(ListBucketsRequest(owner_id=account.canonical_id))
    root = xml_document("ListAllMyBucketsResult")
    owner = xml_add(root, "Owner")
    xml_add(owner, "ID", account.canonical_id)
    xml_add(owner, "DisplayName", account.display_name)
    buckets = xml_add(root, "Buckets")
    for bucket in listing.buckets:
        entry = xml_add(buckets, "Bucket")
        xml_add(entry, "Name", bucket.name)
        xml_add(entry, "CreationDate", iso_date(bucket.creation_ms))
    return xml_response(root)


async def _requested_location(ctx: RequestContext) -> str | None:
    body = await ctx.request.content.read(MAX_CONFIGURATION_BYTES + 1)
    if len(body) > MAX_CONFIGURATION_BYTES:
        raise errors.MalformedXML()
    if not body.strip():
        return None
    try:
        root = fromstring(body)
    except ParseError:
        raise errors.MalformedXML() from None
    if root.tag.rsplit("}", 1)[-1] != "CreateBucketConfiguration":
        raise errors.MalformedXML()
    for child in root:
        if child.tag.rsplit("}", 1)[-1] == "LocationConstraint":
            return (child.text or "").strip() or None
    return None


async def create_bucket(ctx: RequestContext) -> web.StreamResponse:
    validate_bucket_name(ctx.bucket)
    account = ctx.principal.account
    assert account is not None
    location = await _requested_location(ctx)
    if location is None:
        location = ctx.host_location()
    elif location not in ctx.services.locations():
        raise errors.InvalidLocationConstraint("The specified location-constraint is not valid")
    await ctx.services.metadata.create_bucket(
        CreateBucketRequest(
            bucket=BucketInfo(
                name=ctx.bucket,
                owner_id=account.canonical_id,
                owner_display_name=account.display_name,
                location=location,
            )
        )
    )
    return web.Response(status=200, headers={"Location": f"/{ctx.bucket}"})


async def head_bucket(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    return web.Response(status=200, headers={"x-amz-bucket-region": bucket.location or "us-east-1"})


async def delete_bucket(ctx: RequestContext) -> web.StreamResponse:
    await owned_bucket(ctx)
    await ctx.services.metadata.delete_bucket(BucketName(name=ctx.bucket))
    return web.Response(status=204)


async def get_bucket_location(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    root = xml_document("LocationConstraint")
    # AWS answers an empty constraint for us-east-1.
    if bucket.location and bucket.location != "us-east-1":
        root.text = bucket.location
    return xml_response(root)
