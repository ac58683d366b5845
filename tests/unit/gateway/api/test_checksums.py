from __future__ import annotations

import base64
import hashlib

import pytest

from gateway.api import checksums
from gateway.s3 import errors
from gateway.s3.body import PayloadTrailers
from protos.common_pb2 import Checksum
from protos.metadata_pb2 import ObjectMD


def b64_int(value: int, width: int) -> str:
    return base64.b64encode(value.to_bytes(width, "big")).decode()


# Published check values: the CRC catalogue ("123456789"), aws-checksums / aws-c-s3, crc64fast-nvme, SPDK.
CRC64NVME_VECTORS = [
    (b"123456789", b64_int(0xAE8B14860A799888, 8)),
    (bytes(32), b64_int(0xCF3473434D4ECF3B, 8)),
    (b"aaaaaaaaaa", b64_int(0x0C1A80036D65C555, 8)),
    (b"hello world!", b64_int(0xD9160D1FA8E418E3, 8)),
    (bytes(4096), b64_int(0x6482D367EB22B64E, 8)),
    (b"\xff" * 4096, b64_int(0xC0DDBA7302ECA3AC, 8)),
    (b"Hello, World!\n", "SoXXbx67KpE="),
    (b"", "AAAAAAAAAAA="),
]


@pytest.mark.parametrize(("data", "expected"), CRC64NVME_VECTORS)
def test_crc64nvme_known_vectors(data: bytes, expected: str) -> None:
    assert checksums.compute("CRC64NVME", data) == expected


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("CRC32", b64_int(0xCBF43926, 4)),
        ("CRC32C", b64_int(0xE3069283, 4)),
        ("CRC64NVME", b64_int(0xAE8B14860A799888, 8)),
        ("SHA1", base64.b64encode(hashlib.sha1(b"123456789").digest()).decode()),
        ("SHA256", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="),
    ],
)
def test_check_values_of_every_algorithm(algorithm: str, expected: str) -> None:
    assert checksums.compute(algorithm, b"123456789") == expected


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
def test_incremental_hashing_equals_one_shot(algorithm: str) -> None:
    data = bytes(range(256)) * 5000
    hasher = checksums.new_hasher(algorithm)
    for start in range(0, len(data), 70_001):
        hasher.update(data[start : start + 70_001])
    assert base64.b64encode(hasher.digest()).decode() == checksums.compute(algorithm, data)


def test_no_checksum_requested() -> None:
    assert checksums.requested_checksum({}, trailer_allowed=True) is None


def test_checksum_header_is_requested_with_its_value() -> None:
    value = checksums.compute("CRC32C", b"abc")
    requested = checksums.requested_checksum(
        {"x-amz-checksum-crc32c": value, "x-amz-sdk-checksum-algorithm": "crc32c"}, trailer_allowed=False
    )
    assert requested == checksums.RequestedChecksum("CRC32C", expected=value)


def test_checksum_in_trailer() -> None:
    requested = checksums.requested_checksum(
        {"x-amz-trailer": "x-amz-checksum-crc64nvme", "x-amz-sdk-checksum-algorithm": "CRC64NVME"},
        trailer_allowed=True,
    )
    assert requested == checksums.RequestedChecksum("CRC64NVME", trailer="x-amz-checksum-crc64nvme")


def test_trailer_checksum_without_a_trailer_body_is_invalid() -> None:
    with pytest.raises(errors.InvalidRequest):
        checksums.requested_checksum({"x-amz-trailer": "x-amz-checksum-crc32"}, trailer_allowed=False)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-sha1": base64.b64encode(bytes(20)).decode()},
        {"x-amz-checksum-crc32": "AAAAAA==", "x-amz-trailer": "x-amz-checksum-crc32c"},
        {"x-amz-checksum-crc32": "AAAAAA==", "x-amz-sdk-checksum-algorithm": "SHA256"},
        {"x-amz-checksum-crc32": "not base64!"},
        {"x-amz-checksum-crc32": base64.b64encode(bytes(8)).decode()},  # wrong length
        {"x-amz-sdk-checksum-algorithm": "MD5"},
        {"x-amz-sdk-checksum-algorithm": "CRC32"},  # announced, never sent
    ],
)
def test_contradictory_or_malformed_checksum_requests_are_invalid(headers: dict[str, str]) -> None:
    with pytest.raises(errors.InvalidRequest):
        checksums.requested_checksum(headers, trailer_allowed=True)


def test_other_checksum_headers_are_not_algorithms() -> None:
    assert checksums.requested_checksum({"x-amz-checksum-mode": "ENABLED"}, trailer_allowed=True) is None


def feed(calculator: checksums.ChecksumCalculator, data: bytes) -> None:
    for hasher in calculator.hashers:
        hasher.update(data)


def test_calculator_defaults_to_crc64nvme() -> None:
    calculator = checksums.ChecksumCalculator(None)
    feed(calculator, b"123456789")
    assert calculator.result() == Checksum(algorithm="CRC64NVME", value=b64_int(0xAE8B14860A799888, 8))


def test_calculator_verifies_header_value() -> None:
    good = checksums.ChecksumCalculator(
        checksums.RequestedChecksum("SHA256", checksums.compute("SHA256", b"x"))
    )
    feed(good, b"x")
    assert good.result() == Checksum(algorithm="SHA256", value=checksums.compute("SHA256", b"x"))
    bad = checksums.ChecksumCalculator(
        checksums.RequestedChecksum("SHA256", checksums.compute("SHA256", b"y"))
    )
    feed(bad, b"x")
    with pytest.raises(errors.BadDigest):
        bad.result()


def test_calculator_verifies_trailer_value() -> None:
    requested = checksums.RequestedChecksum("CRC32", trailer="x-amz-checksum-crc32")
    trailers = PayloadTrailers(values={"x-amz-checksum-crc32": checksums.compute("CRC32", b"data")})
    calculator = checksums.ChecksumCalculator(requested)
    feed(calculator, b"data")
    assert calculator.result(trailers) is not None
    wrong = PayloadTrailers(values={"x-amz-checksum-crc32": checksums.compute("CRC32", b"other")})
    with pytest.raises(errors.BadDigest):
        calculator.result(wrong)
    malformed = PayloadTrailers(values={"x-amz-checksum-crc32": "zz"})
    with pytest.raises(errors.InvalidRequest):
        calculator.result(malformed)


def test_headers_for_stored_checksums() -> None:
    md = ObjectMD(checksums=[Checksum(algorithm="CRC32C", value="AAAAAA==")])
    assert checksums.object_checksum_headers(md) == {
        "x-amz-checksum-crc32c": "AAAAAA==",
        "x-amz-checksum-type": "FULL_OBJECT",
    }
    composite = ObjectMD(checksums=[Checksum(algorithm="CRC32", value="AAAAAA==-3")])
    assert checksums.object_checksum_headers(composite)["x-amz-checksum-type"] == "COMPOSITE"


def test_checksum_mode() -> None:
    assert checksums.checksum_mode_enabled({"x-amz-checksum-mode": "ENABLED"})
    assert not checksums.checksum_mode_enabled({})


def test_small_body_checksums() -> None:
    body = b"<Tagging/>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    checksums.verify_small_body({}, body)
    checksums.verify_small_body(
        {"Content-MD5": md5, "x-amz-checksum-crc32": checksums.compute("CRC32", body)}, body
    )
    with pytest.raises(errors.BadDigest):
        checksums.verify_small_body({"Content-MD5": base64.b64encode(bytes(16)).decode()}, body)
    with pytest.raises(errors.InvalidDigest):
        checksums.verify_small_body({"Content-MD5": "short"}, body)
    with pytest.raises(errors.BadDigest):
        checksums.verify_small_body({"x-amz-checksum-sha256": checksums.compute("SHA256", b"other")}, body)
