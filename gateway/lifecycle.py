"""A bucket's ``LifecycleConfiguration`` document: parsed and validated as S3 does, and rendered back.

The rules themselves are the neutral values of :mod:`metanode.lifecycle.rules` (the metanode's
worker applies them); this module only translates between them and S3's XML. Transitions would
move data between locations, which is not built: a rule with one is refused with NotImplemented
rather than stored and never acted on.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from gateway.s3 import errors
from gateway.s3.xml import MAX_REQUEST_XML_BYTES, Element, document, element, http_date, optional, parse
from metanode.lifecycle.rules import (
    DAY_MS,
    LifecycleConfiguration,
    LifecycleRule,
    RuleFilter,
    decode_configuration,
)
from protos.metadata_pb2 import BucketInfo, ObjectMD

MAX_LIFECYCLE_RULES = 1000
MAX_LIFECYCLE_DOCUMENT_BYTES = MAX_REQUEST_XML_BYTES
MAX_RULE_ID_CHARS = 255
MAX_NEWER_NONCURRENT_VERSIONS = 100
_RULE_CHILDREN = frozenset(
    {
        "ID",
        "Status",
        "Filter",
        "Prefix",
        "Expiration",
        "NoncurrentVersionExpiration",
        "AbortIncompleteMultipartUpload",
        "Transition",
        "NoncurrentVersionTransition",
    }
)
_FILTER_CONDITIONS = ("Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan")


def _children(node: ET.Element, allowed: frozenset[str] | tuple[str, ...]) -> dict[str, list[ET.Element]]:
    found: dict[str, list[ET.Element]] = {}
    for child in node:
        if child.tag not in allowed:
            raise errors.MalformedXML()
        found.setdefault(child.tag, []).append(child)
    return found


def _single(found: dict[str, list[ET.Element]], tag: str) -> ET.Element | None:
    nodes = found.get(tag, [])
    if len(nodes) > 1:
        raise errors.MalformedXML()
    return nodes[0] if nodes else None


def _text(node: ET.Element) -> str:
    if len(node):
        raise errors.MalformedXML()
    return (node.text or "").strip()


def _verbatim(node: ET.Element) -> str:
    """A prefix, tag key or tag value: kept exactly, spaces included (they are part of the key)."""
    if len(node):
        raise errors.MalformedXML()
    return node.text or ""


def _integer(node: ET.Element) -> int:
    text = _text(node)
    if not text.lstrip("-").isdigit() or not text.isascii():
        raise errors.MalformedXML()
    return int(text)


def _positive(node: ET.Element, field: str, action: str) -> int:
    value = _integer(node)
    if value <= 0:
        raise errors.InvalidArgument(f"'{field}' for {action} action must be a positive integer")
    return value


def parse_lifecycle_configuration(body: bytes) -> LifecycleConfiguration:
    """A ``LifecycleConfiguration`` request body; MalformedXML, InvalidArgument or InvalidRequest as S3
    refuses it, NotImplemented for a transition."""
    if len(body) > MAX_LIFECYCLE_DOCUMENT_BYTES or not body.strip():
        raise errors.MalformedXML()
    root = parse(body, "LifecycleConfiguration")
    rule_nodes = _children(root, ("Rule",)).get("Rule", [])
    if not rule_nodes or len(rule_nodes) > MAX_LIFECYCLE_RULES:
        raise errors.MalformedXML()
    rules = tuple(_parse_rule(node) for node in rule_nodes)
    ids = [rule.rule_id for rule in rules]
    if len(set(ids)) != len(ids):
        raise errors.InvalidArgument("Rule ID must be unique. Found same ID for more than one rule")
    return LifecycleConfiguration(rules)


def _parse_rule(node: ET.Element) -> LifecycleRule:
    found = _children(node, _RULE_CHILDREN)
    id_node = _single(found, "ID")
    rule_id = _text(id_node) if id_node is not None else ""
    if len(rule_id) > MAX_RULE_ID_CHARS:
        raise errors.InvalidArgument(f"ID length should not exceed allowed limit of {MAX_RULE_ID_CHARS}")
    if not rule_id:
        rule_id = uuid.uuid4().hex  # S3 names a rule sent without an ID
    status_node = _single(found, "Status")
    status = _text(status_node) if status_node is not None else ""
    if status not in ("Enabled", "Disabled"):
        raise errors.MalformedXML()
    filter_node, prefix_node = _single(found, "Filter"), _single(found, "Prefix")
    if (filter_node is None) == (prefix_node is None):
        raise errors.MalformedXML()  # exactly one of a Filter and the legacy top-level Prefix
    if prefix_node is not None:
        rule_filter = RuleFilter(prefix=_verbatim(prefix_node), legacy_prefix=True)
    else:
        assert filter_node is not None
        rule_filter = _parse_filter(filter_node)
    values: dict[str, int | bool | None] = {}
    expiration = _single(found, "Expiration")
    if expiration is not None:
        values.update(_parse_expiration(expiration, rule_filter))
    noncurrent = _single(found, "NoncurrentVersionExpiration")
    if noncurrent is not None:
        values.update(_parse_noncurrent(noncurrent))
    abort = _single(found, "AbortIncompleteMultipartUpload")
    if abort is not None:
        values["abort_days"] = _parse_abort(abort, rule_filter)
    if found.get("Transition") or found.get("NoncurrentVersionTransition"):
        raise errors.NotImplemented(
            "Lifecycle transitions (moving data to another location) are not implemented"
        )
    if not any(value is not None for value in values.values()):
        raise errors.InvalidRequest("At least one action needs to be specified in a rule")
    return LifecycleRule(rule_id=rule_id, enabled=status == "Enabled", filter=rule_filter, **values)  # type: ignore[arg-type]


def _parse_tag(node: ET.Element) -> tuple[str, str]:
    found = _children(node, ("Key", "Value"))
    key_node, value_node = _single(found, "Key"), _single(found, "Value")
    if key_node is None or value_node is None:
        raise errors.MalformedXML()
    key, value = _verbatim(key_node), _verbatim(value_node)
    if not key or len(key) > 128:
        raise errors.InvalidArgument("The TagKey you have provided is invalid")
    if len(value) > 256:
        raise errors.InvalidArgument("The TagValue you have provided is invalid")
    return key, value


def _size(node: ET.Element | None) -> int | None:
    if node is None:
        return None
    value = _integer(node)
    if value < 0:
        raise errors.InvalidArgument("ObjectSize must be a non-negative integer")
    return value


def _parse_filter(node: ET.Element) -> RuleFilter:
    found = _children(node, _FILTER_CONDITIONS)
    if sum(len(nodes) for nodes in found.values()) > 1:
        raise errors.MalformedXML()  # several conditions go inside <And>
    and_node = _single(found, "And")
    if and_node is None:
        tag_node = _single(found, "Tag")
        prefix_node = _single(found, "Prefix")
        return RuleFilter(
            prefix=_verbatim(prefix_node) if prefix_node is not None else "",
            tags=(_parse_tag(tag_node),) if tag_node is not None else (),
            size_greater_than=_size(_single(found, "ObjectSizeGreaterThan")),
            size_less_than=_size(_single(found, "ObjectSizeLessThan")),
        )
    parts = _children(and_node, ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan"))
    prefix_node = _single(parts, "Prefix")
    tags = tuple(_parse_tag(tag) for tag in parts.get("Tag", []))
    if len({name for name, _ in tags}) != len(tags):
        raise errors.InvalidRequest("Duplicate Tag Keys are not allowed.")
    rule_filter = RuleFilter(
        prefix=_verbatim(prefix_node) if prefix_node is not None else "",
        tags=tags,
        size_greater_than=_size(_single(parts, "ObjectSizeGreaterThan")),
        size_less_than=_size(_single(parts, "ObjectSizeLessThan")),
        uses_and=True,
    )
    greater, less = rule_filter.size_greater_than, rule_filter.size_less_than
    if greater is not None and less is not None and greater >= less:
        raise errors.InvalidRequest("ObjectSizeGreaterThan must be less than ObjectSizeLessThan")
    return rule_filter


def _parse_expiration(node: ET.Element, rule_filter: RuleFilter) -> dict[str, int | bool | None]:
    found = _children(node, ("Days", "Date", "ExpiredObjectDeleteMarker"))
    days, date, marker = (_single(found, tag) for tag in ("Days", "Date", "ExpiredObjectDeleteMarker"))
    if sum(item is not None for item in (days, date, marker)) != 1:
        raise errors.MalformedXML()  # Days, Date and ExpiredObjectDeleteMarker exclude each other
    if days is not None:
        return {"expiration_days": _positive(days, "Days", "Expiration")}
    if date is not None:
        return {"expiration_date_ms": _midnight_ms(_text(date))}
    assert marker is not None
    flag = _text(marker)
    if flag not in ("true", "false"):
        raise errors.MalformedXML()
    if rule_filter.tags:
        raise errors.InvalidRequest("ExpiredObjectDeleteMarker cannot be specified with Tags.")
    # ``false`` asks for nothing: it is kept (and shown) but is not an action.
    return {"expired_object_delete_marker": True if flag == "true" else None}


def _midnight_ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.InvalidArgument("Invalid date format in Date; expected ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment_ms = int(moment.timestamp() * 1000)
    if moment_ms % DAY_MS:
        raise errors.InvalidArgument("'Date' must be at midnight GMT")
    return moment_ms


def _parse_noncurrent(node: ET.Element) -> dict[str, int | bool | None]:
    action = "NoncurrentVersionExpiration"
    found = _children(node, ("NoncurrentDays", "NewerNoncurrentVersions"))
    days = _single(found, "NoncurrentDays")
    if days is None:
        raise errors.MalformedXML()
    newer_node = _single(found, "NewerNoncurrentVersions")
    newer = _positive(newer_node, "NewerNoncurrentVersions", action) if newer_node is not None else None
    if newer is not None and newer > MAX_NEWER_NONCURRENT_VERSIONS:
        raise errors.InvalidArgument(
            f"'NewerNoncurrentVersions' for {action} action must be at most {MAX_NEWER_NONCURRENT_VERSIONS}"
        )
    return {"noncurrent_days": _positive(days, "NoncurrentDays", action), "newer_noncurrent_versions": newer}


def _parse_abort(node: ET.Element, rule_filter: RuleFilter) -> int:
    found = _children(node, ("DaysAfterInitiation",))
    days = _single(found, "DaysAfterInitiation")
    if days is None:
        raise errors.MalformedXML()
    value = _positive(days, "DaysAfterInitiation", "AbortIncompleteMultipartUpload")
    if rule_filter.tags:
        raise errors.InvalidRequest("AbortIncompleteMultipartUpload cannot be specified with Tags.")
    if rule_filter.size_greater_than is not None or rule_filter.size_less_than is not None:
        # An upload has no size until it completes, so a size filter could never be applied to it.
        raise errors.InvalidRequest(
            "AbortIncompleteMultipartUpload cannot be specified with an object size filter."
        )
    return value


# ---- rendering (GetBucketLifecycleConfiguration) ----


def _tag(name: str, value: str) -> Element:
    return element("Tag", None, element("Key", name), element("Value", value))


def _filter_element(rule_filter: RuleFilter) -> Element:
    if rule_filter.legacy_prefix:
        return element("Prefix", rule_filter.prefix)
    conditions: list[Element | None] = [
        optional("Prefix", rule_filter.prefix or None),
        *(_tag(name, value) for name, value in rule_filter.tags),
        optional("ObjectSizeGreaterThan", rule_filter.size_greater_than),
        optional("ObjectSizeLessThan", rule_filter.size_less_than),
    ]
    if rule_filter.uses_and:
        if not rule_filter.prefix:
            conditions[0] = None
        return element("Filter", None, element("And", None, *conditions))
    present = [condition for condition in conditions if condition is not None]
    return element("Filter", None, *(present or [element("Prefix", "")]))


def _date_text(moment_ms: int) -> str:
    return datetime.fromtimestamp(moment_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def configuration_document(configuration: LifecycleConfiguration) -> bytes:
    rules = []
    for rule in configuration.rules:
        expiration = None
        if rule.expiration_days is not None:
            expiration = element("Expiration", None, element("Days", rule.expiration_days))
        elif rule.expiration_date_ms is not None:
            expiration = element("Expiration", None, element("Date", _date_text(rule.expiration_date_ms)))
        elif rule.expired_object_delete_marker:
            expiration = element("Expiration", None, element("ExpiredObjectDeleteMarker", True))
        noncurrent = None
        if rule.noncurrent_days is not None:
            noncurrent = element(
                "NoncurrentVersionExpiration",
                None,
                element("NoncurrentDays", rule.noncurrent_days),
                optional("NewerNoncurrentVersions", rule.newer_noncurrent_versions),
            )
        abort = None
        if rule.abort_days is not None:
            abort = element(
                "AbortIncompleteMultipartUpload", None, element("DaysAfterInitiation", rule.abort_days)
            )
        rules.append(
            element(
                "Rule",
                None,
                element("ID", rule.rule_id),
                _filter_element(rule.filter),
                element("Status", "Enabled" if rule.enabled else "Disabled"),
                expiration,
                noncurrent,
                abort,
            )
        )
    return document(element("LifecycleConfiguration", None, *rules))


# ---- x-amz-expiration (PutObject, GetObject, HeadObject) ----

EXPIRATION_HEADER = "x-amz-expiration"


def expiration_header(bucket: BucketInfo, md: ObjectMD, day_ms: int) -> str | None:
    """When and by which rule the current version ``md`` expires, as S3 words the header; None if no
    enabled Expiration rule applies to it."""
    if not bucket.lifecycle or md.is_delete_marker:
        return None
    found = decode_configuration(bucket.lifecycle).expiration(
        md.key, md.size, md.tags, md.last_modified_ms, day_ms
    )
    if found is None:
        return None
    expiry_ms, rule_id = found
    return f'expiry-date="{http_date(expiry_ms / 1000)}", rule-id="{rule_id}"'
