"""Put/Get/DeleteBucketWebsite with boto3 against the embedded server."""

from __future__ import annotations

import pytest

from strata.testing.embedded import EmbeddedThread
from tests.integration.test_bucket_config import signed_put
from tests.integration.test_bucket_policy import error_of

SITE = {
    "IndexDocument": {"Suffix": "index.html"},
    "ErrorDocument": {"Key": "error.html"},
    "RoutingRules": [
        {
            "Condition": {"KeyPrefixEquals": "docs/"},
            "Redirect": {"ReplaceKeyPrefixWith": "documents/", "HttpRedirectCode": "302"},
        },
        {
            "Condition": {"HttpErrorCodeReturnedEquals": "404"},
            "Redirect": {"HostName": "example.test", "Protocol": "https", "ReplaceKeyWith": "gone.html"},
        },
    ],
}


def test_website_configuration_round_trips(s3, bucket: str) -> None:
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=SITE)
    answer = s3.get_bucket_website(Bucket=bucket)
    assert answer["IndexDocument"] == SITE["IndexDocument"]
    assert answer["ErrorDocument"] == SITE["ErrorDocument"]
    assert answer["RoutingRules"] == SITE["RoutingRules"]


def test_redirect_all_requests_round_trips(s3, bucket: str) -> None:
    target = {"HostName": "www.example.test", "Protocol": "https"}
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"RedirectAllRequestsTo": target})
    answer = s3.get_bucket_website(Bucket=bucket)
    assert answer["RedirectAllRequestsTo"] == target
    assert "IndexDocument" not in answer


def test_without_configuration_get_is_no_such_website_configuration(s3, bucket: str) -> None:
    assert error_of(s3.get_bucket_website, Bucket=bucket)[:2] == (404, "NoSuchWebsiteConfiguration")


def test_delete_removes_the_configuration_and_is_idempotent(s3, bucket: str) -> None:
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    assert s3.delete_bucket_website(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.get_bucket_website, Bucket=bucket)[:2] == (404, "NoSuchWebsiteConfiguration")
    assert s3.delete_bucket_website(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


@pytest.mark.parametrize(
    ("configuration", "code"),
    [
        ({"IndexDocument": {"Suffix": "a/index.html"}}, "InvalidArgument"),
        ({"IndexDocument": {"Suffix": ""}}, "InvalidArgument"),
        ({"ErrorDocument": {"Key": "error.html"}}, "InvalidArgument"),
        (
            {"RedirectAllRequestsTo": {"HostName": "h.test"}, "IndexDocument": {"Suffix": "index.html"}},
            "InvalidArgument",
        ),
        (
            {
                "IndexDocument": {"Suffix": "index.html"},
                "RoutingRules": [{"Redirect": {"ReplaceKeyWith": "a", "ReplaceKeyPrefixWith": "b"}}],
            },
            "InvalidArgument",
        ),
        (
            {
                "IndexDocument": {"Suffix": "index.html"},
                "RoutingRules": [{"Redirect": {"HostName": "h.test", "HttpRedirectCode": "200"}}],
            },
            "InvalidArgument",
        ),
    ],
)
def test_invalid_configurations_are_refused_and_change_nothing(
    s3, bucket: str, configuration: dict[str, object], code: str
) -> None:
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "kept.html"}})
    status, found, _ = error_of(s3.put_bucket_website, Bucket=bucket, WebsiteConfiguration=configuration)
    assert (status, found) == (400, code)
    assert s3.get_bucket_website(Bucket=bucket)["IndexDocument"] == {"Suffix": "kept.html"}


def test_a_malformed_document_is_malformed_xml(server: EmbeddedThread, s3, bucket: str) -> None:
    body = b"<WebsiteConfiguration><IndexDocument><Suffix>i.html</Suffix></IndexDocument><Nope/></WebsiteConfiguration>"
    assert signed_put(server.url, bucket, "website", body) == (400, "MalformedXML")
    assert error_of(s3.get_bucket_website, Bucket=bucket)[:2] == (404, "NoSuchWebsiteConfiguration")


def test_website_configuration_is_for_the_owner_only(s3, other, bucket: str) -> None:
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    assert error_of(other.get_bucket_website, Bucket=bucket)[:2] == (403, "AccessDenied")
    assert error_of(
        other.put_bucket_website, Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "x.html"}}
    )[:2] == (403, "AccessDenied")
    assert error_of(other.delete_bucket_website, Bucket=bucket)[:2] == (403, "AccessDenied")
    assert s3.get_bucket_website(Bucket=bucket)["IndexDocument"] == {"Suffix": "index.html"}
