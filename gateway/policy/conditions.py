"""Condition operators: each ``Condition`` entry compiles once into a :class:`Condition` test.

An entry is ``[ForAnyValue:|ForAllValues:]<Operator>[IfExists]: {key: value | [values]}``. The
policy's values are parsed when the document is compiled (numbers, dates, CIDRs, base64), so a
request only compares. Semantics follow IAM: values of one key are ORed, keys and operators are
ANDed; a negated operator (``StringNotEquals``...) holds when no value matches; a missing key fails a
positive operator, satisfies a negated one and any ``...IfExists`` form; ``ForAllValues`` holds for
an absent or empty key, ``ForAnyValue`` needs at least one request value.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from gateway.policy.patterns import compile_wildcard
from gateway.policy.variables import Part, has_variables, literal, parse_template, pattern_matches

SetQualifier = Literal["", "ForAnyValue", "ForAllValues"]
ValueTest = Callable[[str], bool]  # true when one request value matches one of the policy's values

INVALID_OPERATOR = "Invalid Condition type : {operator}"
INVALID_VALUE = "Invalid Condition value for {operator}: {value}"


class ConditionError(ValueError):
    """A Condition entry that cannot be compiled; the message is the one the client gets."""


@dataclass(frozen=True)
class Condition:
    key: str  # lower-cased condition key
    operator: str  # as written in the policy
    base: str  # the positive operator family member, e.g. "StringEquals" for "StringNotEqualsIfExists"
    values: tuple[str, ...]  # the policy's values, as written
    matches_value: ValueTest  # the positive form of the operator
    negated: bool
    if_exists: bool
    qualifier: SetQualifier
    is_null_check: bool = False
    null_expected: bool = False
    # String operators whose values hold policy variables: the values as parts, filled per request.
    templates: tuple[tuple[Part, ...], ...] | None = None

    def holds(self, values: Sequence[str] | None, context: Mapping[str, Sequence[str]] | None = None) -> bool:
        """Whether the condition holds for the request's ``values`` of its key; ``context`` (every
        key of the request) fills in policy variables."""
        if self.is_null_check:
            return (values is None) == self.null_expected
        matches_value = self.matches_value
        if self.templates is not None:
            matches_value = _filled_in_test(self.base, self.templates, context or {})
        if self.qualifier == "ForAllValues":
            if not values:
                return True
            return all(matches_value(value) != self.negated for value in values)
        if values is None:
            return self.if_exists or (self.negated and self.qualifier == "")
        if self.qualifier == "ForAnyValue":
            return any(matches_value(value) != self.negated for value in values)
        hit = any(matches_value(value) for value in values)
        return hit != self.negated


def _filled_in_test(
    base: str, templates: tuple[tuple[Part, ...], ...], context: Mapping[str, Sequence[str]]
) -> ValueTest:
    if base == "StringLike":
        return lambda candidate: any(pattern_matches(parts, context, candidate) for parts in templates)
    filled = [value for value in (literal(parts, context) for parts in templates) if value is not None]
    return _string_equals(filled, ignore_case=base == "StringEqualsIgnoreCase")


# ---- value tests, one builder per operator family --------------------------------------------------


def _string_equals(values: Sequence[str], ignore_case: bool) -> ValueTest:
    if ignore_case:
        folded = frozenset(value.casefold() for value in values)
        return lambda candidate: candidate.casefold() in folded
    exact = frozenset(values)
    return lambda candidate: candidate in exact


def _string_like(values: Sequence[str]) -> ValueTest:
    regex = re.compile("|".join(f"(?:{compile_wildcard(value).pattern})" for value in values), re.DOTALL)
    return lambda candidate: regex.fullmatch(candidate) is not None


def _parse_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else number


@functools.lru_cache(maxsize=1024)
def _parse_date(text: str) -> float | None:
    """Seconds since the epoch from an ISO 8601 date/time or a count of epoch seconds.

    Cached: a request's aws:CurrentTime is the same string for a whole second.
    """
    candidate = text.strip()
    if "-" not in candidate[1:]:
        return _parse_number(candidate)
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "Equals": lambda request, policy: request == policy,
    "LessThan": lambda request, policy: request < policy,
    "LessThanEquals": lambda request, policy: request <= policy,
    "GreaterThan": lambda request, policy: request > policy,
    "GreaterThanEquals": lambda request, policy: request >= policy,
}


def _ordered(
    operator: str, comparison: str, values: Sequence[str], parse: Callable[[str], float | None]
) -> ValueTest:
    compare = _COMPARISONS[comparison]
    limits: list[float] = []
    for value in values:
        parsed = parse(value)
        if parsed is None:
            raise ConditionError(INVALID_VALUE.format(operator=operator, value=value))
        limits.append(parsed)

    def test(candidate: str) -> bool:
        number = parse(candidate)
        return number is not None and any(compare(number, limit) for limit in limits)

    return test


def _bool(operator: str, values: Sequence[str]) -> ValueTest:
    expected: set[str] = set()
    for value in values:
        if value.lower() not in ("true", "false"):
            raise ConditionError(INVALID_VALUE.format(operator=operator, value=value))
        expected.add(value.lower())
    return lambda candidate: candidate.lower() in expected


def _binary(operator: str, values: Sequence[str]) -> ValueTest:
    expected: set[bytes] = set()
    for value in values:
        try:
            expected.add(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise ConditionError(INVALID_VALUE.format(operator=operator, value=value)) from None
    return lambda candidate: candidate.encode("utf-8") in expected


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(operator: str, values: Sequence[str]) -> tuple[IpNetwork, ...]:
    networks: list[IpNetwork] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ConditionError(INVALID_VALUE.format(operator=operator, value=value)) from None
    return tuple(networks)


@functools.lru_cache(maxsize=4096)
def _request_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The request's address (IPv4-mapped IPv6 as IPv4); cached, clients repeat their address."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _ip(operator: str, values: Sequence[str]) -> ValueTest:
    networks = parse_networks(operator, values)

    def test(candidate: str) -> bool:
        address = _request_address(candidate)
        return address is not None and any(
            address.version == network.version and address in network for network in networks
        )

    return test


def _arn(values: Sequence[str]) -> ValueTest:
    # ARNs compare component by component (six colon-separated parts), wildcards within a part.
    patterns = [
        tuple(compile_wildcard(part) for part in value.split(":", 5))
        for value in values
        if value.count(":") >= 5 or value == "*"
    ]
    match_all = "*" in values

    def test(candidate: str) -> bool:
        if match_all:
            return True
        parts = candidate.split(":", 5)
        return any(
            len(parts) == len(pattern)
            and all(p.fullmatch(part) for p, part in zip(pattern, parts, strict=True))
            for pattern in patterns
        )

    return test


_NEGATIONS = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _value_test(operator: str, base: str, values: Sequence[str]) -> ValueTest:
    if base == "StringEquals":
        return _string_equals(values, ignore_case=False)
    if base == "StringEqualsIgnoreCase":
        return _string_equals(values, ignore_case=True)
    if base == "StringLike":
        return _string_like(values)
    if base.startswith("Numeric") and base[len("Numeric") :] in _COMPARISONS:
        return _ordered(operator, base[len("Numeric") :], values, _parse_number)
    if base.startswith("Date") and base[len("Date") :] in _COMPARISONS:
        return _ordered(operator, base[len("Date") :], values, _parse_date)
    if base == "Bool":
        return _bool(operator, values)
    if base == "BinaryEquals":
        return _binary(operator, values)
    if base == "IpAddress":
        return _ip(operator, values)
    if base in ("ArnEquals", "ArnLike"):
        return _arn(values)
    raise ConditionError(INVALID_OPERATOR.format(operator=operator))


@dataclass(frozen=True)
class ParsedOperator:
    qualifier: SetQualifier
    base: str  # the positive operator, e.g. "StringEquals" for "StringNotEqualsIfExists"
    negated: bool
    if_exists: bool
    is_null: bool


def parse_operator(operator: str) -> ParsedOperator:
    qualifier: SetQualifier = ""
    name = operator
    for prefix in ("ForAnyValue", "ForAllValues"):
        if name.startswith(prefix + ":"):
            qualifier = prefix  # type: ignore[assignment]
            name = name[len(prefix) + 1 :]
    if_exists = name.endswith("IfExists")
    if if_exists:
        name = name[: -len("IfExists")]
    if name == "Null":
        if if_exists:
            raise ConditionError(INVALID_OPERATOR.format(operator=operator))
        return ParsedOperator(qualifier, "Null", False, False, True)
    negated = name in _NEGATIONS
    base = _NEGATIONS.get(name, name)
    known = {
        "StringEquals",
        "StringEqualsIgnoreCase",
        "StringLike",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "ArnEquals",
        "ArnLike",
        *(f"Numeric{comparison}" for comparison in _COMPARISONS),
        *(f"Date{comparison}" for comparison in _COMPARISONS),
    }
    if base not in known:
        raise ConditionError(INVALID_OPERATOR.format(operator=operator))
    return ParsedOperator(qualifier, base, negated, if_exists, False)


_TEMPLATED_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike"})


def compile_condition(operator: str, key: str, values: Sequence[str], variables: bool = False) -> Condition:
    """One (operator, key, values) triple; ``key`` already validated and lower-cased.

    ``variables``: the policy's version has policy variables (2012-10-17).
    """
    parsed = parse_operator(operator)
    if variables and parsed.base in _TEMPLATED_OPERATORS and any(has_variables(value) for value in values):
        return Condition(
            key,
            operator,
            parsed.base,
            tuple(values),
            lambda _candidate: False,
            negated=parsed.negated,
            if_exists=parsed.if_exists,
            qualifier=parsed.qualifier,
            templates=tuple(parse_template(value) for value in values),
        )
    if parsed.is_null:
        flags = {value.lower() for value in values}
        if not flags or not flags <= {"true", "false"} or len(flags) > 1:
            raise ConditionError(INVALID_VALUE.format(operator=operator, value=",".join(values)))
        return Condition(
            key,
            operator,
            "Null",
            tuple(values),
            lambda _candidate: False,
            negated=False,
            if_exists=False,
            qualifier=parsed.qualifier,
            is_null_check=True,
            null_expected=flags == {"true"},
        )
    return Condition(
        key,
        operator,
        parsed.base,
        tuple(values),
        _value_test(operator, parsed.base, values),
        negated=parsed.negated,
        if_exists=parsed.if_exists,
        qualifier=parsed.qualifier,
    )
