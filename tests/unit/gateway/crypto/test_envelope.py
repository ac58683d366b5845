"""Chunked envelope encryption: round trips, ranges at chunk boundaries, and every tampering caught."""

from __future__ import annotations

import os

import pytest

from gateway.crypto.envelope import (
    CHUNK_SIZE,
    TAG_SIZE,
    IntegrityError,
    Opener,
    Sealer,
    new_data_key,
    open_sealed,
    seal,
    sealed_range,
    sealed_size,
)

SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17]


@pytest.mark.parametrize("size", SIZES)
def test_a_plaintext_round_trips_and_is_not_stored_in_clear(size: int) -> None:
    key, plaintext = new_data_key(), os.urandom(size)
    stored = seal(key, plaintext)
    assert len(stored) == sealed_size(size)
    assert open_sealed(key, size, stored) == plaintext
    if size >= 16:
        assert plaintext[:16] not in stored


def test_sealing_fed_in_odd_pieces_equals_sealing_at_once() -> None:
    key, plaintext = new_data_key(), os.urandom(2 * CHUNK_SIZE + 5)
    sealer = Sealer(key, len(plaintext))
    pieces = []
    for start in range(0, len(plaintext), 65_537):
        pieces.extend(sealer.feed(plaintext[start : start + 65_537]))
    pieces.extend(sealer.finish())
    assert b"".join(pieces) == seal(key, plaintext)
    assert [len(piece) for piece in pieces] == [CHUNK_SIZE + TAG_SIZE] * 2 + [5 + TAG_SIZE]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 0),
        (CHUNK_SIZE - 1, CHUNK_SIZE - 1),
        (CHUNK_SIZE - 1, CHUNK_SIZE),
        (CHUNK_SIZE, 2 * CHUNK_SIZE - 1),
        (5, 3 * CHUNK_SIZE + 16),
        (3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 16),
    ],
)
def test_a_range_opens_only_the_chunks_that_hold_it(start: int, end: int) -> None:
    size = 3 * CHUNK_SIZE + 17
    key, plaintext = new_data_key(), os.urandom(size)
    stored = seal(key, plaintext)
    wanted = sealed_range(size, start, end)
    assert wanted.first_chunk == start // CHUNK_SIZE and wanted.last_chunk == end // CHUNK_SIZE
    piece = stored[wanted.stored_start : wanted.stored_end + 1]
    assert len(piece) == (wanted.last_chunk - wanted.first_chunk + 1) * (CHUNK_SIZE + TAG_SIZE) - (
        CHUNK_SIZE - 17 if wanted.last_chunk == 3 else 0
    )
    opener = Opener(key, size, wanted)
    opened = b"".join([*opener.feed(piece[:1000]), *opener.feed(piece[1000:]), *opener.finish()])
    assert opened == plaintext[start : end + 1]


def test_a_range_outside_the_plaintext_is_refused() -> None:
    with pytest.raises(ValueError):
        sealed_range(10, 5, 10)
    with pytest.raises(ValueError):
        sealed_range(0, 0, 0)


def test_an_altered_byte_a_wrong_key_or_a_truncated_stream_fail_to_open() -> None:
    size = 2 * CHUNK_SIZE + 100
    key, plaintext = new_data_key(), os.urandom(size)
    stored = bytearray(seal(key, plaintext))
    for position in (0, CHUNK_SIZE + 3, len(stored) - 1):  # ciphertext, second chunk, last tag
        altered = bytearray(stored)
        altered[position] ^= 0x01
        with pytest.raises(IntegrityError):
            open_sealed(key, size, bytes(altered))
    with pytest.raises(IntegrityError):
        open_sealed(new_data_key(), size, bytes(stored))
    with pytest.raises(IntegrityError):
        open_sealed(key, size, bytes(stored[:-1]))


def test_chunks_cannot_be_moved_or_passed_off_as_the_last_one() -> None:
    key = new_data_key()
    plaintext = os.urandom(3 * CHUNK_SIZE)
    stored = seal(key, plaintext)
    step = CHUNK_SIZE + TAG_SIZE
    first, second, third = stored[:step], stored[step : 2 * step], stored[2 * step :]
    with pytest.raises(IntegrityError):
        open_sealed(key, len(plaintext), second + first + third)
    # A stream cut after two whole chunks, presented as a two-chunk object: the second chunk was
    # not sealed as a last chunk, so it does not open as one.
    with pytest.raises(IntegrityError):
        open_sealed(key, 2 * CHUNK_SIZE, first + second)


def test_a_chunk_of_another_object_under_the_same_key_layout_does_not_open() -> None:
    size = CHUNK_SIZE + 10
    one, other = new_data_key(), new_data_key()
    mixed = (
        seal(one, os.urandom(size))[: CHUNK_SIZE + TAG_SIZE]
        + seal(other, os.urandom(size))[CHUNK_SIZE + TAG_SIZE :]
    )
    with pytest.raises(IntegrityError):
        open_sealed(one, size, mixed)


def test_feeding_more_or_fewer_bytes_than_announced_is_an_error() -> None:
    sealer = Sealer(new_data_key(), 4)
    with pytest.raises(ValueError):
        list(sealer.feed(b"12345"))
    short = Sealer(new_data_key(), 4)
    list(short.feed(b"123"))
    with pytest.raises(ValueError):
        list(short.finish())
