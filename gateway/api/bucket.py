"""Bucket basics: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from gateway.api.bucket_encryption import created_bucket_encryption
from gateway.api.common import owned_bucket, xml_response
from gateway.authz.written import created_bucket_acl
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.regions import bucket_region
from gateway.s3.validation import validate_bucket_name
from gateway.s3.xml import (
    MAX_REQUEST_XML_BYTES,
    Element,
    element,
    iso8601,
    optional,
    parse_location_constraint,
)
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import BucketInfo, BucketName, CreateBucketRequest, ListBucketsRequest

MAX_BUCKETS_LIMIT = 10_000
DEFAULT_REGION = "us-east-1"


def _max_buckets(ctx: RequestContext) -> int:
    """``max-buckets`` (1..10000); 0 when absent, meaning every bucket."""
    raw = ctx.query.get("max-buckets")
    if raw is None:
        return 0
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 1 <= value <= MAX_BUCKETS_LIMIT:
        raise errors.InvalidArgument(
            f"Argument max-buckets must be an integer between 1 and {MAX_BUCKETS_LIMIT}",
            ArgumentName="max-buckets",
            ArgumentValue=raw,
        )
    return value


def _encode_bucket_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _decode_bucket_token(token: str) -> str:
    try:
        name = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        name = ""
    if not name:
        raise errors.InvalidArgument(
            "The continuation token provided is incorrect",
            ArgumentName="continuation-token",
            ArgumentValue=token,
        )
    return name


async def list_buckets(ctx: RequestContext) -> web.StreamResponse:
    account = ctx.principal.account
    assert account is not None
    limit = _max_buckets(ctx)
    token = ctx.query.get("continuation-token")
    prefix = ctx.query.get("prefix")
    listing = await ctx.services.metadata.list_buckets(
        ListBucketsRequest(
            owner_id=account.canonical_id,
            start_after=_decode_bucket_token(token) if token is not None else "",
            prefix=prefix or "",
            max_buckets=limit,
            location=ctx.query.get("bucket-region", ""),
        )
    )
    buckets = [
        element(
            "Bucket",
            None,
            element("Name", bucket.name),
            element("CreationDate", iso8601(bucket.creation_ms / 1000)),
            element("BucketRegion", bucket.location or DEFAULT_REGION),
        )
        for bucket in listing.buckets
    ]
    next_token = _encode_bucket_token(listing.buckets[-1].name) if listing.is_truncated else None
    return xml_response(
        element(
            "ListAllMyBucketsResult",
            None,
            element(
                "Owner",
                None,
                element("ID", account.canonical_id),
                element("DisplayName", account.display_name),
            ),
            Element("Buckets", None, buckets),
            optional("ContinuationToken", next_token),
            optional("Prefix", prefix),
        )
    )


async def _requested_location(ctx: RequestContext) -> str | None:
    body = await ctx.request.content.read(MAX_REQUEST_XML_BYTES + 1)
    if len(body) > MAX_REQUEST_XML_BYTES:
        raise errors.MalformedXML()
    return parse_location_constraint(body)


async def create_bucket(ctx: RequestContext) -> web.StreamResponse:
    validate_bucket_name(ctx.bucket)
    account = ctx.principal.account
    assert account is not None
    acl, ownership = created_bucket_acl(ctx.headers, account, ctx.services.authenticator.accounts())
    encryption = created_bucket_encryption(ctx.headers)  # encryption at rest: an encrypted bucket
    location = await _requested_location(ctx)
    if location is None:
        location = ctx.host_location()
    elif location not in ctx.services.locations():
        raise errors.InvalidLocationConstraint("The specified location-constraint is not valid")
    try:
        await ctx.services.metadata.create_bucket(
            CreateBucketRequest(
                bucket=BucketInfo(
                    name=ctx.bucket,
                    owner_id=account.canonical_id,
                    owner_display_name=account.display_name,
                    location=location,
                    acl=acl,
                    object_ownership=ownership,
                    encryption=encryption,
                )
            )
        )
    except StrataError as error:
        # us-east-1 style locations (legacyAwsBehavior) answer 200 to re-creating your own bucket.
        if error.reason != ErrorReason.BUCKET_OWNED_BY_YOU or not _legacy_aws_behavior(ctx, location):
            raise
    return web.Response(status=200, headers={"Location": f"/{ctx.bucket}"})


def _legacy_aws_behavior(ctx: RequestContext, location: str) -> bool:
    return bool(ctx.services.locations().get(location, {}).get("legacyAwsBehavior", False))


async def head_bucket(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    region = bucket_region(bucket.location, ctx.services.locations())
    return web.Response(status=200, headers={"x-amz-bucket-region": region})


async def delete_bucket(ctx: RequestContext) -> web.StreamResponse:
    await owned_bucket(ctx)
    await ctx.services.metadata.delete_bucket(BucketName(name=ctx.bucket))
    return web.Response(status=204)


async def get_bucket_location(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    # AWS answers an empty constraint for us-east-1.
    constraint = bucket.location if bucket.location and bucket.location != "us-east-1" else None
    return xml_response(element("LocationConstraint", constraint))
