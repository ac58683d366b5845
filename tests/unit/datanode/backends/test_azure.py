"""The azure backend's pure rules: settings and overrides, name and value encoding, block ids, errors.

The behaviour against a server is in ``tests/backends`` (Azurite); these pin the rules alone.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import StorageErrorCode
from hypothesis import given
from hypothesis import strategies as st

from datanode.backends.azure import _blocks, describe, translate
from datanode.backends.azure_encoding import (
    azure_tags,
    block_id,
    decode_metadata_name,
    encode_metadata_name,
    encode_metadata_value,
    parse_part_token,
    part_token,
    settings_from,
)
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

KEY = base64.b64encode(b"k" * 64).decode()
C_SHARP_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def config(**details: Any) -> dict[str, Any]:
    base = {
        "azureStorageEndpoint": "https://account.blob.core.windows.net/",
        "azureStorageAccountName": "account",
        "azureStorageAccessKey": KEY,
        "azureContainerName": "container",
        "bucketMatch": False,
    }
    return {"type": "azure", "legacyAwsBehavior": False, "details": {**base, **details}}


def test_details_are_read_with_the_reference_field_names() -> None:
    settings = settings_from("loc", config(), environ={})
    assert settings.endpoint == "https://account.blob.core.windows.net"
    assert (settings.account_name, settings.access_key, settings.container) == ("account", KEY, "container")
    assert settings.bucket_match is False
    assert KEY not in repr(settings)


def test_location_environment_variables_win_over_details_and_empty_ones_do_not() -> None:
    other_key = base64.b64encode(b"o" * 64).decode()
    environ = {
        "loc_AZURE_STORAGE_ACCOUNT_NAME": "fromenv",
        "loc_AZURE_STORAGE_ACCESS_KEY": other_key,
        "loc_AZURE_STORAGE_ENDPOINT": "",
        "other_AZURE_STORAGE_ACCOUNT_NAME": "not-mine",
    }
    settings = settings_from("loc", config(), environ=environ)
    assert (settings.account_name, settings.access_key) == ("fromenv", other_key)
    assert settings.endpoint == "https://account.blob.core.windows.net"


def test_an_environment_variable_can_supply_a_field_the_details_lack() -> None:
    location = config()
    del location["details"]["azureStorageAccessKey"]
    with pytest.raises(StrataError):
        settings_from("loc", location, environ={})
    settings = settings_from("loc", location, environ={"loc_AZURE_STORAGE_ACCESS_KEY": KEY})
    assert settings.access_key == KEY


@pytest.mark.parametrize(
    "change",
    [
        {"azureStorageEndpoint": "ftp://x"},
        {"azureStorageAccessKey": "%%%"},
        {"azureContainerName": "ab"},
        {"azureContainerName": "a--b"},
        {"azureContainerName": "-abc"},
        {"azureStorageAccountName": 7},
        {"bucketMatch": "true"},
    ],
)
def test_bad_details_are_invalid_arguments(change: dict[str, Any]) -> None:
    with pytest.raises(StrataError) as refused:
        settings_from("loc", config(**change), environ={})
    assert refused.value.reason == ErrorReason.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("color", "color"),
        ("content-id", "content_2did"),
        ("my_key", "my__key"),
        ("1st", "_31st"),
        ("a.b", "a_2eb"),
        ("é", "_c3_a9"),
    ],
)
def test_metadata_names_become_csharp_identifiers(name: str, encoded: str) -> None:
    assert encode_metadata_name(name) == encoded
    assert decode_metadata_name(encoded) == name


@given(st.text(min_size=1, max_size=40))
def test_every_metadata_name_encodes_to_an_identifier_and_back(name: str) -> None:
    encoded = encode_metadata_name(name)
    assert C_SHARP_IDENTIFIER.match(encoded)
    assert decode_metadata_name(encoded) == name


def test_metadata_values_outside_printable_ascii_become_rfc2047_words() -> None:
    assert encode_metadata_value("plain text ~") == "plain text ~"
    assert encode_metadata_value("naïve") == "=?UTF-8?B?bmHDr3Zl?="
    assert encode_metadata_value("line\nbreak").startswith("=?UTF-8?B?")


def test_tags_follow_azure_rules() -> None:
    assert azure_tags({}) is None
    assert azure_tags({"a": "b c+-./:=_"}) == {"a": "b c+-./:=_"}
    for bad in ({"a": "x@y"}, {"": "v"}, {"k" * 129: "v"}, {f"k{i}": "v" for i in range(11)}):
        with pytest.raises(StrataError) as refused:
            azure_tags(bad)
        assert refused.value.reason == ErrorReason.INVALID_ARGUMENT


def test_block_ids_of_puts_and_parts_all_have_one_length() -> None:
    ids = {block_id("a" * 32, 0, 0), block_id("b" * 32, 10_000, 49_999), block_id("c" * 32, 7, 3)}
    assert len({len(base64.b64encode(identifier.encode())) for identifier in ids}) == 1
    assert all(len(base64.b64encode(identifier.encode())) <= 64 for identifier in ids)


def test_part_tokens_round_trip_and_foreign_ones_are_refused() -> None:
    assert parse_part_token(part_token("0123456789abcdef", 3)) == ("0123456789abcdef", 3)
    for foreign in ('"etag"', "0123456789abcdef", "xyz.3", "0123456789abcdef.x"):
        with pytest.raises(StrataError):
            parse_part_token(foreign)


async def pieces(sizes: list[int]) -> AsyncIterator[bytes]:
    for index, size in enumerate(sizes):
        yield bytes([index % 256]) * size


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([], []),
        ([3], [3]),
        ([4, 4], [8]),
        ([3, 3, 3], [8, 1]),
        ([20], [8, 8, 4]),
        ([1] * 16, [8, 8]),
    ],
)
async def test_streams_regroup_into_blocks_without_losing_a_byte(
    sizes: list[int], expected: list[int]
) -> None:
    original = b"".join([piece async for piece in pieces(sizes)])
    blocks = [block async for block in _blocks(pieces(sizes), 8)]
    assert [len(block) for block in blocks] == expected
    assert b"".join(blocks) == original


def http_error(status: int, code: str | StorageErrorCode | None) -> HttpResponseError:
    error = HttpResponseError(message="provider text with secret")
    error.status_code = status
    error.error_code = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ResourceNotFoundError("x"), ErrorReason.BLOB_NOT_FOUND),
        (ResourceModifiedError("x"), ErrorReason.BLOB_NOT_FOUND),
        (http_error(404, StorageErrorCode.BLOB_NOT_FOUND), ErrorReason.BLOB_NOT_FOUND),
        (http_error(404, StorageErrorCode.CONTAINER_NOT_FOUND), ErrorReason.BACKEND_UNAVAILABLE),
        (http_error(404, "ContainerNotFound"), ErrorReason.BACKEND_UNAVAILABLE),
        (http_error(412, StorageErrorCode.CONDITION_NOT_MET), ErrorReason.BLOB_NOT_FOUND),
        (http_error(403, StorageErrorCode.AUTHENTICATION_FAILED), ErrorReason.BACKEND_AUTH),
        (http_error(403, StorageErrorCode.AUTHORIZATION_FAILURE), ErrorReason.BACKEND_AUTH),
        (http_error(503, StorageErrorCode.SERVER_BUSY), ErrorReason.BACKEND_THROTTLED),
        (http_error(500, StorageErrorCode.OPERATION_TIMED_OUT), ErrorReason.BACKEND_UNAVAILABLE),
        (http_error(400, StorageErrorCode.INVALID_METADATA), ErrorReason.INVALID_ARGUMENT),
        (ServiceRequestError("connection refused"), ErrorReason.BACKEND_UNAVAILABLE),
        (ServiceResponseError("reset"), ErrorReason.BACKEND_UNAVAILABLE),
        (TimeoutError(), ErrorReason.BACKEND_UNAVAILABLE),
        (ConnectionRefusedError(), ErrorReason.BACKEND_UNAVAILABLE),
    ],
)
def test_provider_errors_translate_to_reasons(error: BaseException, reason: int) -> None:
    assert translate(error) == reason
    assert "secret" not in describe(error)


def test_an_invalid_block_list_means_what_the_caller_says() -> None:
    error = http_error(400, StorageErrorCode.INVALID_BLOCK_LIST)
    assert translate(error, invalid_blocks=ErrorReason.BLOB_NOT_FOUND) == ErrorReason.BLOB_NOT_FOUND
    assert describe(error) == "HTTP 400 InvalidBlockList"


def test_what_is_not_azure_passes_through() -> None:
    assert translate(ValueError("a bug")) is None
