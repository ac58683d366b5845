"""Request bodies as a stream of decoded object bytes, verified as they pass.

:func:`iter_payload` yields pieces of about 1 MiB and never holds the whole body.
Verification failures (payload hash, chunk signatures, short bodies) are raised
before the iterator finishes, so a caller that has already written pieces knows
to discard them. Trailing headers of ``aws-chunked`` bodies (e.g.
``x-amz-checksum-crc32``) are stored into a :class:`PayloadTrailers` the caller
passes in, and checked by the caller after iteration.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from aiohttp import StreamReader
from aiohttp.http_exceptions import LineTooLong

from gateway.s3.auth import PayloadSpec
from gateway.s3.errors import (
    EntityTooLarge,
    IncompleteBody,
    InvalidArgument,
    InvalidRequest,
    MalformedTrailerError,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
)
from gateway.s3.sigv4 import ChunkSigner, header_values, signatures_equal

PIECE_SIZE = 1024 * 1024
_MAX_CHUNK_HEADER = 4096  # a chunk header is a hex size plus one signature; anything longer is garbage
_MAX_TRAILER_BYTES = 16 * 1024
_TRAILER_SIGNATURE = "x-amz-trailer-signature"


@dataclass
class PayloadTrailers:
    """Trailing headers of an aws-chunked body, filled in by :func:`iter_payload`."""

    declared: tuple[str, ...] = ()  # names announced by the x-amz-trailer header, lowercase
    values: dict[str, str] = field(default_factory=dict)  # lowercase name -> value
    received: bool = False

    def get(self, name: str) -> str | None:
        return self.values.get(name.lower())


def declared_trailers(headers: Mapping[str, str]) -> tuple[str, ...]:
    names: list[str] = []
    for value in header_values(headers, "x-amz-trailer"):
        names.extend(name.strip().lower() for name in value.split(",") if name.strip())
    return tuple(names)


def decoded_content_length(headers: Mapping[str, str], payload: PayloadSpec) -> int | None:
    """The object's size as announced by the client, or None when it is unknown (chunked transfer)."""
    name = "x-amz-decoded-content-length" if payload.is_streaming else "content-length"
    values = header_values(headers, name)
    if not values:
        return None
    try:
        length = int(values[0])
    except ValueError:
        raise InvalidArgument(f"Invalid {name}", ArgumentName=name, ArgumentValue=values[0]) from None
    if length < 0:
        raise InvalidArgument(f"Invalid {name}", ArgumentName=name, ArgumentValue=values[0])
    return length


async def iter_payload(
    content: StreamReader,
    payload: PayloadSpec,
    headers: Mapping[str, str],
    trailers: PayloadTrailers | None = None,
    max_size: int | None = None,
) -> AsyncIterator[bytes]:
    """Yields the decoded object bytes; raises an S3Error as soon as the body proves bad.

    ``max_size`` bounds a body of unknown length (``Transfer-Encoding: chunked``): EntityTooLarge
    as soon as it is exceeded, rather than after filling the disk.
    """
    pieces: AsyncIterator[bytes]
    if payload.is_streaming:
        decoder = _AwsChunkedDecoder(content, payload, headers, trailers or PayloadTrailers())
        pieces = _regroup(decoder.pieces())
    else:
        pieces = _plain(content, payload, decoded_content_length(headers, payload))
    total = 0
    async for piece in pieces:
        total += len(piece)
        if max_size is not None and total > max_size:
            raise EntityTooLarge(MaxSizeAllowed=str(max_size))
        yield piece


async def _plain(content: StreamReader, payload: PayloadSpec, length: int | None) -> AsyncIterator[bytes]:
    digest = hashlib.sha256() if payload.mode == "sha256" else None
    remaining = length
    buffer = bytearray()
    while remaining is None or remaining > 0:
        want = PIECE_SIZE - len(buffer)
        if remaining is not None:
            want = min(want, remaining)
        data = await content.read(want)
        if not data:
            break
        buffer += data
        if remaining is not None:
            remaining -= len(data)
        if len(buffer) >= PIECE_SIZE:
            piece = bytes(buffer)
            buffer.clear()
            if digest is not None:
                digest.update(piece)
            yield piece
    if remaining:
        raise IncompleteBody()
    if digest is not None:
        digest.update(buffer)
        if not hmac.compare_digest(digest.hexdigest(), payload.expected_sha256 or ""):
            raise XAmzContentSHA256Mismatch(
                ClientComputedContentSHA256=payload.expected_sha256,
                S3ComputedContentSHA256=digest.hexdigest(),
            )
    if buffer:
        yield bytes(buffer)


async def _regroup(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Re-cuts arbitrary pieces into ~PIECE_SIZE ones (chunk sizes are the client's choice)."""
    buffer = bytearray()
    async for data in pieces:
        if not buffer and len(data) >= PIECE_SIZE:
            yield data
            continue
        buffer += data
        if len(buffer) >= PIECE_SIZE:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


class _AwsChunkedDecoder:
    """Decodes ``aws-chunked``: ``hex-size[;chunk-signature=sig]\\r\\n data \\r\\n`` ... ``0...`` trailers."""

    def __init__(
        self,
        content: StreamReader,
        payload: PayloadSpec,
        headers: Mapping[str, str],
        trailers: PayloadTrailers,
    ) -> None:
        self._content = content
        self._signed = payload.mode in ("streaming-signed", "streaming-signed-trailer")
        self._has_trailer = payload.has_trailer
        if self._signed and payload.chunk_signing is None:
            raise InvalidRequest("A signed streaming payload needs the request's seed signature.")
        self._signer = ChunkSigner(payload.chunk_signing) if payload.chunk_signing is not None else None
        self._expected_length = decoded_content_length(headers, payload)
        self._trailers = trailers
        self._trailers.declared = declared_trailers(headers)

    async def pieces(self) -> AsyncIterator[bytes]:
        total = 0
        while True:
            size, signature = self._parse_chunk_header(await self._line())
            if self._expected_length is not None and total + size > self._expected_length:
                raise IncompleteBody("The decoded body is longer than x-amz-decoded-content-length.")
            digest = hashlib.sha256() if self._signed else None
            remaining = size
            while remaining:
                data = await self._exactly(min(remaining, PIECE_SIZE))
                remaining -= len(data)
                if digest is not None:
                    digest.update(data)
                yield data
            total += size
            if digest is not None:
                self._verify_chunk(digest.hexdigest(), signature)
            if size == 0:
                break
            if await self._exactly(2) != b"\r\n":
                raise IncompleteBody("A chunk of the aws-chunked body does not end with CRLF.")
        if self._expected_length is not None and total != self._expected_length:
            raise IncompleteBody()
        await self._read_trailer_section()

    def _parse_chunk_header(self, line: bytes) -> tuple[int, str | None]:
        size_field, _, extensions = line.partition(b";")
        try:
            size = int(size_field.strip(), 16)
        except ValueError:
            raise IncompleteBody("Malformed aws-chunked chunk header.") from None
        signature: str | None = None
        for extension in extensions.split(b";") if extensions else ():
            name, _, value = extension.strip().partition(b"=")
            if name == b"chunk-signature":
                signature = value.decode("ascii", "replace")
        if self._signed and not signature:
            raise SignatureDoesNotMatch("A chunk of the aws-chunked body has no chunk-signature.")
        return size, signature

    def _verify_chunk(self, chunk_sha256: str, signature: str | None) -> None:
        assert self._signer is not None
        expected = self._signer.chunk_signature(chunk_sha256)
        if not signatures_equal(expected, (signature or "").lower()):
            raise SignatureDoesNotMatch()
        self._signer.accept(expected)

    async def _read_trailer_section(self) -> None:
        if not self._has_trailer:
            line = await self._line(allow_eof=True)  # the CRLF after the last chunk; some clients omit it
            if line:
                raise IncompleteBody("Unexpected data after the last aws-chunked chunk.")
            return
        lines: list[tuple[str, str]] = []
        signature: str | None = None
        read = 0
        while True:
            line = await self._line(allow_eof=True)
            read += len(line)
            if read > _MAX_TRAILER_BYTES:
                raise MalformedTrailerError()
            if not line:
                break
            name, sep, value = line.decode("utf-8", "replace").partition(":")
            if not sep or not name.strip():
                raise MalformedTrailerError()
            name = name.strip().lower()
            if name == _TRAILER_SIGNATURE:
                signature = value.strip()
            else:
                lines.append((name, value.strip()))
        if self._signed:
            assert self._signer is not None
            canonical = "".join(f"{name}:{value}\n" for name, value in lines).encode("utf-8")
            expected = self._signer.trailer_signature(canonical)
            if not signature or not signatures_equal(expected, signature.lower()):
                raise SignatureDoesNotMatch("The trailer signature does not match.")
        self._trailers.values.update(lines)
        missing = [name for name in self._trailers.declared if name not in self._trailers.values]
        if missing:
            raise MalformedTrailerError(f"The trailing header {missing[0]} was announced but not sent.")
        self._trailers.received = True

    async def _line(self, allow_eof: bool = False) -> bytes:
        """One CRLF-terminated line without its terminator; b"" at a clean end when allowed."""
        try:
            line = await self._content.readuntil(b"\n")
        except LineTooLong:
            raise IncompleteBody("Malformed aws-chunked body: header line too long.") from None
        if not line.endswith(b"\n"):  # the body ended mid-line
            if allow_eof and not line.strip():
                return b""
            raise IncompleteBody()
        if len(line) > _MAX_CHUNK_HEADER:
            raise IncompleteBody("Malformed aws-chunked body: header line too long.")
        return line.rstrip(b"\r\n")

    async def _exactly(self, count: int) -> bytes:
        try:
            return await self._content.readexactly(count)
        except asyncio.IncompleteReadError:
            raise IncompleteBody() from None
