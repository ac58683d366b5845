"""Put/Get/DeleteBucketOwnershipControls and Put/Get/DeletePublicAccessBlock (bucket level)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import owned_bucket, update_bucket_settings, xml_response
from gateway.api.config_body import read_config_body
from gateway.authz.ownership import BUCKET_OWNER_ENFORCED, OBJECT_OWNERSHIPS
from gateway.authz.public_access import FLAGS, PublicAccessBlock, block_config
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.xml import Element, element, parse

# ---- ownership controls ----


def _parse_ownership(body: bytes) -> str:
    root = parse(body, "OwnershipControls")
    rules = root.findall("Rule")
    if len(rules) != 1 or len(root) != 1:
        raise errors.MalformedXML()
    ownership = (rules[0].findtext("ObjectOwnership") or "").strip()
    if ownership not in OBJECT_OWNERSHIPS:
        raise errors.MalformedXML()
    return ownership


async def put_bucket_ownership_controls(ctx: RequestContext) -> web.StreamResponse:
    body = await read_config_body(ctx)
    bucket = await owned_bucket(ctx)
    ownership = _parse_ownership(body)
    if ownership == BUCKET_OWNER_ENFORCED and bucket.acl:
        # Its ACL grants someone else: disabling ACLs would silently take that access away.
        raise errors.InvalidBucketAclWithObjectOwnership()
    await update_bucket_settings(ctx, bucket, object_ownership=ownership)
    return web.Response(status=200)


async def get_bucket_ownership_controls(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    if not bucket.object_ownership:
        raise errors.OwnershipControlsNotFoundError(BucketName=bucket.name)
    rule = element("Rule", None, element("ObjectOwnership", bucket.object_ownership))
    return xml_response(element("OwnershipControls", None, rule))


async def delete_bucket_ownership_controls(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    await update_bucket_settings(ctx, bucket, object_ownership="")
    return web.Response(status=204)


# ---- public access block ----


def _parse_block(body: bytes) -> PublicAccessBlock:
    root = parse(body, "PublicAccessBlockConfiguration")
    values: dict[str, bool] = {}
    for node in root:
        if node.tag not in FLAGS or node.tag in values:
            raise errors.MalformedXML()
        text = (node.text or "").strip().lower()
        if text not in ("true", "false"):
            raise errors.MalformedXML()
        values[node.tag] = text == "true"
    return PublicAccessBlock(*(values.get(flag, False) for flag in FLAGS))


async def put_public_access_block(ctx: RequestContext) -> web.StreamResponse:
    body = await read_config_body(ctx)
    bucket = await owned_bucket(ctx)
    stored = _parse_block(body).encode()
    await update_bucket_settings(ctx, bucket, public_access_block=stored)
    return web.Response(status=200)


async def get_public_access_block(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    if not bucket.public_access_block:
        raise errors.NoSuchPublicAccessBlockConfiguration(BucketName=bucket.name)
    block = block_config(bucket)
    flags = [
        element(name, "true" if value else "false") for name, value in zip(FLAGS, block.flags(), strict=True)
    ]
    return xml_response(Element("PublicAccessBlockConfiguration", None, flags))


async def delete_public_access_block(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    await update_bucket_settings(ctx, bucket, public_access_block=b"")
    return web.Response(status=204)
