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


MAX_CANDIDATE_SETS = 4096  # per policy: (action, requester) pairs remembered


def evaluate_policy(policy: Policy, request: PolicyRequest) -> PolicyEffect:
    action = request.action.lower()
    account = request.principal
    identity = (account.account_id, account.canonical_id, account.arn) if account is not None else None
    candidates = policy.candidates.get((action, identity))
    if candidates is None:
        candidates = _candidates(policy, action, identity)
    resource = request.resource
    conditions = request.conditions
    allowed = False
    for statement in candidates:
        if statement.allow and allowed:
            continue  # only a Deny can still change the answer
        if statement.matches_resource(resource, conditions) == statement.resources_negated:
            continue
        if not all(
            condition.holds(conditions.get(condition.key), conditions) for condition in statement.conditions
        ):
            continue
        if not statement.allow:
            return PolicyEffect.DENY
        allowed = True
    return PolicyEffect.ALLOW if allowed else PolicyEffect.NONE


def _candidates(policy: Policy, action: str, identity: tuple[str, str, str] | None) -> tuple[Statement, ...]:
    found = tuple(statement for statement in policy.statements if _covers(statement, action, identity))
    if len(policy.candidates) >= MAX_CANDIDATE_SETS:
        policy.candidates.clear()
    policy.candidates[(action, identity)] = found
    return found


def _covers(statement: Statement, action: str, identity: tuple[str, str, str] | None) -> bool:
    """Whether the statement's Action and Principal (or their Not forms) cover this request."""
    if statement.actions.matches(action) == statement.actions_negated:
        return False
    principals = statement.principals
    named = principals.everyone if identity is None else principals.matches_identity(*identity)
    return named != statement.principals_negated


def evaluate(policy_document: bytes, request: PolicyRequest) -> PolicyEffect:
    """The effect of the stored (compact JSON) ``policy_document`` on ``request``."""
    if not policy_document:
        return PolicyEffect.NONE
    return evaluate_policy(compiled(policy_document), request)
