"""Server-side encryption of object data (SSE-S3): the gateway seals bytes as they stream to storage
and opens them as they stream back, so every location holds ciphertext only.

An encrypted object's metadata names the algorithm and holds its data key wrapped by the KMS
(``ObjectMD.sse_*``); ``ObjectMD.size`` stays the plaintext size and its blobs hold the sealed form
(``envelope.sealed_size`` bytes). The wrapping is bound to the bucket and key, so a wrapped key
copied onto another object does not unwrap there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

from gateway.crypto.envelope import TAG_SIZE, IntegrityError, Opener, SealedRange, Sealer, sealed_range
from gateway.crypto.kms import (
    KMS,
    DataKey,
    EncryptionContext,
    KmsError,
    KmsInvalidCiphertext,
    WrappedKey,
)
from gateway.s3 import errors
from protos.metadata_pb2 import ObjectMD, SealedKey

log = logging.getLogger("gateway.sse")

SSE_HEADER = "x-amz-server-side-encryption"
SSE_S3 = "AES256"
# The master key every SSE-S3 data key is wrapped under, created the first time it is needed.
DEFAULT_KEY_ID = "strata-default"
# Pieces this large are sealed or opened in a worker thread (AES-GCM releases the GIL), so the event
# loop keeps serving other requests meanwhile; smaller ones cost less than the thread hop.
CRYPTO_OFFLOAD_BYTES = 256 * 1024


class ObjectDataDamaged(Exception):
    """An encrypted object's stored bytes (or its wrapped key) fail their integrity check."""


def is_encrypted(md: ObjectMD) -> bool:
    return bool(md.sse_algorithm)


def response_headers(md: ObjectMD) -> dict[str, str]:
    """The encryption headers S3 answers about an object (or an upload's template)."""
    return {SSE_HEADER: md.sse_algorithm} if md.sse_algorithm else {}


def encryption_context(bucket: str, key: str) -> EncryptionContext:
    return {"aws:s3:arn": f"arn:aws:s3:::{bucket}/{key}"}


def _kms(kms: KMS | None) -> KMS:
    if kms is None:
        raise errors.ServiceUnavailable(
            "Server-side encryption needs a key manager, and none is configured on this gateway "
            "(STRATA_KMS_DIR)."
        )
    return kms


async def _generate(kms: KMS | None, bucket: str, key: str) -> DataKey:
    manager = _kms(kms)
    try:
        if not await manager.key_exists(DEFAULT_KEY_ID):
            try:
                await manager.create_key(DEFAULT_KEY_ID)
            except FileExistsError:
                pass  # created meanwhile by another request
        return await manager.generate_data_key(DEFAULT_KEY_ID, encryption_context(bucket, key))
    except KmsError as error:
        log.warning("the key manager failed to make a data key: %s", error)
        raise errors.ServiceUnavailable("The key manager is not available right now.") from None


async def new_data_key(kms: KMS | None, bucket: str, md: ObjectMD) -> bytes:
    """A fresh data key for the object ``md`` (recorded in it, wrapped); returns the plaintext key."""
    data_key = await _generate(kms, bucket, md.key)
    md.sse_algorithm = SSE_S3
    md.sse_key_id = data_key.wrapped.key_id
    md.sse_key_version = data_key.wrapped.key_version
    md.sse_wrapped_key = data_key.wrapped.ciphertext
    return data_key.plaintext


async def new_part_key(kms: KMS | None, bucket: str, key: str) -> tuple[bytes, SealedKey]:
    """A fresh data key for one part of an encrypted multipart upload: (plaintext, as stored)."""
    data_key = await _generate(kms, bucket, key)
    wrapped = data_key.wrapped
    return data_key.plaintext, SealedKey(
        key_id=wrapped.key_id, key_version=wrapped.key_version, wrapped=wrapped.ciphertext
    )


async def object_data_key(kms: KMS | None, bucket: str, md: ObjectMD) -> bytes:
    """The plaintext data key of the encrypted single-part object ``md``."""
    return await _unwrap(
        kms, bucket, md.key, WrappedKey(md.sse_key_id, md.sse_key_version, md.sse_wrapped_key)
    )


async def part_data_key(kms: KMS | None, bucket: str, key: str, sealed: SealedKey) -> bytes:
    return await _unwrap(kms, bucket, key, WrappedKey(sealed.key_id, sealed.key_version, sealed.wrapped))


async def _unwrap(kms: KMS | None, bucket: str, key: str, wrapped: WrappedKey) -> bytes:
    manager = _kms(kms)
    try:
        return await manager.decrypt_data_key(wrapped, encryption_context(bucket, key))
    except KmsInvalidCiphertext as error:
        log.warning("the data key of %s/%s does not unwrap: %s", bucket, key, error)
        raise ObjectDataDamaged(str(error)) from None
    except KmsError as error:
        log.warning("the key manager failed to unwrap a data key: %s", error)
        raise errors.ServiceUnavailable("The key manager is not available right now.") from None


def damaged_data_error() -> errors.S3Error:
    """The answer to a read whose stored ciphertext fails its check (before any byte was sent).

    Retryable as any unreadable data here is: another replica, or one the scrubber has healed, may
    hold the intact bytes; the detail stays in the logs.
    """
    return errors.ServiceUnavailable(
        "The object's stored data failed its integrity check and cannot be returned."
    )


async def _run(work: Iterator[bytes], size: int) -> list[bytes]:
    if size >= CRYPTO_OFFLOAD_BYTES:
        return await asyncio.to_thread(list, work)
    return list(work)


async def seal_stream(source: AsyncIterator[bytes], data_key: bytes, plain_size: int) -> AsyncIterator[bytes]:
    """The sealed form of ``source`` (exactly ``plain_size`` plaintext bytes), as it streams.

    More or fewer bytes than announced fail the stream (ValueError), so nothing short is stored.
    """
    sealer = Sealer(data_key, plain_size)
    async for piece in source:
        try:
            sealed = await _run(sealer.feed(piece), len(piece))
        except ValueError:
            raise errors.IncompleteBody() from None
        for chunk in sealed:
            yield chunk
    try:
        last = await _run(sealer.finish(), TAG_SIZE)
    except ValueError:
        raise errors.IncompleteBody() from None
    for chunk in last:
        yield chunk


def stored_range(plain_size: int, start: int, length: int) -> SealedRange:
    """Where plaintext [start, start+length) lies in the stored form (an empty object: its one tag)."""
    if plain_size == 0 or length <= 0:
        return SealedRange(0, 0, 0, TAG_SIZE - 1, 0, 0)
    return sealed_range(plain_size, start, start + length - 1)


async def open_stream(
    stored: AsyncIterator[bytes], data_key: bytes, plain_size: int, wanted: SealedRange
) -> AsyncIterator[bytes]:
    """Plaintext from the stored bytes of ``wanted``; ObjectDataDamaged on any altered byte."""
    opener = Opener(data_key, plain_size, wanted)
    try:
        async for piece in stored:
            for plain in await _run(opener.feed(piece), len(piece)):
                if plain:
                    yield plain
        for plain in opener.finish():
            yield plain
    except IntegrityError as error:
        raise ObjectDataDamaged(str(error)) from None
