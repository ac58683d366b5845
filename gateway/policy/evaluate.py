"""Evaluating a stored bucket policy for one request: explicit Deny beats Allow; else NONE."""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from gateway.policy.document import Policy, Statement, parse_policy
from gateway.policy.keys import RequestKeys
from gateway.s3.accounts import Account

COMPILED_CACHE_SIZE = 1024


class PolicyEffect(enum.Enum):
    DENY = "deny"  # an explicit Deny matched
    ALLOW = "allow"  # an Allow matched and no Deny
    NONE = "none"  # nothing matched (or no policy)


class PolicyRequest(NamedTuple):  # a tuple: one per request decided, built cheaply
    action: str  # e.g. "s3:GetObject" (AWS's action names)
    resource: str  # "arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/key"
    principal: Account | None  # None = anonymous
    conditions: Mapping[str, Sequence[str]]  # lower-cased condition key -> values


@functools.lru_cache(maxsize=COMPILED_CACHE_SIZE)
def compiled(policy_document: bytes) -> Policy:
    """The compiled form of a stored policy, built once per distinct document."""
    return parse_policy(policy_document)


MAX_CANDIDATE_SETS = 4096  # per policy: (action, requester) pairs remembered
MAX_REMEMBERED_OUTCOMES = 1024  # per plan: distinct values of the condition keys it reads


class _Plan:
    """How to evaluate the statements that cover one (action, requester): each statement is a bit.

    Statements sharing a Resource are matched once. Which statements' Conditions hold depends only
    on the values of the keys they read, so that answer is remembered per distinct tuple of those
    values (a policy's conditions mostly read facts most requests share: the client's address, the
    transport, the second of the clock...). Conditions filled in from policy variables read any key:
    those are tested on every request."""

    __slots__ = ("allow_mask", "deny_mask", "keys", "outcomes", "resource_groups", "statements")

    def __init__(self, statements: tuple[Statement, ...]) -> None:
        self.statements = statements
        self.allow_mask = sum(1 << i for i, statement in enumerate(statements) if statement.allow)
        self.deny_mask = sum(1 << i for i, statement in enumerate(statements) if not statement.allow)
        groups: dict[tuple[object, ...], tuple[Statement, int]] = {}
        for i, statement in enumerate(statements):
            shape = (statement.resources, statement.resources_negated, statement.resource_templates)
            first, mask = groups.get(shape, (statement, 0))
            groups[shape] = (first, mask | 1 << i)
        self.resource_groups = tuple(groups.values())
        conditions = [condition for statement in statements for condition in statement.conditions]
        self.keys: tuple[str, ...] | None = (
            None
            if any(condition.templates is not None for condition in conditions)
            else tuple(sorted({condition.key for condition in conditions}))
        )
        self.outcomes: dict[tuple[object, ...], int] = {}

    def resource_mask(self, resource: str, conditions: Mapping[str, Sequence[str]]) -> int:
        mask = 0
        for statement, members in self.resource_groups:
            if statement.matches_resource(resource, conditions) != statement.resources_negated:
                mask |= members
        return mask

    def condition_mask(self, conditions: Mapping[str, Sequence[str]]) -> int:
        if self.keys is None:
            return self._holding(conditions)
        if isinstance(conditions, RequestKeys):
            values = conditions.values_of(self.keys)
        else:
            values = tuple(
                None if (found := conditions.get(key)) is None else tuple(found) for key in self.keys
            )
        mask = self.outcomes.get(values)
        if mask is None:
            mask = self._holding(conditions)
            if len(self.outcomes) >= MAX_REMEMBERED_OUTCOMES:
                self.outcomes.clear()
            self.outcomes[values] = mask
        return mask

    def _holding(self, conditions: Mapping[str, Sequence[str]]) -> int:
        mask = 0
        for i, statement in enumerate(self.statements):
            if all(
                condition.holds(conditions.get(condition.key), conditions)
                for condition in statement.conditions
            ):
                mask |= 1 << i
        return mask


def evaluate_policy(policy: Policy, request: PolicyRequest) -> PolicyEffect:
    action = request.action.lower()
    account = request.principal
    identity = (account.account_id, account.canonical_id, account.arn) if account is not None else None
    plan: _Plan | None = policy.candidates.get((action, identity))
    if plan is None:
        plan = _plan(policy, action, identity)
    if not plan.statements:
        return PolicyEffect.NONE
    # Conditions first: their outcome is usually remembered, and often rules every statement out.
    matching = plan.condition_mask(request.conditions)
    if matching:
        matching &= plan.resource_mask(request.resource, request.conditions)
    if matching & plan.deny_mask:
        return PolicyEffect.DENY
    return PolicyEffect.ALLOW if matching & plan.allow_mask else PolicyEffect.NONE


def _plan(policy: Policy, action: str, identity: tuple[str, str, str] | None) -> _Plan:
    plan = _Plan(tuple(statement for statement in policy.statements if _covers(statement, action, identity)))
    if len(policy.candidates) >= MAX_CANDIDATE_SETS:
        policy.candidates.clear()
    policy.candidates[(action, identity)] = plan
    return plan


def _covers(statement: Statement, action: str, identity: tuple[str, str, str] | None) -> bool:
    """Whether the statement's Action and Principal (or their Not forms) cover this request."""
    if statement.actions.matches(action) == statement.actions_negated:
        return False
    principals = statement.principals
    named = principals.everyone if identity is None else principals.matches_identity(*identity)
    return named != statement.principals_negated


EXISTING_OBJECT_TAG_PREFIX = "s3:existingobjecttag/"


@functools.lru_cache(maxsize=COMPILED_CACHE_SIZE)
def reads_existing_object_tags(policy_document: bytes) -> bool:
    """Whether the policy's answer can depend on the object's stored tags: a condition on an
    ``s3:ExistingObjectTag/<k>`` key, or a policy variable (which may name one). When it cannot, a
    request is decided the same before and after its object is read."""
    if not policy_document:
        return False
    return any(
        statement.resource_templates
        or any(
            condition.key.startswith(EXISTING_OBJECT_TAG_PREFIX) or condition.templates is not None
            for condition in statement.conditions
        )
        for statement in compiled(policy_document).statements
    )


def evaluate(policy_document: bytes, request: PolicyRequest) -> PolicyEffect:
    """The effect of the stored (compact JSON) ``policy_document`` on ``request``."""
    if not policy_document:
        return PolicyEffect.NONE
    return evaluate_policy(compiled(policy_document), request)
