"""Whether a request may go on to its handler, and the checks of the bucket owner it expects.

The authorization decision itself lives in :mod:`gateway.authz` (``gateway.authz.enforce`` is
called by every handler when it reads the bucket, and completed with the object's metadata where
the object's ACL decides). Here only what is known before any metadata is read: an anonymous request
goes on to the decision wherever a bucket could make it public (an ACL grant or a bucket policy);
requests with no bucket to decide on (ListBuckets, CreateBucket) need a signature.
"""

from __future__ import annotations

from gateway.s3.accounts import Account
from gateway.s3.router import Endpoint

# Operations whose signature travels in the body rather than the request line or headers:
# they reach their handler unsigned and authenticate themselves (PostObject's policy form).
SELF_AUTHENTICATED_OPERATIONS = frozenset({"PostObject"})
# Operations no bucket's ACL or policy can open to anonymous requests.
SIGNED_ONLY_OPERATIONS = frozenset({"ListBuckets", "CreateBucket"})


def anonymous_request_allowed(endpoint: Endpoint) -> bool:
    """True when an anonymous request for ``endpoint`` goes on to the bucket's decision."""
    return endpoint.bucket is not None and endpoint.operation not in SIGNED_ONLY_OPERATIONS


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
