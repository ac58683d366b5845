"""What a lifecycle pass does to one object key, given all its versions and the time: a pure function.

Versions come newest first, as a versions listing gives them. The current version expires when an
Expiration (Days or Date) of a matching rule is due; a delete marker that is the only version left
goes when a rule asks for ExpiredObjectDeleteMarker or its Days have passed since the marker was
made (S3 cleans up such markers under a Days rule too); a noncurrent version goes NoncurrentDays
after it became noncurrent (its successor's last-modified time), unless it is one of the
NewerNoncurrentVersions newest noncurrent versions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from metanode.lifecycle.rules import LifecycleConfiguration, LifecycleRule, after_days


class ActionKind(enum.Enum):
    EXPIRE_CURRENT = "expire-current"  # what a DeleteObject without a version id does
    REMOVE_VERSION = "remove-version"  # a DeleteObject of exactly this version


@dataclass(frozen=True)
class VersionView:
    version_id: str  # as clients see it ("null" for the null version, "" when unversioned)
    last_modified_ms: int
    size: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)
    is_delete_marker: bool = False


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    key: str
    version_id: str
    rule_id: str


def _matching(rules: Sequence[LifecycleRule], key: str, version: VersionView) -> list[LifecycleRule]:
    size = 0 if version.is_delete_marker else version.size
    tags: Mapping[str, str] = {} if version.is_delete_marker else version.tags
    return [rule for rule in rules if rule.filter.matches(key, size, tags)]


def plan_key(
    configuration: LifecycleConfiguration,
    key: str,
    versions: Sequence[VersionView],
    now_ms: int,
    day_ms: int,
) -> list[Action]:
    rules = configuration.enabled_rules
    if not versions or not rules:
        return []
    actions: list[Action] = []
    latest = versions[0]
    for rule in _matching(rules, key, latest):
        if latest.is_delete_marker:
            if len(versions) > 1:
                break  # a delete marker in front of older versions is left alone
            due = rule.expired_object_delete_marker or (
                rule.expiration_days is not None
                and after_days(latest.last_modified_ms, rule.expiration_days, day_ms) <= now_ms
            )
            if due:
                actions.append(Action(ActionKind.REMOVE_VERSION, key, latest.version_id, rule.rule_id))
                break
            continue
        expiry_ms = rule.current_expiry_ms(latest.last_modified_ms, day_ms)
        if expiry_ms is not None and expiry_ms <= now_ms:
            actions.append(Action(ActionKind.EXPIRE_CURRENT, key, latest.version_id, rule.rule_id))
            break
    for newer_noncurrent, (successor, version) in enumerate(zip(versions, versions[1:], strict=False)):
        for rule in _matching(rules, key, version):
            if rule.noncurrent_days is None:
                continue
            if newer_noncurrent < (rule.newer_noncurrent_versions or 0):
                continue
            if after_days(successor.last_modified_ms, rule.noncurrent_days, day_ms) <= now_ms:
                actions.append(Action(ActionKind.REMOVE_VERSION, key, version.version_id, rule.rule_id))
                break
    return actions


def upload_abort_rule(
    configuration: LifecycleConfiguration, key: str, initiated_ms: int, now_ms: int, day_ms: int
) -> str | None:
    """The id of the rule that aborts an upload of ``key`` initiated at ``initiated_ms``, if one is due."""
    for rule in configuration.enabled_rules:
        if rule.abort_days is None or not key.startswith(rule.filter.prefix):
            continue
        if after_days(initiated_ms, rule.abort_days, day_ms) <= now_ms:
            return rule.rule_id
    return None
