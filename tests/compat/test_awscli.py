"""The aws cli (PyPI v1) against the embedded server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.compat.conftest import clean_env, run, tool

pytestmark = pytest.mark.compat


@pytest.fixture
def aws(server, tmp_path: Path):  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = accessKey1\naws_secret_access_key = verySecretKey1\n"
    )
    (home / ".aws" / "config").write_text("[default]\nregion = us-east-1\n")
    env = clean_env(home)
    env["AWS_CONFIG_FILE"] = str(home / ".aws" / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(home / ".aws" / "credentials")

    def call(*args: str) -> str:
        return run([tool("aws"), "--endpoint-url", server.url, *args], env, cwd=tmp_path)

    def refused(*args: str) -> str:
        argv = [tool("aws"), "--endpoint-url", server.url, *args]
        done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode != 0, f"{argv} succeeded:\n{done.stdout}"
        return done.stderr

    call.refused = refused  # type: ignore[attr-defined]
    return call


def test_aws_cli_bucket_and_object_flow(aws, tmp_path: Path) -> None:
    aws("s3", "mb", "s3://cli-bucket")
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 11))
    aws("s3api", "put-object", "--bucket", "cli-bucket", "--key", "dir/source.bin", "--body", str(source))
    target = tmp_path / "target.bin"
    aws("s3api", "get-object", "--bucket", "cli-bucket", "--key", "dir/source.bin", str(target))
    assert target.read_bytes() == source.read_bytes()
    listing = aws("s3", "ls", "s3://cli-bucket/dir/")
    assert "source.bin" in listing
    assert "cli-bucket" in aws("s3", "ls")
    aws("s3", "cp", str(source), "s3://cli-bucket/copied.bin")
    aws("s3", "cp", "s3://cli-bucket/copied.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == source.read_bytes()
    aws("s3", "rm", "s3://cli-bucket/dir/source.bin")
    aws("s3", "rm", "s3://cli-bucket/copied.bin")
    assert "source.bin" not in aws("s3", "ls", "s3://cli-bucket/", "--recursive")
    aws("s3", "rb", "s3://cli-bucket")
    assert "cli-bucket" not in aws("s3", "ls")


def test_aws_cli_requests_for_features_not_done_are_refused(aws, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"cli data")
    assert "NotImplemented" in aws.refused(
        "s3api", "create-bucket", "--bucket", "locked-bucket", "--object-lock-enabled-for-bucket"
    )
    assert "locked-bucket" not in aws("s3", "ls")
    aws("s3", "mb", "s3://plain-bucket")
    for flags in (["--sse", "aws:kms"], ["--acl", "aws-exec-read"], ["--storage-class", "GLACIER"]):
        assert "NotImplemented" in aws.refused(
            "s3", "cp", str(source), "s3://plain-bucket/refused.bin", *flags
        )
    assert "InvalidStorageClass" in aws.refused(
        "s3api",
        "put-object",
        "--bucket",
        "plain-bucket",
        "--key",
        "refused.bin",
        "--body",
        str(source),
        "--storage-class",
        "GLACIERX",
    )
    assert "refused.bin" not in aws("s3", "ls", "s3://plain-bucket/")
    # What real clients send by default keeps working.
    aws(
        "s3",
        "cp",
        str(source),
        "s3://plain-bucket/kept.bin",
        "--acl",
        "private",
        "--storage-class",
        "STANDARD",
    )
    assert "kept.bin" in aws("s3", "ls", "s3://plain-bucket/")
    aws("s3", "rm", "s3://plain-bucket/kept.bin")
    aws("s3", "rb", "s3://plain-bucket")


def test_aws_cli_sse_s3_round_trip(aws, tmp_path: Path) -> None:
    source = tmp_path / "secret.bin"
    source.write_bytes(b"sealed by the gateway" * 1000)
    aws("s3", "mb", "s3://sealed-bucket")
    aws("s3", "cp", str(source), "s3://sealed-bucket/secret.bin", "--sse", "AES256")
    head = json.loads(aws("s3api", "head-object", "--bucket", "sealed-bucket", "--key", "secret.bin"))
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentLength"] == source.stat().st_size
    back = tmp_path / "back.bin"
    aws("s3", "cp", "s3://sealed-bucket/secret.bin", str(back))
    assert back.read_bytes() == source.read_bytes()
    aws("s3", "rm", "s3://sealed-bucket/secret.bin")
    aws("s3", "rb", "s3://sealed-bucket")
