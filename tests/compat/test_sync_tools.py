"""s3cmd sync/info and aws cli v1 sync/mv, against the embedded server and a local cluster."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.compat.conftest import clean_env, run, tool
from tests.compat.targets import endpoint  # noqa: F401  (module fixture: embedded and cluster)

pytestmark = pytest.mark.compat


def make_tree(root: Path) -> dict[str, bytes]:
    files = {"a.txt": b"alpha", "sub/b.bin": os.urandom(1024 * 1024 + 3), "sub/c.txt": b"gamma"}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


@pytest.fixture
def s3cmd(endpoint: str, tmp_path: Path):  # noqa: F811
    home = tmp_path / "home"
    home.mkdir()
    host = urlsplit(endpoint).netloc
    config = home / ".s3cfg"
    config.write_text(
        "[default]\naccess_key = accessKey1\nsecret_key = verySecretKey1\n"
        f"host_base = {host}\nhost_bucket = {host}\nuse_https = False\nsignature_v2 = False\n"
        "bucket_location = us-east-1\nmultipart_chunk_size_mb = 64\n"
    )
    env = clean_env(home)

    def call(*args: str) -> str:
        return run([tool("s3cmd"), "-c", str(config), *args], env, cwd=tmp_path)

    return call


@pytest.fixture
def aws_v1(endpoint: str, tmp_path: Path):  # noqa: F811
    home = tmp_path / "home-aws"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = accessKey1\naws_secret_access_key = verySecretKey1\n"
    )
    (home / ".aws" / "config").write_text(
        "[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = 64MB\n"
    )
    env = clean_env(home)
    env["AWS_CONFIG_FILE"] = str(home / ".aws" / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(home / ".aws" / "credentials")

    def call(*args: str) -> str:
        return run([tool("aws"), "--endpoint-url", endpoint, *args], env, cwd=tmp_path)

    assert "aws-cli/1." in call("--version") + run([tool("aws"), "--version"], env)
    return call


def test_s3cmd_sync_info_get_del(s3cmd, tmp_path: Path) -> None:
    s3cmd("mb", "s3://s3cmd-sync")
    local = tmp_path / "tree"
    files = make_tree(local)
    s3cmd("sync", str(local) + "/", "s3://s3cmd-sync/tree/")
    listing = s3cmd("ls", "--recursive", "s3://s3cmd-sync")
    for name in files:
        assert f"tree/{name}" in listing
    info = s3cmd("info", "s3://s3cmd-sync/tree/sub/b.bin")
    assert str(len(files["sub/b.bin"])) in info
    assert "s3cmd-sync" in s3cmd("info", "s3://s3cmd-sync")
    back = tmp_path / "back"
    s3cmd("sync", "s3://s3cmd-sync/tree/", str(back) + "/")
    for name, data in files.items():
        assert (back / name).read_bytes() == data
    (local / "a.txt").unlink()
    s3cmd("sync", "--delete-removed", str(local) + "/", "s3://s3cmd-sync/tree/")
    assert "tree/a.txt" not in s3cmd("ls", "--recursive", "s3://s3cmd-sync")
    s3cmd("get", "s3://s3cmd-sync/tree/sub/c.txt", str(tmp_path / "c.txt"))
    assert (tmp_path / "c.txt").read_bytes() == b"gamma"
    s3cmd("del", "--recursive", "--force", "s3://s3cmd-sync/tree/")
    s3cmd("rb", "s3://s3cmd-sync")


def test_aws_cli_v1_sync_and_mv(aws_v1, tmp_path: Path) -> None:
    aws_v1("s3", "mb", "s3://v1-sync")
    local = tmp_path / "tree"
    files = make_tree(local)
    aws_v1("s3", "sync", str(local), "s3://v1-sync/tree")
    listing = aws_v1("s3", "ls", "--recursive", "s3://v1-sync/")
    for name in files:
        assert f"tree/{name}" in listing
    assert "upload:" not in aws_v1("s3", "sync", str(local), "s3://v1-sync/tree")
    aws_v1("s3", "mv", "s3://v1-sync/tree/a.txt", "s3://v1-sync/moved.txt")
    aws_v1("s3", "mv", "s3://v1-sync/moved.txt", str(tmp_path / "moved.txt"))
    assert (tmp_path / "moved.txt").read_bytes() == b"alpha"
    listing = aws_v1("s3", "ls", "--recursive", "s3://v1-sync/")
    assert "a.txt" not in listing and "moved.txt" not in listing
    back = tmp_path / "back"
    aws_v1("s3", "sync", "s3://v1-sync/tree", str(back))
    assert (back / "sub" / "b.bin").read_bytes() == files["sub/b.bin"]
    aws_v1("s3", "rb", "--force", "s3://v1-sync")
