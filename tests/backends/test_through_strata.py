"""S3 clients through Strata onto each external location, checked on the provider with its own client.

One embedded server per test, whose location config holds the emulator's location as
``remote`` beside the local ``us-east-1``. Every object is read back byte-identical through
Strata AND directly from the provider under the name the reference's naming rule gives.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from strata.testing.embedded import EmbeddedThread
from strata.testing.emulators import Emulator
from tests.compat.conftest import clean_env, run, tool

MIB = 1024 * 1024
LOCATION_HEADER = "x-amz-meta-scal-location-constraint"


def payload(size: int, seed: int = 0) -> bytes:
    pattern = bytes((index * 13 + seed * 101 + index // 257) % 256 for index in range(4093))
    return (pattern * (size // len(pattern) + 1))[:size]


def s3_client(url: str) -> BaseClient:
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="accessKey1",
        aws_secret_access_key="verySecretKey1",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def eventually(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


@pytest.fixture
def server(location: dict[str, Any]) -> Iterator[EmbeddedThread]:
    locations = {
        "us-east-1": {"type": "mem", "legacyAwsBehavior": True, "details": {}},
        "remote": location,
    }
    with EmbeddedThread(backend="mem", locations=locations, gc_interval_s=0.3, gc_grace_s=0.0) as running:
        yield running


@pytest.fixture
def s3(server: EmbeddedThread) -> BaseClient:
    return s3_client(server.url)


def remote_bucket(s3: BaseClient, name: str) -> str:
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "remote"})
    return name


def expected_name(bucket_match: bool, bucket: str, key: str) -> str:
    return key if bucket_match else f"{bucket}/{key}"


def test_objects_of_a_bucket_on_the_location_land_under_their_names_and_go_with_deletes(
    s3: BaseClient, emulator: Emulator, location: dict[str, Any], bucket_match: bool
) -> None:
    bucket = remote_bucket(s3, "photos")
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "remote"
    small, large = b"tiny object", payload(6 * MIB + 5, seed=1)
    s3.put_object(Bucket=bucket, Key="a/small.txt", Body=small, ContentType="text/plain", Metadata={"k": "v"})
    s3.put_object(Bucket=bucket, Key="a/large.bin", Body=large)
    assert s3.get_object(Bucket=bucket, Key="a/small.txt")["Body"].read() == small
    got = s3.get_object(Bucket=bucket, Key="a/large.bin", Range="bytes=1000-2000999")
    assert got["Body"].read() == large[1000:2001000]
    head = s3.head_object(Bucket=bucket, Key="a/small.txt")
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"k": "v"}
    assert emulator.read_direct(location, expected_name(bucket_match, bucket, "a/small.txt")) == small
    assert emulator.read_direct(location, expected_name(bucket_match, bucket, "a/large.bin")) == large
    # Overwrite, then delete: the collector removes exactly the writes no metadata points at.
    s3.put_object(Bucket=bucket, Key="a/small.txt", Body=b"second")
    assert s3.get_object(Bucket=bucket, Key="a/small.txt")["Body"].read() == b"second"
    s3.delete_object(Bucket=bucket, Key="a/large.bin")
    large_name = expected_name(bucket_match, bucket, "a/large.bin")
    eventually(lambda: emulator.read_direct(location, large_name) is None)
    assert emulator.read_direct(location, expected_name(bucket_match, bucket, "a/small.txt")) == b"second"


@pytest.mark.parametrize("bucket_match", [True], ids=["bucketMatch"])
def test_the_location_header_sends_one_object_elsewhere_than_its_bucket(
    s3: BaseClient, emulator: Emulator, location: dict[str, Any]
) -> None:
    s3.create_bucket(Bucket="local")
    s3.put_object(Bucket="local", Key="here", Body=b"stays local")
    s3.put_object(
        Bucket="local", Key="there", Body=b"goes out", Metadata={"scal-location-constraint": "remote"}
    )
    assert emulator.names_direct(location) == ["there"]
    assert emulator.read_direct(location, "there") == b"goes out"
    head = s3.head_object(Bucket="local", Key="there")
    assert head["Metadata"]["scal-location-constraint"] == "remote"
    with pytest.raises(ClientError) as unknown:
        s3.put_object(Bucket="local", Key="x", Body=b"x", Metadata={"scal-location-constraint": "nowhere"})
    assert unknown.value.response["Error"]["Code"] == "InvalidLocationConstraint"
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_multipart_uploads_pass_through_to_one_object_on_the_location(
    s3: BaseClient, emulator: Emulator, location: dict[str, Any], bucket_match: bool
) -> None:
    bucket = remote_bucket(s3, "uploads")
    data = payload(13 * MIB + 7, seed=2)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=3)
    s3.upload_fileobj(_Reader(data), bucket, "big/file.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big/file.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    assert s3.get_object(Bucket=bucket, Key="big/file.bin")["Body"].read() == data
    part = s3.get_object(Bucket=bucket, Key="big/file.bin", PartNumber=2)
    assert part["Body"].read() == data[5 * MIB : 10 * MIB]
    name = expected_name(bucket_match, bucket, "big/file.bin")
    assert emulator.read_direct(location, name) == data
    assert emulator.names_direct(location) == [name]
    # An aborted upload leaves nothing on the location.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="abandoned")
    s3.upload_part(
        Bucket=bucket, Key="abandoned", UploadId=upload["UploadId"], PartNumber=1, Body=payload(MIB)
    )
    s3.abort_multipart_upload(Bucket=bucket, Key="abandoned", UploadId=upload["UploadId"])
    assert emulator.names_direct(location) == [name]


@pytest.mark.parametrize("bucket_match", [False], ids=["bucketPrefix"])
def test_copies_move_bytes_between_local_and_external_locations(
    s3: BaseClient, emulator: Emulator, location: dict[str, Any]
) -> None:
    bucket = remote_bucket(s3, "copies")
    s3.create_bucket(Bucket="local")
    data = payload(2 * MIB + 3, seed=3)
    s3.put_object(Bucket="local", Key="source", Body=data)
    s3.copy_object(Bucket=bucket, Key="copied-out", CopySource={"Bucket": "local", "Key": "source"})
    s3.copy_object(Bucket="local", Key="copied-back", CopySource={"Bucket": bucket, "Key": "copied-out"})
    assert emulator.read_direct(location, "copies/copied-out") == data
    assert s3.get_object(Bucket="local", Key="copied-back")["Body"].read() == data
    upload = s3.create_multipart_upload(Bucket=bucket, Key="assembled")
    first = s3.upload_part_copy(
        Bucket=bucket, Key="assembled", UploadId=upload["UploadId"], PartNumber=1,
        CopySource={"Bucket": "local", "Key": "source"}, CopySourceRange=f"bytes=0-{2 * MIB - 1}",
    )  # fmt: skip
    s3.complete_multipart_upload(
        Bucket=bucket, Key="assembled", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]}]},
    )  # fmt: skip
    assert emulator.read_direct(location, "copies/assembled") == data[: 2 * MIB]


# Emulators whose containers cannot keep earlier versions here (Azurite has no blob versioning,
# fake-gcs-server's disk backend no generations): Strata refuses versioning on them.
LOSES_VERSIONS = {"azure-azurite", "gcp-fakegcs"}


@pytest.mark.parametrize("bucket_match", [True], ids=["bucketMatch"])
@pytest.mark.parametrize("wants_versions", [True], ids=["versionedContainer"])
def test_versioned_overwrites_keep_each_version_readable_or_versioning_is_refused(
    s3: BaseClient, emulator: Emulator, location: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    bucket = remote_bucket(s3, "history")
    enable = {"Status": "Enabled"}
    if request.node.callspec.params["emulator"] in LOSES_VERSIONS:
        with pytest.raises(ClientError) as refused:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=enable)
        assert refused.value.response["Error"]["Code"] == "NotImplemented"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
        # Nor can one versioned object be sent there from a versioned bucket on Strata's disks.
        s3.create_bucket(Bucket="local-history")
        s3.put_bucket_versioning(Bucket="local-history", VersioningConfiguration=enable)
        with pytest.raises(ClientError) as refused:
            s3.put_object(
                Bucket="local-history", Key="doc", Body=b"x", Metadata={"scal-location-constraint": "remote"}
            )
        assert refused.value.response["Error"]["Code"] == "NotImplemented"
        return
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=enable)
    first = s3.put_object(Bucket=bucket, Key="doc", Body=b"version one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="doc", Body=b"version two")["VersionId"]
    third = s3.put_object(Bucket=bucket, Key="doc", Body=b"version three")["VersionId"]
    assert emulator.read_direct(location, "doc") == b"version three"
    for version_id, body in ((first, b"version one"), (second, b"version two"), (third, b"version three")):
        assert s3.get_object(Bucket=bucket, Key="doc", VersionId=version_id)["Body"].read() == body
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=third)
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"version two"
    s3.delete_object(Bucket=bucket, Key="doc")  # a delete marker: the versions stay readable
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=first)["Body"].read() == b"version one"


@pytest.mark.allow_server_errors(503)
@pytest.mark.parametrize("bucket_match", [True], ids=["bucketMatch"])
def test_a_stopped_provider_gives_503_and_a_degraded_health_check_then_recovers(
    s3: BaseClient, emulator: Emulator, server: EmbeddedThread
) -> None:
    bucket = remote_bucket(s3, "outage")
    s3.put_object(Bucket=bucket, Key="kept", Body=b"before")
    emulator.stop()
    try:
        for attempt in (
            lambda: s3.get_object(Bucket=bucket, Key="kept")["Body"].read(),
            lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"during"),
        ):
            with pytest.raises(ClientError) as down:
                attempt()
            assert down.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
            assert down.value.response["Error"]["Code"] in ("ServiceUnavailable", "SlowDown")
        eventually(lambda: health(server)["locations"]["remote"]["code"] == 503)
        assert health(server)["status"] == "degraded"
    finally:
        emulator.start()
    eventually(lambda: health(server)["locations"]["remote"]["code"] == 200)
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"before"
    s3.put_object(Bucket=bucket, Key="new", Body=b"after")


def health(server: EmbeddedThread) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{server.url}/_/healthcheck", timeout=30) as response:
            document: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        document = json.loads(error.read())
    return document


class _Reader:
    """A file-like object over bytes that boto3's transfer manager reads in parts."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._position + size
        piece = self._data[self._position : end]
        self._position += len(piece)
        return piece


@pytest.mark.parametrize("bucket_match", [False], ids=["bucketPrefix"])
def test_the_aws_cli_copies_files_to_and_from_the_location(
    server: EmbeddedThread, emulator: Emulator, location: dict[str, Any], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = accessKey1\naws_secret_access_key = verySecretKey1\n"
    )
    (home / ".aws" / "config").write_text("[default]\nregion = us-east-1\n")
    env = clean_env(home)
    env["AWS_CONFIG_FILE"] = str(home / ".aws" / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(home / ".aws" / "credentials")

    def aws(*args: str) -> str:
        return run([tool("aws"), "--endpoint-url", server.url, *args], env, cwd=tmp_path)

    aws(
        "s3api",
        "create-bucket",
        "--bucket",
        "cli",
        "--create-bucket-configuration",
        "LocationConstraint=remote",
    )
    source = tmp_path / "big.bin"
    source.write_bytes(payload(9 * MIB + 17, seed=9))  # past the cli's 8 MiB multipart threshold
    aws("s3", "cp", str(source), "s3://cli/dir/big.bin")
    assert emulator.read_direct(location, "cli/dir/big.bin") == source.read_bytes()
    back = tmp_path / "back.bin"
    aws("s3", "cp", "s3://cli/dir/big.bin", str(back))
    assert back.read_bytes() == source.read_bytes()
    assert "dir/big.bin" in aws("s3", "ls", "--recursive", "s3://cli")


# encryption at rest
@pytest.mark.parametrize("bucket_match", [True], ids=["bucketMatch"])
def test_encrypted_objects_reach_the_location_as_ciphertext_only(
    s3: BaseClient, emulator: Emulator, location: dict[str, Any]
) -> None:
    bucket = remote_bucket(s3, "sealed")
    marker = b"REMOTE-SSE-MARKER-0c4f "
    small, large = marker * 10, marker * (6 * MIB // len(marker))
    s3.put_object(Bucket=bucket, Key="small", Body=small, ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="large", Body=large, ServerSideEncryption="AES256")
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=2)
    s3.upload_fileobj(
        _Reader(large + small), bucket, "multi", Config=config, ExtraArgs={"ServerSideEncryption": "AES256"}
    )
    s3.put_object(Bucket=bucket, Key="clear", Body=small)
    for key, data in (("small", small), ("large", large), ("multi", large + small)):
        got = s3.get_object(Bucket=bucket, Key=key)
        assert (got["ServerSideEncryption"], got["Body"].read()) == ("AES256", data)
        stored = emulator.read_direct(location, key)
        assert stored is not None and marker not in stored
    ranged = s3.get_object(Bucket=bucket, Key="multi", Range=f"bytes={5 * MIB - 3}-{5 * MIB + 2}")
    assert ranged["Body"].read() == (large + small)[5 * MIB - 3 : 5 * MIB + 3]
    assert emulator.read_direct(location, "clear") == small  # the check reads what the location holds
