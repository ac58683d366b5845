"""WebsiteConfiguration parsing, validation and the stored form (gateway/website/config.py)."""

from __future__ import annotations

import pytest

from gateway.s3 import errors
from gateway.s3.xml import document, parse
from gateway.website.config import (
    Condition,
    Redirect,
    RedirectAll,
    RoutingRule,
    WebsiteConfig,
    parse_website,
    website_document,
)

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def website(inner: str) -> bytes:
    return f"<WebsiteConfiguration {NS}>{inner}</WebsiteConfiguration>".encode()


FULL = website(
    "<IndexDocument><Suffix>index.html</Suffix></IndexDocument>"
    "<ErrorDocument><Key>errors/404.html</Key></ErrorDocument>"
    "<RoutingRules>"
    "<RoutingRule><Condition><KeyPrefixEquals>docs/</KeyPrefixEquals></Condition>"
    "<Redirect><ReplaceKeyPrefixWith>documents/</ReplaceKeyPrefixWith></Redirect></RoutingRule>"
    "<RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>"
    "<Redirect><HostName>example.test</HostName><Protocol>https</Protocol>"
    "<ReplaceKeyWith>missing.html</ReplaceKeyWith><HttpRedirectCode>302</HttpRedirectCode></Redirect>"
    "</RoutingRule>"
    "</RoutingRules>"
)


def test_a_full_configuration_parses_and_round_trips() -> None:
    config = parse_website(FULL)
    assert config == WebsiteConfig(
        index_suffix="index.html",
        error_key="errors/404.html",
        routing_rules=(
            RoutingRule(Redirect(replace_key_prefix_with="documents/"), Condition(key_prefix_equals="docs/")),
            RoutingRule(
                Redirect("example.test", "https", None, "missing.html", 302),
                Condition(http_error_code_returned_equals=404),
            ),
        ),
    )
    assert WebsiteConfig.from_bytes(config.to_bytes()) == config
    # What GetBucketWebsite answers parses back to the same configuration.
    assert parse_website(document(website_document(config))) == config


def test_redirect_all_requests_round_trips() -> None:
    body = website(
        "<RedirectAllRequestsTo><HostName>www.example.test</HostName><Protocol>https</Protocol>"
        "</RedirectAllRequestsTo>"
    )
    config = parse_website(body)
    assert config == WebsiteConfig(redirect_all=RedirectAll("www.example.test", "https"))
    assert WebsiteConfig.from_bytes(config.to_bytes()) == config
    rendered = parse(document(website_document(config)))
    assert rendered.findtext("RedirectAllRequestsTo/HostName") == "www.example.test"


@pytest.mark.parametrize(
    ("inner", "argument"),
    [
        ("", "IndexDocument"),
        ("<ErrorDocument><Key>e.html</Key></ErrorDocument>", "IndexDocument"),
        ("<IndexDocument><Suffix></Suffix></IndexDocument>", "IndexDocument"),
        ("<IndexDocument><Suffix>a/index.html</Suffix></IndexDocument>", "IndexDocument"),
        (
            "<IndexDocument><Suffix>i.html</Suffix></IndexDocument><ErrorDocument><Key></Key></ErrorDocument>",
            "ErrorDocument",
        ),
        (
            "<RedirectAllRequestsTo><HostName>h</HostName></RedirectAllRequestsTo>"
            "<IndexDocument><Suffix>i.html</Suffix></IndexDocument>",
            "RedirectAllRequestsTo",
        ),
        (
            "<RedirectAllRequestsTo><HostName>h</HostName><Protocol>ftp</Protocol></RedirectAllRequestsTo>",
            "Protocol",
        ),
        (
            "<IndexDocument><Suffix>i.html</Suffix></IndexDocument><RoutingRules><RoutingRule><Redirect>"
            "<ReplaceKeyWith>a</ReplaceKeyWith><ReplaceKeyPrefixWith>b</ReplaceKeyPrefixWith>"
            "</Redirect></RoutingRule></RoutingRules>",
            "ReplaceKeyPrefixWith",
        ),
        (
            "<IndexDocument><Suffix>i.html</Suffix></IndexDocument><RoutingRules><RoutingRule><Redirect>"
            "<HttpRedirectCode>300</HttpRedirectCode></Redirect></RoutingRule></RoutingRules>",
            "HttpRedirectCode",
        ),
        (
            "<IndexDocument><Suffix>i.html</Suffix></IndexDocument><RoutingRules><RoutingRule>"
            "<Condition><HttpErrorCodeReturnedEquals>302</HttpErrorCodeReturnedEquals></Condition>"
            "<Redirect><HostName>h</HostName></Redirect></RoutingRule></RoutingRules>",
            "HttpErrorCodeReturnedEquals",
        ),
        (
            "<IndexDocument><Suffix>i.html</Suffix></IndexDocument><RoutingRules><RoutingRule>"
            "<Condition></Condition><Redirect><HostName>h</HostName></Redirect></RoutingRule></RoutingRules>",
            "Condition",
        ),
        (
            "<IndexDocument><Suffix>i.html</Suffix></IndexDocument><RoutingRules><RoutingRule>"
            "<Redirect></Redirect></RoutingRule></RoutingRules>",
            "Redirect",
        ),
    ],
)
def test_invalid_values_are_invalid_argument_naming_the_element(inner: str, argument: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        parse_website(website(inner))
    assert caught.value.details["ArgumentName"] == argument


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b"<Other/>",
        website("<IndexDocument><Suffix>i.html</Suffix></IndexDocument><Unknown/>"),
        website("<IndexDocument><Suffix>a</Suffix><Suffix>b</Suffix></IndexDocument>"),
        website("<RedirectAllRequestsTo><Protocol>http</Protocol></RedirectAllRequestsTo>"),
        website(
            "<IndexDocument><Suffix>i.html</Suffix></IndexDocument><RoutingRules><RoutingRule>"
            "<Condition><KeyPrefixEquals>a</KeyPrefixEquals></Condition></RoutingRule></RoutingRules>"
        ),
        website("<IndexDocument><Suffix>i.html</Suffix></IndexDocument><RoutingRules><Rule/></RoutingRules>"),
    ],
)
def test_wrong_shapes_are_malformed_xml(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        parse_website(body)
