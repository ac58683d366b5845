"""A bucket's CORS configuration: parsed and validated as S3 does, stored canonical, matched to requests.

The configuration is stored in ``BucketInfo.cors`` as its canonical XML (the document GetBucketCors
returns), and parsed again at most once per distinct stored bytes (:func:`stored_configuration`),
so a request pays one dictionary look-up to find the rule that applies to it. Rules are tried in
order and the first that matches wins, as in S3.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.s3 import errors
from gateway.s3.xml import Element, document, element, optional, parse

MAX_CORS_RULES = 100
MAX_CORS_DOCUMENT_BYTES = 64 * 1024
MAX_RULE_ID_CHARS = 255
CORS_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")

# Every answer that depends on a bucket's CORS rules varies with these request headers.
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

_RULE_FIELDS = frozenset(
    {"ID", "AllowedOrigin", "AllowedMethod", "AllowedHeader", "ExposeHeader", "MaxAgeSeconds"}
)


@dataclass(frozen=True)
class Pattern:
    """An origin or header name with at most one ``*`` (any run of characters, the empty one too)."""

    text: str
    case_sensitive: bool

    def matches(self, value: str) -> bool:
        pattern, candidate = (self.text, value) if self.case_sensitive else (self.text.lower(), value.lower())
        head, star, tail = pattern.partition("*")
        if not star:
            return candidate == pattern
        return (
            len(candidate) >= len(head) + len(tail)
            and candidate.startswith(head)
            and candidate.endswith(tail)
        )


@dataclass(frozen=True)
class CorsRule:
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    rule_id: str | None = None

    def matching_origin(self, origin: str) -> str | None:
        """The first AllowedOrigin that admits ``origin`` (None: none does)."""
        for allowed in self.allowed_origins:
            if Pattern(allowed, case_sensitive=True).matches(origin):
                return allowed
        return None

    def allows_headers(self, requested: Iterable[str]) -> bool:
        patterns = [Pattern(allowed, case_sensitive=False) for allowed in self.allowed_headers]
        return all(any(pattern.matches(name) for pattern in patterns) for name in requested)


@dataclass(frozen=True)
class CorsConfiguration:
    rules: tuple[CorsRule, ...]

    def match(self, origin: str, method: str, requested_headers: Iterable[str] = ()) -> CorsMatch | None:
        """The first rule admitting the origin, the method and every requested header, as S3 picks it."""
        requested = tuple(requested_headers)
        for rule in self.rules:
            if method not in rule.allowed_methods:
                continue
            allowed_origin = rule.matching_origin(origin)
            if allowed_origin is None or not rule.allows_headers(requested):
                continue
            return CorsMatch(rule, origin, allowed_origin == "*")
        return None


@dataclass(frozen=True)
class CorsMatch:
    """A request admitted by a rule, and the response headers that say so."""

    rule: CorsRule
    origin: str
    any_origin: bool  # the rule admits every origin ("*"): the answer names none and allows no credentials

    def response_headers(self) -> dict[str, str]:
        """Headers of an actual (non-preflight) request's response."""
        headers = {"Access-Control-Allow-Origin": "*" if self.any_origin else self.origin}
        if not self.any_origin:
            headers["Access-Control-Allow-Credentials"] = "true"
        headers["Access-Control-Allow-Methods"] = ", ".join(self.rule.allowed_methods)
        if self.rule.expose_headers:
            headers["Access-Control-Expose-Headers"] = ", ".join(self.rule.expose_headers)
        if self.rule.max_age_seconds is not None:
            headers["Access-Control-Max-Age"] = str(self.rule.max_age_seconds)
        headers["Vary"] = VARY
        return headers

    def preflight_headers(self, requested_headers: Iterable[str]) -> dict[str, str]:
        """Headers of a preflight's answer: the actual request's, plus the headers it may send."""
        headers = self.response_headers()
        requested = list(requested_headers)
        if requested:
            headers["Access-Control-Allow-Headers"] = ", ".join(requested)
        return headers


def requested_header_names(value: str | None) -> list[str]:
    """The names of an ``Access-Control-Request-Headers`` list, lower-cased (header names are)."""
    if not value:
        return []
    return [name.strip().lower() for name in value.split(",") if name.strip()]


# ---- parsing and validation ----


def parse_cors_configuration(body: bytes) -> CorsConfiguration:
    """A ``CORSConfiguration`` request body; MalformedXML or InvalidRequest as S3 refuses it."""
    if len(body) > MAX_CORS_DOCUMENT_BYTES or not body.strip():
        raise errors.MalformedXML()
    root = parse(body, "CORSConfiguration")
    rules: list[CorsRule] = []
    for child in root:
        if child.tag != "CORSRule":
            raise errors.MalformedXML()
        rules.append(_parse_rule(child))
    if not rules or len(rules) > MAX_CORS_RULES:
        raise errors.MalformedXML()
    return CorsConfiguration(tuple(rules))


def _parse_rule(node: ET.Element) -> CorsRule:
    values: dict[str, list[str]] = {name: [] for name in _RULE_FIELDS}
    for child in node:
        if child.tag not in _RULE_FIELDS or len(child):
            raise errors.MalformedXML()
        values[child.tag].append((child.text or "").strip())
    origins, methods = values["AllowedOrigin"], values["AllowedMethod"]
    if not origins or not methods or len(values["ID"]) > 1 or len(values["MaxAgeSeconds"]) > 1:
        raise errors.MalformedXML()
    if "" in methods:  # an origin may be empty (it admits no browser); a method may not
        raise errors.MalformedXML()
    for method in methods:
        if method not in CORS_METHODS:
            raise errors.InvalidRequest(
                f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
            )
    for kind in ("AllowedOrigin", "AllowedHeader"):
        for value in values[kind]:
            if value.count("*") > 1:
                raise errors.InvalidRequest(f'{kind} "{value}" can not have more than one wildcard.')
    for value in values["ExposeHeader"]:
        if "*" in value:
            raise errors.InvalidRequest(
                f'ExposeHeader "{value}" contains wildcard. We currently do not support wildcard '
                "for ExposeHeader."
            )
    rule_id = values["ID"][0] if values["ID"] else None
    if rule_id is not None and len(rule_id) > MAX_RULE_ID_CHARS:
        raise errors.InvalidArgument(
            f"The ID of a CORS rule is at most {MAX_RULE_ID_CHARS} characters.", ArgumentName="ID"
        )
    return CorsRule(
        allowed_origins=tuple(origins),
        allowed_methods=tuple(dict.fromkeys(methods)),
        allowed_headers=tuple(values["AllowedHeader"]),
        expose_headers=tuple(values["ExposeHeader"]),
        max_age_seconds=_max_age(values["MaxAgeSeconds"]),
        rule_id=rule_id,
    )


def _max_age(values: list[str]) -> int | None:
    if not values:
        return None
    text = values[0]
    if not text.isascii() or not text.isdigit():
        raise errors.MalformedXML()
    return int(text)


# ---- the stored form ----


def configuration_document(configuration: CorsConfiguration) -> bytes:
    """The canonical XML of a configuration: what is stored, and what GetBucketCors returns."""
    return document(Element("CORSConfiguration", None, [_rule_element(rule) for rule in configuration.rules]))


def _rule_element(rule: CorsRule) -> Element:
    children: list[Element | None] = [optional("ID", rule.rule_id)]
    children.extend(element("AllowedHeader", value) for value in rule.allowed_headers)
    children.extend(element("AllowedMethod", value) for value in rule.allowed_methods)
    children.extend(element("AllowedOrigin", value) for value in rule.allowed_origins)
    children.extend(element("ExposeHeader", value) for value in rule.expose_headers)
    children.append(optional("MaxAgeSeconds", rule.max_age_seconds))
    return Element("CORSRule", None, children)


# 256 documents of at most 64 KiB: the cache stays a few MiB even with the largest configurations.
@functools.lru_cache(maxsize=256)
def stored_configuration(stored: bytes) -> CorsConfiguration:
    """The configuration of a bucket's stored bytes, parsed once per distinct content."""
    return parse_cors_configuration(stored)


def bucket_match(
    stored: bytes, headers: Mapping[str, str], method: str, requested_headers: Iterable[str] = ()
) -> CorsMatch | None:
    """The rule of a bucket's stored configuration admitting a request with these headers, if any."""
    origin = headers.get("Origin")
    if not stored or origin is None:
        return None
    return stored_configuration(stored).match(origin, method, requested_headers)
