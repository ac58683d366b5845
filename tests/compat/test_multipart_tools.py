"""Multipart uploads by real clients: aws cli (default and small multipart_chunksize), rclone, boto3's
transfer manager. The 2 GiB round trips run with STRATA_SLOW=1."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from strata.testing.embedded import EmbeddedThread
from tests.compat.conftest import clean_env, run, tool

pytestmark = pytest.mark.compat

MIB = 1024 * 1024
SLOW = os.environ.get("STRATA_SLOW") == "1"
slow = pytest.mark.skipif(not SLOW, reason="2 GiB transfers run with STRATA_SLOW=1")


def write_random(path: Path, size: int) -> str:
    """Writes ``size`` random bytes in 8 MiB pieces; returns their sha256."""
    digest = hashlib.sha256()
    block = os.urandom(8 * MIB)
    with path.open("wb") as out:
        remaining = size
        counter = 0
        while remaining:
            # Vary each block cheaply so parts differ (a repeated block would hide misordered parts).
            piece = counter.to_bytes(8, "big") + block[8 : min(len(block), remaining)]
            piece = piece[: min(len(block), remaining)]
            out.write(piece)
            digest.update(piece)
            remaining -= len(piece)
            counter += 1
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while piece := source.read(8 * MIB):
            digest.update(piece)
    return digest.hexdigest()


def aws_cli(server: EmbeddedThread, home: Path, chunksize: str | None) -> Callable[..., str]:
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = accessKey1\naws_secret_access_key = verySecretKey1\n"
    )
    config = "[default]\nregion = us-east-1\n"
    if chunksize:
        config += f"s3 =\n    multipart_chunksize = {chunksize}\n    multipart_threshold = {chunksize}\n"
    (home / ".aws" / "config").write_text(config)
    env = clean_env(home)
    env["AWS_CONFIG_FILE"] = str(home / ".aws" / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(home / ".aws" / "credentials")

    def call(*args: str) -> str:
        return run([tool("aws"), "--endpoint-url", server.url, *args], env, cwd=home)

    return call


def boto3_client(server: EmbeddedThread):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id="accessKey1",
        aws_secret_access_key="verySecretKey1",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


def _aws_round_trip(server: EmbeddedThread, tmp_path: Path, size: int, chunksize: str | None) -> None:
    aws = aws_cli(server, tmp_path / "home", chunksize)
    bucket = f"cli-mpu-{chunksize or 'default'}".lower()
    aws("s3", "mb", f"s3://{bucket}")
    source = tmp_path / "source.bin"
    expected = write_random(source, size)
    aws("s3", "cp", str(source), f"s3://{bucket}/big.bin")
    head = boto3_client(server).head_object(Bucket=bucket, Key="big.bin")
    assert "-" in head["ETag"] and head["ContentLength"] == size
    target = tmp_path / "target.bin"
    aws("s3", "cp", f"s3://{bucket}/big.bin", str(target))
    assert sha256_of(target) == expected
    aws("s3", "rm", f"s3://{bucket}/big.bin")
    aws("s3", "rb", f"s3://{bucket}")


@pytest.mark.parametrize("chunksize", [None, "5MB"])
def test_aws_cli_multipart_round_trip(server: EmbeddedThread, tmp_path: Path, chunksize: str | None) -> None:
    _aws_round_trip(server, tmp_path, 24 * MIB + 5, chunksize)


def _boto3_round_trip(server: EmbeddedThread, tmp_path: Path, size: int, chunk: int) -> None:
    s3 = boto3_client(server)
    bucket = f"tm-{size}"
    s3.create_bucket(Bucket=bucket)
    source = tmp_path / "up.bin"
    expected = write_random(source, size)
    config = TransferConfig(multipart_threshold=chunk, multipart_chunksize=chunk, max_concurrency=4)
    s3.upload_file(str(source), bucket, "big.bin", Config=config)
    target = tmp_path / "down.bin"
    s3.download_file(bucket, "big.bin", str(target), Config=config)
    assert sha256_of(target) == expected
    s3.delete_object(Bucket=bucket, Key="big.bin")
    s3.delete_bucket(Bucket=bucket)


def test_boto3_transfer_manager_round_trip(server: EmbeddedThread, tmp_path: Path) -> None:
    _boto3_round_trip(server, tmp_path, 30 * MIB + 3, 5 * MIB)


def _rclone(server: EmbeddedThread, tmp_path: Path, *args: str) -> str:
    config = tmp_path / "rclone.conf"
    config.write_text(
        "[strata]\ntype = s3\nprovider = Other\naccess_key_id = accessKey1\n"
        f"secret_access_key = verySecretKey1\nendpoint = {server.url}\nregion = us-east-1\n"
        "force_path_style = true\n"
    )
    env = clean_env(tmp_path)
    return run([tool("rclone"), "--config", str(config), *args], env, cwd=tmp_path)


def _rclone_round_trip(server: EmbeddedThread, tmp_path: Path, size: int) -> None:
    bucket = f"rclone-{size}"
    boto3_client(server).create_bucket(Bucket=bucket)
    source_dir = tmp_path / "up"
    source_dir.mkdir()
    expected = write_random(source_dir / "big.bin", size)
    flags = ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", "--s3-upload-concurrency", "4"]
    _rclone(server, tmp_path, "copy", *flags, str(source_dir), f"strata:{bucket}/")
    assert "-" in boto3_client(server).head_object(Bucket=bucket, Key="big.bin")["ETag"]
    down = tmp_path / "down"
    _rclone(server, tmp_path, "copy", f"strata:{bucket}/big.bin", str(down))
    assert sha256_of(down / "big.bin") == expected
    _rclone(server, tmp_path, "purge", f"strata:{bucket}")


def test_rclone_multipart_round_trip(server: EmbeddedThread, tmp_path: Path) -> None:
    _rclone_round_trip(server, tmp_path, 21 * MIB + 9)


@slow
def test_aws_cli_2gib_round_trip(server: EmbeddedThread, tmp_path: Path) -> None:
    _aws_round_trip(server, tmp_path, 2 * 1024 * MIB, None)


@slow
def test_aws_cli_2gib_round_trip_small_chunks(server: EmbeddedThread, tmp_path: Path) -> None:
    _aws_round_trip(server, tmp_path, 2 * 1024 * MIB, "8MB")


@slow
def test_boto3_transfer_manager_2gib_round_trip(server: EmbeddedThread, tmp_path: Path) -> None:
    _boto3_round_trip(server, tmp_path, 2 * 1024 * MIB, 8 * MIB)


@slow
def test_rclone_2gib_round_trip(server: EmbeddedThread, tmp_path: Path) -> None:
    _rclone_round_trip(server, tmp_path, 2 * 1024 * MIB)
