"""AWS's definition of a public bucket policy."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.policy import is_public
from tests.unit.gateway.policy.conftest import BART, document, statement


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"Principal": {"AWS": "*"}},
        {"Principal": {"AWS": ["*", BART.account_id]}},
        {"Principal": None, "NotPrincipal": {"AWS": BART.account_id}},
        {"Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}},
        {"Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        {"Condition": {"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}},
        {"Condition": {"StringLike": {"aws:SourceArn": "arn:aws:s3:::*"}}},
        {"Condition": {"StringEquals": {"aws:UserAgent": "curl/8"}}},
        {"Condition": {"Bool": {"aws:SecureTransport": "true"}}},
        {"Condition": {"StringNotEquals": {"aws:PrincipalAccount": BART.account_id}}},
        {"Condition": {"ForAllValues:StringEquals": {"aws:SourceVpc": "vpc-1"}}},
    ],
)
def test_policies_granting_everyone_without_a_pinning_condition_are_public(fields: dict[str, Any]) -> None:
    assert is_public(document(statement(**fields)))


@pytest.mark.parametrize(
    "fields",
    [
        {"Principal": {"AWS": BART.account_id}},
        {"Principal": {"CanonicalUser": BART.canonical_id}},
        {"Effect": "Deny"},
        {"Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/24", "2001:db8::/32"]}}},
        {
            "Condition": {
                "StringEquals": {"aws:SourceArn": "arn:aws:cloudtrail:us-east-1:123456789012:trail/t"}
            }
        },
        {"Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}},
        {"Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}},
        {"Condition": {"StringEquals": {"aws:PrincipalAccount": BART.account_id}}},
        {"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}},
        {"Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:root"}}},
        {"Condition": {"StringEquals": {"s3:DataAccessPointAccount": BART.account_id}}},
        {"Condition": {"StringEquals": {"aws:SourceAccount": BART.account_id}}},
    ],
)
def test_fixed_principals_or_pinning_conditions_are_not_public(fields: dict[str, Any]) -> None:
    assert not is_public(document(statement(**fields)))


def test_one_public_statement_makes_the_policy_public() -> None:
    private = statement(Sid="private", Principal={"AWS": BART.account_id})
    public = statement(Sid="public")
    assert not is_public(document(private))
    assert is_public(document(private, public))
    assert not is_public(b"")
