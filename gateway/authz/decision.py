"""The one authorization decision: may this principal do this operation on this bucket or object?

A pure function of the facts (:class:`AccessFacts`), in AWS's order:

1. an explicit Deny in the bucket policy refuses, whoever asks (the owner keeps its policy
   management, so a policy cannot lock the owner out of its own bucket);
2. an Allow in the bucket policy permits (unless RestrictPublicBuckets confines a public policy to
   the owner's account);
3. the bucket's owner may do everything on its bucket; on an object another account owns (object
   writer ownership), reading it or its ACL needs a grant like anyone else;
4. with ``BucketOwnerEnforced`` ownership ACLs no longer grant anything;
5. otherwise an ACL grant of the operation's permission on the resource permits (public grants
   ignored under IgnorePublicAcls); an object's owner may always read and write its ACL;
6. else: denied.
"""

from __future__ import annotations

from typing import NamedTuple

from gateway.authz.acl import READ_ACP, WRITE_ACP, Grants, grants_permit
from gateway.authz.actions import POLICY_MANAGEMENT, OperationAccess
from gateway.authz.ownership import BUCKET_OWNER_ENFORCED
from gateway.authz.policy_link import PolicyEffect
from gateway.authz.public_access import NO_BLOCK, PublicAccessBlock


class AccessFacts(NamedTuple):  # a tuple: built twice per request, cheaply
    operation: str
    access: OperationAccess
    principal_id: str | None  # canonical id of the signing account; None: anonymous
    bucket_owner_id: str
    bucket_grants: Grants
    policy_effect: PolicyEffect = PolicyEffect.NONE
    policy_is_public: bool = False
    block: PublicAccessBlock = NO_BLOCK
    ownership: str = ""  # the bucket's ownership controls rule; "" when it has none
    object_owner_id: str | None = None  # target "object"/"object-owner": the object's owner
    object_grants: Grants = ()


def is_allowed(facts: AccessFacts) -> bool:
    is_bucket_owner = facts.principal_id is not None and facts.principal_id == facts.bucket_owner_id
    if facts.policy_effect is PolicyEffect.DENY:
        return is_bucket_owner and facts.operation in POLICY_MANAGEMENT
    if facts.policy_effect is PolicyEffect.ALLOW and (
        is_bucket_owner or not (facts.block.restrict_public_buckets and facts.policy_is_public)
    ):
        return True
    access = facts.access
    acls_apply = facts.ownership != BUCKET_OWNER_ENFORCED
    if is_bucket_owner:
        if access.target != "object" or not acls_apply or facts.object_owner_id == facts.bucket_owner_id:
            return True
    elif not acls_apply:
        return False
    if access.target == "owner":
        return False
    if access.target == "object-owner":
        return facts.principal_id is not None and facts.principal_id == facts.object_owner_id
    assert access.permission is not None
    if access.target == "bucket":
        grants = facts.bucket_grants
    else:
        is_object_owner = facts.principal_id is not None and facts.principal_id == facts.object_owner_id
        if is_object_owner and access.permission in (READ_ACP, WRITE_ACP):
            return True
        grants = facts.object_grants
    return grants_permit(grants, facts.principal_id, access.permission, facts.block.ignore_public_acls)
