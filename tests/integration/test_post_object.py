"""Browser form uploads (PostObject) sent with ``curl -F``, with V4 and V2 policies from boto3."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.conftest import ACCESS_KEY, SECRET_KEY, s3_client


@dataclass
class CurlResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def error_code(self) -> str | None:
        if not self.body:
            return None
        return ET.fromstring(self.body).findtext("Code")


def curl_form(url: str, fields: dict[str, str], file: Path | None, tmp_path: Path, *extra: str) -> CurlResult:
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is not installed; scripts/test installs it")
    body_path, header_path = tmp_path / "curl-body", tmp_path / "curl-headers"
    argv = [curl, "-sS", "-o", str(body_path), "-D", str(header_path), "-w", "%{http_code}", *extra]
    for name, value in fields.items():
        argv += ["--form-string", f"{name}={value}"]
    if file is not None:
        argv += ["-F", f"file=@{file}"]
    done = subprocess.run([*argv, url], capture_output=True, text=True, timeout=120, check=True)
    headers: dict[str, str] = {}
    for line in header_path.read_text().splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return CurlResult(int(done.stdout), headers, body_path.read_bytes())


@pytest.fixture(scope="module")
def v4(server):  # type: ignore[no-untyped-def]
    return s3_client(server.url, signature_version="s3v4")


@pytest.fixture(scope="module")
def v2(server):  # type: ignore[no-untyped-def]
    return s3_client(server.url, signature_version="s3")


def keys_of(s3, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(os.urandom(1500))
    return path


def test_v4_form_upload_returns_post_response_and_stores_the_file(s3, v4, bucket, upload, tmp_path) -> None:
    post = v4.generate_presigned_post(
        bucket,
        "uploads/${filename}",
        Fields={"success_action_status": "201", "Content-Type": "image/jpeg", "x-amz-meta-origin": "form"},
        Conditions=[
            {"success_action_status": "201"},
            ["starts-with", "$Content-Type", "image/"],
            {"x-amz-meta-origin": "form"},
            ["content-length-range", 1, 10_000],
        ],
    )
    assert "x-amz-signature" in post["fields"]
    result = curl_form(post["url"], post["fields"], upload, tmp_path)
    assert result.status == 201, result.body
    root = ET.fromstring(result.body)
    assert root.tag == "PostResponse"
    assert root.findtext("Bucket") == bucket
    assert root.findtext("Key") == "uploads/photo.jpg"
    etag = hashlib.md5(upload.read_bytes()).hexdigest()
    assert root.findtext("ETag") == f'"{etag}"'
    assert result.headers["etag"] == f'"{etag}"'
    got = s3.get_object(Bucket=bucket, Key="uploads/photo.jpg")
    assert got["Body"].read() == upload.read_bytes()
    assert got["ContentType"] == "image/jpeg"
    assert got["Metadata"] == {"origin": "form"}


def test_v2_form_upload_defaults_to_204(s3, v2, bucket, upload, tmp_path) -> None:
    post = v2.generate_presigned_post(bucket, "v2-object")
    assert "signature" in post["fields"]
    assert "x-amz-signature" not in post["fields"]
    result = curl_form(post["url"], post["fields"], upload, tmp_path)
    assert result.status == 204, result.body
    assert s3.get_object(Bucket=bucket, Key="v2-object")["Body"].read() == upload.read_bytes()


def test_large_file_is_streamed(s3, v4, bucket, tmp_path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    post = v4.generate_presigned_post(bucket, "big.bin")
    result = curl_form(post["url"], post["fields"], big, tmp_path)
    assert result.status == 204, result.body
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == big.stat().st_size
    assert head["ETag"] == f'"{hashlib.md5(big.read_bytes()).hexdigest()}"'


def test_success_action_redirect_carries_bucket_key_and_etag(s3, v4, bucket, upload, tmp_path) -> None:
    target = "http://example.test/done?from=form"
    post = v4.generate_presigned_post(
        bucket,
        "redirected",
        Fields={"success_action_redirect": target},
        Conditions=[{"success_action_redirect": target}],
    )
    result = curl_form(post["url"], post["fields"], upload, tmp_path)
    assert result.status == 303, result.body
    location = urlsplit(result.headers["location"])
    assert location.netloc == "example.test"
    query = parse_qs(location.query)
    assert query["from"] == ["form"]
    assert query["bucket"] == [bucket]
    assert query["key"] == ["redirected"]
    assert query["etag"] == [f'"{hashlib.md5(upload.read_bytes()).hexdigest()}"']


def test_success_action_status_200(s3, v4, bucket, upload, tmp_path) -> None:
    post = v4.generate_presigned_post(
        bucket, "ok", Fields={"success_action_status": "200"}, Conditions=[{"success_action_status": "200"}]
    )
    result = curl_form(post["url"], post["fields"], upload, tmp_path)
    assert (result.status, result.body) == (200, b"")


@pytest.mark.parametrize(
    ("size", "code"),
    [(20_000, "EntityTooLarge"), (5, "EntityTooSmall")],
)
def test_content_length_range_is_enforced(s3, v4, bucket, tmp_path, size: int, code: str) -> None:
    path = tmp_path / "sized.bin"
    path.write_bytes(os.urandom(size))
    post = v4.generate_presigned_post(bucket, "sized", Conditions=[["content-length-range", 10, 10_000]])
    result = curl_form(post["url"], post["fields"], path, tmp_path)
    assert (result.status, result.error_code()) == (400, code)
    assert keys_of(s3, bucket) == []


def test_content_length_range_rejects_a_large_streamed_file(s3, v4, bucket, tmp_path) -> None:
    path = tmp_path / "large.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024))
    post = v4.generate_presigned_post(bucket, "large", Conditions=[["content-length-range", 0, 1024 * 1024]])
    result = curl_form(post["url"], post["fields"], path, tmp_path)
    assert (result.status, result.error_code()) == (400, "EntityTooLarge")
    assert keys_of(s3, bucket) == []


def test_key_outside_the_policy_prefix_is_denied(s3, v4, bucket, upload, tmp_path) -> None:
    post = v4.generate_presigned_post(bucket, "allowed/${filename}")
    fields = {**post["fields"], "key": "elsewhere/file"}
    result = curl_form(post["url"], fields, upload, tmp_path)
    assert (result.status, result.error_code()) == (403, "AccessDenied")
    assert keys_of(s3, bucket) == []


def test_field_not_named_by_the_policy_is_denied(s3, v4, bucket, upload, tmp_path) -> None:
    post = v4.generate_presigned_post(bucket, "extra")
    fields = {**post["fields"], "x-amz-meta-sneaky": "1"}
    result = curl_form(post["url"], fields, upload, tmp_path)
    assert (result.status, result.error_code()) == (403, "AccessDenied")
    # x-ignore-* fields need no condition.
    fields = {**post["fields"], "x-ignore-tracking": "1"}
    assert curl_form(post["url"], fields, upload, tmp_path).status == 204
    assert keys_of(s3, bucket) == ["extra"]


def test_policy_for_another_bucket_is_denied(s3, v4, bucket, upload, tmp_path) -> None:
    other = v4.generate_presigned_post(bucket + "-other", "k")
    result = curl_form(other["url"].replace(bucket + "-other", bucket), other["fields"], upload, tmp_path)
    assert (result.status, result.error_code()) == (403, "AccessDenied")
    assert keys_of(s3, bucket) == []


@pytest.mark.parametrize("client_name", ["v4", "v2"])
def test_tampered_signature_is_rejected(s3, v4, v2, bucket, upload, tmp_path, client_name: str) -> None:
    client = v4 if client_name == "v4" else v2
    post = client.generate_presigned_post(bucket, "tampered")
    fields = dict(post["fields"])
    if client_name == "v4":
        fields["x-amz-signature"] = "0" * 64
    else:
        fields["signature"] = base64.b64encode(b"x" * 20).decode()
    result = curl_form(post["url"], fields, upload, tmp_path)
    assert (result.status, result.error_code()) == (403, "SignatureDoesNotMatch")
    assert keys_of(s3, bucket) == []


def test_unknown_access_key_is_rejected(s3, v4, bucket, upload, tmp_path) -> None:
    stranger = s3_client(s3.meta.endpoint_url, "unknownKey", "secret", signature_version="s3v4")
    post = stranger.generate_presigned_post(bucket, "k")
    result = curl_form(post["url"], post["fields"], upload, tmp_path)
    assert (result.status, result.error_code()) == (403, "InvalidAccessKeyId")


def test_expired_policy_is_denied(s3, v4, bucket, upload, tmp_path) -> None:
    post = v4.generate_presigned_post(bucket, "late", ExpiresIn=-60)
    result = curl_form(post["url"], post["fields"], upload, tmp_path)
    assert (result.status, result.error_code()) == (403, "AccessDenied")
    assert keys_of(s3, bucket) == []


def test_malformed_policy_document_is_rejected(s3, v4, bucket, upload, tmp_path) -> None:
    policy = base64.b64encode(json.dumps({"conditions": []}).encode()).decode()  # no expiration
    signature = base64.b64encode(hmac.new(SECRET_KEY.encode(), policy.encode(), hashlib.sha1).digest())
    fields = {"key": "k", "AWSAccessKeyId": ACCESS_KEY, "policy": policy, "signature": signature.decode()}
    result = curl_form(f"{s3.meta.endpoint_url}/{bucket}", fields, upload, tmp_path)
    assert (result.status, result.error_code()) == (400, "InvalidPolicyDocument")
    assert keys_of(s3, bucket) == []


def test_unsigned_form_is_denied(s3, v4, bucket, upload, tmp_path) -> None:
    result = curl_form(f"{s3.meta.endpoint_url}/{bucket}", {"key": "anonymous"}, upload, tmp_path)
    assert (result.status, result.error_code()) == (403, "AccessDenied")
    assert keys_of(s3, bucket) == []


def test_form_without_file_or_key_is_invalid(s3, v4, bucket, upload, tmp_path) -> None:
    post = v4.generate_presigned_post(bucket, "k")
    result = curl_form(post["url"], post["fields"], None, tmp_path)
    assert (result.status, result.error_code()) == (400, "InvalidArgument")
    fields = {name: value for name, value in post["fields"].items() if name != "key"}
    result = curl_form(post["url"], fields, upload, tmp_path)
    assert (result.status, result.error_code()) == (400, "InvalidArgument")
    assert keys_of(s3, bucket) == []


def test_post_that_is_not_a_form_fails_its_precondition(s3, v4, bucket, tmp_path) -> None:
    curl = shutil.which("curl")
    assert curl is not None
    done = subprocess.run(
        [curl, "-sS", "-w", "\n%{http_code}", "-X", "POST", "-H", "Content-Type: text/plain", "--data", "x",
         f"{s3.meta.endpoint_url}/{bucket}"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    body, _, status = done.stdout.rpartition("\n")
    assert status == "412"
    assert "<Code>PreconditionFailed</Code>" in body


def _crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _integrity_post(v4, bucket: str, key: str, fields: dict[str, str]) -> dict:  # type: ignore[no-untyped-def]
    return v4.generate_presigned_post(
        bucket, key, Fields=fields, Conditions=[{name: value} for name, value in fields.items()]
    )


def test_form_checksum_field_is_verified_and_stored(s3, v4, bucket, upload, tmp_path) -> None:
    data = upload.read_bytes()
    post = _integrity_post(v4, bucket, "summed", {"x-amz-checksum-crc32": _crc32_b64(data)})
    result = curl_form(post["url"], post["fields"], upload, tmp_path)
    assert result.status == 204, result.body
    assert result.headers["x-amz-checksum-crc32"] == _crc32_b64(data)
    got = s3.get_object(Bucket=bucket, Key="summed", ChecksumMode="ENABLED")
    assert got["Body"].read() == data and got["ChecksumCRC32"] == _crc32_b64(data)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"x-amz-checksum-crc32": base64.b64encode(b"\x00\x00\x00\x01").decode()}, "BadDigest"),
        (
            {"x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(b"other").digest()).decode()},
            "BadDigest",
        ),
        ({"Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()}, "BadDigest"),
        ({"x-amz-checksum-crc32": "not base64!"}, "InvalidRequest"),
        ({"Content-MD5": "not-an-md5"}, "InvalidDigest"),
    ],
)
def test_form_integrity_fields_that_do_not_match_store_nothing(
    s3, v4, bucket, upload, tmp_path, fields: dict[str, str], code: str
) -> None:
    post = _integrity_post(v4, bucket, "wrong", fields)
    result = curl_form(post["url"], post["fields"], upload, tmp_path)
    assert (result.status, result.error_code()) == (400, code), result.body
    assert keys_of(s3, bucket) == []


def test_form_content_md5_that_matches_is_accepted(s3, v4, bucket, upload, tmp_path) -> None:
    digest = base64.b64encode(hashlib.md5(upload.read_bytes()).digest()).decode()
    post = _integrity_post(v4, bucket, "md5", {"Content-MD5": digest})
    result = curl_form(post["url"], post["fields"], upload, tmp_path)
    assert result.status == 204, result.body
    assert s3.get_object(Bucket=bucket, Key="md5")["Body"].read() == upload.read_bytes()


def test_a_streamed_form_file_with_a_wrong_checksum_stores_nothing(s3, v4, bucket, tmp_path) -> None:
    large = tmp_path / "large.bin"
    large.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    post = _integrity_post(v4, bucket, "large", {"x-amz-checksum-crc32": _crc32_b64(b"other")})
    result = curl_form(post["url"], post["fields"], large, tmp_path)
    assert (result.status, result.error_code()) == (400, "BadDigest"), result.body
    assert keys_of(s3, bucket) == []


def test_a_grant_field_is_refused_not_ignored(s3, v4, bucket, upload, tmp_path) -> None:
    grant = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'
    post = v4.generate_presigned_post(
        bucket, "granted", Fields={"x-amz-grant-read": grant}, Conditions=[{"x-amz-grant-read": grant}]
    )
    result = curl_form(post["url"], post["fields"], upload, tmp_path)
    assert (result.status, result.error_code()) == (501, "NotImplemented")
    assert keys_of(s3, bucket) == []
