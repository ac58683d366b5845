"""BucketLoggingStatus documents: parsed and validated once, stored as compact JSON, rendered back.

Stored form (``BucketInfo.logging``): ``{"bucket": ..., "prefix": ..., "grants": [[kind, grantee,
permission], ...], "key_format": null | "simple" | {"partitioned": <PartitionDateSource>}}``; empty
bytes mean logging is off. A grantee named by e-mail address is stored as its account's canonical
id, as ACL grants are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

from gateway.authz.acl import FULL_CONTROL, GROUPS, READ, WRITE, Grant
from gateway.s3 import errors
from gateway.s3.accounts import AccountStore
from gateway.s3.xml import Element, element, parse

# The permissions a log target grant may give (AWS: what a grantee may do with the log objects).
LOG_PERMISSIONS = (FULL_CONTROL, READ, WRITE)
PARTITION_DATE_SOURCES = ("EventTime", "DeliveryTime")
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_GRANTEE_FIELDS = {"CanonicalUser": "ID", "AmazonCustomerByEmail": "EmailAddress", "Group": "URI"}

KeyFormat = None | str | dict[str, str]


@dataclass(frozen=True)
class LoggingStatus:
    target_bucket: str
    target_prefix: str
    grants: tuple[Grant, ...] = ()
    key_format: KeyFormat = None

    def to_bytes(self) -> bytes:
        document: dict[str, Any] = {
            "bucket": self.target_bucket,
            "prefix": self.target_prefix,
            "grants": [[grant.kind, grant.grantee, grant.permission] for grant in self.grants],
            "key_format": self.key_format,
        }
        return json.dumps(document, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, stored: bytes) -> LoggingStatus:
        document = json.loads(stored)
        grants = tuple(Grant(kind, grantee, permission) for kind, grantee, permission in document["grants"])
        return cls(document["bucket"], document["prefix"], grants, document.get("key_format"))


def parse_logging_status(body: bytes, accounts: AccountStore) -> LoggingStatus | None:
    """The status a PutBucketLogging body asks for; None turns logging off (no LoggingEnabled)."""
    root = parse(body, "BucketLoggingStatus")
    if any(node.tag != "LoggingEnabled" for node in root) or len(root) > 1:
        raise errors.MalformedXML()
    enabled = root.find("LoggingEnabled")
    if enabled is None:
        return None
    fields: dict[str, ET.Element] = {}
    for node in enabled:
        if node.tag not in ("TargetBucket", "TargetPrefix", "TargetGrants", "TargetObjectKeyFormat"):
            raise errors.MalformedXML()
        if node.tag in fields:
            raise errors.MalformedXML()
        fields[node.tag] = node
    if "TargetBucket" not in fields or "TargetPrefix" not in fields:
        raise errors.MalformedXML()
    target_bucket = (fields["TargetBucket"].text or "").strip()
    if not target_bucket:
        raise errors.MalformedXML()
    grants_node = fields.get("TargetGrants")
    grants = tuple(_grant(node, accounts) for node in grants_node) if grants_node is not None else ()
    key_format_node = fields.get("TargetObjectKeyFormat")
    key_format = _key_format(key_format_node) if key_format_node is not None else None
    return LoggingStatus(target_bucket, fields["TargetPrefix"].text or "", grants, key_format)


def _grant(node: ET.Element, accounts: AccountStore) -> Grant:
    if node.tag != "Grant":
        raise errors.MalformedXML()
    grantee = node.find("Grantee")
    permission = (node.findtext("Permission") or "").strip()
    if grantee is None or permission not in LOG_PERMISSIONS:
        raise errors.MalformedXML()
    declared = next((value for name, value in grantee.attrib.items() if name.endswith("type")), None)
    if declared is None:
        declared = next(
            (kind for kind, tag in _GRANTEE_FIELDS.items() if grantee.find(tag) is not None), None
        )
    if declared not in _GRANTEE_FIELDS:
        raise errors.MalformedXML()
    value = (grantee.findtext(_GRANTEE_FIELDS[declared]) or "").strip()
    if not value:
        raise errors.MalformedXML()
    if declared == "Group":
        if value not in GROUPS:
            raise errors.InvalidArgument("Invalid group uri", ArgumentName="Group/URI", ArgumentValue=value)
        return Grant("group", value, permission)
    if declared == "CanonicalUser":
        if accounts.by_canonical_id(value) is None:
            raise errors.InvalidArgument("Invalid id", ArgumentName="CanonicalUser/ID", ArgumentValue=value)
        return Grant("user", value, permission)
    wanted = value.lower()
    account = next((account for account in accounts.accounts() if account.email.lower() == wanted), None)
    if account is None:
        raise errors.UnresolvableGrantByEmailAddress(EmailAddress=value)
    return Grant("user", account.canonical_id, permission)


def _key_format(node: ET.Element) -> KeyFormat:
    if len(node) != 1:
        raise errors.MalformedXML()
    choice = node[0]
    if choice.tag == "SimplePrefix" and len(choice) == 0:
        return "simple"
    if choice.tag == "PartitionedPrefix":
        source = (choice.findtext("PartitionDateSource") or "").strip()
        if (
            any(child.tag != "PartitionDateSource" for child in choice)
            or source not in PARTITION_DATE_SOURCES
        ):
            raise errors.MalformedXML()
        return {"partitioned": source}
    raise errors.MalformedXML()


def logging_document(stored: bytes, accounts: AccountStore) -> Element:
    """The GetBucketLogging answer for the stored status (an empty status when logging is off)."""
    root = element("BucketLoggingStatus")
    if not stored:
        return root
    status = LoggingStatus.from_bytes(stored)
    enabled = element(
        "LoggingEnabled",
        None,
        element("TargetBucket", status.target_bucket),
        element("TargetPrefix", status.target_prefix),
    )
    if status.grants:
        rendered = [
            element("Grant", None, _grantee(grant, accounts), element("Permission", grant.permission))
            for grant in status.grants
        ]
        enabled.add(Element("TargetGrants", None, rendered))
    if status.key_format == "simple":
        enabled.add(element("TargetObjectKeyFormat", None, element("SimplePrefix")))
    elif isinstance(status.key_format, dict):
        source = element("PartitionDateSource", status.key_format["partitioned"])
        enabled.add(element("TargetObjectKeyFormat", None, element("PartitionedPrefix", None, source)))
    return root.add(enabled)


def _grantee(grant: Grant, accounts: AccountStore) -> Element:
    if grant.kind == "group":
        return Element(
            "Grantee", None, [element("URI", grant.grantee)], {"xmlns:xsi": XSI, "xsi:type": "Group"}
        )
    account = accounts.by_canonical_id(grant.grantee)
    children = [element("ID", grant.grantee)]
    if account is not None:
        children.append(element("DisplayName", account.display_name))
    return Element("Grantee", None, children, {"xmlns:xsi": XSI, "xsi:type": "CanonicalUser"})
