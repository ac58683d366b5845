"""s3cmd against the embedded server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.compat.conftest import clean_env, run, tool

pytestmark = pytest.mark.compat


@pytest.fixture
def s3cmd(server, tmp_path: Path):  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    host = server.url.removeprefix("http://")
    config = home / ".s3cfg"
    config.write_text(
        "[default]\naccess_key = accessKey1\nsecret_key = verySecretKey1\n"
        f"host_base = {host}\nhost_bucket = {host}\nuse_https = False\nsignature_v2 = False\n"
        "bucket_location = us-east-1\n"
    )
    env = clean_env(home)

    def call(*args: str) -> str:
        return run([tool("s3cmd"), "-c", str(config), *args], env, cwd=tmp_path)

    return call


def test_s3cmd_bucket_and_object_flow(s3cmd, tmp_path: Path) -> None:
    s3cmd("mb", "s3://s3cmd-bucket")
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    s3cmd("put", "--disable-multipart", str(source), "s3://s3cmd-bucket/a/source.bin")
    assert "a/source.bin" in s3cmd("ls", "--recursive", "s3://s3cmd-bucket")
    info = s3cmd("info", "s3://s3cmd-bucket/a/source.bin")
    assert str(source.stat().st_size) in info
    target = tmp_path / "target.bin"
    s3cmd("get", "s3://s3cmd-bucket/a/source.bin", str(target))
    assert target.read_bytes() == source.read_bytes()
    s3cmd("del", "s3://s3cmd-bucket/a/source.bin")
    assert "source.bin" not in s3cmd("ls", "--recursive", "s3://s3cmd-bucket")
    s3cmd("rb", "s3://s3cmd-bucket")
