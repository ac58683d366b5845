"""The bucket policy's part of an access decision, through the contract with ``gateway.policy``.

Until the policy language is joined in, no bucket has a policy: every request's effect is NONE and
no policy is public. Joining means replacing this module's stand-ins with ``gateway.policy``'s
``PolicyEffect``, ``PolicyRequest``, ``evaluate``, ``is_public`` and ``request_conditions``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.s3.accounts import Account
from protos.metadata_pb2 import BucketInfo


class PolicyEffect(enum.Enum):
    DENY = "deny"  # an explicit Deny matched
    ALLOW = "allow"  # an Allow matched and no Deny
    NONE = "none"  # nothing matched (or no policy)


@dataclass(frozen=True)
class PolicyRequest:
    action: str  # e.g. "s3:GetObject"
    resource: str  # "arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/key"
    principal: Account | None  # None: anonymous
    conditions: Mapping[str, Sequence[str]]  # lower-cased condition key -> values


PolicyEffectFunction = Callable[[BucketInfo, PolicyRequest], PolicyEffect]


def no_policy_effect(bucket_info: BucketInfo, request: PolicyRequest) -> PolicyEffect:
    """The stand-in effect: no bucket has a policy."""
    return PolicyEffect.NONE


def policy_is_public(policy_document: bytes) -> bool:
    """The stand-in for ``gateway.policy.is_public``: no policy, so none is public."""
    return False


def request_conditions(
    *,
    source_ip: str,
    secure_transport: bool,
    user_agent: str | None,
    referer: str | None,
    principal: Account | None,
    auth_type: str | None,
    signature_version: str | None,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    existing_object_tags: Mapping[str, str] | None,
    version_id: str | None,
    now: datetime,
) -> dict[str, list[str]]:
    """The stand-in for ``gateway.policy.request_conditions``: with no policy, no condition is read."""
    return {}


# The effect function the decision point uses (the join sets it to one calling gateway.policy).
POLICY_EFFECT: PolicyEffectFunction = no_policy_effect
