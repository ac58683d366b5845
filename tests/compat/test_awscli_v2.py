"""The aws cli v2 (Debian's awscli package, /usr/bin/aws) against the embedded server and a local cluster."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.compat.conftest import clean_env, run
from tests.compat.targets import endpoint  # noqa: F401  (module fixture: embedded and cluster)

pytestmark = pytest.mark.compat

AWS_V2 = "/usr/bin/aws"


@pytest.fixture
def aws(endpoint: str, tmp_path: Path):  # noqa: F811
    if not os.access(AWS_V2, os.X_OK):
        pytest.fail(f"{AWS_V2} is missing; scripts/test installs Debian's awscli")
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = accessKey1\naws_secret_access_key = verySecretKey1\n"
    )
    # Files stay below the multipart threshold: single-request uploads (multipart is tested elsewhere).
    (home / ".aws" / "config").write_text(
        "[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = 64MB\n"
    )
    env = clean_env(home)
    env["AWS_CONFIG_FILE"] = str(home / ".aws" / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(home / ".aws" / "credentials")

    def call(*args: str) -> str:
        return run([AWS_V2, "--endpoint-url", endpoint, *args], env, cwd=tmp_path)

    assert "aws-cli/2." in call("--version")
    return call


def test_v2_cp_ls_mv_rm(aws, tmp_path: Path) -> None:
    aws("s3", "mb", "s3://v2-cli")
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(5 * 1024 * 1024 + 3))
    aws("s3", "cp", str(source), "s3://v2-cli/dir/source.bin")
    assert "source.bin" in aws("s3", "ls", "s3://v2-cli/dir/")
    aws("s3", "cp", "s3://v2-cli/dir/source.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == source.read_bytes()
    aws("s3", "mv", "s3://v2-cli/dir/source.bin", "s3://v2-cli/moved.bin")
    listing = aws("s3", "ls", "s3://v2-cli/", "--recursive")
    assert "moved.bin" in listing and "dir/source.bin" not in listing
    aws("s3", "rm", "s3://v2-cli/moved.bin")
    aws("s3", "rb", "s3://v2-cli")
    assert "v2-cli" not in aws("s3", "ls")


def test_v2_sync_both_ways(aws, tmp_path: Path) -> None:
    aws("s3", "mb", "s3://v2-sync")
    local = tmp_path / "tree"
    (local / "sub").mkdir(parents=True)
    files = {"a.txt": b"alpha", "sub/b.bin": os.urandom(300_000), "sub/c.txt": b""}
    for name, data in files.items():
        (local / name).write_bytes(data)
    aws("s3", "sync", str(local), "s3://v2-sync/tree")
    listing = aws("s3", "ls", "s3://v2-sync/tree/", "--recursive")
    for name in files:
        assert f"tree/{name}" in listing
    # A second sync finds nothing to do.
    assert "upload:" not in aws("s3", "sync", str(local), "s3://v2-sync/tree")
    back = tmp_path / "back"
    aws("s3", "sync", "s3://v2-sync/tree", str(back))
    for name, data in files.items():
        assert (back / name).read_bytes() == data
    (local / "a.txt").unlink()
    aws("s3", "sync", "--delete", str(local), "s3://v2-sync/tree")
    assert "tree/a.txt" not in aws("s3", "ls", "s3://v2-sync/tree/", "--recursive")
    aws("s3", "rb", "--force", "s3://v2-sync")


def test_v2_s3api_object_calls(aws, tmp_path: Path) -> None:
    aws("s3api", "create-bucket", "--bucket", "v2-api")
    body = tmp_path / "body.txt"
    body.write_bytes(b"s3api body")
    aws("s3api", "put-object", "--bucket", "v2-api", "--key", "k", "--body", str(body), "--metadata", "a=b")
    head = aws("s3api", "head-object", "--bucket", "v2-api", "--key", "k")
    assert '"ContentLength": 10' in head and '"a": "b"' in head
    aws("s3api", "get-object", "--bucket", "v2-api", "--key", "k", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_bytes() == b"s3api body"
    assert '"Key": "k"' in aws("s3api", "list-objects-v2", "--bucket", "v2-api")
    aws("s3api", "delete-object", "--bucket", "v2-api", "--key", "k")
    aws("s3api", "delete-bucket", "--bucket", "v2-api")


def test_v2_presign_then_curl(aws, tmp_path: Path) -> None:
    import shutil
    import subprocess

    aws("s3", "mb", "s3://v2-presign")
    (tmp_path / "p.txt").write_bytes(b"presigned by aws cli v2")
    aws("s3", "cp", str(tmp_path / "p.txt"), "s3://v2-presign/p.txt")
    url = aws("s3", "presign", "s3://v2-presign/p.txt", "--expires-in", "300").strip()
    curl = shutil.which("curl")
    assert curl is not None
    done = subprocess.run([curl, "-sS", "-f", url], capture_output=True, timeout=60, check=True)
    assert done.stdout == b"presigned by aws cli v2"
    aws("s3", "rb", "--force", "s3://v2-presign")
