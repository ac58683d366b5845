"""Chunked AES-256-GCM envelope encryption of object data.

An object (or one part of a multipart upload) gets its own random 256-bit data key. Its plaintext
is cut into chunks of ``CHUNK_SIZE`` bytes; each chunk is sealed on its own, so a ranged read
fetches and opens only the chunks that hold the range. Because every data key seals one stream
only, the chunk index is the GCM nonce. The associated data binds each chunk to its place: the
format version, the chunk index and whether it is the last chunk. So a chunk that is altered,
moved, dropped from the end or replayed from another object fails to open.

Stored layout: for each chunk, its ciphertext (as long as its plaintext) followed by the 16-byte
tag; the object's plaintext size (kept in its metadata) gives every chunk's position.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHUNK_SIZE = 1024 * 1024
TAG_SIZE = 16
DATA_KEY_SIZE = 32
FORMAT_VERSION = 1
_AAD = struct.Struct(">4sBQ?")  # magic, format version, chunk index, last chunk
_MAGIC = b"STRC"


class IntegrityError(ValueError):
    """Ciphertext that does not open with its key: altered, truncated, reordered, or a wrong key."""


def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_SIZE)


def chunk_count(plain_size: int) -> int:
    """Chunks of a plaintext of ``plain_size`` bytes (an empty one is one empty chunk)."""
    return max(1, -(-plain_size // CHUNK_SIZE))


def sealed_size(plain_size: int) -> int:
    """Bytes stored for a plaintext of ``plain_size`` bytes."""
    return plain_size + chunk_count(plain_size) * TAG_SIZE


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def _aad(index: int, last: bool) -> bytes:
    return _AAD.pack(_MAGIC, FORMAT_VERSION, index, last)


@dataclass(frozen=True)
class SealedRange:
    """Where the plaintext bytes ``[start, end]`` lie in the stored form."""

    first_chunk: int
    last_chunk: int
    stored_start: int  # first stored byte to read
    stored_end: int  # last stored byte to read (inclusive)
    skip: int  # plaintext bytes to drop from the first chunk opened
    length: int  # plaintext bytes wanted


def sealed_range(plain_size: int, start: int, end: int) -> SealedRange:
    """The stored bytes holding plaintext ``[start, end]`` (inclusive) of a ``plain_size`` object."""
    if not 0 <= start <= end < plain_size:
        raise ValueError(f"range {start}-{end} outside a {plain_size}-byte plaintext")
    first, last = start // CHUNK_SIZE, end // CHUNK_SIZE
    stored_chunk = CHUNK_SIZE + TAG_SIZE
    last_plain = min(CHUNK_SIZE, plain_size - last * CHUNK_SIZE)
    return SealedRange(
        first_chunk=first,
        last_chunk=last,
        stored_start=first * stored_chunk,
        stored_end=last * stored_chunk + last_plain + TAG_SIZE - 1,
        skip=start - first * CHUNK_SIZE,
        length=end - start + 1,
    )


class Sealer:
    """Encrypts one stream: feed plaintext in pieces of any size, get sealed chunks as they fill."""

    def __init__(self, data_key: bytes, plain_size: int) -> None:
        self._cipher = AESGCM(data_key)
        self._chunks = chunk_count(plain_size)
        self._plain_size = plain_size
        self._index = 0
        self._fed = 0
        self._pending = bytearray()

    def feed(self, data: bytes | memoryview) -> Iterator[bytes]:
        self._fed += len(data)
        if self._fed > self._plain_size:
            raise ValueError(f"more than the {self._plain_size} bytes announced")
        view = memoryview(data)
        if self._pending:  # complete the chunk begun by earlier pieces first
            taken = min(len(view), CHUNK_SIZE - len(self._pending))
            self._pending += view[:taken]
            view = view[taken:]
            if len(self._pending) < CHUNK_SIZE or self._index == self._chunks - 1:
                return
            yield self._seal(self._pending)
            self._pending = bytearray()
        # Whole chunks straight from the caller's buffer; the last chunk waits for finish().
        while len(view) >= CHUNK_SIZE and self._index < self._chunks - 1:
            yield self._seal(view[:CHUNK_SIZE])
            view = view[CHUNK_SIZE:]
        self._pending += view

    def finish(self) -> Iterator[bytes]:
        if self._fed != self._plain_size:
            raise ValueError(f"{self._fed} bytes fed of the {self._plain_size} announced")
        if self._index < self._chunks:
            yield self._seal(self._pending)
            self._pending = bytearray()

    def _seal(self, chunk: bytes | bytearray | memoryview) -> bytes:
        index = self._index
        self._index += 1
        return self._cipher.encrypt(_nonce(index), chunk, _aad(index, index == self._chunks - 1))


def seal(data_key: bytes, plaintext: bytes) -> bytes:
    """The stored form of a whole plaintext."""
    sealer = Sealer(data_key, len(plaintext))
    return b"".join([*sealer.feed(plaintext), *sealer.finish()])


class Opener:
    """Decrypts the stored bytes of a :class:`SealedRange`, fed in pieces of any size."""

    def __init__(self, data_key: bytes, plain_size: int, wanted: SealedRange) -> None:
        self._cipher = AESGCM(data_key)
        self._chunks = chunk_count(plain_size)
        self._plain_size = plain_size
        self._wanted = wanted
        self._index = wanted.first_chunk
        self._pending = bytearray()
        self._to_skip = wanted.skip
        self._to_give = wanted.length

    def _stored_chunk_size(self, index: int) -> int:
        return min(CHUNK_SIZE, self._plain_size - index * CHUNK_SIZE) + TAG_SIZE

    def feed(self, data: bytes | memoryview) -> Iterator[bytes]:
        view = memoryview(data)
        while self._index <= self._wanted.last_chunk and view:
            size = self._stored_chunk_size(self._index)
            if not self._pending and len(view) >= size:  # a whole chunk in the caller's buffer
                sealed: bytes | bytearray | memoryview = view[:size]
                view = view[size:]
            else:
                taken = min(len(view), size - len(self._pending))
                self._pending += view[:taken]
                view = view[taken:]
                if len(self._pending) < size:
                    return
                sealed, self._pending = self._pending, bytearray()
            yield self._give(self._open(sealed))
        self._pending += view  # past the last chunk: an error at finish()

    def finish(self) -> Iterator[bytes]:
        if self._index <= self._wanted.last_chunk or self._pending:
            raise IntegrityError("the stored data ends before its last chunk (or runs past it)")
        return iter(())

    def _open(self, sealed: bytes | bytearray | memoryview) -> bytes:
        index = self._index
        self._index += 1
        try:
            return self._cipher.decrypt(_nonce(index), sealed, _aad(index, index == self._chunks - 1))
        except InvalidTag:
            raise IntegrityError(f"chunk {index} does not open with its key") from None

    def _give(self, plain: bytes) -> bytes:
        if self._to_skip:
            plain = plain[self._to_skip :]
            self._to_skip = 0
        plain = plain[: self._to_give]
        self._to_give -= len(plain)
        return plain


def open_sealed(
    data_key: bytes, plain_size: int, stored: bytes, start: int = 0, end: int | None = None
) -> bytes:
    """Plaintext ``[start, end]`` (default: all) from the stored bytes of that range."""
    if plain_size == 0:  # one empty chunk: its tag alone
        wanted = SealedRange(0, 0, 0, TAG_SIZE - 1, 0, 0)
    else:
        wanted = sealed_range(plain_size, start, plain_size - 1 if end is None else end)
    opener = Opener(data_key, plain_size, wanted)
    return b"".join([*opener.feed(stored), *opener.finish()])
