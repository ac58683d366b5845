"""Authorization: identities in grants, ACLs, object ownership, the public access block, and the
one decision every request goes through (:mod:`gateway.authz.decision`)."""
