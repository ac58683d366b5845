"""PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy and GetBucketPolicyStatus.

The policy is validated by :mod:`gateway.policy` and stored, compact (whitespace removed), in
``BucketInfo.policy``; Get returns exactly the stored bytes. Only the bucket owner manages it, so
``x-amz-confirm-remove-self-bucket-access`` is accepted and changes nothing: a policy cannot lock
the owner out of these operations.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.checksums import verify_small_body
from gateway.api.common import owned_bucket, update_bucket_settings, xml_response
from gateway.authz.public_access import block_config
from gateway.context import RequestContext
from gateway.policy import MAX_POLICY_BYTES, is_public, parse_policy
from gateway.s3 import errors
from gateway.s3.body import PayloadTrailers, iter_payload
from gateway.s3.xml import element
from protos.metadata_pb2 import BucketInfo

# Bytes read from the request at most: room for a policy whose compact form fits, indented.
MAX_POLICY_REQUEST_BYTES = 8 * MAX_POLICY_BYTES


async def _read_policy_body(ctx: RequestContext) -> bytes:
    pieces: list[bytes] = []
    size = 0
    payload = iter_payload(ctx.request.content, ctx.auth.payload, ctx.headers, PayloadTrailers())
    async for piece in payload:
        size += len(piece)
        if size > MAX_POLICY_REQUEST_BYTES:
            raise errors.PolicyTooLarge()
        pieces.append(piece)
    body = b"".join(pieces)
    verify_small_body(ctx.headers, body)
    return body


def _blocks_public_policy(bucket: BucketInfo) -> bool:
    """BlockPublicPolicy of the bucket's public access block."""
    return block_config(bucket).block_public_policy


async def put_bucket_policy(ctx: RequestContext) -> web.StreamResponse:
    body = await _read_policy_body(ctx)
    bucket = await owned_bucket(ctx)
    accounts = ctx.services.authenticator.accounts().accounts()
    policy = parse_policy(body, bucket=bucket.name, accounts=accounts)
    if _blocks_public_policy(bucket) and is_public(policy.compact):
        raise errors.AccessDenied()
    await update_bucket_settings(ctx, bucket, policy=policy.compact)
    return web.Response(status=204)


async def get_bucket_policy(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    if not bucket.policy:
        raise errors.NoSuchBucketPolicy(BucketName=bucket.name)
    return web.Response(status=200, body=bucket.policy, content_type="application/json")


async def delete_bucket_policy(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    await update_bucket_settings(ctx, bucket, policy=b"")
    return web.Response(status=204)


async def get_bucket_policy_status(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    if not bucket.policy:
        raise errors.NoSuchBucketPolicy(BucketName=bucket.name)
    public = "true" if is_public(bucket.policy) else "false"
    return xml_response(element("PolicyStatus", None, element("IsPublic", public)))
