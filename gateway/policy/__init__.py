"""Bucket policies: the language (parse, validate, compile), evaluation, and "is this policy public".

The stable surface the authorization decision point uses is re-exported here: ``PolicyEffect``,
``PolicyRequest``, ``evaluate``, ``is_public`` and ``request_conditions``.
"""

from __future__ import annotations

from gateway.policy.document import MAX_POLICY_BYTES, Policy, parse_policy
from gateway.policy.evaluate import PolicyEffect, PolicyRequest, evaluate, reads_existing_object_tags
from gateway.policy.keys import request_conditions
from gateway.policy.public import is_public, policy_is_public

__all__ = [
    "MAX_POLICY_BYTES",
    "Policy",
    "PolicyEffect",
    "PolicyRequest",
    "evaluate",
    "is_public",
    "parse_policy",
    "policy_is_public",
    "reads_existing_object_tags",
    "request_conditions",
]
