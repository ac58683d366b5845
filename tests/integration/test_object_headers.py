from __future__ import annotations

import hashlib
import hmac
import http.client
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest

from tests.integration.conftest import ACCESS_KEY, SECRET_KEY

NON_ASCII = "Hello Worldé"


def test_response_overrides_replace_stored_headers(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentType="text/plain", CacheControl="no-cache")
    overrides = {
        "ResponseContentType": "application/json",
        "ResponseContentDisposition": 'attachment; filename="x.json"',
        "ResponseContentEncoding": "identity",
        "ResponseContentLanguage": "fr",
        "ResponseCacheControl": "max-age=5",
        "ResponseExpires": "Thu, 01 Dec 2044 16:00:00 GMT",
    }
    got = s3.get_object(Bucket=bucket, Key="k", **overrides)
    headers = got["ResponseMetadata"]["HTTPHeaders"]
    assert got["Body"].read() == b"data"
    assert headers["content-type"] == "application/json"
    assert headers["content-disposition"] == 'attachment; filename="x.json"'
    assert headers["content-encoding"] == "identity"
    assert headers["content-language"] == "fr"
    assert headers["cache-control"] == "max-age=5"
    assert headers["expires"] == "Thu, 01 Dec 2044 16:00:00 GMT"
    # Overrides change the response only.
    assert s3.head_object(Bucket=bucket, Key="k")["ContentType"] == "text/plain"


@pytest.mark.parametrize("location", ["/other/page.html", "https://example.com/elsewhere"])
def test_website_redirect_location_is_stored(s3, bucket, location: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", WebsiteRedirectLocation=location)
    assert s3.head_object(Bucket=bucket, Key="k")["WebsiteRedirectLocation"] == location
    assert s3.get_object(Bucket=bucket, Key="k")["WebsiteRedirectLocation"] == location


def _signed_raw(
    url: str, method: str, path: str, extra: dict[str, bytes], body: bytes = b"", secret: str = SECRET_KEY
) -> tuple[int, list[tuple[str, bytes]], bytes]:
    """A SigV4 request whose header values go on the wire as the given bytes, signed over those bytes."""
    host = urlsplit(url).netloc
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = {
        "host": host.encode(),
        "x-amz-date": amz_date.encode(),
        "x-amz-content-sha256": payload_hash.encode(),
        **extra,
    }
    names = sorted(headers)
    canonical = b"\n".join(
        [
            method.encode(),
            path.encode(),
            b"",
            b"".join(name.encode() + b":" + headers[name].strip() + b"\n" for name in names),
            ";".join(names).encode(),
            payload_hash.encode(),
        ]
    )

    def mac(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode(), hashlib.sha256).digest()

    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    key = mac(("AWS4" + secret).encode(), amz_date[:8])
    for part in ("us-east-1", "s3", "aws4_request"):
        key = mac(key, part)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical).hexdigest()])
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    ).encode()
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("content-length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        # http.client decodes header bytes as latin-1: encoding back gives the bytes on the wire.
        raw_headers = [(name.lower(), value.encode("latin-1")) for name, value in response.getheaders()]
        return response.status, raw_headers, response.read()
    finally:
        connection.close()


def _header(headers: list[tuple[str, bytes]], name: str) -> list[bytes]:
    return [value for key, value in headers if key == name]


def test_non_ascii_metadata_from_boto3_comes_back_byte_identical(s3, server, bucket) -> None:
    # boto3 refuses non-ASCII Metadata values, but a header added before signing goes out as UTF-8.
    def add_header(request, **_: object) -> None:  # type: ignore[no-untyped-def]
        request.headers["x-amz-meta-x"] = NON_ASCII

    s3.meta.events.register("before-sign.s3.PutObject", add_header)
    try:
        s3.put_object(Bucket=bucket, Key="utf8", Body=b"x")
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObject", add_header)
    for method in ("HEAD", "GET"):
        status, headers, _ = _signed_raw(server.url, method, f"/{bucket}/utf8", {})
        assert status == 200
        assert _header(headers, "x-amz-meta-x") == [NON_ASCII.encode("utf-8")]
    # boto3 reads header bytes as latin-1; the same bytes decode back to the text sent.
    got = s3.head_object(Bucket=bucket, Key="utf8")["Metadata"]["x"]
    assert got.encode("latin-1").decode("utf-8") == NON_ASCII


def test_utf8_metadata_signed_over_its_bytes_round_trips(server, s3, bucket) -> None:
    value = "Grüße, 世界".encode()
    status, _, answer = _signed_raw(server.url, "PUT", f"/{bucket}/raw", {"x-amz-meta-greeting": value}, b"x")
    assert status == 200, answer
    status, headers, _ = _signed_raw(server.url, "HEAD", f"/{bucket}/raw", {})
    assert _header(headers, "x-amz-meta-greeting") == [value]


def test_metadata_bytes_that_are_not_utf8_are_invalid_argument_and_store_nothing(server, s3, bucket) -> None:
    latin1 = NON_ASCII.encode("latin-1")
    status, headers, answer = _signed_raw(
        server.url, "PUT", f"/{bucket}/latin1", {"x-amz-meta-x": latin1}, b"x"
    )
    assert status == 400, answer
    error = ET.fromstring(answer)
    assert error.findtext("Code") == "InvalidArgument"
    assert error.findtext("ArgumentName") == "x-amz-meta-x"
    assert error.findtext("RequestId") and _header(headers, "x-amz-request-id")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_a_wrong_signature_over_non_utf8_bytes_is_signature_does_not_match(server, s3, bucket) -> None:
    status, _, answer = _signed_raw(
        server.url, "PUT", f"/{bucket}/latin1", {"x-amz-meta-x": b"caf\xe9"}, b"x", secret="wrong"
    )
    assert (status, ET.fromstring(answer).findtext("Code")) == (403, "SignatureDoesNotMatch")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
