"""Sealing and opening object streams for SSE-S3 (gateway.crypto.sse), with a real directory KMS."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.crypto import sse
from gateway.crypto.envelope import CHUNK_SIZE, new_data_key, sealed_size
from gateway.crypto.file_kms import FileKMS
from gateway.s3 import errors
from protos.metadata_pb2 import ObjectMD


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([piece async for piece in stream])


@pytest.mark.parametrize("piece_size", [1000, CHUNK_SIZE, CHUNK_SIZE + 7, 3 * CHUNK_SIZE])
async def test_a_sealed_stream_opens_to_its_plaintext_whatever_the_pieces(piece_size: int) -> None:
    key = new_data_key()
    plain = os.urandom(2 * CHUNK_SIZE + 123)
    stored = await collect(sse.seal_stream(pieces(plain, piece_size), key, len(plain)))
    assert len(stored) == sealed_size(len(plain))
    for start, length in [(0, len(plain)), (CHUNK_SIZE - 1, 2), (2 * CHUNK_SIZE, 123), (5, 1)]:
        wanted = sse.stored_range(len(plain), start, length)
        opened = await collect(
            sse.open_stream(
                pieces(stored[wanted.stored_start : wanted.stored_end + 1], 4096), key, len(plain), wanted
            )
        )
        assert opened == plain[start : start + length]


@pytest.mark.parametrize("sent", [9, 11])
async def test_a_body_longer_or_shorter_than_announced_is_incomplete(sent: int) -> None:
    with pytest.raises(errors.IncompleteBody):
        await collect(sse.seal_stream(pieces(b"x" * sent, 4), new_data_key(), 10))


async def test_an_altered_byte_is_damage() -> None:
    key = new_data_key()
    stored = bytearray(await collect(sse.seal_stream(pieces(b"y" * 5000, 5000), key, 5000)))
    stored[10] ^= 1
    wanted = sse.stored_range(5000, 0, 5000)
    with pytest.raises(sse.ObjectDataDamaged):
        await collect(sse.open_stream(pieces(bytes(stored), 5000), key, 5000, wanted))


async def test_data_keys_are_recorded_and_unwrap_only_for_their_object(tmp_path: Path) -> None:
    kms = FileKMS(tmp_path / "keys")
    md = ObjectMD(key="photo.jpg")
    plain_key = await sse.new_data_key(kms, "bucket", md)
    assert (md.sse_algorithm, md.sse_key_id, md.sse_key_version) == ("AES256", sse.DEFAULT_KEY_ID, 1)
    assert await sse.object_data_key(kms, "bucket", md) == plain_key
    moved = ObjectMD()
    moved.CopyFrom(md)
    moved.key = "other.jpg"
    with pytest.raises(sse.ObjectDataDamaged):
        await sse.object_data_key(kms, "bucket", moved)


async def test_no_key_manager_or_a_broken_one_is_service_unavailable(tmp_path: Path) -> None:
    with pytest.raises(errors.ServiceUnavailable):
        await sse.new_data_key(None, "bucket", ObjectMD(key="k"))
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(errors.ServiceUnavailable):
        await sse.new_data_key(FileKMS(blocked), "bucket", ObjectMD(key="k"))
