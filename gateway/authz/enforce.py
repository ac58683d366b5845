"""Where handlers meet the decision: the request's facts gathered once, decided, AccessDenied raised.

:func:`authorized_bucket` reads the bucket (every bucket and object operation does that anyway) and
decides bucket-level operations at once. Operations decided by an object's ACL are completed by
:func:`authorize_object` with the ObjectMD the handler reads anyway, so no operation costs a second
metadata read. The bucket owner's signed request on a bucket without a policy is decided by one
comparison: no ACL is parsed, nothing else is read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from gateway.access import EXPECTED_BUCKET_OWNER_HEADER, expected_owner_matches
from gateway.authz.acl import Grants, stored_grants
from gateway.authz.actions import VERSION_ACTIONS, OperationAccess, operation_access
from gateway.authz.decision import AccessFacts, is_allowed
from gateway.authz.policy_link import (
    POLICY_EFFECT,
    PolicyEffect,
    PolicyRequest,
    policy_is_public,
    reads_existing_object_tags,
    request_conditions,
)
from gateway.authz.public_access import PublicAccessBlock, block_config
from gateway.context import RequestContext
from gateway.cors_response import remember_bucket_cors
from gateway.s3 import errors
from protos.metadata_pb2 import BucketInfo, BucketName, ObjectMD


def _access(ctx: RequestContext, operation: str | None) -> tuple[str, OperationAccess]:
    name = operation or ctx.endpoint.operation
    return name, operation_access(name, ctx.endpoint.permission if operation is None else "")


def _auth_type(ctx: RequestContext) -> str | None:
    """s3:authType: how the request was signed (None: anonymous)."""
    if ctx.auth.signature_version is None:
        return None
    if ctx.endpoint.operation == "PostObject":
        return "POST"
    return "REST-QUERY-STRING" if ctx.auth.presigned else "REST-HEADER"


class _BucketFacts(NamedTuple):
    """What a bucket contributes to every decision of a request, read out of it once."""

    owner_id: str
    ownership: str
    policy: bytes  # one bytes object per request: its hash is computed once, for every cache look-up
    grants: Grants
    policy_is_public: bool
    block: PublicAccessBlock


def _bucket_facts(ctx: RequestContext, bucket: BucketInfo) -> _BucketFacts:
    # A bucket's settings do not change during a request, so its name stands for them.
    found: _BucketFacts | None = ctx.bucket_facts.get(bucket.name)
    if found is None:
        policy = bucket.policy
        found = _BucketFacts(
            owner_id=bucket.owner_id,
            ownership=bucket.object_ownership,
            policy=policy,
            grants=stored_grants(bucket.acl, bucket.owner_id),
            policy_is_public=bool(policy) and policy_is_public(policy),
            block=block_config(bucket),
        )
        ctx.bucket_facts[bucket.name] = found
    return found


def _policy_effect(
    ctx: RequestContext,
    bucket: BucketInfo,
    facts: _BucketFacts,
    access: OperationAccess,
    key: str | None,
    md: ObjectMD | None,
    item_version: str | None = None,
) -> PolicyEffect:
    policy = facts.policy
    if not policy:
        return PolicyEffect.NONE
    version_id = item_version or ctx.endpoint.version_id
    action = VERSION_ACTIONS.get(access.action, access.action) if version_id else access.action
    resource = f"arn:aws:s3:::{bucket.name}" + (f"/{key}" if key is not None else "")
    # The object's tags are a fact of the request only for a policy that can read them; otherwise
    # the answer given before the object was read is the answer after.
    tags = md.tags if md is not None and md.tags and reads_existing_object_tags(policy) else None
    memo_key = (bucket.name, action, resource, version_id, tuple(sorted(tags.items())) if tags else None)
    effect: PolicyEffect | None = ctx.policy_effects.get(memo_key)
    if effect is not None:
        return effect
    request = ctx.request
    conditions = request_conditions(
        source_ip=request.remote or "",
        secure_transport=request.secure,
        user_agent=request.headers.get("User-Agent"),
        referer=request.headers.get("Referer"),
        principal=ctx.principal.account,
        auth_type=_auth_type(ctx),
        signature_version=ctx.auth.signature_version,
        query=request.query,
        headers=request.headers,
        existing_object_tags=dict(tags) if tags is not None else None,
        version_id=version_id,
        now=datetime.now(UTC),
    )
    policy_request = PolicyRequest(
        action=action, resource=resource, principal=ctx.principal.account, conditions=conditions
    )
    effect = POLICY_EFFECT(policy, policy_request)
    ctx.policy_effects[memo_key] = effect
    return effect


def _facts(
    ctx: RequestContext,
    bucket: BucketInfo,
    operation: str,
    access: OperationAccess,
    key: str | None,
    md: ObjectMD | None = None,
    item_version: str | None = None,
) -> AccessFacts:
    facts = _bucket_facts(ctx, bucket)
    return AccessFacts(
        operation=operation,
        access=access,
        principal_id=ctx.principal.canonical_id,
        bucket_owner_id=facts.owner_id,
        bucket_grants=facts.grants,
        policy_effect=_policy_effect(ctx, bucket, facts, access, key, md, item_version),
        policy_is_public=facts.policy_is_public,
        block=facts.block,
        ownership=facts.ownership,
        object_owner_id=md.owner_id if md is not None else None,
        object_grants=stored_grants(md.acl, md.owner_id) if md is not None else (),
    )


def decide_item(ctx: RequestContext, bucket: BucketInfo, key: str, version_id: str | None) -> bool:
    """Whether one entry of a DeleteObjects request may be deleted: the bucket's grants, and the
    policy asked about that object (``s3:DeleteObject``, or ``s3:DeleteObjectVersion`` with a version)."""
    if not bucket.policy and ctx.principal.canonical_id == bucket.owner_id:
        return True
    name, access = _access(ctx, "DeleteObject")
    return is_allowed(_facts(ctx, bucket, name, access, key, item_version=version_id))


def decide_bucket(ctx: RequestContext, bucket: BucketInfo, operation: str | None = None) -> bool:
    """Whether the request may do ``operation`` (default: its own) at the bucket level. The policy's
    resource is the request's object for its own operation, the bucket for another (a listing)."""
    if not bucket.policy and ctx.principal.canonical_id == bucket.owner_id:
        return True
    name, access = _access(ctx, operation)
    if access.target in ("object", "object-owner"):
        if operation is not None:
            return True  # another object than the request's (a copy source): authorize_object decides
        # Nothing is decided before the object is read, unless a policy's Deny already is.
        facts = _facts(ctx, bucket, name, access, ctx.endpoint.key)
        return facts.policy_effect is not PolicyEffect.DENY
    key = ctx.endpoint.key if operation is None else None
    return is_allowed(_facts(ctx, bucket, name, access, key))


async def authorized_bucket(
    ctx: RequestContext,
    name: str | None = None,
    expected_owner_header: str = EXPECTED_BUCKET_OWNER_HEADER,
    operation: str | None = None,
) -> BucketInfo:
    """The request's bucket (or ``name``), if it exists, its owner is the one the request expects,
    and the principal may do ``operation`` (default: the request's) on it. Object-level operations
    are completed by :func:`authorize_object`."""
    bucket = await ctx.services.metadata.get_bucket(BucketName(name=name if name is not None else ctx.bucket))
    remember_bucket_cors(ctx.request, bucket)  # its answer, even a refusal, carries the bucket's CORS headers
    if not decide_bucket(ctx, bucket, operation):
        raise errors.AccessDenied()
    owner = ctx.services.authenticator.account(bucket.owner_id)
    if not expected_owner_matches(ctx.headers.get(expected_owner_header), owner, bucket.owner_id):
        raise errors.AccessDenied()
    return bucket


def authorize_object(
    ctx: RequestContext,
    bucket: BucketInfo,
    md: ObjectMD,
    operation: str | None = None,
    key: str | None = None,
) -> None:
    """Completes the decision of an object-level operation with the object's metadata."""
    if not bucket.policy and ctx.principal.canonical_id == bucket.owner_id == md.owner_id:
        return
    name, access = _access(ctx, operation)
    if access.target not in ("object", "object-owner"):
        return
    facts = _facts(ctx, bucket, name, access, key if key is not None else md.key, md)
    if not is_allowed(facts):
        raise errors.AccessDenied()


def may_list(ctx: RequestContext, bucket: BucketInfo) -> bool:
    """Whether the principal may list the bucket: S3 tells who may not that an object is missing
    with AccessDenied rather than NoSuchKey."""
    return decide_bucket(ctx, bucket, "ListObjects")
