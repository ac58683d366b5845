"""A key manager keeping its master keys in a directory: one file per key, every version kept.

Each key file (``<id>.json``, mode 0600) lists the key's versions, newest last; a data key is
wrapped with AES-256-GCM under the newest version, with the key id, the version and the encryption
context as associated data. Rotation appends a version, so every data key wrapped before still
unwraps. Files are replaced atomically (write, fsync, rename), so a crash leaves the old or the new
file, never half of one. All file work runs off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import threading
import uuid
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto.envelope import DATA_KEY_SIZE, new_data_key
from gateway.crypto.kms import (
    DataKey,
    EncryptionContext,
    KmsInvalidCiphertext,
    KmsKeyNotFound,
    KmsUnavailable,
    WrappedKey,
)

KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,255}")
_NONCE_SIZE = 12


def _associated_data(key_id: str, version: int, context: EncryptionContext) -> bytes:
    return json.dumps([key_id, version, sorted(context.items())], separators=(",", ":")).encode()


class FileKMS:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()  # key files are read-modify-written by one thread at a time
        self._versions: dict[str, list[bytes]] = {}  # key id -> its versions' material, oldest first

    # ---- the protocol ----

    async def create_key(self, key_id: str | None = None) -> str:
        return await asyncio.to_thread(self._create, key_id or str(uuid.uuid4()))

    async def _versions_of(self, key_id: str) -> list[bytes]:
        # A key already read needs no thread hop: small objects would pay one per request.
        cached = self._versions.get(key_id)
        return cached if cached is not None else await asyncio.to_thread(self._load, key_id)

    async def generate_data_key(self, key_id: str, context: EncryptionContext) -> DataKey:
        versions = await self._versions_of(key_id)
        version = len(versions)
        plaintext = new_data_key()
        nonce = os.urandom(_NONCE_SIZE)
        sealed = AESGCM(versions[-1]).encrypt(nonce, plaintext, _associated_data(key_id, version, context))
        return DataKey(plaintext, WrappedKey(key_id, version, nonce + sealed))

    async def decrypt_data_key(self, wrapped: WrappedKey, context: EncryptionContext) -> bytes:
        versions = await self._versions_of(wrapped.key_id)
        if wrapped.key_version > len(versions):  # rotated since read, maybe by another process
            versions = await asyncio.to_thread(self._reload, wrapped.key_id)
        if not 1 <= wrapped.key_version <= len(versions):
            raise KmsInvalidCiphertext(f"key {wrapped.key_id} has no version {wrapped.key_version}")
        nonce, sealed = wrapped.ciphertext[:_NONCE_SIZE], wrapped.ciphertext[_NONCE_SIZE:]
        material = versions[wrapped.key_version - 1]
        try:
            plaintext = AESGCM(material).decrypt(
                nonce, sealed, _associated_data(wrapped.key_id, wrapped.key_version, context)
            )
        except InvalidTag:
            raise KmsInvalidCiphertext("the data key does not unwrap under this key and context") from None
        if len(plaintext) != DATA_KEY_SIZE:
            raise KmsInvalidCiphertext("the wrapped data key has the wrong size")
        return plaintext

    async def rotate_key(self, key_id: str) -> int:
        return await asyncio.to_thread(self._rotate, key_id)

    async def key_exists(self, key_id: str) -> bool:
        try:
            await self._versions_of(key_id)
        except KmsKeyNotFound:
            return False
        return True

    async def ensure_key(self, key_id: str) -> str:
        """``key_id``, created first if it does not exist (the default key of SSE-S3)."""
        if not await self.key_exists(key_id):
            try:
                await self.create_key(key_id)
            except FileExistsError:
                pass  # made meanwhile by another request
        return key_id

    # ---- files ----

    def _path(self, key_id: str) -> Path:
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise KmsKeyNotFound(f"invalid key id {key_id!r}")
        return self.directory / (key_id.replace("/", "%2F").replace(":", "%3A") + ".json")

    def _load(self, key_id: str) -> list[bytes]:
        cached = self._versions.get(key_id)
        if cached is not None:
            return cached
        path = self._path(key_id)
        try:
            document: dict[str, Any] = json.loads(path.read_bytes())
            versions = [base64.b64decode(version["material"]) for version in document["versions"]]
        except FileNotFoundError:
            raise KmsKeyNotFound(f"no key {key_id}") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KmsUnavailable(f"key file {path} unreadable: {error}") from None
        if not versions or any(len(material) != DATA_KEY_SIZE for material in versions):
            raise KmsUnavailable(f"key file {path} holds no valid key")
        with self._lock:
            self._versions[key_id] = versions
        return versions

    def _write(self, key_id: str, versions: list[bytes], *, exclusive: bool) -> None:
        path = self._path(key_id)
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise KmsUnavailable(f"key directory {self.directory}: {error}") from None
        if exclusive and path.exists():
            raise FileExistsError(key_id)
        document = {
            "key_id": key_id,
            "versions": [
                {"version": number, "material": base64.b64encode(material).decode()}
                for number, material in enumerate(versions, start=1)
            ],
        }
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(json.dumps(document).encode())
                file.flush()
                os.fsync(file.fileno())
            if exclusive:
                os.link(temporary, path)  # fails if another writer created it meanwhile
                os.unlink(temporary)
            else:
                os.replace(temporary, path)
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except FileExistsError:
            temporary.unlink(missing_ok=True)
            raise
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise KmsUnavailable(f"writing key {key_id}: {error}") from None
        self._versions[key_id] = versions

    def _create(self, key_id: str) -> str:
        with self._lock:
            self._write(key_id, [new_data_key()], exclusive=True)
        return key_id

    def _reload(self, key_id: str) -> list[bytes]:
        with self._lock:
            self._versions.pop(key_id, None)
        return self._load(key_id)

    def _rotate(self, key_id: str) -> int:
        versions = self._reload(key_id)
        with self._lock:
            rotated = [*versions, new_data_key()]
            self._write(key_id, rotated, exclusive=False)
        return len(rotated)
