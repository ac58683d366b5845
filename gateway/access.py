"""Whether an unsigned (anonymous) request may reach its handler.

This is the one place public access is decided. Until bucket and object ACLs
and bucket policies exist nothing is public, so every anonymous request is
denied; the hook takes the routed endpoint so ACL checks can slot in here.
"""

from __future__ import annotations

from gateway.s3.router import Endpoint

# Operations whose signature travels in the body rather than the request line or headers:
# they reach their handler unsigned and authenticate themselves (PostObject's policy form).
SELF_AUTHENTICATED_OPERATIONS = frozenset({"PostObject"})


def anonymous_request_allowed(endpoint: Endpoint) -> bool:
    """True when an anonymous request for ``endpoint`` is allowed (a public resource); never, for now."""
    return False
