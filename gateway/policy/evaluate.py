"""Evaluating a stored bucket policy for one request: explicit Deny beats Allow; else NONE."""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.policy.document import Policy, Statement, parse_policy
from gateway.s3.accounts import Account

COMPILED_CACHE_SIZE = 1024


class PolicyEffect(enum.Enum):
    DENY = "deny"  # an explicit Deny matched
    ALLOW = "allow"  # an Allow matched and no Deny
    NONE = "none"  # nothing matched (or no policy)


@dataclass(frozen=True)
class PolicyRequest:
    action: str  # e.g. "s3:GetObject" (AWS's action names)
    resource: str  # "arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/key"
    principal: Account | None  # None = anonymous
    conditions: Mapping[str, Sequence[str]]  # lower-cased condition key -> values


@functools.lru_cache(maxsize=COMPILED_CACHE_SIZE)
def compiled(policy_document: bytes) -> Policy:
    """The compiled form of a stored policy, built once per distinct document."""
    return parse_policy(policy_document)


def _applies(statement: Statement, action: str, request: PolicyRequest) -> bool:
    if statement.principals.matches(request.principal) == statement.principals_negated:
        return False
    if statement.actions.matches(action) == statement.actions_negated:
        return False
    if statement.resources.matches(request.resource) == statement.resources_negated:
        return False
    conditions = request.conditions
    return all(condition.holds(conditions.get(condition.key)) for condition in statement.conditions)


def evaluate_policy(policy: Policy, request: PolicyRequest) -> PolicyEffect:
    action = request.action.lower()
    allowed = False
    for statement in policy.statements:
        if statement.allow and allowed:
            continue  # only a Deny can still change the answer
        if _applies(statement, action, request):
            if not statement.allow:
                return PolicyEffect.DENY
            allowed = True
    return PolicyEffect.ALLOW if allowed else PolicyEffect.NONE


def evaluate(policy_document: bytes, request: PolicyRequest) -> PolicyEffect:
    """The effect of the stored (compact JSON) ``policy_document`` on ``request``."""
    if not policy_document:
        return PolicyEffect.NONE
    return evaluate_policy(compiled(policy_document), request)
