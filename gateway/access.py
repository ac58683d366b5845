"""Whether an unsigned (anonymous) request may reach its handler.

This is the one place public access is decided. Until bucket and object ACLs
and bucket policies exist nothing is public, so every anonymous request is
denied; the hook takes the routed endpoint so ACL checks can slot in here.
"""

from __future__ import annotations

from gateway.s3.accounts import Account
from gateway.s3.router import Endpoint

# Operations whose signature travels in the body rather than the request line or headers:
# they reach their handler unsigned and authenticate themselves (PostObject's policy form).
SELF_AUTHENTICATED_OPERATIONS = frozenset({"PostObject"})


def anonymous_request_allowed(endpoint: Endpoint) -> bool:
    """True when an anonymous request for ``endpoint`` is allowed (a public resource); never, for now."""
    return False


EXPECTED_BUCKET_OWNER_HEADER = "x-amz-expected-bucket-owner"
SOURCE_EXPECTED_BUCKET_OWNER_HEADER = "x-amz-source-expected-bucket-owner"


def expected_owner_matches(expected: str | None, owner: Account | None, owner_canonical_id: str) -> bool:
    """Whether an ``x-amz-expected-bucket-owner`` value names the bucket's owner.

    AWS clients send the owner's 12-digit account id; the owner's canonical id is accepted too,
    since it is the id our ACLs and listings show. No header means no expectation.
    """
    if expected is None:
        return True
    expected = expected.strip()
    if expected == owner_canonical_id:
        return True
    return owner is not None and bool(owner.account_id) and expected == owner.account_id
