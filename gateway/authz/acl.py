"""Access control lists: the stored grants of a bucket or an object, and the ways S3 sets them.

A resource's ACL is stored as its grants only (its owner is the bucket's or the object's owner):
compact JSON ``[[kind, grantee, permission], ...]`` in ``BucketInfo.acl`` / ``ObjectMD.acl``.
Empty bytes mean the default ACL, the owner's FULL_CONTROL, so a resource nobody shared costs
nothing to store or to read. Stored forms are parsed once and cached by their bytes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

GranteeKind = Literal["user", "group"]

READ = "READ"
WRITE = "WRITE"
READ_ACP = "READ_ACP"
WRITE_ACP = "WRITE_ACP"
FULL_CONTROL = "FULL_CONTROL"
PERMISSIONS = (FULL_CONTROL, WRITE, WRITE_ACP, READ, READ_ACP)

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY})
# Grants to these groups make a resource public (AWS's definition, used by the public access block).
PUBLIC_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS})

CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
)


@dataclass(frozen=True)
class Grant:
    kind: GranteeKind
    grantee: str  # a canonical id (kind "user") or a group URI (kind "group")
    permission: str

    @property
    def is_public(self) -> bool:
        return self.kind == "group" and self.grantee in PUBLIC_GROUPS


Grants = tuple[Grant, ...]


def owner_full_control(owner_id: str) -> Grants:
    return (Grant("user", owner_id, FULL_CONTROL),)


def encode_grants(grants: Iterable[Grant], owner_id: str) -> bytes:
    """The stored form; the default ACL (owner FULL_CONTROL only) is stored as nothing."""
    grants = tuple(dict.fromkeys(grants))  # a grant given twice is one grant
    if grants == owner_full_control(owner_id):
        return b""
    return json.dumps(
        [[grant.kind, grant.grantee, grant.permission] for grant in grants], separators=(",", ":")
    ).encode()


@functools.lru_cache(maxsize=4096)
def stored_grants(stored: bytes, owner_id: str) -> Grants:
    """The grants of a stored ACL (``owner_id`` fills in the default when nothing is stored)."""
    if not stored:
        return owner_full_control(owner_id)
    return tuple(Grant(kind, grantee, permission) for kind, grantee, permission in json.loads(stored))


def has_public_grant(grants: Iterable[Grant]) -> bool:
    return any(grant.is_public for grant in grants)


def canned_grants(canned: str, owner_id: str, bucket_owner_id: str) -> Grants:
    """The grants a canned ACL stands for (``bucket-owner-*`` name the bucket's owner; on a bucket
    itself they mean the owner alone, as in S3)."""
    owner = Grant("user", owner_id, FULL_CONTROL)
    extra: tuple[Grant, ...]
    if canned == "private":
        extra = ()
    elif canned == "public-read":
        extra = (Grant("group", ALL_USERS, READ),)
    elif canned == "public-read-write":
        extra = (Grant("group", ALL_USERS, READ), Grant("group", ALL_USERS, WRITE))
    elif canned == "authenticated-read":
        extra = (Grant("group", AUTHENTICATED_USERS, READ),)
    elif canned == "bucket-owner-read":
        extra = () if bucket_owner_id == owner_id else (Grant("user", bucket_owner_id, READ),)
    elif canned == "bucket-owner-full-control":
        extra = () if bucket_owner_id == owner_id else (Grant("user", bucket_owner_id, FULL_CONTROL),)
    elif canned == "log-delivery-write":
        extra = (Grant("group", LOG_DELIVERY, WRITE), Grant("group", LOG_DELIVERY, READ_ACP))
    else:
        raise ValueError(f"unknown canned ACL {canned!r}")
    return (owner, *extra)


def grants_permit(
    grants: Iterable[Grant], principal_id: str | None, permission: str, ignore_public: bool = False
) -> bool:
    """Whether a grant gives ``permission`` to the principal (None: anonymous).

    AllUsers matches everyone, AuthenticatedUsers every signed request; LogDelivery is S3's own
    log writer, which no request here speaks for. ``ignore_public`` drops the grants to those two
    groups (the public access block's IgnorePublicAcls).
    """
    for grant in grants:
        if grant.permission != permission and grant.permission != FULL_CONTROL:
            continue
        if grant.kind == "user":
            if principal_id is not None and grant.grantee == principal_id:
                return True
        elif ignore_public and grant.grantee in PUBLIC_GROUPS:
            continue
        elif grant.grantee == ALL_USERS or (
            grant.grantee == AUTHENTICATED_USERS and principal_id is not None
        ):
            return True
    return False
