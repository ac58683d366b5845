"""AWS Signature Version 4 for S3: canonical request, signing key, chunk signatures.

Pure functions, no I/O: :mod:`gateway.s3.auth` decides which request parts feed
them, and :mod:`gateway.s3.body` uses :class:`ChunkSigner` to verify
``aws-chunked`` bodies chunk by chunk.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_ECDSA = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
STREAMING_ECDSA_TRAILER = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def uri_encode(data: str | bytes, encode_slash: bool = True) -> str:
    """AWS's UriEncode: every byte but A-Za-z0-9-_.~ (and '/' when kept) as %XX, uppercase hex."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    out: list[str] = []
    for byte in raw:
        if byte in _UNRESERVED or (byte == 0x2F and not encode_slash):
            out.append(chr(byte))
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def canonical_uri(raw_path: str) -> str:
    """The path decoded once and re-encoded the AWS way (S3 never double-encodes)."""
    if not raw_path:
        return "/"
    return uri_encode(unquote_to_bytes(raw_path), encode_slash=False)


def parse_raw_query(raw_query: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs of a raw query string, in order; '+' is kept literally."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append(
            (
                unquote_to_bytes(name).decode("utf-8", "surrogateescape"),
                unquote_to_bytes(value).decode("utf-8", "surrogateescape"),
            )
        )
    return pairs


def canonical_query(pairs: Iterable[tuple[str, str]], exclude: str | None = None) -> str:
    encoded = sorted(
        (
            uri_encode(name.encode("utf-8", "surrogateescape")),
            uri_encode(value.encode("utf-8", "surrogateescape")),
        )
        for name, value in pairs
        if name != exclude
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def header_values(headers: Mapping[str, str], name: str) -> list[str]:
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return list(getall(name, []))
    value = headers.get(name)
    if value is None:
        # Plain dicts are case-sensitive; S3 header names are not.
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return [] if value is None else [value]


def canonical_headers(headers: Mapping[str, str], signed_headers: list[str]) -> str:
    lines = []
    for name in signed_headers:
        values = [" ".join(value.split()) for value in header_values(headers, name)]
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def canonical_request(
    method: str,
    uri: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: list[str],
    payload_hash: str,
) -> str:
    return "\n".join(
        [
            method.upper(),
            uri,
            query,
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    # Header bytes that are not UTF-8 arrive as surrogates (aiohttp decodes with surrogateescape):
    # encoding them back the same way hashes exactly the bytes the client signed.
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    return "\n".join([ALGORITHM, timestamp, scope, digest])


@functools.lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key of one day, region and service (cached: it changes once a day per account)."""
    key = _hmac(("AWS4" + secret).encode("utf-8"), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def signatures_equal(expected: str, provided: str) -> bool:
    """Constant-time comparison; a provided value that is not ASCII simply does not match.

    ``hmac.compare_digest`` refuses non-ASCII ``str``; comparing bytes keeps any value a plain mismatch
    (the expected value is ASCII, so a replaced character can never make them equal).
    """
    return hmac.compare_digest(expected.encode("ascii"), provided.encode("utf-8", "replace"))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


@dataclass(frozen=True)
class Credential:
    """The parsed ``Credential=AKID/date/region/service/aws4_request`` value."""

    access_key: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"

    @classmethod
    def parse(cls, value: str) -> Credential | None:
        parts = value.split("/")
        if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts[:4]):
            return None
        return cls(access_key=parts[0], date=parts[1], region=parts[2], service=parts[3])


@dataclass(frozen=True)
class ChunkSigning:
    """What verifying a streaming (aws-chunked) body's signatures needs."""

    signing_key: bytes
    scope: str
    timestamp: str
    seed_signature: str


class ChunkSigner:
    """Computes the expected signature of each chunk (and the trailer), chained from the seed."""

    def __init__(self, signing: ChunkSigning) -> None:
        self._signing = signing
        self.previous_signature = signing.seed_signature

    def chunk_signature(self, chunk_sha256_hex: str) -> str:
        text = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                self._signing.timestamp,
                self._signing.scope,
                self.previous_signature,
                EMPTY_SHA256,
                chunk_sha256_hex,
            ]
        )
        return sign(self._signing.signing_key, text)

    def trailer_signature(self, trailer_bytes: bytes) -> str:
        text = "\n".join(
            [
                "AWS4-HMAC-SHA256-TRAILER",
                self._signing.timestamp,
                self._signing.scope,
                self.previous_signature,
                hashlib.sha256(trailer_bytes).hexdigest(),
            ]
        )
        return sign(self._signing.signing_key, text)

    def accept(self, signature: str) -> None:
        self.previous_signature = signature
