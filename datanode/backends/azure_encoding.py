"""What the Azure backend sends to Blob storage besides bytes: settings, metadata names, tags, block ids.

Kept apart from the client code so each rule is one pure function, tested alone.

**Metadata names.** Azure takes only C# identifiers (``[A-Za-z_][A-Za-z0-9_]*``) as metadata
names; S3 names may hold ``-``, ``.`` and any UTF-8. A name is sent letter for letter, except:
``_`` becomes ``__``; any other character, and a leading digit, becomes ``_`` followed by the two
lowercase hex digits of each of its UTF-8 bytes (``content-id`` -> ``content_2did``,
``my_key`` -> ``my__key``, ``1st`` -> ``_31st``). The rule is reversible (``decode_metadata_name``).

**Metadata values** must be HTTP header text: printable ASCII goes as it is, anything else as an
RFC 2047 word ``=?UTF-8?B?<base64>?=`` (what S3 itself answers for such values).

**Block ids.** Every block staged on one blob must have an id of the same length, so one format
serves puts and multipart parts: ``<32 hex write id>-<part number:05>-<block index:05>``; a plain
put uses part number 0.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datanode.backends.remote import details_of, optional_bool, required_text
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

ENV_ACCOUNT_NAME = "AZURE_STORAGE_ACCOUNT_NAME"
ENV_ACCESS_KEY = "AZURE_STORAGE_ACCESS_KEY"
ENV_ENDPOINT = "AZURE_STORAGE_ENDPOINT"

_CONTAINER_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$|^\$root$")
_TAG_TEXT = re.compile(r"^[A-Za-z0-9 +\-./:=_]*$")
MAX_TAGS = 10


@dataclass(frozen=True)
class AzureSettings:
    """One azure location, after environment overrides."""

    endpoint: str
    account_name: str
    access_key: str = ""
    container: str = ""
    bucket_match: bool = True

    def __repr__(self) -> str:  # the key never shows in a log line
        return (
            f"AzureSettings(endpoint={self.endpoint!r}, account_name={self.account_name!r}, "
            f"container={self.container!r}, bucket_match={self.bucket_match})"
        )


def settings_from(
    location: str, config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> AzureSettings:
    """Reads ``details``; ``<location>_AZURE_STORAGE_{ACCOUNT_NAME,ACCESS_KEY,ENDPOINT}`` win when set."""
    env = os.environ if environ is None else environ
    details = dict(details_of(location, config))
    for env_name, field_name in (
        (ENV_ACCOUNT_NAME, "azureStorageAccountName"),
        (ENV_ACCESS_KEY, "azureStorageAccessKey"),
        (ENV_ENDPOINT, "azureStorageEndpoint"),
    ):
        override = env.get(f"{location}_{env_name}", "")
        if override:  # an empty variable does not blank the configured value
            details[field_name] = override
    endpoint = required_text(location, details, "azureStorageEndpoint").rstrip("/")
    if not endpoint.startswith(("http://", "https://")):
        raise _invalid(location, "details.azureStorageEndpoint must be an http:// or https:// URL")
    access_key = required_text(location, details, "azureStorageAccessKey")
    try:
        base64.b64decode(access_key, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(location, "details.azureStorageAccessKey must be a base64 account key") from None
    container = required_text(location, details, "azureContainerName")
    if not _CONTAINER_NAME.match(container):
        raise _invalid(
            location,
            "details.azureContainerName must be 3-63 lowercase letters, digits and single hyphens",
        )
    return AzureSettings(
        endpoint=endpoint,
        account_name=required_text(location, details, "azureStorageAccountName"),
        access_key=access_key,
        container=container,
        bucket_match=optional_bool(location, details, "bucketMatch", True),
    )


def encode_metadata_name(name: str) -> str:
    if not name:
        raise StrataError(ErrorReason.INVALID_ARGUMENT, "a metadata name must not be empty")
    encoded: list[str] = []
    for index, character in enumerate(name):
        if character == "_":
            encoded.append("__")
        elif character.isascii() and character.isalnum() and not (index == 0 and character.isdigit()):
            encoded.append(character)
        else:
            encoded.append("".join(f"_{byte:02x}" for byte in character.encode("utf-8")))
    return "".join(encoded)


def decode_metadata_name(encoded: str) -> str:
    decoded = bytearray()
    index = 0
    while index < len(encoded):
        if encoded[index] != "_":
            decoded += encoded[index].encode("ascii")
            index += 1
        elif encoded[index + 1 : index + 2] == "_":
            decoded += b"_"
            index += 2
        else:
            decoded.append(int(encoded[index + 1 : index + 3], 16))
            index += 3
    return decoded.decode("utf-8")


def encode_metadata_value(value: str) -> str:
    if all(" " <= character <= "~" for character in value):
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def azure_metadata(user_metadata: Mapping[str, str]) -> dict[str, str]:
    return {encode_metadata_name(name): encode_metadata_value(value) for name, value in user_metadata.items()}


def azure_tags(tags: Mapping[str, str]) -> dict[str, str] | None:
    """Blob index tags; Azure allows fewer characters than S3 (no ``@``), so others are refused."""
    if not tags:
        return None
    if len(tags) > MAX_TAGS:
        raise StrataError(ErrorReason.INVALID_ARGUMENT, f"azure keeps at most {MAX_TAGS} tags per blob")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256 or not _TAG_TEXT.match(key + value):
            raise StrataError(
                ErrorReason.INVALID_ARGUMENT,
                "azure tags take 1-128 character keys and values up to 256 characters of "
                "letters, digits, space and + - . / : = _",
            )
    return dict(tags)


def block_id(write_id: str, part_number: int, index: int) -> str:
    """The (unencoded) id of block ``index`` of one write; the SDK base64-encodes it."""
    return f"{write_id}-{part_number:05d}-{index:05d}"


def part_token(attempt: str, block_count: int) -> str:
    return f"{attempt}.{block_count}"


def parse_part_token(token: str) -> tuple[str, int]:
    attempt, _, count = token.partition(".")
    if not re.fullmatch(r"[0-9a-f]{16}", attempt) or not count.isdigit():
        raise StrataError(ErrorReason.INVALID_ARGUMENT, "not a part token of an azure upload")
    return attempt, int(count)


def check_upload_id(upload_id: str) -> None:
    if not re.fullmatch(r"[0-9a-f]{16}", upload_id):
        raise StrataError(ErrorReason.INVALID_ARGUMENT, "not an upload id of an azure location")


def _invalid(location: str, message: str) -> StrataError:
    return StrataError(ErrorReason.INVALID_ARGUMENT, f"location {location}: {message}")
