"""The ACL a request asks for: an ``x-amz-acl`` canned ACL, ``x-amz-grant-*`` headers, or an
``AccessControlPolicy`` body; and the AccessControlPolicy document GetBucketAcl/GetObjectAcl answer.

Grantees are resolved here, once, to what is stored: an account by canonical id or by e-mail
address becomes its canonical id; a group stays its URI.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from xml.etree import ElementTree as ET

from gateway.authz.acl import (
    CANNED_ACLS,
    FULL_CONTROL,
    GROUPS,
    PERMISSIONS,
    READ,
    READ_ACP,
    WRITE,
    WRITE_ACP,
    Grant,
    Grants,
    canned_grants,
)
from gateway.s3 import errors
from gateway.s3.accounts import Account, AccountStore
from gateway.s3.xml import Element, element, parse

ACL_HEADER = "x-amz-acl"
GRANT_HEADER_PERMISSIONS: Mapping[str, str] = {
    "x-amz-grant-read": READ,
    "x-amz-grant-write": WRITE,
    "x-amz-grant-read-acp": READ_ACP,
    "x-amz-grant-write-acp": WRITE_ACP,
    "x-amz-grant-full-control": FULL_CONTROL,
}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
# One grantee of a grant header: type=value or type="value".
_GRANTEE = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))\s*(?:,|$)')


def asks_for_acl(headers: Mapping[str, str]) -> bool:
    return ACL_HEADER in headers or any(name in headers for name in GRANT_HEADER_PERMISSIONS)


def header_grants(
    headers: Mapping[str, str], owner_id: str, bucket_owner_id: str, accounts: AccountStore
) -> Grants | None:
    """The grants of a canned ACL or of grant headers; None when the request names neither."""
    canned = headers.get(ACL_HEADER)
    granted = [name for name in GRANT_HEADER_PERMISSIONS if name in headers]
    if canned is not None and granted:
        raise errors.InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
    if canned is not None:
        if canned not in CANNED_ACLS:
            raise errors.InvalidArgument(None, ArgumentName=ACL_HEADER, ArgumentValue=canned)
        return canned_grants(canned, owner_id, bucket_owner_id)
    if not granted:
        return None
    grants: list[Grant] = []
    for name in granted:
        grants.extend(_parse_grant_header(name, headers[name], accounts))
    return tuple(grants)


def _parse_grant_header(name: str, value: str, accounts: AccountStore) -> list[Grant]:
    permission = GRANT_HEADER_PERMISSIONS[name]
    grants = []
    position = 0
    value = value.strip()
    while position < len(value):
        match = _GRANTEE.match(value, position)
        if match is None or match.end() == position:
            raise errors.InvalidArgument(None, ArgumentName=name, ArgumentValue=value)
        kind, grantee = (
            match.group(1).lower(),
            match.group(2) if match.group(2) is not None else match.group(3),
        )
        grants.append(_resolve(kind, grantee or "", permission, accounts))
        position = match.end()
    if not grants:
        raise errors.InvalidArgument(None, ArgumentName=name, ArgumentValue=value)
    return grants


def _resolve(kind: str, grantee: str, permission: str, accounts: AccountStore) -> Grant:
    if kind == "id":
        if accounts.by_canonical_id(grantee) is None:
            raise errors.InvalidArgument("Invalid id", ArgumentName="CanonicalUser/ID", ArgumentValue=grantee)
        return Grant("user", grantee, permission)
    if kind == "emailaddress":
        account = _by_email(accounts, grantee)
        if account is None:
            raise errors.UnresolvableGrantByEmailAddress(EmailAddress=grantee)
        return Grant("user", account.canonical_id, permission)
    if kind == "uri":
        if grantee not in GROUPS:
            raise errors.InvalidArgument("Invalid group uri", ArgumentName="Group/URI", ArgumentValue=grantee)
        return Grant("group", grantee, permission)
    raise errors.InvalidArgument(None, ArgumentName="x-amz-grant", ArgumentValue=kind)


def _by_email(accounts: AccountStore, email: str) -> Account | None:
    wanted = email.strip().lower()
    return next((account for account in accounts.accounts() if account.email.lower() == wanted), None)


def body_grants(body: bytes, owner_id: str, accounts: AccountStore) -> Grants:
    """The grants of an AccessControlPolicy document; its Owner must be the resource's owner."""
    try:
        root = parse(body, "AccessControlPolicy")
    except errors.MalformedXML:
        raise errors.MalformedACLError() from None
    owner = root.find("Owner")
    owner_text = owner.findtext("ID") if owner is not None else None
    if not owner_text:
        raise errors.MalformedACLError()
    if owner_text.strip() != owner_id:
        raise errors.AccessDenied()
    grant_list = root.find("AccessControlList")
    if grant_list is None:
        raise errors.MalformedACLError()
    grants = []
    for node in grant_list:
        if node.tag != "Grant":
            raise errors.MalformedACLError()
        grants.append(_body_grant(node, accounts))
    return tuple(grants)


def _body_grant(node: ET.Element, accounts: AccountStore) -> Grant:
    grantee = node.find("Grantee")
    permission = (node.findtext("Permission") or "").strip()
    if grantee is None or permission not in PERMISSIONS:
        raise errors.MalformedACLError()
    declared = next((value for name, value in grantee.attrib.items() if name.endswith("type")), None)
    fields = {"CanonicalUser": "ID", "AmazonCustomerByEmail": "EmailAddress", "Group": "URI"}
    if declared is None:
        declared = next((kind for kind, tag in fields.items() if grantee.find(tag) is not None), None)
    if declared not in fields:
        raise errors.MalformedACLError()
    value = (grantee.findtext(fields[declared]) or "").strip()
    if not value:
        raise errors.MalformedACLError()
    kind = {"CanonicalUser": "id", "AmazonCustomerByEmail": "emailaddress", "Group": "uri"}[declared]
    return _resolve(kind, value, permission, accounts)


def access_control_policy(owner_id: str, grants: Iterable[Grant], accounts: AccountStore) -> Element:
    """The AccessControlPolicy document of a resource owned by ``owner_id``."""
    owner_account = accounts.by_canonical_id(owner_id)
    owner_name = owner_account.display_name if owner_account is not None else None
    owner = element("Owner", None, element("ID", owner_id), _optional("DisplayName", owner_name))
    rendered = [
        element("Grant", None, _grantee(grant, accounts), element("Permission", grant.permission))
        for grant in grants
    ]
    return element("AccessControlPolicy", None, owner, Element("AccessControlList", None, rendered))


def _grantee(grant: Grant, accounts: AccountStore) -> Element:
    if grant.kind == "group":
        return Element(
            "Grantee", None, [element("URI", grant.grantee)], {"xmlns:xsi": XSI, "xsi:type": "Group"}
        )
    account = accounts.by_canonical_id(grant.grantee)
    name = account.display_name if account is not None else None
    return Element(
        "Grantee",
        None,
        [element("ID", grant.grantee), _optional("DisplayName", name)],
        {"xmlns:xsi": XSI, "xsi:type": "CanonicalUser"},
    )


def _optional(tag: str, value: str | None) -> Element | None:
    return None if value is None else element(tag, value)
