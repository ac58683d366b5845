"""The bucket policy's part of an access decision: ``gateway.policy`` evaluates the bucket's stored
policy for the request the decision point describes.

``POLICY_EFFECT`` is the one function the decision point calls; a bucket without a policy costs
nothing more than the check for an empty field.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.policy import (
    PolicyEffect,
    PolicyRequest,
    evaluate,
    is_public,
    reads_existing_object_tags,
    request_conditions,
)

__all__ = [
    "POLICY_EFFECT",
    "PolicyEffect",
    "PolicyEffectFunction",
    "PolicyRequest",
    "bucket_policy_effect",
    "policy_is_public",
    "reads_existing_object_tags",
    "request_conditions",
]

PolicyEffectFunction = Callable[[bytes, PolicyRequest], PolicyEffect]


def bucket_policy_effect(policy_document: bytes, request: PolicyRequest) -> PolicyEffect:
    """What the bucket's stored policy says of the request (NONE when it has no policy)."""
    if not policy_document:
        return PolicyEffect.NONE
    return evaluate(policy_document, request)


def policy_is_public(policy_document: bytes) -> bool:
    return is_public(policy_document)


# The effect function the decision point uses (tests of the decision point's seam swap it).
POLICY_EFFECT: PolicyEffectFunction = bucket_policy_effect
