"""Which versions of a key a lifecycle pass removes, given the rules and the time (metanode/lifecycle/plan.py)."""

from __future__ import annotations

from metanode.lifecycle.plan import Action, ActionKind, VersionView, plan_key, upload_abort_rule
from metanode.lifecycle.rules import (
    DAY_MS,
    LifecycleConfiguration,
    LifecycleRule,
    RuleFilter,
    after_days,
    decode_configuration,
    encode_configuration,
)

DAY = 1000  # a one-second lifecycle day


def config(*rules: LifecycleRule) -> LifecycleConfiguration:
    return LifecycleConfiguration(rules)


def version(version_id: str, modified_ms: int, **fields: object) -> VersionView:
    return VersionView(version_id=version_id, last_modified_ms=modified_ms, **fields)  # type: ignore[arg-type]


def test_current_version_expires_once_its_days_have_passed() -> None:
    rules = config(LifecycleRule("r", True, expiration_days=2))
    versions = [version("", 10_000, size=5)]
    assert plan_key(rules, "k", versions, 11_999, DAY) == []
    assert plan_key(rules, "k", versions, 12_000, DAY) == [Action(ActionKind.EXPIRE_CURRENT, "k", "", "r")]


def test_a_date_expires_every_matching_current_version_from_that_moment() -> None:
    rules = config(LifecycleRule("d", True, expiration_date_ms=50_000))
    versions = [version("v2", 49_000), version("v1", 1_000)]
    assert plan_key(rules, "k", versions, 49_999, DAY) == []
    assert plan_key(rules, "k", versions, 50_000, DAY) == [Action(ActionKind.EXPIRE_CURRENT, "k", "v2", "d")]


def test_disabled_rules_and_filters_that_do_not_match_do_nothing() -> None:
    versions = [version("", 0, size=100, tags={"team": "a"})]
    late = 10**9
    for rule_filter in (
        RuleFilter(prefix="logs/"),
        RuleFilter(tags=(("team", "b"),)),
        RuleFilter(size_greater_than=100),
        RuleFilter(size_less_than=100),
    ):
        assert (
            plan_key(
                config(LifecycleRule("r", True, rule_filter, expiration_days=1)), "k", versions, late, DAY
            )
            == []
        )
    assert plan_key(config(LifecycleRule("r", False, expiration_days=1)), "k", versions, late, DAY) == []
    matching = RuleFilter(tags=(("team", "a"),), size_greater_than=99, size_less_than=101, uses_and=True)
    assert plan_key(config(LifecycleRule("r", True, matching, expiration_days=1)), "k", versions, late, DAY)


def test_noncurrent_days_count_from_when_the_successor_was_written() -> None:
    rules = config(LifecycleRule("n", True, noncurrent_days=3))
    versions = [version("v3", 20_000), version("v2", 10_000), version("v1", 0)]
    # v2 became noncurrent at 20 000, v1 at 10 000.
    assert plan_key(rules, "k", versions, 12_999, DAY) == []
    assert plan_key(rules, "k", versions, 13_000, DAY) == [Action(ActionKind.REMOVE_VERSION, "k", "v1", "n")]
    assert plan_key(rules, "k", versions, 23_000, DAY) == [
        Action(ActionKind.REMOVE_VERSION, "k", "v2", "n"),
        Action(ActionKind.REMOVE_VERSION, "k", "v1", "n"),
    ]


def test_newer_noncurrent_versions_keeps_that_many_of_the_newest_noncurrent_ones() -> None:
    rules = config(LifecycleRule("n", True, noncurrent_days=1, newer_noncurrent_versions=2))
    versions = [version(f"v{n}", n * 1000) for n in range(5, 0, -1)]
    removed = [action.version_id for action in plan_key(rules, "k", versions, 10**9, DAY)]
    assert removed == ["v2", "v1"]


def test_a_lone_delete_marker_goes_with_expired_object_delete_marker_or_old_enough_days() -> None:
    marker = [version("m", 5_000, is_delete_marker=True)]
    flagged = config(LifecycleRule("e", True, expired_object_delete_marker=True))
    assert plan_key(flagged, "k", marker, 5_000, DAY) == [Action(ActionKind.REMOVE_VERSION, "k", "m", "e")]
    by_days = config(LifecycleRule("d", True, expiration_days=2))
    assert plan_key(by_days, "k", marker, 6_999, DAY) == []
    assert plan_key(by_days, "k", marker, 7_000, DAY) == [Action(ActionKind.REMOVE_VERSION, "k", "m", "d")]


def test_a_delete_marker_in_front_of_older_versions_is_left_alone() -> None:
    rules = config(LifecycleRule("e", True, expired_object_delete_marker=True))
    versions = [version("m", 5_000, is_delete_marker=True), version("v1", 0)]
    assert plan_key(rules, "k", versions, 10**9, DAY) == []


def test_a_tag_filter_never_matches_a_delete_marker() -> None:
    rules = config(LifecycleRule("d", True, RuleFilter(tags=(("a", "b"),)), expiration_days=1))
    assert plan_key(rules, "k", [version("m", 0, is_delete_marker=True)], 10**9, DAY) == []


def test_uploads_are_aborted_days_after_initiation_under_a_matching_prefix() -> None:
    rules = config(LifecycleRule("a", True, RuleFilter(prefix="tmp/"), abort_days=1))
    assert upload_abort_rule(rules, "tmp/x", 1_000, 1_999, DAY) is None
    assert upload_abort_rule(rules, "tmp/x", 1_000, 2_000, DAY) == "a"
    assert upload_abort_rule(rules, "keep/x", 1_000, 10**9, DAY) is None


def test_real_days_round_up_to_the_next_midnight_utc() -> None:
    assert after_days(DAY_MS + 1, 1, DAY_MS) == 3 * DAY_MS
    assert after_days(DAY_MS, 1, DAY_MS) == 2 * DAY_MS
    assert after_days(1, 1, 1000) == 1001


def test_the_earliest_matching_expiration_is_reported_for_an_object() -> None:
    rules = config(
        LifecycleRule("late", True, expiration_days=10),
        LifecycleRule("soon", True, RuleFilter(prefix="a"), expiration_days=2),
        LifecycleRule("off", False, expiration_days=1),
    )
    assert rules.expiration("abc", 1, {}, 0, DAY) == (2000, "soon")
    assert rules.expiration("xyz", 1, {}, 0, DAY) == (10_000, "late")


def test_the_stored_form_round_trips() -> None:
    rules = config(
        LifecycleRule(
            "all",
            True,
            RuleFilter("p/", (("k", "v"), ("k2", "")), 1, 99, uses_and=True),
            expiration_days=3,
            noncurrent_days=2,
            newer_noncurrent_versions=4,
        ),
        LifecycleRule("legacy", False, RuleFilter("x", legacy_prefix=True), abort_days=7),
        LifecycleRule("dated", True, expiration_date_ms=DAY_MS * 20_000),
        LifecycleRule("marker", True, expired_object_delete_marker=True),
    )
    assert decode_configuration(encode_configuration(rules)) == rules
