"""Who owns a written object and the ACL it is written with (PutObject, CopyObject,
CreateMultipartUpload, PostObject), and the checks every ACL-setting request shares."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.authz.acl import Grants, encode_grants, has_public_grant, owner_full_control
from gateway.authz.acl_request import body_grants, header_grants
from gateway.authz.ownership import acls_disabled, object_owner
from gateway.authz.public_access import block_config
from gateway.s3 import errors
from gateway.s3.accounts import Account, AccountStore
from protos.metadata_pb2 import BucketInfo, ObjectMD


def check_acl_allowed(bucket: BucketInfo, grants: Grants) -> None:
    """Refuses an ACL the bucket's settings forbid: when ACLs are disabled (BucketOwnerEnforced) any
    but the bucket owner's full control (``bucket-owner-full-control`` or its equivalent), and a
    public one under BlockPublicAcls."""
    if acls_disabled(bucket.object_ownership) and grants != owner_full_control(bucket.owner_id):
        raise errors.AccessControlListNotSupported()
    if block_config(bucket).block_public_acls and has_public_grant(grants):
        raise errors.AccessDenied()


def apply_written_acl(
    md: ObjectMD,
    bucket: BucketInfo,
    writer: Account | None,
    headers: Mapping[str, str],
    accounts: AccountStore,
) -> None:
    """Sets ``md``'s owner and ACL for a write by ``writer`` (None: an anonymous write, which the
    bucket's owner owns) carrying ``headers`` (lower-case names: x-amz-acl, x-amz-grant-*)."""
    writer_id = writer.canonical_id if writer is not None else bucket.owner_id
    owner_id = object_owner(bucket.object_ownership, writer_id, bucket.owner_id, headers)
    owner = accounts.by_canonical_id(owner_id)
    md.owner_id = owner_id
    md.owner_display_name = owner.display_name if owner is not None else ""
    grants = header_grants(headers, owner_id, bucket.owner_id, accounts)
    if grants is None:
        md.acl = b""
        return
    check_acl_allowed(bucket, grants)
    md.acl = b"" if acls_disabled(bucket.object_ownership) else encode_grants(grants, owner_id)


def requested_acl(
    headers: Mapping[str, str],
    body: bytes,
    owner_id: str,
    bucket: BucketInfo,
    accounts: AccountStore,
) -> Grants:
    """The grants a PutBucketAcl / PutObjectAcl asks for (``owner_id``: the resource's owner), from
    its canned ACL or grant headers or its AccessControlPolicy body (one of them, never both), once
    the bucket's ownership and public access block settings allow them."""
    grants = header_grants(headers, owner_id, bucket.owner_id, accounts)
    if grants is not None and body.strip():
        raise errors.InvalidRequest(
            "Specifying both an access control policy in the body and ACL headers is not allowed"
        )
    if grants is None:
        if not body.strip():
            raise errors.MissingSecurityHeader(MissingHeaderName="x-amz-acl")
        grants = body_grants(body, owner_id, accounts)
    check_acl_allowed(bucket, grants)
    return grants


def created_bucket_acl(
    headers: Mapping[str, str], owner: Account, accounts: AccountStore
) -> tuple[bytes, str]:
    """The stored ACL and ownership rule of a bucket being created (x-amz-acl / x-amz-grant-*,
    x-amz-object-ownership)."""
    ownership = headers.get("x-amz-object-ownership", "")
    grants = header_grants(headers, owner.canonical_id, owner.canonical_id, accounts)
    if grants is None:
        return b"", ownership
    if acls_disabled(ownership) and grants != owner_full_control(owner.canonical_id):
        raise errors.InvalidBucketAclWithObjectOwnership()
    return encode_grants(grants, owner.canonical_id), ownership
