"""WebsiteConfiguration documents: parsed and validated once, stored compact, rendered back.

Either ``RedirectAllRequestsTo`` alone, or ``IndexDocument`` (required then) with an optional
``ErrorDocument`` and ``RoutingRules``. Invalid documents get S3's errors: MalformedXML for a wrong
shape, InvalidArgument (naming the element) for a value S3 refuses. The stored form
(``BucketInfo.website``) is compact JSON of the parsed configuration, so serving a request never
parses XML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from gateway.s3 import errors
from gateway.s3.xml import Element, element, optional, parse

PROTOCOLS = ("http", "https")
MAX_ROUTING_RULES = 50
DEFAULT_REDIRECT_CODE = 301


@dataclass(frozen=True)
class RedirectAll:
    host_name: str
    protocol: str | None = None


@dataclass(frozen=True)
class Condition:
    key_prefix_equals: str | None = None
    http_error_code_returned_equals: int | None = None


@dataclass(frozen=True)
class Redirect:
    host_name: str | None = None
    protocol: str | None = None
    replace_key_prefix_with: str | None = None
    replace_key_with: str | None = None
    http_redirect_code: int | None = None


@dataclass(frozen=True)
class RoutingRule:
    redirect: Redirect
    condition: Condition | None = None


@dataclass(frozen=True)
class WebsiteConfig:
    index_suffix: str | None = None
    error_key: str | None = None
    redirect_all: RedirectAll | None = None
    routing_rules: tuple[RoutingRule, ...] = field(default=())

    def to_bytes(self) -> bytes:
        return json.dumps(_to_json(self), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, stored: bytes) -> WebsiteConfig:
        return _from_json(json.loads(stored))


def _invalid(message: str, name: str, value: str | None = None) -> errors.S3Error:
    return errors.InvalidArgument(message, ArgumentName=name, ArgumentValue=value)


def _children(node: ET.Element, allowed: tuple[str, ...]) -> dict[str, ET.Element]:
    """The element's children by tag; an unknown or repeated child is MalformedXML."""
    found: dict[str, ET.Element] = {}
    for child in node:
        if child.tag not in allowed or child.tag in found:
            raise errors.MalformedXML()
        found[child.tag] = child
    if (node.text or "").strip():
        raise errors.MalformedXML()
    return found


def _text(node: ET.Element | None) -> str | None:
    return None if node is None else (node.text or "")


def parse_website(body: bytes) -> WebsiteConfig:
    root = parse(body, "WebsiteConfiguration")
    parts = _children(root, ("IndexDocument", "ErrorDocument", "RedirectAllRequestsTo", "RoutingRules"))
    if "RedirectAllRequestsTo" in parts:
        if len(parts) > 1:
            raise _invalid(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
                "RedirectAllRequestsTo",
            )
        return WebsiteConfig(redirect_all=_redirect_all(parts["RedirectAllRequestsTo"]))
    if "IndexDocument" not in parts:
        raise _invalid(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
            "IndexDocument",
        )
    suffix = _text(_children(parts["IndexDocument"], ("Suffix",)).get("Suffix"))
    if not suffix or "/" in suffix:
        raise _invalid("The IndexDocument Suffix is not well formed", "IndexDocument", suffix)
    error_key: str | None = None
    if "ErrorDocument" in parts:
        error_key = _text(_children(parts["ErrorDocument"], ("Key",)).get("Key"))
        if not error_key:
            raise _invalid("The ErrorDocument Key is not well formed", "ErrorDocument", error_key)
    rules: tuple[RoutingRule, ...] = ()
    if "RoutingRules" in parts:
        rules = tuple(_routing_rule(node) for node in parts["RoutingRules"])
        if len(rules) > MAX_ROUTING_RULES:
            raise _invalid(f"RoutingRules cannot hold more than {MAX_ROUTING_RULES} rules", "RoutingRules")
    return WebsiteConfig(index_suffix=suffix, error_key=error_key, routing_rules=rules)


def _protocol(node: ET.Element | None) -> str | None:
    value = _text(node)
    if value is None:
        return None
    if value not in PROTOCOLS:
        raise _invalid(
            "Invalid protocol, protocol can be http or https. If not defined the protocol will be "
            "selected automatically.",
            "Protocol",
            value,
        )
    return value


def _redirect_all(node: ET.Element) -> RedirectAll:
    fields = _children(node, ("HostName", "Protocol"))
    host_name = _text(fields.get("HostName"))
    if not host_name:
        raise errors.MalformedXML()
    return RedirectAll(host_name.strip(), _protocol(fields.get("Protocol")))


def _code(node: ET.Element | None, name: str, valid: range, message: str) -> int | None:
    value = _text(node)
    if value is None:
        return None
    stripped = value.strip()
    if not stripped.isdigit() or int(stripped) not in valid:
        raise _invalid(message.format(value=value), name, value)
    return int(stripped)


def _routing_rule(node: ET.Element) -> RoutingRule:
    if node.tag != "RoutingRule":
        raise errors.MalformedXML()
    fields = _children(node, ("Condition", "Redirect"))
    if "Redirect" not in fields:
        raise errors.MalformedXML()
    condition = _condition(fields["Condition"]) if "Condition" in fields else None
    return RoutingRule(_redirect(fields["Redirect"]), condition)


def _condition(node: ET.Element) -> Condition:
    fields = _children(node, ("KeyPrefixEquals", "HttpErrorCodeReturnedEquals"))
    if not fields:
        raise _invalid(
            "Condition cannot be empty. To redirect all requests without a condition, the condition "
            "element shouldn't be present.",
            "Condition",
        )
    error_code = _code(
        fields.get("HttpErrorCodeReturnedEquals"),
        "HttpErrorCodeReturnedEquals",
        range(400, 600),
        "The provided HTTP error code ({value}) is not valid. Valid codes are 4XX or 5XX.",
    )
    return Condition(_text(fields.get("KeyPrefixEquals")), error_code)


def _redirect(node: ET.Element) -> Redirect:
    fields = _children(
        node, ("HostName", "Protocol", "ReplaceKeyPrefixWith", "ReplaceKeyWith", "HttpRedirectCode")
    )
    if not fields:
        raise _invalid("Redirect must name at least one of its elements", "Redirect")
    if "ReplaceKeyPrefixWith" in fields and "ReplaceKeyWith" in fields:
        raise _invalid(
            "You can only define ReplaceKeyPrefix or ReplaceKey but not both.", "ReplaceKeyPrefixWith"
        )
    code = _code(
        fields.get("HttpRedirectCode"),
        "HttpRedirectCode",
        range(301, 400),
        "The provided HTTP redirect code ({value}) is not valid. Valid codes are 3XX except 300.",
    )
    host_name = _text(fields.get("HostName"))
    if host_name is not None and not host_name.strip():
        raise _invalid("The HostName of a Redirect cannot be empty", "HostName", host_name)
    return Redirect(
        host_name=host_name.strip() if host_name else None,
        protocol=_protocol(fields.get("Protocol")),
        replace_key_prefix_with=_text(fields.get("ReplaceKeyPrefixWith")),
        replace_key_with=_text(fields.get("ReplaceKeyWith")),
        http_redirect_code=code,
    )


# ---- stored form ----


def _to_json(config: WebsiteConfig) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if config.redirect_all is not None:
        document["redirect_all"] = {
            "host": config.redirect_all.host_name,
            "protocol": config.redirect_all.protocol,
        }
        return document
    document["index"] = config.index_suffix
    if config.error_key is not None:
        document["error"] = config.error_key
    if config.routing_rules:
        document["rules"] = [
            {
                "condition": None
                if rule.condition is None
                else [rule.condition.key_prefix_equals, rule.condition.http_error_code_returned_equals],
                "redirect": [
                    rule.redirect.host_name,
                    rule.redirect.protocol,
                    rule.redirect.replace_key_prefix_with,
                    rule.redirect.replace_key_with,
                    rule.redirect.http_redirect_code,
                ],
            }
            for rule in config.routing_rules
        ]
    return document


def _from_json(document: dict[str, Any]) -> WebsiteConfig:
    redirect_all = document.get("redirect_all")
    if redirect_all is not None:
        return WebsiteConfig(redirect_all=RedirectAll(redirect_all["host"], redirect_all.get("protocol")))
    rules = tuple(
        RoutingRule(
            Redirect(*rule["redirect"]),
            None if rule["condition"] is None else Condition(*rule["condition"]),
        )
        for rule in document.get("rules", ())
    )
    return WebsiteConfig(document["index"], document.get("error"), None, rules)


# ---- GetBucketWebsite ----


def website_document(config: WebsiteConfig) -> Element:
    root = element("WebsiteConfiguration")
    if config.redirect_all is not None:
        return root.add(
            element(
                "RedirectAllRequestsTo",
                None,
                element("HostName", config.redirect_all.host_name),
                optional("Protocol", config.redirect_all.protocol),
            )
        )
    root.add(element("IndexDocument", None, element("Suffix", config.index_suffix)))
    if config.error_key is not None:
        root.add(element("ErrorDocument", None, element("Key", config.error_key)))
    if config.routing_rules:
        root.add(Element("RoutingRules", None, [_rule_element(rule) for rule in config.routing_rules]))
    return root


def _rule_element(rule: RoutingRule) -> Element:
    condition = None
    if rule.condition is not None:
        condition = element(
            "Condition",
            None,
            optional("HttpErrorCodeReturnedEquals", rule.condition.http_error_code_returned_equals),
            optional("KeyPrefixEquals", rule.condition.key_prefix_equals),
        )
    redirect = rule.redirect
    return element(
        "RoutingRule",
        None,
        condition,
        element(
            "Redirect",
            None,
            optional("HostName", redirect.host_name),
            optional("HttpRedirectCode", redirect.http_redirect_code),
            optional("Protocol", redirect.protocol),
            optional("ReplaceKeyPrefixWith", redirect.replace_key_prefix_with),
            optional("ReplaceKeyWith", redirect.replace_key_with),
        ),
    )
