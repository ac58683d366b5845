"""Flexible checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256): requested, computed, verified, returned.

A write names at most one algorithm, by an ``x-amz-checksum-<algorithm>`` header
carrying the value, by ``x-amz-trailer`` announcing that the value follows the
aws-chunked body, or by ``x-amz-sdk-checksum-algorithm``. The gateway computes it
while the body streams through (``ChecksumCalculator.hashers`` are fed by
``write.store_data`` in the same worker thread as the MD5), then verifies it and
stores it as ``ObjectMD.checksums``. Like S3, an object written without a checksum
still gets a CRC64NVME, so GET with ``x-amz-checksum-mode: ENABLED`` can return one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import crc32c
from awscrt import checksums as crt_checksums

from gateway.s3 import errors
from gateway.s3.body import PayloadTrailers, declared_trailers
from protos.common_pb2 import Checksum
from protos.metadata_pb2 import ObjectMD

HEADER_PREFIX = "x-amz-checksum-"
SDK_ALGORITHM_HEADER = "x-amz-sdk-checksum-algorithm"
MODE_HEADER = "x-amz-checksum-mode"
TYPE_HEADER = "x-amz-checksum-type"
DEFAULT_ALGORITHM = "CRC64NVME"
FULL_OBJECT = "FULL_OBJECT"


class Hasher(Protocol):
    def update(self, data: bytes) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A running CRC over a C implementation, digested big-endian like S3's base64 values."""

    def __init__(self, function: Callable[[bytes, int], int], width_bytes: int) -> None:
        self._function = function
        self._width = width_bytes
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._function(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


def _crc32(data: bytes, value: int) -> int:
    return zlib.crc32(data, value)


def _crc32c(data: bytes, value: int) -> int:
    return crc32c.crc32c(data, value)


def _crc64nvme(data: bytes, value: int) -> int:
    return crt_checksums.crc64nvme(data, value)


_FACTORIES: Mapping[str, Callable[[], Hasher]] = {
    "CRC32": lambda: _Crc(_crc32, 4),
    "CRC32C": lambda: _Crc(_crc32c, 4),
    "CRC64NVME": lambda: _Crc(_crc64nvme, 8),
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
}
ALGORITHMS: tuple[str, ...] = tuple(_FACTORIES)
_DIGEST_BYTES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}


def new_hasher(algorithm: str) -> Hasher:
    return _FACTORIES[algorithm]()


def header_name(algorithm: str) -> str:
    return HEADER_PREFIX + algorithm.lower()


def compute(algorithm: str, data: bytes) -> str:
    """The base64 checksum of ``data``, as S3 writes it."""
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return base64.b64encode(hasher.digest()).decode("ascii")


def _algorithm_of(name: str) -> str | None:
    """``x-amz-checksum-crc32`` -> ``CRC32``; None for other x-amz-checksum-* headers (mode, type)."""
    lowered = name.lower()
    if not lowered.startswith(HEADER_PREFIX):
        return None
    algorithm = lowered[len(HEADER_PREFIX) :].upper()
    return algorithm if algorithm in _FACTORIES else None


def _unsupported(value: str) -> errors.S3Error:
    return errors.InvalidRequest(
        "Checksum algorithm provided is unsupported. Please try again with any of the valid types: "
        f"[{', '.join(ALGORITHMS)}]",
        ArgumentName=SDK_ALGORITHM_HEADER,
        ArgumentValue=value,
    )


def _validate_value(algorithm: str, value: str) -> str:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _DIGEST_BYTES[algorithm]:
        raise errors.InvalidRequest(f"Value for {header_name(algorithm)} header is invalid.")
    return value.strip()


@dataclass(frozen=True)
class RequestedChecksum:
    algorithm: str
    expected: str | None = None  # base64 from the request header
    trailer: str | None = None  # the trailing header that carries the value

    def verify(self, computed: str, trailers: PayloadTrailers | None = None) -> None:
        """Raises BadDigest (or InvalidRequest for a malformed value) unless the client's value matches."""
        expected = self.expected
        if self.trailer is not None:
            received = trailers.get(self.trailer) if trailers is not None else None
            if received is None:
                raise errors.MalformedTrailerError(f"The trailing header {self.trailer} was not sent.")
            expected = _validate_value(self.algorithm, received)
        if expected is None:
            return
        if not hmac.compare_digest(expected, computed):
            raise errors.BadDigest(
                f"The {self.algorithm} you specified did not match the calculated checksum."
            )


def requested_checksum(headers: Mapping[str, str], trailer_allowed: bool) -> RequestedChecksum | None:
    """The checksum the client asks for (None: none named); InvalidRequest for contradictory requests."""
    in_headers: dict[str, str] = {}
    for name, value in headers.items():
        algorithm = _algorithm_of(name)
        if algorithm is not None:
            in_headers[algorithm] = value
    in_trailer = [algorithm for name in declared_trailers(headers) if (algorithm := _algorithm_of(name))]
    if len(in_headers) + len(in_trailer) > 1:
        raise errors.InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    sdk_value = headers.get(SDK_ALGORITHM_HEADER)
    sdk_algorithm = sdk_value.strip().upper() if sdk_value is not None else None
    if sdk_algorithm is not None and sdk_algorithm not in _FACTORIES:
        raise _unsupported(sdk_value or "")
    if in_headers:
        ((algorithm, value),) = in_headers.items()
        requested = RequestedChecksum(algorithm, expected=_validate_value(algorithm, value))
    elif in_trailer:
        if not trailer_allowed:
            raise errors.InvalidRequest("The x-amz-trailer header needs an aws-chunked body with trailers.")
        requested = RequestedChecksum(in_trailer[0], trailer=header_name(in_trailer[0]))
    elif sdk_algorithm is not None:
        # S3 wants the value too; the algorithm alone is a client that announced a checksum and sent none.
        raise errors.InvalidRequest(
            f"{SDK_ALGORITHM_HEADER} specified, but no corresponding x-amz-checksum-* "
            "or x-amz-trailer headers were found."
        )
    else:
        return None
    if sdk_algorithm is not None and sdk_algorithm != requested.algorithm:
        raise errors.InvalidRequest(f"Value for {SDK_ALGORITHM_HEADER} header is invalid.")
    return requested


class ChecksumCalculator:
    """The hashers of one write: the requested algorithm, or ``default`` when none was requested."""

    def __init__(self, requested: RequestedChecksum | None, default: str | None = DEFAULT_ALGORITHM) -> None:
        self.requested = requested
        algorithm = requested.algorithm if requested is not None else default
        self.algorithm = algorithm
        self._hasher = new_hasher(algorithm) if algorithm is not None else None

    @property
    def hashers(self) -> tuple[Hasher, ...]:
        return (self._hasher,) if self._hasher is not None else ()

    def result(self, trailers: PayloadTrailers | None = None) -> Checksum | None:
        """The verified checksum to store; raises BadDigest when the client's value differs."""
        if self._hasher is None or self.algorithm is None:
            return None
        computed = base64.b64encode(self._hasher.digest()).decode("ascii")
        if self.requested is not None:
            self.requested.verify(computed, trailers)
        return Checksum(algorithm=self.algorithm, value=computed)


def for_write(headers: Mapping[str, str], trailer_allowed: bool) -> ChecksumCalculator:
    """Validates the request's checksum headers (before any byte is read) and prepares the hashers."""
    return ChecksumCalculator(requested_checksum(headers, trailer_allowed))


def checksum_mode_enabled(headers: Mapping[str, str]) -> bool:
    return headers.get(MODE_HEADER, "").strip().upper() == "ENABLED"


def checksum_headers(checksums: Iterable[Checksum]) -> dict[str, str]:
    """``x-amz-checksum-<algorithm>`` (and its type) for stored checksums."""
    headers: dict[str, str] = {}
    for checksum in checksums:
        if checksum.algorithm in _FACTORIES and checksum.value:
            headers[header_name(checksum.algorithm)] = checksum.value
            headers[TYPE_HEADER] = "COMPOSITE" if "-" in checksum.value else FULL_OBJECT
    return headers


def object_checksum_headers(md: ObjectMD) -> dict[str, str]:
    return checksum_headers(md.checksums)


def verify_small_body(headers: Mapping[str, str], body: bytes) -> None:
    """Content-MD5 and x-amz-checksum-* of a small request body read whole (XML configurations)."""
    content_md5 = headers.get("Content-MD5")
    if content_md5 is not None:
        try:
            digest = base64.b64decode(content_md5, validate=True)
        except (binascii.Error, ValueError):
            raise errors.InvalidDigest() from None
        if len(digest) != 16:
            raise errors.InvalidDigest()
        if not hmac.compare_digest(digest, hashlib.md5(body).digest()):
            raise errors.BadDigest()
    requested = requested_checksum(headers, trailer_allowed=True)
    if requested is not None and requested.expected is not None:
        requested.verify(compute(requested.algorithm, body))
