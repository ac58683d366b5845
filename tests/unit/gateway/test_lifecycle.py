"""LifecycleConfiguration documents parsed and refused as S3 does (gateway/lifecycle.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.lifecycle import configuration_document, expiration_header, parse_lifecycle_configuration
from gateway.s3 import errors
from metanode.lifecycle.rules import DAY_MS, RuleFilter, encode_configuration
from protos.metadata_pb2 import BucketInfo, ObjectMD


def document(*rules: str) -> bytes:
    return (
        "<LifecycleConfiguration>"
        + "".join(f"<Rule>{rule}</Rule>" for rule in rules)
        + "</LifecycleConfiguration>"
    ).encode()


def refusal(body: bytes) -> errors.S3Error:
    with pytest.raises(errors.S3Error) as raised:
        parse_lifecycle_configuration(body)
    return raised.value


def test_a_full_rule_is_parsed() -> None:
    rule = parse_lifecycle_configuration(
        document(
            "<ID>r1</ID><Status>Enabled</Status>"
            "<Filter><And><Prefix>logs/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag>"
            "<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>99</ObjectSizeLessThan></And></Filter>"
            "<Expiration><Days>3</Days></Expiration>"
            "<NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays>"
            "<NewerNoncurrentVersions>5</NewerNoncurrentVersions></NoncurrentVersionExpiration>"
        )
    ).rules[0]
    assert rule.rule_id == "r1" and rule.enabled
    assert rule.filter == RuleFilter("logs/", (("a", "1"),), 10, 99, uses_and=True)
    assert (rule.expiration_days, rule.noncurrent_days, rule.newer_noncurrent_versions) == (3, 2, 5)


def test_legacy_prefix_date_and_abort_are_parsed() -> None:
    rules = parse_lifecycle_configuration(
        document(
            "<ID>a</ID><Prefix>tmp/</Prefix><Status>Disabled</Status>"
            "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration>",
            "<ID>b</ID><Filter/><Status>Enabled</Status>"
            "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
        )
    ).rules
    assert rules[0].filter.legacy_prefix and not rules[0].enabled
    assert rules[0].expiration_date_ms is not None and rules[0].expiration_date_ms % DAY_MS == 0
    assert rules[1].abort_days == 1 and rules[1].filter == RuleFilter()


def test_a_rule_without_an_id_is_given_one() -> None:
    rule = parse_lifecycle_configuration(
        document("<Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>")
    ).rules[0]
    assert rule.rule_id


@pytest.mark.parametrize(
    ("rule", "code", "message"),
    [
        ("<Filter/><Status>On</Status><Expiration><Days>1</Days></Expiration>", "MalformedXML", None),
        ("<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>", "MalformedXML", None),
        (
            "<Prefix/><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>",
            "MalformedXML",
            None,
        ),
        (
            "<Filter/><Status>Enabled</Status><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>",
            "MalformedXML",
            None,
        ),
        (
            "<Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>",
            "MalformedXML",
            None,
        ),
        ("<Filter/><Status>Enabled</Status><Expiration><Days>x</Days></Expiration>", "MalformedXML", None),
        (
            "<Filter/><Status>Enabled</Status><Bogus/><Expiration><Days>1</Days></Expiration>",
            "MalformedXML",
            None,
        ),
        (
            "<Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>",
            "InvalidArgument",
            "'Days' for Expiration action must be a positive integer",
        ),
        (
            "<Filter/><Status>Enabled</Status><Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration>",
            "InvalidArgument",
            "'Date' must be at midnight GMT",
        ),
        (
            "<Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>-1</NoncurrentDays></NoncurrentVersionExpiration>",
            "InvalidArgument",
            "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
        ),
        (
            "<Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
            "InvalidArgument",
            "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
        ),
        (
            f"<ID>{'x' * 256}</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>",
            "InvalidArgument",
            "ID length should not exceed allowed limit of 255",
        ),
        (
            "<Filter/><Status>Enabled</Status>",
            "InvalidRequest",
            "At least one action needs to be specified in a rule",
        ),
        (
            "<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
            "InvalidRequest",
            None,
        ),
        (
            "<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
            "InvalidRequest",
            None,
        ),
        (
            "<Filter><And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>",
            "InvalidRequest",
            None,
        ),
        (
            "<Filter/><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>",
            "NotImplemented",
            None,
        ),
        (
            "<Filter/><Status>Enabled</Status><NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition>",
            "NotImplemented",
            None,
        ),
    ],
)
def test_bad_rules_get_the_s3_error(rule: str, code: str, message: str | None) -> None:
    error = refusal(document(rule))
    assert type(error).__name__ == code
    if message is not None:
        assert error.message == message


def test_duplicate_ids_empty_and_oversized_configurations_are_refused() -> None:
    rule = "<ID>same</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"
    assert (
        refusal(document(rule, rule)).message
        == "Rule ID must be unique. Found same ID for more than one rule"
    )
    assert type(refusal(document())).__name__ == "MalformedXML"
    assert type(refusal(b"")).__name__ == "MalformedXML"
    many = [
        f"<ID>r{n}</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"
        for n in range(1001)
    ]
    assert type(refusal(document(*many))).__name__ == "MalformedXML"


def test_the_rendered_document_parses_back_to_the_same_rules() -> None:
    configuration = parse_lifecycle_configuration(
        document(
            "<ID>a</ID><Prefix>tmp/</Prefix><Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration>",
            "<ID>b</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status>"
            "<NoncurrentVersionExpiration><NoncurrentDays>4</NoncurrentDays></NoncurrentVersionExpiration>",
            "<ID>c</ID><Filter><And><Prefix>p</Prefix><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>"
            "<Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
            "<ID>d</ID><Filter><ObjectSizeGreaterThan>5</ObjectSizeGreaterThan></Filter><Status>Enabled</Status>"
            "<Expiration><Days>2</Days></Expiration>",
        )
    )
    assert parse_lifecycle_configuration(configuration_document(configuration)) == configuration


def test_the_expiration_header_names_the_due_midnight_and_the_rule() -> None:
    configuration = parse_lifecycle_configuration(
        document(
            "<ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>",
            "<ID>off</ID><Filter/><Status>Disabled</Status><Expiration><Days>1</Days></Expiration>",
        )
    )
    bucket = BucketInfo(name="b", lifecycle=encode_configuration(configuration))
    written_ms = int(datetime(2026, 1, 1, 10, tzinfo=UTC).timestamp() * 1000)
    md = ObjectMD(key="logs/a", size=3, last_modified_ms=written_ms)
    assert (
        expiration_header(bucket, md, DAY_MS) == 'expiry-date="Sat, 03 Jan 2026 00:00:00 GMT", rule-id="logs"'
    )
    assert expiration_header(bucket, ObjectMD(key="other", last_modified_ms=written_ms), DAY_MS) is None
    assert expiration_header(bucket, ObjectMD(key="logs/m", is_delete_marker=True), DAY_MS) is None
    assert expiration_header(BucketInfo(name="b"), md, DAY_MS) is None


def test_prefixes_and_tags_are_kept_verbatim() -> None:
    rule = parse_lifecycle_configuration(
        document(
            "<ID>r</ID><Filter><And><Prefix> logs/ </Prefix><Tag><Key>k</Key><Value> v</Value></Tag></And></Filter>"
            "<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"
        )
    ).rules[0]
    assert rule.filter.prefix == " logs/ " and rule.filter.tags == (("k", " v"),)
