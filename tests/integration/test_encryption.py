"""SSE-S3 (``x-amz-server-side-encryption: AES256``) on PutObject, GetObject and HeadObject."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, IncompleteReadError, ResponseStreamingError
from urllib3.exceptions import ProtocolError

from gateway.crypto.envelope import CHUNK_SIZE, sealed_size
from gateway.limits import GatewayOptions
from protos.metadata_pb2 import GetObjectRequest, ObjectMD
from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import s3_client

MIB = 1024 * 1024


def _stored_md(server: EmbeddedThread, bucket: str, key: str) -> ObjectMD:
    return server.call(server.server.core.get_object(GetObjectRequest(bucket=bucket, key=key)))


def _stored_bytes(server: EmbeddedThread, md: ObjectMD) -> bytes:
    if md.inline_data:
        return md.inline_data

    async def read() -> bytes:
        pieces = []
        for blob in md.blobs:
            pieces += [piece async for piece in server.server.data.get(blob)]
        return b"".join(pieces)

    return server.call(read())


def _tamper(server: EmbeddedThread, md: ObjectMD, offset: int) -> None:
    """Flips one stored byte the way a writer with access to the storage would: through the backend,
    which recomputes its own checksums, so only the encryption can notice."""
    (blob,) = md.blobs
    stored = bytearray(_stored_bytes(server, md))
    stored[offset] ^= 0x01
    backend = server.server.backends[server.settings.locations[blob.location]["type"]]

    async def one_piece() -> AsyncIterator[bytes]:
        yield bytes(stored)

    server.call(backend.put(blob.blob_id, one_piece()))


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize("size", [0, 1, 70_000, 3 * MIB + 5])
def test_encrypted_object_reads_back_with_the_header_and_the_plaintext_etag(server, s3, bucket, size) -> None:
    body = os.urandom(size)
    put = s3.put_object(Bucket=bucket, Key="secret", Body=body, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="secret")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["ContentLength"] == size
    assert got["Body"].read() == body
    head = s3.head_object(Bucket=bucket, Key="secret")
    assert (head["ServerSideEncryption"], head["ContentLength"]) == ("AES256", size)
    assert head["ETag"] == put["ETag"]
    md = _stored_md(server, bucket, "secret")
    assert md.size == size and md.sse_algorithm == "AES256" and md.sse_wrapped_key
    assert len(_stored_bytes(server, md)) == sealed_size(size)


def test_an_object_stored_without_the_header_is_not_encrypted(server, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"in the clear")
    assert "ServerSideEncryption" not in s3.get_object(Bucket=bucket, Key="plain")
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="plain")
    assert _stored_bytes(server, _stored_md(server, bucket, "plain")) == b"in the clear"


def test_the_stored_bytes_are_ciphertext(server, s3, bucket) -> None:
    body = b"a sentence nobody should read off the storage. " * 40_000
    s3.put_object(Bucket=bucket, Key="secret", Body=body, ServerSideEncryption="AES256")
    stored = _stored_bytes(server, _stored_md(server, bucket, "secret"))
    assert b"nobody should read" not in stored


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (0, 0),
        (CHUNK_SIZE - 1, CHUNK_SIZE - 1),
        (CHUNK_SIZE - 1, CHUNK_SIZE),
        (CHUNK_SIZE, CHUNK_SIZE),
        (CHUNK_SIZE - 10, 2 * CHUNK_SIZE + 10),
        (2 * CHUNK_SIZE, 3 * CHUNK_SIZE - 1),
        (3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 4),
        (0, 3 * CHUNK_SIZE + 4),
    ],
)
def test_ranged_reads_of_an_encrypted_object_at_chunk_boundaries(s3, bucket, first: int, last: int) -> None:
    body = os.urandom(3 * CHUNK_SIZE + 5)
    s3.put_object(Bucket=bucket, Key="ranged", Body=body, ServerSideEncryption="AES256")
    got = s3.get_object(Bucket=bucket, Key="ranged", Range=f"bytes={first}-{last}")
    assert got["ContentRange"] == f"bytes {first}-{last}/{len(body)}"
    assert got["Body"].read() == body[first : last + 1]
    suffix = s3.get_object(Bucket=bucket, Key="ranged", Range="bytes=-7")["Body"].read()
    assert suffix == body[-7:]


def test_ciphertext_on_disk_with_the_file_backend(server, s3, bucket) -> None:
    if server.settings.backend != "file":
        pytest.skip("the mem backend keeps no files")
    secret = b"ENCRYPTED-MARKER-7f3a9 " * 50_000
    clear = b"CLEARTEXT-MARKER-5b1c2 " * 50_000
    s3.put_object(Bucket=bucket, Key="secret", Body=secret, ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="clear", Body=clear)
    found = b""
    for path in Path(server.settings.data_path).rglob("*"):
        if path.is_file():
            found += path.read_bytes()
    assert b"ENCRYPTED-MARKER-7f3a9" not in found
    assert b"CLEARTEXT-MARKER-5b1c2" in found  # the search does see object data


@pytest.mark.allow_server_errors(503)
def test_tampered_ciphertext_is_detected_and_never_returned(server, s3, bucket) -> None:
    body = os.urandom(3 * CHUNK_SIZE)
    s3.put_object(Bucket=bucket, Key="first", Body=body, ServerSideEncryption="AES256")
    _tamper(server, _stored_md(server, bucket, "first"), 100)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="first")
    assert _error(excinfo) == ("ServiceUnavailable", 503)
    # The chunks that were not touched still open.
    got = s3.get_object(Bucket=bucket, Key="first", Range=f"bytes={CHUNK_SIZE}-{CHUNK_SIZE + 9}")
    assert got["Body"].read() == body[CHUNK_SIZE : CHUNK_SIZE + 10]

    # Damage past the first chunk is found once bytes are sent: the download is cut, never completed.
    s3.put_object(Bucket=bucket, Key="last", Body=body, ServerSideEncryption="AES256")
    _tamper(server, _stored_md(server, bucket, "last"), sealed_size(len(body)) - 1)
    with pytest.raises((IncompleteReadError, ResponseStreamingError, ProtocolError)):
        s3.get_object(Bucket=bucket, Key="last")["Body"].read()


def test_a_copy_without_the_header_is_stored_in_the_clear(server, s3, bucket) -> None:
    body = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="source", Body=body, ServerSideEncryption="AES256")
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "source"})
    assert "ServerSideEncryption" not in copied
    got = s3.get_object(Bucket=bucket, Key="copy")
    assert "ServerSideEncryption" not in got
    assert got["Body"].read() == body
    assert _stored_bytes(server, _stored_md(server, bucket, "copy")) == body


def test_a_copy_with_the_header_is_encrypted_again(server, s3, bucket) -> None:
    body = os.urandom(CHUNK_SIZE + 99)
    s3.put_object(Bucket=bucket, Key="plain", Body=body)
    for source_key, target in (("plain", "sealed-copy"), ("sealed-copy", "sealed-again")):
        copied = s3.copy_object(
            Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source_key},
            ServerSideEncryption="AES256",
        )  # fmt: skip
        assert copied["ServerSideEncryption"] == "AES256"
        assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        got = s3.get_object(Bucket=bucket, Key=target)
        assert (got["ServerSideEncryption"], got["Body"].read()) == ("AES256", body)
        md = _stored_md(server, bucket, target)
        assert len(_stored_bytes(server, md)) == sealed_size(len(body))
    # Each copy has its own data key.
    assert (
        _stored_md(server, bucket, "sealed-copy").sse_wrapped_key
        != _stored_md(server, bucket, "sealed-again").sse_wrapped_key
    )


def test_an_encrypted_multipart_upload_seals_each_part_with_its_own_key(server, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="source", Body=os.urandom(6 * MIB), ServerSideEncryption="AES256")
    source = s3.get_object(Bucket=bucket, Key="source")["Body"].read()
    created = s3.create_multipart_upload(Bucket=bucket, Key="big", ServerSideEncryption="AES256")
    assert created["ServerSideEncryption"] == "AES256"
    upload_id = created["UploadId"]
    first, last = os.urandom(5 * MIB + 3), os.urandom(1000)
    parts = []
    for number, data in ((1, first), (3, last)):
        answer = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=number, Body=data)
        assert answer["ServerSideEncryption"] == "AES256"
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    copied = s3.upload_part_copy(
        Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=2,
        CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange=f"bytes=10-{5 * MIB + 9}",
    )  # fmt: skip
    assert copied["ServerSideEncryption"] == "AES256"
    parts.insert(1, {"PartNumber": 2, "ETag": copied["CopyPartResult"]["ETag"]})
    middle = source[10 : 5 * MIB + 10]
    completed = s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert completed["ServerSideEncryption"] == "AES256"
    whole = first + middle + last
    got = s3.get_object(Bucket=bucket, Key="big")
    assert (got["ServerSideEncryption"], got["ContentLength"]) == ("AES256", len(whole))
    assert got["Body"].read() == whole
    boundary = len(first)
    for start, end in ((boundary - 5, boundary + 5), (boundary + len(middle) - 1, len(whole) - 1), (7, 7)):
        ranged = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={start}-{end}")["Body"].read()
        assert ranged == whole[start : end + 1]
    assert s3.get_object(Bucket=bucket, Key="big", PartNumber=3)["Body"].read() == last
    md = _stored_md(server, bucket, "big")
    assert len({key.wrapped for key in md.sse_part_keys}) == 3
    stored = _stored_bytes(server, md)
    assert len(stored) == sum(sealed_size(len(part)) for part in (first, middle, last))
    assert first[:64] not in stored


@pytest.mark.allow_server_errors(503)
def test_a_key_manager_that_cannot_work_answers_503_and_stores_nothing(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "keys"
    not_a_directory.write_text("a file where the key directory should be")
    options = GatewayOptions(kms_dir=str(not_a_directory))
    with EmbeddedThread(backend="mem", gateway=options) as running:
        s3 = s3_client(running.url)
        s3.create_bucket(Bucket="kms-down")
        with pytest.raises(ClientError) as excinfo:
            s3.put_object(Bucket="kms-down", Key="secret", Body=b"x", ServerSideEncryption="AES256")
        assert _error(excinfo) == ("ServiceUnavailable", 503)
        with pytest.raises(ClientError) as missing:
            s3.head_object(Bucket="kms-down", Key="secret")
        assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        s3.put_object(Bucket="kms-down", Key="plain", Body=b"x")  # unencrypted writes still work
        assert s3.get_object(Bucket="kms-down", Key="plain")["Body"].read() == b"x"


def test_the_wrapped_key_is_bound_to_its_object(server, s3, bucket) -> None:
    """A data key copied onto another object's metadata does not open it (context-bound wrapping)."""
    s3.put_object(Bucket=bucket, Key="a", Body=b"alpha" * 1000, ServerSideEncryption="AES256")
    md = _stored_md(server, bucket, "a")
    kms = server.server.kms
    from gateway.crypto import sse
    from gateway.crypto.kms import KmsInvalidCiphertext, WrappedKey

    wrapped = WrappedKey(md.sse_key_id, md.sse_key_version, md.sse_wrapped_key)
    assert server.call(kms.decrypt_data_key(wrapped, sse.encryption_context(bucket, "a")))
    with pytest.raises(KmsInvalidCiphertext):
        server.call(kms.decrypt_data_key(wrapped, sse.encryption_context(bucket, "b")))
