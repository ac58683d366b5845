"""Get/Put BucketAcl and Get/Put ObjectAcl (with ``versionId``): the stored grants (gateway.authz)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.checksums import verify_small_body
from gateway.api.common import owned_bucket, update_bucket_settings, xml_response
from gateway.api.tagging import update_object_metadata
from gateway.api.versioning import DeleteMarkerRule, find_object
from gateway.authz.acl import Grants, encode_grants, owner_full_control, stored_grants
from gateway.authz.acl_request import access_control_policy
from gateway.authz.ownership import acls_disabled
from gateway.authz.written import requested_acl
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.validation import validate_key
from gateway.s3.xml import MAX_REQUEST_XML_BYTES
from protos.metadata_pb2 import BucketInfo


def _shown_acl(bucket: BucketInfo, stored: bytes, owner_id: str) -> tuple[str, Grants]:
    """The owner and grants to show; with ACLs disabled the bucket's owner owns everything and has
    full control, whatever was stored before."""
    if acls_disabled(bucket.object_ownership):
        return bucket.owner_id, owner_full_control(bucket.owner_id)
    return owner_id, stored_grants(stored, owner_id)


def _acl_response(ctx: RequestContext, owner_id: str, grants: Grants) -> web.Response:
    return xml_response(access_control_policy(owner_id, grants, ctx.services.authenticator.accounts()))


async def _acl_body(ctx: RequestContext) -> bytes:
    body = await ctx.request.content.read(MAX_REQUEST_XML_BYTES + 1)
    if len(body) > MAX_REQUEST_XML_BYTES:
        raise errors.MalformedACLError()
    if body:
        verify_small_body(ctx.headers, body)
    return body


async def get_bucket_acl(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    return _acl_response(ctx, *_shown_acl(bucket, bucket.acl, bucket.owner_id))


async def put_bucket_acl(ctx: RequestContext) -> web.StreamResponse:
    body = await _acl_body(ctx)
    bucket = await owned_bucket(ctx)
    grants = requested_acl(ctx.headers, body, bucket.owner_id, bucket, ctx.services.authenticator.accounts())
    stored = encode_grants(grants, bucket.owner_id)
    await update_bucket_settings(ctx, bucket, acl=stored)
    return web.Response(status=200)


async def get_object_acl(ctx: RequestContext) -> web.StreamResponse:
    validate_key(ctx.key)
    bucket = await owned_bucket(ctx)
    md = await find_object(ctx, bucket, ctx.key, ctx.query.get("versionId"), DeleteMarkerRule.READ)
    response = _acl_response(ctx, *_shown_acl(bucket, md.acl, md.owner_id))
    if md.version_id:
        response.headers["x-amz-version-id"] = md.version_id
    return response


async def put_object_acl(ctx: RequestContext) -> web.StreamResponse:
    validate_key(ctx.key)
    body = await _acl_body(ctx)
    bucket = await owned_bucket(ctx)
    md = await find_object(ctx, bucket, ctx.key, ctx.query.get("versionId"), DeleteMarkerRule.UPDATE)
    grants = requested_acl(ctx.headers, body, md.owner_id, bucket, ctx.services.authenticator.accounts())
    stored = encode_grants(grants, md.owner_id)
    if stored != md.acl:
        md.acl = stored
        await update_object_metadata(ctx, bucket, md)
    response = web.Response(status=200)
    if md.version_id:
        response.headers["x-amz-version-id"] = md.version_id
    return response
