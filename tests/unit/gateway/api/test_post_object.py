"""Policy documents of browser form uploads: parsing and condition checks."""

from __future__ import annotations

import base64
import json

import pytest

from gateway.api.post_object import check_policy, parse_policy
from gateway.s3 import errors

NOW = 1_700_000_000.0
LATER = "2023-11-14T23:00:00.000Z"  # after NOW


def encode(document: object) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def policy(*conditions: object, expiration: str = LATER):  # type: ignore[no-untyped-def]
    return parse_policy(encode({"expiration": expiration, "conditions": list(conditions)}))


def test_conditions_of_every_form() -> None:
    parsed = policy(
        {"bucket": "b"},
        ["eq", "$Key", "k"],
        ["starts-with", "$Content-Type", "image/"],
        ["content-length-range", 1, 10],
    )
    assert [(c.operator, c.field) for c in parsed.conditions] == [
        ("eq", "bucket"),
        ("eq", "key"),
        ("starts-with", "content-type"),
        ("content-length-range", ""),
    ]
    assert parsed.size_range() == (1, 10)
    check_policy(parsed, {"bucket": "b", "key": "k", "content-type": "image/png"}, NOW)


@pytest.mark.parametrize(
    "document",
    [
        "not base64!",
        encode([1, 2]),
        encode({"conditions": []}),
        encode({"expiration": "yesterday", "conditions": []}),
        encode({"expiration": LATER}),
        encode({"expiration": LATER, "conditions": [["eq", "key", "no-dollar"]]}),
        encode({"expiration": LATER, "conditions": [["content-length-range", 10, 1]]}),
        encode({"expiration": LATER, "conditions": [["matches", "$key", "x"]]}),
    ],
)
def test_malformed_policies_are_invalid_policy_documents(document: str) -> None:
    with pytest.raises(errors.InvalidPolicyDocument):
        parse_policy(document)


def test_expired_policy_is_denied() -> None:
    with pytest.raises(errors.AccessDenied, match="expired"):
        check_policy(policy(expiration="2023-11-14T00:00:00Z"), {}, NOW)


def test_failed_condition_and_extra_field_are_denied() -> None:
    parsed = policy({"bucket": "b"}, ["starts-with", "$key", "user/"])
    with pytest.raises(errors.AccessDenied, match="Condition failed"):
        check_policy(parsed, {"bucket": "b", "key": "other/x"}, NOW)
    with pytest.raises(errors.AccessDenied, match="Extra input fields: x-amz-meta-a"):
        check_policy(parsed, {"bucket": "b", "key": "user/x", "x-amz-meta-a": "1"}, NOW)
    # Signature fields, the file and x-ignore-* fields need no condition.
    fields = {"bucket": "b", "key": "user/x", "policy": "p", "x-amz-signature": "s", "x-ignore-me": "1"}
    check_policy(parsed, fields, NOW)


def test_tightest_content_length_range_wins() -> None:
    parsed = policy(["content-length-range", 0, 100], ["content-length-range", 5, 50])
    assert parsed.size_range() == (5, 50)
    assert policy().size_range() == (0, None)
