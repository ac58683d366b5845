"""Attacks on authentication and on the connection, sent byte for byte to a real embedded server.

Requests are signed with botocore's own signers (S3SigV4Auth, S3SigV4QueryAuth, HmacV1Auth) and then
altered the way an attacker would (another Host, an added header, a foreign scope, odd bytes), and
sent with ``http.client`` so nothing on the way "fixes" them. Every attempt must be refused with the
right S3 error, change nothing, and leave the server answering a normal client.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import http.client
import io
import json
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from gateway.limits import GatewayOptions
from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import ACCESS_KEY, SECRET_KEY, s3_client
from tests.integration.test_streaming_auth import sign_request

CREDENTIALS = Credentials(ACCESS_KEY, SECRET_KEY)
MAX_PUT = 4 * 1024 * 1024
EXTRA_REGION = "eu-central-1"
DETAILS_REGION = "ap-south-7"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str | None:
        return ET.fromstring(self.body).findtext("Code") if self.body.startswith(b"<?xml") else None

    @property
    def message(self) -> str | None:
        return ET.fromstring(self.body).findtext("Message")

    def field(self, name: str) -> str | None:
        return ET.fromstring(self.body).findtext(name)


def start(**options: object) -> EmbeddedThread:
    server = EmbeddedThread(backend="mem")
    locations = {
        **server.settings.locations,
        "eu-location": {"type": "mem", "legacyAwsBehavior": False, "details": {"region": DETAILS_REGION}},
        "us-west-1": {"type": "mem", "legacyAwsBehavior": False, "details": {}},
    }
    server.settings = dataclasses.replace(
        server.settings,
        locations=locations,
        gateway=GatewayOptions(**options),  # type: ignore[arg-type]
    )
    return server.start()


@pytest.fixture(scope="module")
def strict() -> Iterator[EmbeddedThread]:
    server = start(
        header_timeout_s=1.0, body_idle_timeout_s=1.0, max_put_size=MAX_PUT, extra_regions=(EXTRA_REGION,)
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3(strict: EmbeddedThread):  # type: ignore[no-untyped-def]
    return s3_client(strict.url)


@pytest.fixture
def bucket(s3) -> Iterator[str]:  # type: ignore[no-untyped-def]
    name = f"hard-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for item in s3.list_object_versions(Bucket=name).get("Versions", []):
        s3.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"])
    s3.delete_bucket(Bucket=name)


def send(
    server: EmbeddedThread, method: str, target: str, headers: dict[str, str | bytes], body: bytes = b""
) -> Answer:
    """Sends exactly these headers (no Host or Accept-Encoding of http.client's own)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body or None)
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def signed(
    server: EmbeddedThread,
    method: str,
    host: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    region: str = "us-east-1",
    service: str = "s3",
    sign_host: bool = True,
) -> AWSRequest:
    request = AWSRequest(
        method=method, url=f"http://{host}:{server.port}{path}", data=body, headers=headers or {}
    )
    signer = (
        _NoHostV4(CREDENTIALS, service, region)
        if not sign_host
        else S3SigV4Auth(CREDENTIALS, service, region)
    )
    signer.add_auth(request)
    return request


class _NoHostV4(S3SigV4Auth):
    def headers_to_sign(self, request):  # type: ignore[no-untyped-def]
        headers = super().headers_to_sign(request)
        del headers["host"]
        return headers


class _NoHostQueryV4(S3SigV4QueryAuth):
    def headers_to_sign(self, request):  # type: ignore[no-untyped-def]
        headers = super().headers_to_sign(request)
        del headers["host"]
        return headers


def presigned(
    server: EmbeddedThread,
    method: str,
    host: str,
    path: str,
    *,
    region: str = "us-east-1",
    service: str = "s3",
    expires: int = 300,
    sign_host: bool = True,
    headers: dict[str, str] | None = None,
) -> str:
    """The presigned target (path and query) for a request to ``host``."""
    request = AWSRequest(method=method, url=f"http://{host}:{server.port}{path}", headers=headers or {})
    signer_type = S3SigV4QueryAuth if sign_host else _NoHostQueryV4
    signer_type(CREDENTIALS, service, region, expires=expires).add_auth(request)
    split = urlsplit(request.url)
    return f"{split.path}?{split.query}"


def headers_of(request: AWSRequest, **changes: str | bytes) -> dict[str, str | bytes]:
    headers: dict[str, str | bytes] = {"Host": urlsplit(request.url).netloc, **dict(request.headers.items())}
    headers.update(changes)
    if request.body:
        headers["Content-Length"] = str(len(request.body))
    return headers


def keys(s3, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


# --- item 1: host and every x-amz-* header must be signed ----------------------------------------------


def test_delete_signed_without_host_cannot_be_replayed_on_another_bucket(strict, s3) -> None:
    b1, b2 = f"b1-{uuid.uuid4().hex[:8]}", f"b2-{uuid.uuid4().hex[:8]}"
    for name in (b1, b2):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="precious", Body=b"keep me")
    request = signed(strict, "DELETE", f"{b1}.localhost", "/precious", sign_host=False)
    answer = send(strict, "DELETE", "/precious", headers_of(request, Host=f"{b2}.localhost:{strict.port}"))
    assert (answer.status, answer.code) == (403, "AccessDenied")
    assert answer.message == "There were headers present in the request which were not signed"
    assert answer.field("HeadersNotSigned") == "host"
    assert answer.headers.get("x-amz-request-id")
    assert keys(s3, b2) == ["precious"] and keys(s3, b1) == ["precious"]
    # The same request signed with its host works only against the bucket it names.
    good = signed(strict, "DELETE", f"{b1}.localhost", "/precious")
    assert send(strict, "DELETE", "/precious", headers_of(good)).status == 204
    replayed = send(strict, "DELETE", "/precious", headers_of(good, Host=f"{b2}.localhost:{strict.port}"))
    assert (replayed.status, replayed.code) == (403, "SignatureDoesNotMatch")
    assert keys(s3, b2) == ["precious"]
    for name in (b1, b2):
        for key in keys(s3, name):
            s3.delete_object(Bucket=name, Key=key)
        s3.delete_bucket(Bucket=name)


def test_presigned_url_without_host_is_refused(strict, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    target = presigned(
        strict, "GET", "127.0.0.1", f"/{bucket}/k", sign_host=False, headers={"Range": "bytes=0-2"}
    )
    assert "X-Amz-SignedHeaders=range&" in target
    answer = send(strict, "GET", target, {"Host": f"127.0.0.1:{strict.port}", "Range": "bytes=0-2"})
    assert (answer.status, answer.code) == (403, "AccessDenied")
    assert answer.field("HeadersNotSigned") == "host"


def test_unsigned_x_amz_header_is_refused_and_stores_nothing(strict, s3, bucket) -> None:
    request = signed(strict, "PUT", "127.0.0.1", f"/{bucket}/k", body=b"data")
    answer = send(
        strict, "PUT", f"/{bucket}/k", headers_of(request, **{"x-amz-meta-injected": "yes"}), request.body
    )
    assert (answer.status, answer.code) == (403, "AccessDenied")
    assert answer.field("HeadersNotSigned") == "x-amz-meta-injected"
    assert keys(s3, bucket) == []


def test_presigned_put_with_an_unsigned_x_amz_header_is_refused(strict, s3, bucket) -> None:
    target = presigned(strict, "PUT", "127.0.0.1", f"/{bucket}/k")
    headers: dict[str, str | bytes] = {
        "Host": f"127.0.0.1:{strict.port}",
        "x-amz-acl": "public-read-write",
        "Content-Length": "4",
    }
    answer = send(strict, "PUT", target, headers, b"data")
    assert (answer.status, answer.code) == (403, "AccessDenied")
    assert answer.field("HeadersNotSigned") == "x-amz-acl"
    assert keys(s3, bucket) == []
    plain = send(strict, "PUT", target, {"Host": f"127.0.0.1:{strict.port}", "Content-Length": "4"}, b"data")
    assert plain.status == 200
    assert keys(s3, bucket) == ["k"]


# --- item 2: the credential scope must name s3 and a served region ---------------------------------------


@pytest.mark.parametrize(
    ("region", "service", "message"),
    [
        ("eu-west-9", "s3", "the region 'eu-west-9' is wrong; expecting 'us-east-1'"),
        ("xx", "iam", "incorrect service 'iam'. This endpoint belongs to 's3'."),
        ("eu-west-9", "ec2", "incorrect service 'ec2'. This endpoint belongs to 's3'."),
    ],
)
def test_header_scope_of_another_region_or_service_is_malformed(strict, s3, bucket, region, service, message):
    request = signed(strict, "PUT", "127.0.0.1", f"/{bucket}/k", body=b"x", region=region, service=service)
    answer = send(strict, "PUT", f"/{bucket}/k", headers_of(request), request.body)
    assert (answer.status, answer.code) == (400, "AuthorizationHeaderMalformed")
    assert answer.message == "The authorization header is malformed; " + message
    assert keys(s3, bucket) == []


def test_head_signed_for_another_region_names_the_served_region_in_a_header(strict, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    request = signed(strict, "HEAD", "127.0.0.1", f"/{bucket}/k", region="eu-west-9")
    answer = send(strict, "HEAD", f"/{bucket}/k", headers_of(request))
    # No body on HEAD: the header is all an SDK has to retry with the right region.
    assert answer.status == 400 and answer.body == b""
    assert answer.headers["x-amz-bucket-region"] == "us-east-1"


def test_sdk_configured_for_another_region_recovers_on_head_and_get(strict, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"payload")
    elsewhere = boto3.client(
        "s3",
        endpoint_url=strict.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="eu-west-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    assert elsewhere.head_object(Bucket=bucket, Key="k")["ContentLength"] == 7
    assert elsewhere.get_object(Bucket=bucket, Key="k")["Body"].read() == b"payload"


@pytest.mark.parametrize(
    ("region", "service", "message"),
    [
        ("eu-west-9", "s3", "the region 'eu-west-9' is wrong; expecting 'us-east-1'"),
        ("us-east-1", "iam", "incorrect service 'iam'. This endpoint belongs to 's3'."),
    ],
)
def test_presigned_scope_of_another_region_or_service_is_refused(
    strict, s3, bucket, region, service, message
):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    target = presigned(strict, "GET", "127.0.0.1", f"/{bucket}/k", region=region, service=service)
    answer = send(strict, "GET", target, {"Host": f"127.0.0.1:{strict.port}"})
    assert (answer.status, answer.code) == (400, "AuthorizationQueryParametersError")
    assert answer.message == "Error parsing the X-Amz-Credential parameter; " + message


@pytest.mark.parametrize("region", ["us-east-1", EXTRA_REGION, DETAILS_REGION, "us-west-1"])
def test_served_regions_are_accepted(strict, s3, bucket, region) -> None:
    request = signed(strict, "PUT", "127.0.0.1", f"/{bucket}/k", body=b"x", region=region)
    assert send(strict, "PUT", f"/{bucket}/k", headers_of(request), request.body).status == 200
    target = presigned(strict, "GET", "127.0.0.1", f"/{bucket}/k", region=region)
    answer = send(strict, "GET", target, {"Host": f"127.0.0.1:{strict.port}"})
    assert (answer.status, answer.body) == (200, b"x")


def test_minio_sdk_without_a_region_signs_with_the_bucket_location_and_is_served(strict, s3) -> None:
    minio = pytest.importorskip("minio", reason="scripts/test installs the minio SDK (dev extra)")
    name = f"inmem-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "mem"})
    client = minio.Minio(
        f"127.0.0.1:{strict.port}", access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False
    )
    client.put_object(name, "k", io.BytesIO(b"abc"), 3)  # signed for region "mem", GetBucketLocation's answer
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"abc"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)


def post_form(
    server: EmbeddedThread, bucket: str, fields: dict[str, str], file: bytes = b"form data"
) -> Answer:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode()
        + b"\r\n"
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n".encode()
        + file
        + f"\r\n--{boundary}--\r\n".encode()
    )
    body = b"".join(parts)
    headers: dict[str, str | bytes] = {
        "Host": f"127.0.0.1:{server.port}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(body)),
    }
    return send(server, "POST", f"/{bucket}", headers, body)


def v4_form(bucket: str, key: str, region: str = "us-east-1", service: str = "s3") -> dict[str, str]:
    now = datetime.now(UTC)
    date, stamp = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    credential = f"{ACCESS_KEY}/{date}/{region}/{service}/aws4_request"
    policy = base64.b64encode(
        json.dumps(
            {
                "expiration": (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "conditions": [
                    {"bucket": bucket},
                    {"key": key},
                    {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                    {"x-amz-credential": credential},
                    {"x-amz-date": stamp},
                ],
            }
        ).encode()
    ).decode()
    key_bytes = ("AWS4" + SECRET_KEY).encode()
    for part in (date, region, service, "aws4_request"):
        key_bytes = hmac.new(key_bytes, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key_bytes, policy.encode(), hashlib.sha256).hexdigest()
    return {
        "key": key,
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": credential,
        "x-amz-date": stamp,
        "policy": policy,
        "x-amz-signature": signature,
    }


@pytest.mark.parametrize(
    ("region", "service", "message"),
    [
        ("eu-west-9", "s3", "the region 'eu-west-9' is wrong; expecting 'us-east-1'"),
        ("us-east-1", "iam", "incorrect service 'iam'. This endpoint belongs to 's3'."),
    ],
)
def test_post_policy_scope_of_another_region_or_service_is_refused(
    strict, s3, bucket, region, service, message
):
    answer = post_form(strict, bucket, v4_form(bucket, "k", region, service))
    assert (answer.status, answer.code) == (400, "AuthorizationQueryParametersError")
    assert answer.message == "Error parsing the X-Amz-Credential parameter; " + message
    assert keys(s3, bucket) == []
    assert post_form(strict, bucket, v4_form(bucket, "k")).status == 204
    assert keys(s3, bucket) == ["k"]


# --- item 3: no DTD or entity reaches a stored value, whatever the encoding ---------------------------------

ENTITY_TAGGING = (
    '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x "expanded">]>'
    "<Tagging><TagSet><Tag><Key>k</Key><Value>&x;</Value></Tag></TagSet></Tagging>"
)


@pytest.mark.parametrize(
    "body",
    [
        ENTITY_TAGGING.encode("utf-16"),
        ENTITY_TAGGING.encode("utf-16-be"),
        ENTITY_TAGGING.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>').encode(
            "utf-16"
        ),
        ENTITY_TAGGING.encode("utf-8"),
        b'<?xml version="1.0" encoding="ISO-8859-1"?><Tagging><TagSet><Tag><Key>k</Key><Value>\xe9</Value>'
        b"</Tag></TagSet></Tagging>",
        "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>".encode("utf-32"),
    ],
    ids=["utf16-bom", "utf16-be", "utf16-declared", "utf8-dtd", "latin1", "utf32"],
)
def test_tagging_body_with_dtd_or_foreign_encoding_is_malformed(strict, s3, bucket, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    path = f"/{bucket}/k?tagging"
    request = signed(strict, "PUT", "127.0.0.1", path, body=body)
    answer = send(strict, "PUT", path, headers_of(request), body)
    assert (answer.status, answer.code) == (400, "MalformedXML")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


def _utf16_dtd(root: str, inner: str) -> bytes:
    return f'<!DOCTYPE r [<!ENTITY x "v">]><{root}>{inner}</{root}>'.encode("utf-16")


def test_every_xml_body_refuses_a_utf16_dtd(strict, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mpu")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mpu", UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    cases = [
        (
            f"/{bucket}?tagging",
            _utf16_dtd("Tagging", "<TagSet><Tag><Key>a</Key><Value>&x;</Value></Tag></TagSet>"),
            "PUT",
        ),
        (f"/{bucket}?versioning", _utf16_dtd("VersioningConfiguration", "<Status>Enabled</Status>"), "PUT"),
        (f"/{bucket}?delete", _utf16_dtd("Delete", "<Object><Key>k</Key></Object>"), "POST"),
        (
            f"/{bucket}/mpu?uploadId={upload}",
            _utf16_dtd(
                "CompleteMultipartUpload", f"<Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
            ),
            "POST",
        ),
        (
            f"/new-{uuid.uuid4().hex[:8]}",
            _utf16_dtd("CreateBucketConfiguration", "<LocationConstraint>&x;</LocationConstraint>"),
            "PUT",
        ),
    ]
    for path, body, method in cases:
        request = signed(strict, method, "127.0.0.1", path, body=body, headers={"Content-MD5": _md5(body)})
        answer = send(strict, method, path, headers_of(request), body)
        assert (answer.status, answer.code) == (400, "MalformedXML"), path
    assert keys(s3, bucket) == ["k"]
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") is None
    s3.abort_multipart_upload(Bucket=bucket, Key="mpu", UploadId=upload)


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


# --- item 4: odd signature bytes are a mismatch, never a 500 -------------------------------------------------

ODD = "é" * 64


def test_non_ascii_v4_header_signature_is_signature_does_not_match(strict, bucket) -> None:
    request = signed(strict, "GET", "127.0.0.1", f"/{bucket}")
    authorization = request.headers["Authorization"]
    forged = authorization[: authorization.index("Signature=") + len("Signature=")] + ODD
    answer = send(strict, "GET", f"/{bucket}", headers_of(request, Authorization=forged.encode("utf-8")))
    assert (answer.status, answer.code) == (403, "SignatureDoesNotMatch")


def test_non_ascii_v2_header_signature_is_signature_does_not_match(strict, bucket) -> None:
    request = AWSRequest(method="GET", url=f"http://127.0.0.1:{strict.port}/{bucket}")
    HmacV1Auth(CREDENTIALS).add_auth(request)
    forged = f"AWS {ACCESS_KEY}:{ODD}".encode()
    answer = send(
        strict,
        "GET",
        f"/{bucket}",
        headers_of(request, Authorization=forged, Host=f"127.0.0.1:{strict.port}"),
    )
    assert (answer.status, answer.code) == (403, "SignatureDoesNotMatch")


@pytest.mark.parametrize("version", ["v4", "v2"])
def test_non_ascii_presigned_signature_is_signature_does_not_match(strict, s3, bucket, version: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    if version == "v4":
        target = presigned(strict, "GET", "127.0.0.1", f"/{bucket}/k")
        name = "X-Amz-Signature"
    else:
        request = AWSRequest(method="GET", url=f"http://127.0.0.1:{strict.port}/{bucket}/k")
        HmacV1QueryAuth(CREDENTIALS, expires=300).add_auth(request)
        split = urlsplit(request.url)
        target, name = f"{split.path}?{split.query}", "Signature"
    path, query = target.split("?", 1)
    pairs = [part.split("=", 1) for part in query.split("&")]
    forged = "&".join(f"{k}={quote(ODD) if k == name else v}" for k, v in pairs)
    answer = send(strict, "GET", f"{path}?{forged}", {"Host": f"127.0.0.1:{strict.port}"})
    assert (answer.status, answer.code) == (403, "SignatureDoesNotMatch")


@pytest.mark.parametrize("version", ["v4", "v2"])
def test_non_ascii_post_form_signature_is_signature_does_not_match(strict, s3, bucket, version: str) -> None:
    if version == "v4":
        fields = v4_form(bucket, "k")
        fields["x-amz-signature"] = ODD
    else:
        policy = base64.b64encode(
            b'{"expiration": "2099-01-01T00:00:00Z", "conditions": [{"key": "k"}]}'
        ).decode()
        fields = {"key": "k", "AWSAccessKeyId": ACCESS_KEY, "policy": policy, "signature": ODD}
    answer = post_form(strict, bucket, fields)
    assert (answer.status, answer.code) == (403, "SignatureDoesNotMatch")
    assert keys(s3, bucket) == []


def _chunked_put(server: EmbeddedThread, bucket: str, key: str, chunk_signature: str) -> Answer:
    """A STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload whose single chunk carries ``chunk_signature``."""
    data = b"chunk data"
    body = f"{len(data):x};chunk-signature=".encode() + chunk_signature.encode() + b"\r\n" + data + b"\r\n"
    body += b"0;chunk-signature=" + chunk_signature.encode() + b"\r\n\r\n"
    request = sign_request(
        "PUT",
        f"127.0.0.1:{server.port}",
        f"/{bucket}/{key}",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        {"x-amz-decoded-content-length": str(len(data)), "content-encoding": "aws-chunked"},
    )
    headers: dict[str, str | bytes] = {**request.headers, "Content-Length": str(len(body))}
    return send(server, "PUT", f"/{bucket}/{key}", headers, body)


def test_non_ascii_chunk_signature_is_signature_does_not_match(strict, s3, bucket) -> None:
    answer = _chunked_put(strict, bucket, "k", ODD)
    assert (answer.status, answer.code) == (403, "SignatureDoesNotMatch")
    assert keys(s3, bucket) == []


# --- item 5: slow and endless clients ------------------------------------------------------------------------


def _closed_by_server(sock: socket.socket, within_s: float = 20.0) -> bool:
    """True once the server closes ``sock`` (EOF or reset), waiting at most ``within_s``."""
    sock.settimeout(within_s)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_half_sent_request_heads_are_closed_and_the_server_stays_responsive(strict, s3, bucket) -> None:
    sockets = []
    for _ in range(200):
        sock = socket.create_connection(("127.0.0.1", strict.port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        sockets.append(sock)
    s3.put_object(Bucket=bucket, Key="alive", Body=b"yes")
    try:
        assert all(_closed_by_server(sock) for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()
    assert s3.get_object(Bucket=bucket, Key="alive")["Body"].read() == b"yes"


def test_stalled_body_ends_with_request_timeout_and_stores_nothing(strict, s3, bucket) -> None:
    signed_headers = sign_request(
        "PUT", f"127.0.0.1:{strict.port}", f"/{bucket}/stalled", "UNSIGNED-PAYLOAD", {}
    ).headers
    head = (
        f"PUT /{bucket}/stalled HTTP/1.1\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in signed_headers.items())
        + "Content-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", strict.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"only a little")
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
    answer = Answer(response.status, {}, body)
    assert (answer.status, answer.code) == (400, "RequestTimeout")
    assert answer.message == (
        "Your socket connection to the server was not read from or written to within the timeout period."
    )
    assert keys(s3, bucket) == []


def test_chunked_upload_without_length_stops_at_the_put_limit(strict, s3, bucket) -> None:
    signed_headers = sign_request(
        "PUT", f"127.0.0.1:{strict.port}", f"/{bucket}/endless", "UNSIGNED-PAYLOAD", {}
    ).headers
    connection = http.client.HTTPConnection("127.0.0.1", strict.port, timeout=30)
    try:
        connection.putrequest("PUT", f"/{bucket}/endless", skip_host=True, skip_accept_encoding=True)
        for name, value in signed_headers.items():
            connection.putheader(name, value)
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        piece = b"z" * 65536
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        try:
            for _ in range(2 * MAX_PUT // len(piece)):
                connection.send(chunk)
            connection.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the client finished: that is the point
        response = connection.getresponse()
        answer = Answer(response.status, {}, response.read())
    finally:
        connection.close()
    assert (answer.status, answer.code) == (400, "EntityTooLarge")
    assert keys(s3, bucket) == []
    s3.put_object(Bucket=bucket, Key="small", Body=b"fits")
    assert keys(s3, bucket) == ["small"]


def test_chunked_upload_under_the_limit_is_stored(strict, s3, bucket) -> None:
    signed_headers = sign_request(
        "PUT", f"127.0.0.1:{strict.port}", f"/{bucket}/chunked", "UNSIGNED-PAYLOAD", {}
    ).headers
    connection = http.client.HTTPConnection("127.0.0.1", strict.port, timeout=30)
    try:
        connection.putrequest("PUT", f"/{bucket}/chunked", skip_host=True, skip_accept_encoding=True)
        for name, value in signed_headers.items():
            connection.putheader(name, value)
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        connection.send(b"5\r\nhello\r\n0\r\n\r\n")
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"hello"


def test_connections_over_the_cap_get_slow_down_and_the_server_recovers() -> None:
    server = start(max_connections=8, header_timeout_s=120.0)
    idle = []
    try:
        for _ in range(8):
            idle.append(socket.create_connection(("127.0.0.1", server.port)))
        for _ in range(3):
            answer = send(server, "GET", "/", {"Host": f"127.0.0.1:{server.port}"})
            assert (answer.status, answer.code) == (503, "SlowDown")
            assert answer.headers.get("x-amz-request-id")
        for sock in idle:
            sock.close()
        idle.clear()
        deadline = time.monotonic() + 20
        while True:  # the server notices the closes asynchronously
            answer = send(server, "GET", "/", {"Host": f"127.0.0.1:{server.port}"})
            if answer.status != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert (answer.status, answer.code) == (403, "AccessDenied")  # anonymous ListBuckets, served again
        assert s3_client(server.url).list_buckets()["Buckets"] == []
    finally:
        for sock in idle:
            sock.close()
        server.stop()


# --- issue 8: presigned expiry bounds and order ---------------------------------------------------------------


def _presigned_with(strict: EmbeddedThread, bucket: str, **changes: str) -> str:
    target = presigned(strict, "GET", "127.0.0.1", f"/{bucket}/k")
    path, query = target.split("?", 1)
    pairs = [part.split("=", 1) for part in query.split("&")]
    pairs = [(k, quote(changes[k], safe="") if k in changes else v) for k, v in pairs]
    return f"{path}?{'&'.join(f'{k}={v}' for k, v in pairs)}"


def _sign_query_by_hand(strict: EmbeddedThread, bucket: str, expires: str, when: datetime) -> str:
    """A presigned GET with exactly this X-Amz-Expires text and a valid signature over it."""
    date, stamp = when.strftime("%Y%m%d"), when.strftime("%Y%m%dT%H%M%SZ")
    params = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{ACCESS_KEY}/{date}/us-east-1/s3/aws4_request",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": expires,
        "X-Amz-SignedHeaders": "host",
    }
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items()))
    canonical = "\n".join(
        ["GET", f"/{bucket}/k", query, f"host:127.0.0.1:{strict.port}\n", "host", "UNSIGNED-PAYLOAD"]
    )
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            stamp,
            f"{date}/us-east-1/s3/aws4_request",
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + SECRET_KEY).encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"/{bucket}/k?{query}&X-Amz-Signature={signature}"


@pytest.mark.parametrize("expires", ["0", "-1", "604801", "abc", "", "١٢٠", "+60", " 60", "6e2"])
def test_presigned_expires_out_of_range_is_a_query_parameters_error(strict, s3, bucket, expires: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    target = _sign_query_by_hand(strict, bucket, expires, datetime.now(UTC))
    answer = send(strict, "GET", target, {"Host": f"127.0.0.1:{strict.port}"})
    assert (answer.status, answer.code) == (400, "AuthorizationQueryParametersError")


def test_presigned_hand_signed_in_range_is_accepted(strict, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    target = _sign_query_by_hand(strict, bucket, "60", datetime.now(UTC))
    answer = send(strict, "GET", target, {"Host": f"127.0.0.1:{strict.port}"})
    assert (answer.status, answer.body) == (200, b"x")


def test_expired_presigned_url_is_access_denied_before_the_signature_is_checked(strict, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    old = datetime.now(UTC) - timedelta(hours=2)
    target = _sign_query_by_hand(strict, bucket, "60", old)
    expired = send(strict, "GET", target, {"Host": f"127.0.0.1:{strict.port}"})
    assert (expired.status, expired.code, expired.message) == (403, "AccessDenied", "Request has expired")
    tampered = target.rsplit("=", 1)[0] + "=" + "0" * 64
    answer = send(strict, "GET", tampered, {"Host": f"127.0.0.1:{strict.port}"})
    assert (answer.status, answer.code, answer.message) == (403, "AccessDenied", "Request has expired")
    bad_range = _presigned_with(strict, bucket, **{"X-Amz-Expires": "0", "X-Amz-Signature": "0" * 64})
    answer = send(strict, "GET", bad_range, {"Host": f"127.0.0.1:{strict.port}"})
    assert (answer.status, answer.code) == (400, "AuthorizationQueryParametersError")
