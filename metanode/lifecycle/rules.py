"""A bucket's lifecycle rules as values, their stored form, and which rule applies to an object when.

The gateway parses a ``LifecycleConfiguration`` document into these values (``gateway/lifecycle.py``)
and stores them as JSON in ``BucketInfo.lifecycle``; the metanode's worker reads the same JSON, so
neither side imports the other. A "day" is a parameter everywhere (tests make it seconds long).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DAY_MS = 86_400_000
FORMAT = 1


@dataclass(frozen=True)
class RuleFilter:
    """Which objects a rule covers: all of its conditions hold (no condition: every object)."""

    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than: int | None = None
    size_less_than: int | None = None
    # How the filter was written, so GetBucketLifecycleConfiguration gives it back in the same shape.
    legacy_prefix: bool = False  # a top-level <Prefix>, not a <Filter>
    uses_and: bool = False

    def matches(self, key: str, size: int, tags: Mapping[str, str]) -> bool:
        if not key.startswith(self.prefix):
            return False
        if any(tags.get(name) != value for name, value in self.tags):
            return False
        if self.size_greater_than is not None and not size > self.size_greater_than:
            return False
        return self.size_less_than is None or size < self.size_less_than


@dataclass(frozen=True)
class LifecycleRule:
    rule_id: str
    enabled: bool
    filter: RuleFilter = field(default_factory=RuleFilter)
    expiration_days: int | None = None
    expiration_date_ms: int | None = None  # midnight UTC
    expired_object_delete_marker: bool | None = None
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None
    abort_days: int | None = None

    def current_expiry_ms(self, last_modified_ms: int, day_ms: int) -> int | None:
        """When this rule expires a current version last modified at ``last_modified_ms``."""
        if self.expiration_date_ms is not None:
            return self.expiration_date_ms
        if self.expiration_days is None:
            return None
        return after_days(last_modified_ms, self.expiration_days, day_ms)


@dataclass(frozen=True)
class LifecycleConfiguration:
    rules: tuple[LifecycleRule, ...]

    @property
    def enabled_rules(self) -> tuple[LifecycleRule, ...]:
        return tuple(rule for rule in self.rules if rule.enabled)

    def expiration(
        self, key: str, size: int, tags: Mapping[str, str], last_modified_ms: int, day_ms: int
    ) -> tuple[int, str] | None:
        """(when, rule id) of the earliest Expiration that applies to this current version, if any."""
        found: tuple[int, str] | None = None
        for rule in self.enabled_rules:
            if not rule.filter.matches(key, size, tags):
                continue
            expiry_ms = rule.current_expiry_ms(last_modified_ms, day_ms)
            if expiry_ms is not None and (found is None or expiry_ms < found[0]):
                found = (expiry_ms, rule.rule_id)
        return found


def after_days(start_ms: int, days: int, day_ms: int) -> int:
    """``days`` after ``start_ms``; with real days, rounded up to the next midnight UTC as S3 does."""
    moment = start_ms + days * day_ms
    if day_ms != DAY_MS:
        return moment
    return -(-moment // DAY_MS) * DAY_MS


# ---- stored form ----


def encode_configuration(configuration: LifecycleConfiguration) -> bytes:
    rules = []
    for rule in configuration.rules:
        rule_filter = rule.filter
        rules.append(
            {
                "id": rule.rule_id,
                "enabled": rule.enabled,
                "filter": {
                    "prefix": rule_filter.prefix,
                    "tags": [list(tag) for tag in rule_filter.tags],
                    "size_greater_than": rule_filter.size_greater_than,
                    "size_less_than": rule_filter.size_less_than,
                    "legacy_prefix": rule_filter.legacy_prefix,
                    "uses_and": rule_filter.uses_and,
                },
                "expiration_days": rule.expiration_days,
                "expiration_date_ms": rule.expiration_date_ms,
                "expired_object_delete_marker": rule.expired_object_delete_marker,
                "noncurrent_days": rule.noncurrent_days,
                "newer_noncurrent_versions": rule.newer_noncurrent_versions,
                "abort_days": rule.abort_days,
            }
        )
    return json.dumps({"format": FORMAT, "rules": rules}, separators=(",", ":")).encode()


@functools.lru_cache(maxsize=256)
def decode_configuration(raw: bytes) -> LifecycleConfiguration:
    """The configuration stored in ``BucketInfo.lifecycle`` (parsed once per distinct bytes)."""
    document = json.loads(raw)
    if document.get("format") != FORMAT:
        raise ValueError(f"unknown lifecycle configuration format {document.get('format')!r}")
    return LifecycleConfiguration(tuple(_decode_rule(rule) for rule in document["rules"]))


def _decode_rule(rule: Mapping[str, Any]) -> LifecycleRule:
    stored_filter = rule["filter"]
    tags: Sequence[Sequence[str]] = stored_filter["tags"]
    return LifecycleRule(
        rule_id=rule["id"],
        enabled=rule["enabled"],
        filter=RuleFilter(
            prefix=stored_filter["prefix"],
            tags=tuple((name, value) for name, value in tags),
            size_greater_than=stored_filter["size_greater_than"],
            size_less_than=stored_filter["size_less_than"],
            legacy_prefix=stored_filter["legacy_prefix"],
            uses_and=stored_filter["uses_and"],
        ),
        expiration_days=rule["expiration_days"],
        expiration_date_ms=rule["expiration_date_ms"],
        expired_object_delete_marker=rule["expired_object_delete_marker"],
        noncurrent_days=rule["noncurrent_days"],
        newer_noncurrent_versions=rule["newer_noncurrent_versions"],
        abort_days=rule["abort_days"],
    )
