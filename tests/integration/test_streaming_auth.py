"""Signed and streaming request bodies sent by hand to the live server, following AWS's SigV4 spec.

The signing code here is written from the specification, independently of the gateway's, so a bug
shared by both cannot hide. Bodies go over http.client and raw sockets: aws-chunked with every chunk
signed, with trailing checksums (signed and unsigned), Transfer-Encoding: chunked, Expect: 100-continue.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import socket
import time
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import pytest

from tests.integration.conftest import ACCESS_KEY, SECRET_KEY, s3_client

REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(date: str, secret: str = SECRET_KEY) -> bytes:
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (REGION, "s3", "aws4_request"):
        key = _hmac(key, part)
    return key


@dataclass
class Signed:
    headers: dict[str, str]
    seed_signature: str
    amz_date: str
    scope: str
    key: bytes


def sign_request(
    method: str,
    host: str,
    path: str,
    payload_hash: str,
    extra: dict[str, str],
    amz_date: str | None = None,
    query: str = "",
) -> Signed:
    """``query``: the canonical query string (sorted, encoded) of ``path``'s query, if any."""
    amz_date = amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    headers = {"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash, **extra}
    names = sorted(headers)
    canonical = "\n".join(
        [
            method,
            quote(path, safe="/-_.~"),
            query,
            "".join(f"{name}:{headers[name].strip()}\n" for name in names),
            ";".join(names),
            payload_hash,
        ]
    )
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    text = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = signing_key(amz_date[:8])
    signature = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return Signed(headers, signature, amz_date, scope, key)


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def signed_chunks(
    signed: Signed, pieces: list[bytes], trailer: bytes | None = None, corrupt: int = -1
) -> bytes:
    """An aws-chunked body whose chunk signatures chain from the seed; ``trailer`` adds signed trailers."""
    previous = signed.seed_signature
    out = bytearray()
    for index, piece in enumerate([*pieces, b""]):
        text = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                signed.amz_date,
                signed.scope,
                previous,
                EMPTY_SHA256,
                hashlib.sha256(piece).hexdigest(),
            ]
        )
        signature = hmac.new(signed.key, text.encode(), hashlib.sha256).hexdigest()
        previous = signature
        if index == corrupt:
            signature = "0" * 64
        out += f"{len(piece):x};chunk-signature={signature}\r\n".encode() + piece
        if piece or trailer is None:
            out += b"\r\n"
    if trailer is not None:
        text = "\n".join(
            [
                "AWS4-HMAC-SHA256-TRAILER",
                signed.amz_date,
                signed.scope,
                previous,
                hashlib.sha256(trailer).hexdigest(),
            ]
        )
        trailer_signature = hmac.new(signed.key, text.encode(), hashlib.sha256).hexdigest()
        out += (
            trailer.replace(b"\n", b"\r\n") + f"x-amz-trailer-signature:{trailer_signature}\r\n\r\n".encode()
        )
    return bytes(out)


def send(url: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None):  # type: ignore[no-untyped-def]
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def code_of(body: bytes) -> str | None:
    return ET.fromstring(body).findtext("Code") if body else None


def host_of(url: str) -> str:
    return urlsplit(url).netloc


def keys_of(s3, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


PIECES = [os.urandom(64 * 1024), os.urandom(64 * 1024), os.urandom(100)]


def streaming_headers(pieces: list[bytes], extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(sum(map(len, pieces))),
        **(extra or {}),
    }


def test_streaming_signed_payload_is_stored(server, s3, bucket) -> None:
    path = f"/{bucket}/streamed"
    signed = sign_request(
        "PUT", host_of(server.url), path, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", streaming_headers(PIECES)
    )
    body = signed_chunks(signed, PIECES)
    status, answer = send(server.url, "PUT", path, {**signed.headers, "content-length": str(len(body))}, body)
    assert status == 200, answer
    assert s3.get_object(Bucket=bucket, Key="streamed")["Body"].read() == b"".join(PIECES)


@pytest.mark.parametrize("corrupt", [0, 2, 3])
def test_any_bad_chunk_signature_is_rejected_and_nothing_stored(server, s3, bucket, corrupt: int) -> None:
    path = f"/{bucket}/streamed"
    signed = sign_request(
        "PUT", host_of(server.url), path, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", streaming_headers(PIECES)
    )
    body = signed_chunks(signed, PIECES, corrupt=corrupt)
    status, answer = send(server.url, "PUT", path, {**signed.headers, "content-length": str(len(body))}, body)
    assert (status, code_of(answer)) == (403, "SignatureDoesNotMatch")
    assert keys_of(s3, bucket) == []


def test_streaming_signed_payload_with_signed_trailer(server, s3, bucket) -> None:
    path = f"/{bucket}/trailed"
    data = b"".join(PIECES)
    headers = streaming_headers(PIECES, {"x-amz-trailer": "x-amz-checksum-crc32"})
    signed = sign_request(
        "PUT", host_of(server.url), path, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", headers
    )
    trailer = f"x-amz-checksum-crc32:{crc32_b64(data)}\n".encode()
    body = signed_chunks(signed, PIECES, trailer=trailer)
    status, answer = send(server.url, "PUT", path, {**signed.headers, "content-length": str(len(body))}, body)
    assert status == 200, answer
    assert s3.get_object(Bucket=bucket, Key="trailed")["Body"].read() == data


def test_tampered_trailer_is_rejected(server, s3, bucket) -> None:
    path = f"/{bucket}/trailed"
    headers = streaming_headers(PIECES, {"x-amz-trailer": "x-amz-checksum-crc32"})
    signed = sign_request(
        "PUT", host_of(server.url), path, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", headers
    )
    trailer = f"x-amz-checksum-crc32:{crc32_b64(b'other')}\n".encode()
    body = signed_chunks(signed, PIECES, trailer=trailer)
    body = body.replace(
        crc32_b64(b"other").encode(), crc32_b64(b"".join(PIECES)).encode()
    )  # signature now stale
    status, answer = send(server.url, "PUT", path, {**signed.headers, "content-length": str(len(body))}, body)
    assert (status, code_of(answer)) == (403, "SignatureDoesNotMatch")
    assert keys_of(s3, bucket) == []


def unsigned_trailer_body(pieces: list[bytes], checksum: str) -> bytes:
    out = bytearray()
    for piece in pieces:
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return bytes(out) + f"0\r\nx-amz-checksum-crc32:{checksum}\r\n\r\n".encode()


@pytest.mark.parametrize("correct", [True, False])
def test_unsigned_payload_trailer_checksum_is_verified(server, s3, bucket, correct: bool) -> None:
    path = f"/{bucket}/unsigned-trailer"
    data = b"".join(PIECES)
    headers = streaming_headers(PIECES, {"x-amz-trailer": "x-amz-checksum-crc32"})
    signed = sign_request("PUT", host_of(server.url), path, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", headers)
    body = unsigned_trailer_body(PIECES, crc32_b64(data if correct else b"wrong"))
    status, answer = send(server.url, "PUT", path, {**signed.headers, "content-length": str(len(body))}, body)
    if correct:
        assert status == 200, answer
        assert s3.get_object(Bucket=bucket, Key="unsigned-trailer")["Body"].read() == data
    else:
        assert (status, code_of(answer)) == (400, "BadDigest")
        assert keys_of(s3, bucket) == []


def test_transfer_encoding_chunked_body(server, s3, bucket) -> None:
    path = f"/{bucket}/chunked"
    signed = sign_request("PUT", host_of(server.url), path, "UNSIGNED-PAYLOAD", {})
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("PUT", path, body=iter(PIECES), headers=signed.headers, encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 200, response.read()
    finally:
        connection.close()
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"".join(PIECES)


STREAMING_MODES = ["STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"]


def aws_chunked_request(
    url: str, path: str, mode: str, pieces: list[bytes], query: str = "", decoded_length: int | None = None
) -> tuple[dict[str, str], bytes]:
    """Signed headers (no Content-Length) and the aws-chunked body of ``pieces`` in ``mode``."""
    data = b"".join(pieces)
    extra = streaming_headers(pieces)
    if decoded_length is not None:
        extra["x-amz-decoded-content-length"] = str(decoded_length)
    if mode == "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
        extra["x-amz-trailer"] = "x-amz-checksum-crc32"
    signed = sign_request("PUT", host_of(url), path, mode, extra, query=query)
    if mode == "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
        return signed.headers, unsigned_trailer_body(pieces, crc32_b64(data))
    return signed.headers, signed_chunks(signed, pieces)


def send_transfer_chunked(url: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """Sends ``body`` with Transfer-Encoding: chunked (in a few HTTP chunks) and no Content-Length."""
    assert not any(name.lower() == "content-length" for name in headers)
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        step = 50_000
        pieces = (body[offset : offset + step] for offset in range(0, len(body), step))
        connection.request("PUT", target, body=pieces, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("mode", STREAMING_MODES)
def test_aws_chunked_put_without_content_length_is_stored(server, s3, bucket, mode: str) -> None:
    path = f"/{bucket}/no-length"
    headers, body = aws_chunked_request(server.url, path, mode, PIECES)
    status, answer = send_transfer_chunked(server.url, path, headers, body)
    assert status == 200, answer
    got = s3.get_object(Bucket=bucket, Key="no-length")
    assert got["Body"].read() == b"".join(PIECES)
    assert got["ContentLength"] == sum(map(len, PIECES))
    # aws-chunked is how the body travelled, not how the object is encoded.
    assert "ContentEncoding" not in got


def test_aws_chunked_is_dropped_from_the_stored_content_encoding(server, s3, bucket) -> None:
    path = f"/{bucket}/gzipped"
    signed = sign_request(
        "PUT",
        host_of(server.url),
        path,
        STREAMING_MODES[0],
        streaming_headers(PIECES, {"content-encoding": "aws-chunked,gzip"}),
    )
    status, answer = send_transfer_chunked(server.url, path, signed.headers, signed_chunks(signed, PIECES))
    assert status == 200, answer
    assert s3.head_object(Bucket=bucket, Key="gzipped")["ContentEncoding"] == "gzip"
    # boto3's own flexible-checksum uploads (aws-chunked with a trailer) keep only what the caller set.
    s3.put_object(Bucket=bucket, Key="sdk", Body=b"x" * 1000, ChecksumAlgorithm="CRC32")
    assert "ContentEncoding" not in s3.head_object(Bucket=bucket, Key="sdk")
    s3.put_object(
        Bucket=bucket, Key="sdk-gzip", Body=b"x" * 1000, ChecksumAlgorithm="CRC32", ContentEncoding="gzip"
    )
    assert s3.head_object(Bucket=bucket, Key="sdk-gzip")["ContentEncoding"] == "gzip"


@pytest.mark.parametrize("mode", STREAMING_MODES)
def test_aws_chunked_upload_part_without_content_length_is_stored(server, s3, bucket, mode: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
    path = f"/{bucket}/parts"
    query = f"partNumber=1&uploadId={upload_id}"
    headers, body = aws_chunked_request(server.url, path, mode, PIECES, query=query)
    status, answer = send_transfer_chunked(server.url, f"{path}?{query}", headers, body)
    assert status == 200, answer
    listed = s3.list_parts(Bucket=bucket, Key="parts", UploadId=upload_id)["Parts"]
    assert [(part["PartNumber"], part["Size"]) for part in listed] == [(1, sum(map(len, PIECES)))]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="parts",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": listed[0]["ETag"]}]},
    )
    assert s3.get_object(Bucket=bucket, Key="parts")["Body"].read() == b"".join(PIECES)


@pytest.mark.parametrize("mode", STREAMING_MODES)
def test_aws_chunked_body_shorter_than_its_decoded_length_stores_nothing(
    server, s3, bucket, mode: str
) -> None:
    path = f"/{bucket}/short"
    declared = sum(map(len, PIECES)) + 10
    headers, body = aws_chunked_request(server.url, path, mode, PIECES, decoded_length=declared)
    status, answer = send_transfer_chunked(server.url, path, headers, body)
    assert (status, code_of(answer)) == (400, "IncompleteBody")
    assert keys_of(s3, bucket) == []


def test_wrong_payload_sha256_is_rejected(server, s3, bucket) -> None:
    path = f"/{bucket}/hashed"
    signed = sign_request("PUT", host_of(server.url), path, hashlib.sha256(b"expected").hexdigest(), {})
    status, answer = send(server.url, "PUT", path, signed.headers, b"something else")
    assert (status, code_of(answer)) == (400, "XAmzContentSHA256Mismatch")
    assert keys_of(s3, bucket) == []


def test_request_time_too_skewed(server, s3, bucket) -> None:
    path = f"/{bucket}/skewed"
    stale = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 3600))
    signed = sign_request(
        "PUT", host_of(server.url), path, hashlib.sha256(b"x").hexdigest(), {}, amz_date=stale
    )
    status, answer = send(server.url, "PUT", path, signed.headers, b"x")
    assert (status, code_of(answer)) == (403, "RequestTimeTooSkewed")
    assert keys_of(s3, bucket) == []


def raw_exchange(url: str, head: bytes, body: bytes) -> tuple[bytes, bytes]:
    """Sends headers with Expect: 100-continue; returns (interim reply, final reply)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head)
        interim = b""
        while b"\r\n\r\n" not in interim:
            piece = sock.recv(65536)
            if not piece:
                break
            interim += piece
        if not interim.startswith(b"HTTP/1.1 100"):
            return b"", interim
        sock.sendall(body)
        final = b""
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            final += piece
            if b"\r\n\r\n" in final and final.split(b"\r\n", 1)[0].endswith(b"OK"):
                break
        return interim, final


@pytest.mark.parametrize("valid", [True, False])
def test_expect_100_continue_only_after_authentication(server, s3, bucket, valid: bool) -> None:
    path = f"/{bucket}/expected"
    data = b"expect body"
    signed = sign_request("PUT", host_of(server.url), path, hashlib.sha256(data).hexdigest(), {})
    if not valid:
        signed.headers["authorization"] = signed.headers["authorization"][:-4] + "0000"
    lines = [f"PUT {path} HTTP/1.1", *(f"{k}: {v}" for k, v in signed.headers.items())]
    lines += [f"content-length: {len(data)}", "expect: 100-continue", "connection: close"]
    interim, final = raw_exchange(server.url, ("\r\n".join(lines) + "\r\n\r\n").encode(), data)
    if valid:
        assert interim.startswith(b"HTTP/1.1 100")
        assert final.startswith(b"HTTP/1.1 200")
        assert s3.get_object(Bucket=bucket, Key="expected")["Body"].read() == data
    else:
        assert interim == b""
        assert final.startswith(b"HTTP/1.1 403")
        assert b"SignatureDoesNotMatch" in final
        assert keys_of(s3, bucket) == []


def test_sigv2_header_auth_with_boto3(server, bucket) -> None:
    v2 = s3_client(server.url, signature_version="s3")
    v2.put_object(Bucket=bucket, Key="v2 key+plus", Body=b"v2 body", Metadata={"a": "b"})
    got = v2.get_object(Bucket=bucket, Key="v2 key+plus")
    assert got["Body"].read() == b"v2 body"
    assert got["Metadata"] == {"a": "b"}
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket)["Contents"]] == ["v2 key+plus"]
    v2.delete_object(Bucket=bucket, Key="v2 key+plus")


def test_sigv2_with_a_wrong_secret_is_rejected(server, s3, bucket) -> None:
    wrong = s3_client(server.url, secret_key="not-the-secret", signature_version="s3")
    with pytest.raises(Exception) as excinfo:
        wrong.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert excinfo.value.response["Error"]["Code"] == "SignatureDoesNotMatch"  # type: ignore[attr-defined]
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403  # type: ignore[attr-defined]
    assert keys_of(s3, bucket) == []
