"""The authorization decision table: principal x ACL x policy effect x public access block x
ownership x operation -> allowed or denied (gateway.authz.decision)."""

from __future__ import annotations

import itertools

import pytest

from gateway.authz.acl import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    FULL_CONTROL,
    READ,
    READ_ACP,
    WRITE,
    WRITE_ACP,
    Grant,
    Grants,
    canned_grants,
)
from gateway.authz.actions import operation_access
from gateway.authz.decision import AccessFacts, is_allowed
from gateway.authz.ownership import BUCKET_OWNER_ENFORCED, BUCKET_OWNER_PREFERRED, OBJECT_WRITER
from gateway.authz.policy_link import PolicyEffect
from gateway.authz.public_access import NO_BLOCK, PublicAccessBlock

OWNER = "owner-id"
OTHER = "other-id"  # the account explicit grants name
THIRD = "third-id"  # any other signed account: only AuthenticatedUsers grants reach it
ANONYMOUS = None
PRINCIPALS = {"owner": OWNER, "other": OTHER, "authenticated": THIRD, "anonymous": ANONYMOUS}

ACLS: dict[str, Grants] = {
    "private": canned_grants("private", OWNER, OWNER),
    "public-read": canned_grants("public-read", OWNER, OWNER),
    "public-read-write": canned_grants("public-read-write", OWNER, OWNER),
    "authenticated-read": canned_grants("authenticated-read", OWNER, OWNER),
    "other-read": (Grant("user", OWNER, FULL_CONTROL), Grant("user", OTHER, READ)),
    "other-write": (Grant("user", OWNER, FULL_CONTROL), Grant("user", OTHER, WRITE)),
    "other-read-acp": (Grant("user", OWNER, FULL_CONTROL), Grant("user", OTHER, READ_ACP)),
    "other-write-acp": (Grant("user", OWNER, FULL_CONTROL), Grant("user", OTHER, WRITE_ACP)),
    "other-full-control": (Grant("user", OWNER, FULL_CONTROL), Grant("user", OTHER, FULL_CONTROL)),
}
IGNORE_PUBLIC = PublicAccessBlock(ignore_public_acls=True)
RESTRICT = PublicAccessBlock(restrict_public_buckets=True)

BUCKET_OPERATIONS = ("ListObjectsV2", "PutObject", "DeleteObject", "GetBucketAcl", "PutBucketAcl")
OBJECT_OPERATIONS = ("GetObject", "HeadObject", "GetObjectAcl", "PutObjectAcl")
OWNER_OPERATIONS = ("PutBucketVersioning", "GetBucketTagging", "PutPublicAccessBlock", "DeleteBucket")
# The ACL permission each operation needs (AWS's mapping).
NEEDS = {
    "ListObjectsV2": READ,
    "PutObject": WRITE,
    "DeleteObject": WRITE,
    "GetBucketAcl": READ_ACP,
    "PutBucketAcl": WRITE_ACP,
    "GetObject": READ,
    "HeadObject": READ,
    "GetObjectAcl": READ_ACP,
    "PutObjectAcl": WRITE_ACP,
}


def decide(
    principal: str | None,
    operation: str,
    bucket_acl: Grants = ACLS["private"],
    object_acl: Grants = ACLS["private"],
    effect: PolicyEffect = PolicyEffect.NONE,
    block: PublicAccessBlock = NO_BLOCK,
    ownership: str = "",
    object_owner: str = OWNER,
    policy_is_public: bool = False,
) -> bool:
    access = operation_access(operation)
    on_object = access.target in ("object", "object-owner")
    return is_allowed(
        AccessFacts(
            operation=operation,
            access=access,
            principal_id=principal,
            bucket_owner_id=OWNER,
            bucket_grants=bucket_acl,
            policy_effect=effect,
            policy_is_public=policy_is_public,
            block=block,
            ownership=ownership,
            object_owner_id=object_owner if on_object else None,
            object_grants=object_acl if on_object else (),
        )
    )


# ---- the owner ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "ownership", "effect"),
    list(
        itertools.product(
            BUCKET_OPERATIONS + OBJECT_OPERATIONS + OWNER_OPERATIONS,
            ("", OBJECT_WRITER, BUCKET_OWNER_PREFERRED, BUCKET_OWNER_ENFORCED),
            (PolicyEffect.NONE, PolicyEffect.ALLOW),
        )
    ),
)
def test_the_bucket_owner_may_do_everything_on_its_own_objects(
    operation: str, ownership: str, effect: PolicyEffect
) -> None:
    assert decide(OWNER, operation, ownership=ownership, effect=effect)


@pytest.mark.parametrize("operation", BUCKET_OPERATIONS + OBJECT_OPERATIONS + OWNER_OPERATIONS)
def test_an_explicit_deny_beats_the_owner(operation: str) -> None:
    assert not decide(OWNER, operation, effect=PolicyEffect.DENY, bucket_acl=ACLS["public-read-write"])


@pytest.mark.parametrize("operation", ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"))
def test_a_deny_never_locks_the_owner_out_of_its_policy(operation: str) -> None:
    assert decide(OWNER, operation, effect=PolicyEffect.DENY)
    assert not decide(OTHER, operation, effect=PolicyEffect.DENY)


def test_the_bucket_owner_reads_another_writers_object_only_when_granted() -> None:
    writer_private = canned_grants("private", OTHER, OWNER)
    for operation in ("GetObject", "HeadObject", "GetObjectAcl", "PutObjectAcl"):
        assert not decide(OWNER, operation, object_acl=writer_private, object_owner=OTHER)
    shared = canned_grants("bucket-owner-read", OTHER, OWNER)
    assert decide(OWNER, "GetObject", object_acl=shared, object_owner=OTHER)
    assert not decide(OWNER, "GetObjectAcl", object_acl=shared, object_owner=OTHER)
    full = canned_grants("bucket-owner-full-control", OTHER, OWNER)
    assert decide(OWNER, "PutObjectAcl", object_acl=full, object_owner=OTHER)
    # Deleting is WRITE on the bucket, which its owner always has; and ACLs disabled means it owns all.
    assert decide(OWNER, "DeleteObject", object_owner=OTHER)
    assert decide(
        OWNER, "GetObject", object_acl=writer_private, object_owner=OTHER, ownership=BUCKET_OWNER_ENFORCED
    )


def test_an_objects_owner_may_always_read_and_write_its_acl() -> None:
    writer_private = canned_grants("private", OTHER, OWNER)
    no_grants: Grants = ()
    assert decide(OTHER, "GetObjectAcl", object_acl=no_grants, object_owner=OTHER)
    assert decide(OTHER, "PutObjectAcl", object_acl=no_grants, object_owner=OTHER)
    assert not decide(OTHER, "GetObject", object_acl=no_grants, object_owner=OTHER)
    assert decide(OTHER, "GetObject", object_acl=writer_private, object_owner=OTHER)


# ---- ACL grants x principal x operation ----------------------------------------------------------


def _acl_allows(acl: str, principal: str, operation: str) -> bool:
    """The expected answer, written as the rule reads: who each grant reaches and what it gives."""
    needed = NEEDS[operation]
    grantee_kinds = {
        "private": set(),
        "public-read": {("everyone", READ)},
        "public-read-write": {("everyone", READ), ("everyone", WRITE)},
        "authenticated-read": {("signed", READ)},
        "other-read": {("other", READ)},
        "other-write": {("other", WRITE)},
        "other-read-acp": {("other", READ_ACP)},
        "other-write-acp": {("other", WRITE_ACP)},
        "other-full-control": {("other", FULL_CONTROL)},
    }[acl]
    reaches = {
        "everyone": True,
        "signed": principal != "anonymous",
        "other": principal == "other",
    }
    return any(reaches[who] and permission in (needed, FULL_CONTROL) for who, permission in grantee_kinds)


@pytest.mark.parametrize(
    ("principal", "acl", "operation"),
    list(itertools.product(("other", "authenticated", "anonymous"), ACLS, BUCKET_OPERATIONS)),
)
def test_bucket_acl_grants_decide_bucket_operations(principal: str, acl: str, operation: str) -> None:
    expected = _acl_allows(acl, principal, operation)
    assert decide(PRINCIPALS[principal], operation, bucket_acl=ACLS[acl]) is expected
    # The object's ACL plays no part in a bucket-level decision.
    assert (
        decide(PRINCIPALS[principal], operation, bucket_acl=ACLS[acl], object_acl=ACLS["public-read-write"])
        is expected
    )


@pytest.mark.parametrize(
    ("principal", "acl", "operation"),
    list(itertools.product(("other", "authenticated", "anonymous"), ACLS, OBJECT_OPERATIONS)),
)
def test_object_acl_grants_decide_object_operations(principal: str, acl: str, operation: str) -> None:
    expected = _acl_allows(acl, principal, operation)
    assert decide(PRINCIPALS[principal], operation, object_acl=ACLS[acl]) is expected
    # A public bucket does not make its objects readable.
    assert (
        decide(PRINCIPALS[principal], operation, object_acl=ACLS[acl], bucket_acl=ACLS["public-read-write"])
        is expected
    )


@pytest.mark.parametrize(
    ("principal", "operation"),
    list(itertools.product(("other", "authenticated", "anonymous"), OWNER_OPERATIONS)),
)
def test_no_grant_opens_the_owners_configuration(principal: str, operation: str) -> None:
    assert not decide(PRINCIPALS[principal], operation, bucket_acl=ACLS["other-full-control"])
    assert not decide(PRINCIPALS[principal], operation, bucket_acl=ACLS["public-read-write"])


def test_object_tagging_is_for_the_objects_owner_and_the_buckets() -> None:
    assert decide(OTHER, "GetObjectTagging", object_owner=OTHER, object_acl=())
    assert decide(OWNER, "PutObjectTagging", object_owner=OTHER, object_acl=())
    assert not decide(OTHER, "GetObjectTagging", object_acl=ACLS["other-full-control"])
    assert not decide(ANONYMOUS, "GetObjectTagging", object_acl=ACLS["public-read"])


# ---- policy effects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "operation"),
    list(
        itertools.product(
            ("other", "authenticated", "anonymous"), BUCKET_OPERATIONS + OBJECT_OPERATIONS + OWNER_OPERATIONS
        )
    ),
)
def test_a_policy_allow_permits_without_a_grant_and_a_deny_refuses_despite_one(
    principal: str, operation: str
) -> None:
    who = PRINCIPALS[principal]
    assert decide(who, operation, effect=PolicyEffect.ALLOW)
    everything = ACLS["public-read-write"] if principal == "anonymous" else ACLS["other-full-control"]
    assert not decide(who, operation, effect=PolicyEffect.DENY, bucket_acl=everything, object_acl=everything)


def test_a_policy_allow_counts_with_acls_disabled() -> None:
    assert decide(OTHER, "GetObject", effect=PolicyEffect.ALLOW, ownership=BUCKET_OWNER_ENFORCED)
    assert not decide(OTHER, "GetObject", object_acl=ACLS["other-read"], ownership=BUCKET_OWNER_ENFORCED)


# ---- public access block --------------------------------------------------------------------------


@pytest.mark.parametrize("principal", ("other", "authenticated", "anonymous"))
def test_ignore_public_acls_drops_only_the_public_grants(principal: str) -> None:
    who = PRINCIPALS[principal]
    assert not decide(who, "GetObject", object_acl=ACLS["public-read"], block=IGNORE_PUBLIC)
    assert not decide(who, "ListObjectsV2", bucket_acl=ACLS["authenticated-read"], block=IGNORE_PUBLIC)
    assert not decide(who, "PutObject", bucket_acl=ACLS["public-read-write"], block=IGNORE_PUBLIC)
    # A grant to a named account is not public: it still counts.
    assert decide(OTHER, "GetObject", object_acl=ACLS["other-read"], block=IGNORE_PUBLIC)


def test_other_flags_leave_acl_decisions_alone() -> None:
    for block in (
        PublicAccessBlock(block_public_acls=True),
        PublicAccessBlock(block_public_policy=True),
        RESTRICT,
    ):
        assert decide(ANONYMOUS, "GetObject", object_acl=ACLS["public-read"], block=block)


def test_restrict_public_buckets_confines_a_public_policy_to_the_owner() -> None:
    public_allow = {"effect": PolicyEffect.ALLOW, "policy_is_public": True}
    assert not decide(ANONYMOUS, "GetObject", block=RESTRICT, **public_allow)  # type: ignore[arg-type]
    assert not decide(OTHER, "GetObject", block=RESTRICT, **public_allow)  # type: ignore[arg-type]
    assert decide(OWNER, "GetObject", block=RESTRICT, **public_allow)  # type: ignore[arg-type]
    # Without the flag, or for a policy that is not public, the Allow counts.
    assert decide(ANONYMOUS, "GetObject", **public_allow)  # type: ignore[arg-type]
    assert decide(OTHER, "GetObject", block=RESTRICT, effect=PolicyEffect.ALLOW, policy_is_public=False)


# ---- ownership ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "operation"),
    list(itertools.product(("other", "authenticated", "anonymous"), BUCKET_OPERATIONS + OBJECT_OPERATIONS)),
)
def test_bucket_owner_enforced_makes_acls_grant_nothing(principal: str, operation: str) -> None:
    everything = ACLS["public-read-write"] if principal == "anonymous" else ACLS["other-full-control"]
    assert not decide(
        PRINCIPALS[principal],
        operation,
        bucket_acl=everything,
        object_acl=everything,
        ownership=BUCKET_OWNER_ENFORCED,
    )


@pytest.mark.parametrize("ownership", ("", OBJECT_WRITER, BUCKET_OWNER_PREFERRED))
def test_acls_apply_under_the_other_ownership_rules(ownership: str) -> None:
    assert decide(OTHER, "PutObject", bucket_acl=ACLS["other-write"], ownership=ownership)
    assert decide(ANONYMOUS, "GetObject", object_acl=ACLS["public-read"], ownership=ownership)


def test_grant_groups_reach_whom_they_name() -> None:
    log_delivery = canned_grants("log-delivery-write", OWNER, OWNER)
    for who in (OTHER, THIRD, ANONYMOUS):
        assert not decide(who, "PutObject", bucket_acl=log_delivery)
    signed_write = (Grant("group", AUTHENTICATED_USERS, WRITE),)
    assert decide(THIRD, "PutObject", bucket_acl=signed_write)
    assert not decide(ANONYMOUS, "PutObject", bucket_acl=signed_write)
    everyone_acp = (Grant("group", ALL_USERS, READ_ACP),)
    assert decide(ANONYMOUS, "GetBucketAcl", bucket_acl=everyone_acp)
    assert not decide(ANONYMOUS, "PutBucketAcl", bucket_acl=everyone_acp)
