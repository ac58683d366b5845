"""The b2 backend's pure parts: details, file info, piece slicing, error translation, sha1-trailed bodies."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from datanode.backends.b2 import B2Backend, _Pieces, file_info_of
from datanode.backends.b2_api import B2Failure, Sha1TrailedBody, encode_name, translate
from datanode.backends.remote import ObjectMeta, create_remote
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError


def location(**details: Any) -> dict[str, Any]:
    base = {"b2AccountId": "key-id", "b2ApplicationKey": "the-key", "b2BucketName": "bucket"}
    return {"type": "b2", "details": {**base, **details}}


async def pieces_of(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def test_the_registry_builds_a_b2_backend_with_the_reference_defaults() -> None:
    backend = create_remote("b2-loc", location())
    assert isinstance(backend, B2Backend)
    assert backend.keeps_versions and not backend.bucket_match
    assert backend.client.realm_url == "https://api.backblazeb2.com"


@pytest.mark.parametrize(
    "details",
    [
        {"b2AccountId": ""},
        {"b2ApplicationKey": None},
        {"b2BucketName": 3},
        {"bucketMatch": "yes"},
        {"b2StorageEndpoint": "ftp://example"},
    ],
)
def test_bad_details_are_invalid_argument_naming_the_field_not_the_key(details: dict[str, Any]) -> None:
    with pytest.raises(StrataError) as refused:
        B2Backend("b2-loc", location(**details))
    assert refused.value.reason == ErrorReason.INVALID_ARGUMENT
    assert "the-key" not in str(refused.value)


def test_environment_overrides_replace_credentials_and_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("b2-loc_B2_ACCOUNT_ID", "other-id")
    monkeypatch.setenv("b2-loc_B2_STORAGE_ENDPOINT", "http://127.0.0.1:1")
    backend = B2Backend("b2-loc", location(b2AccountId=""))
    assert backend.client.realm_url == "http://127.0.0.1:1"
    assert backend.client._basic.startswith("Basic ")


def test_file_info_keeps_content_headers_and_the_metadata_b2_can_hold() -> None:
    meta = ObjectMeta(
        user_metadata={f"k{index:02d}": "v" for index in range(12)} | {"bad name": "x", "b2-fake": "y"},
        cache_control="no-cache",
        content_language="fr",
    )
    info = file_info_of(meta)
    assert info["b2-cache-control"] == "no-cache" and info["b2-content-language"] == "fr"
    assert "bad name" not in info and "b2-fake" not in info
    assert len(info) == 10 and "k00" in info and "k07" in info and "k08" not in info


async def test_pieces_hands_out_exact_counts_across_piece_boundaries() -> None:
    source = _Pieces(pieces_of(b"abc", b"defgh", b"", b"ij"))
    assert await source.read(4) == b"abcd"
    assert [piece async for piece in source.take(3)] == [b"efg"]
    assert not await source.at_end()
    assert await source.read(10) == b"hij"
    assert await source.at_end()


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (404, ErrorReason.BLOB_NOT_FOUND),
        (401, ErrorReason.BACKEND_AUTH),
        (403, ErrorReason.BACKEND_AUTH),
        (429, ErrorReason.BACKEND_THROTTLED),
        (503, ErrorReason.BACKEND_THROTTLED),
        (500, ErrorReason.BACKEND_UNAVAILABLE),
        (408, ErrorReason.BACKEND_UNAVAILABLE),
        (400, ErrorReason.INVALID_ARGUMENT),
    ],
)
def test_b2_statuses_translate_to_the_contracts_reasons(status: int, reason: int) -> None:
    assert translate("loc", "op", B2Failure(status, "code")).reason == reason


def test_transport_failures_are_unavailable() -> None:
    assert translate("loc", "op", TimeoutError()).reason == ErrorReason.BACKEND_UNAVAILABLE
    assert translate("loc", "op", ConnectionRefusedError()).reason == ErrorReason.BACKEND_UNAVAILABLE


def test_only_a_refused_or_expired_token_is_renewed() -> None:
    assert B2Failure(401, "expired_auth_token").token_refused
    assert B2Failure(401, "bad_auth_token").token_refused
    assert not B2Failure(401, "unauthorized").token_refused


def test_names_are_percent_encoded_keeping_slashes() -> None:
    assert encode_name("dir/a b+é.txt") == "dir/a%20b%2B%C3%A9.txt"


async def test_a_sha1_trailed_body_ends_with_the_hex_digest_of_what_it_sent() -> None:
    async with asyncio.timeout(10) as deadline:
        body = Sha1TrailedBody(pieces_of(b"hello ", b"world"), 11, deadline, 5.0)
        sent = [piece async for piece in body]
    assert sent == [b"hello ", b"world", hashlib.sha1(b"hello world").hexdigest().encode()]


@pytest.mark.parametrize("announced", [5, 20])
async def test_a_body_that_breaks_its_announced_size_fails_before_its_digest(announced: int) -> None:
    async with asyncio.timeout(10) as deadline:
        body = Sha1TrailedBody(pieces_of(b"hello ", b"world"), announced, deadline, 5.0)
        with pytest.raises(StrataError) as broken:
            [piece async for piece in body]
    assert broken.value.reason == ErrorReason.INVALID_ARGUMENT
    assert body.source_error is broken.value
