"""Put/Get/DeleteBucketCors, the OPTIONS preflight and CORS headers on actual requests, against the
embedded server (boto3 for the API, raw HTTP for what a browser sends)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import re
import urllib.parse
import uuid
from collections.abc import Mapping

import pytest
from botocore.exceptions import ClientError

from strata.testing.embedded import EmbeddedThread

APP = "http://app.example.test"
CODE = re.compile(rb"<Code>([^<]+)</Code>")
MESSAGE = re.compile(rb"<Message>([^<]+)</Message>")

RULES = {
    "CORSRules": [
        {
            "ID": "app",
            "AllowedOrigins": [APP, "http://*.apps.example.test"],
            "AllowedMethods": ["GET", "PUT", "HEAD"],
            "AllowedHeaders": ["x-custom", "x-amz-*"],
            "ExposeHeaders": ["ETag", "x-amz-request-id"],
            "MaxAgeSeconds": 600,
        },
        {"ID": "anyone", "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
    ]
}


class Answer:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def code(self) -> str | None:
        found = CODE.search(self.body)
        return found.group(1).decode() if found else None

    @property
    def message(self) -> str | None:
        found = MESSAGE.search(self.body)
        return found.group(1).decode() if found else None

    def cors(self) -> dict[str, str]:
        return {
            name: value
            for name, value in self.headers.items()
            if name.lower().startswith("access-control-") or name.lower() == "vary"
        }


def send(
    server: EmbeddedThread, method: str, path: str, headers: Mapping[str, str], body: bytes = b""
) -> Answer:
    """An unsigned request, as a browser sends it."""
    parts = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=dict(headers))
        response = connection.getresponse()
        return Answer(response.status, {k: v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def preflight(server: EmbeddedThread, path: str, origin: str, method: str, headers: str = "") -> Answer:
    request = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request["Access-Control-Request-Headers"] = headers
    return send(server, "OPTIONS", path, request)


@pytest.fixture
def cors_bucket(s3, bucket: str) -> str:  # type: ignore[no-untyped-def]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    yield bucket
    s3.delete_bucket_cors(Bucket=bucket)


# ---- Put/Get/DeleteBucketCors ----


def test_cors_configuration_round_trips(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as missing:
        s3.get_bucket_cors(Bucket=bucket)
    assert missing.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES["CORSRules"]
    replaced = {"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["DELETE"]}]}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=replaced)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == replaced["CORSRules"]
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as deleted:
        s3.get_bucket_cors(Bucket=bucket)
    assert deleted.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        ({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}, "InvalidRequest"),
        ({"AllowedOrigins": ["http://*.*.example"], "AllowedMethods": ["GET"]}, "InvalidRequest"),
        ({"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "ExposeHeaders": ["*"]}, "InvalidRequest"),
        ({"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["a*b*"]}, "InvalidRequest"),
        ({"AllowedOrigins": [], "AllowedMethods": ["GET"]}, "MalformedXML"),
    ],
)
def test_invalid_rules_are_refused_and_change_nothing(
    s3, cors_bucket: str, rule: dict[str, object], code: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_cors(Bucket=cors_bucket, CORSConfiguration={"CORSRules": [rule]})
    assert refused.value.response["Error"]["Code"] == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert s3.get_bucket_cors(Bucket=cors_bucket)["CORSRules"] == RULES["CORSRules"]


def test_an_unsupported_method_is_named_in_the_error(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]},
        )
    assert refused.value.response["Error"]["Message"] == (
        "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"
    )


def test_more_than_one_hundred_rules_are_malformed(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    rule = {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule] * 100})
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule] * 101})
    assert refused.value.response["Error"]["Code"] == "MalformedXML"
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 100
    s3.delete_bucket_cors(Bucket=bucket)


def _signed_put_cors(server: EmbeddedThread, bucket: str, body: bytes, headers: dict[str, str]) -> Answer:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from tests.integration.conftest import ACCESS_KEY, SECRET_KEY

    request = AWSRequest(method="PUT", url=f"{server.url}/{bucket}?cors", data=body, headers=headers)
    request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(request)
    return send(server, "PUT", f"/{bucket}?cors", dict(request.headers.items()), body)


CONFIG_XML = (
    b'<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule>'
    b"<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"
)


def test_put_bucket_cors_needs_an_integrity_header(s3, server: EmbeddedThread, bucket: str) -> None:  # type: ignore[no-untyped-def]
    missing = _signed_put_cors(server, bucket, CONFIG_XML, {})
    assert (missing.status, missing.code) == (400, "InvalidRequest")
    assert missing.message == "Missing required header for this request: Content-MD5"
    wrong = _signed_put_cors(
        server, bucket, CONFIG_XML, {"Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()}
    )
    assert (wrong.status, wrong.code) == (400, "BadDigest")
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket=bucket)
    md5 = base64.b64encode(hashlib.md5(CONFIG_XML).digest()).decode()
    assert _signed_put_cors(server, bucket, CONFIG_XML, {"Content-MD5": md5}).status == 200
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}
    ]
    s3.delete_bucket_cors(Bucket=bucket)


def test_only_the_owner_manages_cors_unless_a_policy_allows(s3, other, bucket: str) -> None:  # type: ignore[no-untyped-def]
    for call in (
        lambda: other.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES),
        lambda: other.get_bucket_cors(Bucket=bucket),
        lambda: other.delete_bucket_cors(Bucket=bucket),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket=bucket)
    import json

    other_account = "123456789013"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": other_account},
                "Action": ["s3:GetBucketCORS"],
                "Resource": f"arn:aws:s3:::{bucket}",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    assert other.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES["CORSRules"]
    with pytest.raises(ClientError) as still:
        other.delete_bucket_cors(Bucket=bucket)  # DeleteBucketCors is s3:PutBucketCORS
    assert still.value.response["Error"]["Code"] == "AccessDenied"
    s3.delete_bucket_policy(Bucket=bucket)
    s3.delete_bucket_cors(Bucket=bucket)


# ---- preflight ----


def test_preflight_of_an_allowed_request_answers_the_rule(server: EmbeddedThread, cors_bucket: str) -> None:
    answer = preflight(server, f"/{cors_bucket}/some/key", APP, "PUT", "X-Custom, x-amz-meta-a")
    assert answer.status == 200
    assert answer.cors() == {
        "Access-Control-Allow-Origin": APP,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PUT, HEAD",
        "Access-Control-Allow-Headers": "x-custom, x-amz-meta-a",
        "Access-Control-Expose-Headers": "ETag, x-amz-request-id",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }
    wildcard_origin = preflight(server, f"/{cors_bucket}", "http://one.apps.example.test", "HEAD")
    assert wildcard_origin.status == 200
    assert wildcard_origin.headers["Access-Control-Allow-Origin"] == "http://one.apps.example.test"


def test_preflight_matched_by_the_any_origin_rule_answers_star(
    server: EmbeddedThread, cors_bucket: str
) -> None:
    answer = preflight(server, f"/{cors_bucket}/k", "http://elsewhere.test", "GET")
    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in answer.headers
    assert answer.headers["Access-Control-Allow-Methods"] == "GET"


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        ("http://elsewhere.test", "PUT", ""),  # only the named origins may PUT
        (APP, "DELETE", ""),  # no rule allows DELETE
        (APP, "PUT", "x-not-allowed"),  # the PUT rule does not allow that header
    ],
)
def test_preflight_no_rule_matches_is_forbidden(
    server: EmbeddedThread, cors_bucket: str, origin: str, method: str, headers: str
) -> None:
    answer = preflight(server, f"/{cors_bucket}/k", origin, method, headers)
    assert (answer.status, answer.code) == (403, "AccessForbidden")
    assert answer.message is not None and answer.message.startswith(
        "CORSResponse: This CORS request is not allowed."
    )
    assert not any(name.lower().startswith("access-control-") for name in answer.headers)


def test_preflight_without_cors_or_bucket_is_forbidden(server: EmbeddedThread, bucket: str) -> None:
    disabled = preflight(server, f"/{bucket}/k", APP, "GET")
    assert (disabled.status, disabled.code) == (403, "AccessForbidden")
    assert disabled.message == "CORSResponse: CORS is not enabled for this bucket."
    assert b"<ResourceType>OBJECT</ResourceType>" in disabled.body
    missing = preflight(server, f"/no-such-bucket-{uuid.uuid4().hex[:8]}", APP, "GET")
    assert (missing.status, missing.code) == (403, "AccessForbidden")
    assert b"<ResourceType>BUCKET</ResourceType>" in missing.body


def test_preflight_needs_origin_and_method(server: EmbeddedThread, cors_bucket: str) -> None:
    no_origin = send(server, "OPTIONS", f"/{cors_bucket}/k", {"Access-Control-Request-Method": "GET"})
    assert (no_origin.status, no_origin.code) == (400, "BadRequest")
    no_method = send(server, "OPTIONS", f"/{cors_bucket}/k", {"Origin": APP})
    assert (no_method.status, no_method.code) == (400, "BadRequest")
    assert no_method.message == "Invalid Access-Control-Request-Method: null"
    bad_method = preflight(server, f"/{cors_bucket}/k", APP, "PATCH")
    assert (bad_method.status, bad_method.code) == (400, "BadRequest")


def test_preflight_in_virtual_host_style(server: EmbeddedThread, cors_bucket: str) -> None:
    port = urllib.parse.urlsplit(server.url).port
    answer = send(
        server,
        "OPTIONS",
        "/some/key",
        {"Host": f"{cors_bucket}.localhost:{port}", "Origin": APP, "Access-Control-Request-Method": "GET"},
    )
    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == APP


# ---- actual requests ----


def test_actual_requests_carry_the_rule_headers_errors_included(
    s3, server: EmbeddedThread, cors_bucket: str
) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=cors_bucket, Key="page.txt", Body=b"hello")
    expected = {
        "Access-Control-Allow-Origin": APP,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PUT, HEAD",
        "Access-Control-Expose-Headers": "ETag, x-amz-request-id",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }
    # Anonymous: the object is private, so AccessDenied, and still with the headers a browser needs.
    denied = send(server, "GET", f"/{cors_bucket}/page.txt", {"Origin": APP})
    assert (denied.status, denied.code) == (403, "AccessDenied")
    assert denied.cors() == expected
    s3.put_object_acl(Bucket=cors_bucket, Key="page.txt", ACL="public-read")
    found = send(server, "GET", f"/{cors_bucket}/page.txt", {"Origin": APP})
    assert (found.status, found.body) == (200, b"hello")
    assert found.cors() == expected
    head = send(server, "HEAD", f"/{cors_bucket}/page.txt", {"Origin": "http://x.apps.example.test"})
    assert head.status == 200 and head.headers["Access-Control-Allow-Origin"] == "http://x.apps.example.test"
    s3.put_bucket_acl(Bucket=cors_bucket, ACL="public-read")
    absent = send(server, "GET", f"/{cors_bucket}/absent.txt", {"Origin": APP})
    assert (absent.status, absent.code) == (404, "NoSuchKey")
    assert absent.cors() == expected
    forged = send(
        server,
        "GET",
        f"/{cors_bucket}/page.txt",
        {
            "Origin": APP,
            "Authorization": "AWS4-HMAC-SHA256 Credential=nobody/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        },
    )
    assert forged.status == 403 and forged.cors() == expected
    s3.put_bucket_acl(Bucket=cors_bucket, ACL="private")
    s3.delete_object(Bucket=cors_bucket, Key="page.txt")


def test_no_headers_without_origin_or_without_a_matching_rule(
    s3, server: EmbeddedThread, cors_bucket: str
) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=cors_bucket, Key="k", Body=b"v", ACL="public-read")
    assert send(server, "GET", f"/{cors_bucket}/k", {}).cors() == {}
    # DELETE is in no rule: the answer (AccessDenied for an anonymous delete) carries none.
    assert send(server, "DELETE", f"/{cors_bucket}/k", {"Origin": APP}).cors() == {}
    any_origin = send(server, "GET", f"/{cors_bucket}/k", {"Origin": "http://elsewhere.test"})
    assert any_origin.headers["Access-Control-Allow-Origin"] == "*"
    plain = f"plain-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=plain)
    s3.put_object(Bucket=plain, Key="k", Body=b"v", ACL="public-read")
    assert send(server, "GET", f"/{plain}/k", {"Origin": APP}).cors() == {}  # no CORS on that bucket
    s3.delete_object(Bucket=plain, Key="k")
    s3.delete_bucket(Bucket=plain)
    missing = send(server, "GET", f"/no-such-bucket-{uuid.uuid4().hex[:8]}/k", {"Origin": APP})
    assert missing.status == 404 and missing.cors() == {}
    s3.delete_object(Bucket=cors_bucket, Key="k")
