"""The key manager's protocol: data keys generated and wrapped under named master keys.

A wrapped data key is stored in the object's metadata; only the KMS can unwrap it. The encryption
context (for example the bucket and key of the object) is bound into the wrapping, so a wrapped key
copied onto another object does not unwrap there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


class KmsError(Exception):
    """A key manager's failure; the gateway maps each kind to S3's answer."""


class KmsKeyNotFound(KmsError):
    """The named master key does not exist (S3: KMS.NotFoundException, 400)."""


class KmsKeyDisabled(KmsError):
    """The master key exists but may not be used (S3: KMS.DisabledException, 400)."""


class KmsUnavailable(KmsError):
    """The key manager cannot be reached or failed (S3: 503)."""


class KmsInvalidCiphertext(KmsError):
    """A wrapped key that does not unwrap: altered, or under another encryption context."""


@dataclass(frozen=True)
class WrappedKey:
    """A data key as stored: which master key (and version) wrapped it, and the wrapped bytes."""

    key_id: str
    key_version: int
    ciphertext: bytes


@dataclass(frozen=True)
class DataKey:
    plaintext: bytes
    wrapped: WrappedKey


EncryptionContext = Mapping[str, str]


class KMS(Protocol):
    """What encryption at rest needs of a key manager."""

    async def create_key(self, key_id: str | None = None) -> str:
        """Creates a master key (named ``key_id``, or a new id) and returns its id."""
        ...

    async def generate_data_key(self, key_id: str, context: EncryptionContext) -> DataKey:
        """A fresh 256-bit data key, with its form wrapped by the current version of ``key_id``."""
        ...

    async def decrypt_data_key(self, wrapped: WrappedKey, context: EncryptionContext) -> bytes:
        """The data key inside ``wrapped``, given the context it was wrapped with."""
        ...

    async def rotate_key(self, key_id: str) -> int:
        """Adds a new version to ``key_id`` (used for new data keys); old versions still unwrap."""
        ...

    async def key_exists(self, key_id: str) -> bool: ...
