"""AWS's definition of a public bucket policy (used by GetBucketPolicyStatus and public access block).

A policy is public when an Allow statement grants to everyone (``"*"``, ``{"AWS": "*"}``, or any
``NotPrincipal``) and none of its conditions pins the request to fixed values: ``aws:SourceIp``
within CIDR blocks narrower than the whole address space, or an exact (wildcard-free) value of one
of the keys that identify a fixed account, source or key (``aws:SourceArn``, ``aws:SourceVpc``,
``aws:SourceVpce``, ``aws:SourceOwner``, ``aws:SourceAccount``, ``aws:PrincipalAccount``,
``aws:PrincipalArn``, ``aws:PrincipalOrgID``, ``aws:userid``, ``s3:DataAccessPointAccount``,
``s3:DataAccessPointArn``, ``s3:x-amz-server-side-encryption-aws-kms-key-id``).
"""

from __future__ import annotations

import functools

from gateway.policy.conditions import Condition, ConditionError, parse_networks
from gateway.policy.document import Policy, Statement
from gateway.policy.evaluate import compiled
from gateway.policy.patterns import has_wildcard

FIXING_KEYS = frozenset(
    name.lower()
    for name in (
        "aws:SourceArn",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceOwner",
        "aws:SourceAccount",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalOrgID",
        "aws:userid",
        "s3:DataAccessPointAccount",
        "s3:DataAccessPointArn",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    )
)
_EXACT_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"})


def _pins(condition: Condition) -> bool:
    """Whether this condition alone confines the statement to fixed requesters."""
    if condition.negated or condition.if_exists or condition.qualifier == "ForAllValues":
        return False  # each of these lets a request without the key (or any other value) through
    if condition.key == "aws:sourceip" and condition.base == "IpAddress":
        try:
            networks = parse_networks(condition.operator, condition.values)
        except ConditionError:
            return False
        return all(network.prefixlen > 0 for network in networks)
    if condition.key in FIXING_KEYS and condition.base in _EXACT_OPERATORS:
        return all(not has_wildcard(value) for value in condition.values)
    return False


def _grants_public(statement: Statement) -> bool:
    if not statement.allow:
        return False
    to_everyone = statement.principals_negated or statement.principals.everyone
    return to_everyone and not any(_pins(condition) for condition in statement.conditions)


def policy_is_public(policy: Policy) -> bool:
    return any(_grants_public(statement) for statement in policy.statements)


@functools.lru_cache(maxsize=1024)
def is_public(policy_document: bytes) -> bool:
    """AWS's definition of a public policy, for a stored policy document."""
    if not policy_document:
        return False
    return policy_is_public(compiled(policy_document))
