"""The directory key manager: data keys wrapped under master keys that persist, rotate and refuse misuse."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from gateway.crypto.file_kms import FileKMS
from gateway.crypto.kms import KmsInvalidCiphertext, KmsKeyNotFound, KmsUnavailable, WrappedKey

CONTEXT = {"bucket": "photos", "key": "cat.jpg"}


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def test_a_data_key_unwraps_with_its_context_only(tmp_path: Path) -> None:
    kms = FileKMS(tmp_path)
    key_id = run(kms.create_key("backups"))
    data_key = run(kms.generate_data_key(key_id, CONTEXT))
    assert len(data_key.plaintext) == 32 and data_key.plaintext not in data_key.wrapped.ciphertext
    assert run(kms.decrypt_data_key(data_key.wrapped, CONTEXT)) == data_key.plaintext
    with pytest.raises(KmsInvalidCiphertext):
        run(kms.decrypt_data_key(data_key.wrapped, {**CONTEXT, "key": "dog.jpg"}))
    tampered = WrappedKey(
        key_id, 1, data_key.wrapped.ciphertext[:-1] + bytes([data_key.wrapped.ciphertext[-1] ^ 1])
    )
    with pytest.raises(KmsInvalidCiphertext):
        run(kms.decrypt_data_key(tampered, CONTEXT))


def test_keys_persist_in_private_files_and_a_new_instance_unwraps(tmp_path: Path) -> None:
    data_key = run(_generate(FileKMS(tmp_path), "archive"))
    files = list(tmp_path.iterdir())
    assert [file.name for file in files] == ["archive.json"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert run(FileKMS(tmp_path).decrypt_data_key(data_key.wrapped, CONTEXT)) == data_key.plaintext


async def _generate(kms: FileKMS, key_id: str):  # type: ignore[no-untyped-def]
    await kms.create_key(key_id)
    return await kms.generate_data_key(key_id, CONTEXT)


def test_rotation_wraps_new_keys_with_the_new_version_and_old_ones_still_unwrap(tmp_path: Path) -> None:
    kms = FileKMS(tmp_path)
    before = run(_generate(kms, "rotating"))
    elsewhere = FileKMS(tmp_path)  # another process with the key already loaded
    assert run(elsewhere.decrypt_data_key(before.wrapped, CONTEXT)) == before.plaintext
    assert run(kms.rotate_key("rotating")) == 2
    after = run(kms.generate_data_key("rotating", CONTEXT))
    assert (before.wrapped.key_version, after.wrapped.key_version) == (1, 2)
    assert run(kms.decrypt_data_key(before.wrapped, CONTEXT)) == before.plaintext
    assert run(elsewhere.decrypt_data_key(after.wrapped, CONTEXT)) == after.plaintext


def test_unknown_and_invalid_key_ids_are_not_found(tmp_path: Path) -> None:
    kms = FileKMS(tmp_path)
    for key_id in ("missing", "../etc/passwd", ""):
        with pytest.raises(KmsKeyNotFound):
            run(kms.generate_data_key(key_id, CONTEXT))
    assert not run(kms.key_exists("missing"))
    with pytest.raises(KmsInvalidCiphertext):
        run(_unwrap_version(kms, 7))


async def _unwrap_version(kms: FileKMS, version: int) -> bytes:
    await kms.create_key("versions")
    wrapped = (await kms.generate_data_key("versions", CONTEXT)).wrapped
    return await kms.decrypt_data_key(WrappedKey("versions", version, wrapped.ciphertext), CONTEXT)


def test_ensure_key_creates_once_and_ids_with_slashes_stay_in_the_directory(tmp_path: Path) -> None:
    kms = FileKMS(tmp_path)
    assert run(kms.ensure_key("alias/strata-default")) == "alias/strata-default"
    first = (tmp_path / "alias%2Fstrata-default.json").read_bytes()
    run(kms.ensure_key("alias/strata-default"))
    assert (tmp_path / "alias%2Fstrata-default.json").read_bytes() == first
    with pytest.raises(FileExistsError):
        run(kms.create_key("alias/strata-default"))


def test_an_unreadable_key_file_is_an_outage_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(KmsUnavailable):
        run(FileKMS(tmp_path).generate_data_key("broken", CONTEXT))
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(KmsUnavailable):
        run(FileKMS(blocked / "keys").create_key("new"))
