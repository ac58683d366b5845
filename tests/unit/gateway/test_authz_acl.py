"""ACL grants: stored form, canned ACLs, grant headers and AccessControlPolicy bodies (gateway.authz)."""

from __future__ import annotations

import pytest

from gateway.authz.acl import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    FULL_CONTROL,
    LOG_DELIVERY,
    READ,
    WRITE,
    Grant,
    canned_grants,
    encode_grants,
    has_public_grant,
    owner_full_control,
    stored_grants,
)
from gateway.authz.acl_request import access_control_policy, body_grants, header_grants
from gateway.authz.public_access import PublicAccessBlock, block_config
from gateway.s3 import errors
from gateway.s3.accounts import AccountStore
from gateway.s3.xml import document
from protos.metadata_pb2 import BucketInfo

OWNER, OTHER = "owner-id", "other-id"
ACCOUNTS = AccountStore.from_dict(
    {
        "accounts": [
            {
                "name": "Owner",
                "email": "owner@example.com",
                "canonicalID": OWNER,
                "keys": [{"access": "a1", "secret": "s1"}],
            },
            {
                "name": "Other",
                "email": "Other@Example.com",
                "canonicalID": OTHER,
                "keys": [{"access": "a2", "secret": "s2"}],
            },
        ]
    }
)


def test_the_default_acl_is_stored_as_nothing_and_read_back_as_the_owners_full_control() -> None:
    assert encode_grants(owner_full_control(OWNER), OWNER) == b""
    assert stored_grants(b"", OWNER) == (Grant("user", OWNER, FULL_CONTROL),)
    grants = canned_grants("public-read", OWNER, OWNER)
    stored = encode_grants(grants, OWNER)
    assert stored and stored_grants(stored, OWNER) == grants
    # A grant given twice is stored once.
    assert stored_grants(encode_grants(grants + grants, OWNER), OWNER) == grants


def test_canned_acls_for_objects_in_another_accounts_bucket() -> None:
    assert canned_grants("bucket-owner-read", OTHER, OWNER) == (
        Grant("user", OTHER, FULL_CONTROL),
        Grant("user", OWNER, READ),
    )
    assert canned_grants("bucket-owner-full-control", OWNER, OWNER) == owner_full_control(OWNER)
    assert canned_grants("log-delivery-write", OWNER, OWNER)[1] == Grant("group", LOG_DELIVERY, WRITE)
    assert has_public_grant(canned_grants("authenticated-read", OWNER, OWNER))
    assert not has_public_grant(canned_grants("log-delivery-write", OWNER, OWNER))


def test_grant_headers_resolve_ids_emails_and_groups() -> None:
    headers = {
        "x-amz-grant-read": f'id="{OTHER}", uri="{ALL_USERS}"',
        "x-amz-grant-full-control": "emailAddress=other@example.com",
    }
    assert header_grants(headers, OWNER, OWNER, ACCOUNTS) == (
        Grant("user", OTHER, READ),
        Grant("group", ALL_USERS, READ),
        Grant("user", OTHER, FULL_CONTROL),
    )
    assert header_grants({}, OWNER, OWNER, ACCOUNTS) is None


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ('emailAddress="nobody@example.com"', "UnresolvableGrantByEmailAddress"),
        ('id="not-an-account"', "InvalidArgument"),
        ('uri="http://acs.amazonaws.com/groups/global/Everyone"', "InvalidArgument"),
        ('colour="blue"', "InvalidArgument"),
        ("just words", "InvalidArgument"),
    ],
)
def test_bad_grant_headers(value: str, code: str) -> None:
    with pytest.raises(errors.S3Error) as raised:
        header_grants({"x-amz-grant-read": value}, OWNER, OWNER, ACCOUNTS)
    assert raised.value.code == code


def _policy(owner: str, grants: str) -> bytes:
    return (
        '<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Owner><ID>{owner}</ID></Owner><AccessControlList>{grants}</AccessControlList>"
        "</AccessControlPolicy>"
    ).encode()


def _grant(grantee: str, permission: str, kind: str | None = None) -> str:
    declared = f' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="{kind}"' if kind else ""
    return f"<Grant><Grantee{declared}>{grantee}</Grantee><Permission>{permission}</Permission></Grant>"


def test_access_control_policy_bodies_are_read_with_or_without_a_declared_type() -> None:
    body = _policy(
        OWNER,
        _grant(f"<ID>{OWNER}</ID>", "FULL_CONTROL", "CanonicalUser")
        + _grant(f"<URI>{AUTHENTICATED_USERS}</URI>", "READ", "Group")
        + _grant("<EmailAddress>other@example.com</EmailAddress>", "WRITE"),
    )
    assert body_grants(body, OWNER, ACCOUNTS) == (
        Grant("user", OWNER, FULL_CONTROL),
        Grant("group", AUTHENTICATED_USERS, READ),
        Grant("user", OTHER, WRITE),
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<AccessControlPolicy>", "MalformedACLError"),
        (_policy("", ""), "MalformedACLError"),
        (_policy(OWNER, _grant(f"<ID>{OTHER}</ID>", "ALL")), "MalformedACLError"),
        (_policy(OWNER, _grant("<Name>x</Name>", "READ")), "MalformedACLError"),
        (_policy(OWNER, "<Other/>"), "MalformedACLError"),
        (_policy(OTHER, ""), "AccessDenied"),
        (
            _policy(OWNER, _grant("<EmailAddress>no@x</EmailAddress>", "READ")),
            "UnresolvableGrantByEmailAddress",
        ),
    ],
)
def test_bad_access_control_policy_bodies(body: bytes, code: str) -> None:
    with pytest.raises(errors.S3Error) as raised:
        body_grants(body, OWNER, ACCOUNTS)
    assert raised.value.code == code


def test_the_rendered_policy_reads_back_as_the_same_grants() -> None:
    grants = (
        Grant("user", OWNER, FULL_CONTROL),
        Grant("group", ALL_USERS, READ),
        Grant("user", OTHER, WRITE),
    )
    rendered = document(access_control_policy(OWNER, grants, ACCOUNTS))
    assert b"<DisplayName>Other</DisplayName>" in rendered
    assert body_grants(rendered, OWNER, ACCOUNTS) == grants


def test_public_access_block_stored_form() -> None:
    assert block_config(BucketInfo()) == PublicAccessBlock()
    block = PublicAccessBlock(block_public_acls=True, restrict_public_buckets=True)
    assert block.encode() == b"1001"
    assert block_config(BucketInfo(public_access_block=block.encode())) == block
