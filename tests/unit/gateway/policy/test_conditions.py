"""Every condition operator family, with the IfExists forms and the ForAnyValue/ForAllValues qualifiers."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import pytest

from gateway.policy.conditions import compile_condition


def holds(operator: str, policy_values: Sequence[str], request_values: Sequence[str] | None) -> bool:
    return compile_condition(operator, "k", policy_values).holds(request_values)


@pytest.mark.parametrize(
    ("operator", "policy", "given", "expected"),
    [
        ("StringEquals", ["a", "b"], ["b"], True),
        ("StringEquals", ["a"], ["A"], False),
        ("StringEquals", ["a"], None, False),
        ("StringNotEquals", ["a"], ["b"], True),
        ("StringNotEquals", ["a", "b"], ["b"], False),
        ("StringNotEquals", ["a"], None, True),
        ("StringEqualsIgnoreCase", ["Photos"], ["pHOTOS"], True),
        ("StringNotEqualsIgnoreCase", ["Photos"], ["pHOTOS"], False),
        ("StringLike", ["home/*", "doc?.txt"], ["home/a/b"], True),
        ("StringLike", ["doc?.txt"], ["doc1.txt"], True),
        ("StringLike", ["doc?.txt"], ["doc12.txt"], False),
        ("StringNotLike", ["home/*"], ["etc/passwd"], True),
        ("StringNotLike", ["home/*"], ["home/x"], False),
        ("StringEqualsIfExists", ["a"], None, True),
        ("StringEqualsIfExists", ["a"], ["b"], False),
    ],
)
def test_string_operators(operator: str, policy: list[str], given: list[str] | None, expected: bool) -> None:
    assert holds(operator, policy, given) is expected


@pytest.mark.parametrize(
    ("operator", "policy", "given", "expected"),
    [
        ("NumericEquals", ["10"], ["10.0"], True),
        ("NumericNotEquals", ["10"], ["11"], True),
        ("NumericLessThan", ["10"], ["9"], True),
        ("NumericLessThan", ["10"], ["10"], False),
        ("NumericLessThanEquals", ["10"], ["10"], True),
        ("NumericGreaterThan", ["10"], ["11"], True),
        ("NumericGreaterThanEquals", ["10"], ["9"], False),
        ("NumericLessThan", ["10"], ["not-a-number"], False),
        ("NumericLessThanIfExists", ["10"], None, True),
        ("NumericLessThan", ["10"], None, False),
    ],
)
def test_numeric_operators(operator: str, policy: list[str], given: list[str] | None, expected: bool) -> None:
    assert holds(operator, policy, given) is expected


@pytest.mark.parametrize(
    ("operator", "policy", "given", "expected"),
    [
        ("DateEquals", ["2026-12-01T00:00:00Z"], ["2026-12-01T00:00:00Z"], True),
        ("DateNotEquals", ["2026-12-01T00:00:00Z"], ["2026-12-01T00:00:01Z"], True),
        ("DateLessThan", ["2026-12-01T00:00:00Z"], ["2026-11-30T23:59:59Z"], True),
        ("DateLessThan", ["2026-12-01"], ["2026-12-01T00:00:01Z"], False),
        ("DateLessThanEquals", ["2026-12-01T00:00:00+00:00"], ["1796083200"], True),
        ("DateGreaterThan", ["1796083200"], ["2026-12-01T00:00:01Z"], True),
        ("DateGreaterThanEquals", ["2026-12-01T01:00:00+01:00"], ["2026-12-01T00:00:00Z"], True),
        ("DateGreaterThanIfExists", ["2026-12-01T00:00:00Z"], None, True),
    ],
)
def test_date_operators(operator: str, policy: list[str], given: list[str] | None, expected: bool) -> None:
    assert holds(operator, policy, given) is expected


def test_bool_and_binary_operators() -> None:
    assert holds("Bool", ["true"], ["true"])
    assert holds("Bool", ["True"], ["false"]) is False
    assert holds("BoolIfExists", ["false"], None)
    encoded = base64.b64encode(b"secret").decode()
    assert holds("BinaryEquals", [encoded], ["secret"])
    assert holds("BinaryEquals", [encoded], ["other"]) is False


@pytest.mark.parametrize(
    ("operator", "policy", "given", "expected"),
    [
        ("IpAddress", ["127.0.0.0/24"], ["127.0.0.42"], True),
        ("IpAddress", ["127.0.0.0/24"], ["127.0.1.42"], False),
        ("IpAddress", ["127.0.0.7"], ["127.0.0.7"], True),
        ("IpAddress", ["2001:db8::/32"], ["2001:db8::1"], True),
        ("IpAddress", ["2001:db8::/32"], ["127.0.0.1"], False),
        ("IpAddress", ["127.0.0.0/8"], ["::ffff:127.0.0.5"], True),
        ("IpAddress", ["127.0.0.0/8"], ["garbage"], False),
        ("NotIpAddress", ["127.0.0.0/24"], ["127.0.1.42"], True),
        ("NotIpAddress", ["127.0.0.0/24", "10.0.0.0/8"], ["10.1.1.1"], False),
        ("NotIpAddress", ["127.0.0.0/24"], None, True),
        ("IpAddressIfExists", ["127.0.0.0/24"], None, True),
    ],
)
def test_ip_address_operators(
    operator: str, policy: list[str], given: list[str] | None, expected: bool
) -> None:
    assert holds(operator, policy, given) is expected


def test_null_checks_whether_the_key_is_absent() -> None:
    assert holds("Null", ["true"], None)
    assert holds("Null", ["true"], ["x"]) is False
    assert holds("Null", ["false"], ["x"])
    assert holds("Null", ["false"], None) is False


@pytest.mark.parametrize(
    ("operator", "policy", "given", "expected"),
    [
        ("ArnEquals", ["arn:aws:iam::123456789012:root"], ["arn:aws:iam::123456789012:root"], True),
        ("ArnLike", ["arn:aws:iam::*:root"], ["arn:aws:iam::123456789012:root"], True),
        ("ArnLike", ["arn:aws:iam::1234*:user/*"], ["arn:aws:iam::123456789012:user/a/b"], True),
        ("ArnLike", ["arn:aws:s3:::photos/*"], ["arn:aws:s3:::photos"], False),
        ("ArnNotLike", ["arn:aws:iam::*:root"], ["arn:aws:iam::123456789012:user/x"], True),
        ("ArnNotEquals", ["arn:aws:iam::123456789012:root"], ["arn:aws:iam::123456789012:root"], False),
        ("ArnLike", ["arn:aws:iam::*:root"], ["not-an-arn"], False),
        ("ArnLikeIfExists", ["arn:aws:iam::*:root"], None, True),
    ],
)
def test_arn_operators(operator: str, policy: list[str], given: list[str] | None, expected: bool) -> None:
    assert holds(operator, policy, given) is expected


@pytest.mark.parametrize(
    ("operator", "policy", "given", "expected"),
    [
        ("ForAnyValue:StringEquals", ["a", "b"], ["x", "b"], True),
        ("ForAnyValue:StringEquals", ["a", "b"], ["x", "y"], False),
        ("ForAnyValue:StringEquals", ["a"], None, False),
        ("ForAnyValue:StringEquals", ["a"], [], False),
        ("ForAnyValue:StringNotEquals", ["a"], ["a", "b"], True),
        ("ForAnyValue:StringNotEquals", ["a"], ["a"], False),
        ("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], True),
        ("ForAllValues:StringEquals", ["a", "b"], ["a", "c"], False),
        ("ForAllValues:StringEquals", ["a"], None, True),
        ("ForAllValues:StringEquals", ["a"], [], True),
        ("ForAllValues:StringNotLike", ["tmp*"], ["a", "b"], True),
        ("ForAllValues:StringNotLike", ["tmp*"], ["a", "tmp1"], False),
        ("ForAnyValue:StringLikeIfExists", ["a*"], None, True),
        ("ForAllValues:NumericLessThan", ["5"], ["1", "4"], True),
    ],
)
def test_set_qualifiers(operator: str, policy: list[str], given: list[str] | None, expected: bool) -> None:
    assert holds(operator, policy, given) is expected
