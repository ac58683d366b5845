from __future__ import annotations

import base64
import io
import os

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from gateway.api.checksums import compute
from tests.integration.conftest import ACCESS_KEY, SECRET_KEY, s3_client
from tests.integration.test_buckets import error_of

ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]


def checksum_fields(response: dict) -> dict[str, str]:
    return {name: value for name, value in response.items() if name.startswith("Checksum")}


def assert_absent(s3, bucket: str, key: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key=key)
    assert error_of(excinfo)[1] == 404


def test_default_client_checksum_is_verified_stored_and_returned(s3, bucket) -> None:
    body = os.urandom(200_000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body)
    assert put["ChecksumCRC32"] == compute("CRC32", body)
    get = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert get["Body"].read() == body
    assert get["ChecksumCRC32"] == compute("CRC32", body)
    assert get["ChecksumType"] == "FULL_OBJECT"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("size", [10, 3 * 1024 * 1024 + 5])
def test_each_algorithm_round_trips(s3, bucket, algorithm: str, size: int) -> None:
    body = os.urandom(size)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm=algorithm)
    assert put[f"Checksum{algorithm}"] == compute(algorithm, body)
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert checksum_fields(head) == {
        f"Checksum{algorithm}": compute(algorithm, body),
        "ChecksumType": "FULL_OBJECT",
    }
    get = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert get["Body"].read() == body


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_explicit_checksum_value_is_accepted(s3, bucket, algorithm: str) -> None:
    body = b"explicit"
    s3.put_object(Bucket=bucket, Key="k", Body=body, **{f"Checksum{algorithm}": compute(algorithm, body)})
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == compute(algorithm, body)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("size", [5, 2 * 1024 * 1024])
def test_wrong_checksum_is_bad_digest_and_stores_nothing(s3, bucket, algorithm: str, size: int) -> None:
    body = os.urandom(size)
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(
            Bucket=bucket, Key="k", Body=body, **{f"Checksum{algorithm}": compute(algorithm, b"other")}
        )
    assert error_of(excinfo) == ("BadDigest", 400)
    assert_absent(s3, bucket, "k")


def test_wrong_checksum_keeps_the_previous_object(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"first")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="k", Body=b"second", ChecksumSHA256=compute("SHA256", b"x"))
    assert error_of(excinfo) == ("BadDigest", 400)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"


def test_malformed_checksum_value_is_invalid_request(s3, bucket) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ChecksumCRC32="bm90LWEtY3Jj")
    assert error_of(excinfo) == ("InvalidRequest", 400)
    assert_absent(s3, bucket, "k")


def test_when_required_client_sends_no_checksum_and_gets_crc64nvme(server, bucket) -> None:
    client = s3_client(
        server.url, request_checksum_calculation="when_required", response_checksum_validation="when_required"
    )
    body = b"no checksum from the client"
    put = client.put_object(Bucket=bucket, Key="k", Body=body)
    assert not checksum_fields(put)
    get = client.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert get["Body"].read() == body
    # Like S3, an object written without a checksum still gets a full-object CRC64NVME.
    assert get["ChecksumCRC64NVME"] == compute("CRC64NVME", body)


def test_checksums_are_returned_only_when_asked_and_only_for_whole_objects(server, bucket) -> None:
    client = s3_client(server.url, response_checksum_validation="when_required")
    body = os.urandom(1000)
    client.put_object(Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm="SHA1")
    assert not checksum_fields(client.head_object(Bucket=bucket, Key="k"))
    ranged = client.get_object(Bucket=bucket, Key="k", Range="bytes=0-9", ChecksumMode="ENABLED")
    assert ranged["Body"].read() == body[:10]
    assert not checksum_fields(ranged)


def signed_put(url: str, path: str, headers: dict[str, str], body: bytes) -> urllib3.BaseHTTPResponse:
    request = AWSRequest(method="PUT", url=url + path, headers=headers, data=body)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(request)
    return urllib3.request("PUT", url + path, headers=dict(request.headers.items()), body=body)


def aws_chunked(body: bytes, trailer_value: str | None = None) -> bytes:
    wrapper = AwsChunkedWrapper(
        io.BytesIO(body),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=64 * 1024,
    )
    encoded = wrapper.read()
    if trailer_value is not None:
        good = compute("CRC32", body)
        assert good.encode() in encoded
        encoded = encoded.replace(good.encode(), trailer_value.encode())
    return encoded


def trailer_headers(body: bytes, encoded: bytes) -> dict[str, str]:
    return {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "X-Amz-Trailer": "x-amz-checksum-crc32",
        "X-Amz-Sdk-Checksum-Algorithm": "CRC32",
        "X-Amz-Decoded-Content-Length": str(len(body)),
        "Content-Length": str(len(encoded)),
    }


def test_aws_chunked_upload_with_checksum_trailer(server, s3, bucket) -> None:
    body = os.urandom(300_000)
    encoded = aws_chunked(body)
    response = signed_put(server.url, f"/{bucket}/trailer", trailer_headers(body, encoded), encoded)
    assert response.status == 200, response.data
    assert response.headers["x-amz-checksum-crc32"] == compute("CRC32", body)
    get = s3.get_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert get["Body"].read() == body
    assert get["ChecksumCRC32"] == compute("CRC32", body)


def test_aws_chunked_upload_with_wrong_trailer_is_bad_digest(server, s3, bucket) -> None:
    body = os.urandom(300_000)
    wrong = base64.b64encode(b"\x00\x00\x00\x01").decode()
    encoded = aws_chunked(body, trailer_value=wrong)
    response = signed_put(server.url, f"/{bucket}/trailer", trailer_headers(body, encoded), encoded)
    assert response.status == 400
    assert b"<Code>BadDigest</Code>" in response.data
    assert_absent(s3, bucket, "trailer")


def test_copy_keeps_the_source_checksum_algorithm(s3, bucket) -> None:
    body = os.urandom(100_000)
    s3.put_object(Bucket=bucket, Key="src", Body=body, ChecksumAlgorithm="SHA256")
    result = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert result["CopyObjectResult"]["ChecksumSHA256"] == compute("SHA256", body)
    head = s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == compute("SHA256", body)


def test_copy_with_a_new_checksum_algorithm(s3, bucket) -> None:
    body = os.urandom(1000)
    s3.put_object(Bucket=bucket, Key="src", Body=body, ChecksumAlgorithm="SHA256")
    s3.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, ChecksumAlgorithm="CRC32C"
    )
    head = s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert checksum_fields(head) == {"ChecksumCRC32C": compute("CRC32C", body), "ChecksumType": "FULL_OBJECT"}
