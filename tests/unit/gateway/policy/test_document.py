"""Parsing and validating bucket policy documents: what is accepted, and AWS's MalformedPolicy messages."""

from __future__ import annotations

import json

import pytest

from gateway.policy import MAX_POLICY_BYTES, parse_policy
from gateway.s3 import errors
from tests.unit.gateway.policy.conftest import BART, BUCKET, LISA, document, statement


def malformed(raw: bytes, accounts: list | None = None) -> str:  # type: ignore[type-arg]
    with pytest.raises(errors.MalformedPolicy) as caught:
        parse_policy(raw, bucket=BUCKET, accounts=accounts if accounts is not None else [BART, LISA])
    assert caught.value.status == 400
    return caught.value.message


def test_a_valid_policy_is_compiled_and_kept_compact() -> None:
    raw = (
        b'{\n  "Version": "2012-10-17",\n  "Id": "p1",\n  "Statement": [\n    {"Sid": "a", "Effect": "Allow",'
    )
    raw += b' "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}\n  ]\n}\n'
    policy = parse_policy(raw, bucket=BUCKET, accounts=[BART])
    assert policy.version == "2012-10-17"
    assert policy.policy_id == "p1"
    assert len(policy.statements) == 1
    assert policy.compact == json.dumps(json.loads(raw), separators=(",", ":")).encode()
    assert b" " not in policy.compact and b"\n" not in policy.compact


def test_one_statement_object_is_accepted_as_a_list_of_one() -> None:
    raw = json.dumps({"Version": "2008-10-17", "Statement": statement()}).encode()
    assert len(parse_policy(raw, bucket=BUCKET).statements) == 1


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1, 2]", b'{"Version": "2012-10-17",', b"\xff\xfe{}", b'"{"', b'{"a": NaN}'],
)
def test_documents_that_are_not_a_json_object_are_refused(raw: bytes) -> None:
    assert malformed(raw) == "Policies must be valid JSON and the first byte must be '{'"


@pytest.mark.parametrize("statements", [None, [], "text"])
def test_a_missing_or_empty_statement_is_refused(statements: object) -> None:
    raw = json.dumps(
        {"Version": "2012-10-17", **({"Statement": statements} if statements is not None else {})}
    )
    assert malformed(raw.encode()) == "Missing required field Statement"


def test_an_unknown_version_is_refused() -> None:
    assert (
        malformed(document(statement(), Version="2010-01-01"))
        == "The policy must contain a valid version string"
    )


def test_unknown_fields_are_refused() -> None:
    assert malformed(document(statement(), Extra=1)) == "Unknown field Extra"
    assert malformed(document(statement(Actions="s3:GetObject"))) == "Unknown field Actions"


def test_effect_is_required_and_must_be_allow_or_deny() -> None:
    assert malformed(document(statement(Effect=None))) == "Missing required field Effect"
    assert malformed(document(statement(Effect="hello"))) == "Invalid effect: hello"


@pytest.mark.parametrize("field", ["Principal", "Action", "Resource"])
def test_each_of_principal_action_resource_is_required(field: str) -> None:
    assert malformed(document(statement(**{field: None}))) == f"Missing required field {field}"


def test_a_field_and_its_not_form_together_are_refused() -> None:
    message = malformed(document(statement(NotAction="s3:PutObject")))
    assert message == "Statement cannot contain both Action and NotAction"


def test_sids_must_be_unique() -> None:
    raw = document(statement(Sid="same"), statement(Sid="same", Effect="Deny"))
    assert malformed(raw) == "Statement IDs (SID) in a single policy must be unique"


@pytest.mark.parametrize(
    "action", ["invalid_action", "s3:GetObjekt", "ec2:RunInstances", "s3:Nothing*", "", 7]
)
def test_invalid_actions_are_refused(action: object) -> None:
    assert malformed(document(statement(Action=action))) == "Policy has invalid action"


@pytest.mark.parametrize(
    "action", ["s3:getobject", "S3:GETOBJECT", "s3:Get*", "s3:*", "*", "s3:GetObject?ersion"]
)
def test_actions_are_case_insensitive_and_take_wildcards(action: str) -> None:
    parse_policy(document(statement(Action=action)), bucket=BUCKET)


@pytest.mark.parametrize(
    "resource",
    [
        "<invalid_resource_value>",
        "arn:aws:s3:::other-bucket/*",
        "arn:aws:s3:::other-bucket",
        "arn:aws:s3:::",
        "arn:aws:s3:::/key",
        "arn:aws:ec2:::photos/*",
        "*",
    ],
)
def test_resources_outside_the_policys_bucket_are_invalid(resource: str) -> None:
    assert malformed(document(statement(Resource=resource))) == "Policy has invalid resource"


def test_resources_may_use_wildcards_that_cover_the_bucket() -> None:
    parse_policy(
        document(statement(Resource=["arn:aws:s3:::pho*/*", "arn:aws:s3:::photos/a?c"])), bucket=BUCKET
    )


def test_an_action_that_applies_to_none_of_the_resources_is_refused() -> None:
    raw = document(statement(Action="s3:PutObject", Resource=f"arn:aws:s3:::{BUCKET}"))
    assert malformed(raw) == "Action does not apply to any resource(s) in statement"
    parse_policy(
        document(statement(Action="s3:ListBucket", Resource=f"arn:aws:s3:::{BUCKET}")), bucket=BUCKET
    )


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": "user"},
        {"AWS": "999999999999"},
        {"AWS": "arn:aws:iam::999999999999:root"},
        {"AWS": "arn:aws:iam::123456789012:group/x"},
        {"CanonicalUser": "not-an-id"},
        {"CanonicalUser": "0" * 64},
        {"Federated": "cognito-identity.amazonaws.com"},
        {"AWS": []},
        {},
        "someone",
        ["*"],
    ],
)
def test_invalid_or_unknown_principals_are_refused(principal: object) -> None:
    assert malformed(document(statement(Principal=principal))) == "Invalid principal in policy"


@pytest.mark.parametrize(
    "principal",
    [
        "*",
        {"AWS": "*"},
        {"AWS": "123456789012"},
        {"AWS": ["arn:aws:iam::123456789012:root", "123456789013"]},
        {"AWS": "arn:aws:iam::123456789013:user/alice"},
        {"CanonicalUser": LISA.canonical_id},
        {"Service": "logging.s3.amazonaws.com"},
    ],
)
def test_valid_principals_are_accepted(principal: object) -> None:
    parse_policy(document(statement(Principal=principal)), bucket=BUCKET, accounts=[BART, LISA])


def test_an_unknown_condition_key_is_refused() -> None:
    raw = document(statement(Condition={"StringEquals": {"s3:no-such-key": "x"}}))
    assert malformed(raw) == "Policy has an invalid condition key"


@pytest.mark.parametrize(
    "operator", ["StringEqualz", "NullIfExists", "ForSomeValues:StringEquals", "IpAddres"]
)
def test_an_unknown_condition_operator_is_refused(operator: str) -> None:
    raw = document(statement(Condition={operator: {"aws:SourceIp": "10.0.0.0/8"}}))
    assert malformed(raw) == f"Invalid Condition type : {operator}"


@pytest.mark.parametrize(
    ("operator", "value"),
    [
        ("NumericLessThan", "ten"),
        ("DateGreaterThan", "yesterday"),
        ("IpAddress", "10.0.0.300/8"),
        ("Bool", "maybe"),
        ("BinaryEquals", "***"),
        ("Null", "perhaps"),
    ],
)
def test_condition_values_of_the_wrong_type_are_refused(operator: str, value: str) -> None:
    raw = document(statement(Condition={operator: {"aws:SourceIp": value}}))
    assert malformed(raw).startswith(f"Invalid Condition value for {operator}")


@pytest.mark.parametrize(
    "condition",
    [
        [],
        "x",
        {"StringEquals": "x"},
        {"StringEquals": {"aws:username": {"a": 1}}},
        {"StringLike": {"s3:prefix": []}},
    ],
)
def test_badly_shaped_condition_blocks_are_refused(condition: object) -> None:
    message = malformed(document(statement(Condition=condition)))
    assert message == "Condition must be a map of operators to maps of condition keys"


def test_tag_condition_keys_are_known() -> None:
    condition = {
        "StringEquals": {
            "s3:ExistingObjectTag/team": "a",
            "s3:RequestObjectTag/env": "b",
            "aws:ResourceTag/x": "c",
        },
        "ForAllValues:StringLike": {"s3:RequestObjectTagKeys": ["env", "te*"]},
    }
    parse_policy(document(statement(Condition=condition)), bucket=BUCKET)


def test_a_policy_over_20_kib_is_too_large() -> None:
    statements = [statement(Sid=f"s{index:04d}") for index in range(200)]
    raw = document(*statements)
    assert len(json.dumps(json.loads(raw), separators=(",", ":"))) > MAX_POLICY_BYTES
    with pytest.raises(errors.PolicyTooLarge):
        parse_policy(raw, bucket=BUCKET)


def test_whitespace_does_not_count_towards_the_size_limit() -> None:
    statements = [statement(Sid=f"s{index:04d}") for index in range(100)]
    raw = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=8).encode()
    assert len(raw) > MAX_POLICY_BYTES
    assert len(parse_policy(raw, bucket=BUCKET).compact) <= MAX_POLICY_BYTES
