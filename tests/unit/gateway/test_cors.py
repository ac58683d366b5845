"""gateway/cors.py: CORSConfiguration parsing and validation, the stored form, rule matching."""

from __future__ import annotations

import pytest

from gateway.cors import (
    VARY,
    CorsConfiguration,
    CorsRule,
    Pattern,
    bucket_match,
    configuration_document,
    parse_cors_configuration,
    requested_header_names,
    stored_configuration,
)
from gateway.s3 import errors


def cors_xml(*rules: str) -> bytes:
    body = "".join(f"<CORSRule>{rule}</CORSRule>" for rule in rules)
    return (
        '<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' + body + "</CORSConfiguration>"
    ).encode()


SIMPLE = "<AllowedOrigin>http://app.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"


def test_a_full_rule_is_parsed() -> None:
    configuration = parse_cors_configuration(
        cors_xml(
            "<ID>web</ID><AllowedOrigin>http://*.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
            "<AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader>"
            "<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>300</MaxAgeSeconds>"
        )
    )
    assert configuration == CorsConfiguration(
        (
            CorsRule(
                allowed_origins=("http://*.example",),
                allowed_methods=("GET", "PUT"),
                allowed_headers=("x-amz-*",),
                expose_headers=("ETag",),
                max_age_seconds=300,
                rule_id="web",
            ),
        )
    )


def test_the_stored_form_parses_back_to_the_same_configuration() -> None:
    configuration = parse_cors_configuration(
        cors_xml(
            SIMPLE + "<MaxAgeSeconds>5</MaxAgeSeconds>",
            "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>HEAD</AllowedMethod>",
        )
    )
    stored = configuration_document(configuration)
    assert parse_cors_configuration(stored) == configuration
    assert stored_configuration(stored) is stored_configuration(bytes(stored))  # parsed once per content


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<CORSConfiguration></CORSConfiguration>",  # no rule
        b"<Other><CORSRule/></Other>",
        cors_xml("<AllowedMethod>GET</AllowedMethod>"),  # no origin
        cors_xml("<AllowedOrigin>*</AllowedOrigin>"),  # no method
        cors_xml("<AllowedOrigin>*</AllowedOrigin><AllowedMethod></AllowedMethod>"),  # an empty method
        cors_xml(SIMPLE + "<Unknown>x</Unknown>"),
        cors_xml(SIMPLE + "<MaxAgeSeconds>ten</MaxAgeSeconds>"),
        cors_xml(SIMPLE + "<MaxAgeSeconds>-1</MaxAgeSeconds>"),
        cors_xml(SIMPLE + "<MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>2</MaxAgeSeconds>"),
        cors_xml(SIMPLE + "<ID>a</ID><ID>b</ID>"),
        cors_xml(*([SIMPLE] * 101)),
        b"<CORSConfiguration><Extra/>" + cors_xml(SIMPLE)[len(b"<CORSConfiguration>") :],
    ],
)
def test_malformed_documents_are_malformed_xml(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        parse_cors_configuration(body)


def test_one_hundred_rules_are_accepted() -> None:
    assert len(parse_cors_configuration(cors_xml(*([SIMPLE] * 100))).rules) == 100


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>",
            "Found unsupported HTTP method in CORS config. Unsupported method is PATCH",
        ),
        (
            "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>",
            "Found unsupported HTTP method in CORS config. Unsupported method is get",
        ),
        (
            "<AllowedOrigin>http://*.*.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod>",
            'AllowedOrigin "http://*.*.example" can not have more than one wildcard.',
        ),
        (
            SIMPLE + "<AllowedHeader>x-*-*</AllowedHeader>",
            'AllowedHeader "x-*-*" can not have more than one wildcard.',
        ),
        (
            SIMPLE + "<ExposeHeader>*</ExposeHeader>",
            'ExposeHeader "*" contains wildcard. We currently do not support wildcard for ExposeHeader.',
        ),
    ],
)
def test_rules_s3_refuses_are_invalid_requests(rule: str, message: str) -> None:
    with pytest.raises(errors.InvalidRequest) as refused:
        parse_cors_configuration(cors_xml(rule))
    assert refused.value.message == message


def test_a_too_long_rule_id_is_invalid_argument() -> None:
    with pytest.raises(errors.InvalidArgument):
        parse_cors_configuration(cors_xml(SIMPLE + "<ID>" + "i" * 256 + "</ID>"))


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("http://app.example", "http://app.example", True),
        ("http://app.example", "http://app.example:8080", False),
        ("http://*.example", "http://a.b.example", True),
        ("http://*.example", "http://example", False),
        ("http://*", "http://", True),
        ("*", "null", True),
        ("a*a", "a", False),  # the wildcard's two sides cannot overlap
    ],
)
def test_origin_patterns_have_one_wildcard(pattern: str, value: str, expected: bool) -> None:
    assert Pattern(pattern, case_sensitive=True).matches(value) is expected


def test_origin_patterns_are_case_sensitive() -> None:
    assert not Pattern("http://app.example", case_sensitive=True).matches("http://APP.example")
    assert not Pattern("http://*.example", case_sensitive=True).matches("HTTP://a.example")


def test_header_patterns_ignore_case() -> None:
    assert Pattern("X-Amz-*", case_sensitive=False).matches("x-amz-meta-a")
    assert not Pattern("X-Amz-*", case_sensitive=False).matches("content-type")


TWO_RULES = parse_cors_configuration(
    cors_xml(
        "<ID>first</ID><AllowedOrigin>http://app.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
        "<AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-custom</AllowedHeader>"
        "<ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-amz-request-id</ExposeHeader>"
        "<MaxAgeSeconds>600</MaxAgeSeconds>",
        "<ID>second</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
        "<AllowedHeader>*</AllowedHeader>",
    )
)


def test_the_first_matching_rule_wins() -> None:
    match = TWO_RULES.match("http://app.example", "GET")
    assert match is not None and match.rule.rule_id == "first"
    other = TWO_RULES.match("http://elsewhere.example", "GET")
    assert other is not None and other.rule.rule_id == "second"


def test_a_request_header_the_first_rule_does_not_allow_falls_to_the_next_rule() -> None:
    match = TWO_RULES.match("http://app.example", "GET", ["x-other"])
    assert match is not None and match.rule.rule_id == "second"
    assert TWO_RULES.match("http://app.example", "PUT", ["x-other"]) is None
    put = TWO_RULES.match("http://app.example", "PUT", ["X-Custom"])
    assert put is not None and put.rule.rule_id == "first"


def test_no_rule_admits_another_method() -> None:
    assert TWO_RULES.match("http://app.example", "DELETE") is None
    assert TWO_RULES.match("http://elsewhere.example", "PUT") is None


def test_a_named_origin_is_echoed_with_credentials_allowed() -> None:
    match = TWO_RULES.match("http://app.example", "PUT", ["x-custom"])
    assert match is not None
    assert match.preflight_headers(["x-custom"]) == {
        "Access-Control-Allow-Origin": "http://app.example",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PUT",
        "Access-Control-Expose-Headers": "ETag, x-amz-request-id",
        "Access-Control-Max-Age": "600",
        "Access-Control-Allow-Headers": "x-custom",
        "Vary": VARY,
    }


def test_the_any_origin_rule_answers_star_without_credentials() -> None:
    match = TWO_RULES.match("http://elsewhere.example", "GET")
    assert match is not None
    assert match.response_headers() == {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET",
        "Vary": VARY,
    }


def test_requested_header_names_are_split_and_lower_cased() -> None:
    assert requested_header_names(" X-Custom, content-type ,,") == ["x-custom", "content-type"]
    assert requested_header_names(None) == []


def test_bucket_match_needs_a_configuration_and_an_origin() -> None:
    stored = configuration_document(TWO_RULES)
    assert bucket_match(b"", {"Origin": "http://app.example"}, "GET") is None
    assert bucket_match(stored, {}, "GET") is None
    match = bucket_match(stored, {"Origin": "http://app.example"}, "GET")
    assert match is not None and match.rule.rule_id == "first"
